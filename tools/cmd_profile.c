/* cmd_profile.c — `ipf profile` and `ipf classify-post` (DESIGN.md §5).
 *
 *   ipf profile --model DIR [--summary] [--threads N] MANIFEST
 *     MANIFEST: JSON Lines (plain or gzip; "-" = stdin), one post a line:
 *     {"influencer", "post", "caption", "image" (relative to the manifest),
 *      "influencer_label", "post_label"}; optional "text_feature" /
 *     "image_feature" arrays are cached features used instead of the encoders.
 *     Output, per influencer in order of first appearance:
 *     {"influencer", "label", "probs": {class: p}, "posts": [{"post", "label",
 *      "probs", "attention"}]}.  A bad line or post gives
 *     {"line": N, "error": "..."} (or {"influencer", "post", "error"}) and the
 *     rest goes on; the exit status is then 1.
 *
 *   ipf classify-post --model DIR [--threads N]
 *     stdin {"id", "caption", "image"} (image relative to the cwd; cached
 *     features as above) -> stdout {"id", "label", "probs"}. */
#include "ipf_tool.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- shared helpers ------------------------------------------------------- */

typedef struct model_info {
    ipf_model *m;
    ipf_session *s;
    int64_t X, E, D, Ci, Cp;
    const char **inf_names, **post_names;
} model_info;

static int open_model(model_info *mi, const char *dir, int64_t threads) {
    memset(mi, 0, sizeof *mi);
    if (ipf_model_load(dir, &mi->m)) {
        fprintf(stderr, "ipf: %s\n", ipf_last_error());
        return -1;
    }
    if (ipf_session_create(mi->m, &mi->s) || (threads > 0 && ipf_session_set_option(mi->s, IPF_OPT_THREADS, threads))) {
        fprintf(stderr, "ipf: %s\n", mi->s ? ipf_session_error(mi->s) : ipf_last_error());
        return -1;
    }
    ipf_model_dim(mi->m, IPF_DIM_TEXT, &mi->X);
    ipf_model_dim(mi->m, IPF_DIM_IMAGE_POOL, &mi->E);
    ipf_model_dim(mi->m, IPF_DIM_POST, &mi->D);
    ipf_model_dim(mi->m, IPF_DIM_INFLUENCER_CLASSES, &mi->Ci);
    ipf_model_dim(mi->m, IPF_DIM_POST_CLASSES, &mi->Cp);
    mi->inf_names = calloc((size_t)mi->Ci, sizeof *mi->inf_names);
    mi->post_names = calloc((size_t)mi->Cp, sizeof *mi->post_names);
    if (!mi->inf_names || !mi->post_names) return -1;
    for (int32_t i = 0; i < mi->Ci; i++) ipf_model_class_name(mi->m, IPF_HEAD_INFLUENCER, i, &mi->inf_names[i]);
    for (int32_t i = 0; i < mi->Cp; i++) ipf_model_class_name(mi->m, IPF_HEAD_POST, i, &mi->post_names[i]);
    return 0;
}

static void close_model(model_info *mi) {
    ipf_session_free(mi->s);
    ipf_model_free(mi->m);
    free(mi->inf_names);
    free(mi->post_names);
}

static int argmax(const float *p, int64_t n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (p[i] > p[best]) best = i;
    return best;
}

/* {"name": p, ...}; emit() prints reals with 6 significant digits. */
static json_t *probs_json(const float *p, const char **names, int64_t n) {
    json_t *o = json_object();
    for (int64_t i = 0; i < n; i++) json_object_set_new(o, names[i], json_real(p[i]));
    return o;
}

/* Print one JSON value as a line (keys in insertion order). */
static void emit(json_t *o) {
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    if (s) {
        fputs(s, stdout);
        fputc('\n', stdout);
        free(s);
    }
    json_decref(o);
}

static void emit_error(json_t *o, const char *msg) {
    json_object_set_new(o, "error", json_string(msg));
    fprintf(stderr, "ipf: %s\n", msg);
    emit(o);
}

