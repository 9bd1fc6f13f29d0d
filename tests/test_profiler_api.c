/* test_profiler_api.c — every bad input to the profiler API gives a status
 * and a message naming the offending thing; missing modalities are zeros. */
#include "influencer_profiler.h"
#include "test.h"

typedef struct fixture {
    ipf_model *m;
    ipf_session *s;
    float *xt, *pool; /* 3 posts of features */
    ipf_post posts[3];
    int64_t X, E, D, Ci, Cp;
} fixture;

static int fixture_open(fixture *f) {
    memset(f, 0, sizeof *f);
    const char *dir = test_golden_path("profiler/small");
    if (!dir) return 0;
    if (ipf_model_load(dir, &f->m) || ipf_session_create(f->m, &f->s)) return 0;
    ipf_model_dim(f->m, IPF_DIM_TEXT, &f->X);
    ipf_model_dim(f->m, IPF_DIM_IMAGE_POOL, &f->E);
    ipf_model_dim(f->m, IPF_DIM_POST, &f->D);
    ipf_model_dim(f->m, IPF_DIM_INFLUENCER_CLASSES, &f->Ci);
    ipf_model_dim(f->m, IPF_DIM_POST_CLASSES, &f->Cp);
    f->xt = calloc((size_t)(3 * f->X), sizeof(float));
    f->pool = calloc((size_t)(3 * f->E), sizeof(float));
    for (int64_t i = 0; i < 3 * f->X; i++) f->xt[i] = (float)sin((double)i);
    for (int64_t i = 0; i < 3 * f->E; i++) f->pool[i] = (float)(0.5 + 0.5 * cos((double)i));
    for (int i = 0; i < 3; i++) {
        f->posts[i].struct_size = sizeof(ipf_post);
        f->posts[i].text_feature = f->xt + i * f->X;
        f->posts[i].image_feature = f->pool + i * f->E;
    }
    return 1;
}

static void fixture_close(fixture *f) {
    ipf_session_free(f->s);
    ipf_model_free(f->m);
    free(f->xt);
    free(f->pool);
}

#define CHECK_ERR(expr, status, word, msg)                                                           \
    do {                                                                                             \
        int st2_ = (int)(expr);                                                                      \
        const char *m2_ = (msg);                                                                     \
        if (st2_ != (int)(status) || !strstr(m2_, (word)))                                           \
            FAILF("%s: status %d (want %d), message '%s' (want '%s' in it)", #expr, st2_, (int)(status), \
                  m2_, (word));                                                                      \
    } while (0)

