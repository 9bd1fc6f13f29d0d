/* softmax.c — row softmax of (scale * x + mask), torch.softmax(scale*x + mask,
 * dim=-1) as in attention scores; mask(C) additive (0 / -inf) or NULL.
 * Letters: R rows, C columns. */
#include "kernels.h"

#include <math.h>
#include <stdint.h>

void softmax_forward_ref(float *y, const float *x, const float *mask, float scale, int R, int C) {
    for (int r = 0; r < R; r++) {
        const float *xr = x + (size_t)r * C;
        float *yr = y + (size_t)r * C;
        double mx = -INFINITY, sum = 0;
        for (int j = 0; j < C; j++) {
            double v = (double)scale * xr[j] + (mask ? mask[j] : 0.0);
            if (v > mx) mx = v;
        }
        if (mx == -INFINITY) { /* nothing to attend to */
            for (int j = 0; j < C; j++) yr[j] = 0;
            continue;
        }
        for (int j = 0; j < C; j++) sum += exp((double)scale * xr[j] + (mask ? mask[j] : 0.0) - mx);
        for (int j = 0; j < C; j++) yr[j] = (float)(exp((double)scale * xr[j] + (mask ? mask[j] : 0.0) - mx) / sum);
    }
}

void softmax_backward_ref(float *dx, const float *dy, const float *y, float scale, int R, int C) {
    for (int r = 0; r < R; r++) {
        const float *g = dy + (size_t)r * C, *yr = y + (size_t)r * C;
        double dot = 0;
        for (int j = 0; j < C; j++) dot += (double)g[j] * yr[j];
        for (int j = 0; j < C; j++) dx[(size_t)r * C + j] += (float)(scale * (double)yr[j] * (g[j] - dot));
    }
}

/* exp(x) for x <= 0 (softmax after subtracting the row maximum), written to
 * vectorise: x = n ln2 + r, |r| <= ln2/2, exp(r) by its degree-6 Taylor
 * polynomial (relative error < 2e-7), 2^n through the exponent bits.  Below
 * -87 (2^-126) the result is 0, so -inf gives exactly 0. */
static inline float exp_nonpos(float x) {
    float xc = x < -87.0f ? -87.0f : x;
    float n = floorf(xc * 1.44269504f + 0.5f);
    float r = xc - n * 0.693145752f - n * 1.42860677e-6f; /* ln2 split in two for accuracy */
    float p = 1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 + r * (1.0f / 720))))));
    union {
        int32_t i;
        float f;
    } e = {.i = ((int32_t)n + 127) << 23};
    return x < -87.0f ? 0.0f : p * e.f;
}

/* One row; cloned per instruction set so the loops use the widest vectors. */
__attribute__((target_clones("avx512f", "avx2", "default"))) IPF_KINTERNAL void
softmax_row_fast(float *yr, const float *xr, const float *mask, float scale, int C) {
    float mx = -INFINITY, sum = 0;
#pragma omp simd reduction(max : mx)
    for (int j = 0; j < C; j++) {
        float v = scale * xr[j] + (mask ? mask[j] : 0.0f);
        yr[j] = v;
        mx = v > mx ? v : mx;
    }
    if (mx == -INFINITY) {
        for (int j = 0; j < C; j++) yr[j] = 0;
        return;
    }
#pragma omp simd reduction(+ : sum)
    for (int j = 0; j < C; j++) {
        float e = exp_nonpos(yr[j] - mx);
        yr[j] = e;
        sum += e;
    }
    float inv = 1.0f / sum;
#pragma omp simd
    for (int j = 0; j < C; j++) yr[j] *= inv;
}

int softmax_forward(ipf_kctx *c, float *y, const float *x, const float *mask, float scale, int R, int C) {
    if (R <= 0 || C <= 0) return 0;
    if (kctx_pick(c, 0, 1) == KB_REF) {
        softmax_forward_ref(y, x, mask, scale, R, C);
        return 0;
    }
    int nth = c->nthreads;
#pragma omp parallel for num_threads(nth) schedule(static) if (nth > 1 && (size_t)R * C >= 16384)
    for (int r = 0; r < R; r++) softmax_row_fast(y + (size_t)r * C, x + (size_t)r * C, mask, scale, C);
    return 0;
}

int softmax_backward(ipf_kctx *c, float *dx, const float *dy, const float *y, float scale, int R, int C) {
    if (R <= 0 || C <= 0) return 0;
    if (kctx_pick(c, 0, 1) == KB_REF) {
        softmax_backward_ref(dx, dy, y, scale, R, C);
        return 0;
    }
    int nth = c->nthreads;
#pragma omp parallel for num_threads(nth) schedule(static) if (nth > 1 && (size_t)R * C >= 16384)
    for (int r = 0; r < R; r++) {
        const float *g = dy + (size_t)r * C, *yr = y + (size_t)r * C;
        float dot = 0;
        for (int j = 0; j < C; j++) dot += g[j] * yr[j];
        float *o = dx + (size_t)r * C;
        for (int j = 0; j < C; j++) o[j] += scale * yr[j] * (g[j] - dot);
    }
    return 0;
}
