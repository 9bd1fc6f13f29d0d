/* test_inception_train.c — fine-tuning interface of lib/inception.h against
 * PyTorch autograd (tests/gen/inception_train.py: the top k = 3 blocks with
 * BN folded, float64), plus the frozen-trunk split and folded-weight
 * replacement. */
#include "inception.h"
#include "safetensors.h"
#include "test.h"
#include "test_util.h"

static int light(void) { return getenv("IPF_TEST_LIGHT") != NULL; }

static inception *load_model(void) {
    const char *mp = test_golden_path("inception/model.safetensors");
    if (!mp) {
        FAILF("golden inception/model.safetensors missing: run make gen");
        return NULL;
    }
    inception *inc = NULL;
    ipf_err e;
    CHECK_OK(inception_load(mp, 0, &inc, &e), e.msg);
    return inc;
}

/* errors relative to each tensor's largest magnitude: float32 through three
 * blocks (sums of up to 3456 products) against float64 */
static int close_scaled(const float *got, const float *ref, size_t n, double rel, const char *what) {
    double mx = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs(ref[i]) > mx) mx = fabs(ref[i]);
    int ok = test_close_(got, ref, n, rel * mx + 1e-12, 1e-4, what, __FILE__, __LINE__);
    return ok;
}

static void run_backend(inception *inc, st_file *f, int backend) {
    ipf_err e;
    inception_train *t;
    REQUIRE(inception_train_create(inc, 3, &t, &e) == IPF_OK);
    CHECK_EQ_INT(inception_train_feature_channels(t), 768);
    float *P = inception_train_params(t), *G = inception_train_grads(t);
    double worst_fold = 0;
    for (size_t i = 0; i < inception_train_count(t); i++) {
        const char *name;
        size_t off, cnt;
        inception_train_tensor(t, i, &name, &off, &cnt);
        char key[160];
        snprintf(key, sizeof key, "param.%s", name);
        const float *ref;
        if (st_get_f32(f, key, 0, NULL, &ref, &e) != IPF_OK) FAILF("%s", e.msg);
        REQUIRE(st_find(f, key)->nbytes == cnt * sizeof(float));
        double mx = 1e-30, d = 0;
        for (size_t j = 0; j < cnt; j++) {
            if (fabs(ref[j]) > mx) mx = fabs(ref[j]);
            if (fabs(P[off + j] - ref[j]) > d) d = fabs(P[off + j] - ref[j]);
        }
        if (d / mx > worst_fold) worst_fold = d / mx;
        memcpy(P + off, ref, cnt * sizeof(float)); /* the gradients below then hold even if the fold differed */
    }
    /* the C fold and the script's fold compute the same float64 expression,
     * rounded once to float32 (relative to each tensor's largest value) */
    if (!(worst_fold < 1e-6)) FAILF("folded parameters differ from the script's by %g (relative)", worst_fold);

    const float *feat, *Gp, *pool_ref, *dfeat_ref;
    REQUIRE(st_get_f32(f, "feat", 0, NULL, &feat, &e) == IPF_OK && st_get_f32(f, "G", 0, NULL, &Gp, &e) == IPF_OK &&
            st_get_f32(f, "pool", 0, NULL, &pool_ref, &e) == IPF_OK &&
            st_get_f32(f, "d_feat", 0, NULL, &dfeat_ref, &e) == IPF_OK);
    size_t nfeat = (size_t)2 * 768 * 9 * 7;
    ipf_model *m;
    REQUIRE(ipf_model_alloc(&m) == IPF_OK);
    ipf_session *s;
    REQUIRE(ipf_session_create(m, &s) == IPF_OK);
    CHECK_OK(ipf_session_set_option(s, IPF_OPT_BACKEND, backend), ipf_session_error(s));
    CHECK_OK(ipf_session_set_option(s, IPF_OPT_THREADS, 2), ipf_session_error(s));
    float pool[2 * 2048], *dfeat = calloc(nfeat, sizeof(float));
    memset(G, 0, inception_train_nparams(t) * sizeof(float));
    CHECK_OK(inception_train_forward(t, s, feat, 2, 9, 7, pool), ipf_session_error(s));
    CHECK_OK(inception_train_backward(t, s, Gp, dfeat), ipf_session_error(s));
    static const char *bn[] = {"auto", "onednn", "openblas", "ref"};
    char what[200];
    snprintf(what, sizeof what, "pool (%s)", bn[backend]);
    close_scaled(pool, pool_ref, 2 * 2048, 2e-5, what);
    snprintf(what, sizeof what, "d_feat (%s)", bn[backend]);
    close_scaled(dfeat, dfeat_ref, nfeat, 2e-5, what);
    double worst = 0;
    for (size_t i = 0; i < inception_train_count(t); i++) {
        const char *name;
        size_t off, cnt;
        inception_train_tensor(t, i, &name, &off, &cnt);
        char key[160];
        snprintf(key, sizeof key, "grad.%s", name);
        const float *ref;
        REQUIRE(st_get_f32(f, key, 0, NULL, &ref, &e) == IPF_OK);
        snprintf(what, sizeof what, "%s (%s)", key, bn[backend]);
        double mx = 0, err = 0;
        for (size_t j = 0; j < cnt; j++) {
            if (fabs(ref[j]) > mx) mx = fabs(ref[j]);
            if (fabs(G[off + j] - ref[j]) > err) err = fabs(G[off + j] - ref[j]);
        }
        if (err / (mx + 1e-30) > worst) worst = err / (mx + 1e-30);
        close_scaled(G + off, ref, cnt, 2e-5, what);
    }
    fprintf(stderr, "    %s: worst gradient error %.3g of the tensor's max\n", bn[backend], worst);
    free(dfeat);
    ipf_session_free(s);
    ipf_model_free(m);
    inception_train_free(t);
}

