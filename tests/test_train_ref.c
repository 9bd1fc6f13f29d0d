/* test_train_ref.c — the profiler heads' training forward/backward and Adam
 * against PyTorch (tests/gen/train_ref.py): loss, every parameter gradient,
 * d(loss)/d(pool), d(loss)/d(x_T), attention and mean pooling, and the loss
 * trajectory of 5 Adam and 5 AdamW(+clipping) steps. */
#include "test.h"
#include "train.h"

#define E 2048
#define I 1024
#define X 768
#define D 256
#define NB 4

typedef struct ref_inf {
    int n;
    float *pool, *xt, *mv, *mh;
    int y_post[16];
} ref_inf;

static float *load_f32(const char *rel, size_t expect) {
    char buf[256];
    snprintf(buf, sizeof buf, "train_ref/%s", rel);
    const char *p = test_golden_path(buf);
    if (!p) return NULL;
    int nd;
    int64_t sh[8];
    char dt;
    void *d = test_load_npy(p, &nd, sh, &dt);
    if (!d) return NULL;
    size_t cnt = 1;
    for (int i = 0; i < nd; i++) cnt *= (size_t)sh[i];
    if (expect && cnt != expect) {
        free(d);
        return NULL;
    }
    if (dt == 'd') {
        float *f = malloc(cnt * sizeof *f);
        for (size_t i = 0; i < cnt; i++) f[i] = (float)((double *)d)[i];
        free(d);
        return f;
    }
    if (dt == 'i') {
        float *f = malloc(cnt * sizeof *f);
        for (size_t i = 0; i < cnt; i++) f[i] = (float)((int64_t *)d)[i];
        free(d);
        return f;
    }
    return d;
}

static void ref_config(prof_config *c) {
    memset(c, 0, sizeof *c);
    c->img_pool = E;
    c->img_dim = I;
    c->text_dim = X;
    c->post_dim = D;
    c->att_dim = 256;
    c->head_hidden = 256;
    c->n_inf = 8;
    c->n_post = 10;
}

/* Params from p_<name>.npy, or from prefix when given (e.g. "g_attention_"). */
static float *load_block(const prof_layout *l, const char *prefix) {
    float *blk = calloc(l->total, sizeof(float));
    for (int t = 0; t < PT_COUNT_; t++) {
        char rel[128];
        snprintf(rel, sizeof rel, "%s%s.npy", prefix, prof_tensor_name((prof_tensor)t));
        float *f = load_f32(rel, l->size[t]);
        if (!f) {
            free(blk);
            return NULL;
        }
        memcpy(blk + l->offset[t], f, l->size[t] * sizeof(float));
        free(f);
    }
    return blk;
}

static int load_batch(ref_inf *b, int *yinf) {
    float *y = load_f32("yinf.npy", NB);
    if (!y) return 0;
    for (int k = 0; k < NB; k++) {
        char rel[64];
        yinf[k] = (int)y[k];
        snprintf(rel, sizeof rel, "inf%d_ypost.npy", k);
        float *yp = load_f32(rel, 0);
        if (!yp) return 0;
        snprintf(rel, sizeof rel, "inf%d_mh.npy", k);
        b[k].mh = load_f32(rel, D);
        snprintf(rel, sizeof rel, "inf%d_pool.npy", k);
        b[k].pool = load_f32(rel, 0);
        snprintf(rel, sizeof rel, "inf%d_xt.npy", k);
        b[k].xt = load_f32(rel, 0);
        snprintf(rel, sizeof rel, "inf%d_mv.npy", k);
        b[k].mv = load_f32(rel, 0);
        b[k].n = k == 0 ? 5 : k == 1 ? 1 : k == 2 ? 7 : 3; /* as train_ref.py's make_batch */
        for (int i = 0; i < b[k].n; i++) b[k].y_post[i] = (int)yp[i];
        free(yp);
        if (!b[k].mh || !b[k].pool || !b[k].xt || !b[k].mv) return 0;
    }
    free(y);
    return 1;
}

static void free_batch(ref_inf *b) {
    for (int k = 0; k < NB; k++) {
        free(b[k].pool);
        free(b[k].xt);
        free(b[k].mv);
        free(b[k].mh);
    }
}

/* Mean batch loss of the NB influencers in one batched pass; grads (may be
 * NULL) receive its gradient, dpool/dxt (may be NULL) per-influencer input
 * gradients. */
