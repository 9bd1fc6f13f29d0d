/* test_cnn_kernels.c — image ops (conv2d, pools, GAP, concat, ReLU, layout
 * conversion) on every backend against the plain-C reference, on small
 * random shapes, in both activation layouts where the backend takes them. */
#include "kernels.h"
#include "test.h"
#include "test_util.h"

static const int BACKENDS[] = {KB_ONEDNN, KB_OPENBLAS, KB_REF};
static const char *BNAME[] = {"auto", "onednn", "openblas", "ref"};

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static float *rand_buf(size_t n) { return tu_rand_buf(&rng_state, n); } /* uniform in [-1, 1) */

/* Run op in `layout` for a backend taking NCHW in/out: convert around it. */
static float *to_layout(const float *x, int layout, int N, int C, int H, int W) {
    size_t n = (size_t)N * C * H * W;
    float *y = malloc(n * sizeof(float));
    layout_convert_ref(y, layout, x, KL_NCHW, N, C, H, W);
    return y;
}

typedef struct conv_case {
    int N, C, H, W, M, KH, KW, SH, SW, PH, PW, relu, bias, ctot, c0;
} conv_case;

static const conv_case CONV_CASES[] = {
    {1, 3, 13, 11, 8, 3, 3, 2, 2, 0, 0, 1, 1, 0, 0},    /* stem-like: 3 channels, stride 2 */
    {2, 8, 9, 10, 16, 1, 1, 1, 1, 0, 0, 1, 1, 0, 0},    /* pointwise */
    {2, 16, 8, 7, 8, 1, 7, 1, 1, 0, 3, 0, 1, 0, 0},     /* 1x7, no relu */
    {1, 8, 7, 8, 16, 7, 1, 1, 1, 3, 0, 1, 0, 0, 0},     /* 7x1, no bias */
    {2, 8, 10, 9, 8, 5, 5, 1, 1, 2, 2, 1, 1, 24, 8},    /* into a concat slice, batch 2 */
    {1, 16, 11, 12, 16, 3, 3, 2, 2, 0, 0, 1, 1, 32, 16}, /* slice, batch 1, odd size stride 2 */
    {3, 8, 6, 6, 8, 3, 3, 1, 1, 1, 1, 1, 1, 0, 0},
    {2, 16, 7, 6, 32, 3, 1, 1, 1, 1, 0, 1, 1, 64, 16}, /* 16-channel blocks, slice, batch 2 */
    {1, 32, 5, 5, 16, 1, 3, 1, 1, 0, 1, 1, 1, 48, 32}, /* 16-channel blocks, slice, batch 1 */
};

TEST(cnn_conv2d_backends) {
    for (size_t ci = 0; ci < sizeof CONV_CASES / sizeof CONV_CASES[0]; ci++) {
        const conv_case *k = &CONV_CASES[ci];
        kconv p = {k->N, k->C, k->H, k->W, k->M, k->KH, k->KW, k->SH, k->SW, k->PH, k->PW, k->relu,
                   KL_NCHW, KL_NCHW, k->ctot, k->c0, 0, NULL};
        int OH = conv2d_out_dim(k->H, k->KH, k->SH, k->PH), OW = conv2d_out_dim(k->W, k->KW, k->SW, k->PW);
        int ctot = k->ctot ? k->ctot : k->M;
        size_t ny = (size_t)k->N * ctot * OH * OW;
        float *x = rand_buf((size_t)k->N * k->C * k->H * k->W), *w = rand_buf((size_t)k->M * k->C * k->KH * k->KW);
        float *b = k->bias ? rand_buf((size_t)k->M) : NULL;
        float *yref = calloc(ny, sizeof(float)), *y = malloc(ny * sizeof(float)), *yp = malloc(ny * sizeof(float));
        conv2d_forward_ref(&p, yref, x, w, b);
        for (int bi = 0; bi < 3; bi++)
            for (int layout = KL_NCHW; layout <= KL_BLK16; layout++) {
                int be = BACKENDS[bi], blk = kl_block(layout);
                if (layout != KL_NCHW && (be != KB_ONEDNN || k->M % blk || ctot % blk || k->c0 % blk)) continue;
                ipf_kctx c;
                tu_ctx_for(&c, be);
                kconv q = p;
                q.y_layout = layout;
                q.x_layout = k->C % blk == 0 ? layout : KL_NCHW;
                float *xl = to_layout(x, q.x_layout, k->N, k->C, k->H, k->W);
                for (size_t i = 0; i < ny; i++) y[i] = 0;
                /* run twice: the second call reuses the cached plan and weights */
                for (int rep = 0; rep < 2; rep++) {
                    int rc = conv2d_forward(&c, &q, y, xl, w, b);
                    if (rc) FAILF("case %zu %s: %s", ci, BNAME[be], c.err);
                }
                layout_convert_ref(yp, KL_NCHW, y, layout, k->N, ctot, OH, OW);
                /* float accumulation over at most C*KH*KW = 200 products of
                 * values in [-1,1] against a double-accumulated reference */
                if (!CHECK_CLOSE(yp, yref, ny, 1e-4, 1e-4))
                    fprintf(stderr, "    (case %zu, backend %s, layout %d)\n", ci, BNAME[be], layout);
                free(xl);
                kctx_destroy(&c);
            }
        free(x), free(w), free(b), free(yref), free(y), free(yp);
    }
}

