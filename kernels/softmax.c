/* softmax.c — row softmax of (scale * x + mask), torch.softmax(scale*x + mask,
 * dim=-1) as in attention scores; mask(C) additive (0 / -inf) or NULL.
 * Letters: R rows, C columns. */
#include "kernels.h"

#include <math.h>

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

int softmax_forward(ipf_kctx *c, float *y, const float *x, const float *mask, float scale, int R, int C) {
    if (R <= 0 || C <= 0) return 0;
    if (kctx_pick(c, 0, 1) == KB_REF) {
        softmax_forward_ref(y, x, mask, scale, R, C);
        return 0;
    }
    int nth = c->nthreads;
#pragma omp parallel for num_threads(nth) schedule(static) if (nth > 1 && (size_t)R * C >= 16384)
    for (int r = 0; r < R; r++) {
        const float *xr = x + (size_t)r * C;
        float *yr = y + (size_t)r * C;
        float mx = -INFINITY, sum = 0;
        for (int j = 0; j < C; j++) {
            float v = scale * xr[j] + (mask ? mask[j] : 0.0f);
            yr[j] = v;
            if (v > mx) mx = v;
        }
        if (mx == -INFINITY) {
            for (int j = 0; j < C; j++) yr[j] = 0;
            continue;
        }
        for (int j = 0; j < C; j++) {
            yr[j] = expf(yr[j] - mx);
            sum += yr[j];
        }
        float inv = 1.0f / sum;
        for (int j = 0; j < C; j++) yr[j] *= inv;
    }
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
