/* test_heads_kernels.c — tanh, attention pooling, softmax cross-entropy
 * and dropout (kernels/heads.c).
 *
 * Each op's float forward is compared with an independent double-precision
 * forward written here, and its float backward with central finite
 * differences of that double forward for the scalar L = sum(w * out) (w is
 * the upstream gradient).  Gradients start at a non-zero value to check that
 * backward ADDS.  Tolerances: the float kernels round each output once or
 * twice (~1e-7 relative) and FD in double with eps 1e-6 is accurate to
 * ~1e-9, so atol 1e-5 + rtol 1e-4 leaves a wide margin while still catching
 * any real mistake (a wrong term is O(0.1)). */
#include "kernels.h"
#include "test.h"

#define FD_EPS 1e-6
#define GRAD_ATOL 1e-5
#define GRAD_RTOL 1e-4
#define FWD_ATOL 1e-6
#define FWD_RTOL 1e-5
#define GRAD_INIT 0.5f /* backward must add to this */

static uint32_t rng_state = 12345u;
static float frand(void) { /* uniform in [-1, 1), deterministic */
    rng_state = rng_state * 1664525u + 1013904223u;
    return (float)((rng_state >> 8) * (1.0 / 16777216.0)) * 2.0f - 1.0f;
}
static void fill(float *x, size_t n, float scale) {
    for (size_t i = 0; i < n; i++) x[i] = frand() * scale;
}
static void set(float *x, size_t n, float v) {
    for (size_t i = 0; i < n; i++) x[i] = v;
}
/* Remove GRAD_INIT so the result can be compared with a gradient. */
static void unbias(float *g, size_t n) {
    for (size_t i = 0; i < n; i++) g[i] -= GRAD_INIT;
}

/* A double objective over a double copy of its inputs. */
typedef double (*objective)(const double *in, const void *ctx);

/* Central differences of f at x (n floats, as double) -> grad (n floats). */
static void fd_grad(objective f, const void *ctx, const float *x, size_t n, double *work, float *grad) {
    for (size_t i = 0; i < n; i++) work[i] = x[i];
    for (size_t i = 0; i < n; i++) {
        double keep = work[i];
        work[i] = keep + FD_EPS;
        double up = f(work, ctx);
        work[i] = keep - FD_EPS;
        double dn = f(work, ctx);
        work[i] = keep;
        grad[i] = (float)((up - dn) / (2 * FD_EPS));
    }
}

/* ---- tanh ------------------------------------------------------------------- */

typedef struct ew_ctx {
    const float *w;
    size_t n;
} ew_ctx;

static double tanh_obj(const double *x, const void *vc) {
    const ew_ctx *c = vc;
    double L = 0;
    for (size_t i = 0; i < c->n; i++) L += c->w[i] * tanh(x[i]);
    return L;
}

TEST(heads_tanh) {
    enum { N = 37 };
    float x[N], y[N], w[N], dx[N], fd[N], yd[N], z[N];
    double work[N];
    fill(x, N, 2.0f);
    fill(w, N, 1.0f);
    tanh_forward(y, x, N);
    for (int i = 0; i < N; i++) yd[i] = (float)tanh((double)x[i]);
    CHECK_CLOSE(y, yd, N, FWD_ATOL, FWD_RTOL);
    set(dx, N, GRAD_INIT);
    tanh_backward(dx, w, y, N);
    unbias(dx, N);
    ew_ctx c = {w, N};
    fd_grad(tanh_obj, &c, x, N, work, fd);
    CHECK_CLOSE(dx, fd, N, GRAD_ATOL, GRAD_RTOL);
    memcpy(z, x, sizeof z); /* in place */
    tanh_forward(z, z, N);
    CHECK(memcmp(z, y, sizeof z) == 0);
}

/* softmax of one row in double, for the references below */
static void softmax_d(double *p, const double *x, int C) {
    double mx = x[0], s = 0;
    for (int j = 1; j < C; j++) mx = x[j] > mx ? x[j] : mx;
    for (int j = 0; j < C; j++) s += exp(x[j] - mx);
    for (int j = 0; j < C; j++) p[j] = exp(x[j] - mx) / s;
}

/* ---- attention pooling --------------------------------------------------- */

