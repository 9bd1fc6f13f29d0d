/* test_text_kernels.c — transformer ops (kernels.h "ops: text"): every op on
 * every backend against its plain-C reference, and each reference backward
 * against central finite differences of a double-precision forward written
 * here (so the gradient check does not trust the float forward). */
#include "kernels.h"
#include "test.h"

static const int BACKENDS[] = {KB_ONEDNN, KB_OPENBLAS, KB_REF};

static void fill(float *x, size_t n, unsigned *seed, float scale) {
    for (size_t i = 0; i < n; i++) {
        *seed = *seed * 1664525u + 1013904223u;
        x[i] = scale * ((float)(*seed >> 8) / 16777216.0f * 2.0f - 1.0f);
    }
}

static float *falloc(size_t n) { return calloc(n ? n : 1, sizeof(float)); }

/* Fast paths accumulate in float against a double-accumulating reference:
 * for dot products of length <= 128 with O(1) inputs the rounding stays below
 * ~1e-5 absolute; rtol 1e-5 covers the few larger outputs. */
#define FAST_ATOL 2e-5
#define FAST_RTOL 1e-5

/* Finite differences in double (h = 1e-6, truncation ~h^2) against float
 * gradients accumulated in double then rounded: agreement to ~1e-6 relative,
 * so atol 1e-5, rtol 1e-4 leaves margin without hiding a wrong formula. */
#define FD_ATOL 1e-5
#define FD_RTOL 1e-4
#define FD_H 1e-6

/* ---- bmm -------------------------------------------------------------- */

static double bmm_loss_d(int nb, int ta, int tb, int M, int N, int K, double alpha, const double *A, int lda,
                         size_t sA, const double *B, int ldb, size_t sB, const float *R, int ldc, size_t sC) {
    double L = 0;
    for (int b = 0; b < nb; b++)
        for (int m = 0; m < M; m++)
            for (int n = 0; n < N; n++) {
                double acc = 0;
                for (int k = 0; k < K; k++) {
                    double a = ta ? A[b * sA + (size_t)k * lda + m] : A[b * sA + (size_t)m * lda + k];
                    double bb = tb ? B[b * sB + (size_t)n * ldb + k] : B[b * sB + (size_t)k * ldb + n];
                    acc += a * bb;
                }
                L += alpha * acc * R[b * sC + (size_t)m * ldc + n];
            }
    return L;
}

