/* test_bert.c — BERT encoder (lib/bert.c) against the float64 PyTorch
 * goldens of tests/gen/bert.py: single sequences of several lengths, a
 * ragged batch, batch == one by one, every backend, loader name variants,
 * and argument validation. */
#include "bert.h"
#include "influencer_profiler.h"
#include "test.h"

static int light(void) { return getenv("IPF_TEST_LIGHT") != NULL; }

/* float32 golden from a float64/int64 .npy; NULL (and a FAIL) when absent. */
static void *load_golden(const char *rel, int64_t shape[8], int *ndim, char want) {
    const char *p = test_golden_path(rel);
    if (!p) {
        FAILF("golden %s missing (run make gen)", rel);
        return NULL;
    }
    char dt;
    void *d = test_load_npy(p, ndim, shape, &dt);
    if (!d || dt != want) {
        FAILF("golden %s unreadable", rel);
        free(d);
        return NULL;
    }
    return d;
}

static float *f64_to_f32(double *d, size_t n) {
    float *f = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) f[i] = (float)d[i];
    free(d);
    return f;
}

static int32_t *i64_to_i32(int64_t *d, size_t n) {
    int32_t *f = malloc(n * sizeof(int32_t));
    for (size_t i = 0; i < n; i++) f[i] = (int32_t)d[i];
    free(d);
    return f;
}

static double max_abs_diff(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (d > m || d != d) m = d;
    }
    return m;
}

static ipf_model *load_model(const char *rel) {
    const char *dir = test_golden_path(rel);
    if (!dir) {
        FAILF("golden model %s missing (run make gen)", rel);
        return NULL;
    }
    ipf_model *m = NULL;
    ipf_status st = ipf_model_load_bert(dir, &m);
    if (st) FAILF("ipf_model_load_bert(%s): %s", dir, ipf_last_error());
    return m;
}

static const int LENGTHS[] = {5, 16, 77, 128};

/* The C side computes in float32 through L layers against a float64 PyTorch
 * reference from the same float32 weights.  Outputs are LayerNorm outputs of
 * size O(1); measured max abs error is ~5e-7 (small) to ~3e-6 (base), so
 * atol 5e-5 + rtol 1e-4 leaves >10x margin while a wrong op (mask, scale,
 * eps, GELU variant) shows up at 1e-3 or more. */
#define GOLD_ATOL 5e-5
#define GOLD_RTOL 1e-4

