/* test_profiler_e2e.c — the whole pipeline from raw posts (captions, PNG
 * files) through a complete bundle (small BERT, random Inception-v3, heads)
 * against a float64 PyTorch reference (tests/gen/profiler_e2e.py).
 *
 * Tolerances (|a-b| <= atol + rtol*|b|), float32 against float64, with the
 * worst errors measured when this test was written:
 *   x_T  (2-layer BERT, values ~1):                 4.8e-7  -> atol 1e-4
 *   pool (94 float32 convolutions, values ~0.1-1):  5.6e-5  -> atol 1e-4 + rtol 1e-3
 *   v (carries the pool error through two Linear):  4.4e-6  -> atol 1e-4
 *   probabilities 5e-8, alpha 4e-7                          -> atol 1e-4
 * Skipped under IPF_TEST_LIGHT (a full-size Inception-v3 under ASan is slow). */
#include "inception.h"
#include "influencer_profiler.h"
#include "profiler.h"
#include "test.h"
#include "test_util.h"

#include <limits.h>
#include <unistd.h>

#define P 4

static float *golden(const char *name, size_t want) {
    char rel[128];
    snprintf(rel, sizeof rel, "profiler_e2e/%s.npy", name);
    return tu_golden_f32(rel, want);
}

TEST(profiler_e2e_raw_posts) {
    const char *light = getenv("IPF_TEST_LIGHT");
    if (light && *light && strcmp(light, "0")) SKIP("IPF_TEST_LIGHT: full-size Inception-v3");
    char dir[2048], img[P][2100];
    ipf_model *m = tu_load_e2e_bundle(dir, sizeof dir);
    if (!m) return;
    CHECK(ipf_model_has(m, IPF_COMPONENT_TEXT_ENCODER) && ipf_model_has(m, IPF_COMPONENT_IMAGE_ENCODER) &&
          ipf_model_has(m, IPF_COMPONENT_TOKENIZER) && ipf_model_has(m, IPF_COMPONENT_PROFILER));
    int64_t X, E, D, Ci, Cp;
    ipf_model_dim(m, IPF_DIM_TEXT, &X);
    ipf_model_dim(m, IPF_DIM_IMAGE_POOL, &E);
    ipf_model_dim(m, IPF_DIM_POST, &D);
    ipf_model_dim(m, IPF_DIM_INFLUENCER_CLASSES, &Ci);
    ipf_model_dim(m, IPF_DIM_POST_CLASSES, &Cp);
    float *xt = golden("xt", (size_t)(P * X)), *pool = golden("pool", (size_t)(P * E)), *v = golden("v", (size_t)(P * D)),
          *pp = golden("post_probs", (size_t)(P * Cp)), *alpha = golden("alpha", P),
          *ip = golden("inf_probs", (size_t)Ci);
    if (!xt || !pool || !v || !pp || !alpha || !ip) {
        FAILF("golden profiler_e2e/*.npy missing or mis-shaped (run make gen)");
        goto out;
    }
    /* the posts of tests/gen/profiler_e2e.py */
    const char *captions[P] = {"Fresh pasta with basil, tomatoes and olive oil! #food",
                               "Morning run by the lake: 10k done.", NULL, "Sunset over the mountains, what a view"};
    const char *images[P] = {"img0.png", NULL, "img1.png", "img2.png"};
    ipf_post posts[P];
    memset(posts, 0, sizeof posts);
    for (int i = 0; i < P; i++) {
        posts[i].struct_size = sizeof(ipf_post);
        posts[i].caption = captions[i];
        posts[i].caption_len = captions[i] ? strlen(captions[i]) : 0;
        if (images[i]) {
            snprintf(img[i], sizeof img[i], "%s/%s", dir, images[i]);
            posts[i].image_path = img[i];
        }
    }
    ipf_session *s = NULL;
    CHECK_OK(ipf_session_create(m, &s), ipf_last_error());
    float *tf = malloc(sizeof(float) * (size_t)(P * X)), *imf = malloc(sizeof(float) * (size_t)(P * E)),
          *pv = malloc(sizeof(float) * (size_t)(P * D));
    for (int i = 0; i < P; i++)
        CHECK_OK(ipf_session_encode_post(s, &posts[i], tf + i * X, imf + i * E, pv + i * D), ipf_session_error(s));
    CHECK_CLOSE(tf, xt, (size_t)(P * X), 1e-4, 1e-4);
    CHECK_CLOSE(imf, pool, (size_t)(P * E), 1e-4, 1e-3);
    CHECK_CLOSE(pv, v, (size_t)(P * D), 1e-4, 1e-4);

    float got_ip[64], got_pp[P * 64], got_a[P];
    CHECK_OK(ipf_session_profile(s, posts, P, got_ip, got_pp, got_a), ipf_session_error(s));
    CHECK_CLOSE(got_ip, ip, (size_t)Ci, 1e-4, 1e-4);
    CHECK_CLOSE(got_pp, pp, (size_t)(P * Cp), 1e-4, 1e-4);
    CHECK_CLOSE(got_a, alpha, P, 1e-4, 1e-4);

    /* 20 posts: 9 images (Inception batches of 8 + 1) and 17 captions (BERT
     * batches of 16 + 1); each post's class probabilities as alone */
    {
        enum { NB = 20 };
        ipf_post many[NB];
        int src[NB];
        for (int i = 0; i < NB; i++) {
            src[i] = i < 12 ? i % P : 1; /* the last 8: caption-only post 1 */
            many[i] = posts[src[i]];
        }
        float *mpp = malloc(sizeof(float) * (size_t)(NB * Cp)), mip[64];
        CHECK_OK(ipf_session_profile(s, many, NB, mip, mpp, NULL), ipf_session_error(s));
        for (int i = 0; i < NB; i++) CHECK_CLOSE(mpp + i * Cp, pp + src[i] * Cp, (size_t)Cp, 1e-4, 1e-4);
        free(mpp);
    }

    /* the same image from memory gives bit-identical features */
    size_t len = 0;
    void *bytes = test_read_file(img[0], &len);
    REQUIRE(bytes);
    ipf_post mem = posts[0];
    mem.image_path = NULL;
    mem.image_data = bytes;
    mem.image_len = len;
    float *imf2 = malloc(sizeof(float) * (size_t)E);
    CHECK_OK(ipf_session_encode_post(s, &mem, NULL, imf2, NULL), ipf_session_error(s));
    CHECK(memcmp(imf2, imf, sizeof(float) * (size_t)E) == 0);
    /* an unreadable image is named */
    mem.image_data = "not an image";
    mem.image_len = 12;
    CHECK_EQ_INT(ipf_session_encode_post(s, &mem, NULL, NULL, pv), IPF_ERR_IMAGE);
    CHECK(strstr(ipf_session_error(s), "post") != NULL);
    mem.image_data = NULL;
    mem.image_path = "/nonexistent/x.png";
    CHECK_EQ_INT(ipf_session_encode_post(s, &mem, NULL, NULL, pv), IPF_ERR_NOT_FOUND);
    CHECK(strstr(ipf_session_error(s), "/nonexistent/x.png") != NULL);
    free(bytes);
    free(imf2);
    free(tf);
    free(imf);
    free(pv);
    ipf_session_free(s);
out:
    free(xt);
    free(pool);
    free(v);
    free(pp);
    free(alpha);
    free(ip);
    ipf_model_free(m);
}