TEST(text_kernels_bmm) {
    unsigned seed = 1;
    const int nb = 3, M = 5, N = 4, K = 6;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            /* Strided views: operands embedded in wider rows, as per-head slices are. */
            int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 2, ldc = N + 1;
            size_t sA = (size_t)(ta ? K : M) * lda + 7, sB = (size_t)(tb ? N : K) * ldb + 5, sC = (size_t)M * ldc + 3;
            size_t nA = sA * nb, nB = sB * nb, nC = sC * nb;
            float *A = falloc(nA), *B = falloc(nB), *C0 = falloc(nC), *C = falloc(nC), *R = falloc(nC);
            fill(A, nA, &seed, 1);
            fill(B, nB, &seed, 1);
            fill(C0, nC, &seed, 1);
            fill(R, nC, &seed, 1);
            float *Cref = falloc(nC);
            for (int beta = 0; beta < 2; beta++) {
                memcpy(Cref, C0, nC * sizeof(float));
                bmm_forward_ref(nb, ta, tb, M, N, K, 0.5f, A, lda, sA, B, ldb, sB, (float)beta, Cref, ldc, sC);
                for (size_t bi = 0; bi < sizeof BACKENDS / sizeof *BACKENDS; bi++) {
                    ipf_kctx c;
                    kctx_init(&c);
                    c.backend = BACKENDS[bi];
                    c.nthreads = 2;
                    memcpy(C, C0, nC * sizeof(float));
                    CHECK_EQ_INT(bmm_forward(&c, nb, ta, tb, M, N, K, 0.5f, A, lda, sA, B, ldb, sB, (float)beta, C,
                                             ldc, sC), 0);
                    CHECK_CLOSE(C, Cref, nC, FAST_ATOL, FAST_RTOL);
                    kctx_destroy(&c);
                }
            }
            /* backward: reference vs finite differences, then backends vs reference */
            float *dAr = falloc(nA), *dBr = falloc(nB), *dA = falloc(nA), *dB = falloc(nB);
            bmm_backward_ref(nb, ta, tb, M, N, K, 0.5f, dAr, A, lda, sA, dBr, B, ldb, sB, R, ldc, sC);
            double *Ad = malloc(nA * sizeof(double)), *Bd = malloc(nB * sizeof(double));
            for (size_t i = 0; i < nA; i++) Ad[i] = A[i];
            for (size_t i = 0; i < nB; i++) Bd[i] = B[i];
            float *fdA = falloc(nA), *fdB = falloc(nB);
            for (size_t i = 0; i < nA; i++) {
                double o = Ad[i];
                Ad[i] = o + FD_H;
                double lp = bmm_loss_d(nb, ta, tb, M, N, K, 0.5, Ad, lda, sA, Bd, ldb, sB, R, ldc, sC);
                Ad[i] = o - FD_H;
                double lm = bmm_loss_d(nb, ta, tb, M, N, K, 0.5, Ad, lda, sA, Bd, ldb, sB, R, ldc, sC);
                Ad[i] = o;
                fdA[i] = (float)((lp - lm) / (2 * FD_H));
            }
            for (size_t i = 0; i < nB; i++) {
                double o = Bd[i];
                Bd[i] = o + FD_H;
                double lp = bmm_loss_d(nb, ta, tb, M, N, K, 0.5, Ad, lda, sA, Bd, ldb, sB, R, ldc, sC);
                Bd[i] = o - FD_H;
                double lm = bmm_loss_d(nb, ta, tb, M, N, K, 0.5, Ad, lda, sA, Bd, ldb, sB, R, ldc, sC);
                Bd[i] = o;
                fdB[i] = (float)((lp - lm) / (2 * FD_H));
            }
            CHECK_CLOSE(dAr, fdA, nA, FD_ATOL, FD_RTOL);
            CHECK_CLOSE(dBr, fdB, nB, FD_ATOL, FD_RTOL);
            for (size_t bi = 0; bi < sizeof BACKENDS / sizeof *BACKENDS; bi++) {
                ipf_kctx c;
                kctx_init(&c);
                c.backend = BACKENDS[bi];
                c.nthreads = 2;
                /* backward adds: start from ones and compare with ones + reference */
                for (size_t i = 0; i < nA; i++) dA[i] = 1.0f;
                for (size_t i = 0; i < nB; i++) dB[i] = 1.0f;
                CHECK_EQ_INT(bmm_backward(&c, nb, ta, tb, M, N, K, 0.5f, dA, A, lda, sA, dB, B, ldb, sB, R, ldc, sC), 0);
                for (size_t i = 0; i < nA; i++) dA[i] -= 1.0f;
                for (size_t i = 0; i < nB; i++) dB[i] -= 1.0f;
                CHECK_CLOSE(dA, dAr, nA, FAST_ATOL, FAST_RTOL);
                CHECK_CLOSE(dB, dBr, nB, FAST_ATOL, FAST_RTOL);
                kctx_destroy(&c);
            }
            free(A); free(B); free(C0); free(C); free(R); free(Cref);
            free(dAr); free(dBr); free(dA); free(dB); free(Ad); free(Bd); free(fdA); free(fdB);
        }
}

/* ---- row ops: a generic harness ---------------------------------------
 * Each op is described by a double forward (for finite differences) and
 * the float forward/backward under test; loss = sum(out * R). */