TEST(inception_train_gradients) {
    const char *g = test_golden_path("inception_train/case.safetensors");
    char path[4096];
    snprintf(path, sizeof path, "%s", g ? g : "");
    if (!g) {
        FAILF("golden inception_train/case.safetensors missing: run make gen");
        return;
    }
    inception *inc = load_model();
    if (!inc) return;
    st_file *f;
    ipf_err e;
    REQUIRE(st_open(path, &f, &e) == IPF_OK);
    run_backend(inc, f, IPF_BACKEND_ONEDNN);
    if (!light()) run_backend(inc, f, IPF_BACKEND_OPENBLAS);
    st_close(f);
    inception_free(inc);
}

/* trunk_to(k) + training forward of the top k == the whole inference network. */
TEST(inception_train_split_matches_inference) {
    inception *inc = load_model();
    if (!inc) return;
    float *x = tu_golden_f32("inception/x_75x75_b1.npy", 3 * 75 * 75); // (1,3,75,75)
    REQUIRE(x);
    int C, FH, FW;
    ipf_err e;
    CHECK_OK(inception_trunk_shape(inc, 299, 299, 2, &C, &FH, &FW, &e), e.msg);
    CHECK(C == 1280 && FH == 8 && FW == 8);
    CHECK_OK(inception_trunk_shape(inc, 75, 75, 2, &C, &FH, &FW, &e), e.msg);
    CHECK(C == 1280 && FH == 1 && FW == 1);
    ipf_model *m;
    REQUIRE(ipf_model_alloc(&m) == IPF_OK);
    ipf_model_set_part(m, IPF_PART_INCEPTION, inc, inception_free);
    ipf_session *s;
    REQUIRE(ipf_session_create(m, &s) == IPF_OK);
    float want[2048], got[2048], feat[1280];
    CHECK_OK(inception_forward(inc, s, x, 1, 75, 75, want), ipf_session_error(s));
    CHECK_OK(inception_forward_trunk_to(inc, s, x, 1, 75, 75, 2, feat), ipf_session_error(s));
    inception_train *t;
    REQUIRE(inception_train_create(inc, 2, &t, &e) == IPF_OK);
    CHECK_OK(inception_train_forward(t, s, feat, 1, 1, 1, got), ipf_session_error(s));
    close_scaled(got, want, 2048, 1e-5, "split vs whole"); /* same float math, other layouts and order */
    /* backward before any forward is a state error on a fresh object */
    inception_train *t2;
    REQUIRE(inception_train_create(inc, 2, &t2, &e) == IPF_OK);
    CHECK_EQ_INT(inception_train_backward(t2, s, want, NULL), IPF_ERR_STATE);
    inception_train_free(t2);
    /* replacing a folded tensor changes the inference result */
    const char *name;
    size_t off, cnt;
    inception_train_tensor(t, inception_train_count(t) - 1, &name, &off, &cnt);
    CHECK_STR_EQ(name, "Mixed_7c.branch_pool.bias");
    float *P = inception_train_params(t);
    for (size_t i = 0; i < cnt; i++) P[off + i] += 1.0f;
    CHECK_OK(inception_set_folded(inc, name, P + off, cnt, &e), e.msg);
    CHECK_EQ_INT(inception_set_folded(inc, name, P + off, cnt - 1, &e), IPF_ERR_SHAPE);
    CHECK_EQ_INT(inception_set_folded(inc, "Mixed_7c.nope.bias", P + off, cnt, &e), IPF_ERR_NOT_FOUND);
    CHECK_OK(inception_train_forward(t, s, feat, 1, 1, 1, got), ipf_session_error(s));
    CHECK_OK(inception_forward(inc, s, x, 1, 75, 75, want), ipf_session_error(s));
    close_scaled(got, want, 2048, 1e-5, "after set_folded");
    /* a weight too: its packed copy is dropped, then rebuilt by prepack */
    inception_train_tensor(t, inception_train_count(t) - 2, &name, &off, &cnt);
    CHECK_STR_EQ(name, "Mixed_7c.branch_pool.weight");
    for (size_t i = 0; i < cnt; i++) P[off + i] *= -0.5f;
    CHECK_OK(inception_set_folded(inc, name, P + off, cnt, &e), e.msg);
    CHECK_OK(inception_train_forward(t, s, feat, 1, 1, 1, got), ipf_session_error(s));
    CHECK_OK(inception_forward(inc, s, x, 1, 75, 75, want), ipf_session_error(s));
    close_scaled(got, want, 2048, 1e-5, "after set_folded of a weight");
    inception_prepack(inc);
    CHECK_OK(inception_forward(inc, s, x, 1, 75, 75, want), ipf_session_error(s));
    close_scaled(got, want, 2048, 1e-5, "after prepack");
    inception_train_free(t);
    ipf_session_free(s);
    ipf_model_free(m);
    free(x);
}

