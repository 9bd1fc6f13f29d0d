/* manifest.c — the dataset manifest (DESIGN.md §4): JSON Lines, plain or
 * gzip (zlib's gzopen reads both), one post a line:
 *   {"influencer", "post", "caption", "image", "influencer_label", "post_label"}
 * "image" is relative to the manifest's directory unless absolute; labels may
 * be null or absent; optional "text_feature" / "image_feature" number arrays
 * are cached encoder features (the same fields `ipf profile` reads).  Choices: a malformed line stops reading with an error
 * naming the line (training on silently-partial data is worse than failing);
 * a missing image file either fails or drops the post and counts it, as the
 * caller asks (the trainer drops and reports the count). */
#include "train.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

static char *xstrdup(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

void manifest_free(manifest *m) {
    if (!m) return;
    for (int i = 0; i < m->n_posts; i++) {
        free(m->posts[i].post_id);
        free(m->posts[i].caption);
        free(m->posts[i].image);
        free(m->posts[i].features);
    }
    for (int i = 0; i < m->n_infl; i++) {
        free(m->infl[i].name);
        free(m->infl[i].posts);
    }
    free(m->posts);
    free(m->infl);
    memset(m, 0, sizeof *m);
}

static int grow(void **p, int *cap, int need, size_t elem) {
    if (need <= *cap) return 0;
    int nc = *cap ? *cap * 2 : 16;
    while (nc < need) nc *= 2;
    void *q = realloc(*p, (size_t)nc * elem);
    if (!q) return -1;
    memset((char *)q + (size_t)*cap * elem, 0, (size_t)(nc - *cap) * elem);
    *p = q;
    *cap = nc;
    return 0;
}

static int class_index(const char (*names)[PROF_CLASS_NAME_CAP], int n, const char *s) {
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i], s)) return i;
    return -1;
}

/* A label field: absent or null -> -1 (*idx), a known class name -> its
 * index; anything else is an error. */
static ipf_status read_label(json_t *obj, const char *field, const char (*names)[PROF_CLASS_NAME_CAP], int n,
                             int *idx, const char *path, int line, ipf_err *e) {
    json_t *v = json_object_get(obj, field);
    *idx = -1;
    if (!v || json_is_null(v)) return IPF_OK;
    if (!json_is_string(v))
        return ipf_fail(e, IPF_ERR_FORMAT, "%s:%d: \"%s\" must be a string or null", path, line, field);
    *idx = class_index(names, n, json_string_value(v));
    if (*idx < 0) {
        char list[512] = "";
        for (int i = 0; i < n; i++) {
            strncat(list, names[i], sizeof list - strlen(list) - 3);
            if (i + 1 < n) strncat(list, ", ", sizeof list - strlen(list) - 1);
        }
        return ipf_fail(e, IPF_ERR_NOT_FOUND, "%s:%d: %s \"%s\" is not one of the model's classes (%s)", path, line,
                        field, json_string_value(v), list);
    }
    return IPF_OK;
}

static ipf_status opt_string(json_t *obj, const char *field, const char **s, size_t *len, const char *path,
                             int line, ipf_err *e) {
    json_t *v = json_object_get(obj, field);
    *s = NULL;
    if (len) *len = 0;
    if (!v || json_is_null(v)) return IPF_OK;
    if (!json_is_string(v))
        return ipf_fail(e, IPF_ERR_FORMAT, "%s:%d: \"%s\" must be a string or null", path, line, field);
    *s = json_string_value(v);
    if (len) *len = json_string_length(v);
    return IPF_OK;
}

/* An optional array of exactly n finite numbers into dst. */
static ipf_status read_feature(json_t *obj, const char *field, int n, float *dst, int *present, const char *path,
                               int line, ipf_err *e) {
    json_t *v = json_object_get(obj, field);
    *present = 0;
    if (!v || json_is_null(v)) return IPF_OK;
    if (!json_is_array(v) || json_array_size(v) != (size_t)n)
        return ipf_fail(e, IPF_ERR_SHAPE, "%s:%d: \"%s\" must be an array of %d numbers", path, line, field, n);
    for (int i = 0; i < n; i++) {
        json_t *x = json_array_get(v, (size_t)i);
        if (!json_is_number(x))
            return ipf_fail(e, IPF_ERR_FORMAT, "%s:%d: %s[%d] is not a number", path, line, field, i);
        dst[i] = (float)json_number_value(x);
        if (!isfinite(dst[i]))
            return ipf_fail(e, IPF_ERR_NUMERIC, "%s:%d: %s[%d] is not finite", path, line, field, i);
    }
    *present = 1;
    return IPF_OK;
}

typedef struct mf_dims {
    int text, image;
} mf_dims;

