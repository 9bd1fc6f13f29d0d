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

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* TEMPORARY (api branch only): the encoder modules land in main later; weak
 * references let this file link before they do.  Removed at that merge. */
#pragma weak bert_get_config
#pragma weak bert_forward_cls
#pragma weak tokenizer_encode
#pragma weak inception_forward
#pragma weak image_preprocess_encoded
#pragma weak image_cfg_default

#define MAX_IDS 512 /* IPF_OPT_MAX_TOKENS' upper bound */

/* Per-session scratch, grown on demand: `batch` for a call's activations,
 * `image` for one preprocessed image (used while `batch` is live). */
typedef struct prof_scratch {
    float *batch, *image;
    size_t batch_cap, image_cap;
} prof_scratch;

static void scratch_free(void *p) {
    prof_scratch *s = p;
    if (!s) return;
    free(s->batch);
    free(s->image);
    free(s);
}

static float *scratch_get(ipf_session *s, int which_image, size_t n) {
    prof_scratch *sc = s->state[IPF_PART_PROFILER];
    if (!sc) {
        sc = calloc(1, sizeof *sc);
        if (!sc) return NULL;
        ipf_session_set_state(s, IPF_PART_PROFILER, sc, scratch_free);
    }
    float **buf = which_image ? &sc->image : &sc->batch;
    size_t *cap = which_image ? &sc->image_cap : &sc->batch_cap;
    if (n > *cap) {
        float *p = ipf_malloc_array(n, sizeof(float));
        if (!p) return NULL;
        free(*buf);
        *buf = p;
        *cap = n;
    }
    return *buf;
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

/* Prefix the session's current message with `who` (e.g. "posts[3]"). */
static ipf_status prefix_error(ipf_session *s, ipf_status st, const char *who) {
    char msg[IPF_ERRMSG_CAP];
    snprintf(msg, sizeof msg, "%s", s->err.msg);
    return ipf_fail(&s->err, st, "%s: %s", who, msg);
}

/* ---- features of one post ---------------------------------------------------- */

static int64_t text_width(const ipf_model *m) {
    const prof_model *p = m->part[IPF_PART_PROFILER];
    const bert *b = m->part[IPF_PART_BERT];
    return p ? p->cfg.text_dim : b ? bert_get_config(b)->hidden : -1;
}

static int64_t pool_width(const ipf_model *m) {
    const prof_model *p = m->part[IPF_PART_PROFILER];
    return p ? p->cfg.img_pool : m->part[IPF_PART_INCEPTION] ? INCEPTION_POOL_DIM : -1;
}

static ipf_status encode_caption(ipf_session *s, const ipf_post *p, const char *who, float *xt) {
    const tokenizer *tk = s->model->part[IPF_PART_TOKENIZER];
    const bert *b = s->model->part[IPF_PART_BERT];
    if (!tk || !b)
        return ipf_fail(&s->err, IPF_ERR_NOT_FOUND,
                        "%s: has a caption but the model has no %s (bundle bert/); pass text_feature instead", who,
                        b ? "tokenizer" : "text encoder");
    int max_len = (int)s->opt[IPF_OPT_MAX_TOKENS];
    if (max_len > bert_get_config(b)->max_position) max_len = bert_get_config(b)->max_position;
    int32_t ids[MAX_IDS];
    size_t n_ids = 0;
    ipf_status st = tokenizer_encode(tk, p->caption, p->caption_len, max_len, ids, MAX_IDS, &n_ids, &s->err);
    if (st) return prefix_error(s, st, who);
    const int32_t *seq = ids;
    int len = (int)n_ids;
    if ((st = bert_forward_cls(b, s, &seq, &len, 1, xt))) return prefix_error(s, st, who);
    return IPF_OK;
}

/* Read a whole image file, refusing one over max_bytes before reading it. */
static ipf_status read_image_file(ipf_session *s, const char *path, const char *who, void **data, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return ipf_fail(&s->err, IPF_ERR_IO, "%s: image '%s': cannot open: %s", who, path, strerror(errno));
    struct stat st;
    ipf_status rc = IPF_OK;
    if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode)) {
        rc = ipf_fail(&s->err, IPF_ERR_IO, "%s: image '%s': not a regular file", who, path);
    } else if ((int64_t)st.st_size > s->opt[IPF_OPT_MAX_IMAGE_BYTES]) {
        rc = ipf_fail(&s->err, IPF_ERR_LIMIT, "%s: image '%s': %lld bytes, over IPF_OPT_MAX_IMAGE_BYTES (%lld)", who,
                      path, (long long)st.st_size, (long long)s->opt[IPF_OPT_MAX_IMAGE_BYTES]);
    } else {
        *len = (size_t)st.st_size;
        *data = malloc(*len ? *len : 1);
        if (!*data) rc = ipf_fail(&s->err, IPF_ERR_OUT_OF_MEMORY, "%s: image '%s': out of memory", who, path);
        else if (fread(*data, 1, *len, f) != *len) {
            free(*data);
            *data = NULL;
            rc = ipf_fail(&s->err, IPF_ERR_IO, "%s: image '%s': read failed", who, path);
        }
    }
    fclose(f);
    return rc;
}