/* ||got - ref|| <= rel * ||ref|| over a tensor.  For whole-network gradients:
 * a ReLU input within float32 rounding of 0 flips between float32 and float64
 * and moves one position's contribution; the script keeps such inputs away
 * from 0 where one position is a whole row (1x1 and 3x3 maps), and a norm
 * absorbs the rest, while a wrong gradient is off by far more. */
static double worst_norm;
static void close_norm(const float *got, const float *ref, size_t n, double rel, const char *what) {
    double d = 0, r = 0;
    for (size_t i = 0; i < n; i++) {
        d += ((double)got[i] - ref[i]) * ((double)got[i] - ref[i]);
        r += (double)ref[i] * ref[i];
    }
    if (sqrt(d / r) > worst_norm) worst_norm = sqrt(d / r);
    if (!(sqrt(d) <= rel * sqrt(r))) FAILF("%s: relative norm error %.3g > %.3g", what, sqrt(d / r), rel);
}

/* k = 12: the whole trunk trainable, stem included, from the image itself. */
TEST(inception_train_full_trunk) {
    const char *g = test_golden_path("inception_train/full.safetensors");
    char path[4096];
    snprintf(path, sizeof path, "%s", g ? g : "");
    if (!g) {
        FAILF("golden inception_train/full.safetensors missing: run make gen");
        return;
    }
    inception *inc = load_model();
    if (!inc) return;
    st_file *f;
    ipf_err e;
    REQUIRE(st_open(path, &f, &e) == IPF_OK);
    const float *x, *G, *pool_ref, *dx_ref;
    REQUIRE(st_get_f32(f, "x", 0, NULL, &x, &e) == IPF_OK && st_get_f32(f, "G", 0, NULL, &G, &e) == IPF_OK &&
            st_get_f32(f, "pool", 0, NULL, &pool_ref, &e) == IPF_OK &&
            st_get_f32(f, "d_x", 0, NULL, &dx_ref, &e) == IPF_OK);
    int C, FH, FW;
    CHECK_OK(inception_trunk_shape(inc, 75, 75, INCEPTION_NBLOCKS + 1, &C, &FH, &FW, &e), e.msg);
    CHECK(C == 3 && FH == 75 && FW == 75);
    inception_train *t;
    REQUIRE(inception_train_create(inc, INCEPTION_NBLOCKS + 1, &t, &e) == IPF_OK);
    const char *name;
    size_t off, cnt;
    inception_train_tensor(t, 0, &name, &off, &cnt);
    CHECK_STR_EQ(name, "Conv2d_1a_3x3.weight");
    ipf_model *m;
    REQUIRE(ipf_model_alloc(&m) == IPF_OK);
    ipf_session *s;
    REQUIRE(ipf_session_create(m, &s) == IPF_OK);
    float pool[2048], *dx = calloc(3 * 75 * 75, sizeof(float)), *feat = malloc(3 * 75 * 75 * sizeof(float));
    CHECK_OK(inception_forward_trunk_to(inc, s, x, 1, 75, 75, INCEPTION_NBLOCKS + 1, feat), ipf_session_error(s));
    CHECK_CLOSE(feat, x, 3 * 75 * 75, 0, 0); /* the features of k = 12 are the image */
    CHECK_OK(inception_train_forward(t, s, feat, 1, 75, 75, pool), ipf_session_error(s));
    CHECK_OK(inception_train_backward(t, s, G, dx), ipf_session_error(s));
    /* float32 through the whole network and back vs float64 */
    close_scaled(pool, pool_ref, 2048, 2e-5, "full pool");
    close_norm(dx, dx_ref, 3 * 75 * 75, 2e-3, "full d_x");
    const float *Gr = inception_train_grads(t);
    for (size_t i = 0; i < 10; i++) {
        inception_train_tensor(t, i, &name, &off, &cnt);
        char key[160];
        snprintf(key, sizeof key, "grad.%s", name);
        const float *ref;
        REQUIRE(st_get_f32(f, key, 0, NULL, &ref, &e) == IPF_OK);
        close_norm(Gr + off, ref, cnt, 2e-3, key);
    }
    fprintf(stderr, "    full trunk: worst relative norm error %.3g (d_x and stem gradients)\n", worst_norm);
    /* a stem tensor name goes back into the model */
    inception_train_tensor(t, 1, &name, &off, &cnt);
    CHECK_STR_EQ(name, "Conv2d_1a_3x3.bias");
    CHECK_OK(inception_set_folded(inc, name, inception_train_params(t) + off, cnt, &e), e.msg);
    free(dx), free(feat);
    ipf_session_free(s);
    ipf_model_free(m);
    inception_train_free(t);
    st_close(f);
    inception_free(inc);
}

