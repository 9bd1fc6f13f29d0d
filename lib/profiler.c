/* profiler.c — the profiler's own model (DESIGN.md §1 from x_I on): layout of
 * the flat parameter block, configuration, profiler.safetensors load/save,
 * initialisation and the forward pieces.
 * Letters: P posts, E image pool width, I image width, X text width,
 * D post width, A attention width, H head hidden, C_i / C_p classes. */
#include "profiler.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROF_FORMAT "ipf-profiler"
#define PROF_FORMAT_VERSION "1"
#define PROF_DIM_MAX 65536

static const char *const TENSOR_NAMES[PT_COUNT_] = {
    [PT_IMG_W] = "img_proj.weight",       [PT_IMG_B] = "img_proj.bias",
    [PT_POST_W] = "post_proj.weight",     [PT_POST_B] = "post_proj.bias",
    [PT_PH1_W] = "post_head.0.weight",    [PT_PH1_B] = "post_head.0.bias",
    [PT_PH2_W] = "post_head.2.weight",    [PT_PH2_B] = "post_head.2.bias",
    [PT_ATT_W] = "attention.proj.weight", [PT_ATT_B] = "attention.proj.bias",
    [PT_ATT_C] = "attention.context",     [PT_IH1_W] = "inf_head.0.weight",
    [PT_IH1_B] = "inf_head.0.bias",       [PT_IH2_W] = "inf_head.2.weight",
    [PT_IH2_B] = "inf_head.2.bias",
};

const char *prof_tensor_name(prof_tensor t) {
    return (int)t >= 0 && t < PT_COUNT_ ? TENSOR_NAMES[t] : "(unknown tensor)";
}

void prof_layout_init(prof_layout *l, const prof_config *c) {
    const int64_t E = c->img_pool, I = c->img_dim, X = c->text_dim, D = c->post_dim, A = c->att_dim,
                  H = c->head_hidden, Ci = c->n_inf, Cp = c->n_post;
    const int64_t shapes[PT_COUNT_][2] = {
        [PT_IMG_W] = {I, E},  [PT_IMG_B] = {I, 0},  [PT_POST_W] = {D, I + X}, [PT_POST_B] = {D, 0},
        [PT_PH1_W] = {H, D},  [PT_PH1_B] = {H, 0},  [PT_PH2_W] = {Cp, H},     [PT_PH2_B] = {Cp, 0},
        [PT_ATT_W] = {A, D},  [PT_ATT_B] = {A, 0},  [PT_ATT_C] = {A, 0},      [PT_IH1_W] = {H, D},
        [PT_IH1_B] = {H, 0},  [PT_IH2_W] = {Ci, H}, [PT_IH2_B] = {Ci, 0},
    };
    size_t off = 0;
    for (int t = 0; t < PT_COUNT_; t++) {
        l->ndim[t] = shapes[t][1] ? 2 : 1;
        l->shape[t][0] = shapes[t][0];
        l->shape[t][1] = shapes[t][1];
        l->size[t] = (size_t)shapes[t][0] * (size_t)(shapes[t][1] ? shapes[t][1] : 1);
        l->offset[t] = off;
        off += (l->size[t] + 15) & ~(size_t)15; /* 64-byte aligned tensors inside the block */
    }
    l->total = off;
}

/* ---- configuration -------------------------------------------------------- */

static const char *const PAPER_TOPICS[8] = {"beauty", "family", "fashion", "fitness", "food", "interior", "pet", "travel"};

void prof_config_default(prof_config *c) {
    memset(c, 0, sizeof *c);
    c->img_pool = 2048;
    c->img_dim = 1024;
    c->text_dim = 768;
    c->post_dim = 256;
    c->att_dim = 256;
    c->head_hidden = 256;
    c->n_inf = 8;
    c->n_post = 10;
    for (int i = 0; i < 8; i++) {
        snprintf(c->inf_names[i], PROF_CLASS_NAME_CAP, "%s", PAPER_TOPICS[i]);
        snprintf(c->post_names[i], PROF_CLASS_NAME_CAP, "%s", PAPER_TOPICS[i]);
    }
    snprintf(c->post_names[8], PROF_CLASS_NAME_CAP, "product");
    snprintf(c->post_names[9], PROF_CLASS_NAME_CAP, "other");
    c->image.resize_short = 342;
    c->image.crop = 299;
    const float mean[3] = {0.485f, 0.456f, 0.406f}, sd[3] = {0.229f, 0.224f, 0.225f};
    memcpy(c->image.mean, mean, sizeof mean);
    memcpy(c->image.std, sd, sizeof sd);
    c->transform_input = 1;
}

