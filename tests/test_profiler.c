/* test_profiler.c — the profiler model (lib/profiler.c) and the public
 * profiler API (lib/bundle.c, lib/profiler_api.c) against PyTorch goldens
 * from tests/gen/profiler.py, with cached features (no encoders needed).
 *
 * Tolerances: the goldens are float32 PyTorch; our float32 forward differs
 * only in summation order (K up to 2048, values ~1), so post vectors and
 * influencer vectors agree to ~1e-6 absolute; probabilities (after softmax)
 * likewise.  atol 2e-5 + rtol 1e-4 is ~10x that worst case. */
#include "influencer_profiler.h"
#include "profiler.h"
#include "test.h"

#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#define ATOL 2e-5
#define RTOL 1e-4

static float *load_golden(const char *cfg, int k, const char *tag, int64_t shape[8]) {
    char rel[256];
    snprintf(rel, sizeof rel, "profiler/%s/inf%d_%s.npy", cfg, k, tag);
    const char *p = test_golden_path(rel);
    if (!p) return NULL;
    int nd;
    char dt;
    float *a = test_load_npy(p, &nd, shape, &dt);
    if (a && dt != 'f') {
        free(a);
        return NULL;
    }
    if (a && nd == 1) shape[1] = 1;
    if (a && nd == 0) shape[0] = shape[1] = 1;
    return a;
}

static ipf_model *load_bundle(const char *cfg) {
    char rel[64];
    snprintf(rel, sizeof rel, "profiler/%s", cfg);
    const char *dir = test_golden_path(rel);
    if (!dir) return NULL;
    ipf_model *m = NULL;
    if (ipf_model_load(dir, &m) != IPF_OK) fprintf(stderr, "    load %s: %s\n", dir, ipf_last_error());
    return m;
}

/* One influencer of a golden set through every public entry point. */
static void check_influencer(ipf_session *s, const char *cfg, int k) {
    int64_t sp[8], sx[8], sv[8], spp[8], sa[8], sh[8], si[8];
    float *pool = load_golden(cfg, k, "pool", sp), *xt = load_golden(cfg, k, "xt", sx),
          *v = load_golden(cfg, k, "v", sv), *pp = load_golden(cfg, k, "post_probs", spp),
          *alpha = load_golden(cfg, k, "alpha", sa), *h = load_golden(cfg, k, "h", sh),
          *ip = load_golden(cfg, k, "inf_probs", si);
    if (!pool || !xt || !v || !pp || !alpha || !h || !ip) {
        FAILF("golden profiler/%s/inf%d_*.npy missing (run make gen)", cfg, k);
        goto out;
    }
    size_t P = (size_t)sp[0], E = (size_t)sp[1], X = (size_t)sx[1], D = (size_t)sv[1], Cp = (size_t)spp[1],
           Ci = (size_t)si[0];
    ipf_post *posts = calloc(P, sizeof *posts);
    for (size_t i = 0; i < P; i++) {
        posts[i].struct_size = sizeof(ipf_post);
        posts[i].text_feature = xt + i * X;
        posts[i].image_feature = pool + i * E;
    }
    float *got_v = calloc(P * D, sizeof(float)), *got_pp = calloc(P * Cp, sizeof(float)),
          *got_a = calloc(P, sizeof(float)), *got_h = calloc(D, sizeof(float)), *got_ip = calloc(Ci, sizeof(float));
    float *one_pp = calloc(Cp, sizeof(float)), *feat_t = calloc(X, sizeof(float)), *feat_i = calloc(E, sizeof(float));

    CHECK_OK(ipf_session_profile(s, posts, P, got_ip, got_pp, got_a), ipf_session_error(s));
    CHECK_CLOSE(got_ip, ip, Ci, ATOL, RTOL);
    CHECK_CLOSE(got_pp, pp, P * Cp, ATOL, RTOL);
    CHECK_CLOSE(got_a, alpha, P, ATOL, RTOL);

    CHECK_OK(ipf_session_encode_posts(s, posts, P, got_v, P * D), ipf_session_error(s));
    CHECK_CLOSE(got_v, v, P * D, ATOL, RTOL);
    memset(got_a, 0, P * sizeof(float));
    CHECK_OK(ipf_session_pool(s, got_v, P, got_h, got_a, P), ipf_session_error(s));
    CHECK_CLOSE(got_h, h, D, ATOL, RTOL);
    CHECK_CLOSE(got_a, alpha, P, ATOL, RTOL);
    CHECK_OK(ipf_session_classify_influencer(s, got_h, got_ip, Ci), ipf_session_error(s));
    CHECK_CLOSE(got_ip, ip, Ci, ATOL, RTOL);
    for (size_t i = 0; i < P; i++) {
        CHECK_OK(ipf_session_classify_post(s, got_v + i * D, one_pp, Cp), ipf_session_error(s));
        CHECK_CLOSE(one_pp, pp + i * Cp, Cp, ATOL, RTOL);
    }
    /* one post alone, with its features handed back */
    CHECK_OK(ipf_session_encode_post(s, &posts[P - 1], feat_t, feat_i, got_v), ipf_session_error(s));
    CHECK_CLOSE(got_v, v + (P - 1) * D, D, ATOL, RTOL);
    CHECK(memcmp(feat_t, xt + (P - 1) * X, X * sizeof(float)) == 0);
    CHECK(memcmp(feat_i, pool + (P - 1) * E, E * sizeof(float)) == 0);
    /* alpha sums to one */
    double sum = 0;
    for (size_t i = 0; i < P; i++) sum += got_a[i];
    CHECK(fabs(sum - 1.0) < 1e-5);
    free(posts);
    free(got_v);
    free(got_pp);
    free(got_a);
    free(got_h);
    free(got_ip);
    free(one_pp);
    free(feat_t);
    free(feat_i);
out:
    free(pool);
    free(xt);
    free(v);
    free(pp);
    free(alpha);
    free(h);
    free(ip);
}

