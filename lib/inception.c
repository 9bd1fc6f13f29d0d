/* inception.c — Inception-v3 trunk (torchvision models.inception_v3,
 * Conv2d_1a_3x3 ... Mixed_7c, then adaptive_avg_pool2d to 1x1).
 *
 * Every BasicConv2d (conv without bias, BatchNorm eps 1e-3, ReLU) is folded
 * at load into one conv with bias and fused ReLU:
 *   s = gamma / sqrt(var + eps);  w' = w * s;  b' = beta - mean * s,
 * computed in double.  torchvision's transform_input (an affine map per input
 * channel) is folded into Conv2d_1a_3x3, which has no padding, so the fold is
 * exact:  conv(a*x + d) = conv_{w*a}(x) + sum_{c,kh,kw} w*d.
 *
 * Execution: on the oneDNN backend all activations after the first conv stay
 * in oneDNN's blocked layout, nChw16c with AVX-512 and nChw8c otherwise
 * (every channel count and branch offset here is a multiple of 16); otherwise plain NCHW with the OpenBLAS / reference kernels.  Branch
 * outputs are written straight into their slice of the block's
 * concatenation.  Four activation buffers (block input X, block output Y,
 * branch temporaries T1, T2) live in the session and grow to the largest
 * activation of the shapes seen.
 * Letters: N batch, C channels, H/W spatial size. */
#include "inception.h"
#include "safetensors.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BN_EPS 1e-3

/* One folded BasicConv2d. */
typedef struct cbr {
    int C, M, KH, KW, S, PH, PW;
    float *w; /* (M,C,KH,KW) */
    float *b; /* (M) */
    kconv_pack *pack; /* w in oneDNN's layout, shared by all sessions (NULL: none) */
} cbr;

typedef struct blk_a { cbr b1, b5_1, b5_2, bd_1, bd_2, bd_3, bp; } blk_a;      /* InceptionA */
typedef struct blk_b { cbr b3, bd_1, bd_2, bd_3; } blk_b;                      /* InceptionB */
typedef struct blk_c { cbr b1, b7_1, b7_2, b7_3, bd_1, bd_2, bd_3, bd_4, bd_5, bp; } blk_c; /* InceptionC */
typedef struct blk_d { cbr b3_1, b3_2, b7_1, b7_2, b7_3, b7_4; } blk_d;        /* InceptionD */
typedef struct blk_e { cbr b1, b3_1, b3_2a, b3_2b, bd_1, bd_2, bd_3a, bd_3b, bp; } blk_e; /* InceptionE */

struct inception {
    cbr c1a, c2a, c2b, c3b, c4a;
    blk_a m5b, m5c, m5d;
    blk_b m6a;
    blk_c m6b, m6c, m6d, m6e;
    blk_d m7a;
    blk_e m7b, m7c;
    int transform_input;
};

static void cbr_free(cbr *c) {
    free(c->w);
    free(c->b);
    conv2d_pack_free(c->pack);
    c->w = c->b = NULL;
    c->pack = NULL;
}

/* All cbr members of the struct in order (it is nothing but cbr's and an int). */
static cbr *all_cbr(inception *inc, size_t *n) {
    *n = offsetof(inception, transform_input) / sizeof(cbr);
    return (cbr *)inc;
}

void inception_free(void *v) {
    inception *inc = v;
    if (!inc) return;
    size_t n;
    cbr *c = all_cbr(inc, &n);
    for (size_t i = 0; i < n; i++) cbr_free(&c[i]);
    free(inc);
}

/* ---- loading ------------------------------------------------------------- */

typedef struct loader {
    st_file *f;
    char prefix[128]; /* "" or e.g. "module." when the checkpoint has one */
    ipf_err *e;
} loader;

static ipf_status get(loader *L, const char *module, const char *field, int ndim, const int64_t *shape,
                      const float **out) {
    char name[512];
    snprintf(name, sizeof name, "%s%s.%s", L->prefix, module, field);
    return st_get_f32(L->f, name, ndim, shape, out, L->e);
}

/* Load module `name` (a BasicConv2d) with the given geometry and fold its BN. */
static ipf_status load_cbr(loader *L, cbr *c, const char *name, int C, int M, int KH, int KW, int S, int PH,
                           int PW) {
    *c = (cbr){C, M, KH, KW, S, PH, PW, NULL, NULL, NULL};
    char mod[160];
    const float *w, *g, *beta, *mean, *var;
    int64_t ws[4] = {M, C, KH, KW}, vs[1] = {M};
    ipf_status st;
    snprintf(mod, sizeof mod, "%s.conv", name);
    if ((st = get(L, mod, "weight", 4, ws, &w))) return st;
    snprintf(mod, sizeof mod, "%s.bn", name);
    if ((st = get(L, mod, "weight", 1, vs, &g)) || (st = get(L, mod, "bias", 1, vs, &beta)) ||
        (st = get(L, mod, "running_mean", 1, vs, &mean)) || (st = get(L, mod, "running_var", 1, vs, &var)))
        return st;
    size_t k = (size_t)C * KH * KW;
    c->w = ipf_malloc_array((size_t)M * k, sizeof(float));
    c->b = ipf_malloc_array((size_t)M, sizeof(float));
    if (!c->w || !c->b) return ipf_fail(L->e, IPF_ERR_OUT_OF_MEMORY, "%s: out of memory loading %s", st_path(L->f), name);
    for (int m = 0; m < M; m++) {
        if (!(var[m] >= 0) || !isfinite(var[m]) || !isfinite(g[m]) || !isfinite(beta[m]) || !isfinite(mean[m]))
            return ipf_fail(L->e, IPF_ERR_NUMERIC, "%s: tensor '%s%s.bn.running_var' (or its BN siblings) has a bad value at %d",
                            st_path(L->f), L->prefix, name, m);
        double s = g[m] / sqrt((double)var[m] + BN_EPS);
        for (size_t i = 0; i < k; i++) c->w[(size_t)m * k + i] = (float)(w[(size_t)m * k + i] * s);
        c->b[m] = (float)(beta[m] - mean[m] * s);
    }
    for (size_t i = 0; i < (size_t)M * k; i++)
        if (!isfinite(c->w[i]))
            return ipf_fail(L->e, IPF_ERR_NUMERIC, "%s: tensor '%s%s.conv.weight' has a non-finite value at %zu",
                            st_path(L->f), L->prefix, name, i);
    return IPF_OK;
}

/* Fold transform_input into the (already BN-folded) first conv, from the
 * original weights w (M,3,KH,KW) and BN scale implied by c->w / w. */
static void fold_transform_input(cbr *c) {
    static const double a[3] = {0.229 / 0.5, 0.224 / 0.5, 0.225 / 0.5};
    static const double d[3] = {(0.485 - 0.5) / 0.5, (0.456 - 0.5) / 0.5, (0.406 - 0.5) / 0.5};
    size_t kk = (size_t)c->KH * c->KW;
    for (int m = 0; m < c->M; m++) {
        double bias = c->b[m];
        for (int ch = 0; ch < 3; ch++) {
            float *wm = c->w + ((size_t)m * 3 + ch) * kk;
            for (size_t i = 0; i < kk; i++) {
                bias += d[ch] * wm[i];
                wm[i] = (float)(wm[i] * a[ch]);
            }
        }
        c->b[m] = (float)bias;
    }
}