static ipf_status encode_image(ipf_session *s, const ipf_post *p, const char *who, float *pool) {
    const inception *inc = s->model->part[IPF_PART_INCEPTION];
    if (!inc)
        return ipf_fail(&s->err, IPF_ERR_NOT_FOUND,
                        "%s: has an image but the model has no image encoder (bundle inception/); pass image_feature instead",
                        who);
    image_cfg def;
    const image_cfg *ic = s->model->part[IPF_PART_IMAGE_CFG];
    if (!ic) {
        image_cfg_default(&def);
        ic = &def;
    }
    const void *data = p->image_data;
    size_t len = p->image_len;
    void *owned = NULL;
    ipf_status st;
    if (!data && (st = read_image_file(s, p->image_path, who, &owned, &len))) return st;
    if (!data) data = owned;
    float *x = scratch_get(s, 1, (size_t)3 * ic->crop * ic->crop); // (3,crop,crop)
    if (!x) st = ipf_fail(&s->err, IPF_ERR_OUT_OF_MEMORY, "%s: out of memory for the image", who);
    else if ((st = image_preprocess_encoded(ic, data, len, p->image_data ? "image_data" : p->image_path,
                                            s->opt[IPF_OPT_MAX_IMAGE_PIXELS], s->opt[IPF_OPT_MAX_IMAGE_BYTES], x,
                                            &s->err)))
        st = prefix_error(s, st, who);
    else if ((st = inception_forward(inc, s, x, 1, ic->crop, ic->crop, pool)))
        st = prefix_error(s, st, who);
    free(owned);
    return st;
}

/* Text and image features of one post: xt (X), pool (E); a missing modality
 * gives zeros.  Errors name `who`. */
static ipf_status post_features(ipf_session *s, const ipf_post *p, const char *who, float *xt, float *pool) {
    const int64_t X = text_width(s->model), E = pool_width(s->model);
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
    ipf_status st;
    if (p->text_feature) {
        if ((st = check_finite(s, p->text_feature, (size_t)X, who, "text_feature"))) return st;
        memcpy(xt, p->text_feature, sizeof(float) * (size_t)X);
    } else if (p->caption) {
        if ((st = encode_caption(s, p, who, xt))) return st;
    } else if (X > 0) {
        memset(xt, 0, sizeof(float) * (size_t)X); /* no caption: a zero feature */
    }
    if (p->image_feature) {
        if ((st = check_finite(s, p->image_feature, (size_t)E, who, "image_feature"))) return st;
        memcpy(pool, p->image_feature, sizeof(float) * (size_t)E);
    } else if (has_image) {
        if ((st = encode_image(s, p, who, pool))) return st;
    } else if (E > 0) {
        memset(pool, 0, sizeof(float) * (size_t)E); /* no image: a zero feature */
    }
    return IPF_OK;
}

