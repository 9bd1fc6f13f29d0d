/* linear.c — fully connected layer, torch.nn.functional.linear.
 * Weights are [N,K] (nn.Linear layout).  OpenBLAS sgemm path, plain-C
 * reference; the oneDNN matmul path is added by the text kernels. */
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

int linear_forward(ipf_kctx *c, float *y, const float *x, const float *W, const float *b, int M, int K, int N) {
    if (M <= 0 || N <= 0) return 0;
    if (kctx_pick(c, 0, 1) == KB_REF) linear_forward_ref(y, x, W, b, M, K, N);
    else linear_forward_blas(y, x, W, b, M, K, N);
    return 0;
}

int linear_backward(ipf_kctx *c, float *dx, float *dW, float *db, const float *dy, const float *x, const float *W,
                    int M, int K, int N) {
    if (M <= 0 || N <= 0) return 0;
    if (kctx_pick(c, 0, 1) == KB_REF) linear_backward_ref(dx, dW, db, dy, x, W, M, K, N);
    else linear_backward_blas(dx, dW, db, dy, x, W, M, K, N);
    return 0;
}