static ipf_status load_a(loader *L, blk_a *b, const char *n, int C, int pf) {
    char s[7][96];
    const char *sub[7] = {"branch1x1", "branch5x5_1", "branch5x5_2", "branch3x3dbl_1", "branch3x3dbl_2",
                          "branch3x3dbl_3", "branch_pool"};
    for (int i = 0; i < 7; i++) snprintf(s[i], sizeof s[i], "%s.%s", n, sub[i]);
    ipf_status st;
    if ((st = load_cbr(L, &b->b1, s[0], C, 64, 1, 1, 1, 0, 0)) || (st = load_cbr(L, &b->b5_1, s[1], C, 48, 1, 1, 1, 0, 0)) ||
        (st = load_cbr(L, &b->b5_2, s[2], 48, 64, 5, 5, 1, 2, 2)) ||
        (st = load_cbr(L, &b->bd_1, s[3], C, 64, 1, 1, 1, 0, 0)) ||
        (st = load_cbr(L, &b->bd_2, s[4], 64, 96, 3, 3, 1, 1, 1)) ||
        (st = load_cbr(L, &b->bd_3, s[5], 96, 96, 3, 3, 1, 1, 1)) || (st = load_cbr(L, &b->bp, s[6], C, pf, 1, 1, 1, 0, 0)))
        return st;
    return IPF_OK;
}

static ipf_status load_b(loader *L, blk_b *b, const char *n, int C) {
    char s[4][96];
    const char *sub[4] = {"branch3x3", "branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3"};
    for (int i = 0; i < 4; i++) snprintf(s[i], sizeof s[i], "%s.%s", n, sub[i]);
    ipf_status st;
    if ((st = load_cbr(L, &b->b3, s[0], C, 384, 3, 3, 2, 0, 0)) || (st = load_cbr(L, &b->bd_1, s[1], C, 64, 1, 1, 1, 0, 0)) ||
        (st = load_cbr(L, &b->bd_2, s[2], 64, 96, 3, 3, 1, 1, 1)) || (st = load_cbr(L, &b->bd_3, s[3], 96, 96, 3, 3, 2, 0, 0)))
        return st;
    return IPF_OK;
}

static ipf_status load_c(loader *L, blk_c *b, const char *n, int C, int c7) {
    char s[10][96];
    const char *sub[10] = {"branch1x1",      "branch7x7_1",    "branch7x7_2",    "branch7x7_3",    "branch7x7dbl_1",
                           "branch7x7dbl_2", "branch7x7dbl_3", "branch7x7dbl_4", "branch7x7dbl_5", "branch_pool"};
    for (int i = 0; i < 10; i++) snprintf(s[i], sizeof s[i], "%s.%s", n, sub[i]);
    ipf_status st;
    if ((st = load_cbr(L, &b->b1, s[0], C, 192, 1, 1, 1, 0, 0)) || (st = load_cbr(L, &b->b7_1, s[1], C, c7, 1, 1, 1, 0, 0)) ||
        (st = load_cbr(L, &b->b7_2, s[2], c7, c7, 1, 7, 1, 0, 3)) ||
        (st = load_cbr(L, &b->b7_3, s[3], c7, 192, 7, 1, 1, 3, 0)) ||
        (st = load_cbr(L, &b->bd_1, s[4], C, c7, 1, 1, 1, 0, 0)) ||
        (st = load_cbr(L, &b->bd_2, s[5], c7, c7, 7, 1, 1, 3, 0)) ||
        (st = load_cbr(L, &b->bd_3, s[6], c7, c7, 1, 7, 1, 0, 3)) ||
        (st = load_cbr(L, &b->bd_4, s[7], c7, c7, 7, 1, 1, 3, 0)) ||
        (st = load_cbr(L, &b->bd_5, s[8], c7, 192, 1, 7, 1, 0, 3)) || (st = load_cbr(L, &b->bp, s[9], C, 192, 1, 1, 1, 0, 0)))
        return st;
    return IPF_OK;
}

static ipf_status load_d(loader *L, blk_d *b, const char *n, int C) {
    char s[6][96];
    const char *sub[6] = {"branch3x3_1", "branch3x3_2", "branch7x7x3_1", "branch7x7x3_2", "branch7x7x3_3", "branch7x7x3_4"};
    for (int i = 0; i < 6; i++) snprintf(s[i], sizeof s[i], "%s.%s", n, sub[i]);
    ipf_status st;
    if ((st = load_cbr(L, &b->b3_1, s[0], C, 192, 1, 1, 1, 0, 0)) || (st = load_cbr(L, &b->b3_2, s[1], 192, 320, 3, 3, 2, 0, 0)) ||
        (st = load_cbr(L, &b->b7_1, s[2], C, 192, 1, 1, 1, 0, 0)) ||
        (st = load_cbr(L, &b->b7_2, s[3], 192, 192, 1, 7, 1, 0, 3)) ||
        (st = load_cbr(L, &b->b7_3, s[4], 192, 192, 7, 1, 1, 3, 0)) ||
        (st = load_cbr(L, &b->b7_4, s[5], 192, 192, 3, 3, 2, 0, 0)))
        return st;
    return IPF_OK;
}

static ipf_status load_e(loader *L, blk_e *b, const char *n, int C) {
    char s[9][96];
    const char *sub[9] = {"branch1x1",      "branch3x3_1",    "branch3x3_2a",    "branch3x3_2b",   "branch3x3dbl_1",
                          "branch3x3dbl_2", "branch3x3dbl_3a", "branch3x3dbl_3b", "branch_pool"};
    for (int i = 0; i < 9; i++) snprintf(s[i], sizeof s[i], "%s.%s", n, sub[i]);
    ipf_status st;
    if ((st = load_cbr(L, &b->b1, s[0], C, 320, 1, 1, 1, 0, 0)) || (st = load_cbr(L, &b->b3_1, s[1], C, 384, 1, 1, 1, 0, 0)) ||
        (st = load_cbr(L, &b->b3_2a, s[2], 384, 384, 1, 3, 1, 0, 1)) ||
        (st = load_cbr(L, &b->b3_2b, s[3], 384, 384, 3, 1, 1, 1, 0)) ||
        (st = load_cbr(L, &b->bd_1, s[4], C, 448, 1, 1, 1, 0, 0)) ||
        (st = load_cbr(L, &b->bd_2, s[5], 448, 384, 3, 3, 1, 1, 1)) ||
        (st = load_cbr(L, &b->bd_3a, s[6], 384, 384, 1, 3, 1, 0, 1)) ||
        (st = load_cbr(L, &b->bd_3b, s[7], 384, 384, 3, 1, 1, 1, 0)) || (st = load_cbr(L, &b->bp, s[8], C, 192, 1, 1, 1, 0, 0)))
        return st;
    return IPF_OK;
}

/* Find the prefix in front of "Conv2d_1a_3x3.conv.weight" (e.g. "module."). */
static void find_prefix(loader *L) {
    static const char key[] = "Conv2d_1a_3x3.conv.weight";
    L->prefix[0] = 0;
    if (st_find(L->f, key)) return;
    size_t kl = strlen(key);
    for (size_t i = 0; i < st_count(L->f); i++) {
        const char *nm = st_at(L->f, i)->name;
        size_t nl = strlen(nm);
        if (nl > kl && nl - kl < sizeof L->prefix && !strcmp(nm + nl - kl, key)) {
            memcpy(L->prefix, nm, nl - kl);
            L->prefix[nl - kl] = 0;
            return;
        }
    }
}