static ipf_status check_names(char names[][PROF_CLASS_NAME_CAP], int n, const char *field, const char *what,
                              ipf_err *e) {
    for (int i = 0; i < n; i++) {
        if (!names[i][0]) return ipf_fail(e, IPF_ERR_FORMAT, "%s: config: %s[%d] is empty", what, field, i);
        for (int j = 0; j < i; j++)
            if (!strcmp(names[i], names[j]))
                return ipf_fail(e, IPF_ERR_FORMAT, "%s: config: %s[%d] '%s' repeats %s[%d]", what, field, i,
                                names[i], field, j);
    }
    return IPF_OK;
}

ipf_status prof_config_check(const prof_config *c, const char *what, ipf_err *e) {
    const struct {
        const char *name;
        int v, max;
    } dims[] = {{"img_pool", c->img_pool, PROF_DIM_MAX},   {"img_dim", c->img_dim, PROF_DIM_MAX},
                {"text_dim", c->text_dim, PROF_DIM_MAX},   {"post_dim", c->post_dim, PROF_DIM_MAX},
                {"att_dim", c->att_dim, PROF_DIM_MAX},     {"head_hidden", c->head_hidden, PROF_DIM_MAX},
                {"influencer_classes", c->n_inf, PROF_MAX_CLASSES}, {"post_classes", c->n_post, PROF_MAX_CLASSES}};
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++)
        if (dims[i].v < 1 || dims[i].v > dims[i].max)
            return ipf_fail(e, IPF_ERR_FORMAT, "%s: config: %s = %d outside [1, %d]", what, dims[i].name, dims[i].v,
                            dims[i].max);
    ipf_status st = check_names((char (*)[PROF_CLASS_NAME_CAP])c->inf_names, c->n_inf, "influencer_classes", what, e);
    if (st) return st;
    st = check_names((char (*)[PROF_CLASS_NAME_CAP])c->post_names, c->n_post, "post_classes", what, e);
    if (st) return st;
    /* a crop larger than the resized image is zero-padded, as torchvision's CenterCrop */
    if (c->image.crop < 1 || c->image.crop > 8192 || c->image.resize_short < 1 || c->image.resize_short > 8192)
        return ipf_fail(e, IPF_ERR_FORMAT, "%s: config: image resize %d / crop %d outside [1, 8192]", what,
                        c->image.resize_short, c->image.crop);
    for (int i = 0; i < 3; i++)
        if (!(c->image.std[i] > 0) || !isfinite(c->image.mean[i]) || !isfinite(c->image.std[i]))
            return ipf_fail(e, IPF_ERR_FORMAT, "%s: config: image mean/std[%d] invalid", what, i);
    return IPF_OK;
}

static json_t *names_json(const char (*names)[PROF_CLASS_NAME_CAP], int n) {
    json_t *a = json_array();
    for (int i = 0; a && i < n; i++) json_array_append_new(a, json_string(names[i]));
    return a;
}

char *prof_config_to_json(const prof_config *c) {
    const image_cfg *im = &c->image;
    json_t *root = json_pack(
        "{s:i, s:i, s:i, s:i, s:i, s:i, s:o, s:o, s:{s:i, s:i, s:[f,f,f], s:[f,f,f], s:b}}", "img_pool", c->img_pool,
        "img_dim", c->img_dim, "text_dim", c->text_dim, "post_dim", c->post_dim, "att_dim", c->att_dim,
        "head_hidden", c->head_hidden, "influencer_classes", names_json(c->inf_names, c->n_inf), "post_classes",
        names_json(c->post_names, c->n_post), "image", "resize", im->resize_short, "crop", im->crop, "mean",
        (double)im->mean[0], (double)im->mean[1], (double)im->mean[2], "std", (double)im->std[0],
        (double)im->std[1], (double)im->std[2], "transform_input", c->transform_input);
    if (!root) return NULL;
    char *s = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(9));
    json_decref(root);
    return s;
}

static ipf_status get_int(json_t *o, const char *key, int *out, int required, const char *what, ipf_err *e) {
    json_t *v = json_object_get(o, key);
    if (!v) return required ? ipf_fail(e, IPF_ERR_FORMAT, "%s: config: missing '%s'", what, key) : IPF_OK;
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return IPF_OK;
    }
    if (!json_is_integer(v) || json_integer_value(v) < INT32_MIN || json_integer_value(v) > INT32_MAX)
        return ipf_fail(e, IPF_ERR_FORMAT, "%s: config: '%s' is not an integer", what, key);
    *out = (int)json_integer_value(v);
    return IPF_OK;
}

