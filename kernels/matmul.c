/* matmul.c — strided batched matmul (torch.matmul on strided views), used by
 * attention for QK^T and PV per head.  OpenBLAS sgemm per batch item (items
 * spread over OpenMP threads, each sgemm then single-threaded), a plain-C
 * reference accumulating in double; oneDNN's batched matmul first.
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

/* One batched product on the chosen backend: oneDNN (falling back to
 * OpenBLAS if it cannot make the primitive), OpenBLAS, or the reference. */
static int bmm_do(ipf_kctx *c, int be, int nb, int ta, int tb, int M, int N, int K, float alpha, const float *A,
                  int lda, size_t sA, const float *B, int ldb, size_t sB, float beta, float *C, int ldc, size_t sC) {
    if (be == KB_ONEDNN) {
        kmm_desc d = {nb, M, N, K, {(int64_t)sA, ta ? 1 : lda, ta ? lda : 1}, {(int64_t)sB, tb ? 1 : ldb, tb ? ldb : 1},
                      {(int64_t)sC, ldc, 1}, alpha, beta != 0.0f, 0, 0, NULL};
        if (!kdnnl_matmul(c, &d, A, B, NULL, C)) return 0;
        be = KB_OPENBLAS;
    }
    if (be == KB_REF) bmm_run(gemm_ref, 1, nb, ta, tb, M, N, K, alpha, A, lda, sA, B, ldb, sB, beta, C, ldc, sC);
    else bmm_run(gemm_blas, c ? c->nthreads : 1, nb, ta, tb, M, N, K, alpha, A, lda, sA, B, ldb, sB, beta, C, ldc, sC);
    return 0;
}

/* dA += alpha dC op(B)^T, dB += alpha op(A)^T dC, written as forward
 * products on the stored layouts (see kernels.h). */
static int bmm_back_run(ipf_kctx *c, int be, int nb, int ta, int tb, int M, int N, int K, float alpha, float *dA,
                        const float *A, int lda, size_t sA, float *dB, const float *B, int ldb, size_t sB,
                        const float *dC, int ldc, size_t sC) {
    int r = 0;
    if (dA) {
        if (!ta) /* dA(M,K) += dC(M,N) . op(B)^T(N,K) */
            r |= bmm_do(c, be, nb, 0, !tb, M, K, N, alpha, dC, ldc, sC, B, ldb, sB, 1.0f, dA, lda, sA);
        else /* dA(K,M) += op(B)(K,N) . dC^T(N,M) */
            r |= bmm_do(c, be, nb, tb, 1, K, M, N, alpha, B, ldb, sB, dC, ldc, sC, 1.0f, dA, lda, sA);
    }
    if (dB) {
        if (!tb) /* dB(K,N) += op(A)^T(K,M) . dC(M,N) */
            r |= bmm_do(c, be, nb, !ta, 0, K, N, M, alpha, A, lda, sA, dC, ldc, sC, 1.0f, dB, ldb, sB);
        else /* dB(N,K) += dC^T(N,M) . op(A)(M,K) */
            r |= bmm_do(c, be, nb, 1, ta, N, K, M, alpha, dC, ldc, sC, A, lda, sA, 1.0f, dB, ldb, sB);
    }
    return r;
}

void bmm_forward_ref(int nb, int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda, size_t sA,
                     const float *B, int ldb, size_t sB, float beta, float *C, int ldc, size_t sC) {
    bmm_do(NULL, KB_REF, nb, ta, tb, M, N, K, alpha, A, lda, sA, B, ldb, sB, beta, C, ldc, sC);
}

void bmm_backward_ref(int nb, int ta, int tb, int M, int N, int K, float alpha, float *dA, const float *A, int lda,
                      size_t sA, float *dB, const float *B, int ldb, size_t sB, const float *dC, int ldc,
                      size_t sC) {
    bmm_back_run(NULL, KB_REF, nb, ta, tb, M, N, K, alpha, dA, A, lda, sA, dB, B, ldb, sB, dC, ldc, sC);
}

int bmm_forward(ipf_kctx *c, int nb, int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                size_t sA, const float *B, int ldb, size_t sB, float beta, float *C, int ldc, size_t sC) {
    if (nb <= 0 || M <= 0 || N <= 0) return 0;
    return bmm_do(c, kctx_pick(c, 1, 1), nb, ta, tb, M, N, K, alpha, A, lda, sA, B, ldb, sB, beta, C, ldc, sC);
}

int bmm_backward(ipf_kctx *c, int nb, int ta, int tb, int M, int N, int K, float alpha, float *dA, const float *A,
                 int lda, size_t sA, float *dB, const float *B, int ldb, size_t sB, const float *dC, int ldc,
                 size_t sC) {
    if (nb <= 0 || M <= 0 || N <= 0 || K <= 0) return 0;
    return bmm_back_run(c, kctx_pick(c, 1, 1), nb, ta, tb, M, N, K, alpha, dA, A, lda, sA, dB, B, ldb, sB, dC, ldc,
                        sC);
}