TEST(cnn_conv2d_volatile_weights) {
    /* Changing weights at the same address must be seen when w_volatile. */
    kconv p = {1, 8, 6, 6, 8, 3, 3, 1, 1, 1, 1, 0, KL_NCHW, KL_BLK8, 0, 0, 1, NULL};
    float *x = rand_buf(8 * 36), *w = rand_buf(8 * 8 * 9), y[8 * 36], yp[8 * 36], yref[8 * 36];
    ipf_kctx c;
    tu_ctx_for(&c, KB_ONEDNN);
    CHECK_OK(conv2d_forward(&c, &p, y, x, w, NULL), c.err);
    for (int i = 0; i < 8 * 8 * 9; i++) w[i] *= -0.5f;
    CHECK_OK(conv2d_forward(&c, &p, y, x, w, NULL), c.err);
    layout_convert_ref(yp, KL_NCHW, y, KL_BLK8, 1, 8, 6, 6);
    kconv pr = p;
    pr.y_layout = KL_NCHW;
    conv2d_forward_ref(&pr, yref, x, w, NULL);
    CHECK_CLOSE(yp, yref, 8 * 36, 1e-4, 1e-4); /* as in cnn_conv2d_backends */
    kctx_destroy(&c);
    free(x), free(w);
}

TEST(cnn_conv2d_bad_shape) {
    ipf_kctx c;
    tu_ctx_for(&c, KB_REF);
    kconv p = {1, 3, 2, 2, 8, 3, 3, 1, 1, 0, 0, 0, KL_NCHW, KL_NCHW, 0, 0, 0, NULL};
    float buf[64] = {0};
    CHECK(conv2d_forward(&c, &p, buf, buf, buf, NULL) != 0);
    CHECK(strstr(c.err, "invalid shape") != NULL);
    p.H = p.W = 8;
    p.y_layout = KL_BLK8;
    p.M = 4;
    CHECK(conv2d_forward(&c, &p, buf, buf, buf, NULL) != 0);
    kctx_destroy(&c);
}

typedef struct pool_case {
    int N, C, H, W, K, S, P, alg, ctot, c0;
} pool_case;

static const pool_case POOL_CASES[] = {
    {1, 8, 11, 11, 3, 2, 0, KP_MAX, 0, 0},  {2, 16, 10, 9, 3, 2, 0, KP_MAX, 24, 8},
    {2, 8, 7, 6, 3, 1, 1, KP_AVG, 0, 0},    {1, 16, 5, 5, 3, 1, 1, KP_AVG, 0, 0},
    {3, 8, 9, 8, 3, 2, 0, KP_AVG, 0, 0},    {1, 8, 9, 9, 3, 2, 0, KP_MAX, 32, 16},
    {2, 16, 9, 9, 3, 2, 0, KP_MAX, 48, 32}, {1, 32, 6, 7, 3, 1, 1, KP_AVG, 0, 0},
};

