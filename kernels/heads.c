/* heads.c — small ops of the profiler heads: tanh, attention pooling,
 * softmax cross-entropy, dropout (relu and the class softmax are the image
 * and text ops').  Each mirrors a PyTorch op (named in kernels.h).  The
 * plain-C reference is the only path: these ops touch a few thousand floats
 * per influencer, far below where BLAS or oneDNN pays for its call overhead.  Accumulations run in double so the reference does
 * not share float rounding with anything it is compared to.
 * Letters: n elements, M rows, C classes, P posts, D value width, A key width. */
#include "kernels.h"

#include <math.h>

/* ---- tanh ---------------------------------------------------------------- */

void tanh_forward_ref(float *y, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = tanhf(x[i]);
}

void tanh_backward_ref(float *dx, const float *dy, const float *y, size_t n) {
    for (size_t i = 0; i < n; i++) dx[i] += dy[i] * (1.0f - y[i] * y[i]);
}

void tanh_forward(float *y, const float *x, size_t n) { tanh_forward_ref(y, x, n); }
void tanh_backward(float *dx, const float *dy, const float *y, size_t n) { tanh_backward_ref(dx, dy, y, n); }

/* ---- softmax of one row (for attention and cross-entropy) ------------------------------------------------------------- */

/* One row, max-subtracted so large logits do not overflow. */
static void softmax_row(float *p, const float *x, int C) {
    float mx = x[0];
    for (int j = 1; j < C; j++)
        if (x[j] > mx) mx = x[j];
    double sum = 0;
    for (int j = 0; j < C; j++) sum += exp((double)x[j] - mx);
    for (int j = 0; j < C; j++) p[j] = (float)(exp((double)x[j] - mx) / sum);
}

/* ---- attention pooling ---------------------------------------------------- */

void attpool_forward_ref(float *h, float *alpha, const float *v, const float *r, const float *rc, int P, int D,
                         int A) { // h (D), alpha (P), v (P,D), r (P,A), rc (A)
    if (P <= 0) return;
    for (int i = 0; i < P; i++) { /* scores first, then softmax in place */
        double s = 0;
        for (int a = 0; a < A; a++) s += (double)r[(size_t)i * A + a] * rc[a];
        alpha[i] = (float)s;
    }
    softmax_row(alpha, alpha, P);
    for (int d = 0; d < D; d++) {
        double acc = 0;
        for (int i = 0; i < P; i++) acc += (double)alpha[i] * v[(size_t)i * D + d];
        h[d] = (float)acc;
    }
}

void attpool_backward_ref(float *dv, float *dr, float *drc, const float *dh, const float *alpha, const float *v,
                          const float *r, const float *rc, int P, int D, int A) {
    if (dv)
        for (int i = 0; i < P; i++)
            for (int d = 0; d < D; d++) dv[(size_t)i * D + d] += alpha[i] * dh[d];
    if (!dr && !drc) return;
    /* g_i = <dh, v_i> = dL/dalpha_i;  ds_i = alpha_i (g_i - sum_j alpha_j g_j) */
    double mean = 0;
    for (int i = 0; i < P; i++) {
        double g = 0;
        for (int d = 0; d < D; d++) g += (double)dh[d] * v[(size_t)i * D + d];
        mean += alpha[i] * g;
    }
    for (int i = 0; i < P; i++) {
        double g = 0;
        for (int d = 0; d < D; d++) g += (double)dh[d] * v[(size_t)i * D + d];
        double ds = alpha[i] * (g - mean);
        if (dr)
            for (int a = 0; a < A; a++) dr[(size_t)i * A + a] += (float)(ds * rc[a]);
        if (drc)
            for (int a = 0; a < A; a++) drc[a] += (float)(ds * r[(size_t)i * A + a]);
    }
}

void attpool_forward(float *h, float *alpha, const float *v, const float *r, const float *rc, int P, int D, int A) {
    attpool_forward_ref(h, alpha, v, r, rc, P, D, A);
}
void attpool_backward(float *dv, float *dr, float *drc, const float *dh, const float *alpha, const float *v,
                      const float *r, const float *rc, int P, int D, int A) {
    attpool_backward_ref(dv, dr, drc, dh, alpha, v, r, rc, P, D, A);
}

/* ---- softmax cross-entropy ---------------------------------------------- */

int xent_forward_ref(float *loss, float *probs, const float *logits, const int32_t *labels, int M, int C) {
    // probs (M,C), logits (M,C), labels (M)
    for (int m = 0; m < M; m++)
        if (labels[m] >= C) return -1;
    int count = 0;
    double total = 0;
    for (int m = 0; m < M; m++) {
        const float *x = logits + (size_t)m * C;
        softmax_row(probs + (size_t)m * C, x, C);
        if (labels[m] < 0) continue;
        /* -log softmax(x)[y] = logsumexp(x) - x[y], computed stably */
        float mx = x[0];
        for (int j = 1; j < C; j++)
            if (x[j] > mx) mx = x[j];
        double sum = 0;
        for (int j = 0; j < C; j++) sum += exp((double)x[j] - mx);
        total += log(sum) + mx - x[labels[m]];
        count++;
    }
    *loss = count ? (float)(total / count) : 0.0f;
    return count;
}

void xent_backward_ref(float *dlogits, float dloss, const float *probs, const int32_t *labels, int M, int C) {
    int count = 0;
    for (int m = 0; m < M; m++) count += labels[m] >= 0 && labels[m] < C;
    if (!count) return;
    double scale = (double)dloss / count;
    for (int m = 0; m < M; m++) {
        if (labels[m] < 0 || labels[m] >= C) continue;
        for (int j = 0; j < C; j++) {
            double g = probs[(size_t)m * C + j] - (j == labels[m] ? 1.0 : 0.0);
            dlogits[(size_t)m * C + j] += (float)(scale * g);
        }
    }
}

int xent_forward(float *loss, float *probs, const float *logits, const int32_t *labels, int M, int C) {
    return xent_forward_ref(loss, probs, logits, labels, M, C);
}
void xent_backward(float *dlogits, float dloss, const float *probs, const int32_t *labels, int M, int C) {
    xent_backward_ref(dlogits, dloss, probs, labels, M, C);
}

/* ---- dropout ------------------------------------------------------------- */

static float dropout_scale(float p) { return p < 1.0f ? 1.0f / (1.0f - p) : 0.0f; }

void dropout_forward_ref(float *y, const float *x, const uint8_t *mask, float p, size_t n) {
    float k = dropout_scale(p);
    for (size_t i = 0; i < n; i++) y[i] = mask[i] ? x[i] * k : 0.0f;
}

void dropout_backward_ref(float *dx, const float *dy, const uint8_t *mask, float p, size_t n) {
    float k = dropout_scale(p);
    for (size_t i = 0; i < n; i++)
        if (mask[i]) dx[i] += dy[i] * k;
}

void dropout_forward(float *y, const float *x, const uint8_t *mask, float p, size_t n) {
    dropout_forward_ref(y, x, mask, p, n);
}
void dropout_backward(float *dx, const float *dy, const uint8_t *mask, float p, size_t n) {
    dropout_backward_ref(dx, dy, mask, p, n);
}