/* A cached feature array of exactly n numbers; NULL (and *err) otherwise. */
static float *feature_array(json_t *a, int64_t n, const char *field, char *err, size_t cap) {
    if (!json_is_array(a) || (int64_t)json_array_size(a) != n) {
        snprintf(err, cap, "'%s' must be an array of %lld numbers", field, (long long)n);
        return NULL;
    }
    float *f = malloc((size_t)n * sizeof(float));
    if (!f) {
        snprintf(err, cap, "out of memory");
        return NULL;
    }
    for (int64_t i = 0; i < n; i++) {
        json_t *x = json_array_get(a, (size_t)i);
        if (!json_is_number(x)) {
            snprintf(err, cap, "'%s'[%lld] is not a number", field, (long long)i);
            free(f);
            return NULL;
        }
        f[i] = (float)json_number_value(x);
    }
    return f;
}

/* Open a manifest, decompressing gzip through `gzip -dc` (the tool links only
 * the library and jansson).  *child receives the decompressor's pid or -1. */
static FILE *open_manifest(const char *path, pid_t *child) {
    *child = -1;
    if (!strcmp(path, "-")) return stdin;
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    int c1 = fgetc(f), c2 = fgetc(f);
    if (c1 != 0x1f || c2 != 0x8b) {
        rewind(f);
        return f;
    }
    fclose(f);
    int fd[2];
    if (pipe(fd)) return NULL;
    pid_t pid = fork();
    if (pid < 0) return NULL;
    if (pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]);
        close(fd[1]);
        execlp("gzip", "gzip", "-dc", "--", path, (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    *child = pid;
    return fdopen(fd[0], "rb");
}

static int close_manifest(FILE *f, pid_t child) {
    if (f != stdin) fclose(f);
    if (child < 0) return 0;
    int status = 0;
    waitpid(child, &status, 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* ---- ipf profile ------------------------------------------------------------ */

typedef struct post_rec {
    json_t *line; /* the parsed manifest line (owns the strings below) */
    int lineno;
    const char *post, *caption;
    size_t caption_len;
    char *image;      /* resolved path or NULL */
    float *tf, *imf;  /* cached features (owned) or NULL */
} post_rec;

typedef struct inf_rec {
    char *name, *label;
    post_rec *posts;
    size_t n, cap;
} inf_rec;

typedef struct manifest {
    inf_rec *inf;
    size_t n, cap;
} manifest;

static inf_rec *find_influencer(manifest *mf, const char *name) {
    for (size_t i = 0; i < mf->n; i++)
        if (!strcmp(mf->inf[i].name, name)) return &mf->inf[i];
    if (mf->n == mf->cap) {
        size_t cap = mf->cap ? 2 * mf->cap : 16;
        inf_rec *p = realloc(mf->inf, cap * sizeof *p);
        if (!p) return NULL;
        mf->inf = p;
        mf->cap = cap;
    }
    inf_rec *r = &mf->inf[mf->n++];
    memset(r, 0, sizeof *r);
    r->name = strdup(name);
    return r->name ? r : NULL;
}

static const char *opt_string(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Parse one manifest line into mf; on failure, a message in err. */
static int add_line(manifest *mf, const model_info *mi, const char *text, size_t len, int lineno, const char *base,
                    char *err, size_t cap) {
    json_error_t je;
    json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(o)) {
        snprintf(err, cap, "not a JSON object (%s)", o ? "another JSON value" : je.text);
        json_decref(o);
        return -1;
    }
    const char *inf = opt_string(o, "influencer");
    if (!inf) {
        snprintf(err, cap, "'influencer' missing or not a string");
        json_decref(o);
        return -1;
    }
    post_rec pr = {.line = o, .lineno = lineno};
    json_t *jp = json_object_get(o, "post"), *jc = json_object_get(o, "caption"), *ji = json_object_get(o, "image");
    char tmp[64];
    if (json_is_string(jp)) pr.post = json_string_value(jp);
    else if (json_is_integer(jp)) {
        snprintf(tmp, sizeof tmp, "%lld", (long long)json_integer_value(jp));
        json_object_set_new(o, "post", json_string(tmp));
        pr.post = json_string_value(json_object_get(o, "post"));
    }
    if (jc && !json_is_null(jc)) {
        if (!json_is_string(jc)) {
            snprintf(err, cap, "'caption' is not a string");
            goto bad;
        }
        pr.caption = json_string_value(jc);
        pr.caption_len = json_string_length(jc);
    }
    if (ji && !json_is_null(ji)) {
        if (!json_is_string(ji)) {
            snprintf(err, cap, "'image' is not a string");
            goto bad;
        }
        const char *im = json_string_value(ji);
        size_t n = strlen(base) + strlen(im) + 2;
        pr.image = malloc(n);
        if (!pr.image) goto oom;
        if (im[0] == '/' || !base[0]) snprintf(pr.image, n, "%s", im);
        else snprintf(pr.image, n, "%s/%s", base, im);
    }
    json_t *jt = json_object_get(o, "text_feature"), *jf = json_object_get(o, "image_feature");
    if (jt && !(pr.tf = feature_array(jt, mi->X, "text_feature", err, cap))) goto bad;
    if (jf && !(pr.imf = feature_array(jf, mi->E, "image_feature", err, cap))) goto bad;
    if (!pr.caption && !pr.image && !pr.tf && !pr.imf) {
        snprintf(err, cap, "post has neither 'caption' nor 'image'");
        goto bad;
    }
    inf_rec *r = find_influencer(mf, inf);
    if (!r) goto oom;
    if (!r->label) {
        const char *lab = opt_string(o, "influencer_label");
        if (lab) r->label = strdup(lab);
    }
    if (r->n == r->cap) {
        size_t c2 = r->cap ? 2 * r->cap : 8;
        post_rec *p = realloc(r->posts, c2 * sizeof *p);
        if (!p) goto oom;
        r->posts = p;
        r->cap = c2;
    }
    if (!pr.post) {
        snprintf(tmp, sizeof tmp, "%zu", r->n);
        json_object_set_new(o, "post", json_string(tmp));
        pr.post = json_string_value(json_object_get(o, "post"));
    }
    r->posts[r->n++] = pr;
    return 0;
oom:
    snprintf(err, cap, "out of memory");
bad:
    free(pr.image);
    free(pr.tf);
    free(pr.imf);
    json_decref(o);
    return -1;
}

static void free_manifest(manifest *mf) {
    for (size_t i = 0; i < mf->n; i++) {
        inf_rec *r = &mf->inf[i];
        for (size_t j = 0; j < r->n; j++) {
            json_decref(r->posts[j].line);
            free(r->posts[j].image);
            free(r->posts[j].tf);
            free(r->posts[j].imf);
        }
        free(r->posts);
        free(r->name);
        free(r->label);
    }
    free(mf->inf);
}

typedef struct ranked {
    size_t i;
    float a;
} ranked;

static int by_attention(const void *x, const void *y) {
    const ranked *a = x, *b = y;
    return a->a < b->a ? 1 : a->a > b->a ? -1 : (a->i > b->i) - (a->i < b->i);
}

static void print_summary(const model_info *mi, const inf_rec *r, const post_rec *const *ok, size_t n,
                          const float *ip, const float *pp, const float *alpha) {
    int best = argmax(ip, mi->Ci);
    float second_p = -1;
    int second = -1;
    for (int i = 0; i < mi->Ci; i++)
        if (i != best && ip[i] > second_p) second_p = ip[i], second = i;
    printf("%s: %s (%.1f%%", r->name, mi->inf_names[best], 100.0 * ip[best]);
    if (second >= 0) printf("; next %s %.1f%%", mi->inf_names[second], 100.0 * second_p);
    printf(")%s%s%s, %zu post%s\n", r->label ? " [labelled " : "", r->label ? r->label : "", r->label ? "]" : "", n,
           n == 1 ? "" : "s");
    ranked *rk = malloc(n * sizeof *rk);
    if (!rk) return;
    for (size_t i = 0; i < n; i++) rk[i] = (ranked){i, alpha[i]};
    qsort(rk, n, sizeof *rk, by_attention);
    size_t top = n < 3 ? n : 3;
    printf("  top posts by attention:\n");
    for (size_t t = 0; t < top; t++) {
        size_t i = rk[t].i;
        int c = argmax(pp + i * mi->Cp, mi->Cp);
        const char *cap = ok[i]->caption ? ok[i]->caption : "";
        int clen = (int)strcspn(cap, "\n\r"), shown = clen > 48 ? 48 : clen;
        /* cut at a UTF-8 character boundary, never inside one */
        while (shown < clen && shown > 0 && ((unsigned char)cap[shown] & 0xC0) == 0x80) shown--;
        printf("    %5.3f  %-16s %-9s %5.1f%%  \"%.*s%s\"\n", rk[t].a, ok[i]->post, mi->post_names[c],
               100.0 * pp[i * mi->Cp + c], shown, cap, shown < clen ? "..." : "");
    }
    free(rk);
}

/* Profile one influencer: encode each post alone (a bad post is reported
 * and skipped), then pool and classify the rest from their features. */
static int profile_one(model_info *mi, const inf_rec *r, int summary, int *labelled, int *correct) {
    int errors = 0;
    size_t n = r->n;
    float *tf = malloc(n * (size_t)mi->X * sizeof(float)), *imf = malloc(n * (size_t)mi->E * sizeof(float));
    float *pp = malloc(n * (size_t)mi->Cp * sizeof(float)), *alpha = malloc(n * sizeof(float));
    float *ip = malloc((size_t)mi->Ci * sizeof(float));
    ipf_post *posts = calloc(n, sizeof *posts);
    const post_rec **ok = calloc(n, sizeof *ok);
    if (!tf || !imf || !pp || !alpha || !ip || !posts || !ok) {
        fprintf(stderr, "ipf: out of memory\n");
        errors = 1;
        goto out;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        const post_rec *pr = &r->posts[i];
        ipf_post p = {.struct_size = sizeof(ipf_post)};
        p.caption = pr->caption;
        p.caption_len = pr->caption_len;
        p.image_path = pr->image;
        p.text_feature = pr->tf;
        p.image_feature = pr->imf;
        float *t = tf + m * (size_t)mi->X, *im = imf + m * (size_t)mi->E;
        if (ipf_session_encode_post(mi->s, &p, t, im, NULL)) {
            char msg[1400];
            snprintf(msg, sizeof msg, "line %d: %s", pr->lineno, ipf_session_error(mi->s));
            json_t *o = json_object();
            json_object_set_new(o, "influencer", json_string(r->name));
            json_object_set_new(o, "post", json_string(pr->post));
            emit_error(o, msg);
            errors = 1;
            continue;
        }
        posts[m] = (ipf_post){.struct_size = sizeof(ipf_post)};
        posts[m].text_feature = t;
        posts[m].image_feature = im;
        ok[m++] = pr;
    }
    if (!m) {
        json_t *o = json_object();
        json_object_set_new(o, "influencer", json_string(r->name));
        char msg[256];
        snprintf(msg, sizeof msg, "influencer '%s': no usable post", r->name);
        emit_error(o, msg);
        errors = 1;
        goto out;
    }
    if (ipf_session_profile(mi->s, posts, m, ip, pp, alpha)) {
        json_t *o = json_object();
        json_object_set_new(o, "influencer", json_string(r->name));
        emit_error(o, ipf_session_error(mi->s));
        errors = 1;
        goto out;
    }
    if (r->label) {
        ++*labelled;
        *correct += !strcmp(r->label, mi->inf_names[argmax(ip, mi->Ci)]);
    }
    if (summary) {
        print_summary(mi, r, ok, m, ip, pp, alpha);
        goto out;
    }
    json_t *o = json_object(), *arr = json_array();
    json_object_set_new(o, "influencer", json_string(r->name));
    json_object_set_new(o, "label", json_string(mi->inf_names[argmax(ip, mi->Ci)]));
    json_object_set_new(o, "probs", probs_json(ip, mi->inf_names, mi->Ci));
    for (size_t i = 0; i < m; i++) {
        json_t *po = json_object();
        const float *q = pp + i * (size_t)mi->Cp;
        json_object_set_new(po, "post", json_string(ok[i]->post));
        json_object_set_new(po, "label", json_string(mi->post_names[argmax(q, mi->Cp)]));
        json_object_set_new(po, "probs", probs_json(q, mi->post_names, mi->Cp));
        json_object_set_new(po, "attention", json_real(alpha[i]));
        json_array_append_new(arr, po);
    }
    json_object_set_new(o, "posts", arr);
    emit(o);
out:
    free(tf);
    free(imf);
    free(pp);
    free(alpha);
    free(ip);
    free(posts);
    free(ok);
    return errors;
}

static int parse_threads(const char *s, int64_t *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < 1 || v > 256) return -1;
    *out = v;
    return 0;
}

int cmd_profile(int argc, char **argv) {
    const char *model = NULL, *path = NULL;
    int summary = 0;
    int64_t threads = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--model") && i + 1 < argc) model = argv[++i];
        else if (!strcmp(argv[i], "--summary")) summary = 1;
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            if (parse_threads(argv[++i], &threads)) {
                fprintf(stderr, "ipf profile: --threads wants 1..256, got '%s'\n", argv[i]);
                return 2;
            }
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "ipf profile: unknown option '%s'\n", argv[i]);
            return 2;
        } else if (!path) path = argv[i];
        else {
            fprintf(stderr, "ipf profile: more than one manifest given ('%s')\n", argv[i]);
            return 2;
        }
    }
    if (!model || !path) {
        fprintf(stderr, "usage: ipf profile --model DIR [--summary] [--threads N] MANIFEST(.jsonl[.gz] or -)\n");
        return 2;
    }
    /* the manifest first: a gzip one forks its decompressor, best done before
     * the model's compute threads exist */
    pid_t child;
    FILE *f = open_manifest(path, &child);
    if (!f) {
        fprintf(stderr, "ipf profile: %s: cannot open: %s\n", path, strerror(errno));
        return 1;
    }
    model_info mi;
    if (open_model(&mi, model, threads)) {
        close_model(&mi);
        close_manifest(f, child);
        return 1;
    }
    /* image paths are relative to the manifest's directory */
    char *base = strdup(strcmp(path, "-") ? path : "");
    char *slash = base ? strrchr(base, '/') : NULL;
    if (base) {
        if (slash) *slash = 0;
        else base[0] = 0;
    }
    manifest mf = {0};
    int errors = 0, lineno = 0;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    while ((len = getline(&line, &lcap, f)) >= 0) {
        lineno++;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) len--;
        if (!len || strspn(line, " \t") == (size_t)len) continue;
        char err[512];
        if (add_line(&mf, &mi, line, (size_t)len, lineno, base ? base : "", err, sizeof err)) {
            char msg[700];
            snprintf(msg, sizeof msg, "%s line %d: %s", path, lineno, err);
            json_t *o = json_object();
            json_object_set_new(o, "line", json_integer(lineno));
            emit_error(o, msg);
            errors = 1;
        }
    }
    free(line);
    if (close_manifest(f, child)) {
        fprintf(stderr, "ipf profile: %s: decompression failed\n", path);
        errors = 1;
    }
    int labelled = 0, correct = 0;
    for (size_t i = 0; i < mf.n; i++) {
        errors |= profile_one(&mi, &mf.inf[i], summary, &labelled, &correct);
        fflush(stdout);
    }
    if (summary && mf.n) {
        printf("(%zu influencer%s; probabilities are the model's softmax outputs", mf.n, mf.n == 1 ? "" : "s");
        if (labelled) printf("; topic matches the manifest's influencer_label for %d of %d", correct, labelled);
        printf(")\n");
    }
    free_manifest(&mf);
    free(base);
    close_model(&mi);
    return errors;
}