static double batch_pass(ipf_kctx *k, const prof_config *c, const prof_layout *l, const float *params, ref_inf *b,
                         const int *yinf, int pooling, float *grads, float **dpool, float **dxt) {
    int seg[NB + 1] = {0};
    for (int i = 0; i < NB; i++) seg[i + 1] = seg[i] + b[i].n;
    int P = seg[NB];
    float *pool = malloc(sizeof(float) * P * E), *xt = malloc(sizeof(float) * P * X);
    float *mv = malloc(sizeof(float) * P * D), *mh = malloc(sizeof(float) * NB * D);
    float *dp = calloc((size_t)P * E, sizeof(float)), *dx = calloc((size_t)P * X, sizeof(float));
    int ypost[64];
    for (int i = 0; i < NB; i++) {
        memcpy(pool + (size_t)seg[i] * E, b[i].pool, sizeof(float) * b[i].n * E);
        memcpy(xt + (size_t)seg[i] * X, b[i].xt, sizeof(float) * b[i].n * X);
        memcpy(mv + (size_t)seg[i] * D, b[i].mv, sizeof(float) * b[i].n * D);
        memcpy(mh + (size_t)i * D, b[i].mh, sizeof(float) * D);
        memcpy(ypost + seg[i], b[i].y_post, sizeof(int) * b[i].n);
    }
    prof_acts a = {0};
    ipf_err e = {{0}};
    prof_train_in in = {params, c, l, NB, seg, pool, xt, yinf, ypost, 1.0f, 0.5f, pooling, NULL, mv, mh};
    double loss = NAN;
    if (prof_train_forward(k, &in, &a, &loss, NULL, NULL, &e)) FAILF("forward: %s", e.msg);
    else if (grads && prof_train_backward(k, &in, &a, 1.0f, grads, dpool ? dp : NULL, dxt ? dx : NULL, &e))
        FAILF("backward: %s", e.msg);
    for (int i = 0; i < NB; i++) {
        if (dpool) memcpy(dpool[i], dp + (size_t)seg[i] * E, sizeof(float) * b[i].n * E);
        if (dxt) memcpy(dxt[i], dx + (size_t)seg[i] * X, sizeof(float) * b[i].n * X);
    }
    prof_acts_free(&a);
    free(pool);
    free(xt);
    free(mv);
    free(mh);
    free(dp);
    free(dx);
    return loss;
}

/* Gradient tolerance: the reference is float64; ours accumulates in float
 * through sums of up to 2048 terms, so errors scale with the tensor's
 * largest gradient: atol = 2e-4 * max|g_ref|, rtol = 1e-3.  Prints the
 * largest error relative to max|g_ref| per tensor. */
static double check_grads(const prof_layout *l, const float *g, const float *ref, const char *tag) {
    double worst = 0;
    for (int t = 0; t < PT_COUNT_; t++) {
        const float *a = g + l->offset[t], *b = ref + l->offset[t];
        double mx = 0, err = 0;
        for (size_t i = 0; i < l->size[t]; i++) {
            mx = fmax(mx, fabs(b[i]));
            err = fmax(err, fabs((double)a[i] - b[i]));
        }
        double rel = mx > 0 ? err / mx : err;
        if (rel > worst) worst = rel;
        fprintf(stderr, "    %s %-22s max|g| %.3e  max err %.3e  (%.2e relative)\n", tag,
                prof_tensor_name((prof_tensor)t), mx, err, rel);
        if (!test_close_(a, b, l->size[t], 2e-4 * mx + 1e-12, 1e-3, prof_tensor_name((prof_tensor)t), __FILE__,
                         __LINE__))
            break;
    }
    return worst;
}