typedef struct rowop {
    int N, D;             /* input (N,D); output same shape */
    const float *w, *b;   /* LayerNorm params (else NULL) */
    const float *mask;    /* softmax mask */
    float scale, eps;
    int kind;             /* 0 layernorm, 1 gelu, 2 softmax */
} rowop;

static double rowop_loss_d(const rowop *op, const double *x, const double *w, const double *b, const float *R) {
    double L = 0;
    int N = op->N, D = op->D;
    for (int i = 0; i < N; i++) {
        const double *xr = x + (size_t)i * D;
        const float *rr = R + (size_t)i * D;
        if (op->kind == 0) {
            double m = 0, v = 0;
            for (int d = 0; d < D; d++) m += xr[d];
            m /= D;
            for (int d = 0; d < D; d++) v += (xr[d] - m) * (xr[d] - m);
            v /= D;
            for (int d = 0; d < D; d++) L += ((xr[d] - m) / sqrt(v + op->eps) * w[d] + b[d]) * rr[d];
        } else if (op->kind == 1) {
            for (int d = 0; d < D; d++) L += 0.5 * xr[d] * (1 + erf(xr[d] / sqrt(2.0))) * rr[d];
        } else {
            double mx = -INFINITY, s = 0;
            for (int d = 0; d < D; d++) {
                double v = op->scale * xr[d] + (op->mask ? op->mask[d] : 0);
                if (v > mx) mx = v;
            }
            for (int d = 0; d < D; d++) s += exp(op->scale * xr[d] + (op->mask ? op->mask[d] : 0) - mx);
            for (int d = 0; d < D; d++)
                L += exp(op->scale * xr[d] + (op->mask ? op->mask[d] : 0) - mx) / s * rr[d];
        }
    }
    return L;
}

static void fd_grad(const rowop *op, double *v, size_t n, double *x, double *w, double *b, const float *R, float *g) {
    for (size_t i = 0; i < n; i++) {
        double o = v[i];
        v[i] = o + FD_H;
        double lp = rowop_loss_d(op, x, w, b, R);
        v[i] = o - FD_H;
        double lm = rowop_loss_d(op, x, w, b, R);
        v[i] = o;
        g[i] = (float)((lp - lm) / (2 * FD_H));
    }
}

TEST(text_kernels_layernorm) {
    unsigned seed = 7;
    int N = 6, D = 37;
    size_t n = (size_t)N * D;
    float *x = falloc(n), *w = falloc(D), *b = falloc(D), *R = falloc(n), *y = falloc(n), *yr = falloc(n);
    float *mean = falloc(N), *rstd = falloc(N), *mr = falloc(N), *rr = falloc(N);
    fill(x, n, &seed, 2);
    for (int i = 0; i < D; i++) x[i] += 3; /* a row with a large mean */
    fill(w, D, &seed, 1);
    fill(b, D, &seed, 1);
    fill(R, n, &seed, 1);
    layernorm_forward_ref(yr, mr, rr, x, w, b, N, D, 1e-12f);
    /* backward reference vs finite differences */
    float *dx = falloc(n), *dw = falloc(D), *db = falloc(D);
    layernorm_backward_ref(dx, dw, db, R, x, w, mr, rr, N, D);
    double *xd = malloc(n * sizeof(double)), *wd = malloc(D * sizeof(double)), *bd = malloc(D * sizeof(double));
    for (size_t i = 0; i < n; i++) xd[i] = x[i];
    for (int i = 0; i < D; i++) wd[i] = w[i], bd[i] = b[i];
    rowop op = {N, D, w, b, NULL, 1, 1e-12f, 0};
    float *fx = falloc(n), *fw = falloc(D), *fb = falloc(D);
    fd_grad(&op, xd, n, xd, wd, bd, R, fx);
    fd_grad(&op, wd, D, xd, wd, bd, R, fw);
    fd_grad(&op, bd, D, xd, wd, bd, R, fb);
    CHECK_CLOSE(dx, fx, n, FD_ATOL, FD_RTOL);
    CHECK_CLOSE(dw, fw, D, FD_ATOL, FD_RTOL);
    CHECK_CLOSE(db, fb, D, FD_ATOL, FD_RTOL);
    for (size_t bi = 0; bi < sizeof BACKENDS / sizeof *BACKENDS; bi++) {
        ipf_kctx c;
        kctx_init(&c);
        c.backend = BACKENDS[bi];
        c.nthreads = 2;
        CHECK_EQ_INT(layernorm_forward(&c, y, mean, rstd, x, w, b, N, D, 1e-12f), 0);
        CHECK_CLOSE(y, yr, n, FAST_ATOL, FAST_RTOL);
        CHECK_CLOSE(mean, mr, N, 1e-6, 1e-6);
        CHECK_CLOSE(rstd, rr, N, 1e-6, 1e-5);
        float *dx2 = falloc(n), *dw2 = falloc(D), *db2 = falloc(D);
        CHECK_EQ_INT(layernorm_backward(&c, dx2, dw2, db2, R, x, w, mr, rr, N, D), 0);
        CHECK_CLOSE(dx2, dx, n, FAST_ATOL, FAST_RTOL);
        CHECK_CLOSE(dw2, dw, D, FAST_ATOL, FAST_RTOL);
        CHECK_CLOSE(db2, db, D, FAST_ATOL, FAST_RTOL);
        free(dx2); free(dw2); free(db2);
        kctx_destroy(&c);
    }
    free(x); free(w); free(b); free(R); free(y); free(yr); free(mean); free(rstd); free(mr); free(rr);
    free(dx); free(dw); free(db); free(xd); free(wd); free(bd); free(fx); free(fw); free(fb);
}