static void golden_check(const char *tag, const char *model_rel, int backend) {
    ipf_model *m = load_model(model_rel);
    if (!m) return;
    ipf_session *s;
    REQUIRE(ipf_session_create(m, &s) == IPF_OK);
    ipf_session_set_option(s, IPF_OPT_THREADS, 2);
    CHECK_OK(ipf_session_set_option(s, IPF_OPT_BACKEND, backend), ipf_session_error(s));
    const size_t D = bert_get_config(m->part[IPF_PART_BERT])->hidden;
    char rel[256];
    float *out = malloc(D * sizeof(float));
    for (size_t li = 0; li < sizeof LENGTHS / sizeof *LENGTHS; li++) {
        int L = LENGTHS[li], nd;
        int64_t sh[8];
        snprintf(rel, sizeof rel, "bert/%s_ids_%d.npy", tag, L);
        int64_t *ids64 = load_golden(rel, sh, &nd, 'i');
        snprintf(rel, sizeof rel, "bert/%s_cls_%d.npy", tag, L);
        double *want64 = load_golden(rel, sh, &nd, 'd');
        if (!ids64 || !want64) {
            free(ids64);
            free(want64);
            continue;
        }
        int32_t *ids = i64_to_i32(ids64, (size_t)L);
        float *want = f64_to_f32(want64, D);
        CHECK_OK(ipf_session_encode_ids(s, ids, (size_t)L, out, D), ipf_session_error(s));
        CHECK_CLOSE(out, want, D, GOLD_ATOL, GOLD_RTOL);
        fprintf(stderr, "    %s backend %d length %d: max abs error vs float64 PyTorch %.3g\n", tag, backend, L,
                max_abs_diff(out, want, D));
        free(ids);
        free(want);
    }
    /* ragged batch: against the golden, and against one-by-one encoding */
    int nd;
    int64_t sh[8], shl[8], shc[8];
    snprintf(rel, sizeof rel, "bert/%s_batch_lens.npy", tag);
    int64_t *lens64 = load_golden(rel, shl, &nd, 'i');
    snprintf(rel, sizeof rel, "bert/%s_batch_ids.npy", tag);
    int64_t *ids64 = load_golden(rel, sh, &nd, 'i');
    snprintf(rel, sizeof rel, "bert/%s_batch_cls.npy", tag);
    double *want64 = load_golden(rel, shc, &nd, 'd');
    if (lens64 && ids64 && want64) {
        size_t n = (size_t)shl[0];
        int32_t *ids = i64_to_i32(ids64, (size_t)sh[0]);
        float *want = f64_to_f32(want64, n * D);
        const int32_t **ptr = malloc(n * sizeof *ptr);
        size_t *nids = malloc(n * sizeof *nids), off = 0;
        for (size_t i = 0; i < n; i++) {
            ptr[i] = ids + off;
            nids[i] = (size_t)lens64[i];
            off += nids[i];
        }
        float *batch = malloc(n * D * sizeof(float)), *single = malloc(n * D * sizeof(float));
        CHECK_OK(ipf_session_encode_ids_batch(s, ptr, nids, n, batch, n * D), ipf_session_error(s));
        CHECK_CLOSE(batch, want, n * D, GOLD_ATOL, GOLD_RTOL);
        for (size_t i = 0; i < n; i++)
            CHECK_OK(ipf_session_encode_ids(s, ptr[i], nids[i], single + i * D, D), ipf_session_error(s));
        /* Packing changes only GEMM row counts, not any row's arithmetic
         * order in practice; allow float rounding anyway. */
        CHECK_CLOSE(batch, single, n * D, 1e-5, 1e-5);
        fprintf(stderr, "    %s backend %d ragged batch of %zu: max abs error %.3g, batch vs single %.3g\n", tag,
                backend, n, max_abs_diff(batch, want, n * D), max_abs_diff(batch, single, n * D));
        free(ids); free(want); free(ptr); free(nids); free(batch); free(single);
    } else {
        free(ids64);
        free(want64);
    }
    free(lens64);
    free(out);
    ipf_session_free(s);
    ipf_model_free(m);
}

TEST(bert_small_golden) {
    golden_check("small", "bert/bert_small", IPF_BACKEND_AUTO);
    golden_check("small", "bert/bert_small", IPF_BACKEND_OPENBLAS);
    golden_check("small", "bert/bert_small", IPF_BACKEND_REF);
}

TEST(bert_base_golden) {
    if (light()) SKIP("IPF_TEST_LIGHT: BERT-base runs in the plain pass");
    golden_check("base", "bert/bert", IPF_BACKEND_AUTO);
}

/* "bert." prefix and TF-era LayerNorm gamma/beta names load the same weights. */
TEST(bert_name_variants) {
    ipf_model *a = load_model("bert/bert_small"), *b = load_model("bert/bert_small_prefixed");
    if (a && b) {
        ipf_session *sa, *sb;
        REQUIRE(ipf_session_create(a, &sa) == IPF_OK && ipf_session_create(b, &sb) == IPF_OK);
        int32_t ids[7] = {101, 2023, 2003, 1037, 3231, 1012, 102};
        float x[64], y[64];
        CHECK_OK(ipf_session_encode_ids(sa, ids, 7, x, 64), ipf_session_error(sa));
        CHECK_OK(ipf_session_encode_ids(sb, ids, 7, y, 64), ipf_session_error(sb));
        CHECK(memcmp(x, y, sizeof x) == 0);
        ipf_session_free(sa);
        ipf_session_free(sb);
    }
    ipf_model_free(a);
    ipf_model_free(b);
}

