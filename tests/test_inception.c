/* test_inception.c — Inception-v3 trunk against torchvision in float64
 * (goldens from tests/gen/inception.py: seeded random weights, perturbed BN
 * statistics, inputs 299x299 batch 2, 320x301 batch 1, 75x75 batch 1,
 * transform_input off and on), through the public API; plus load and
 * argument errors. */
#include "inception.h"
#include "safetensors.h"
#include "test.h"
#include "test_util.h"

static int light(void) { return getenv("IPF_TEST_LIGHT") != NULL; }

/* Compare features with torch's float64 result.  We run float32 through 94
 * convolutions (sums of up to 3456 products each), so the error scales with
 * the features: atol = 2e-5 * max|ref|, rtol 1e-4.  Observed errors are
 * 2e-7..1.3e-6 of max|ref| on every backend (printed, so the margin shows). */
static void check_pool(const float *got, const double *ref, size_t n, const char *what) {
    float *r = malloc(n * sizeof(float));
    double mx = 0, err = 0;
    for (size_t i = 0; i < n; i++) {
        r[i] = (float)ref[i];
        if (fabs(ref[i]) > mx) mx = fabs(ref[i]);
        double d = fabs(got[i] - ref[i]);
        if (d > err || d != d) err = d;
    }
    fprintf(stderr, "    %s: max |ref| %.4g, max abs err %.3g (rel %.3g)\n", what, mx, err, err / mx);
    if (!CHECK_CLOSE(got, r, n, 2e-5 * mx, 1e-4)) fprintf(stderr, "    (%s)\n", what);
    free(r);
}

static void run_case(ipf_model *m, const char *name, int ti, int backend) {
    char path[256];
    snprintf(path, sizeof path, "inception/x_%s.npy", name);
    const char *g = test_golden_path(path);
    char xp[4096], pp[4096];
    snprintf(xp, sizeof xp, "%s", g ? g : "");
    snprintf(path, sizeof path, "inception/pool_%s_t%d.npy", name, ti);
    g = test_golden_path(path);
    snprintf(pp, sizeof pp, "%s", g ? g : "");
    if (!xp[0] || !pp[0]) {
        FAILF("golden inception %s missing: run make gen", name);
        return;
    }
    int nd;
    int64_t xs[8], ps[8];
    char dt;
    float *x = test_load_npy(xp, &nd, xs, &dt);
    REQUIRE(x && nd == 4 && dt == 'f');
    double *ref = test_load_npy(pp, &nd, ps, &dt);
    REQUIRE(ref && nd == 2 && dt == 'd' && ps[1] == 2048);
    size_t n = (size_t)ps[0] * 2048;
    float *pool = malloc(n * sizeof(float));
    ipf_session *s;
    CHECK_OK(ipf_session_create(m, &s), ipf_last_error());
    CHECK_OK(ipf_session_set_option(s, IPF_OPT_BACKEND, backend), ipf_session_error(s));
    CHECK_OK(ipf_session_set_option(s, IPF_OPT_THREADS, 2), ipf_session_error(s));
    CHECK_OK(ipf_session_encode_image_tensor(s, x, (int32_t)xs[0], (int32_t)xs[2], (int32_t)xs[3], pool, n),
             ipf_session_error(s));
    char what[128];
    static const char *bn[] = {"auto", "onednn", "openblas", "ref"};
    snprintf(what, sizeof what, "%s t%d %s", name, ti, bn[backend]);
    check_pool(pool, ref, n, what);
    /* second call reuses the cached plans and workspace */
    if (!light() && backend == IPF_BACKEND_ONEDNN) {
        float *again = malloc(n * sizeof(float));
        CHECK_OK(ipf_session_encode_image_tensor(s, x, (int32_t)xs[0], (int32_t)xs[2], (int32_t)xs[3], again, n),
                 ipf_session_error(s));
        CHECK_CLOSE(again, pool, n, 0, 0); /* same plans, same result */
        free(again);
    }
    ipf_session_free(s);
    free(x), free(ref), free(pool);
}

static ipf_model *load(int ti) {
    const char *mp = test_golden_path("inception/model.safetensors");
    if (!mp) {
        FAILF("golden inception/model.safetensors missing: run make gen");
        return NULL;
    }
    ipf_model *m = NULL;
    CHECK_OK(ipf_model_load_inception(mp, ti, &m), ipf_last_error());
    return m;
}