ipf_status inception_load(const char *path, int transform_input, inception **out, ipf_err *e) {
    *out = NULL;
    st_file *f;
    ipf_status st = st_open(path, &f, e);
    if (st) return st;
    inception *inc = calloc(1, sizeof *inc);
    if (!inc) {
        st_close(f);
        return ipf_fail(e, IPF_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    }
    loader L = {f, "", e};
    find_prefix(&L);
    if ((st = load_cbr(&L, &inc->c1a, "Conv2d_1a_3x3", 3, 32, 3, 3, 2, 0, 0)) ||
        (st = load_cbr(&L, &inc->c2a, "Conv2d_2a_3x3", 32, 32, 3, 3, 1, 0, 0)) ||
        (st = load_cbr(&L, &inc->c2b, "Conv2d_2b_3x3", 32, 64, 3, 3, 1, 1, 1)) ||
        (st = load_cbr(&L, &inc->c3b, "Conv2d_3b_1x1", 64, 80, 1, 1, 1, 0, 0)) ||
        (st = load_cbr(&L, &inc->c4a, "Conv2d_4a_3x3", 80, 192, 3, 3, 1, 0, 0)) ||
        (st = load_a(&L, &inc->m5b, "Mixed_5b", 192, 32)) || (st = load_a(&L, &inc->m5c, "Mixed_5c", 256, 64)) ||
        (st = load_a(&L, &inc->m5d, "Mixed_5d", 288, 64)) || (st = load_b(&L, &inc->m6a, "Mixed_6a", 288)) ||
        (st = load_c(&L, &inc->m6b, "Mixed_6b", 768, 128)) || (st = load_c(&L, &inc->m6c, "Mixed_6c", 768, 160)) ||
        (st = load_c(&L, &inc->m6d, "Mixed_6d", 768, 160)) || (st = load_c(&L, &inc->m6e, "Mixed_6e", 768, 192)) ||
        (st = load_d(&L, &inc->m7a, "Mixed_7a", 768)) || (st = load_e(&L, &inc->m7b, "Mixed_7b", 1280)) ||
        (st = load_e(&L, &inc->m7c, "Mixed_7c", 2048))) {
        st_close(f);
        inception_free(inc);
        return st;
    }
    st_close(f);
    inc->transform_input = transform_input != 0;
    if (inc->transform_input) fold_transform_input(&inc->c1a);
    inception_prepack(inc);
    *out = inc;
    return IPF_OK;
}


/* ---- execution ------------------------------------------------------------- */

/* Session workspace: four activation buffers of `cap` floats each. */
typedef struct inc_ws {
    float *buf[4];
    size_t cap;
} inc_ws;

static void ws_free(void *v) {
    inc_ws *w = v;
    if (!w) return;
    for (int i = 0; i < 4; i++) free(w->buf[i]);
    free(w);
}

typedef struct exec {
    ipf_kctx *k;
    ipf_err *e;
    int N, layout;
    int dry;       /* only compute shapes, tracking the largest tensor */
    size_t need;   /* dry: floats of the largest activation */
    int pack;      /* dry run at load: pack each conv's weights for oneDNN */
} exec;

/* Activation (channels C, spatial H x W); data in `p`. */
typedef struct act {
    float *p;
    int C, H, W;
} act;

static ipf_status kfail(exec *x, const char *what) {
    return ipf_fail(x->e, IPF_ERR_BACKEND, "inception %s: %s", what, x->k->err);
}

/* y slice [c0, c0+M) of a ctot-channel tensor = cbr(x).  Returns the output
 * spatial size via *o. */
static ipf_status run_cbr(exec *x, const cbr *c, act in, float *y, int ctot, int c0, act *o, const char *what) {
    int OH = conv2d_out_dim(in.H, c->KH, c->S, c->PH), OW = conv2d_out_dim(in.W, c->KW, c->S, c->PW);
    *o = (act){y, ctot, OH, OW};
    if (in.H + 2 * c->PH < c->KH || in.W + 2 * c->PW < c->KW || OH < 1 || OW < 1)
        return ipf_fail(x->e, IPF_ERR_SHAPE, "inception %s: input %dx%d is too small", what, in.H, in.W);
    /* The network input (3 channels) is plain NCHW whatever the layout. */
    kconv p = {x->N, c->C, in.H, in.W, c->M, c->KH, c->KW, c->S, c->S, c->PH, c->PW, 1,
               in.C == 3 ? KL_NCHW : x->layout, x->layout, ctot, c0, 0, c->pack};
    if (x->dry) {
        size_t n = (size_t)x->N * ctot * OH * OW;
        if (n > x->need) x->need = n;
        if (x->pack && !c->pack) {
            p.y_ctot = p.y_c0 = 0;
            if (conv2d_pack(x->k, &p, c->w, &((cbr *)c)->pack)) return kfail(x, what);
        }
        return IPF_OK;
    }
    if (conv2d_forward(x->k, &p, y, in.p, c->w, c->b)) return kfail(x, what);
    return IPF_OK;
}

static ipf_status run_pool(exec *x, int alg, int K, int S, int P, act in, float *y, int ctot, int c0, act *o,
                           const char *what) {
    int OH = conv2d_out_dim(in.H, K, S, P), OW = conv2d_out_dim(in.W, K, S, P);
    *o = (act){y, ctot, OH, OW};
    if (in.H + 2 * P < K || in.W + 2 * P < K)
        return ipf_fail(x->e, IPF_ERR_SHAPE, "inception %s: input %dx%d is too small", what, in.H, in.W);
    if (x->dry) {
        size_t n = (size_t)x->N * ctot * OH * OW;
        if (n > x->need) x->need = n;
        return IPF_OK;
    }
    kpool p = {x->N, in.C, in.H, in.W, K, K, S, S, P, P, alg, x->layout, ctot, c0};
    if (pool2d_forward(x->k, &p, y, in.p)) return kfail(x, what);
    return IPF_OK;
}

#define TRY(expr)                                                                                                      \
    do {                                                                                                               \
        ipf_status st_ = (expr);                                                                                       \
        if (st_) return st_;                                                                                           \
    } while (0)

/* Each block: X -> Y (its concatenation), temporaries T1, T2. */
static ipf_status fwd_a(exec *x, const blk_a *b, act X, float *Y, float *T1, float *T2, act *out, const char *nm) {
    int ct = 64 + 64 + 96 + b->bp.M;
    act o, t, u;
    TRY(run_cbr(x, &b->b1, X, Y, ct, 0, &o, nm));
    TRY(run_cbr(x, &b->b5_1, X, T1, 48, 0, &t, nm));
    TRY(run_cbr(x, &b->b5_2, t, Y, ct, 64, &o, nm));
    TRY(run_cbr(x, &b->bd_1, X, T1, 64, 0, &t, nm));
    TRY(run_cbr(x, &b->bd_2, t, T2, 96, 0, &u, nm));
    TRY(run_cbr(x, &b->bd_3, u, Y, ct, 128, &o, nm));
    TRY(run_pool(x, KP_AVG, 3, 1, 1, X, T1, X.C, 0, &t, nm));
    TRY(run_cbr(x, &b->bp, t, Y, ct, 224, &o, nm));
    *out = o;
    return IPF_OK;
}

static ipf_status fwd_b(exec *x, const blk_b *b, act X, float *Y, float *T1, float *T2, act *out, const char *nm) {
    int ct = 384 + 96 + X.C;
    act o, t, u;
    TRY(run_cbr(x, &b->b3, X, Y, ct, 0, &o, nm));
    TRY(run_cbr(x, &b->bd_1, X, T1, 64, 0, &t, nm));
    TRY(run_cbr(x, &b->bd_2, t, T2, 96, 0, &u, nm));
    TRY(run_cbr(x, &b->bd_3, u, Y, ct, 384, &o, nm));
    TRY(run_pool(x, KP_MAX, 3, 2, 0, X, Y, ct, 480, &o, nm));
    *out = o;
    return IPF_OK;
}

static ipf_status fwd_c(exec *x, const blk_c *b, act X, float *Y, float *T1, float *T2, act *out, const char *nm) {
    int ct = 768, c7 = b->b7_1.M;
    act o, t, u;
    TRY(run_cbr(x, &b->b1, X, Y, ct, 0, &o, nm));
    TRY(run_cbr(x, &b->b7_1, X, T1, c7, 0, &t, nm));
    TRY(run_cbr(x, &b->b7_2, t, T2, c7, 0, &u, nm));
    TRY(run_cbr(x, &b->b7_3, u, Y, ct, 192, &o, nm));
    TRY(run_cbr(x, &b->bd_1, X, T1, c7, 0, &t, nm));
    TRY(run_cbr(x, &b->bd_2, t, T2, c7, 0, &u, nm));
    TRY(run_cbr(x, &b->bd_3, u, T1, c7, 0, &t, nm));
    TRY(run_cbr(x, &b->bd_4, t, T2, c7, 0, &u, nm));
    TRY(run_cbr(x, &b->bd_5, u, Y, ct, 384, &o, nm));
    TRY(run_pool(x, KP_AVG, 3, 1, 1, X, T1, X.C, 0, &t, nm));
    TRY(run_cbr(x, &b->bp, t, Y, ct, 576, &o, nm));
    *out = o;
    return IPF_OK;
}

static ipf_status fwd_d(exec *x, const blk_d *b, act X, float *Y, float *T1, float *T2, act *out, const char *nm) {
    int ct = 320 + 192 + X.C;
    act o, t, u;
    TRY(run_cbr(x, &b->b3_1, X, T1, 192, 0, &t, nm));
    TRY(run_cbr(x, &b->b3_2, t, Y, ct, 0, &o, nm));
    TRY(run_cbr(x, &b->b7_1, X, T1, 192, 0, &t, nm));
    TRY(run_cbr(x, &b->b7_2, t, T2, 192, 0, &u, nm));
    TRY(run_cbr(x, &b->b7_3, u, T1, 192, 0, &t, nm));
    TRY(run_cbr(x, &b->b7_4, t, Y, ct, 320, &o, nm));
    TRY(run_pool(x, KP_MAX, 3, 2, 0, X, Y, ct, 512, &o, nm));
    *out = o;
    return IPF_OK;
}

static ipf_status fwd_e(exec *x, const blk_e *b, act X, float *Y, float *T1, float *T2, act *out, const char *nm) {
    int ct = 2048;
    act o, t, u;
    TRY(run_cbr(x, &b->b1, X, Y, ct, 0, &o, nm));
    TRY(run_cbr(x, &b->b3_1, X, T1, 384, 0, &t, nm));
    TRY(run_cbr(x, &b->b3_2a, t, Y, ct, 320, &o, nm));
    TRY(run_cbr(x, &b->b3_2b, t, Y, ct, 704, &o, nm));
    TRY(run_cbr(x, &b->bd_1, X, T1, 448, 0, &t, nm));
    TRY(run_cbr(x, &b->bd_2, t, T2, 384, 0, &u, nm));
    TRY(run_cbr(x, &b->bd_3a, u, Y, ct, 1088, &o, nm));
    TRY(run_cbr(x, &b->bd_3b, u, Y, ct, 1472, &o, nm));
    TRY(run_pool(x, KP_AVG, 3, 1, 1, X, T1, X.C, 0, &t, nm));
    TRY(run_cbr(x, &b->bp, t, Y, ct, 1856, &o, nm));
    *out = o;
    return IPF_OK;
}

enum { NBLOCKS = 11, INCEPTION_CHUNK = 8 };
static const char *const BLOCK_NAMES[NBLOCKS] = {"Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a",
                                                 "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e",
                                                 "Mixed_7a", "Mixed_7b", "Mixed_7c"};

static ipf_status fwd_block(exec *x, const inception *inc, int i, act X, float *Y, float *T1, float *T2, act *o) {
    const char *nm = BLOCK_NAMES[i];
    switch (i) {
    case 0: return fwd_a(x, &inc->m5b, X, Y, T1, T2, o, nm);
    case 1: return fwd_a(x, &inc->m5c, X, Y, T1, T2, o, nm);
    case 2: return fwd_a(x, &inc->m5d, X, Y, T1, T2, o, nm);
    case 3: return fwd_b(x, &inc->m6a, X, Y, T1, T2, o, nm);
    case 4: return fwd_c(x, &inc->m6b, X, Y, T1, T2, o, nm);
    case 5: return fwd_c(x, &inc->m6c, X, Y, T1, T2, o, nm);
    case 6: return fwd_c(x, &inc->m6d, X, Y, T1, T2, o, nm);
    case 7: return fwd_c(x, &inc->m6e, X, Y, T1, T2, o, nm);
    case 8: return fwd_d(x, &inc->m7a, X, Y, T1, T2, o, nm);
    case 9: return fwd_e(x, &inc->m7b, X, Y, T1, T2, o, nm);
    default: return fwd_e(x, &inc->m7c, X, Y, T1, T2, o, nm);
    }
}

/* Stem and blocks [0, nblocks) from input `in` (N,3,H,W); the result lands in
 * one of the four buffers and is described by *out. */
static ipf_status fwd_trunk(exec *x, const inception *inc, const float *in, int H, int W, int nblocks, float **b,
                            act *out) {
    act a = {(float *)in, 3, H, W}, o;
    TRY(run_cbr(x, &inc->c1a, a, b[0], 32, 0, &o, "Conv2d_1a_3x3"));
    TRY(run_cbr(x, &inc->c2a, o, b[1], 32, 0, &o, "Conv2d_2a_3x3"));
    TRY(run_cbr(x, &inc->c2b, o, b[0], 64, 0, &o, "Conv2d_2b_3x3"));
    TRY(run_pool(x, KP_MAX, 3, 2, 0, o, b[1], 64, 0, &o, "maxpool1"));
    TRY(run_cbr(x, &inc->c3b, o, b[0], 80, 0, &o, "Conv2d_3b_1x1"));
    TRY(run_cbr(x, &inc->c4a, o, b[1], 192, 0, &o, "Conv2d_4a_3x3"));
    TRY(run_pool(x, KP_MAX, 3, 2, 0, o, b[0], 192, 0, &o, "maxpool2"));
    int cur = 0; /* buffer holding the current activation */
    for (int i = 0; i < nblocks; i++) {
        float *bufs[3];
        for (int j = 0, n = 0; j < 4; j++)
            if (j != cur) bufs[n++] = b[j];
        TRY(fwd_block(x, inc, i, o, bufs[0], bufs[1], bufs[2], &o));
        cur = (int)(o.p == b[0] ? 0 : o.p == b[1] ? 1 : o.p == b[2] ? 2 : 3);
    }
    *out = o;
    return IPF_OK;
}

void inception_prepack(inception *inc) {
    /* One oneDNN-layout copy of every conv's weights, made now so that all
     * sessions share it read-only (each would otherwise reorder and keep its
     * own ~90 MB copy on first use).  Packed for a 299x299 image, batch 1,
     * the common case; a session whose primitives want another layout falls
     * back to its own cached reorder.  Best effort: a failure only logs. */
    ipf_kctx k;
    kctx_init(&k);
    k.backend = KB_ONEDNN;
    ipf_err e;
    exec x = {&k, &e, 1, kl_preferred_blocked(), 1, 0, 1};
    float *none[4] = {NULL, NULL, NULL, NULL};
    act o;
    if (fwd_trunk(&x, inc, NULL, 299, 299, NBLOCKS, none, &o))
        ipf_log(IPF_LOG_WARN, "inception: packing weights for oneDNN failed (%s); sessions will reorder their own",
                e.msg);
    kctx_destroy(&k);
}

/* Size the session workspace for (N,H,W) and set up the executor. */
static ipf_status exec_begin(exec *x, const inception *inc, ipf_session *s, int N, int H, int W, int layout,
                             inc_ws **wsp) {
    *x = (exec){&s->kctx, &s->err, N, KL_NCHW, 1, 0, 0};
    float *none[4] = {NULL, NULL, NULL, NULL};
    act o;
    TRY(fwd_trunk(x, inc, NULL, H, W, NBLOCKS, none, &o));
    x->dry = 0;
    x->layout = kctx_pick(&s->kctx, 1, 1) != KB_ONEDNN ? KL_NCHW : layout >= 0 ? layout : kl_preferred_blocked();
    inc_ws *ws = s->state[IPF_PART_INCEPTION];
    if (!ws) {
        if (!(ws = calloc(1, sizeof *ws))) return ipf_fail(&s->err, IPF_ERR_OUT_OF_MEMORY, "inception: out of memory");
        ipf_session_set_state(s, IPF_PART_INCEPTION, ws, ws_free);
    }
    if (ws->cap < x->need) {
        size_t bytes = (x->need * sizeof(float) + 63) & ~(size_t)63;
        for (int i = 0; i < 4; i++) {
            free(ws->buf[i]);
            ws->buf[i] = aligned_alloc(64, bytes);
            if (!ws->buf[i]) {
                ws->cap = 0;
                return ipf_fail(&s->err, IPF_ERR_OUT_OF_MEMORY,
                                "inception: out of memory for activations (%d images of %dx%d)", N, H, W);
            }
        }
        ws->cap = x->need;
    }
    *wsp = ws;
    return IPF_OK;
}

ipf_status inception_forward(const inception *inc, ipf_session *s, const float *x, int N, int H, int W,
                             float *pool) {
    return inception_forward_layout(inc, s, x, N, H, W, -1, pool);
}

ipf_status inception_forward_layout(const inception *inc, ipf_session *s, const float *x, int N, int H, int W,
                                    int layout, float *pool) {
    if (N < 1 || H < 75 || W < 75)
        return ipf_fail(&s->err, IPF_ERR_SHAPE, "inception: input (%d,3,%d,%d) must have N >= 1 and H, W >= 75", N,
                        H, W);
    /* Chunks of at most INCEPTION_CHUNK images bound the workspace and the
     * number of per-shape plans; a chunk of 8 already fills the GEMMs. */
    size_t in_img = (size_t)3 * H * W;
    for (int n0 = 0; n0 < N; n0 += INCEPTION_CHUNK) {
        int n = N - n0 < INCEPTION_CHUNK ? N - n0 : INCEPTION_CHUNK;
        exec ex;
        inc_ws *ws = NULL;
        TRY(exec_begin(&ex, inc, s, n, H, W, layout, &ws));
        act o;
        TRY(fwd_trunk(&ex, inc, x + (size_t)n0 * in_img, H, W, NBLOCKS, ws->buf, &o));
        if (gap_forward(ex.k, pool + (size_t)n0 * INCEPTION_POOL_DIM, o.p, n, o.C, o.H, o.W, ex.layout))
            return kfail(&ex, "avgpool");
    }
    return IPF_OK;
}

/* ---- frozen trunk and fine-tuning of the top blocks --------------------- */

static const char *const BRANCHES_A[] = {"branch1x1",      "branch5x5_1",    "branch5x5_2", "branch3x3dbl_1",
                                         "branch3x3dbl_2", "branch3x3dbl_3", "branch_pool"};
static const char *const BRANCHES_B[] = {"branch3x3", "branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3"};
static const char *const BRANCHES_C[] = {"branch1x1",      "branch7x7_1",    "branch7x7_2",    "branch7x7_3",
                                         "branch7x7dbl_1", "branch7x7dbl_2", "branch7x7dbl_3", "branch7x7dbl_4",
                                         "branch7x7dbl_5", "branch_pool"};
static const char *const BRANCHES_D[] = {"branch3x3_1",   "branch3x3_2",   "branch7x7x3_1",
                                         "branch7x7x3_2", "branch7x7x3_3", "branch7x7x3_4"};
static const char *const BRANCHES_E[] = {"branch1x1",      "branch3x3_1",     "branch3x3_2a",    "branch3x3_2b",
                                         "branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3a", "branch3x3dbl_3b",
                                         "branch_pool"};

static const char *const STEM_NAMES[] = {"Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "Conv2d_3b_1x1",
                                         "Conv2d_4a_3x3"};

/* Block i's BasicConv2d's (a block struct is nothing but cbr's), their
 * count and branch names; block -1 is the stem (Conv2d_1a_3x3 ... maxpool2),
 * whose convs are named without a block prefix. */
static cbr *block_cbrs(const inception *inc, int i, int *n, const char *const **names) {
    if (i < 0) {
        *n = 5;
        if (names) *names = STEM_NAMES;
        return (cbr *)&inc->c1a;
    }
    static const int type[NBLOCKS] = {0, 0, 0, 1, 2, 2, 2, 2, 3, 4, 4};
    static const int count[5] = {7, 4, 10, 6, 9};
    static const char *const *nm[5] = {BRANCHES_A, BRANCHES_B, BRANCHES_C, BRANCHES_D, BRANCHES_E};
    const cbr *base[NBLOCKS] = {&inc->m5b.b1, &inc->m5c.b1, &inc->m5d.b1, &inc->m6a.b3, &inc->m6b.b1, &inc->m6c.b1,
                                &inc->m6d.b1, &inc->m6e.b1, &inc->m7a.b3_1, &inc->m7b.b1, &inc->m7c.b1};
    *n = count[type[i]];
    if (names) *names = nm[type[i]];
    return (cbr *)base[i];
}

static const char *block_name(int i) { return i < 0 ? "" : BLOCK_NAMES[i]; }

ipf_status inception_set_folded(inception *inc, const char *name, const float *data, size_t count, ipf_err *e) {
    for (int i = -1; i < NBLOCKS; i++) {
        size_t bl = strlen(block_name(i));
        if (bl && (strncmp(name, block_name(i), bl) || name[bl] != '.')) continue;
        int n;
        const char *const *names;
        cbr *c = block_cbrs(inc, i, &n, &names);
        for (int j = 0; j < n; j++) {
            size_t l = strlen(names[j]);
            const char *rest = bl ? name + bl + 1 : name;
            if (strncmp(rest, names[j], l) || rest[l] != '.') continue;
            int is_w = !strcmp(rest + l + 1, "weight"), is_b = !strcmp(rest + l + 1, "bias");
            size_t want = is_w ? (size_t)c[j].M * c[j].C * c[j].KH * c[j].KW : (size_t)c[j].M;
            if (!is_w && !is_b) break;
            if (count != want)
                return ipf_fail(e, IPF_ERR_SHAPE, "inception tensor '%s' has %zu values, expected %zu", name, count, want);
            memcpy(is_w ? c[j].w : c[j].b, data, want * sizeof(float));
            if (is_w) { /* the packed copy is stale now; inception_prepack() redoes it */
                conv2d_pack_free(c[j].pack);
                c[j].pack = NULL;
            }
            return IPF_OK;
        }
    }
    return ipf_fail(e, IPF_ERR_NOT_FOUND, "'%s' is not a folded Inception-v3 block tensor", name);
}

ipf_status inception_apply_folded(inception *inc, st_file *f, const char *prefix, int *napplied, ipf_err *e) {
    size_t pl = strlen(prefix);
    int n = 0;
    if (napplied) *napplied = 0;
    for (size_t i = 0; i < st_count(f); i++) {
        const st_tensor *t = st_at(f, i);
        if (strncmp(t->name, prefix, pl)) continue;
        size_t count = 1;
        for (int d = 0; d < t->ndim; d++) count *= (size_t)t->shape[d];
        const float *data;
        ipf_status st = st_get_f32(f, t->name, 0, NULL, &data, e);
        if (!st) st = inception_set_folded(inc, t->name + pl, data, count, e);
        if (st) {
            char why[IPF_ERRMSG_CAP];
            snprintf(why, sizeof why, "%s", (e ? e : ipf_tls_err())->msg);
            return ipf_fail(e, st, "%s: tensor '%s': %s", st_path(f), t->name, why);
        }
        n++;
    }
    if (n) inception_prepack(inc);
    if (napplied) *napplied = n;
    return IPF_OK;
}

ipf_status inception_trunk_shape(const inception *inc, int H, int W, int k, int *C, int *FH, int *FW, ipf_err *e) {
    if (k < 0 || k > NBLOCKS + 1)
        return ipf_fail(e, IPF_ERR_INVALID_ARGUMENT, "inception: k = %d outside [0, %d]", k, NBLOCKS + 1);
    if (H < 75 || W < 75) return ipf_fail(e, IPF_ERR_SHAPE, "inception: input %dx%d is below 75x75", H, W);
    if (k == NBLOCKS + 1) { /* everything trainable: the "features" are the image */
        *C = 3, *FH = H, *FW = W;
        return IPF_OK;
    }
    ipf_kctx none = {0};
    exec x = {&none, e, 1, KL_NCHW, 1, 0, 0};
    float *bufs[4] = {NULL, NULL, NULL, NULL};
    act o;
    TRY(fwd_trunk(&x, inc, NULL, H, W, NBLOCKS - k, bufs, &o));
    *C = o.C, *FH = o.H, *FW = o.W;
    return IPF_OK;
}

ipf_status inception_forward_trunk_to(const inception *inc, ipf_session *s, const float *x, int N, int H, int W,
                                      int k, float *feat) {
    if (N < 1 || H < 75 || W < 75)
        return ipf_fail(&s->err, IPF_ERR_SHAPE, "inception: input (%d,3,%d,%d) must have N >= 1 and H, W >= 75", N,
                        H, W);
    if (k < 0 || k > NBLOCKS + 1)
        return ipf_fail(&s->err, IPF_ERR_INVALID_ARGUMENT, "inception: k = %d outside [0, %d]", k, NBLOCKS + 1);
    size_t in_img = (size_t)3 * H * W;
    if (k == NBLOCKS + 1) {
        memcpy(feat, x, (size_t)N * in_img * sizeof(float));
        return IPF_OK;
    }
    for (int n0 = 0; n0 < N; n0 += INCEPTION_CHUNK) {
        int n = N - n0 < INCEPTION_CHUNK ? N - n0 : INCEPTION_CHUNK;
        exec ex;
        inc_ws *ws = NULL;
        TRY(exec_begin(&ex, inc, s, n, H, W, -1, &ws));
        act o;
        TRY(fwd_trunk(&ex, inc, x + (size_t)n0 * in_img, H, W, NBLOCKS - k, ws->buf, &o));
        size_t out_img = (size_t)o.C * o.H * o.W;
        if (layout_convert(ex.k, feat + (size_t)n0 * out_img, KL_NCHW, o.p, ex.layout, n, o.C, o.H, o.W))
            return kfail(&ex, "features");
    }
    return IPF_OK;
}

/* A block as a small graph for training: buffers 0 = block input X,
 * 1 = output Y (the concatenation), 2.. = one temporary per intermediate
 * (all at the input's resolution), so that every activation is kept for the
 * backward pass. */
enum { G_CONV, G_AVG, G_MAX };
typedef struct gop {
    int kind, conv, in, out, c0; /* conv: index into the block's cbr's */
} gop;
typedef struct gblock {
    int nops, ntmp, Cin, Cout;
    gop op[12];
    int tmpC[8];
} gblock;

static void gblock_build(gblock *g, const inception *inc, int i) {
    int n;
    cbr *c = block_cbrs(inc, i, &n, NULL);
    memset(g, 0, sizeof *g);
#define OPS(...)                                                                                                       \
    do {                                                                                                               \
        gop ops_[] = {__VA_ARGS__};                                                                                    \
        g->nops = (int)(sizeof ops_ / sizeof ops_[0]);                                                                 \
        memcpy(g->op, ops_, sizeof ops_);                                                                              \
    } while (0)
#define TMPS(...)                                                                                                      \
    do {                                                                                                               \
        int t_[] = {__VA_ARGS__};                                                                                      \
        g->ntmp = (int)(sizeof t_ / sizeof t_[0]);                                                                     \
        memcpy(g->tmpC, t_, sizeof t_);                                                                                \
    } while (0)
    int X = 0, Y = 1, Cin = c[0].C;
    g->Cin = Cin;
    if (i < 0) { /* stem: convs and two max pools in a row */
        TMPS(32, 32, 64, 64, 80, 192);
        OPS({G_CONV, 0, X, 2, 0}, {G_CONV, 1, 2, 3, 0}, {G_CONV, 2, 3, 4, 0}, {G_MAX, 0, 4, 5, 0},
            {G_CONV, 3, 5, 6, 0}, {G_CONV, 4, 6, 7, 0}, {G_MAX, 0, 7, Y, 0});
        g->Cout = 192;
    } else if (i <= 2) { /* InceptionA */
        TMPS(48, 64, 96, Cin);
        OPS({G_CONV, 0, X, Y, 0}, {G_CONV, 1, X, 2, 0}, {G_CONV, 2, 2, Y, 64}, {G_CONV, 3, X, 3, 0},
            {G_CONV, 4, 3, 4, 0}, {G_CONV, 5, 4, Y, 128}, {G_AVG, 0, X, 5, 0}, {G_CONV, 6, 5, Y, 224});
        g->Cout = 224 + c[6].M;
    } else if (i == 3) { /* InceptionB */
        TMPS(64, 96);
        OPS({G_CONV, 0, X, Y, 0}, {G_CONV, 1, X, 2, 0}, {G_CONV, 2, 2, 3, 0}, {G_CONV, 3, 3, Y, 384},
            {G_MAX, 0, X, Y, 480});
        g->Cout = 480 + Cin;
    } else if (i <= 7) { /* InceptionC */
        int c7 = c[1].M;
        TMPS(c7, c7, c7, c7, c7, c7, Cin);
        OPS({G_CONV, 0, X, Y, 0}, {G_CONV, 1, X, 2, 0}, {G_CONV, 2, 2, 3, 0}, {G_CONV, 3, 3, Y, 192},
            {G_CONV, 4, X, 4, 0}, {G_CONV, 5, 4, 5, 0}, {G_CONV, 6, 5, 6, 0}, {G_CONV, 7, 6, 7, 0},
            {G_CONV, 8, 7, Y, 384}, {G_AVG, 0, X, 8, 0}, {G_CONV, 9, 8, Y, 576});
        g->Cout = 768;
    } else if (i == 8) { /* InceptionD */
        TMPS(192, 192, 192, 192);
        OPS({G_CONV, 0, X, 2, 0}, {G_CONV, 1, 2, Y, 0}, {G_CONV, 2, X, 3, 0}, {G_CONV, 3, 3, 4, 0},
            {G_CONV, 4, 4, 5, 0}, {G_CONV, 5, 5, Y, 320}, {G_MAX, 0, X, Y, 512});
        g->Cout = 512 + Cin;
    } else { /* InceptionE */
        TMPS(384, 448, 384, Cin);
        OPS({G_CONV, 0, X, Y, 0}, {G_CONV, 1, X, 2, 0}, {G_CONV, 2, 2, Y, 320}, {G_CONV, 3, 2, Y, 704},
            {G_CONV, 4, X, 3, 0}, {G_CONV, 5, 3, 4, 0}, {G_CONV, 6, 4, Y, 1088}, {G_CONV, 7, 4, Y, 1472},
            {G_AVG, 0, X, 5, 0}, {G_CONV, 8, 5, Y, 1856});
        g->Cout = 2048;
    }
#undef OPS
#undef TMPS
}

typedef struct tblock {
    gblock g;
    int first;                /* index of the first parameter tensor of this block */
    int bH[10], bW[10];       /* each buffer's resolution for the current batch */
    int H, W, OH, OW;         /* input and output resolution of the current batch */
    float *buf[10], *dbuf[10]; /* activations and their gradients; [0] aliases the previous block's [1] */
} tblock;

typedef struct ttensor {
    char name[96];
    size_t off, count;
    int M, C, KH, KW, S, PH, PW; /* geometry (count = M*C*KH*KW for weights, M for biases) */
} ttensor;

struct inception_train {
    int k, first_block, N;
    tblock blk[NBLOCKS + 1]; /* the stem and every mixed block at most */
    ttensor *t; /* 2 per conv: weight, bias */
    size_t nt, np;
    float *params, *grads;
};

void inception_train_free(inception_train *t) {
    if (!t) return;
    for (int j = 0; j < t->k; j++)
        for (int b = 0; b < 2 + t->blk[j].g.ntmp; b++) {
            if (b != 0 || j == 0) free(t->blk[j].buf[b]), free(t->blk[j].dbuf[b]);
        }
    free(t->t), free(t->params), free(t->grads);
    free(t);
}

ipf_status inception_train_create(const inception *inc, int k, inception_train **out, ipf_err *e) {
    *out = NULL;
    if (k < 1 || k > NBLOCKS + 1)
        return ipf_fail(e, IPF_ERR_INVALID_ARGUMENT, "inception training: k = %d outside [1, %d]", k, NBLOCKS + 1);
    inception_train *t = calloc(1, sizeof *t);
    if (!t) return ipf_fail(e, IPF_ERR_OUT_OF_MEMORY, "inception training: out of memory");
    t->k = k, t->first_block = NBLOCKS - k;
    size_t nconv = 0;
    for (int j = 0; j < k; j++) {
        int n;
        block_cbrs(inc, t->first_block + j, &n, NULL);
        gblock_build(&t->blk[j].g, inc, t->first_block + j);
        t->blk[j].first = (int)(2 * nconv);
        nconv += (size_t)n;
    }
    t->nt = 2 * nconv;
    t->t = calloc(t->nt, sizeof *t->t);
    if (!t->t) goto oom;
    for (int j = 0, ti = 0; j < k; j++) {
        int n;
        const char *const *names;
        const cbr *c = block_cbrs(inc, t->first_block + j, &n, &names);
        for (int q = 0; q < n; q++)
            for (int wb = 0; wb < 2; wb++, ti++) {
                ttensor *tt = &t->t[ti];
                const char *bn = block_name(t->first_block + j);
                snprintf(tt->name, sizeof tt->name, "%s%s%s.%s", bn, *bn ? "." : "", names[q], wb ? "bias" : "weight");
                tt->M = c[q].M, tt->C = c[q].C, tt->KH = c[q].KH, tt->KW = c[q].KW, tt->S = c[q].S;
                tt->PH = c[q].PH, tt->PW = c[q].PW;
                tt->count = wb ? (size_t)c[q].M : (size_t)c[q].M * c[q].C * c[q].KH * c[q].KW;
                tt->off = t->np;
                t->np += (tt->count + 15) & ~(size_t)15; /* 64-byte aligned tensors */
            }
    }
    t->params = aligned_alloc(64, t->np * sizeof(float));
    t->grads = aligned_alloc(64, t->np * sizeof(float));
    if (!t->params || !t->grads) goto oom;
    memset(t->params, 0, t->np * sizeof(float));
    memset(t->grads, 0, t->np * sizeof(float));
    for (int j = 0, ti = 0; j < k; j++) {
        int n;
        const cbr *c = block_cbrs(inc, t->first_block + j, &n, NULL);
        for (int q = 0; q < n; q++, ti += 2) {
            memcpy(t->params + t->t[ti].off, c[q].w, t->t[ti].count * sizeof(float));
            memcpy(t->params + t->t[ti + 1].off, c[q].b, t->t[ti + 1].count * sizeof(float));
        }
    }
    *out = t;
    return IPF_OK;
oom:
    inception_train_free(t);
    return ipf_fail(e, IPF_ERR_OUT_OF_MEMORY, "inception training: out of memory");
}

size_t inception_train_count(const inception_train *t) { return t->nt; }
void inception_train_tensor(const inception_train *t, size_t i, const char **name, size_t *offset, size_t *count) {
    *name = t->t[i].name;
    *offset = t->t[i].off;
    *count = t->t[i].count;
}
size_t inception_train_nparams(const inception_train *t) { return t->np; }
float *inception_train_params(inception_train *t) { return t->params; }
float *inception_train_grads(inception_train *t) { return t->grads; }
int inception_train_feature_channels(const inception_train *t) { return t->blk[0].g.Cin; }

/* (Re)allocate activations for a batch of N at FH x FW; grads too. */
static ipf_status train_alloc(inception_train *t, int N, int FH, int FW, ipf_err *e) {
    if (t->N == N && t->blk[0].H == FH && t->blk[0].W == FW) return IPF_OK;
    for (int j = 0; j < t->k; j++)
        for (int b = 0; b < 2 + t->blk[j].g.ntmp; b++) {
            if (b != 0 || j == 0) free(t->blk[j].buf[b]), free(t->blk[j].dbuf[b]);
            t->blk[j].buf[b] = t->blk[j].dbuf[b] = NULL;
        }
    t->N = 0;
    int H = FH, W = FW;
    for (int j = 0; j < t->k; j++) {
        tblock *B = &t->blk[j];
        B->H = B->bH[0] = H, B->W = B->bW[0] = W;
        for (int q = 0; q < B->g.nops; q++) { /* each op's output resolution from its input's */
            const gop *o = &B->g.op[q];
            int ih = B->bH[o->in], iw = B->bW[o->in], oh, ow;
            if (o->kind == G_CONV) {
                const ttensor *w = &t->t[B->first + 2 * o->conv];
                oh = ih + 2 * w->PH < w->KH ? 0 : conv2d_out_dim(ih, w->KH, w->S, w->PH);
                ow = iw + 2 * w->PW < w->KW ? 0 : conv2d_out_dim(iw, w->KW, w->S, w->PW);
            } else {
                int S = o->kind == G_MAX ? 2 : 1, P = o->kind == G_MAX ? 0 : 1;
                oh = ih + 2 * P < 3 ? 0 : conv2d_out_dim(ih, 3, S, P);
                ow = iw + 2 * P < 3 ? 0 : conv2d_out_dim(iw, 3, S, P);
            }
            if (oh < 1 || ow < 1)
                return ipf_fail(e, IPF_ERR_SHAPE, "inception training: input %dx%d too small for %s", FH, FW,
                                *block_name(t->first_block + j) ? block_name(t->first_block + j) : "the stem");
            B->bH[o->out] = oh, B->bW[o->out] = ow;
        }
        B->OH = B->bH[1], B->OW = B->bW[1];
        for (int b = 0; b < 2 + B->g.ntmp; b++) {
            if (b == 0 && j > 0) {
                B->buf[0] = t->blk[j - 1].buf[1];
                B->dbuf[0] = t->blk[j - 1].dbuf[1];
                continue;
            }
            size_t n = (size_t)N * (b == 0 ? B->g.Cin : b == 1 ? B->g.Cout : B->g.tmpC[b - 2]) * B->bH[b] * B->bW[b];
            B->buf[b] = ipf_malloc_array(n, sizeof(float));
            B->dbuf[b] = ipf_malloc_array(n, sizeof(float));
            if (!B->buf[b] || !B->dbuf[b])
                return ipf_fail(e, IPF_ERR_OUT_OF_MEMORY, "inception training: out of memory for a batch of %d", N);
        }
        H = B->OH, W = B->OW;
    }
    t->N = N;
    return IPF_OK;
}

static int buf_channels(const tblock *B, int b) { return b == 0 ? B->g.Cin : b == 1 ? B->g.Cout : B->g.tmpC[b - 2]; }

static size_t buf_elems(const tblock *B, int b, int N) {
    return (size_t)N * buf_channels(B, b) * B->bH[b] * B->bW[b];
}

static kconv train_conv(const inception_train *t, const tblock *B, const gop *o, const ttensor *w) {
    int ctot = buf_channels(B, o->out);
    return (kconv){t->N, w->C, B->bH[o->in], B->bW[o->in], w->M, w->KH, w->KW, w->S, w->S, w->PH, w->PW, 1, KL_NCHW, KL_NCHW,
                   ctot, o->c0, 1, NULL};
}

static kpool train_pool(const inception_train *t, const tblock *B, const gop *o) {
    int ctot = buf_channels(B, o->out), C = buf_channels(B, o->in), H = B->bH[o->in], W = B->bW[o->in];
    return o->kind == G_AVG ? (kpool){t->N, C, H, W, 3, 3, 1, 1, 1, 1, KP_AVG, KL_NCHW, ctot, o->c0}
                            : (kpool){t->N, C, H, W, 3, 3, 2, 2, 0, 0, KP_MAX, KL_NCHW, ctot, o->c0};
}

ipf_status inception_train_forward(inception_train *t, ipf_session *s, const float *feat, int N, int FH, int FW,
                                   float *pool) {
    ipf_err *e = &s->err;
    if (N < 1 || FH < 1 || FW < 1)
        return ipf_fail(e, IPF_ERR_SHAPE, "inception training: features (%d,%d,%d,%d) are empty", N,
                        t->blk[0].g.Cin, FH, FW);
    TRY(train_alloc(t, N, FH, FW, e));
    ipf_session_prepare(s);
    ipf_kctx *k = &s->kctx;
    memcpy(t->blk[0].buf[0], feat, buf_elems(&t->blk[0], 0, N) * sizeof(float));
    for (int j = 0; j < t->k; j++) {
        tblock *B = &t->blk[j];
        for (int q = 0; q < B->g.nops; q++) {
            const gop *o = &B->g.op[q];
            int rc;
            if (o->kind == G_CONV) {
                const ttensor *w = &t->t[B->first + 2 * o->conv];
                kconv p = train_conv(t, B, o, w);
                rc = conv2d_forward(k, &p, B->buf[o->out], B->buf[o->in], t->params + w->off, t->params + w[1].off);
            } else {
                kpool p = train_pool(t, B, o);
                rc = pool2d_forward(k, &p, B->buf[o->out], B->buf[o->in]);
            }
            if (rc) return ipf_fail(e, IPF_ERR_BACKEND, "inception training %s: %s", block_name(t->first_block + j), k->err);
        }
    }
    const tblock *L = &t->blk[t->k - 1];
    if (pool && gap_forward(k, pool, L->buf[1], N, L->g.Cout, L->OH, L->OW, KL_NCHW))
        return ipf_fail(e, IPF_ERR_BACKEND, "inception training avgpool: %s", k->err);
    return IPF_OK;
}

ipf_status inception_train_backward(inception_train *t, ipf_session *s, const float *dpool, float *dfeat) {
    ipf_err *e = &s->err;
    if (!t->N) return ipf_fail(e, IPF_ERR_STATE, "inception training: backward before forward");
    ipf_session_prepare(s);
    ipf_kctx *k = &s->kctx;
    int N = t->N;
    for (int j = 0; j < t->k; j++)
        for (int b = 0; b < 2 + t->blk[j].g.ntmp; b++)
            if (b != 0 || j == 0) memset(t->blk[j].dbuf[b], 0, buf_elems(&t->blk[j], b, N) * sizeof(float));
    const tblock *L = &t->blk[t->k - 1];
    gap_backward(L->dbuf[1], dpool, N, L->g.Cout, L->OH, L->OW);
    for (int j = t->k - 1; j >= 0; j--) {
        tblock *B = &t->blk[j];
        /* the first block's input gradient is only needed for dfeat */
        int need_dx0 = j > 0 || dfeat;
        for (int q = B->g.nops - 1; q >= 0; q--) {
            const gop *o = &B->g.op[q];
            float *dx = (o->in == 0 && !need_dx0) ? NULL : B->dbuf[o->in];
            int rc = 0;
            if (o->kind == G_CONV) {
                const ttensor *w = &t->t[B->first + 2 * o->conv];
                kconv p = train_conv(t, B, o, w);
                rc = conv2d_backward(k, &p, dx, t->grads + w->off, t->grads + w[1].off, B->dbuf[o->out],
                                     B->buf[o->out], B->buf[o->in], t->params + w->off);
            } else if (dx) {
                kpool p = train_pool(t, B, o);
                rc = pool2d_backward(k, &p, dx, B->dbuf[o->out], B->buf[o->in]);
            }
            if (rc)
                return ipf_fail(e, IPF_ERR_BACKEND, "inception training backward %s: %s",
                                block_name(t->first_block + j), k->err);
        }
    }
    if (dfeat) {
        const float *d = t->blk[0].dbuf[0];
        size_t n = buf_elems(&t->blk[0], 0, N);
        for (size_t i = 0; i < n; i++) dfeat[i] += d[i];
    }
    return IPF_OK;
}