typedef struct ap_ctx {
    const float *v, *r, *rc, *w; /* the two not being differentiated come from here */
    int which;                    /* 0: d/dv, 1: d/dr, 2: d/drc */
    int P, D, A;
} ap_ctx;

static void attpool_d(double *h, double *alpha, const double *v, const double *r, const double *rc, int P, int D,
                      int A) {
    double s[64];
    for (int i = 0; i < P; i++) {
        s[i] = 0;
        for (int a = 0; a < A; a++) s[i] += r[i * A + a] * rc[a];
    }
    softmax_d(alpha, s, P);
    for (int d = 0; d < D; d++) {
        h[d] = 0;
        for (int i = 0; i < P; i++) h[d] += alpha[i] * v[i * D + d];
    }
}

static double ap_obj(const double *in, const void *vc) {
    const ap_ctx *c = vc;
    double v[64 * 16], r[64 * 16], rc[16], h[16], alpha[64];
    for (int i = 0; i < c->P * c->D; i++) v[i] = c->which == 0 ? in[i] : c->v[i];
    for (int i = 0; i < c->P * c->A; i++) r[i] = c->which == 1 ? in[i] : c->r[i];
    for (int i = 0; i < c->A; i++) rc[i] = c->which == 2 ? in[i] : c->rc[i];
    attpool_d(h, alpha, v, r, rc, c->P, c->D, c->A);
    double L = 0;
    for (int d = 0; d < c->D; d++) L += c->w[d] * h[d];
    return L;
}

static void check_attpool(int P) {
    enum { D = 7, A = 5, PMAX = 9 };
    float v[PMAX * D], r[PMAX * A], rc[A], h[D], alpha[PMAX], w[D];
    float dv[PMAX * D], dr[PMAX * A], drc[A], fd[PMAX * D], hd[D], alphad[PMAX];
    double work[PMAX * D];
    fill(v, (size_t)P * D, 1.0f);
    fill(r, (size_t)P * A, 1.0f);
    fill(rc, A, 1.5f);
    fill(w, D, 1.0f);
    attpool_forward(h, alpha, v, r, rc, P, D, A);
    {
        double vd[PMAX * D], rd[PMAX * A], rcd[A], hh[D], aa[PMAX];
        for (int i = 0; i < P * D; i++) vd[i] = v[i];
        for (int i = 0; i < P * A; i++) rd[i] = r[i];
        for (int i = 0; i < A; i++) rcd[i] = rc[i];
        attpool_d(hh, aa, vd, rd, rcd, P, D, A);
        for (int i = 0; i < D; i++) hd[i] = (float)hh[i];
        for (int i = 0; i < P; i++) alphad[i] = (float)aa[i];
    }
    CHECK_CLOSE(h, hd, D, FWD_ATOL, FWD_RTOL);
    CHECK_CLOSE(alpha, alphad, (size_t)P, FWD_ATOL, FWD_RTOL);
    set(dv, (size_t)P * D, GRAD_INIT);
    set(dr, (size_t)P * A, GRAD_INIT);
    set(drc, A, GRAD_INIT);
    attpool_backward(dv, dr, drc, w, alpha, v, r, rc, P, D, A);
    unbias(dv, (size_t)P * D);
    unbias(dr, (size_t)P * A);
    unbias(drc, A);
    ap_ctx c = {v, r, rc, w, 0, P, D, A};
    fd_grad(ap_obj, &c, v, (size_t)P * D, work, fd);
    CHECK_CLOSE(dv, fd, (size_t)P * D, GRAD_ATOL, GRAD_RTOL);
    c.which = 1;
    fd_grad(ap_obj, &c, r, (size_t)P * A, work, fd);
    CHECK_CLOSE(dr, fd, (size_t)P * A, GRAD_ATOL, GRAD_RTOL);
    c.which = 2;
    fd_grad(ap_obj, &c, rc, A, work, fd);
    CHECK_CLOSE(drc, fd, A, GRAD_ATOL, GRAD_RTOL);
    /* NULL gradients are skipped */
    attpool_backward(NULL, NULL, drc, w, alpha, v, r, rc, P, D, A);
    attpool_backward(dv, NULL, NULL, w, alpha, v, r, rc, P, D, A);
}

