/* linear.c — fully connected layer, torch.nn.functional.linear.
 * Weights are [N,K] (nn.Linear layout).  oneDNN matmul first (plain
 * weights read as a transposed view; it falls back to OpenBLAS if a
 * primitive cannot be made), OpenBLAS sgemm next, plain-C reference last. */
#include "kernels.h"

#include <cblas.h>
#include <string.h>

void linear_forward_ref(float *y, const float *x, const float *W, const float *b, int M, int K, int N) {
    for (int m = 0; m < M; m++) {
        const float *xr = x + (size_t)m * K;
        for (int n = 0; n < N; n++) {
            const float *wr = W + (size_t)n * K;
            double acc = b ? b[n] : 0.0; /* double: the oracle should not share float rounding */
            for (int k = 0; k < K; k++) acc += (double)xr[k] * wr[k];
            y[(size_t)m * N + n] = (float)acc;
        }
    }
}

void linear_backward_ref(float *dx, float *dW, float *db, const float *dy, const float *x, const float *W, int M,
                         int K, int N) {
    if (dx)
        for (int m = 0; m < M; m++)
            for (int k = 0; k < K; k++) {
                double acc = 0;
                for (int n = 0; n < N; n++) acc += (double)dy[(size_t)m * N + n] * W[(size_t)n * K + k];
                dx[(size_t)m * K + k] += (float)acc;
            }
    if (dW)
        for (int n = 0; n < N; n++)
            for (int k = 0; k < K; k++) {
                double acc = 0;
                for (int m = 0; m < M; m++) acc += (double)dy[(size_t)m * N + n] * x[(size_t)m * K + k];
                dW[(size_t)n * K + k] += (float)acc;
            }
    if (db)
        for (int n = 0; n < N; n++) {
            double acc = 0;
            for (int m = 0; m < M; m++) acc += dy[(size_t)m * N + n];
            db[n] += (float)acc;
        }
}

static void linear_forward_blas(float *y, const float *x, const float *W, const float *b, int M, int K, int N) {
    if (b)
        for (int m = 0; m < M; m++) memcpy(y + (size_t)m * N, b, sizeof(float) * (size_t)N);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, x, K, W, K, b ? 1.0f : 0.0f, y, N);
}

static void linear_backward_blas(float *dx, float *dW, float *db, const float *dy, const float *x, const float *W,
                                 int M, int K, int N) {
    if (dx) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, K, N, 1.0f, dy, N, W, K, 1.0f, dx, K);
    if (dW) cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, K, M, 1.0f, dy, N, x, K, 1.0f, dW, K);
    if (db)
        for (int m = 0; m < M; m++)
            for (int n = 0; n < N; n++) db[n] += dy[(size_t)m * N + n];
}

/* y(M,N) = x(M,K) . W^T: W (N,K) read as a (K,N) view with strides (1,K). */
static int linear_forward_dnnl(ipf_kctx *c, float *y, const float *x, const float *W, const float *b, int M, int K,
                               int N) {
    kmm_desc d = {1, M, N, K, {0, K, 1}, {0, 1, K}, {0, N, 1}, 1.0f, 0, b != NULL, 0, NULL};
    return kdnnl_matmul(c, &d, x, W, b, y);
}

/* Each product falls back to OpenBLAS on its own when oneDNN cannot make a
 * primitive (a failed primitive has not touched its output). */
static void linear_backward_dnnl(ipf_kctx *c, float *dx, float *dW, float *db, const float *dy, const float *x,
                                 const float *W, int M, int K, int N) {
    if (dx) { /* dx(M,K) += dy(M,N) . W(N,K) */
        kmm_desc d = {1, M, K, N, {0, N, 1}, {0, K, 1}, {0, K, 1}, 1.0f, 1, 0, 0, NULL};
        if (kdnnl_matmul(c, &d, dy, W, NULL, dx)) linear_backward_blas(dx, NULL, NULL, dy, x, W, M, K, N);
    }
    if (dW) { /* dW(N,K) += dy^T(N,M) . x(M,K), dy^T a strided view */
        kmm_desc d = {1, N, K, M, {0, 1, N}, {0, K, 1}, {0, K, 1}, 1.0f, 1, 0, 0, NULL};
        if (kdnnl_matmul(c, &d, dy, x, NULL, dW)) linear_backward_blas(NULL, dW, NULL, dy, x, W, M, K, N);
    }
    if (db) linear_backward_blas(NULL, NULL, db, dy, x, W, M, K, N);
}

int linear_forward(ipf_kctx *c, float *y, const float *x, const float *W, const float *b, int M, int K, int N) {
    if (M <= 0 || N <= 0) return 0;
    switch (kctx_pick(c, 1, 1)) {
    case KB_REF: linear_forward_ref(y, x, W, b, M, K, N); return 0;
    case KB_ONEDNN:
        if (!linear_forward_dnnl(c, y, x, W, b, M, K, N)) return 0;
        linear_forward_blas(y, x, W, b, M, K, N); /* no primitive for this shape */
        return 0;
    default: linear_forward_blas(y, x, W, b, M, K, N); return 0;
    }
}

int linear_backward(ipf_kctx *c, float *dx, float *dW, float *db, const float *dy, const float *x, const float *W,
                    int M, int K, int N) {
    if (M <= 0 || N <= 0) return 0;
    switch (kctx_pick(c, 1, 1)) {
    case KB_REF: linear_backward_ref(dx, dW, db, dy, x, W, M, K, N); return 0;
    case KB_ONEDNN: linear_backward_dnnl(c, dx, dW, db, dy, x, W, M, K, N); return 0;
    default: linear_backward_blas(dx, dW, db, dy, x, W, M, K, N); return 0;
    }
}

int linear_forward_ex(ipf_kctx *c, float *y, const float *x, const float *W, const klinear_packed *Wp,
                      const float *b, int M, int K, int N, int accumulate, int gelu) {
    if (M <= 0 || N <= 0) return 0;
    int be = kctx_pick(c, 1, 1);
    if (be == KB_ONEDNN) {
        kmm_desc d = {1, M, N, K, {0, K, 1}, {0, 1, K}, {0, N, 1}, 1.0f, accumulate, b != NULL, gelu, Wp};
        if (!kdnnl_matmul(c, &d, x, W, b, y)) return 0;
        be = KB_OPENBLAS; /* no primitive for this shape */
    }
    if (!accumulate) {
        if (be == KB_REF) linear_forward_ref(y, x, W, b, M, K, N);
        else linear_forward_blas(y, x, W, b, M, K, N);
    } else if (be == KB_REF) {
        for (int m = 0; m < M; m++)
            for (int n = 0; n < N; n++) {
                double acc = b ? b[n] : 0.0;
                for (int k = 0; k < K; k++) acc += (double)x[(size_t)m * K + k] * W[(size_t)n * K + k];
                y[(size_t)m * N + n] = (float)(acc + y[(size_t)m * N + n]);
            }
    } else {
        if (b)
            for (int m = 0; m < M; m++)
                for (int n = 0; n < N; n++) y[(size_t)m * N + n] += b[n];
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, x, K, W, K, 1.0f, y, N);
    }
    return gelu ? gelu_forward(c, y, y, (size_t)M * N) : 0;
}