static void rowop_check(rowop *op, unsigned seed) {
    int N = op->N, D = op->D;
    size_t n = (size_t)N * D;
    float *x = falloc(n), *R = falloc(n), *y = falloc(n), *yr = falloc(n), *dx = falloc(n), *fx = falloc(n);
    fill(x, n, &seed, 3);
    fill(R, n, &seed, 1);
    if (op->kind == 1) gelu_forward_ref(yr, x, n);
    else softmax_forward_ref(yr, x, op->mask, op->scale, N, D);
    if (op->kind == 1) gelu_backward_ref(dx, R, x, n);
    else softmax_backward_ref(dx, R, yr, op->scale, N, D);
    double *xd = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++) xd[i] = x[i];
    fd_grad(op, xd, n, xd, NULL, NULL, R, fx);
    CHECK_CLOSE(dx, fx, n, FD_ATOL, FD_RTOL);
    for (size_t bi = 0; bi < sizeof BACKENDS / sizeof *BACKENDS; bi++) {
        ipf_kctx c;
        kctx_init(&c);
        c.backend = BACKENDS[bi];
        c.nthreads = 2;
        float *dx2 = falloc(n);
        if (op->kind == 1) {
            CHECK_EQ_INT(gelu_forward(&c, y, x, n), 0);
            CHECK_EQ_INT(gelu_backward(&c, dx2, R, x, n), 0);
        } else {
            CHECK_EQ_INT(softmax_forward(&c, y, x, op->mask, op->scale, N, D), 0);
            CHECK_EQ_INT(softmax_backward(&c, dx2, R, yr, op->scale, N, D), 0);
        }
        CHECK_CLOSE(y, yr, n, FAST_ATOL, FAST_RTOL);
        CHECK_CLOSE(dx2, dx, n, FAST_ATOL, FAST_RTOL);
        free(dx2);
        kctx_destroy(&c);
    }
    free(x); free(R); free(y); free(yr); free(dx); free(fx); free(xd);
}