static ipf_status get_names(json_t *o, const char *key, char names[][PROF_CLASS_NAME_CAP], int *n,
                            const char *what, ipf_err *e) {
    json_t *a = json_object_get(o, key);
    if (!json_is_array(a)) return ipf_fail(e, IPF_ERR_FORMAT, "%s: config: '%s' missing or not an array", what, key);
    if (json_array_size(a) < 1 || json_array_size(a) > PROF_MAX_CLASSES)
        return ipf_fail(e, IPF_ERR_FORMAT, "%s: config: '%s' has %zu names (1..%d allowed)", what, key,
                        json_array_size(a), PROF_MAX_CLASSES);
    for (size_t i = 0; i < json_array_size(a); i++) {
        json_t *s = json_array_get(a, i);
        if (!json_is_string(s) || json_string_length(s) >= PROF_CLASS_NAME_CAP)
            return ipf_fail(e, IPF_ERR_FORMAT, "%s: config: %s[%zu] is not a string of < %d bytes", what, key, i,
                            PROF_CLASS_NAME_CAP);
        snprintf(names[i], PROF_CLASS_NAME_CAP, "%s", json_string_value(s));
    }
    *n = (int)json_array_size(a);
    return IPF_OK;
}

static ipf_status get_vec3(json_t *o, const char *key, float out[3], const char *what, ipf_err *e) {
    json_t *a = json_object_get(o, key);
    if (!a) return IPF_OK;
    if (!json_is_array(a) || json_array_size(a) != 3)
        return ipf_fail(e, IPF_ERR_FORMAT, "%s: config: image.%s is not an array of 3 numbers", what, key);
    for (int i = 0; i < 3; i++) {
        json_t *x = json_array_get(a, (size_t)i);
        if (!json_is_number(x))
            return ipf_fail(e, IPF_ERR_FORMAT, "%s: config: image.%s[%d] is not a number", what, key, i);
        out[i] = (float)json_number_value(x);
    }
    return IPF_OK;
}

ipf_status prof_config_from_json(prof_config *c, const char *text, const char *what, ipf_err *e) {
    prof_config_default(c); /* image preprocessing keeps its defaults where the file is silent */
    json_error_t je;
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(root)) {
        json_decref(root);
        return ipf_fail(e, IPF_ERR_FORMAT, "%s: metadata 'config' is not a JSON object (%s)", what, je.text);
    }
    ipf_status st;
    if ((st = get_int(root, "img_pool", &c->img_pool, 1, what, e)) || (st = get_int(root, "img_dim", &c->img_dim, 1, what, e)) ||
        (st = get_int(root, "text_dim", &c->text_dim, 1, what, e)) || (st = get_int(root, "post_dim", &c->post_dim, 1, what, e)) ||
        (st = get_int(root, "att_dim", &c->att_dim, 1, what, e)) ||
        (st = get_int(root, "head_hidden", &c->head_hidden, 1, what, e)) ||
        (st = get_names(root, "influencer_classes", c->inf_names, &c->n_inf, what, e)) ||
        (st = get_names(root, "post_classes", c->post_names, &c->n_post, what, e)))
        goto out;
    json_t *im = json_object_get(root, "image");
    if (im) {
        if (!json_is_object(im)) {
            st = ipf_fail(e, IPF_ERR_FORMAT, "%s: config: 'image' is not an object", what);
            goto out;
        }
        if ((st = get_int(im, "resize", &c->image.resize_short, 0, what, e)) ||
            (st = get_int(im, "crop", &c->image.crop, 0, what, e)) ||
            (st = get_vec3(im, "mean", c->image.mean, what, e)) || (st = get_vec3(im, "std", c->image.std, what, e)) ||
            (st = get_int(im, "transform_input", &c->transform_input, 0, what, e)))
            goto out;
    }
    st = prof_config_check(c, what, e);
out:
    json_decref(root);
    return st;
}

/* ---- model ---------------------------------------------------------------- */

static ipf_status prof_alloc(const prof_config *c, prof_model **out, ipf_err *e) {
    prof_model *m = calloc(1, sizeof *m);
    if (!m) return ipf_fail(e, IPF_ERR_OUT_OF_MEMORY, "out of memory allocating the profiler");
    m->cfg = *c;
    prof_layout_init(&m->lay, c);
    m->params = aligned_alloc(64, (m->lay.total * sizeof(float) + 63) & ~(size_t)63);
    if (!m->params) {
        size_t total = m->lay.total;
        free(m);
        return ipf_fail(e, IPF_ERR_OUT_OF_MEMORY, "out of memory for %zu profiler parameters", total);
    }
    memset(m->params, 0, m->lay.total * sizeof(float));
    *out = m;
    return IPF_OK;
}