/* Fine-tuned encoder layers in profiler.safetensors ("inception.*" and
 * "bert.*", as the trainer saves them) replace the encoders' at load. */
static int write_finetuned_bundle(const char *src, const char *dst, const ipf_model *m, int zero_7c, int bad_count) {
    char a[PATH_MAX], b[PATH_MAX + 64];
    for (int i = 0; i < 2; i++) {
        const char *sub = i ? "inception" : "bert";
        snprintf(b, sizeof b, "%s/%s", src, sub);
        if (!realpath(b, a)) return -1;
        snprintf(b, sizeof b, "%s/%s", dst, sub);
        unlink(b);
        if (symlink(a, b)) return -1;
    }
    inception_train *t = NULL;
    ipf_err e = {{0}};
    if (inception_train_create(m->part[IPF_PART_INCEPTION], 2, &t, &e)) return -1;
    size_t n = inception_train_count(t);
    st_wtensor *w = calloc(n + 2, sizeof *w);
    char *names = calloc(n, 128);
    float zeros_ln[64] = {0}; /* BERT hidden is 48 here */
    float *params = inception_train_params(t);
    for (size_t i = 0; i < n; i++) {
        const char *name;
        size_t off, count;
        inception_train_tensor(t, i, &name, &off, &count);
        snprintf(names + i * 128, 128, "inception.%s", name);
        if (zero_7c && !strncmp(name, "Mixed_7c.", 9)) memset(params + off, 0, count * sizeof(float));
        w[i] = (st_wtensor){.name = names + i * 128, .ndim = 1, .shape = {(int64_t)count - (bad_count && i == 0)},
                            .data = params + off};
    }
    if (zero_7c) { /* BERT's last LayerNorm zeroed too: x_T = 0 exactly */
        w[n++] = (st_wtensor){.name = "bert.encoder.layer.1.output.LayerNorm.weight", .ndim = 1, .shape = {48},
                              .data = zeros_ln};
        w[n++] = (st_wtensor){.name = "bert.encoder.layer.1.output.LayerNorm.bias", .ndim = 1, .shape = {48},
                              .data = zeros_ln};
    }
    const prof_model *pm = m->part[IPF_PART_PROFILER];
    snprintf(b, sizeof b, "%s/profiler.safetensors", dst);
    ipf_status st = prof_save(b, &pm->cfg, pm->params, w, n, &e);
    free(w);
    free(names);
    inception_train_free(t);
    return st ? -1 : 0;
}