TEST(text_kernels_gelu) {
    rowop op = {5, 41, NULL, NULL, NULL, 1, 0, 1};
    rowop_check(&op, 11);
    /* exact values: torch.nn.GELU()(torch.tensor([-3,-1,0,0.5,2.],dtype=torch.float64)) */
    float x[5] = {-3, -1, 0, 0.5f, 2}, y[5];
    const float want[5] = {-0.0040496985f, -0.15865525f, 0.0f, 0.34573123f, 1.9544997f};
    ipf_kctx c;
    kctx_init(&c);
    c.backend = KB_OPENBLAS;
    gelu_forward(&c, y, x, 5);
    CHECK_CLOSE(y, want, 5, 1e-7, 1e-6);
    kctx_destroy(&c);
}

TEST(text_kernels_softmax) {
    rowop op = {7, 19, NULL, NULL, NULL, 0.125f, 0, 2};
    rowop_check(&op, 13);
    float mask[19];
    for (int i = 0; i < 19; i++) mask[i] = i < 12 ? 0.0f : -INFINITY; /* valid length 12 */
    op.mask = mask;
    rowop_check(&op, 17);
    /* masked columns get exactly 0, and a fully masked row gives zeros */
    float x[4] = {1, 2, 3, 4}, y[4], m[4] = {0, 0, -INFINITY, -INFINITY}, all[4] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY};
    for (size_t bi = 0; bi < sizeof BACKENDS / sizeof *BACKENDS; bi++) {
        ipf_kctx c;
        kctx_init(&c);
        c.backend = BACKENDS[bi];
        softmax_forward(&c, y, x, m, 1, 1, 4);
        CHECK(y[2] == 0 && y[3] == 0 && fabsf(y[0] + y[1] - 1) < 1e-6f);
        softmax_forward(&c, y, x, all, 1, 1, 4);
        CHECK(y[0] == 0 && y[1] == 0 && y[2] == 0 && y[3] == 0);
        kctx_destroy(&c);
    }
}

TEST(text_kernels_embedding) {
    unsigned seed = 5;
    int V = 11, P = 9, TV = 2, D = 8, T = 6;
    float *word = falloc((size_t)V * D), *pos = falloc((size_t)P * D), *type = falloc((size_t)TV * D);
    fill(word, (size_t)V * D, &seed, 1);
    fill(pos, (size_t)P * D, &seed, 1);
    fill(type, (size_t)TV * D, &seed, 1);
    int32_t ids[6] = {3, 0, 10, 3, 7, 3}, types[6] = {0, 0, 0, 1, 1, 1};
    size_t n = (size_t)T * D;
    float *yr = falloc(n), *y = falloc(n), *R = falloc(n);
    fill(R, n, &seed, 1);
    for (int withtypes = 0; withtypes < 2; withtypes++) {
        const int32_t *tp = withtypes ? types : NULL;
        embedding_forward_ref(yr, ids, tp, word, pos, type, T, D);
        /* spot check: token 2 = word[10] + pos[2] + type[tp[2]] */
        for (int d = 0; d < D; d++)
            CHECK(fabsf(yr[2 * D + d] - (word[10 * D + d] + pos[2 * D + d] + type[d])) < 1e-6f);
        float *dw = falloc((size_t)V * D), *dp = falloc((size_t)P * D), *dt = falloc((size_t)TV * D);
        embedding_backward_ref(dw, dp, dt, R, ids, tp, T, D);
        /* the loss is linear, so the gradient is exact: word row 3 gets tokens 0, 3, 5 */
        for (int d = 0; d < D; d++) {
            CHECK(fabsf(dw[3 * D + d] - (R[0 * D + d] + R[3 * D + d] + R[5 * D + d])) < 1e-6f);
            CHECK(fabsf(dp[4 * D + d] - R[4 * D + d]) < 1e-6f);
            float t1 = withtypes ? R[3 * D + d] + R[4 * D + d] + R[5 * D + d] : 0;
            CHECK(fabsf(dt[1 * D + d] - t1) < 1e-6f);
        }
        for (size_t bi = 0; bi < sizeof BACKENDS / sizeof *BACKENDS; bi++) {
            ipf_kctx c;
            kctx_init(&c);
            c.backend = BACKENDS[bi];
            CHECK_EQ_INT(embedding_forward(&c, y, ids, tp, word, pos, type, T, D), 0);
            CHECK_CLOSE(y, yr, n, 1e-6, 1e-6);
            float *dw2 = falloc((size_t)V * D), *dp2 = falloc((size_t)P * D), *dt2 = falloc((size_t)TV * D);
            CHECK_EQ_INT(embedding_backward(&c, dw2, dp2, dt2, R, ids, tp, T, D), 0);
            CHECK_CLOSE(dw2, dw, (size_t)V * D, 1e-6, 1e-6);
            CHECK_CLOSE(dp2, dp, (size_t)P * D, 1e-6, 1e-6);
            CHECK_CLOSE(dt2, dt, (size_t)TV * D, 1e-6, 1e-6);
            free(dw2); free(dp2); free(dt2);
            kctx_destroy(&c);
        }
        free(dw); free(dp); free(dt);
    }
    free(word); free(pos); free(type); free(yr); free(y); free(R);
}

