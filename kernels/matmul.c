/* matmul.c — strided batched matmul (torch.matmul on strided views), used by
 * attention for QK^T and PV per head.  OpenBLAS sgemm per batch item (items
 * spread over OpenMP threads, each sgemm then single-threaded), plain-C
 * reference accumulating in double.
 *
 * Letters: nb batch items, op(A) (M,K), op(B) (K,N), C (M,N). */
#include "kernels.h"

#include <cblas.h>

typedef void (*gemm_fn)(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                        int ldb, float beta, float *C, int ldc);

/* C(M,N) = alpha op(A) op(B) + beta C. */
static void gemm_ref(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                     int ldb, float beta, float *C, int ldc) {
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            double acc = 0;
            for (int k = 0; k < K; k++) {
                double a = ta ? A[(size_t)k * lda + m] : A[(size_t)m * lda + k];
                double b = tb ? B[(size_t)n * ldb + k] : B[(size_t)k * ldb + n];
                acc += a * b;
            }
            float *cp = C + (size_t)m * ldc + n;
            *cp = (float)(alpha * acc + (beta != 0.0f ? (double)beta * *cp : 0.0));
        }
}

static void gemm_blas(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                      int ldb, float beta, float *C, int ldc) {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, alpha, A,
                lda, B, ldb, beta, C, ldc);
}

static void bmm_run(gemm_fn g, int nthreads, int nb, int ta, int tb, int M, int N, int K, float alpha,
                    const float *A, int lda, size_t sA, const float *B, int ldb, size_t sB, float beta, float *C,
                    int ldc, size_t sC) {
#pragma omp parallel for num_threads(nthreads) schedule(static) if (nb > 1 && nthreads > 1)
    for (int b = 0; b < nb; b++)
        g(ta, tb, M, N, K, alpha, A + (size_t)b * sA, lda, B + (size_t)b * sB, ldb, beta, C + (size_t)b * sC, ldc);
}

/* dA += alpha dC op(B)^T, dB += alpha op(A)^T dC, written as forward gemms on
 * the stored layouts (see kernels.h). */
static void bmm_back_run(gemm_fn g, int nthreads, int nb, int ta, int tb, int M, int N, int K, float alpha,
                         float *dA, const float *A, int lda, size_t sA, float *dB, const float *B, int ldb,
                         size_t sB, const float *dC, int ldc, size_t sC) {
    if (dA) {
        if (!ta) /* dA(M,K) += dC(M,N) . op(B)^T(N,K) */
            bmm_run(g, nthreads, nb, 0, !tb, M, K, N, alpha, dC, ldc, sC, B, ldb, sB, 1.0f, dA, lda, sA);
        else /* dA(K,M) += op(B)(K,N) . dC^T(N,M) */
            bmm_run(g, nthreads, nb, tb, 1, K, M, N, alpha, B, ldb, sB, dC, ldc, sC, 1.0f, dA, lda, sA);
    }
    if (dB) {
        if (!tb) /* dB(K,N) += op(A)^T(K,M) . dC(M,N) */
            bmm_run(g, nthreads, nb, !ta, 0, K, N, M, alpha, A, lda, sA, dC, ldc, sC, 1.0f, dB, ldb, sB);
        else /* dB(N,K) += dC^T(N,M) . op(A)(M,K) */
            bmm_run(g, nthreads, nb, 1, ta, N, K, M, alpha, dC, ldc, sC, A, lda, sA, 1.0f, dB, ldb, sB);
    }
}

void bmm_forward_ref(int nb, int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda, size_t sA,
                     const float *B, int ldb, size_t sB, float beta, float *C, int ldc, size_t sC) {
    bmm_run(gemm_ref, 1, nb, ta, tb, M, N, K, alpha, A, lda, sA, B, ldb, sB, beta, C, ldc, sC);
}

void bmm_backward_ref(int nb, int ta, int tb, int M, int N, int K, float alpha, float *dA, const float *A, int lda,
                      size_t sA, float *dB, const float *B, int ldb, size_t sB, const float *dC, int ldc,
                      size_t sC) {
    bmm_back_run(gemm_ref, 1, nb, ta, tb, M, N, K, alpha, dA, A, lda, sA, dB, B, ldb, sB, dC, ldc, sC);
}

int bmm_forward(ipf_kctx *c, int nb, int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                size_t sA, const float *B, int ldb, size_t sB, float beta, float *C, int ldc, size_t sC) {
    if (nb <= 0 || M <= 0 || N <= 0) return 0;
    int ref = kctx_pick(c, 0, 1) == KB_REF;
    bmm_run(ref ? gemm_ref : gemm_blas, ref ? 1 : c->nthreads, nb, ta, tb, M, N, K, alpha, A, lda, sA, B, ldb, sB,
            beta, C, ldc, sC);
    return 0;
}

int bmm_backward(ipf_kctx *c, int nb, int ta, int tb, int M, int N, int K, float alpha, float *dA, const float *A,
                 int lda, size_t sA, float *dB, const float *B, int ldb, size_t sB, const float *dC, int ldc,
                 size_t sC) {
    if (nb <= 0 || M <= 0 || N <= 0 || K <= 0) return 0;
    int ref = kctx_pick(c, 0, 1) == KB_REF;
    bmm_back_run(ref ? gemm_ref : gemm_blas, ref ? 1 : c->nthreads, nb, ta, tb, M, N, K, alpha, dA, A, lda, sA, dB,
                 B, ldb, sB, dC, ldc, sC);
    return 0;
}