void prof_free(void *p) {
    prof_model *m = p;
    if (!m) return;
    free(m->params);
    free(m);
}

/* splitmix64: small, deterministic, good enough for initialisation. */
static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

ipf_status prof_create(const prof_config *c, uint64_t seed, prof_model **out, ipf_err *e) {
    *out = NULL;
    ipf_status st = prof_config_check(c, "profiler config", e);
    if (st) return st;
    prof_model *m;
    if ((st = prof_alloc(c, &m, e))) return st;
    uint64_t s = seed;
    for (int t = 0; t < PT_COUNT_; t++) {
        /* fan_in of the Linear a tensor belongs to: weights are (out, in); a
         * bias takes its weight's fan_in; r_c uses its own width. */
        int64_t fan_in = t == PT_ATT_C ? m->lay.shape[t][0]
                         : m->lay.ndim[t] == 2 ? m->lay.shape[t][1] : m->lay.shape[t - 1][1];
        double bound = 1.0 / sqrt((double)fan_in);
        float *p = m->params + m->lay.offset[t];
        for (size_t i = 0; i < m->lay.size[t]; i++)
            p[i] = (float)(((splitmix(&s) >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0) * bound);
    }
    *out = m;
    return IPF_OK;
}

ipf_status prof_load(const char *path, prof_model **out, ipf_err *e) {
    *out = NULL;
    st_file *f = NULL;
    prof_model *m = NULL;
    ipf_status st = st_open(path, &f, e);
    if (st) return st;
    const char *fmt = st_meta(f, "format"), *ver = st_meta(f, "format_version"), *crc = st_meta(f, "crc32"),
               *cfg = st_meta(f, "config");
    if (!fmt || strcmp(fmt, PROF_FORMAT)) {
        st = ipf_fail(e, IPF_ERR_FORMAT, "%s: metadata 'format' is %s%s%s, expected '" PROF_FORMAT "'", path,
                      fmt ? "'" : "", fmt ? fmt : "missing", fmt ? "'" : "");
        goto out;
    }
    if (!ver || strcmp(ver, PROF_FORMAT_VERSION)) {
        st = ipf_fail(e, ver ? IPF_ERR_UNSUPPORTED : IPF_ERR_FORMAT,
                      "%s: metadata 'format_version' is '%s'; this library reads version " PROF_FORMAT_VERSION, path,
                      ver ? ver : "(missing)");
        goto out;
    }
    if (!crc || !cfg) {
        st = ipf_fail(e, IPF_ERR_FORMAT, "%s: metadata '%s' is missing", path, crc ? "config" : "crc32");
        goto out;
    }
    char *end;
    unsigned long want = strtoul(crc, &end, 16);
    if (!*crc || *end || strlen(crc) > 8) {
        st = ipf_fail(e, IPF_ERR_FORMAT, "%s: metadata 'crc32' '%s' is not 8 hex digits", path, crc);
        goto out;
    }
    size_t nbytes;
    const void *data = st_data(f, &nbytes);
    uint32_t got = ipf_crc32(0, data, nbytes);
    if (got != (uint32_t)want) {
        st = ipf_fail(e, IPF_ERR_CHECKSUM, "%s: CRC-32 of the data is %08x but the file says %08lx (corrupt file?)",
                      path, got, want);
        goto out;
    }
    prof_config c;
    if ((st = prof_config_from_json(&c, cfg, path, e))) goto out;
    if ((st = prof_alloc(&c, &m, e))) goto out;
    for (int t = 0; t < PT_COUNT_; t++) {
        const float *p;
        if ((st = st_get_f32(f, TENSOR_NAMES[t], m->lay.ndim[t], m->lay.shape[t], &p, e))) goto out;
        for (size_t i = 0; i < m->lay.size[t]; i++)
            if (!isfinite(p[i])) {
                st = ipf_fail(e, IPF_ERR_NUMERIC, "%s: tensor '%s' element %zu is not finite", path, TENSOR_NAMES[t], i);
                goto out;
            }
        memcpy(m->params + m->lay.offset[t], p, m->lay.size[t] * sizeof(float));
    }
    *out = m;
    m = NULL;
out:
    prof_free(m);
    st_close(f);
    return st;
}

ipf_status prof_save(const char *path, const prof_config *c, const float *params, const st_wtensor *extra,
                     size_t n_extra, ipf_err *e) {
    ipf_status st = prof_config_check(c, path, e);
    if (st) return st;
    prof_layout lay;
    prof_layout_init(&lay, c);
    size_t n = PT_COUNT_ + n_extra;
    st_wtensor *t = calloc(n, sizeof *t);
    char *cfg = prof_config_to_json(c);
    if (!t || !cfg) {
        free(t);
        free(cfg);
        return ipf_fail(e, IPF_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    }
    uint32_t crc = 0; /* over the data area, in the order st_write lays it out */
    for (size_t i = 0; i < n; i++) {
        if (i < PT_COUNT_) {
            t[i].name = TENSOR_NAMES[i];
            t[i].ndim = lay.ndim[i];
            t[i].shape[0] = lay.shape[i][0];
            t[i].shape[1] = lay.shape[i][1];
            t[i].data = params + lay.offset[i];
        } else {
            t[i] = extra[i - PT_COUNT_];
        }
        size_t count = 1;
        for (int d = 0; d < t[i].ndim; d++) count *= (size_t)t[i].shape[d];
        crc = ipf_crc32(crc, t[i].data, count * sizeof(float));
    }
    char crc_hex[16];
    snprintf(crc_hex, sizeof crc_hex, "%08x", crc);
    const char *meta[] = {"format", PROF_FORMAT, "format_version", PROF_FORMAT_VERSION, "config", cfg,
                          "crc32", crc_hex};
    st = st_write(path, t, n, meta, 4, e);
    free(t);
    free(cfg);
    return st;
}

/* ---- forward --------------------------------------------------------------- */

int prof_encode(const prof_model *m, ipf_kctx *k, const float *pool, const float *xt, int P, float *xi, float *x,
                float *v) {
    const prof_config *c = &m->cfg;
    const int E = c->img_pool, I = c->img_dim, X = c->text_dim, D = c->post_dim;
    if (linear_forward(k, xi, pool, prof_param(m, PT_IMG_W), prof_param(m, PT_IMG_B), P, E, I) ||
        relu_forward(k, xi, xi, (size_t)P * I))
        return -1;
    for (int p = 0; p < P; p++) { /* x = [x_I ; x_T], image first */
        memcpy(x + (size_t)p * (I + X), xi + (size_t)p * I, sizeof(float) * (size_t)I);
        memcpy(x + (size_t)p * (I + X) + I, xt + (size_t)p * X, sizeof(float) * (size_t)X);
    }
    if (linear_forward(k, v, x, prof_param(m, PT_POST_W), prof_param(m, PT_POST_B), P, I + X, D)) return -1;
    return relu_forward(k, v, v, (size_t)P * D);
}

int prof_post_head(const prof_model *m, ipf_kctx *k, const float *v, int P, float *hid, float *logits) {
    const prof_config *c = &m->cfg;
    if (linear_forward(k, hid, v, prof_param(m, PT_PH1_W), prof_param(m, PT_PH1_B), P, c->post_dim, c->head_hidden) ||
        relu_forward(k, hid, hid, (size_t)P * c->head_hidden))
        return -1;
    return linear_forward(k, logits, hid, prof_param(m, PT_PH2_W), prof_param(m, PT_PH2_B), P, c->head_hidden,
                          c->n_post);
}

int prof_attention(const prof_model *m, ipf_kctx *k, const float *v, int P, float *r, float *alpha, float *h) {
    const prof_config *c = &m->cfg;
    if (linear_forward(k, r, v, prof_param(m, PT_ATT_W), prof_param(m, PT_ATT_B), P, c->post_dim, c->att_dim))
        return -1;
    tanh_forward(r, r, (size_t)P * c->att_dim);
    attpool_forward(h, alpha, v, r, prof_param(m, PT_ATT_C), P, c->post_dim, c->att_dim);
    return 0;
}

int prof_inf_head(const prof_model *m, ipf_kctx *k, const float *h, float *hid, float *logits) {
    const prof_config *c = &m->cfg;
    if (linear_forward(k, hid, h, prof_param(m, PT_IH1_W), prof_param(m, PT_IH1_B), 1, c->post_dim, c->head_hidden) ||
        relu_forward(k, hid, hid, (size_t)c->head_hidden))
        return -1;
    return linear_forward(k, logits, hid, prof_param(m, PT_IH2_W), prof_param(m, PT_IH2_B), 1, c->head_hidden,
                          c->n_inf);
}