TEST(heads_attpool) {
    check_attpool(9);
    check_attpool(1); /* one post: alpha = 1, gradient to r and rc is exactly 0 */
    float v[3] = {1, 2, 3}, r[2] = {0.3f, -0.2f}, rc[2] = {1, 1}, h[3], alpha[1];
    attpool_forward(h, alpha, v, r, rc, 1, 3, 2);
    CHECK(alpha[0] == 1.0f && h[0] == 1.0f && h[2] == 3.0f);
}

/* ---- softmax cross-entropy ----------------------------------------------- */

typedef struct xe_ctx {
    const int32_t *labels;
    int M, C;
} xe_ctx;

static double xe_obj(const double *x, const void *vc) {
    const xe_ctx *c = vc;
    double L = 0, p[64];
    int n = 0;
    for (int m = 0; m < c->M; m++) {
        if (c->labels[m] < 0) continue;
        softmax_d(p, x + m * c->C, c->C);
        L -= log(p[c->labels[m]]);
        n++;
    }
    return n ? L / n : 0;
}

TEST(heads_xent) {
    enum { M = 5, C = 8, N = M * C };
    const int32_t labels[M] = {3, -1, 0, 7, -1}; /* two unlabelled rows */
    float x[N], p[N], dx[N], fd[N], loss = -1;
    double work[N];
    fill(x, N, 3.0f);
    CHECK_EQ_INT(xent_forward(&loss, p, x, labels, M, C), 3);
    for (int i = 0; i < N; i++) work[i] = x[i];
    xe_ctx c = {labels, M, C};
    float want = (float)xe_obj(work, &c);
    CHECK_CLOSE(&loss, &want, 1, FWD_ATOL, FWD_RTOL);
    const float dloss = 0.75f; /* the upstream gradient scales everything */
    set(dx, N, GRAD_INIT);
    xent_backward(dx, dloss, p, labels, M, C);
    unbias(dx, N);
    fd_grad(xe_obj, &c, x, N, work, fd);
    for (int i = 0; i < N; i++) fd[i] *= dloss;
    CHECK_CLOSE(dx, fd, N, GRAD_ATOL, GRAD_RTOL);
    for (int j = 0; j < C; j++) CHECK(dx[1 * C + j] == 0.0f); /* unlabelled row: no gradient */

    /* no labelled row: loss 0, no gradient; a label out of range is rejected */
    const int32_t none[M] = {-1, -1, -1, -1, -1};
    CHECK_EQ_INT(xent_forward(&loss, p, x, none, M, C), 0);
    CHECK(loss == 0.0f);
    set(dx, N, 0.0f);
    xent_backward(dx, 1.0f, p, none, M, C);
    for (int i = 0; i < N; i++) CHECK(dx[i] == 0.0f);
    const int32_t bad[M] = {0, 1, 8, 2, 3};
    CHECK_EQ_INT(xent_forward(&loss, p, x, bad, M, C), -1);
}

/* ---- dropout -------------------------------------------------------------- */

TEST(heads_dropout) {
    enum { N = 50 };
    float x[N], y[N], w[N], dx[N], want[N];
    uint8_t mask[N];
    const float p = 0.5f;
    fill(x, N, 1.0f);
    fill(w, N, 1.0f);
    for (int i = 0; i < N; i++) mask[i] = (uint8_t)(frand() > 0.0f);
    dropout_forward(y, x, mask, p, N);
    for (int i = 0; i < N; i++) want[i] = mask[i] ? x[i] * 2.0f : 0.0f; /* exact: scale 1/(1-0.5) = 2 */
    CHECK_CLOSE(y, want, N, 0, 0);
    set(dx, N, GRAD_INIT);
    dropout_backward(dx, w, mask, p, N);
    unbias(dx, N);
    /* y is linear in x, so the gradient is exactly mask * 2 * w (up to the unbias rounding) */
    for (int i = 0; i < N; i++) want[i] = mask[i] ? w[i] * 2.0f : 0.0f;
    CHECK_CLOSE(dx, want, N, 1e-6, 0);
    dropout_forward(y, x, mask, 1.0f, N);
    for (int i = 0; i < N; i++) CHECK(y[i] == 0.0f);
}
