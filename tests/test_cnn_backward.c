/* test_cnn_backward.c — backward of the image ops: every backend against the
 * reference, the reference against central finite differences (accumulated
 * in double), and a conv -> max/avg pool graph against PyTorch autograd
 * (tests/gen/cnn_backward.py, float64). */
#include "kernels.h"
#include "safetensors.h"
#include "test.h"
#include "test_util.h"

static const int BACKENDS[] = {KB_ONEDNN, KB_OPENBLAS, KB_REF};
static const char *BNAME[] = {"auto", "onednn", "openblas", "ref"};

static uint64_t rs = 0x243F6A8885A308D3ull;
static float *rand_buf(size_t n) { return tu_rand_buf(&rs, n); }
static double dotd(const float *a, const float *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

typedef struct bcase {
    int N, C, H, W, M, KH, KW, S, PH, PW, relu, ctot, c0;
} bcase;
static const bcase CASES[] = {
    {2, 3, 9, 8, 8, 3, 3, 2, 0, 0, 1, 0, 0},   {2, 8, 6, 7, 16, 1, 1, 1, 0, 0, 1, 24, 8},
    {1, 8, 7, 7, 8, 1, 7, 1, 0, 3, 0, 0, 0},   {2, 5, 7, 6, 4, 7, 1, 1, 3, 0, 1, 12, 4},
    {3, 4, 8, 8, 6, 3, 3, 1, 1, 1, 1, 0, 0},   {1, 6, 9, 9, 5, 3, 3, 2, 1, 1, 0, 0, 0},
};

TEST(cnn_conv2d_backward_backends) {
    for (size_t ci = 0; ci < sizeof CASES / sizeof CASES[0]; ci++) {
        const bcase *k = &CASES[ci];
        kconv p = {k->N, k->C, k->H, k->W, k->M, k->KH, k->KW, k->S, k->S, k->PH, k->PW, k->relu, KL_NCHW, KL_NCHW,
                   k->ctot, k->c0, 1, NULL};
        int OH = conv2d_out_dim(k->H, k->KH, k->S, k->PH), OW = conv2d_out_dim(k->W, k->KW, k->S, k->PW);
        int ctot = k->ctot ? k->ctot : k->M;
        size_t nx = (size_t)k->N * k->C * k->H * k->W, nw = (size_t)k->M * k->C * k->KH * k->KW;
        size_t ny = (size_t)k->N * ctot * OH * OW;
        float *x = rand_buf(nx), *w = rand_buf(nw), *b = rand_buf(k->M), *dy = rand_buf(ny);
        float *y = calloc(ny, sizeof(float));
        conv2d_forward_ref(&p, y, x, w, b);
        /* gradients start from a non-zero value to check that backward adds */
        float *dx0 = rand_buf(nx), *dw0 = rand_buf(nw), *db0 = rand_buf(k->M);
        float *rdx = malloc(nx * 4), *rdw = malloc(nw * 4), *rdb = malloc(k->M * 4);
        memcpy(rdx, dx0, nx * 4), memcpy(rdw, dw0, nw * 4), memcpy(rdb, db0, k->M * 4);
        conv2d_backward_ref(&p, rdx, rdw, rdb, dy, y, x, w);
        for (int bi = 0; bi < 3; bi++) {
            ipf_kctx c;
            tu_ctx_for(&c, BACKENDS[bi]);
            float *dx = malloc(nx * 4), *dw = malloc(nw * 4), *db = malloc(k->M * 4);
            memcpy(dx, dx0, nx * 4), memcpy(dw, dw0, nw * 4), memcpy(db, db0, k->M * 4);
            for (int rep = 0; rep < 2; rep++) { /* twice: plans reused, and gradients add up */
                if (conv2d_backward(&c, &p, dx, dw, db, dy, y, x, w)) FAILF("case %zu %s: %s", ci, BNAME[BACKENDS[bi]], c.err);
            }
            /* twice the gradient: compare dx - dx0 against 2 (rdx - dx0) */
            for (size_t i = 0; i < nx; i++) dx[i] = dx[i] - dx0[i] - 2 * (rdx[i] - dx0[i]);
            for (size_t i = 0; i < nw; i++) dw[i] = dw[i] - dw0[i] - 2 * (rdw[i] - dw0[i]);
            for (int i = 0; i < k->M; i++) db[i] = db[i] - db0[i] - 2 * (rdb[i] - db0[i]);
            float *zero = calloc(nx + nw + k->M, sizeof(float));
            /* sums of <= 200 float products of values in [-1,1] */
            int ok = CHECK_CLOSE(dx, zero, nx, 2e-4, 0) & CHECK_CLOSE(dw, zero, nw, 2e-4, 0) &
                     CHECK_CLOSE(db, zero, k->M, 2e-4, 0);
            if (!ok) fprintf(stderr, "    (case %zu, backend %s)\n", ci, BNAME[BACKENDS[bi]]);
            free(zero), free(dx), free(dw), free(db);
            kctx_destroy(&c);
        }
        free(x), free(w), free(b), free(dy), free(y), free(dx0), free(dw0), free(db0), free(rdx), free(rdw), free(rdb);
    }
}

/* L(x, w, b) = <g, conv(x, w, b)> without ReLU is linear in each argument, so
 * a central difference with a step of 0.5 is exact up to float rounding. */
TEST(cnn_conv2d_backward_finite_diff) {
    kconv p = {2, 3, 7, 6, 4, 3, 3, 2, 2, 1, 1, 0, KL_NCHW, KL_NCHW, 0, 0, 1, NULL};
    int OH = conv2d_out_dim(7, 3, 2, 1), OW = conv2d_out_dim(6, 3, 2, 1);
    size_t nx = 2 * 3 * 7 * 6, nw = 4 * 3 * 9, ny = (size_t)2 * 4 * OH * OW;
    float *x = rand_buf(nx), *w = rand_buf(nw), *b = rand_buf(4), *g = rand_buf(ny), *y = malloc(ny * 4);
    float *dx = calloc(nx, 4), *dw = calloc(nw, 4), db[4] = {0};
    conv2d_backward_ref(&p, dx, dw, db, g, NULL, x, w);
    float *params[3] = {x, w, b}, *grads[3] = {dx, dw, db};
    size_t sizes[3] = {nx, nw, 4};
    double worst = 0;
    for (int t = 0; t < 3; t++)
        for (size_t i = 0; i < sizes[t]; i++) {
            float keep = params[t][i];
            params[t][i] = keep + 0.5f;
            conv2d_forward_ref(&p, y, x, w, b);
            double lp = dotd(g, y, ny);
            params[t][i] = keep - 0.5f;
            conv2d_forward_ref(&p, y, x, w, b);
            double lm = dotd(g, y, ny);
            params[t][i] = keep;
            double fd = lp - lm, err = fabs(fd - grads[t][i]);
            if (err > worst) worst = err;
        }
    CHECK(worst < 1e-4); /* rounding of y (|y| < 30) to float, summed over ny terms */
    free(x), free(w), free(b), free(g), free(y), free(dx), free(dw);
}

/* Max pool: inputs are distinct multiples of 1/64, so a step of 1/256 never
 * changes a window's maximum; avg pool is linear. */
TEST(cnn_pool2d_backward_finite_diff) {
    for (int alg = KP_MAX; alg <= KP_AVG; alg++) {
        kpool p = alg == KP_MAX ? (kpool){2, 3, 9, 8, 3, 3, 2, 2, 0, 0, KP_MAX, KL_NCHW, 0, 0}
                                : (kpool){2, 3, 7, 6, 3, 3, 1, 1, 1, 1, KP_AVG, KL_NCHW, 0, 0};
        int OH = conv2d_out_dim(p.H, 3, p.SH, p.PH), OW = conv2d_out_dim(p.W, 3, p.SW, p.PW);
        size_t nx = (size_t)2 * 3 * p.H * p.W, ny = (size_t)2 * 3 * OH * OW;
        float *x = malloc(nx * 4), *g = rand_buf(ny), *y = malloc(ny * 4), *dx = calloc(nx, 4);
        for (size_t i = 0; i < nx; i++) x[i] = (float)((i * 37) % nx) / 64.0f; /* distinct: 37 coprime to nx */
        ipf_kctx c;
        tu_ctx_for(&c, KB_OPENBLAS);
        CHECK_OK(pool2d_backward(&c, &p, dx, g, x), c.err);
        kctx_destroy(&c);
        double worst = 0, h = alg == KP_AVG ? 0.5 : 1.0 / 256; /* avg: linear, big step */
        for (size_t i = 0; i < nx; i++) {
            float keep = x[i];
            x[i] = keep + (float)h;
            pool2d_forward_ref(&p, y, x);
            double lp = dotd(g, y, ny);
            x[i] = keep - (float)h;
            pool2d_forward_ref(&p, y, x);
            double lm = dotd(g, y, ny);
            x[i] = keep;
            double err = fabs((lp - lm) / (2 * h) - dx[i]);
            if (err > worst) worst = err;
        }
        if (!(worst < 1e-4)) FAILF("pool alg %d: worst finite-difference error %g", alg, worst);
        free(x), free(g), free(y), free(dx);
    }
    /* GAP and ReLU backward */
    float dy[2] = {1.0f, -2.0f}, gx[2 * 6] = {0};
    gap_backward(gx, dy, 1, 2, 2, 3);
    CHECK(fabsf(gx[0] - 1.0f / 6) < 1e-7f && fabsf(gx[11] + 2.0f / 6) < 1e-7f);
    float yv[3] = {0.0f, 1.0f, 2.0f}, d[3] = {1, 1, 1}, o[3] = {5, 5, 5};
    relu_backward(o, d, yv, 3);
    CHECK(o[0] == 5 && o[1] == 6 && o[2] == 6);
}

TEST(cnn_backward_torch_golden) {
    const char *path = test_golden_path("cnn_backward/case.safetensors");
    if (!path) {
        FAILF("golden cnn_backward/case.safetensors missing: run make gen");
        return;
    }
    st_file *f;
    ipf_err e;
    REQUIRE(st_open(path, &f, &e) == IPF_OK);
    const char *names[] = {"x", "w", "b", "g2", "g3", "y1", "y2", "y3", "dx", "dw", "db"};
    const float *t[11];
    for (int i = 0; i < 11; i++) REQUIRE(st_get_f32(f, names[i], 0, NULL, &t[i], &e) == IPF_OK);
    kconv p = {2, 8, 11, 9, 16, 3, 3, 2, 2, 1, 1, 1, KL_NCHW, KL_NCHW, 0, 0, 1, NULL};
    int OH = conv2d_out_dim(11, 3, 2, 1), OW = conv2d_out_dim(9, 3, 2, 1); /* 6x5 */
    kpool mp = {2, 16, OH, OW, 3, 3, 2, 2, 0, 0, KP_MAX, KL_NCHW, 0, 0};
    kpool ap = {2, 16, OH, OW, 3, 3, 1, 1, 1, 1, KP_AVG, KL_NCHW, 0, 0};
    int MH = conv2d_out_dim(OH, 3, 2, 0), MW = conv2d_out_dim(OW, 3, 2, 0);
    size_t n1 = (size_t)2 * 16 * OH * OW, n2 = (size_t)2 * 16 * MH * MW, nx = 2 * 8 * 11 * 9, nw = 16 * 8 * 9;
    for (int bi = 0; bi < 3; bi++) {
        ipf_kctx c;
        tu_ctx_for(&c, BACKENDS[bi]);
        float *y1 = malloc(n1 * 4), *y2 = malloc(n2 * 4), *y3 = malloc(n1 * 4), *dy1 = calloc(n1, 4);
        float *dx = calloc(nx, 4), *dw = calloc(nw, 4), db[16] = {0};
        CHECK_OK(conv2d_forward(&c, &p, y1, t[0], t[1], t[2]), c.err);
        CHECK_OK(pool2d_forward(&c, &mp, y2, y1), c.err);
        CHECK_OK(pool2d_forward(&c, &ap, y3, y1), c.err);
        CHECK_OK(pool2d_backward(&c, &mp, dy1, t[3], y1), c.err);
        CHECK_OK(pool2d_backward(&c, &ap, dy1, t[4], y1), c.err);
        CHECK_OK(conv2d_backward(&c, &p, dx, dw, db, dy1, y1, t[0], t[1]), c.err);
        /* float32 vs float64 over sums of <= 72 products of O(1) values */
        int ok = CHECK_CLOSE(y1, t[5], n1, 1e-5, 1e-5) & CHECK_CLOSE(y2, t[6], n2, 1e-5, 1e-5) &
                 CHECK_CLOSE(y3, t[7], n1, 1e-5, 1e-5) & CHECK_CLOSE(dx, t[8], nx, 1e-5, 1e-4) &
                 CHECK_CLOSE(dw, t[9], nw, 1e-4, 1e-4) & CHECK_CLOSE(db, t[10], 16, 1e-4, 1e-4);
        if (!ok) fprintf(stderr, "    (backend %s)\n", BNAME[BACKENDS[bi]]);
        free(y1), free(y2), free(y3), free(dy1), free(dx), free(dw);
        kctx_destroy(&c);
    }
    st_close(f);
}