TEST(profiler_api_bad_inputs) {
    fixture f;
    if (!fixture_open(&f)) {
        FAILF("golden bundle profiler/small missing or unreadable (run make gen): %s", ipf_last_error());
        return;
    }
    ipf_session *s = f.s;
    float probs[64], vec[64], alpha[16], pv[3 * 64];
    const char *err = NULL;

    /* NULL session: thread-local message */
    CHECK_ERR(ipf_session_profile(NULL, f.posts, 3, probs, NULL, NULL), IPF_ERR_INVALID_ARGUMENT, "session is NULL",
              ipf_last_error());
    CHECK_ERR(ipf_session_encode_post(NULL, f.posts, NULL, NULL, vec), IPF_ERR_INVALID_ARGUMENT, "session",
              ipf_last_error());
    CHECK_ERR(ipf_session_pool(NULL, pv, 1, vec, NULL, 0), IPF_ERR_INVALID_ARGUMENT, "session", ipf_last_error());

    err = ipf_session_error(s);
    CHECK_ERR(ipf_session_profile(s, NULL, 3, probs, NULL, NULL), IPF_ERR_INVALID_ARGUMENT, "posts is NULL", err);
    CHECK_ERR(ipf_session_profile(s, f.posts, 0, probs, NULL, NULL), IPF_ERR_INVALID_ARGUMENT, "n is 0", err);
    CHECK_ERR(ipf_session_profile(s, f.posts, 3, NULL, NULL, NULL), IPF_ERR_INVALID_ARGUMENT, "inf_probs", err);
    CHECK_ERR(ipf_session_encode_post(s, NULL, NULL, NULL, vec), IPF_ERR_INVALID_ARGUMENT, "post is NULL", err);
    CHECK_ERR(ipf_session_encode_posts(s, f.posts, 3, NULL, 0), IPF_ERR_INVALID_ARGUMENT, "post_vecs", err);
    CHECK_ERR(ipf_session_encode_posts(s, f.posts, 3, pv, (size_t)(3 * f.D - 1)), IPF_ERR_BUFFER_TOO_SMALL,
              "post_vecs holds", err);
    CHECK_ERR(ipf_session_classify_post(s, NULL, probs, 64), IPF_ERR_INVALID_ARGUMENT, "post_vec", err);
    CHECK_ERR(ipf_session_classify_post(s, vec, probs, (size_t)f.Cp - 1), IPF_ERR_BUFFER_TOO_SMALL, "probs", err);
    CHECK_ERR(ipf_session_classify_influencer(s, vec, NULL, 64), IPF_ERR_INVALID_ARGUMENT, "probs", err);
    CHECK_ERR(ipf_session_classify_influencer(s, vec, probs, (size_t)f.Ci - 1), IPF_ERR_BUFFER_TOO_SMALL, "probs",
              err);
    CHECK_OK(ipf_session_encode_posts(s, f.posts, 3, pv, sizeof pv / sizeof pv[0]), ipf_session_error(s));
    CHECK_ERR(ipf_session_pool(s, pv, 0, vec, NULL, 0), IPF_ERR_INVALID_ARGUMENT, "n is 0", err);
    CHECK_ERR(ipf_session_pool(s, pv, 3, NULL, NULL, 0), IPF_ERR_INVALID_ARGUMENT, "influencer_vec", err);
    CHECK_ERR(ipf_session_pool(s, pv, 3, vec, alpha, 2), IPF_ERR_BUFFER_TOO_SMALL, "alpha", err);
    CHECK_OK(ipf_session_pool(s, pv, 3, vec, NULL, 0), ipf_session_error(s)); /* alpha may be NULL */

    /* struct_size too small (an older or garbage struct) */
    ipf_post p = f.posts[1];
    p.struct_size = sizeof(size_t);
    ipf_post ps[3] = {f.posts[0], p, f.posts[2]};
    CHECK_ERR(ipf_session_profile(s, ps, 3, probs, NULL, NULL), IPF_ERR_INVALID_ARGUMENT, "posts[1]: struct_size",
              err);
    /* neither modality */
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    ps[1] = p;
    CHECK_ERR(ipf_session_profile(s, ps, 3, probs, NULL, NULL), IPF_ERR_INVALID_ARGUMENT,
              "posts[1]: has neither a caption nor an image", err);
    /* non-finite cached features, named with their index */
    float *bad = malloc((size_t)f.E * sizeof(float));
    memcpy(bad, f.pool, (size_t)f.E * sizeof(float));
    bad[5] = NAN;
    ps[1] = f.posts[1];
    ps[1].image_feature = bad;
    CHECK_ERR(ipf_session_profile(s, ps, 3, probs, NULL, NULL), IPF_ERR_NUMERIC, "posts[1]: image_feature[5]", err);
    bad[5] = INFINITY;
    CHECK_ERR(ipf_session_encode_post(s, &ps[1], NULL, NULL, vec), IPF_ERR_NUMERIC, "post: image_feature[5]", err);
    free(bad);
    float nanvec[64];
    memcpy(nanvec, pv, sizeof nanvec);
    nanvec[3] = NAN;
    CHECK_ERR(ipf_session_classify_post(s, nanvec, probs, 64), IPF_ERR_NUMERIC, "post_vec[3]", err);
    CHECK_ERR(ipf_session_classify_influencer(s, nanvec, probs, 64), IPF_ERR_NUMERIC, "influencer_vec[3]", err);
    CHECK_ERR(ipf_session_pool(s, nanvec, 1, vec, NULL, 0), IPF_ERR_NUMERIC, "post_vecs[3]", err);
    /* raw inputs without the encoders: the missing component is named */
    ps[1] = f.posts[1];
    ps[1].text_feature = NULL;
    ps[1].caption = "hello";
    ps[1].caption_len = 5;
    CHECK_ERR(ipf_session_profile(s, ps, 3, probs, NULL, NULL), IPF_ERR_NOT_FOUND, "no text encoder", err);
    ps[1] = f.posts[1];
    ps[1].image_feature = NULL;
    ps[1].image_path = "/nonexistent.jpg";
    CHECK_ERR(ipf_session_profile(s, ps, 3, probs, NULL, NULL), IPF_ERR_NOT_FOUND, "no image encoder", err);
    ps[1].image_path = NULL;
    ps[1].image_data = "x";
    ps[1].image_len = 0;
    CHECK_ERR(ipf_session_profile(s, ps, 3, probs, NULL, NULL), IPF_ERR_INVALID_ARGUMENT, "image_len 0", err);

    /* the session still works after all that */
    CHECK_OK(ipf_session_profile(s, f.posts, 3, probs, NULL, alpha), ipf_session_error(s));
    fixture_close(&f);
}

