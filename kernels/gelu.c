/* gelu.c — exact GELU, torch.nn.GELU() (approximate='none'):
 * y = 0.5 x (1 + erf(x / sqrt 2)), y' = Phi(x) + x phi(x). */
#include "kernels.h"

#include <math.h>

#define INV_SQRT2 0.70710678118654752440
#define INV_SQRT_2PI 0.39894228040143267794

void gelu_forward_ref(float *y, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) {
        double v = x[i];
        y[i] = (float)(0.5 * v * (1.0 + erf(v * INV_SQRT2)));
    }
}

void gelu_backward_ref(float *dx, const float *dy, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) {
        double v = x[i];
        double d = 0.5 * (1.0 + erf(v * INV_SQRT2)) + v * INV_SQRT_2PI * exp(-0.5 * v * v);
        dx[i] += (float)(dy[i] * d);
    }
}

int gelu_forward(ipf_kctx *c, float *y, const float *x, size_t n) {
    if (kctx_pick(c, 0, 1) == KB_REF) {
        gelu_forward_ref(y, x, n);
        return 0;
    }
    int nth = c->nthreads;
#pragma omp parallel for num_threads(nth) schedule(static) if (nth > 1 && n >= 16384)
    for (size_t i = 0; i < n; i++) y[i] = 0.5f * x[i] * (1.0f + erff(x[i] * (float)INV_SQRT2));
    return 0;
}

int gelu_backward(ipf_kctx *c, float *dx, const float *dy, const float *x, size_t n) {
    if (kctx_pick(c, 0, 1) == KB_REF) {
        gelu_backward_ref(dx, dy, x, n);
        return 0;
    }
    int nth = c->nthreads;
#pragma omp parallel for num_threads(nth) schedule(static) if (nth > 1 && n >= 16384)
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        float d = 0.5f * (1.0f + erff(v * (float)INV_SQRT2)) + v * (float)INV_SQRT_2PI * expf(-0.5f * v * v);
        dx[i] += dy[i] * d;
    }
    return 0;
}