static ipf_status parse_line(manifest *m, const char *text, const char *path, const char *dir, int line,
                             const char (*inf_names)[PROF_CLASS_NAME_CAP], int n_inf,
                             const char (*post_names)[PROF_CLASS_NAME_CAP], int n_post, mf_dims dims,
                             int missing_is_error, ipf_err *e) {
    json_error_t jerr;
    json_t *obj = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (!obj) return ipf_fail(e, IPF_ERR_FORMAT, "%s:%d: invalid JSON: %s", path, line, jerr.text);
    ipf_status st = IPF_OK;
    const char *infl, *pid, *cap, *img;
    size_t cap_len;
    int yi, yp;
    if (!json_is_object(obj)) {
        st = ipf_fail(e, IPF_ERR_FORMAT, "%s:%d: a line must be a JSON object", path, line);
        goto done;
    }
    if ((st = opt_string(obj, "influencer", &infl, NULL, path, line, e))) goto done;
    if (!infl || !*infl) {
        st = ipf_fail(e, IPF_ERR_FORMAT, "%s:%d: \"influencer\" is missing or empty", path, line);
        goto done;
    }
    if ((st = opt_string(obj, "post", &pid, NULL, path, line, e)) ||
        (st = opt_string(obj, "caption", &cap, &cap_len, path, line, e)) ||
        (st = opt_string(obj, "image", &img, NULL, path, line, e)) ||
        (st = read_label(obj, "influencer_label", inf_names, n_inf, &yi, path, line, e)) ||
        (st = read_label(obj, "post_label", post_names, n_post, &yp, path, line, e)))
        goto done;
    float *feat = ipf_malloc_array((size_t)dims.text + dims.image, sizeof(float));
    int has_t = 0, has_i = 0;
    if (!feat) goto oom;
    if ((st = read_feature(obj, "text_feature", dims.text, feat, &has_t, path, line, e)) ||
        (st = read_feature(obj, "image_feature", dims.image, feat + dims.text, &has_i, path, line, e))) {
        free(feat);
        goto done;
    }
    if (!cap && !img && !has_t && !has_i) {
        free(feat);
        st = ipf_fail(e, IPF_ERR_FORMAT, "%s:%d: a post needs a caption, an image or a cached feature", path, line);
        goto done;
    }
    if (!has_t && !has_i) {
        free(feat);
        feat = NULL;
    }
    char *img_path = NULL;
    if (img) {
        size_t need = strlen(dir) + strlen(img) + 2;
        img_path = malloc(need);
        if (!img_path) {
            free(feat);
            goto oom;
        }
        if (img[0] == '/' || !dir[0]) snprintf(img_path, need, "%s", img);
        else snprintf(img_path, need, "%s/%s", dir, img);
        struct stat sb;
        if (!has_i && (stat(img_path, &sb) != 0 || !S_ISREG(sb.st_mode))) {
            if (missing_is_error) {
                st = ipf_fail(e, IPF_ERR_IO, "%s:%d: image file %s does not exist", path, line, img_path);
                free(img_path);
                free(feat);
                goto done;
            }
            m->skipped_missing_image++;
            free(img_path);
            free(feat);
            goto done;
        }
    }
    /* the influencer, found or added */
    int k;
    for (k = m->n_infl - 1; k >= 0; k--)
        if (!strcmp(m->infl[k].name, infl)) break;
    if (k < 0) {
        if (grow((void **)&m->infl, &m->cap_infl, m->n_infl + 1, sizeof *m->infl)) {
            free(img_path);
            free(feat);
            goto oom;
        }
        k = m->n_infl++;
        m->infl[k].name = xstrdup(infl, strlen(infl));
        m->infl[k].label = yi;
        if (!m->infl[k].name) {
            free(img_path);
            free(feat);
            goto oom;
        }
    } else if (yi >= 0 && m->infl[k].label >= 0 && yi != m->infl[k].label) {
        st = ipf_fail(e, IPF_ERR_FORMAT, "%s:%d: influencer \"%s\" labelled \"%s\" here but \"%s\" before", path,
                      line, infl, inf_names[yi], inf_names[m->infl[k].label]);
        free(img_path);
        free(feat);
        goto done;
    } else if (yi >= 0) {
        m->infl[k].label = yi;
    }
    mf_influencer *f = &m->infl[k];
    if (grow((void **)&m->posts, &m->cap_posts, m->n_posts + 1, sizeof *m->posts) ||
        grow((void **)&f->posts, &f->cap_posts, f->n_posts + 1, sizeof *f->posts)) {
        free(img_path);
        free(feat);
        goto oom;
    }
    mf_post *p = &m->posts[m->n_posts];
    char idbuf[32];
    if (!pid) {
        snprintf(idbuf, sizeof idbuf, "line%d", line);
        pid = idbuf;
    }
    p->post_id = xstrdup(pid, strlen(pid));
    p->caption = cap ? xstrdup(cap, cap_len) : NULL;
    p->caption_len = cap ? cap_len : 0;
    p->image = img_path;
    p->post_label = yp;
    p->line = line;
    p->features = feat; /* one allocation for both */
    p->text_feature = has_t ? feat : NULL;
    p->image_feature = has_i ? feat + dims.text : NULL;
    if (!p->post_id || (cap && !p->caption)) {
        free(p->post_id);
        free(p->caption);
        free(img_path);
        free(feat);
        p->features = p->text_feature = p->image_feature = NULL;
        goto oom;
    }
    f->posts[f->n_posts++] = m->n_posts++;
    goto done;
oom:
    st = ipf_fail(e, IPF_ERR_OUT_OF_MEMORY, "%s:%d: out of memory", path, line);
done:
    json_decref(obj);
    return st;
}