TEST(profiler_e2e_finetuned_encoders) {
    const char *light = getenv("IPF_TEST_LIGHT");
    if (light && *light && strcmp(light, "0")) SKIP("IPF_TEST_LIGHT: full-size Inception-v3");
    char d[2048], src[2100], img[2100], dir[] = "/tmp/ipf_test_ft_XXXXXX";
    ipf_model *m = tu_load_e2e_bundle(d, sizeof d), *m2 = NULL;
    if (!m) return;
    snprintf(src, sizeof src, "%s/bundle", d);
    snprintf(img, sizeof img, "%s/img0.png", d);
    REQUIRE(mkdtemp(dir));
    ipf_post p = {.struct_size = sizeof(ipf_post), .image_path = img};
    float *base = malloc(2048 * sizeof(float)), *got = malloc(2048 * sizeof(float)), *zero = calloc(2048, sizeof(float));
    ipf_session *s = NULL;
    CHECK_OK(ipf_session_create(m, &s), ipf_last_error());
    CHECK_OK(ipf_session_encode_post(s, &p, NULL, base, NULL), ipf_session_error(s));
    ipf_session_free(s);
    /* the same values: the same features (re-packed weights may round differently: 1e-5) */
    REQUIRE(write_finetuned_bundle(src, dir, m, 0, 0) == 0);
    CHECK_OK(ipf_model_load(dir, &m2), ipf_last_error());
    if (m2) {
        CHECK_OK(ipf_session_create(m2, &s), ipf_last_error());
        CHECK_OK(ipf_session_encode_post(s, &p, NULL, got, NULL), ipf_session_error(s));
        CHECK_CLOSE(got, base, 2048, 1e-5, 1e-5);
        ipf_session_free(s);
        ipf_model_free(m2);
        m2 = NULL;
    }
    /* Mixed_7c all zero: every Mixed_7c output is ReLU(0), so the pool is 0;
     * BERT's last LayerNorm zero: x_T is 0 */
    REQUIRE(write_finetuned_bundle(src, dir, m, 1, 0) == 0);
    CHECK_OK(ipf_model_load(dir, &m2), ipf_last_error());
    if (m2) {
        CHECK_OK(ipf_session_create(m2, &s), ipf_last_error());
        CHECK_OK(ipf_session_encode_post(s, &p, NULL, got, NULL), ipf_session_error(s));
        CHECK_CLOSE(got, zero, 2048, 0, 0);
        ipf_post cap = {.struct_size = sizeof(ipf_post), .caption = "fresh pasta", .caption_len = 11};
        float xt[48];
        CHECK_OK(ipf_session_encode_post(s, &cap, xt, NULL, NULL), ipf_session_error(s));
        CHECK_CLOSE(xt, zero, 48, 0, 0);
        ipf_session_free(s);
        ipf_model_free(m2);
        m2 = NULL;
    }
    /* a tensor of the wrong size is refused by name */
    REQUIRE(write_finetuned_bundle(src, dir, m, 0, 1) == 0);
    CHECK_EQ_INT(ipf_model_load(dir, &m2), IPF_ERR_SHAPE);
    CHECK(m2 == NULL && strstr(ipf_last_error(), "inception.Mixed_7b") != NULL);
    char path[PATH_MAX + 64];
    const char *subs[] = {"bert", "inception", "profiler.safetensors"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, subs[i]);
        unlink(path);
    }
    rmdir(dir);
    free(base);
    free(got);
    free(zero);
    ipf_model_free(m);
}