TEST(inception_golden) {
    for (int ti = 0; ti <= 1; ti++) {
        ipf_model *m = load(ti);
        if (!m) return;
        run_case(m, "75x75_b1", ti, IPF_BACKEND_ONEDNN);
        run_case(m, "75x75_b1", ti, IPF_BACKEND_OPENBLAS);
        if (!light()) {
            if (ti == 0) run_case(m, "299x299_b2", 0, IPF_BACKEND_ONEDNN);
            else run_case(m, "320x301_b1", 1, IPF_BACKEND_ONEDNN);
        }
        ipf_model_free(m);
    }
}

TEST(inception_golden_ref_backend) {
    if (light()) SKIP("IPF_TEST_LIGHT: the plain-C reference network is slow under sanitizers");
    ipf_model *m = load(1);
    if (!m) return;
    run_case(m, "75x75_b1", 1, IPF_BACKEND_REF);
    ipf_model_free(m);
}

TEST(inception_api_errors) {
    ipf_model *m = NULL;
    CHECK_EQ_INT(ipf_model_load_inception(NULL, 0, &m), IPF_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(ipf_model_load_inception("/nonexistent/x.safetensors", 0, &m), IPF_ERR_IO);
    CHECK(m == NULL);
    CHECK(strstr(ipf_last_error(), "/nonexistent/x.safetensors") != NULL);

    /* a file whose first conv has the wrong shape: the error names it */
    float w[32 * 3 * 2 * 2] = {0};
    st_wtensor t = {"Conv2d_1a_3x3.conv.weight", 4, {32, 3, 2, 2}, w};
    const char *path = "build/test_inception_bad.safetensors";
    ipf_err e;
    CHECK_OK(st_write(path, &t, 1, NULL, 0, &e), e.msg);
    CHECK_EQ_INT(ipf_model_load_inception(path, 0, &m), IPF_ERR_SHAPE);
    CHECK(strstr(ipf_last_error(), "Conv2d_1a_3x3.conv.weight") != NULL);
    /* right shape, missing BN */
    float w3[32 * 3 * 3 * 3] = {0};
    st_wtensor t3 = {"Conv2d_1a_3x3.conv.weight", 4, {32, 3, 3, 3}, w3};
    CHECK_OK(st_write(path, &t3, 1, NULL, 0, &e), e.msg);
    CHECK_EQ_INT(ipf_model_load_inception(path, 0, &m), IPF_ERR_NOT_FOUND);
    CHECK(strstr(ipf_last_error(), "Conv2d_1a_3x3.bn.weight") != NULL);
    remove(path);

    /* a model without the image encoder */
    ipf_model *empty;
    CHECK_OK(ipf_model_alloc(&empty), ipf_last_error());
    ipf_session *s;
    CHECK_OK(ipf_session_create(empty, &s), ipf_last_error());
    float x[3 * 75 * 75] = {0}, pool[2048];
    CHECK_EQ_INT(ipf_session_encode_image_tensor(s, x, 1, 75, 75, pool, 2048), IPF_ERR_NOT_FOUND);
    CHECK_EQ_INT(ipf_session_encode_image_tensor(NULL, x, 1, 75, 75, pool, 2048), IPF_ERR_INVALID_ARGUMENT);
    ipf_session_free(s);
    ipf_model_free(empty);

    m = load(0);
    if (!m) return;
    CHECK_OK(ipf_session_create(m, &s), ipf_last_error());
    CHECK_EQ_INT(ipf_session_encode_image_tensor(s, NULL, 1, 75, 75, pool, 2048), IPF_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(ipf_session_encode_image_tensor(s, x, 1, 75, 75, NULL, 2048), IPF_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(ipf_session_encode_image_tensor(s, x, 0, 75, 75, pool, 2048), IPF_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(ipf_session_encode_image_tensor(s, x, 1, 74, 75, pool, 2048), IPF_ERR_SHAPE);
    CHECK_EQ_INT(ipf_session_encode_image_tensor(s, x, 1, 75, 75, pool, 2047), IPF_ERR_BUFFER_TOO_SMALL);
    x[100] = NAN;
    CHECK_EQ_INT(ipf_session_encode_image_tensor(s, x, 1, 75, 75, pool, 2048), IPF_ERR_NUMERIC);
    CHECK(strstr(ipf_session_error(s), "element 100") != NULL);
    x[100] = 0;
    CHECK_OK(ipf_session_encode_image_tensor(s, x, 1, 75, 75, pool, 2048), ipf_session_error(s));
    ipf_session_free(s);
    ipf_model_free(m);
}

#include <pthread.h>

typedef struct worker {
    ipf_model *m;
    const float *x;
    float pool[2048];
    int rc;
    char err[256];
} worker;

static void *encode_worker(void *arg) {
    worker *w = arg;
    ipf_session *s;
    w->rc = ipf_session_create(w->m, &s);
    if (w->rc) return NULL;
    ipf_session_set_option(s, IPF_OPT_THREADS, 1);
    for (int rep = 0; rep < 2 && !w->rc; rep++) w->rc = ipf_session_encode_image_tensor(s, w->x, 1, 75, 75, w->pool, 2048);
    if (w->rc) snprintf(w->err, sizeof w->err, "%s", ipf_session_error(s));
    ipf_session_free(s);
    return NULL;
}

/* One model shared by threads, a session each: same results as alone. */
TEST(inception_threads_share_model) {
    ipf_model *m = load(1);
    if (!m) return;
    float *x = tu_golden_f32("inception/x_75x75_b1.npy", 3 * 75 * 75); // (1,3,75,75)
    REQUIRE(x);
    worker w[3];
    pthread_t th[3];
    for (int i = 0; i < 3; i++) {
        w[i] = (worker){.m = m, .x = x};
        pthread_create(&th[i], NULL, encode_worker, &w[i]);
    }
    for (int i = 0; i < 3; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < 3; i++) {
        CHECK_OK(w[i].rc, w[i].err);
        CHECK_CLOSE(w[i].pool, w[0].pool, 2048, 0, 0); /* same kernels, same order: identical */
    }
    free(x);
    ipf_model_free(m);
}

/* A batch of 10 runs as chunks of 8 + 2: each image's features equal those of
 * the image alone (other kernels for other batch sizes: float rounding only). */
TEST(inception_batch_chunks) {
    if (light()) SKIP("IPF_TEST_LIGHT: 11 forward passes");
    ipf_model *m = load(0);
    if (!m) return;
    float *x1 = tu_golden_f32("inception/x_75x75_b1.npy", 3 * 75 * 75); // (1,3,75,75)
    REQUIRE(x1);
    size_t img = 3 * 75 * 75;
    float *x = malloc(10 * img * sizeof(float)), *pool = malloc(10 * 2048 * sizeof(float)), one[2048];
    for (int i = 0; i < 10; i++)
        for (size_t j = 0; j < img; j++) x[i * img + j] = x1[j] * (1.0f + 0.1f * (float)i);
    ipf_session *s;
    REQUIRE(ipf_session_create(m, &s) == IPF_OK);
    CHECK_OK(ipf_session_encode_image_tensor(s, x, 10, 75, 75, pool, 10 * 2048), ipf_session_error(s));
    for (int i = 0; i < 10; i++) {
        CHECK_OK(ipf_session_encode_image_tensor(s, x + i * img, 1, 75, 75, one, 2048), ipf_session_error(s));
        double mx = 0;
        for (int j = 0; j < 2048; j++) mx = fmax(mx, fabs(one[j]));
        if (!CHECK_CLOSE(pool + (size_t)i * 2048, one, 2048, 1e-5 * mx, 1e-5)) fprintf(stderr, "    (image %d)\n", i);
    }
    ipf_session_free(s);
    ipf_model_free(m);
    free(x), free(x1), free(pool);
}

/* Both blocked layouts through the whole network (the other CPU family's
 * layout runs on generic oneDNN kernels here, still exactly the same math). */
TEST(inception_both_blocked_layouts) {
    ipf_model *m = load(1);
    if (!m) return;
    const char *g = test_golden_path("inception/x_75x75_b1.npy");
    REQUIRE(g);
    int nd;
    int64_t xs[8];
    char dt;
    float *x = test_load_npy(g, &nd, xs, &dt);
    g = test_golden_path("inception/pool_75x75_b1_t1.npy");
    REQUIRE(g);
    double *ref = test_load_npy(g, &nd, xs, &dt);
    REQUIRE(x && ref);
    ipf_session *s;
    REQUIRE(ipf_session_create(m, &s) == IPF_OK);
    const inception *inc = m->part[IPF_PART_INCEPTION];
    for (int layout = KL_BLK8; layout <= KL_BLK16; layout++) {
        float pool[2048];
        CHECK_OK(inception_forward_layout(inc, s, x, 1, 75, 75, layout, pool), ipf_session_error(s));
        char what[64];
        snprintf(what, sizeof what, "75x75 t1 layout %d", layout);
        check_pool(pool, ref, 2048, what);
    }
    ipf_session_free(s);
    ipf_model_free(m);
    free(x), free(ref);
}
