/* profiler_api.c — the public profiler calls: encode posts (cached features
 * or raw caption / image through the encoders), classify posts, attention
 * pooling, classify influencers, and all of it in one call.
 * Letters: P posts, E image pool width, X text width, D post width,
 * A attention width, H head hidden, C_i / C_p classes. */
#include "bert.h"
#include "image.h"
#include "inception.h"
#include "profiler.h"
#include "tokenizer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_IDS 512 /* IPF_OPT_MAX_TOKENS' upper bound */

/* Per-session scratch, grown on demand: BATCH for a call's activations,
 * IMAGE for preprocessed images and AUX for encoder outputs (both used while
 * BATCH is live). */
enum { SCRATCH_BATCH, SCRATCH_IMAGE, SCRATCH_AUX, SCRATCH_COUNT_ };
typedef struct prof_scratch {
    float *buf[SCRATCH_COUNT_];
    size_t cap[SCRATCH_COUNT_];
} prof_scratch;

static void scratch_free(void *p) {
    prof_scratch *s = p;
    if (!s) return;
    for (int i = 0; i < SCRATCH_COUNT_; i++) free(s->buf[i]);
    free(s);
}

static float *scratch_get(ipf_session *s, int slot, size_t n) {
    prof_scratch *sc = s->state[IPF_PART_PROFILER];
    if (!sc) {
        sc = calloc(1, sizeof *sc);
        if (!sc) return NULL;
        ipf_session_set_state(s, IPF_PART_PROFILER, sc, scratch_free);
    }
    if (n > sc->cap[slot]) {
        float *p = ipf_malloc_array(n, sizeof(float));
        if (!p) return NULL;
        free(sc->buf[slot]);
        sc->buf[slot] = p;
        sc->cap[slot] = n;
    }
    return sc->buf[slot];
}

/* ---- argument checks ------------------------------------------------------ */

/* Session and profiler present; on success *pm is the profiler. */
static ipf_status need_profiler(ipf_session *s, const char *fn, const prof_model **pm) {
    if (!s) return ipf_fail(NULL, IPF_ERR_INVALID_ARGUMENT, "%s: session is NULL", fn);
    *pm = s->model->part[IPF_PART_PROFILER];
    if (!*pm)
        return ipf_fail(&s->err, IPF_ERR_NOT_FOUND, "%s: the model has no profiler (load a bundle with profiler.safetensors)",
                        fn);
    return IPF_OK;
}

static ipf_status check_finite(ipf_session *s, const float *x, size_t n, const char *fn, const char *what) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return ipf_fail(&s->err, IPF_ERR_NUMERIC, "%s: %s[%zu] is not finite (%g)", fn, what, i, (double)x[i]);
    return IPF_OK;
}

static ipf_status check_cap(ipf_session *s, size_t cap, size_t need, const char *fn, const char *what) {
    if (cap < need)
        return ipf_fail(&s->err, IPF_ERR_BUFFER_TOO_SMALL, "%s: %s holds %zu floats, needs %zu", fn, what, cap, need);
    return IPF_OK;
}

static ipf_status kernel_failed(ipf_session *s, const char *fn) {
    return ipf_fail(&s->err, IPF_ERR_BACKEND, "%s: %s", fn, s->kctx.err[0] ? s->kctx.err : "a kernel failed");
}

/* Start a call on n posts: *buf = nfloats floats of batch scratch. */
static ipf_status batch_scratch(ipf_session *s, size_t nfloats, size_t n, const char *fn, float **buf) {
    ipf_session_prepare(s);
    *buf = scratch_get(s, SCRATCH_BATCH, nfloats);
    if (!*buf) return ipf_fail(&s->err, IPF_ERR_OUT_OF_MEMORY, "%s: out of memory for %zu posts", fn, n);
    return IPF_OK;
}