/* ---- ipf classify-post ---------------------------------------------------------- */

int cmd_classify_post(int argc, char **argv) {
    const char *model = NULL;
    int64_t threads = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--model") && i + 1 < argc) model = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            if (parse_threads(argv[++i], &threads)) {
                fprintf(stderr, "ipf classify-post: --threads wants 1..256, got '%s'\n", argv[i]);
                return 2;
            }
        } else {
            fprintf(stderr, "ipf classify-post: unknown argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!model) {
        fprintf(stderr, "usage: ipf classify-post --model DIR [--threads N] < {\"id\",\"caption\",\"image\"} lines\n");
        return 2;
    }
    model_info mi;
    if (open_model(&mi, model, threads)) {
        close_model(&mi);
        return 1;
    }
    float *vec = malloc((size_t)mi.D * sizeof(float)), *probs = malloc((size_t)mi.Cp * sizeof(float));
    int errors = 0, lineno = 0;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    while (vec && probs && (len = getline(&line, &lcap, stdin)) >= 0) {
        lineno++;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) len--;
        if (!len || strspn(line, " \t") == (size_t)len) continue;
        json_error_t je;
        json_t *in = json_loadb(line, (size_t)len, JSON_REJECT_DUPLICATES, &je);
        json_t *out = json_object();
        json_t *id = json_is_object(in) ? json_object_get(in, "id") : NULL;
        json_object_set(out, "id", id ? id : json_null());
        char msg[1400];
        if (!json_is_object(in)) {
            snprintf(msg, sizeof msg, "line %d: not a JSON object (%s)", lineno, in ? "another JSON value" : je.text);
            emit_error(out, msg);
            errors = 1;
            json_decref(in);
            continue;
        }
        ipf_post p = {.struct_size = sizeof(ipf_post)};
        json_t *jc = json_object_get(in, "caption"), *ji = json_object_get(in, "image");
        float *tf = NULL, *imf = NULL;
        char err[512] = "";
        if (jc && !json_is_null(jc) && !json_is_string(jc)) snprintf(err, sizeof err, "'caption' is not a string");
        else if (ji && !json_is_null(ji) && !json_is_string(ji)) snprintf(err, sizeof err, "'image' is not a string");
        else {
            if (json_is_string(jc)) p.caption = json_string_value(jc), p.caption_len = json_string_length(jc);
            if (json_is_string(ji)) p.image_path = json_string_value(ji);
            json_t *jt = json_object_get(in, "text_feature"), *jf = json_object_get(in, "image_feature");
            if (jt) p.text_feature = tf = feature_array(jt, mi.X, "text_feature", err, sizeof err);
            if (!err[0] && jf) p.image_feature = imf = feature_array(jf, mi.E, "image_feature", err, sizeof err);
        }
        if (err[0]) snprintf(msg, sizeof msg, "line %d: %s", lineno, err);
        else if (ipf_session_encode_post(mi.s, &p, NULL, NULL, vec) ||
                 ipf_session_classify_post(mi.s, vec, probs, (size_t)mi.Cp))
            snprintf(msg, sizeof msg, "line %d: %s", lineno, ipf_session_error(mi.s));
        else
            msg[0] = 0;
        if (msg[0]) {
            emit_error(out, msg);
            errors = 1;
        } else {
            json_object_set_new(out, "label", json_string(mi.post_names[argmax(probs, mi.Cp)]));
            json_object_set_new(out, "probs", probs_json(probs, mi.post_names, mi.Cp));
            emit(out);
        }
        fflush(stdout);
        free(tf);
        free(imf);
        json_decref(in);
    }
    free(line);
    free(vec);
    free(probs);
    close_model(&mi);
    return errors;
}