TEST(bert_load_errors) {
    ipf_model *m = (ipf_model *)1;
    const char *dir = test_golden_path("bert/bert_small_badshape");
    REQUIRE(dir);
    CHECK_EQ_INT(ipf_model_load_bert(dir, &m), IPF_ERR_SHAPE);
    CHECK(m == NULL);
    CHECK(strstr(ipf_last_error(), "encoder.layer.1.intermediate.dense.weight") != NULL);
    CHECK_EQ_INT(ipf_model_load_bert("/nonexistent/bert", &m), IPF_ERR_IO);
    CHECK(strstr(ipf_last_error(), "/nonexistent/bert/config.json") != NULL);
    CHECK_EQ_INT(ipf_model_load_bert(NULL, &m), IPF_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(ipf_model_load_bert(dir, NULL), IPF_ERR_INVALID_ARGUMENT);
}

TEST(bert_bad_arguments) {
    ipf_model *m = load_model("bert/bert_small");
    if (!m) return;
    ipf_session *s;
    REQUIRE(ipf_session_create(m, &s) == IPF_OK);
    int32_t ids[4] = {101, 2000, 30522, 102};
    float out[128];
    CHECK_EQ_INT(ipf_session_encode_ids(s, ids, 4, out, 64), IPF_ERR_INVALID_ARGUMENT);
    CHECK(strstr(ipf_session_error(s), "id 30522 at index 2") != NULL);
    ids[2] = -1;
    CHECK_EQ_INT(ipf_session_encode_ids(s, ids, 4, out, 64), IPF_ERR_INVALID_ARGUMENT);
    ids[2] = 2001;
    CHECK_EQ_INT(ipf_session_encode_ids(s, ids, 0, out, 64), IPF_ERR_INVALID_ARGUMENT);
    CHECK(strstr(ipf_session_error(s), "has 0 ids") != NULL);
    int32_t *many = calloc(513, sizeof *many);
    CHECK_EQ_INT(ipf_session_encode_ids(s, many, 513, out, 64), IPF_ERR_LIMIT);
    CHECK(strstr(ipf_session_error(s), "1..512") != NULL);
    CHECK_OK(ipf_session_encode_ids(s, many, 512, out, 64), ipf_session_error(s)); /* the maximum works */
    free(many);
    CHECK_EQ_INT(ipf_session_encode_ids(s, ids, 4, out, 63), IPF_ERR_BUFFER_TOO_SMALL);
    CHECK_EQ_INT(ipf_session_encode_ids(s, NULL, 4, out, 64), IPF_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(ipf_session_encode_ids(s, ids, 4, NULL, 64), IPF_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(ipf_session_encode_ids(NULL, ids, 4, out, 64), IPF_ERR_INVALID_ARGUMENT);
    CHECK_OK(ipf_session_encode_ids(s, ids, 1, out, 64), ipf_session_error(s)); /* [CLS] alone */
    /* batch: the message names the sequence */
    const int32_t *ptr[2] = {ids, ids};
    size_t n[2] = {4, 4};
    ids[1] = 99999;
    CHECK_EQ_INT(ipf_session_encode_ids_batch(s, ptr, n, 2, out, 128), IPF_ERR_INVALID_ARGUMENT);
    CHECK(strstr(ipf_session_error(s), "sequence 0") != NULL);
    ids[1] = 2000;
    ptr[1] = NULL;
    CHECK_EQ_INT(ipf_session_encode_ids_batch(s, ptr, n, 2, out, 128), IPF_ERR_INVALID_ARGUMENT);
    CHECK(strstr(ipf_session_error(s), "ids[1]") != NULL);
    ptr[1] = ids;
    CHECK_EQ_INT(ipf_session_encode_ids_batch(s, ptr, n, 2, out, 127), IPF_ERR_BUFFER_TOO_SMALL);
    CHECK_OK(ipf_session_encode_ids_batch(s, ptr, n, 0, NULL, 0), ipf_session_error(s));
    CHECK_OK(ipf_session_encode_ids_batch(s, ptr, n, 2, out, 128), ipf_session_error(s));
    CHECK(memcmp(out, out + 64, 64 * sizeof(float)) == 0);
    ipf_session_free(s);
    ipf_model_free(m);
}