TEST(cnn_pool2d_backends) {
    for (size_t ci = 0; ci < sizeof POOL_CASES / sizeof POOL_CASES[0]; ci++) {
        const pool_case *k = &POOL_CASES[ci];
        kpool p = {k->N, k->C, k->H, k->W, k->K, k->K, k->S, k->S, k->P, k->P, k->alg, KL_NCHW, k->ctot, k->c0};
        int OH = conv2d_out_dim(k->H, k->K, k->S, k->P), OW = conv2d_out_dim(k->W, k->K, k->S, k->P);
        int ctot = k->ctot ? k->ctot : k->C;
        size_t ny = (size_t)k->N * ctot * OH * OW;
        float *x = rand_buf((size_t)k->N * k->C * k->H * k->W);
        float *yref = calloc(ny, sizeof(float)), *y = calloc(ny, sizeof(float)), *yp = malloc(ny * sizeof(float));
        pool2d_forward_ref(&p, yref, x);
        for (int bi = 0; bi < 3; bi++)
            for (int layout = KL_NCHW; layout <= KL_BLK16; layout++) {
                int be = BACKENDS[bi], blk = kl_block(layout);
                if (layout != KL_NCHW && (be != KB_ONEDNN || k->C % blk || ctot % blk || k->c0 % blk)) continue;
                ipf_kctx c;
                tu_ctx_for(&c, be);
                kpool q = p;
                q.layout = layout;
                float *xl = to_layout(x, layout, k->N, k->C, k->H, k->W);
                memset(y, 0, ny * sizeof(float));
                if (pool2d_forward(&c, &q, y, xl)) FAILF("case %zu %s: %s", ci, BNAME[be], c.err);
                layout_convert_ref(yp, KL_NCHW, y, layout, k->N, ctot, OH, OW);
                /* max is exact; an average of 9 floats differs from the
                 * double reference by a few ulps */
                if (!CHECK_CLOSE(yp, yref, ny, 1e-6, 1e-5))
                    fprintf(stderr, "    (case %zu, backend %s, layout %d)\n", ci, BNAME[be], layout);
                free(xl);
                kctx_destroy(&c);
            }
        free(x), free(yref), free(y), free(yp);
    }
}

TEST(cnn_gap_concat_relu_layout) {
    int N = 2, C = 16, H = 5, W = 7;
    size_t n = (size_t)N * C * H * W;
    float *x = rand_buf(n), *xb = malloc(n * sizeof(float)), *back = malloc(n * sizeof(float));
    float yref[32], y[32];
    gap_forward_ref(yref, x, N, C, H, W, KL_NCHW);
    for (int bi = 0; bi < 3; bi++) {
        ipf_kctx c;
        tu_ctx_for(&c, BACKENDS[bi]);
        for (int layout = KL_NCHW; layout <= KL_BLK16; layout++) {
            int other = layout == KL_BLK16 ? KL_BLK8 : KL_NCHW;
            CHECK_OK(layout_convert(&c, xb, layout, x, KL_NCHW, N, C, H, W), c.err);
            CHECK_OK(gap_forward(&c, y, xb, N, C, H, W, layout), c.err);
            CHECK_CLOSE(y, yref, 32, 1e-6, 1e-5); /* mean of 35 floats vs double */
            /* layout -> other -> NCHW: permutations, exact */
            float *mid = malloc(n * sizeof(float));
            CHECK_OK(layout_convert(&c, mid, other, xb, layout, N, C, H, W), c.err);
            CHECK_OK(layout_convert(&c, back, KL_NCHW, mid, other, N, C, H, W), c.err);
            CHECK_CLOSE(back, x, n, 0, 0);
            free(mid);
        }
        float *r = malloc(n * sizeof(float)), *rref = malloc(n * sizeof(float));
        relu_forward_ref(rref, x, n);
        CHECK_OK(relu_forward(&c, r, x, n), c.err);
        CHECK_CLOSE(r, rref, n, 0, 0);
        free(r), free(rref);
        kctx_destroy(&c);
    }
    /* concat: two parts into a 24-channel tensor equals the reference cat */
    float *a = rand_buf((size_t)N * 8 * H * W), *cat = malloc((size_t)N * 24 * H * W * sizeof(float));
    concat_channels_forward(cat, 24, 0, x, N, 16, H, W);
    concat_channels_forward(cat, 24, 16, a, N, 8, H, W);
    int ok = 1;
    for (int i = 0; i < N; i++)
        for (int ch = 0; ch < 24; ch++)
            for (int j = 0; j < H * W; j++) {
                float want = ch < 16 ? x[((size_t)i * 16 + ch) * H * W + j] : a[((size_t)i * 8 + ch - 16) * H * W + j];
                if (cat[((size_t)i * 24 + ch) * H * W + j] != want) ok = 0;
            }
    CHECK(ok);
    free(a), free(cat), free(x), free(xb), free(back);
}