TEST(train_ref_gradients) {
    prof_config c;
    ref_config(&c);
    prof_layout l;
    prof_layout_init(&l, &c);
    float *params = load_block(&l, "p_");
    if (!params) {
        FAILF("golden train_ref missing: run make gen");
        return;
    }
    ref_inf b[NB];
    int yinf[NB];
    REQUIRE(load_batch(b, yinf));
    float *lossref = load_f32("loss.npy", 2);
    REQUIRE(lossref);
    ipf_kctx k;
    kctx_init(&k);
    for (int be = 0; be < 2; be++) {
        k.backend = be ? KB_REF : KB_AUTO;
        const char *pooling_name[2] = {"attention", "mean"};
        for (int pooling = 0; pooling < 2; pooling++) {
            float *g = calloc(l.total, sizeof(float));
            float *dpool[NB], *dxt[NB];
            for (int i = 0; i < NB; i++) {
                dpool[i] = calloc((size_t)b[i].n * E, sizeof(float));
                dxt[i] = calloc((size_t)b[i].n * X, sizeof(float));
            }
            double loss = batch_pass(&k, &c, &l, params, b, yinf, pooling, g, dpool, dxt);
            fprintf(stderr, "    [%s, %s] loss %.7f vs torch %.7f\n", be ? "ref" : "auto", pooling_name[pooling],
                    loss, lossref[pooling]);
            /* float32 forward through 2048/1792-term sums: 1e-5 relative */
            CHECK(fabs(loss - lossref[pooling]) <= 1e-5 * fabs(lossref[pooling]));
            char pre[64];
            snprintf(pre, sizeof pre, "g_%s_", pooling_name[pooling]);
            float *gref = load_block(&l, pre);
            REQUIRE(gref);
            double worst = check_grads(&l, g, gref, pooling_name[pooling]);
            fprintf(stderr, "    [%s, %s] largest gradient error %.2e of the tensor's max |g|\n",
                    be ? "ref" : "auto", pooling_name[pooling], worst);
            if (pooling == 0)
                for (int i = 0; i < NB; i++) {
                    char rel[32];
                    snprintf(rel, sizeof rel, "dpool%d.npy", i);
                    float *rp = load_f32(rel, (size_t)b[i].n * E);
                    snprintf(rel, sizeof rel, "dxt%d.npy", i);
                    float *rx = load_f32(rel, (size_t)b[i].n * X);
                    REQUIRE(rp && rx);
                    double mp = 0, mx = 0;
                    for (size_t j = 0; j < (size_t)b[i].n * E; j++) mp = fmax(mp, fabs(rp[j]));
                    for (size_t j = 0; j < (size_t)b[i].n * X; j++) mx = fmax(mx, fabs(rx[j]));
                    CHECK_CLOSE(dpool[i], rp, (size_t)b[i].n * E, 2e-4 * mp + 1e-12, 1e-3);
                    CHECK_CLOSE(dxt[i], rx, (size_t)b[i].n * X, 2e-4 * mx + 1e-12, 1e-3);
                    free(rp);
                    free(rx);
                }
            free(gref);
            free(g);
            for (int i = 0; i < NB; i++) {
                free(dpool[i]);
                free(dxt[i]);
            }
        }
        if (getenv("IPF_TEST_LIGHT")) break; /* the reference backend pass is slow under sanitizers */
    }
    kctx_destroy(&k);
    free(lossref);
    free_batch(b);
    free(params);
}

static void run_adam(const char *name, int adamw) {
    prof_config c;
    ref_config(&c);
    prof_layout l;
    prof_layout_init(&l, &c);
    float *p = load_block(&l, "p_");
    ref_inf b[NB];
    int yinf[NB];
    char rel[64];
    snprintf(rel, sizeof rel, "traj_%s.npy", name);
    float *traj = load_f32(rel, 6);
    if (!p || !traj || !load_batch(b, yinf)) {
        FAILF("golden train_ref missing: run make gen");
        return;
    }
    float *g = calloc(l.total, sizeof(float)), *m = calloc(l.total, sizeof(float)),
          *v = calloc(l.total, sizeof(float));
    adam_cfg cfg;
    adam_cfg_default(&cfg);
    if (adamw) {
        cfg.weight_decay = 0.01f;
        cfg.decoupled = 1;
        cfg.clip_norm = 1.0f;
    }
    ipf_kctx k;
    kctx_init(&k);
    int64_t t = 0;
    double ours[6], worst = 0;
    for (int s = 0; s < 6; s++) {
        memset(g, 0, l.total * sizeof(float));
        ours[s] = batch_pass(&k, &c, &l, p, b, yinf, POOL_ATTENTION, s < 5 ? g : NULL, NULL, NULL);
        if (s < 5) adam_step(&cfg, p, g, m, v, l.total, &t);
        double drel = fabs(ours[s] - traj[s]) / fabs(traj[s]);
        worst = fmax(worst, drel);
        fprintf(stderr, "    %s step %d: loss %.7f vs torch %.7f\n", name, s, ours[s], (double)traj[s]);
        /* Adam normalises each update, so a gradient element near zero may
         * take a different sign in float; the loss still agrees to ~1e-5. */
        CHECK(drel <= 5e-5);
    }
    fprintf(stderr, "    %s: largest relative loss-trajectory difference %.2e\n", name, worst);
    /* small tensors after 5 steps: within a fraction of one step (lr) */
    const prof_tensor small[] = {PT_IH2_B, PT_PH2_B, PT_ATT_C};
    for (int i = 0; i < 3; i++) {
        snprintf(rel, sizeof rel, "p5_%s_%s.npy", name, prof_tensor_name(small[i]));
        float *ref = load_f32(rel, l.size[small[i]]);
        REQUIRE(ref);
        CHECK_CLOSE(p + l.offset[small[i]], ref, l.size[small[i]], 2e-4, 0);
        free(ref);
    }
    kctx_destroy(&k);
    free(g);
    free(m);
    free(v);
    free(p);
    free(traj);
    free_batch(b);
}

TEST(train_ref_adam_trajectory) { run_adam("adam", 0); }
TEST(train_ref_adamw_clip_trajectory) { run_adam("adamw", 1); }
