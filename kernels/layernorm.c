/* layernorm.c — torch.nn.LayerNorm over the last dimension, saving mean and
 * rstd (1/sqrt(var+eps), biased variance) for backward as in llm.c.
 * Letters: N rows, D features. */
#include "kernels.h"

#include <math.h>

void layernorm_forward_ref(float *out, float *mean, float *rstd, const float *x, const float *w, const float *b,
                           int N, int D, float eps) {
    for (int i = 0; i < N; i++) {
        const float *xr = x + (size_t)i * D;
        double m = 0, v = 0;
        for (int d = 0; d < D; d++) m += xr[d];
        m /= D;
        for (int d = 0; d < D; d++) v += (xr[d] - m) * (xr[d] - m);
        v /= D;
        double r = 1.0 / sqrt(v + eps);
        if (mean) mean[i] = (float)m;
        if (rstd) rstd[i] = (float)r;
        float *o = out + (size_t)i * D;
        for (int d = 0; d < D; d++) o[d] = (float)((xr[d] - m) * r * w[d] + b[d]);
    }
}

void layernorm_backward_ref(float *dx, float *dw, float *db, const float *dout, const float *x, const float *w,
                            const float *mean, const float *rstd, int N, int D) {
    for (int i = 0; i < N; i++) {
        const float *xr = x + (size_t)i * D, *g = dout + (size_t)i * D;
        double m = mean[i], r = rstd[i], sum_g = 0, sum_gx = 0;
        for (int d = 0; d < D; d++) {
            double xh = (xr[d] - m) * r, gw = (double)g[d] * w[d];
            sum_g += gw;
            sum_gx += gw * xh;
            if (dw) dw[d] += (float)(g[d] * xh);
            if (db) db[d] += g[d];
        }
        if (dx) {
            sum_g /= D;
            sum_gx /= D;
            for (int d = 0; d < D; d++) {
                double xh = (xr[d] - m) * r;
                dx[(size_t)i * D + d] += (float)(r * ((double)g[d] * w[d] - sum_g - xh * sum_gx));
            }
        }
    }
}

/* Fast path: float arithmetic in vector lanes (cloned per instruction set),
 * rows over OpenMP threads.  Two passes over the row (mean, then centred
 * variance) keep eps 1e-12 meaningful. */
__attribute__((target_clones("avx512f", "avx2", "default"))) IPF_KINTERNAL void
layernorm_row_fast(float *o, float *mean, float *rstd, const float *xr, const float *w, const float *b, int D,
                   float eps) {
    float m = 0, v = 0;
#pragma omp simd reduction(+ : m)
    for (int d = 0; d < D; d++) m += xr[d];
    m /= (float)D;
#pragma omp simd reduction(+ : v)
    for (int d = 0; d < D; d++) v += (xr[d] - m) * (xr[d] - m);
    v /= (float)D;
    float r = 1.0f / sqrtf(v + eps);
    if (mean) *mean = m;
    if (rstd) *rstd = r;
#pragma omp simd
    for (int d = 0; d < D; d++) o[d] = (xr[d] - m) * r * w[d] + b[d];
}

static void layernorm_forward_fast(int nth, float *out, float *mean, float *rstd, const float *x, const float *w,
                                   const float *b, int N, int D, float eps) {
#pragma omp parallel for num_threads(nth) schedule(static) if (nth > 1 && (size_t)N * D >= 16384)
    for (int i = 0; i < N; i++)
        layernorm_row_fast(out + (size_t)i * D, mean ? mean + i : NULL, rstd ? rstd + i : NULL, x + (size_t)i * D, w,
                           b, D, eps);
}

static void layernorm_backward_fast(int nth, float *dx, float *dw, float *db, const float *dout, const float *x,
                                    const float *w, const float *mean, const float *rstd, int N, int D) {
    if (dx) {
#pragma omp parallel for num_threads(nth) schedule(static) if (nth > 1 && (size_t)N * D >= 16384)
        for (int i = 0; i < N; i++) {
            const float *xr = x + (size_t)i * D, *g = dout + (size_t)i * D;
            float m = mean[i], r = rstd[i], sum_g = 0, sum_gx = 0;
            for (int d = 0; d < D; d++) {
                float gw = g[d] * w[d];
                sum_g += gw;
                sum_gx += gw * (xr[d] - m) * r;
            }
            sum_g /= (float)D;
            sum_gx /= (float)D;
            float *o = dx + (size_t)i * D;
            for (int d = 0; d < D; d++) o[d] += r * (g[d] * w[d] - sum_g - (xr[d] - m) * r * sum_gx);
        }
    }
    if (dw || db) /* column sums: rows in order, parallel over columns (deterministic) */
#pragma omp parallel for num_threads(nth) schedule(static) if (nth > 1 && (size_t)N * D >= 16384)
        for (int d = 0; d < D; d++) {
            float sw = 0, sb = 0;
            for (int i = 0; i < N; i++) {
                float g = dout[(size_t)i * D + d];
                sw += g * (x[(size_t)i * D + d] - mean[i]) * rstd[i];
                sb += g;
            }
            if (dw) dw[d] += sw;
            if (db) db[d] += sb;
        }
}

int layernorm_forward(ipf_kctx *c, float *out, float *mean, float *rstd, const float *x, const float *w,
                      const float *b, int N, int D, float eps) {
    if (N <= 0 || D <= 0) return 0;
    if (kctx_pick(c, 0, 1) == KB_REF) layernorm_forward_ref(out, mean, rstd, x, w, b, N, D, eps);
    else layernorm_forward_fast(c->nthreads, out, mean, rstd, x, w, b, N, D, eps);
    return 0;
}

int layernorm_backward(ipf_kctx *c, float *dx, float *dw, float *db, const float *dout, const float *x,
                       const float *w, const float *mean, const float *rstd, int N, int D) {
    if (N <= 0 || D <= 0) return 0;
    if (kctx_pick(c, 0, 1) == KB_REF) layernorm_backward_ref(dx, dw, db, dout, x, w, mean, rstd, N, D);
    else layernorm_backward_fast(c->nthreads, dx, dw, db, dout, x, w, mean, rstd, N, D);
    return 0;
}