/* linear (kernels/linear.c, whose oneDNN path lives with these ops): every
 * backend against the reference, forward and backward (which adds). */
TEST(text_kernels_linear_backends) {
    unsigned seed = 21;
    const int M = 7, K = 33, N = 19;
    float *x = falloc((size_t)M * K), *W = falloc((size_t)N * K), *b = falloc(N), *dy = falloc((size_t)M * N);
    fill(x, (size_t)M * K, &seed, 1);
    fill(W, (size_t)N * K, &seed, 1);
    fill(b, N, &seed, 1);
    fill(dy, (size_t)M * N, &seed, 1);
    float *yr = falloc((size_t)M * N), *dxr = falloc((size_t)M * K), *dWr = falloc((size_t)N * K), *dbr = falloc(N);
    for (int withb = 0; withb < 2; withb++) {
        linear_forward_ref(yr, x, W, withb ? b : NULL, M, K, N);
        memset(dxr, 0, sizeof(float) * M * K), memset(dWr, 0, sizeof(float) * N * K), memset(dbr, 0, sizeof(float) * N);
        linear_backward_ref(dxr, dWr, dbr, dy, x, W, M, K, N);
        for (size_t bi = 0; bi < sizeof BACKENDS / sizeof *BACKENDS; bi++) {
            ipf_kctx c;
            kctx_init(&c);
            c.backend = BACKENDS[bi];
            c.nthreads = 2;
            float *y = falloc((size_t)M * N), *dx = falloc((size_t)M * K), *dW = falloc((size_t)N * K), *db = falloc(N);
            CHECK_EQ_INT(linear_forward(&c, y, x, W, withb ? b : NULL, M, K, N), 0);
            CHECK_CLOSE(y, yr, (size_t)M * N, FAST_ATOL, FAST_RTOL);
            for (int i = 0; i < M * K; i++) dx[i] = 1;
            for (int i = 0; i < N * K; i++) dW[i] = 1;
            for (int i = 0; i < N; i++) db[i] = 1;
            CHECK_EQ_INT(linear_backward(&c, dx, dW, db, dy, x, W, M, K, N), 0);
            for (int i = 0; i < M * K; i++) dx[i] -= 1;
            for (int i = 0; i < N * K; i++) dW[i] -= 1;
            for (int i = 0; i < N; i++) db[i] -= 1;
            CHECK_CLOSE(dx, dxr, (size_t)M * K, FAST_ATOL, FAST_RTOL);
            CHECK_CLOSE(dW, dWr, (size_t)N * K, FAST_ATOL, FAST_RTOL);
            CHECK_CLOSE(db, dbr, N, FAST_ATOL, FAST_RTOL);
            free(y); free(dx); free(dW); free(db);
            kctx_destroy(&c);
        }
    }
    free(x); free(W); free(b); free(dy); free(yr); free(dxr); free(dWr); free(dbr);
}