/* Fine-tuned tensors saved with a prefix go back into a loaded model. */
TEST(inception_apply_folded_from_file) {
    inception *inc = load_model();
    if (!inc) return;
    ipf_err e;
    inception_train *t;
    REQUIRE(inception_train_create(inc, 1, &t, &e) == IPF_OK);
    const char *name;
    size_t off, cnt;
    inception_train_tensor(t, inception_train_count(t) - 1, &name, &off, &cnt);
    float *P = inception_train_params(t);
    for (size_t i = 0; i < cnt; i++) P[off + i] += 0.25f;
    char full[160];
    snprintf(full, sizeof full, "inception.%s", name);
    st_wtensor w[2] = {{full, 1, {(int64_t)cnt}, P + off}, {"heads.other", 1, {1}, P}};
    const char *path = "build/test_inception_apply.safetensors";
    REQUIRE(st_write(path, w, 2, NULL, 0, &e) == IPF_OK);
    st_file *f;
    REQUIRE(st_open(path, &f, &e) == IPF_OK);
    int n = -1;
    CHECK_OK(inception_apply_folded(inc, f, "inception.", &n, &e), e.msg);
    CHECK_EQ_INT(n, 1);
    /* the model now computes what the training object computes */
    ipf_model *m;
    REQUIRE(ipf_model_alloc(&m) == IPF_OK);
    ipf_session *s;
    REQUIRE(ipf_session_create(m, &s) == IPF_OK);
    float *x = calloc(3 * 75 * 75, sizeof(float)), want[2048], got[2048], feat[2048];
    for (int i = 0; i < 3 * 75 * 75; i++) x[i] = (float)((i * 7) % 13) / 13.0f - 0.5f;
    CHECK_OK(inception_forward(inc, s, x, 1, 75, 75, want), ipf_session_error(s));
    CHECK_OK(inception_forward_trunk_to(inc, s, x, 1, 75, 75, 1, feat), ipf_session_error(s));
    CHECK_OK(inception_train_forward(t, s, feat, 1, 1, 1, got), ipf_session_error(s));
    close_scaled(got, want, 2048, 1e-5, "applied from file");
    st_close(f);
    /* a tensor with the prefix but no such conv: error names file and tensor */
    st_wtensor bad = {"inception.Mixed_7c.branch9.bias", 1, {3}, P};
    REQUIRE(st_write(path, &bad, 1, NULL, 0, &e) == IPF_OK);
    REQUIRE(st_open(path, &f, &e) == IPF_OK);
    CHECK_EQ_INT(inception_apply_folded(inc, f, "inception.", &n, &e), IPF_ERR_NOT_FOUND);
    CHECK(strstr(e.msg, "inception.Mixed_7c.branch9.bias") != NULL && strstr(e.msg, path) != NULL);
    st_close(f);
    remove(path);
    free(x);
    ipf_session_free(s);
    ipf_model_free(m);
    inception_train_free(t);
    inception_free(inc);
}