static void check_set(const char *cfg) {
    ipf_model *m = load_bundle(cfg);
    if (!m) {
        FAILF("golden bundle profiler/%s missing or unreadable (run make gen)", cfg);
        return;
    }
    const int backends[] = {IPF_BACKEND_AUTO, IPF_BACKEND_REF};
    for (int b = 0; b < 2; b++) {
        ipf_session *s = NULL;
        CHECK_OK(ipf_session_create(m, &s), ipf_last_error());
        CHECK_OK(ipf_session_set_option(s, IPF_OPT_BACKEND, backends[b]), ipf_session_error(s));
        for (int k = 0; k < 3; k++) check_influencer(s, cfg, k);
        ipf_session_free(s);
    }
    ipf_model_free(m);
}

TEST(profiler_golden_paper) { check_set("paper"); }
TEST(profiler_golden_small) { check_set("small"); }

TEST(profiler_model_queries) {
    ipf_model *m = load_bundle("paper");
    REQUIRE(m);
    int64_t v = 0;
    const struct {
        ipf_dim d;
        int64_t want;
    } dims[] = {{IPF_DIM_IMAGE_POOL, 2048}, {IPF_DIM_IMAGE, 1024},           {IPF_DIM_TEXT, 768},
                {IPF_DIM_POST, 256},        {IPF_DIM_INFLUENCER_CLASSES, 8}, {IPF_DIM_POST_CLASSES, 10}};
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++) {
        CHECK_OK(ipf_model_dim(m, dims[i].d, &v), ipf_last_error());
        CHECK_EQ_INT(v, dims[i].want);
    }
    CHECK_EQ_INT(ipf_model_dim(m, IPF_DIM_MAX_TOKENS, &v), IPF_ERR_NOT_FOUND); /* no bert/ in this bundle */
    CHECK(strstr(ipf_last_error(), "text encoder") != NULL);
    CHECK_EQ_INT(ipf_model_dim(m, (ipf_dim)99, &v), IPF_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(ipf_model_dim(NULL, IPF_DIM_POST, &v), IPF_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(ipf_model_has(m, IPF_COMPONENT_PROFILER), 1);
    CHECK_EQ_INT(ipf_model_has(m, IPF_COMPONENT_TEXT_ENCODER), 0);
    CHECK_EQ_INT(ipf_model_has(m, IPF_COMPONENT_IMAGE_ENCODER), 0);
    CHECK_EQ_INT(ipf_model_has(m, IPF_COMPONENT_TOKENIZER), 0);
    CHECK_EQ_INT(ipf_model_has(NULL, IPF_COMPONENT_PROFILER), 0);
    CHECK_EQ_INT(ipf_model_has(m, (ipf_component)42), 0);
    const char *name = NULL;
    const char *topics[8] = {"beauty", "family", "fashion", "fitness", "food", "interior", "pet", "travel"};
    for (int i = 0; i < 8; i++) {
        CHECK_OK(ipf_model_class_name(m, IPF_HEAD_INFLUENCER, i, &name), ipf_last_error());
        CHECK_STR_EQ(name, topics[i]);
        CHECK_OK(ipf_model_class_name(m, IPF_HEAD_POST, i, &name), ipf_last_error());
        CHECK_STR_EQ(name, topics[i]);
    }
    CHECK_OK(ipf_model_class_name(m, IPF_HEAD_POST, 8, &name), ipf_last_error());
    CHECK_STR_EQ(name, "product");
    CHECK_OK(ipf_model_class_name(m, IPF_HEAD_POST, 9, &name), ipf_last_error());
    CHECK_STR_EQ(name, "other");
    CHECK_EQ_INT(ipf_model_class_name(m, IPF_HEAD_INFLUENCER, 8, &name), IPF_ERR_NOT_FOUND);
    CHECK(name == NULL && strstr(ipf_last_error(), "index 8") != NULL);
    CHECK_EQ_INT(ipf_model_class_name(m, IPF_HEAD_POST, -1, &name), IPF_ERR_NOT_FOUND);
    CHECK_EQ_INT(ipf_model_class_name(m, (ipf_head)5, 0, &name), IPF_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(ipf_model_class_name(m, IPF_HEAD_POST, 0, NULL), IPF_ERR_INVALID_ARGUMENT);
    ipf_model_free(m);

    m = load_bundle("small");
    REQUIRE(m);
    CHECK_OK(ipf_model_dim(m, IPF_DIM_TEXT, &v), ipf_last_error());
    CHECK_EQ_INT(v, 16);
    CHECK_OK(ipf_model_class_name(m, IPF_HEAD_INFLUENCER, 2, &name), ipf_last_error());
    CHECK_STR_EQ(name, "birds");
    /* image preprocessing config from the file reaches the image part */
    const image_cfg *ic = m->part[IPF_PART_IMAGE_CFG];
    REQUIRE(ic);
    CHECK(ic->resize_short == 256 && ic->crop == 224 && ic->mean[0] == 0.5f && ic->std[2] == 0.25f);
    const prof_model *pm = m->part[IPF_PART_PROFILER];
    CHECK_EQ_INT(pm->cfg.transform_input, 0);
    ipf_model_free(m);
}

/* The error a file in goldens/profiler/bad gives, and a word its message must hold. */
static void check_bad_file(const char *file, ipf_status want, const char *word) {
    char rel[128];
    snprintf(rel, sizeof rel, "profiler/bad/%s", file);
    const char *p = test_golden_path(rel);
    if (!p) {
        FAILF("golden %s missing (run make gen)", rel);
        return;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s", p);
    prof_model *m = (prof_model *)1;
    ipf_err e = {{0}};
    ipf_status st = prof_load(path, &m, &e);
    CHECK_EQ_INT(st, want);
    CHECK(m == NULL);
    if (!strstr(e.msg, path) || !strstr(e.msg, word)) FAILF("%s: message '%s' lacks the path or '%s'", file, e.msg, word);
}

TEST(profiler_bad_files) {
    check_bad_file("crc.safetensors", IPF_ERR_CHECKSUM, "CRC-32");
    check_bad_file("format.safetensors", IPF_ERR_FORMAT, "format");
    check_bad_file("version.safetensors", IPF_ERR_UNSUPPORTED, "format_version");
    check_bad_file("shape.safetensors", IPF_ERR_SHAPE, "post_proj.weight");
    check_bad_file("names.safetensors", IPF_ERR_FORMAT, "influencer_classes[7]");

    ipf_model *m = (ipf_model *)1;
    CHECK_EQ_INT(ipf_model_load("/nonexistent/bundle", &m), IPF_ERR_IO);
    CHECK(m == NULL && strstr(ipf_last_error(), "/nonexistent/bundle") != NULL);
    CHECK_EQ_INT(ipf_model_load(NULL, &m), IPF_ERR_INVALID_ARGUMENT);
    CHECK(strstr(ipf_last_error(), "bundle_dir") != NULL);
    CHECK_EQ_INT(ipf_model_load("/tmp", NULL), IPF_ERR_INVALID_ARGUMENT);
    const char *bad = test_golden_path("profiler/bad"); /* a directory without profiler.safetensors */
    REQUIRE(bad);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", bad);
    CHECK_EQ_INT(ipf_model_load(dir, &m), IPF_ERR_IO);
    CHECK(strstr(ipf_last_error(), "profiler.safetensors") != NULL);
}

TEST(profiler_save_roundtrip) {
    prof_config c;
    prof_config_default(&c);
    c.img_pool = 30, c.img_dim = 20, c.text_dim = 10, c.post_dim = 8, c.att_dim = 6, c.head_hidden = 5;
    c.n_inf = 3;
    snprintf(c.inf_names[2], PROF_CLASS_NAME_CAP, "caf\xc3\xa9 \"quoted\"");
    c.image.crop = 100;
    c.transform_input = 0;
    prof_model *a = NULL, *b = NULL;
    ipf_err e = {{0}};
    CHECK_OK(prof_create(&c, 42, &a, &e), e.msg);
    REQUIRE(a);
    /* nn.Linear init bound for img_proj: 1/sqrt(30) */
    float mx = 0;
    for (size_t i = 0; i < a->lay.size[PT_IMG_W]; i++) mx = fmaxf(mx, fabsf(prof_param(a, PT_IMG_W)[i]));
    CHECK(mx > 0.1f && mx <= 1.0f / sqrtf(30.0f));
    char path[] = "/tmp/ipf_test_prof_XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    close(fd);
    CHECK_OK(prof_save(path, &c, a->params, NULL, 0, &e), e.msg);
    CHECK_OK(prof_load(path, &b, &e), e.msg);
    REQUIRE(b);
    CHECK(b->lay.total == a->lay.total);
    for (int t = 0; t < PT_COUNT_; t++)
        CHECK(memcmp(prof_param(a, (prof_tensor)t), prof_param(b, (prof_tensor)t), a->lay.size[t] * sizeof(float)) == 0);
    CHECK_STR_EQ(b->cfg.inf_names[2], c.inf_names[2]);
    CHECK_STR_EQ(b->cfg.post_names[9], "other");
    CHECK(b->cfg.image.crop == 100 && b->cfg.image.resize_short == 342 && b->cfg.transform_input == 0);
    CHECK(b->cfg.image.mean[1] == 0.456f && b->cfg.image.std[0] == 0.229f);
    prof_free(b);
    b = NULL;
    /* flip one byte near the end of the data area: checksum error naming the file */
    FILE *f = fopen(path, "r+b");
    REQUIRE(f);
    fseek(f, -3, SEEK_END);
    int ch = fgetc(f);
    fseek(f, -3, SEEK_END);
    fputc(ch ^ 0x40, f);
    fclose(f);
    CHECK_EQ_INT(prof_load(path, &b, &e), IPF_ERR_CHECKSUM);
    CHECK(strstr(e.msg, path) != NULL);
    unlink(path);
    prof_free(a);
    /* invalid configurations are refused by name */
    c.n_post = 0;
    CHECK_EQ_INT(prof_create(&c, 1, &a, &e), IPF_ERR_FORMAT);
    CHECK(strstr(e.msg, "post_classes") != NULL);
}

TEST(profiler_layout) {
    prof_config c;
    prof_config_default(&c);
    prof_layout l;
    prof_layout_init(&l, &c);
    CHECK_STR_EQ(prof_tensor_name(PT_POST_W), "post_proj.weight");
    CHECK_STR_EQ(prof_tensor_name(PT_ATT_C), "attention.context");
    CHECK(l.shape[PT_POST_W][0] == 256 && l.shape[PT_POST_W][1] == 1024 + 768);
    CHECK(l.ndim[PT_ATT_C] == 1 && l.size[PT_ATT_C] == 256);
    size_t sum = 0;
    for (int t = 0; t < PT_COUNT_; t++) {
        CHECK(l.offset[t] % 16 == 0);
        if (t) CHECK(l.offset[t] >= l.offset[t - 1] + l.size[t - 1]);
        sum += l.size[t];
    }
    CHECK(l.total >= sum && l.total < sum + 16 * PT_COUNT_);
}

/* A bundle whose bert/ holds only a tokenizer: vocab.txt (WordPiece) or
 * spiece.model (SentencePiece); no text encoder. */
TEST(profiler_bundle_tokenizer_only) {
    const char *g = test_golden_path("profiler/small/profiler.safetensors");
    if (!g) {
        FAILF("golden profiler/small missing (run make gen)");
        return;
    }
    char prof[PATH_MAX], src[PATH_MAX], dir[] = "/tmp/ipf_test_bundle_XXXXXX", path[PATH_MAX + 64];
    REQUIRE(realpath(g, prof)); /* symlink targets must be absolute */
    REQUIRE(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/profiler.safetensors", dir);
    REQUIRE(symlink(prof, path) == 0);
    snprintf(path, sizeof path, "%s/bert", dir);
    REQUIRE(mkdir(path, 0755) == 0);
    const char *spm = test_shared_path("data/spm-test.model");
    ipf_model *m = NULL;
    int64_t v = 0;
    if (spm) {
        REQUIRE(realpath(spm, src));
        snprintf(path, sizeof path, "%s/bert/spiece.model", dir);
        REQUIRE(symlink(src, path) == 0);
        CHECK_OK(ipf_model_load(dir, &m), ipf_last_error());
        CHECK_EQ_INT(ipf_model_has(m, IPF_COMPONENT_TOKENIZER), 1);
        CHECK_EQ_INT(ipf_model_has(m, IPF_COMPONENT_TEXT_ENCODER), 0);
        CHECK_OK(ipf_model_dim(m, IPF_DIM_VOCAB, &v), ipf_last_error());
        CHECK(v > 100);
        ipf_model_free(m);
        unlink(path);
    }
    snprintf(path, sizeof path, "%s/bert/vocab.txt", dir);
    FILE *f = fopen(path, "w");
    REQUIRE(f);
    fputs("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\n", f);
    fclose(f);
    CHECK_OK(ipf_model_load(dir, &m), ipf_last_error());
    CHECK_EQ_INT(ipf_model_has(m, IPF_COMPONENT_TOKENIZER), 1);
    CHECK_OK(ipf_model_dim(m, IPF_DIM_VOCAB, &v), ipf_last_error());
    CHECK_EQ_INT(v, 6);
    ipf_model_free(m);
    /* a broken bert/config.json is an error naming it, not silently skipped */
    snprintf(path, sizeof path, "%s/bert/config.json", dir);
    f = fopen(path, "w");
    REQUIRE(f);
    fputs("{\"hidden_size\": 16", f);
    fclose(f);
    m = (ipf_model *)1;
    CHECK(ipf_model_load(dir, &m) != IPF_OK);
    CHECK(m == NULL && strstr(ipf_last_error(), "config.json") != NULL);
    unlink(path);
    snprintf(path, sizeof path, "%s/bert/vocab.txt", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/bert", dir);
    rmdir(path);
    snprintf(path, sizeof path, "%s/profiler.safetensors", dir);
    unlink(path);
    rmdir(dir);
}