/* Arguments of a classify call: `in` (post_dim floats, named in_name) finite,
 * probs with room for ncls; *hid = head scratch (head_hidden + ncls floats). */
static ipf_status classify_args(ipf_session *s, const prof_config *c, const float *in, const char *in_name,
                                const float *probs, size_t probs_cap, int ncls, const char *fn, float **hid) {
    ipf_status st;
    if (!in || !probs)
        return ipf_fail(&s->err, IPF_ERR_INVALID_ARGUMENT, "%s: %s is NULL", fn, in ? "probs" : in_name);
    if ((st = check_cap(s, probs_cap, (size_t)ncls, fn, "probs"))) return st;
    if ((st = check_finite(s, in, (size_t)c->post_dim, fn, in_name))) return st;
    ipf_session_prepare(s);
    *hid = scratch_get(s, SCRATCH_BATCH, (size_t)c->head_hidden + (size_t)ncls);
    if (!*hid) return ipf_fail(&s->err, IPF_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
    return IPF_OK;
}

/* Prefix the session's current message with `who` (e.g. "posts[3]"). */
static ipf_status prefix_error(ipf_session *s, ipf_status st, const char *who) {
    char msg[IPF_ERRMSG_CAP];
    snprintf(msg, sizeof msg, "%s", s->err.msg);
    return ipf_fail(&s->err, st, "%s: %s", who, msg);
}

/* ---- features of posts ---------------------------------------------------- */

static int64_t text_width(const ipf_model *m) {
    const prof_model *p = m->part[IPF_PART_PROFILER];
    const bert *b = m->part[IPF_PART_BERT];
    return p ? p->cfg.text_dim : b ? bert_get_config(b)->hidden : -1;
}

static int64_t pool_width(const ipf_model *m) {
    const prof_model *p = m->part[IPF_PART_PROFILER];
    return p ? p->cfg.img_pool : m->part[IPF_PART_INCEPTION] ? INCEPTION_POOL_DIM : -1;
}

#define TEXT_BATCH 16 /* captions per BERT call (ragged, so each costs its own length) */
#define IMAGE_BATCH 8 /* images per Inception call: 8 x 3x299x299 floats = 8.6 MB of scratch */

/* "fn: post" for the single-post call, "fn: posts[i]" otherwise. */
static void post_name(char *buf, size_t cap, const char *fn, size_t i, int single) {
    if (single) snprintf(buf, cap, "%s: post", fn);
    else snprintf(buf, cap, "%s: posts[%zu]", fn, i);
}

/* Validate one post and fill what needs no encoder: cached features (checked
 * finite) or zeros for a missing modality.  *raw receives what is left to
 * encode: 1 the caption, 2 the image. */
static ipf_status post_prepare(ipf_session *s, const ipf_post *p, const char *who, int64_t X, int64_t E, float *xt,
                               float *pool, int *raw) {
    *raw = 0;
    if (!p) return ipf_fail(&s->err, IPF_ERR_INVALID_ARGUMENT, "%s is NULL", who);
    if (p->struct_size < sizeof(ipf_post))
        return ipf_fail(&s->err, IPF_ERR_INVALID_ARGUMENT, "%s: struct_size %zu is smaller than sizeof(ipf_post) %zu",
                        who, p->struct_size, sizeof(ipf_post));
    int has_text = p->text_feature || p->caption, has_image = p->image_feature || p->image_data || p->image_path;
    if (!has_text && !has_image)
        return ipf_fail(&s->err, IPF_ERR_INVALID_ARGUMENT,
                        "%s: has neither a caption nor an image (nor cached features)", who);
    if (p->image_data && !p->image_len)
        return ipf_fail(&s->err, IPF_ERR_INVALID_ARGUMENT, "%s: image_data given with image_len 0", who);
    if (has_text && X < 0)
        return ipf_fail(&s->err, IPF_ERR_NOT_FOUND, "%s: the model has neither a profiler nor a text encoder", who);
    if (has_image && E < 0)
        return ipf_fail(&s->err, IPF_ERR_NOT_FOUND, "%s: the model has neither a profiler nor an image encoder", who);
    const ipf_model *m = s->model;
    ipf_status st;
    if (p->text_feature) {
        if ((st = check_finite(s, p->text_feature, (size_t)X, who, "text_feature"))) return st;
        memcpy(xt, p->text_feature, sizeof(float) * (size_t)X);
    } else if (p->caption) {
        if (!m->part[IPF_PART_TOKENIZER] || !m->part[IPF_PART_BERT])
            return ipf_fail(&s->err, IPF_ERR_NOT_FOUND,
                            "%s: has a caption but the model has no %s (bundle bert/); pass text_feature instead", who,
                            m->part[IPF_PART_BERT] ? "tokenizer" : "text encoder");
        *raw |= 1;
    } else if (X > 0) {
        memset(xt, 0, sizeof(float) * (size_t)X); /* no caption: a zero feature */
    }
    if (p->image_feature) {
        if ((st = check_finite(s, p->image_feature, (size_t)E, who, "image_feature"))) return st;
        memcpy(pool, p->image_feature, sizeof(float) * (size_t)E);
    } else if (has_image) {
        if (!m->part[IPF_PART_INCEPTION])
            return ipf_fail(&s->err, IPF_ERR_NOT_FOUND,
                            "%s: has an image but the model has no image encoder (bundle inception/); pass image_feature instead",
                            who);
        *raw |= 2;
    } else if (E > 0) {
        memset(pool, 0, sizeof(float) * (size_t)E); /* no image: a zero feature */
    }
    return IPF_OK;
}

/* BERT [CLS] vectors of the captions of posts[idx[0..m)] into rows idx[j] of xt (n,X). */
static ipf_status encode_captions(ipf_session *s, const ipf_post *posts, const size_t *idx, size_t m, int64_t X,
                                  float *xt, const char *fn, int single) {
    const tokenizer *tk = s->model->part[IPF_PART_TOKENIZER];
    const bert *b = s->model->part[IPF_PART_BERT];
    int max_len = (int)s->opt[IPF_OPT_MAX_TOKENS];
    if (max_len > bert_get_config(b)->max_position) max_len = bert_get_config(b)->max_position;
    float *cls = scratch_get(s, SCRATCH_AUX, (size_t)TEXT_BATCH * (size_t)X); // (TEXT_BATCH,X)
    int32_t *ids = malloc(sizeof(int32_t) * TEXT_BATCH * MAX_IDS);
    ipf_status st = IPF_OK;
    char who[96];
    if (!cls || !ids) {
        st = ipf_fail(&s->err, IPF_ERR_OUT_OF_MEMORY, "%s: out of memory for captions", fn);
        goto out;
    }
    for (size_t j0 = 0; j0 < m; j0 += TEXT_BATCH) {
        size_t k = m - j0 < TEXT_BATCH ? m - j0 : TEXT_BATCH;
        const int32_t *seq[TEXT_BATCH];
        int len[TEXT_BATCH];
        for (size_t j = 0; j < k; j++) {
            const ipf_post *p = &posts[idx[j0 + j]];
            size_t n_ids = 0;
            seq[j] = ids + j * MAX_IDS;
            if ((st = tokenizer_encode(tk, p->caption, p->caption_len, max_len, ids + j * MAX_IDS, MAX_IDS, &n_ids,
                                       &s->err))) {
                post_name(who, sizeof who, fn, idx[j0 + j], single);
                st = prefix_error(s, st, who);
                goto out;
            }
            len[j] = (int)n_ids;
        }
        if ((st = bert_forward_cls(b, s, seq, len, (int)k, cls))) {
            if (single) snprintf(who, sizeof who, "%s: post", fn);
            else snprintf(who, sizeof who, "%s: captions of posts[%zu..%zu]", fn, idx[j0], idx[j0 + k - 1]);
            st = prefix_error(s, st, who);
            goto out;
        }
        for (size_t j = 0; j < k; j++)
            memcpy(xt + idx[j0 + j] * (size_t)X, cls + j * (size_t)X, sizeof(float) * (size_t)X);
    }
out:
    free(ids);
    return st;
}

/* Decode and preprocess one post's image into x (3,crop,crop). */
static ipf_status preprocess_post_image(ipf_session *s, const image_cfg *ic, const ipf_post *p, const char *who,
                                        float *x) {
    const void *data = p->image_data;
    size_t len = p->image_len;
    void *owned = NULL;
    ipf_status st;
    if (!data) {
        if ((st = image_read_file(p->image_path, s->opt[IPF_OPT_MAX_IMAGE_BYTES], &owned, &len, &s->err)))
            return prefix_error(s, st, who);
        data = owned;
    }
    if ((st = image_preprocess_encoded(ic, data, len, p->image_data ? "image_data" : p->image_path,
                                       s->opt[IPF_OPT_MAX_IMAGE_PIXELS], s->opt[IPF_OPT_MAX_IMAGE_BYTES], x, &s->err)))
        st = prefix_error(s, st, who);
    free(owned);
    return st;
}

/* Inception pool features of the images of posts[idx[0..m)] into rows idx[j] of pool (n,E). */
static ipf_status encode_images(ipf_session *s, const ipf_post *posts, const size_t *idx, size_t m, int64_t E,
                                float *pool, const char *fn, int single) {
    const inception *inc = s->model->part[IPF_PART_INCEPTION];
    image_cfg def;
    const image_cfg *ic = s->model->part[IPF_PART_IMAGE_CFG];
    if (!ic) {
        image_cfg_default(&def);
        ic = &def;
    }
    const size_t chw = (size_t)3 * ic->crop * ic->crop;
    size_t batch = m < IMAGE_BATCH ? m : IMAGE_BATCH;
    float *x = scratch_get(s, SCRATCH_IMAGE, batch * chw);      // (batch,3,crop,crop)
    float *out = scratch_get(s, SCRATCH_AUX, batch * (size_t)E); // (batch,E)
    if (!x || !out) return ipf_fail(&s->err, IPF_ERR_OUT_OF_MEMORY, "%s: out of memory for %zu images", fn, batch);
    char who[96];
    ipf_status st;
    for (size_t j0 = 0; j0 < m; j0 += batch) {
        size_t k = m - j0 < batch ? m - j0 : batch;
        for (size_t j = 0; j < k; j++) {
            post_name(who, sizeof who, fn, idx[j0 + j], single);
            if ((st = preprocess_post_image(s, ic, &posts[idx[j0 + j]], who, x + j * chw))) return st;
        }
        if ((st = inception_forward(inc, s, x, (int)k, ic->crop, ic->crop, out))) {
            if (single) snprintf(who, sizeof who, "%s: post", fn);
            else snprintf(who, sizeof who, "%s: images of posts[%zu..%zu]", fn, idx[j0], idx[j0 + k - 1]);
            return prefix_error(s, st, who);
        }
        for (size_t j = 0; j < k; j++)
            memcpy(pool + idx[j0 + j] * (size_t)E, out + j * (size_t)E, sizeof(float) * (size_t)E);
    }
    return IPF_OK;
}

/* Text and image features of n posts: xt (n,X), pool (n,E); cached features
 * where given, else the encoders (captions and images batched), zeros for a
 * missing modality.  Errors name the post ("fn: posts[i]", or "fn: post"
 * when single). */
static ipf_status posts_features(ipf_session *s, const ipf_post *posts, size_t n, float *xt, float *pool,
                                 const char *fn, int single) {
    const int64_t X = text_width(s->model), E = pool_width(s->model);
    size_t *idx = ipf_malloc_array(2 * n, sizeof *idx);
    if (!idx) return ipf_fail(&s->err, IPF_ERR_OUT_OF_MEMORY, "%s: out of memory for %zu posts", fn, n);
    size_t *text = idx, *image = idx + n, nt = 0, ni = 0;
    ipf_status st = IPF_OK;
    char who[96];
    for (size_t i = 0; i < n && !st; i++) {
        int raw;
        post_name(who, sizeof who, fn, i, single);
        st = post_prepare(s, &posts[i], who, X, E, xt + i * (size_t)(X > 0 ? X : 0), pool + i * (size_t)(E > 0 ? E : 0),
                          &raw);
        if (raw & 1) text[nt++] = i;
        if (raw & 2) image[ni++] = i;
    }
    if (!st && nt) st = encode_captions(s, posts, text, nt, X, xt, fn, single);
    if (!st && ni) st = encode_images(s, posts, image, ni, E, pool, fn, single);
    free(idx);
    return st;
}

/* Features of n posts into xt (n,X) and pool (n,E), then post vectors v (n,D). */
static ipf_status encode_many(ipf_session *s, const prof_model *pm, const ipf_post *posts, size_t n, float *xt,
                              float *pool, float *xi, float *x, float *v, const char *fn) {
    ipf_status st = posts_features(s, posts, n, xt, pool, fn, 0);
    if (st) return st;
    if (prof_encode(pm, &s->kctx, pool, xt, (int)n, xi, x, v)) return kernel_failed(s, fn);
    return IPF_OK;
}

/* Floats of scratch for n posts' features and post vectors. */
static size_t encode_floats(const prof_config *c, size_t n) {
    return n * ((size_t)c->text_dim * 2 + (size_t)c->img_pool + (size_t)c->img_dim * 2 + (size_t)c->post_dim);
}

static ipf_status check_posts(ipf_session *s, const ipf_post *posts, size_t n, const char *fn) {
    if (!posts) return ipf_fail(&s->err, IPF_ERR_INVALID_ARGUMENT, "%s: posts is NULL", fn);
    if (n == 0) return ipf_fail(&s->err, IPF_ERR_INVALID_ARGUMENT, "%s: n is 0 (need at least one post)", fn);
    if (n > INT32_MAX / 4) return ipf_fail(&s->err, IPF_ERR_LIMIT, "%s: n = %zu posts is too many", fn, n);
    return IPF_OK;
}

/* ---- public calls -------------------------------------------------------------- */

IPF_API ipf_status ipf_session_encode_post(ipf_session *session, const ipf_post *post, float *text_feature,
                                           float *image_feature, float *post_vec) {
    static const char fn[] = "ipf_session_encode_post";
    if (!session) return ipf_fail(NULL, IPF_ERR_INVALID_ARGUMENT, "%s: session is NULL", fn);
    ipf_session *s = session;
    const prof_model *pm = s->model->part[IPF_PART_PROFILER];
    if (post_vec && !pm)
        return ipf_fail(&s->err, IPF_ERR_NOT_FOUND, "%s: post_vec needs the profiler, which the model lacks", fn);
    ipf_session_prepare(s);
    int64_t X = text_width(s->model), E = pool_width(s->model);
    size_t need = (size_t)(X > 0 ? X : 0) + (size_t)(E > 0 ? E : 0);
    if (pm) need = encode_floats(&pm->cfg, 1);
    float *buf = scratch_get(s, SCRATCH_BATCH, need ? need : 1);
    if (!buf) return ipf_fail(&s->err, IPF_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
    float *xt = buf, *pool = xt + (X > 0 ? X : 0);
    if (!post) return ipf_fail(&s->err, IPF_ERR_INVALID_ARGUMENT, "%s: post is NULL", fn);
    ipf_status st = posts_features(s, post, 1, xt, pool, fn, 1);
    if (st) return st;
    if (text_feature && X > 0) memcpy(text_feature, xt, sizeof(float) * (size_t)X);
    if (image_feature && E > 0) memcpy(image_feature, pool, sizeof(float) * (size_t)E);
    if (post_vec) {
        const prof_config *c = &pm->cfg;
        float *xi = pool + c->img_pool, *x = xi + c->img_dim;
        if (prof_encode(pm, &s->kctx, pool, xt, 1, xi, x, post_vec)) return kernel_failed(s, fn);
    }
    return IPF_OK;
}

IPF_API ipf_status ipf_session_encode_posts(ipf_session *session, const ipf_post *posts, size_t n, float *post_vecs,
                                            size_t post_vecs_cap) {
    static const char fn[] = "ipf_session_encode_posts";
    const prof_model *pm;
    ipf_status st = need_profiler(session, fn, &pm);
    if (st) return st;
    ipf_session *s = session;
    const prof_config *c = &pm->cfg;
    if ((st = check_posts(s, posts, n, fn))) return st;
    if (!post_vecs) return ipf_fail(&s->err, IPF_ERR_INVALID_ARGUMENT, "%s: post_vecs is NULL", fn);
    if ((st = check_cap(s, post_vecs_cap, n * (size_t)c->post_dim, fn, "post_vecs"))) return st;
    float *buf;
    if ((st = batch_scratch(s, encode_floats(c, n), n, fn, &buf))) return st;
    float *xt = buf, *pool = xt + n * c->text_dim, *xi = pool + n * c->img_pool, *x = xi + n * c->img_dim;
    return encode_many(s, pm, posts, n, xt, pool, xi, x, post_vecs, fn);
}

/* Post head on P post vectors -> probs (P, C_p); hid/logits scratch. */
static ipf_status post_probs_of(ipf_session *s, const prof_model *pm, const float *v, size_t P, float *hid,
                                float *logits, float *probs, const char *fn) {
    const prof_config *c = &pm->cfg;
    if (prof_post_head(pm, &s->kctx, v, (int)P, hid, logits) ||
        softmax_forward(&s->kctx, probs, logits, NULL, 1.0f, (int)P, c->n_post))
        return kernel_failed(s, fn);
    return check_finite(s, probs, P * (size_t)c->n_post, fn, "post probabilities");
}

IPF_API ipf_status ipf_session_classify_post(ipf_session *session, const float *post_vec, float *probs,
                                             size_t probs_cap) {
    static const char fn[] = "ipf_session_classify_post";
    const prof_model *pm;
    ipf_status st = need_profiler(session, fn, &pm);
    if (st) return st;
    const prof_config *c = &pm->cfg;
    float *hid;
    if ((st = classify_args(session, c, post_vec, "post_vec", probs, probs_cap, c->n_post, fn, &hid))) return st;
    return post_probs_of(session, pm, post_vec, 1, hid, hid + c->head_hidden, probs, fn);
}

IPF_API ipf_status ipf_session_pool(ipf_session *session, const float *post_vecs, size_t n, float *influencer_vec,
                                    float *alpha, size_t alpha_cap) {
    static const char fn[] = "ipf_session_pool";
    const prof_model *pm;
    ipf_status st = need_profiler(session, fn, &pm);
    if (st) return st;
    ipf_session *s = session;
    const prof_config *c = &pm->cfg;
    if (!post_vecs || !influencer_vec)
        return ipf_fail(&s->err, IPF_ERR_INVALID_ARGUMENT, "%s: %s is NULL", fn,
                        post_vecs ? "influencer_vec" : "post_vecs");
    if (n == 0) return ipf_fail(&s->err, IPF_ERR_INVALID_ARGUMENT, "%s: n is 0 (need at least one post)", fn);
    if (n > INT32_MAX / 4) return ipf_fail(&s->err, IPF_ERR_LIMIT, "%s: n = %zu posts is too many", fn, n);
    if (alpha && (st = check_cap(s, alpha_cap, n, fn, "alpha"))) return st;
    if ((st = check_finite(s, post_vecs, n * (size_t)c->post_dim, fn, "post_vecs"))) return st;
    float *r;
    if ((st = batch_scratch(s, n * ((size_t)c->att_dim + 1), n, fn, &r))) return st;
    float *a = alpha ? alpha : r + n * c->att_dim;
    if (prof_attention(pm, &s->kctx, post_vecs, (int)n, r, a, influencer_vec)) return kernel_failed(s, fn);
    return check_finite(s, influencer_vec, (size_t)c->post_dim, fn, "influencer_vec");
}

static ipf_status inf_probs_of(ipf_session *s, const prof_model *pm, const float *h, float *hid, float *probs,
                               const char *fn) {
    const prof_config *c = &pm->cfg;
    float *logits = hid + c->head_hidden;
    if (prof_inf_head(pm, &s->kctx, h, hid, logits) || softmax_forward(&s->kctx, probs, logits, NULL, 1.0f, 1, c->n_inf))
        return kernel_failed(s, fn);
    return check_finite(s, probs, (size_t)c->n_inf, fn, "influencer probabilities");
}

IPF_API ipf_status ipf_session_classify_influencer(ipf_session *session, const float *influencer_vec, float *probs,
                                                   size_t probs_cap) {
    static const char fn[] = "ipf_session_classify_influencer";
    const prof_model *pm;
    ipf_status st = need_profiler(session, fn, &pm);
    if (st) return st;
    const prof_config *c = &pm->cfg;
    float *hid;
    if ((st = classify_args(session, c, influencer_vec, "influencer_vec", probs, probs_cap, c->n_inf, fn, &hid)))
        return st;
    return inf_probs_of(session, pm, influencer_vec, hid, probs, fn);
}

IPF_API ipf_status ipf_session_profile(ipf_session *session, const ipf_post *posts, size_t n, float *inf_probs,
                                       float *post_probs, float *alpha) {
    static const char fn[] = "ipf_session_profile";
    const prof_model *pm;
    ipf_status st = need_profiler(session, fn, &pm);
    if (st) return st;
    ipf_session *s = session;
    const prof_config *c = &pm->cfg;
    if ((st = check_posts(s, posts, n, fn))) return st;
    if (!inf_probs) return ipf_fail(&s->err, IPF_ERR_INVALID_ARGUMENT, "%s: inf_probs is NULL", fn);
    const size_t H = (size_t)c->head_hidden, D = (size_t)c->post_dim;
    size_t head = n * (H + (size_t)c->n_post + (size_t)c->att_dim + 1) + D + H + (size_t)c->n_inf;
    float *buf;
    if ((st = batch_scratch(s, encode_floats(c, n) + head, n, fn, &buf))) return st;
    float *xt = buf, *pool = xt + n * c->text_dim, *xi = pool + n * c->img_pool, *x = xi + n * c->img_dim;
    float *v = x + n * (c->img_dim + c->text_dim);                  // (n,D)
    float *hid = v + n * D, *logits = hid + n * H;                  // (n,H), (n,C_p)
    float *r = logits + n * c->n_post, *a = r + n * c->att_dim;     // (n,A), (n)
    float *h = a + n, *ih = h + D;                                  // (D), (H + C_i)
    if ((st = encode_many(s, pm, posts, n, xt, pool, xi, x, v, fn))) return st;
    if (post_probs && (st = post_probs_of(s, pm, v, n, hid, logits, post_probs, fn))) return st;
    if (prof_attention(pm, &s->kctx, v, (int)n, r, a, h)) return kernel_failed(s, fn);
    if ((st = inf_probs_of(s, pm, h, ih, inf_probs, fn))) return st;
    if (alpha) memcpy(alpha, a, n * sizeof(float));
    return IPF_OK;
}