ipf_status manifest_read(const char *path, const char (*inf_names)[PROF_CLASS_NAME_CAP], int n_inf,
                         const char (*post_names)[PROF_CLASS_NAME_CAP], int n_post, int text_dim, int image_dim,
                         int missing_image_is_error, manifest *m, ipf_err *e) {
    mf_dims dims = {text_dim, image_dim};
    memset(m, 0, sizeof *m);
    m->text_dim = text_dim;
    m->image_dim = image_dim;
    gzFile gz = gzopen(path, "rb");
    if (!gz) return ipf_fail(e, IPF_ERR_IO, "cannot open manifest %s", path);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    else dir[0] = 0;

    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    ipf_status st = IPF_OK;
    int line = 0, eof = 0;
    if (!buf) {
        gzclose(gz);
        return ipf_fail(e, IPF_ERR_OUT_OF_MEMORY, "out of memory reading %s", path);
    }
    while (!eof && !st) {
        len = 0;
        buf[0] = 0;
        for (;;) { /* one whole line, however long */
            if (!gzgets(gz, buf + len, (int)(cap - len))) {
                int zerr;
                const char *msg = gzerror(gz, &zerr);
                if (zerr != Z_OK && zerr != Z_BUF_ERROR) st = ipf_fail(e, IPF_ERR_IO, "%s: read error: %s", path, msg);
                eof = 1;
                break;
            }
            len += strlen(buf + len);
            if (len && buf[len - 1] == '\n') break;
            if (len + 1 < cap) { /* short read without newline: the last line */
                eof = 1;
                break;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                st = ipf_fail(e, IPF_ERR_OUT_OF_MEMORY, "%s:%d: out of memory for a long line", path, line + 1);
                break;
            }
            buf = nb;
            cap *= 2;
        }
        if (st || (eof && len == 0)) break;
        line++;
        if (strlen(buf) != len) {
            st = ipf_fail(e, IPF_ERR_FORMAT, "%s:%d: NUL byte in line", path, line);
            break;
        }
        while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' ' || buf[len - 1] == '\t'))
            buf[--len] = 0;
        size_t lead = strspn(buf, " \t");
        if (buf[lead] == 0) {
            m->skipped_blank++;
            continue;
        }
        st = parse_line(m, buf + lead, path, dir, line, inf_names, n_inf, post_names, n_post, dims,
                        missing_image_is_error, e);
    }
    free(buf);
    gzclose(gz);
    if (!st && m->n_posts == 0)
        st = ipf_fail(e, IPF_ERR_FORMAT, "%s: no posts (%d lines, %d dropped for missing images)", path, line,
                      m->skipped_missing_image);
    if (st) manifest_free(m);
    return st;
}

void manifest_split(const manifest *m, int n_classes, double fraction, uint64_t seed, uint8_t *is_val) {
    memset(is_val, 0, (size_t)m->n_infl);
    if (fraction <= 0 || m->n_infl == 0) return;
    ipf_rng r;
    rng_seed(&r, seed ^ 0x5eed5b1175ULL);
    int *idx = malloc(sizeof(int) * (size_t)m->n_infl);
    if (!idx) return;
    for (int c = 0; c < n_classes; c++) {
        int cnt = 0;
        for (int i = 0; i < m->n_infl; i++)
            if (m->infl[i].label == c) idx[cnt++] = i;
        if (cnt < 2) continue; /* a lone example stays in training */
        rng_shuffle(&r, idx, (size_t)cnt);
        int nv = (int)(fraction * cnt + 0.5);
        if (nv < 1) nv = 1;
        if (nv > cnt - 1) nv = cnt - 1;
        for (int i = 0; i < nv; i++) is_val[idx[i]] = 1;
    }
    free(idx);
}