TEST(profiler_api_missing_modality_is_zero) {
    fixture f;
    if (!fixture_open(&f)) {
        FAILF("golden bundle profiler/small missing or unreadable (run make gen): %s", ipf_last_error());
        return;
    }
    float *zx = calloc((size_t)f.X, sizeof(float)), *ze = calloc((size_t)f.E, sizeof(float));
    float a[64], b[64], tf[64], imf[64];
    ipf_post p = f.posts[0];
    p.text_feature = NULL; /* image only */
    CHECK_OK(ipf_session_encode_post(f.s, &p, tf, imf, a), ipf_session_error(f.s));
    p.text_feature = zx;
    CHECK_OK(ipf_session_encode_post(f.s, &p, NULL, NULL, b), ipf_session_error(f.s));
    CHECK(memcmp(a, b, (size_t)f.D * sizeof(float)) == 0);
    CHECK(memcmp(tf, zx, (size_t)f.X * sizeof(float)) == 0); /* the zero text feature is handed back */
    p = f.posts[0];
    p.image_feature = NULL; /* text only */
    CHECK_OK(ipf_session_encode_post(f.s, &p, NULL, NULL, a), ipf_session_error(f.s));
    p.image_feature = ze;
    CHECK_OK(ipf_session_encode_post(f.s, &p, NULL, NULL, b), ipf_session_error(f.s));
    CHECK(memcmp(a, b, (size_t)f.D * sizeof(float)) == 0);
    /* a larger struct_size (a newer caller) is accepted */
    ipf_post big[2];
    memset(big, 0, sizeof big);
    big[0] = f.posts[0];
    big[0].struct_size = sizeof(ipf_post) + 16;
    CHECK_OK(ipf_session_encode_post(f.s, &big[0], NULL, NULL, a), ipf_session_error(f.s));
    /* features only: no post_vec requested */
    CHECK_OK(ipf_session_encode_post(f.s, &f.posts[2], tf, NULL, NULL), ipf_session_error(f.s));
    CHECK(memcmp(tf, f.xt + 2 * f.X, (size_t)f.X * sizeof(float)) == 0);
    /* profile of one post: alpha is exactly 1 */
    float probs[64], alpha[1] = {0}, pp[64];
    CHECK_OK(ipf_session_profile(f.s, f.posts, 1, probs, pp, alpha), ipf_session_error(f.s));
    CHECK(alpha[0] == 1.0f);
    double sum = 0;
    for (int i = 0; i < f.Ci; i++) sum += probs[i];
    CHECK(fabs(sum - 1) < 1e-5);
    free(zx);
    free(ze);
    fixture_close(&f);
}