/* Features of n posts into xt (n,X) and pool (n,E), then post vectors v (n,D). */
static ipf_status encode_many(ipf_session *s, const prof_model *pm, const ipf_post *posts, size_t n, float *xt,
                              float *pool, float *xi, float *x, float *v, const char *fn) {
    const prof_config *c = &pm->cfg;
    char who[64];
    for (size_t i = 0; i < n; i++) {
        snprintf(who, sizeof who, "%s: posts[%zu]", fn, i);
        ipf_status st = post_features(s, &posts[i], who, xt + i * (size_t)c->text_dim, pool + i * (size_t)c->img_pool);
        if (st) return st;
    }
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
    float *buf = scratch_get(s, 0, need ? need : 1);
    if (!buf) return ipf_fail(&s->err, IPF_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
    float *xt = buf, *pool = xt + (X > 0 ? X : 0);
    char who[64];
    snprintf(who, sizeof who, "%s: post", fn);
    ipf_status st = post_features(s, post, who, xt, pool);
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
    ipf_session_prepare(s);
    float *buf = scratch_get(s, 0, encode_floats(c, n));
    if (!buf) return ipf_fail(&s->err, IPF_ERR_OUT_OF_MEMORY, "%s: out of memory for %zu posts", fn, n);
    float *xt = buf, *pool = xt + n * c->text_dim, *xi = pool + n * c->img_pool, *x = xi + n * c->img_dim;
    return encode_many(s, pm, posts, n, xt, pool, xi, x, post_vecs, fn);
}

/* Post head on P post vectors -> probs (P, C_p); hid/logits scratch. */
static ipf_status post_probs_of(ipf_session *s, const prof_model *pm, const float *v, size_t P, float *hid,
                                float *logits, float *probs, const char *fn) {
    const prof_config *c = &pm->cfg;
    if (prof_post_head(pm, &s->kctx, v, (int)P, hid, logits)) return kernel_failed(s, fn);
    vec_softmax_forward(probs, logits, (int)P, c->n_post);
    return check_finite(s, probs, P * (size_t)c->n_post, fn, "post probabilities");
}

IPF_API ipf_status ipf_session_classify_post(ipf_session *session, const float *post_vec, float *probs,
                                             size_t probs_cap) {
    static const char fn[] = "ipf_session_classify_post";
    const prof_model *pm;
    ipf_status st = need_profiler(session, fn, &pm);
    if (st) return st;
    ipf_session *s = session;
    const prof_config *c = &pm->cfg;
    if (!post_vec || !probs)
        return ipf_fail(&s->err, IPF_ERR_INVALID_ARGUMENT, "%s: %s is NULL", fn, post_vec ? "probs" : "post_vec");
    if ((st = check_cap(s, probs_cap, (size_t)c->n_post, fn, "probs"))) return st;
    if ((st = check_finite(s, post_vec, (size_t)c->post_dim, fn, "post_vec"))) return st;
    ipf_session_prepare(s);
    float *hid = scratch_get(s, 0, (size_t)c->head_hidden + (size_t)c->n_post);
    if (!hid) return ipf_fail(&s->err, IPF_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
    return post_probs_of(s, pm, post_vec, 1, hid, hid + c->head_hidden, probs, fn);
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
    ipf_session_prepare(s);
    float *r = scratch_get(s, 0, n * ((size_t)c->att_dim + 1));
    if (!r) return ipf_fail(&s->err, IPF_ERR_OUT_OF_MEMORY, "%s: out of memory for %zu posts", fn, n);
    float *a = alpha ? alpha : r + n * c->att_dim;
    if (prof_attention(pm, &s->kctx, post_vecs, (int)n, r, a, influencer_vec)) return kernel_failed(s, fn);
    return check_finite(s, influencer_vec, (size_t)c->post_dim, fn, "influencer_vec");
}

static ipf_status inf_probs_of(ipf_session *s, const prof_model *pm, const float *h, float *hid, float *probs,
                               const char *fn) {
    const prof_config *c = &pm->cfg;
    float *logits = hid + c->head_hidden;
    if (prof_inf_head(pm, &s->kctx, h, hid, logits)) return kernel_failed(s, fn);
    vec_softmax_forward(probs, logits, 1, c->n_inf);
    return check_finite(s, probs, (size_t)c->n_inf, fn, "influencer probabilities");
}

IPF_API ipf_status ipf_session_classify_influencer(ipf_session *session, const float *influencer_vec, float *probs,
                                                   size_t probs_cap) {
    static const char fn[] = "ipf_session_classify_influencer";
    const prof_model *pm;
    ipf_status st = need_profiler(session, fn, &pm);
    if (st) return st;
    ipf_session *s = session;
    const prof_config *c = &pm->cfg;
    if (!influencer_vec || !probs)
        return ipf_fail(&s->err, IPF_ERR_INVALID_ARGUMENT, "%s: %s is NULL", fn, influencer_vec ? "probs" : "influencer_vec");
    if ((st = check_cap(s, probs_cap, (size_t)c->n_inf, fn, "probs"))) return st;
    if ((st = check_finite(s, influencer_vec, (size_t)c->post_dim, fn, "influencer_vec"))) return st;
    ipf_session_prepare(s);
    float *hid = scratch_get(s, 0, (size_t)c->head_hidden + (size_t)c->n_inf);
    if (!hid) return ipf_fail(&s->err, IPF_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
    return inf_probs_of(s, pm, influencer_vec, hid, probs, fn);
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
    ipf_session_prepare(s);
    const size_t H = (size_t)c->head_hidden, D = (size_t)c->post_dim;
    size_t head = n * (H + (size_t)c->n_post + (size_t)c->att_dim + 1) + D + H + (size_t)c->n_inf;
    float *buf = scratch_get(s, 0, encode_floats(c, n) + head);
    if (!buf) return ipf_fail(&s->err, IPF_ERR_OUT_OF_MEMORY, "%s: out of memory for %zu posts", fn, n);
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
