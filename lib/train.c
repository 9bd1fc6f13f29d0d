/* train.c — the public trainer (ipf_trainer_*): options, data and feature
 * caching, optimisation steps, evaluation, bundles and checkpoints.
 *
 * Feature caching (why): with the encoders frozen (the default), x_T and
 * the Inception pool features of a post never change, so both are computed
 * once per post at load time (n_posts x (E+X) floats, ~11 KB a post) and
 * optionally kept in a file (ipf_trainer_set_feature_cache) so repeated runs
 * skip the encoders.  With augmentation on, the pool features change on every
 * copy: the decoded, preprocessed image (3,S,S) is cached in memory (up to
 * aug_cache_mb; beyond that images are decoded again) and the whole trunk is
 * rerun per augmented copy.  When Inception's top k blocks are fine-tuned
 * without augmentation, the frozen trunk's output below them is cached per
 * post and only the top blocks run each step; with augmentation that cache
 * is not valid (the transform happens at the input), so the whole trunk runs.
 * Fine-tuned BERT layers likewise start from cached hidden states below them.
 *
 * Reproducibility: one RNG (seeded from options.seed) drives the epoch
 * shuffles, post sampling, dropout masks and augmentation, in a fixed order
 * on the calling thread; evaluation uses its own generator.  A checkpoint
 * keeps parameters, Adam state, RNG, epoch, step and the epoch's order, so a
 * resumed run continues bit-exactly (given the same thread count). */
#include "train.h"
#include "inception.h"
#include "bert.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct ipf_trainer {
    ipf_err err;
    const ipf_model *model; /* NULL for trainers made from a bare configuration (tests) */
    ipf_session *session;   /* encoders and kernel context */
    ipf_kctx own_k;         /* kernel context when there is no session */
    ipf_kctx *k;
    prof_config cfg;
    prof_layout lay;
    float *params, *grads, *m, *v; /* lay.total each, one allocation */
    adam_cfg adam;
    ipf_train_options opt;
    ipf_rng rng;
    int64_t step;
    int32_t epoch;
    /* data */
    int loaded;
    manifest mf;
    float *fpool, *ftext;    /* (n_posts,E), (n_posts,X) raw features */
    float *mu, *isd;         /* (E+X) standardisation: mean and 1/std over training posts */
    int *train_set, n_train, *val_set, n_val;
    int *perm, cursor;       /* this epoch's order of training influencers, position */
    uint32_t data_crc;
    int64_t steps_per_epoch;
    double epoch_loss;
    int64_t epoch_steps;
    /* per-step scratch */
    float *bpool, *bxt;      /* (P,E), (P,X) the batch's posts */
    int *by, *pick, *seg, *yinf;
    size_t bcap, scap;
    prof_acts acts;
    /* augmentation */
    float **img;             /* (n_posts) cached preprocessed images or NULL */
    size_t img_bytes;
    float *aug_in, *aug_out;
    int img_side;
    /* Inception fine-tuning (inception_trainable_blocks = k > 0) */
    inception_train *inc_t;
    int inc_k, inc_C, inc_FH, inc_FW;
    size_t inc_feat;         /* C*FH*FW floats of frozen trunk output per image */
    size_t inc_n;            /* its trainable parameters */
    float *inc_m, *inc_v;    /* Adam state of those */
    float *ffeat;            /* (n_posts, inc_feat) frozen trunk outputs */
    uint8_t *has_feat;       /* (n_posts) 1 where ffeat holds the post's image */
    float *bfeat, *bipool, *bdpool; /* batch: (n_img,inc_feat), (n_img,E), (P,E) */
    int *bimg_row;           /* (n_img) batch row of each image */
    int n_img;
    size_t bfcap;
    /* BERT fine-tuning (bert_trainable_layers = k > 0) */
    bert_train *bt;
    int bt_D;
    size_t bt_n;
    float *bt_m, *bt_v;
    float *fhid;             /* frozen hidden states of every caption, packed (rows of D) */
    size_t fhid_rows, fhid_cap;
    size_t *hid_off;         /* (n_posts) first row in fhid */
    int *hid_len;            /* (n_posts) tokens; 0 = no cached hidden states (x_T fixed) */
    float *bhid, *bcls, *bdxt; /* batch: packed hidden rows, (n_txt,D), (P,X) */
    int *blens, *btxt_row;
    int n_txt;
    size_t bhcap, btcap;
    ipf_progress_fn progress;
    void *progress_user;
    char *cache_path;
};

/* ---- options --------------------------------------------------------------- */

IPF_API ipf_status ipf_train_options_default(ipf_train_options *o) {
    if (!o) return ipf_fail(NULL, IPF_ERR_INVALID_ARGUMENT, "ipf_train_options_default: options is NULL");
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->lr = 1e-3f;
    o->beta1 = 0.9f;
    o->beta2 = 0.999f;
    o->eps = 1e-8f;
    o->lr_step_epochs = 10;
    o->lr_step_gamma = 0.1f;
    o->dropout = 0.5f;
    o->lambda_post = 1.0f;
    o->posts_per_influencer = 20;
    o->batch_influencers = 8;
    o->epochs = 10;
    o->seed = 1;
    o->pooling = IPF_POOLING_ATTENTION;
    o->val_fraction = 0.2f;
    o->aug_rotation_deg = 30;
    o->aug_shift = 0.2f;
    o->aug_zoom = 0.2f;
    o->aug_hflip = 1;
    o->aug_channel_shift = 0.1f;
    o->aug_fill_nearest = 1;
    o->aug_cache_mb = 1024;
    return IPF_OK;
}

static ipf_status check_options(const ipf_train_options *o, ipf_err *e) {
#define BAD(cond, ...) \
    if (cond) return ipf_fail(e, IPF_ERR_INVALID_ARGUMENT, "training options: " __VA_ARGS__)
    BAD(!(o->lr > 0 && isfinite(o->lr)), "lr must be > 0 (got %g)", (double)o->lr);
    BAD(!(o->beta1 >= 0 && o->beta1 < 1) || !(o->beta2 >= 0 && o->beta2 < 1), "beta1/beta2 must be in [0,1)");
    BAD(!(o->eps > 0), "eps must be > 0");
    BAD(!(o->weight_decay >= 0), "weight_decay must be >= 0");
    BAD(!(o->clip_norm >= 0), "clip_norm must be >= 0");
    BAD(o->lr_schedule < IPF_LR_CONSTANT || o->lr_schedule > IPF_LR_STEP, "unknown lr_schedule %d", o->lr_schedule);
    BAD(o->lr_schedule == IPF_LR_STEP && (o->lr_step_epochs < 1 || !(o->lr_step_gamma > 0)),
        "step schedule needs lr_step_epochs >= 1 and lr_step_gamma > 0");
    BAD(!(o->dropout >= 0 && o->dropout < 1), "dropout must be in [0,1) (got %g)", (double)o->dropout);
    BAD(!(o->lambda_post >= 0), "lambda_post must be >= 0");
    BAD(o->posts_per_influencer < 0 || o->eval_posts_per_influencer < 0, "posts per influencer must be >= 0");
    BAD(o->batch_influencers < 1, "batch_influencers must be >= 1 (got %d)", o->batch_influencers);
    BAD(o->epochs < 0, "epochs must be >= 0");
    BAD(o->pooling != IPF_POOLING_ATTENTION && o->pooling != IPF_POOLING_MEAN, "unknown pooling %d", o->pooling);
    BAD(!(o->val_fraction >= 0 && o->val_fraction < 1), "val_fraction must be in [0,1)");
    BAD(o->threads < 0 || o->threads > 256, "threads must be 0..256");
    BAD(o->aug_rotation_deg < 0 || o->aug_shift < 0 || o->aug_zoom < 0 || o->aug_zoom >= 1 ||
            o->aug_channel_shift < 0,
        "augmentation ranges must be >= 0 (zoom < 1)");
    BAD(o->aug_cache_mb < 0, "aug_cache_mb must be >= 0");
    BAD(o->inception_trainable_blocks < 0 || o->bert_trainable_layers < 0, "trainable counts must be >= 0");
    BAD(o->inception_trainable_blocks > INCEPTION_NBLOCKS, "inception_trainable_blocks must be 0..%d",
        INCEPTION_NBLOCKS);
#undef BAD
    return IPF_OK;
}

/* The caller's options over the defaults; a smaller struct_size (an older
 * caller) keeps the defaults for the fields it does not know. */
static ipf_status copy_options(ipf_train_options *dst, const ipf_train_options *src, ipf_err *e) {
    ipf_train_options_default(dst);
    if (!src) return IPF_OK;
    if (src->struct_size < offsetof(ipf_train_options, lr) || src->struct_size > sizeof *dst)
        return ipf_fail(e, IPF_ERR_INVALID_ARGUMENT,
                        "training options: struct_size %zu is not a known size (this library: %zu); fill the "
                        "struct with ipf_train_options_default",
                        src->struct_size, sizeof *dst);
    memcpy(dst, src, src->struct_size);
    dst->struct_size = sizeof *dst;
    return check_options(dst, e);
}

/* ---- creation ---------------------------------------------------------------- */

static ipf_status trainer_alloc(const prof_config *c, const float *params, const ipf_train_options *o,
                                ipf_trainer **out, ipf_err *e) {
    ipf_trainer *t = calloc(1, sizeof *t);
    if (!t) return ipf_fail(e, IPF_ERR_OUT_OF_MEMORY, "out of memory for a trainer");
    ipf_status st = copy_options(&t->opt, o, e);
    if (st) {
        free(t);
        return st;
    }
    t->cfg = *c;
    prof_layout_init(&t->lay, c);
    size_t n = t->lay.total;
    t->params = ipf_calloc_array(n, 4 * sizeof(float));
    if (!t->params) {
        free(t);
        return ipf_fail(e, IPF_ERR_OUT_OF_MEMORY, "out of memory for %zu parameters and their Adam state", n);
    }
    t->grads = t->params + n;
    t->m = t->grads + n;
    t->v = t->m + n;
    memcpy(t->params, params, n * sizeof(float));
    adam_cfg_default(&t->adam);
    t->adam.lr = t->opt.lr;
    t->adam.beta1 = t->opt.beta1;
    t->adam.beta2 = t->opt.beta2;
    t->adam.eps = t->opt.eps;
    t->adam.weight_decay = t->opt.weight_decay;
    t->adam.decoupled = t->opt.decoupled_weight_decay != 0;
    t->adam.clip_norm = t->opt.clip_norm;
    t->adam.schedule = t->opt.lr_schedule;
    t->adam.lr_min = t->opt.lr_min;
    t->adam.step_gamma = t->opt.lr_step_gamma;
    rng_seed(&t->rng, t->opt.seed);
    kctx_init(&t->own_k);
    t->k = &t->own_k;
    *out = t;
    return IPF_OK;
}

/* Internal: a trainer over a bare configuration and parameters (no model,
 * no encoders); data comes through train_set_data.  For tests. */
ipf_status train_create_raw(const prof_config *c, const float *params, const ipf_train_options *o,
                            ipf_trainer **out, ipf_err *e) {
    if (!c || !params || !out) return ipf_fail(e, IPF_ERR_INVALID_ARGUMENT, "train_create_raw: NULL argument");
    *out = NULL;
    return trainer_alloc(c, params, o, out, e);
}

/* Internal: connect a model's encoders (a session on it) to a trainer;
 * image_side is the preprocessed image size for augmentation. */
ipf_status train_attach_model(ipf_trainer *t, const ipf_model *model, int image_side, ipf_err *e) {
    t->model = model;
    t->img_side = image_side;
    ipf_status st = ipf_session_create(model, &t->session);
    if (st) return ipf_fail(e, st, "%s", ipf_last_error());
    if (t->opt.threads > 0 && (st = ipf_session_set_option(t->session, IPF_OPT_THREADS, t->opt.threads)))
        return ipf_fail(e, st, "%s", ipf_session_error(t->session));
    t->k = &t->session->kctx;
    if (t->opt.inception_trainable_blocks > 0) {
        const inception *inc = model->part[IPF_PART_INCEPTION];
        if (!inc)
            return ipf_fail(e, IPF_ERR_NOT_FOUND,
                            "inception_trainable_blocks = %d but the model has no image encoder (inception/)",
                            t->opt.inception_trainable_blocks);
        t->inc_k = t->opt.inception_trainable_blocks;
        if ((st = inception_trunk_shape(inc, image_side, image_side, t->inc_k, &t->inc_C, &t->inc_FH, &t->inc_FW, e)) ||
            (st = inception_train_create(inc, t->inc_k, &t->inc_t, e)))
            return st;
        t->inc_feat = (size_t)t->inc_C * t->inc_FH * t->inc_FW;
        t->inc_n = inception_train_nparams(t->inc_t);
        t->inc_m = ipf_calloc_array(2 * t->inc_n, sizeof(float));
        if (!t->inc_m) return ipf_fail(e, IPF_ERR_OUT_OF_MEMORY, "out of memory for Inception's Adam state");
        t->inc_v = t->inc_m + t->inc_n;
    }
    if (t->opt.bert_trainable_layers > 0) {
        const bert *b = model->part[IPF_PART_BERT];
        if (!b || !model->part[IPF_PART_TOKENIZER])
            return ipf_fail(e, IPF_ERR_NOT_FOUND,
                            "bert_trainable_layers = %d but the model has no text encoder and tokenizer (bert/)",
                            t->opt.bert_trainable_layers);
        if (t->opt.bert_trainable_layers > bert_get_config(b)->layers)
            return ipf_fail(e, IPF_ERR_INVALID_ARGUMENT, "bert_trainable_layers = %d but BERT has %d layers",
                            t->opt.bert_trainable_layers, bert_get_config(b)->layers);
        t->bt_D = bert_get_config(b)->hidden;
        if (t->bt_D != t->cfg.text_dim)
            return ipf_fail(e, IPF_ERR_SHAPE, "BERT hidden %d != the profiler's text width %d", t->bt_D,
                            t->cfg.text_dim);
        if ((st = bert_train_create(b, t->opt.bert_trainable_layers, &t->bt, e))) return st;
        bert_train_params(t->bt, &t->bt_n);
        t->bt_m = ipf_calloc_array(2 * t->bt_n, sizeof(float));
        if (!t->bt_m) return ipf_fail(e, IPF_ERR_OUT_OF_MEMORY, "out of memory for BERT's Adam state");
        t->bt_v = t->bt_m + t->bt_n;
    }
    return IPF_OK;
}

static void free_data(ipf_trainer *t) {
    if (t->img)
        for (int i = 0; i < t->mf.n_posts; i++) free(t->img[i]);
    free(t->img);
    free(t->ffeat);
    t->ffeat = NULL;
    t->has_feat = NULL;
    free(t->fhid);
    free(t->hid_off);
    t->fhid = NULL;
    t->hid_off = NULL;
    t->hid_len = NULL;
    t->fhid_rows = t->fhid_cap = 0;
    manifest_free(&t->mf);
    free(t->fpool);
    free(t->mu);
    free(t->train_set);
    free(t->perm);
    t->img = NULL;
    t->img_bytes = 0;
    t->fpool = t->ftext = t->mu = t->isd = NULL;
    t->train_set = t->val_set = t->perm = NULL;
    t->n_train = t->n_val = t->cursor = 0;
    t->loaded = 0;
}

IPF_API void ipf_trainer_free(ipf_trainer *t) {
    if (!t) return;
    free_data(t);
    prof_acts_free(&t->acts);
    free(t->bpool);
    free(t->by);
    free(t->aug_in);
    free(t->cache_path);
    free(t->params);
    inception_train_free(t->inc_t);
    free(t->inc_m);
    free(t->bfeat);
    bert_train_free(t->bt);
    free(t->bt_m);
    free(t->bhid);
    free(t->bcls);
    free(t->blens);
    ipf_session_free(t->session);
    kctx_destroy(&t->own_k);
    free(t);
}

IPF_API const char *ipf_trainer_error(const ipf_trainer *t) { return t ? t->err.msg : "trainer is NULL"; }

IPF_API ipf_status ipf_trainer_set_progress(ipf_trainer *t, ipf_progress_fn fn, void *user) {
    if (!t) return ipf_fail(NULL, IPF_ERR_INVALID_ARGUMENT, "ipf_trainer_set_progress: trainer is NULL");
    t->progress = fn;
    t->progress_user = user;
    return IPF_OK;
}

IPF_API ipf_status ipf_trainer_set_feature_cache(ipf_trainer *t, const char *path) {
    if (!t) return ipf_fail(NULL, IPF_ERR_INVALID_ARGUMENT, "ipf_trainer_set_feature_cache: trainer is NULL");
    free(t->cache_path);
    t->cache_path = NULL;
    if (path && !(t->cache_path = strdup(path)))
        return ipf_fail(&t->err, IPF_ERR_OUT_OF_MEMORY, "out of memory");
    return IPF_OK;
}

static void report(ipf_trainer *t, const char *stage, int64_t done, int64_t total) {
    if (t->progress) t->progress(t->progress_user, stage, done, total);
}

/* ---- atomic file writing ---------------------------------------------------- */

typedef struct afile {
    int fd;
    char tmp[PATH_MAX];
    uint32_t crc;
    int failed;
    int err_no;
} afile;

static ipf_status afile_open(afile *f, const char *path, ipf_err *e) {
    memset(f, 0, sizeof *f);
    if (snprintf(f->tmp, sizeof f->tmp, "%s.tmp.XXXXXX", path) >= (int)sizeof f->tmp)
        return ipf_fail(e, IPF_ERR_INVALID_ARGUMENT, "path too long: %s", path);
    f->fd = mkstemp(f->tmp);
    if (f->fd < 0) return ipf_fail(e, IPF_ERR_IO, "cannot create %s: %s", f->tmp, strerror(errno));
    return IPF_OK;
}

static void afile_write(afile *f, const void *data, size_t n) {
    const char *p = data;
    f->crc = ipf_crc32(f->crc, data, n);
    while (n && !f->failed) {
        ssize_t w = write(f->fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            f->failed = 1;
            f->err_no = w < 0 ? errno : ENOSPC;
            break;
        }
        p += w;
        n -= (size_t)w;
    }
}

/* Finish: CRC trailer, fsync, rename over path, fsync the directory.  On
 * any failure the temporary file is removed and path is untouched. */
static ipf_status afile_commit(afile *f, const char *path, ipf_err *e) {
    uint32_t crc = f->crc;
    afile_write(f, &crc, sizeof crc);
    if (!f->failed && fsync(f->fd) != 0) {
        f->failed = 1;
        f->err_no = errno;
    }
    if (close(f->fd) != 0 && !f->failed) {
        f->failed = 1;
        f->err_no = errno;
    }
    if (!f->failed && rename(f->tmp, path) != 0) {
        f->failed = 1;
        f->err_no = errno;
    }
    if (f->failed) {
        unlink(f->tmp);
        return ipf_fail(e, IPF_ERR_IO, "cannot write %s: %s (any previous file is unchanged)", path,
                        strerror(f->err_no));
    }
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    else snprintf(dir, sizeof dir, ".");
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return IPF_OK;
}

/* Read a whole file written by afile and check its CRC trailer. */
static ipf_status read_checked(const char *path, unsigned char **out, size_t *len, ipf_err *e) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return ipf_fail(e, IPF_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *buf = n > 0 ? malloc((size_t)n) : NULL;
    if (!buf || fread(buf, 1, (size_t)n, fp) != (size_t)n) {
        fclose(fp);
        free(buf);
        return ipf_fail(e, n > 0 && !buf ? IPF_ERR_OUT_OF_MEMORY : IPF_ERR_IO, "cannot read %s", path);
    }
    fclose(fp);
    uint32_t stored;
    if ((size_t)n < 16 + sizeof stored) {
        free(buf);
        return ipf_fail(e, IPF_ERR_FORMAT, "%s: truncated (%ld bytes)", path, n);
    }
    memcpy(&stored, buf + n - sizeof stored, sizeof stored);
    if (ipf_crc32(0, buf, (size_t)n - sizeof stored) != stored) {
        free(buf);
        return ipf_fail(e, IPF_ERR_CHECKSUM, "%s: CRC-32 mismatch (damaged or truncated file)", path);
    }
    *out = buf;
    *len = (size_t)n - sizeof stored;
    return IPF_OK;
}

/* ---- data ------------------------------------------------------------------- */

static uint32_t posts_crc(const manifest *m) {
    uint32_t c = 0;
    for (int i = 0; i < m->n_posts; i++) {
        const mf_post *p = &m->posts[i];
        c = ipf_crc32(c, p->post_id, strlen(p->post_id) + 1);
        if (p->caption) c = ipf_crc32(c, p->caption, p->caption_len);
        c = ipf_crc32(c, "|", 1);
        if (p->image) c = ipf_crc32(c, p->image, strlen(p->image) + 1);
        if (p->text_feature) c = ipf_crc32(c, p->text_feature, sizeof(float) * (size_t)m->text_dim);
        if (p->image_feature) c = ipf_crc32(c, p->image_feature, sizeof(float) * (size_t)m->image_dim);
    }
    return c;
}

/* What the cached features depend on besides the posts: the profiler's
 * widths, the encoder weight files (resolved path, size, mtime) and any
 * fine-tuned encoder tensors in profiler.safetensors, so a trained bundle
 * that links the same encoders (heads trained only) reuses the cache. */
static uint32_t encoders_crc(const ipf_trainer *t) {
    uint32_t c = ipf_crc32(0, &t->cfg, offsetof(prof_config, inf_names));
    if (!t->model) return c;
    const char *files[] = {"bert/model.safetensors", "inception/model.safetensors"};
    for (int i = 0; i < 2; i++) {
        char p[PATH_MAX + 64], r[PATH_MAX];
        struct stat sb;
        snprintf(p, sizeof p, "%s/%s", t->model->path, files[i]);
        if (!realpath(p, r) || stat(r, &sb) != 0) continue;
        int64_t meta[2] = {(int64_t)sb.st_size, (int64_t)sb.st_mtime};
        c = ipf_crc32(c, r, strlen(r));
        c = ipf_crc32(c, meta, sizeof meta);
    }
    /* encoder layers fine-tuned earlier and applied at load (inception.* / bert.*) */
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/profiler.safetensors", t->model->path);
    st_file *f;
    ipf_err tmp;
    if (st_open(p, &f, &tmp) == IPF_OK) {
        for (size_t i = 0; i < st_count(f); i++) {
            const st_tensor *x = st_at(f, i);
            if (strncmp(x->name, "inception.", 10) && strncmp(x->name, "bert.", 5)) continue;
            c = ipf_crc32(c, x->name, strlen(x->name));
            c = ipf_crc32(c, x->data, x->nbytes);
        }
        st_close(f);
    }
    return c;
}

static const char FEAT_MAGIC[8] = {'I', 'P', 'F', 'F', 'E', 'A', 'T', '1'};

static ipf_status load_feature_cache(ipf_trainer *t, uint32_t crc) {
    unsigned char *buf;
    size_t len;
    ipf_err tmp;
    if (read_checked(t->cache_path, &buf, &len, &tmp)) return IPF_ERR_NOT_FOUND; /* absent or stale: recompute */
    size_t E = t->cfg.img_pool, X = t->cfg.text_dim, n = (size_t)t->mf.n_posts;
    uint32_t hdr[4];
    ipf_status st = IPF_ERR_NOT_FOUND;
    if (len == 8 + sizeof hdr + n * (E + X) * sizeof(float) && !memcmp(buf, FEAT_MAGIC, 8)) {
        memcpy(hdr, buf + 8, sizeof hdr);
        if (hdr[0] == n && hdr[1] == E && hdr[2] == X && hdr[3] == crc) {
            memcpy(t->fpool, buf + 8 + sizeof hdr, n * (E + X) * sizeof(float));
            st = IPF_OK;
        }
    }
    free(buf);
    return st;
}

static ipf_status save_feature_cache(ipf_trainer *t, uint32_t crc) {
    afile f;
    ipf_status st = afile_open(&f, t->cache_path, &t->err);
    if (st) return st;
    size_t E = t->cfg.img_pool, X = t->cfg.text_dim, n = (size_t)t->mf.n_posts;
    uint32_t hdr[4] = {(uint32_t)n, (uint32_t)E, (uint32_t)X, crc};
    afile_write(&f, FEAT_MAGIC, 8);
    afile_write(&f, hdr, sizeof hdr);
    afile_write(&f, t->fpool, n * (E + X) * sizeof(float));
    return afile_commit(&f, t->cache_path, &t->err);
}

static ipf_status post_image(ipf_trainer *t, int p, const float **img);

/* Fine-tuning: the pool features of posts with frozen trunk outputs, through
 * the (current) trainable top blocks, into fpool. */
static ipf_status pool_from_feats(ipf_trainer *t) {
    size_t E = t->cfg.img_pool;
    float pool[16 * INCEPTION_POOL_DIM];
    int idx[16], n = 0;
    for (int i = 0; i <= t->mf.n_posts; i++) {
        if (i < t->mf.n_posts && t->has_feat[i]) idx[n++] = i;
        if (n == 16 || (i == t->mf.n_posts && n)) {
            float *feat = ipf_malloc_array((size_t)n * t->inc_feat, sizeof(float));
            if (!feat) return ipf_fail(&t->err, IPF_ERR_OUT_OF_MEMORY, "out of memory");
            for (int j = 0; j < n; j++)
                memcpy(feat + j * t->inc_feat, t->ffeat + (size_t)idx[j] * t->inc_feat, t->inc_feat * sizeof(float));
            ipf_status st = inception_train_forward(t->inc_t, t->session, feat, n, t->inc_FH, t->inc_FW, pool);
            free(feat);
            if (st) return ipf_fail(&t->err, st, "Inception top blocks: %s", ipf_session_error(t->session));
            for (int j = 0; j < n; j++) memcpy(t->fpool + (size_t)idx[j] * E, pool + (size_t)j * E, E * sizeof(float));
            n = 0;
        }
    }
    return IPF_OK;
}

/* BERT fine-tuning: tokenize post i's caption and keep the frozen hidden
 * states below the trained layers. */
static ipf_status cache_hidden(ipf_trainer *t, int i) {
    const mf_post *p = &t->mf.posts[i];
    int32_t ids[512];
    size_t n_ids;
    ipf_status st = ipf_session_tokenize(t->session, p->caption, p->caption_len, ids, 512, &n_ids);
    if (st) return ipf_fail(&t->err, st, "%s", ipf_session_error(t->session));
    size_t D = (size_t)t->bt_D;
    if (t->fhid_rows + n_ids > t->fhid_cap) {
        size_t cap = t->fhid_cap ? t->fhid_cap * 2 : 4096;
        while (cap < t->fhid_rows + n_ids) cap *= 2;
        float *nf = realloc(t->fhid, cap * D * sizeof(float));
        if (!nf) return ipf_fail(&t->err, IPF_ERR_OUT_OF_MEMORY, "out of memory for BERT hidden states");
        t->fhid = nf;
        t->fhid_cap = cap;
    }
    const int32_t *ptr = ids;
    int len = (int)n_ids;
    const bert *b = t->model->part[IPF_PART_BERT];
    if ((st = bert_forward_hidden(b, t->session, &ptr, &len, 1, bert_train_first_layer(t->bt),
                                  t->fhid + t->fhid_rows * D)))
        return ipf_fail(&t->err, st, "%s", ipf_session_error(t->session));
    t->hid_off[i] = t->fhid_rows;
    t->hid_len[i] = len;
    t->fhid_rows += n_ids;
    return IPF_OK;
}

static ipf_status compute_features(ipf_trainer *t) {
    size_t E = t->cfg.img_pool, X = t->cfg.text_dim;
    for (int i = 0; i < t->mf.n_posts; i++) {
        const mf_post *p = &t->mf.posts[i];
        if (p->text_feature && p->image_feature) { /* cached in the manifest */
            memcpy(t->ftext + (size_t)i * X, p->text_feature, X * sizeof(float));
            memcpy(t->fpool + (size_t)i * E, p->image_feature, E * sizeof(float));
            report(t, "features", i + 1, t->mf.n_posts);
            continue;
        }
        if (!t->session)
            return ipf_fail(&t->err, IPF_ERR_STATE, "manifest line %d: computing features needs a trainer made from a model",
                            p->line);
        int own_image = t->inc_t && p->image && !p->image_feature; /* frozen trunk output kept instead */
        ipf_status st = IPF_OK;
        if (!own_image || p->caption || p->text_feature) {
            ipf_post post = {sizeof post, p->caption, p->caption_len, NULL, 0, own_image ? NULL : p->image,
                             p->text_feature, p->image_feature};
            st = ipf_session_encode_post(t->session, &post, t->ftext + (size_t)i * X, t->fpool + (size_t)i * E, NULL);
            if (st) st = ipf_fail(&t->err, st, "%s", ipf_session_error(t->session));
        } else {
            memset(t->ftext + (size_t)i * X, 0, X * sizeof(float)); /* no caption: zeros, as the profiler does */
        }
        if (!st && t->bt && p->caption && !p->text_feature) st = cache_hidden(t, i);
        if (!st && own_image) {
            const float *img = NULL;
            int S = t->img_side;
            if (!(st = post_image(t, i, &img)) &&
                (st = inception_forward_trunk_to(t->model->part[IPF_PART_INCEPTION], t->session, img, 1, S, S,
                                                 t->inc_k, t->ffeat + (size_t)i * t->inc_feat)))
                st = ipf_fail(&t->err, st, "image %s: %s", p->image, ipf_session_error(t->session));
            t->has_feat[i] = !st;
        }
        if (st) {
            char msg[IPF_ERRMSG_CAP];
            snprintf(msg, sizeof msg, "%s", t->err.msg);
            return ipf_fail(&t->err, st, "manifest line %d (post \"%s\"): %s", p->line, p->post_id, msg);
        }
        report(t, "features", i + 1, t->mf.n_posts);
    }
    return t->inc_t ? pool_from_feats(t) : IPF_OK;
}

static ipf_status check_features_finite(ipf_trainer *t) {
    size_t E = t->cfg.img_pool, X = t->cfg.text_dim;
    for (int i = 0; i < t->mf.n_posts; i++)
        for (size_t j = 0; j < E + X; j++) {
            float v = j < E ? t->fpool[(size_t)i * E + j] : t->ftext[(size_t)i * X + (j - E)];
            if (!isfinite(v))
                return ipf_fail(&t->err, IPF_ERR_NUMERIC, "post \"%s\" (manifest line %d): %s feature %zu is %g",
                                t->mf.posts[i].post_id, t->mf.posts[i].line, j < E ? "image" : "text",
                                j < E ? j : j - E, (double)v);
        }
    return IPF_OK;
}

/* Split, standardisation statistics, steps per epoch, data CRC; takes the
 * manifest and features already in t. */
static ipf_status finish_data(ipf_trainer *t) {
    const manifest *m = &t->mf;
    size_t E = t->cfg.img_pool, X = t->cfg.text_dim;
    uint8_t *is_val = malloc((size_t)m->n_infl + 1);
    t->train_set = ipf_malloc_array((size_t)m->n_infl * 3 + 1, sizeof(int));
    t->mu = ipf_malloc_array(2 * (E + X), sizeof(float));
    if (!is_val || !t->train_set || !t->mu) {
        free(is_val);
        return ipf_fail(&t->err, IPF_ERR_OUT_OF_MEMORY, "out of memory for the data split");
    }
    t->isd = t->mu + E + X;
    t->val_set = t->train_set + m->n_infl;
    t->perm = NULL;
    manifest_split(m, t->cfg.n_inf, t->opt.val_fraction, t->opt.seed, is_val);
    t->n_train = t->n_val = 0;
    uint32_t crc = posts_crc(m);
    for (int i = 0; i < m->n_infl; i++) {
        if (is_val[i]) t->val_set[t->n_val++] = i;
        else t->train_set[t->n_train++] = i;
        crc = ipf_crc32(crc, &is_val[i], 1);
    }
    free(is_val);
    t->data_crc = crc;
    t->perm = malloc(sizeof(int) * ((size_t)t->n_train + 1));
    if (!t->perm) return ipf_fail(&t->err, IPF_ERR_OUT_OF_MEMORY, "out of memory");
    memcpy(t->perm, t->train_set, sizeof(int) * (size_t)t->n_train);
    t->cursor = t->n_train; /* the first step starts an epoch */
    if (t->n_train == 0) return ipf_fail(&t->err, IPF_ERR_STATE, "no training influencers after the split");

    /* mean and 1/std per feature over the training posts (double sums) */
    double *s1 = calloc(2 * (E + X), sizeof(double));
    if (!s1) return ipf_fail(&t->err, IPF_ERR_OUT_OF_MEMORY, "out of memory");
    double *s2 = s1 + E + X;
    size_t cnt = 0;
    for (int a = 0; a < t->n_train; a++) {
        const mf_influencer *f = &m->infl[t->train_set[a]];
        for (int j = 0; j < f->n_posts; j++, cnt++) {
            const float *fp = t->fpool + (size_t)f->posts[j] * E, *ft = t->ftext + (size_t)f->posts[j] * X;
            for (size_t d = 0; d < E + X; d++) {
                double v = d < E ? fp[d] : ft[d - E];
                s1[d] += v;
                s2[d] += v * v;
            }
        }
    }
    for (size_t d = 0; d < E + X; d++) {
        double mean = cnt ? s1[d] / cnt : 0, var = cnt ? s2[d] / cnt - mean * mean : 0;
        double sd = var > 0 ? sqrt(var) : 0;
        t->mu[d] = (float)mean;
        t->isd[d] = sd > 1e-6 ? (float)(1.0 / sd) : 1.0f; /* a constant feature is only centred */
    }
    free(s1);
    int64_t B = t->opt.batch_influencers;
    t->steps_per_epoch = (t->n_train + B - 1) / B;
    t->adam.total_steps = t->steps_per_epoch * (t->opt.epochs > 0 ? t->opt.epochs : 1);
    t->adam.step_every = t->steps_per_epoch * t->opt.lr_step_epochs;
    t->loaded = 1;
    return IPF_OK;
}

/* Internal (tests): take ownership of a manifest and its features (pool
 * (n_posts,E) followed in the same allocation by text (n_posts,X)). */
ipf_status train_set_data(ipf_trainer *t, manifest *m, float *features) {
    free_data(t);
    t->mf = *m;
    memset(m, 0, sizeof *m);
    t->fpool = features;
    t->ftext = features + (size_t)t->mf.n_posts * t->cfg.img_pool;
    ipf_status st = check_features_finite(t);
    if (!st) st = finish_data(t);
    if (st) free_data(t);
    return st;
}

IPF_API ipf_status ipf_trainer_load_data(ipf_trainer *t, const char *manifest_path) {
    if (!t) return ipf_fail(NULL, IPF_ERR_INVALID_ARGUMENT, "ipf_trainer_load_data: trainer is NULL");
    if (!manifest_path) return ipf_fail(&t->err, IPF_ERR_INVALID_ARGUMENT, "ipf_trainer_load_data: path is NULL");
    ipf_err_clear(&t->err);
    free_data(t);
    ipf_status st = manifest_read(manifest_path, (const char(*)[PROF_CLASS_NAME_CAP])t->cfg.inf_names, t->cfg.n_inf,
                                  (const char(*)[PROF_CLASS_NAME_CAP])t->cfg.post_names, t->cfg.n_post,
                                  t->cfg.text_dim, t->cfg.img_pool, t->opt.missing_image_is_error, &t->mf, &t->err);
    if (st) return st;
    if (t->mf.skipped_missing_image)
        ipf_log(IPF_LOG_WARN, "%s: %d posts dropped: image file missing", manifest_path, t->mf.skipped_missing_image);
    size_t E = t->cfg.img_pool, X = t->cfg.text_dim, n = (size_t)t->mf.n_posts;
    t->fpool = ipf_malloc_array(n * (E + X), sizeof(float));
    if (!t->fpool) {
        free_data(t);
        return ipf_fail(&t->err, IPF_ERR_OUT_OF_MEMORY, "out of memory for the features of %zu posts", n);
    }
    t->ftext = t->fpool + n * E;
    if (t->inc_t) { /* frozen trunk outputs per post (the feature file cache does not hold them) */
        t->ffeat = ipf_malloc_array(n * t->inc_feat + (n + 3) / 4 + 1, sizeof(float));
        if (!t->ffeat) {
            free_data(t);
            return ipf_fail(&t->err, IPF_ERR_OUT_OF_MEMORY, "out of memory for the Inception features of %zu posts",
                            n);
        }
        t->has_feat = (uint8_t *)(t->ffeat + n * t->inc_feat);
        memset(t->has_feat, 0, n);
    }
    if (t->bt) {
        t->hid_off = ipf_calloc_array(n + 1, sizeof(size_t) + sizeof(int));
        if (!t->hid_off) {
            free_data(t);
            return ipf_fail(&t->err, IPF_ERR_OUT_OF_MEMORY, "out of memory");
        }
        t->hid_len = (int *)(t->hid_off + n + 1);
    }
    uint32_t crc = posts_crc(&t->mf) ^ encoders_crc(t);
    const char *cache = t->inc_t || t->bt ? NULL : t->cache_path;
    int cached = cache && load_feature_cache(t, crc) == IPF_OK;
    if (!cached) {
        if ((st = compute_features(t))) {
            free_data(t);
            return st;
        }
        if (cache && (st = save_feature_cache(t, crc))) {
            free_data(t);
            return st;
        }
    } else {
        report(t, "features", (int64_t)n, (int64_t)n);
    }
    if ((st = check_features_finite(t)) || (st = finish_data(t))) {
        free_data(t);
        return st;
    }
    return IPF_OK;
}

IPF_API ipf_status ipf_trainer_data_info(const ipf_trainer *t, int32_t *train_influencers, int32_t *val_influencers,
                                         int32_t *posts, int32_t *dropped_posts) {
    if (!t) return ipf_fail(NULL, IPF_ERR_INVALID_ARGUMENT, "ipf_trainer_data_info: trainer is NULL");
    if (train_influencers) *train_influencers = t->n_train;
    if (val_influencers) *val_influencers = t->n_val;
    if (posts) *posts = t->mf.n_posts;
    if (dropped_posts) *dropped_posts = t->mf.skipped_missing_image;
    return IPF_OK;
}

/* ---- one influencer's inputs ------------------------------------------------ */

/* Room for a batch of n posts from S influencers (pick: any one influencer). */
static ipf_status reserve_batch(ipf_trainer *t, size_t n, size_t S) {
    if (n > t->bcap) {
        size_t E = t->cfg.img_pool, X = t->cfg.text_dim;
        float *b = ipf_malloc_array(n * (E + X), sizeof(float));
        if (!b) return ipf_fail(&t->err, IPF_ERR_OUT_OF_MEMORY, "out of memory for a batch of %zu posts", n);
        free(t->bpool);
        t->bpool = b;
        t->bxt = b + n * E;
        t->bcap = n;
    }
    if (t->inc_t && n > t->bfcap) { /* fine-tuning: image rows, their pool, d(pool) of all rows */
        float *f = ipf_malloc_array(n * (t->inc_feat + 2 * t->cfg.img_pool) + n, sizeof(float));
        if (!f) return ipf_fail(&t->err, IPF_ERR_OUT_OF_MEMORY, "out of memory for %zu images' features", n);
        free(t->bfeat);
        t->bfeat = f;
        t->bipool = f + n * t->inc_feat;
        t->bdpool = t->bipool + n * t->cfg.img_pool;
        t->bimg_row = (int *)(t->bdpool + n * t->cfg.img_pool);
        t->bfcap = n;
    }
    if (t->bt && n > t->btcap) { /* BERT fine-tuning: per-row cls, d(x_T) of all rows, lens, rows */
        float *c = ipf_malloc_array(n * (size_t)(t->bt_D + t->cfg.text_dim), sizeof(float));
        int *l = ipf_malloc_array(2 * n, sizeof(int));
        if (!c || !l) {
            free(c);
            free(l);
            return ipf_fail(&t->err, IPF_ERR_OUT_OF_MEMORY, "out of memory for a batch's captions");
        }
        free(t->bcls);
        free(t->blens);
        t->bcls = c;
        t->bdxt = c + n * (size_t)t->bt_D;
        t->blens = l;
        t->btxt_row = l + n;
        t->btcap = n;
    }
    size_t need = (size_t)t->mf.n_posts + 1;
    if (S + 1 > t->scap || !t->by) {
        size_t cap = S + 1 > need ? S + 1 : need; /* by, pick: <= n_posts; seg, yinf: S+1 */
        int *y = ipf_malloc_array(4 * cap, sizeof(int));
        if (!y) return ipf_fail(&t->err, IPF_ERR_OUT_OF_MEMORY, "out of memory for a batch");
        free(t->by);
        t->by = y;
        t->pick = y + cap;
        t->seg = y + 2 * cap;
        t->yinf = y + 3 * cap;
        t->scap = cap;
    }
    return IPF_OK;
}

/* Preprocessed image of post p (cached within the budget) into t->aug_in. */
static ipf_status post_image(ipf_trainer *t, int p, const float **img) {
    size_t S = (size_t)t->img_side, sz = 3 * S * S;
    if (!t->img) {
        t->img = calloc((size_t)t->mf.n_posts, sizeof *t->img);
        t->aug_in = ipf_malloc_array(2 * sz, sizeof(float));
        if (!t->img || !t->aug_in) return ipf_fail(&t->err, IPF_ERR_OUT_OF_MEMORY, "out of memory for images");
        t->aug_out = t->aug_in + sz;
    }
    if (t->img[p]) {
        *img = t->img[p];
        return IPF_OK;
    }
    const mf_post *mp = &t->mf.posts[p];
    FILE *fp = fopen(mp->image, "rb");
    if (!fp) return ipf_fail(&t->err, IPF_ERR_IO, "cannot open image %s: %s", mp->image, strerror(errno));
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    void *data = n > 0 ? malloc((size_t)n) : NULL;
    int ok = data && fread(data, 1, (size_t)n, fp) == (size_t)n;
    fclose(fp);
    if (!ok) {
        free(data);
        return ipf_fail(&t->err, IPF_ERR_IO, "cannot read image %s", mp->image);
    }
    float *dst = t->aug_in;
    int keep = t->opt.augment && t->img_bytes + sz * sizeof(float) <= (size_t)t->opt.aug_cache_mb << 20;
    if (keep && !(dst = malloc(sz * sizeof(float)))) keep = 0, dst = t->aug_in;
    ipf_status st = ipf_session_preprocess_image(t->session, data, (size_t)n, dst, sz);
    free(data);
    if (st) {
        if (dst != t->aug_in) free(dst);
        return ipf_fail(&t->err, st, "image %s: %s", mp->image, ipf_session_error(t->session));
    }
    if (keep) {
        t->img[p] = dst;
        t->img_bytes += sz * sizeof(float);
    }
    *img = dst;
    return IPF_OK;
}

/* Gather (and standardise) the features of posts pick[0..n) of influencer f
 * into rows at..at+n of bpool/bxt and labels into by; augmentation
 * recomputes pool features. */
static ipf_status gather(ipf_trainer *t, const mf_influencer *f, const int *pick, int n, int at, int augment) {
    size_t E = t->cfg.img_pool, X = t->cfg.text_dim;
    for (int i = at; i < at + n; i++) {
        int p = f->posts[pick[i - at]];
        float *bp = t->bpool + (size_t)i * E, *bx = t->bxt + (size_t)i * X;
        memcpy(bp, t->fpool + (size_t)p * E, E * sizeof(float));
        memcpy(bx, t->ftext + (size_t)p * X, X * sizeof(float));
        t->by[i] = t->mf.posts[p].post_label;
        ipf_status st = IPF_OK;
        int S = t->img_side;
        augment_cfg ac = {t->opt.aug_rotation_deg, t->opt.aug_shift,         t->opt.aug_zoom, t->opt.aug_hflip,
                          t->opt.aug_channel_shift, t->opt.aug_fill_nearest, 0.0f};
        if (t->inc_t && t->has_feat[p]) { /* fine-tuning: the top blocks run in finish_pool */
            int j = t->n_img++;
            float *dst = t->bfeat + (size_t)j * t->inc_feat;
            t->bimg_row[j] = i;
            if (!augment) {
                memcpy(dst, t->ffeat + (size_t)p * t->inc_feat, t->inc_feat * sizeof(float));
            } else {
                const float *img = NULL;
                if ((st = post_image(t, p, &img))) return st;
                augment_image(&ac, &t->rng, img, t->aug_out, 3, S, S);
                if ((st = inception_forward_trunk_to(t->model->part[IPF_PART_INCEPTION], t->session, t->aug_out, 1, S,
                                                     S, t->inc_k, dst)))
                    return ipf_fail(&t->err, st, "image %s: %s", t->mf.posts[p].image, ipf_session_error(t->session));
            }
        } else if (augment && t->mf.posts[p].image && !t->mf.posts[p].image_feature) {
            const float *img = NULL;
            if ((st = post_image(t, p, &img))) return st;
            augment_image(&ac, &t->rng, img, t->aug_out, 3, S, S);
            if ((st = ipf_session_encode_image_tensor(t->session, t->aug_out, 1, S, S, bp, E)))
                return ipf_fail(&t->err, st, "image %s: %s", t->mf.posts[p].image, ipf_session_error(t->session));
        }
        if (t->bt && t->hid_len[p] > 0) { /* BERT fine-tuning: the top layers run in finish_pool */
            size_t D = (size_t)t->bt_D, rows = 0;
            for (int j = 0; j < t->n_txt; j++) rows += (size_t)t->blens[j];
            if (rows + (size_t)t->hid_len[p] > t->bhcap) {
                size_t cap = t->bhcap ? t->bhcap * 2 : 1024;
                while (cap < rows + (size_t)t->hid_len[p]) cap *= 2;
                float *nh = realloc(t->bhid, cap * D * sizeof(float));
                if (!nh) return ipf_fail(&t->err, IPF_ERR_OUT_OF_MEMORY, "out of memory for a batch's captions");
                t->bhid = nh;
                t->bhcap = cap;
            }
            memcpy(t->bhid + rows * D, t->fhid + t->hid_off[p] * D, (size_t)t->hid_len[p] * D * sizeof(float));
            t->blens[t->n_txt] = t->hid_len[p];
            t->btxt_row[t->n_txt++] = i;
        }
        (void)bx;
    }
    return IPF_OK;
}

/* After gathering rows 0..P: pool features of fine-tuned images through the
 * trainable top blocks, then standardisation of every pool row. */
static ipf_status finish_pool(ipf_trainer *t, int P) {
    size_t E = t->cfg.img_pool;
    if (t->inc_t && t->n_img) {
        ipf_status st = inception_train_forward(t->inc_t, t->session, t->bfeat, t->n_img, t->inc_FH, t->inc_FW,
                                                t->bipool);
        if (st) return ipf_fail(&t->err, st, "Inception top blocks: %s", ipf_session_error(t->session));
        for (int j = 0; j < t->n_img; j++)
            memcpy(t->bpool + (size_t)t->bimg_row[j] * E, t->bipool + (size_t)j * E, E * sizeof(float));
    }
    size_t X = t->cfg.text_dim;
    if (t->bt && t->n_txt) {
        ipf_status st = bert_train_forward(t->bt, t->k, t->bhid, t->blens, t->n_txt, t->bcls, &t->err);
        if (st) return st;
        for (int j = 0; j < t->n_txt; j++)
            memcpy(t->bxt + (size_t)t->btxt_row[j] * X, t->bcls + (size_t)j * t->bt_D, X * sizeof(float));
    }
    if (t->opt.standardize_features)
        for (int i = 0; i < P; i++) {
            float *bp = t->bpool + (size_t)i * E, *bx = t->bxt + (size_t)i * X;
            for (size_t d = 0; d < E; d++) bp[d] = (bp[d] - t->mu[d]) * t->isd[d];
            for (size_t d = 0; d < X; d++) bx[d] = (bx[d] - t->mu[E + d]) * t->isd[E + d];
        }
    return IPF_OK;
}

/* Choose min(k, n) of n posts (k = 0: all, in order) into pick. */
static int choose_posts(ipf_rng *r, int n, int k, int *pick) {
    for (int i = 0; i < n; i++) pick[i] = i;
    if (k <= 0 || k >= n) return n;
    for (int i = 0; i < k; i++) { /* partial Fisher-Yates */
        int j = i + (int)rng_below(r, (uint64_t)(n - i));
        int tmp = pick[i];
        pick[i] = pick[j];
        pick[j] = tmp;
    }
    return k;
}

static void set_input(ipf_trainer *t, prof_train_in *in, int S, ipf_rng *rng) {
    memset(in, 0, sizeof *in);
    in->params = t->params;
    in->cfg = &t->cfg;
    in->lay = &t->lay;
    in->n_seg = S;
    in->seg = t->seg;
    in->pool = t->bpool;
    in->xt = t->bxt;
    in->y_inf = t->yinf;
    in->y_post = t->by;
    in->lambda_post = t->opt.lambda_post;
    in->dropout = t->opt.dropout;
    in->pooling = t->opt.pooling == IPF_POOLING_MEAN ? POOL_MEAN : POOL_ATTENTION;
    in->rng = rng;
}

/* Posts the influencers set[0..S) contribute with at most k each (0 = all). */
static size_t count_posts(const ipf_trainer *t, const int *set, int S, int k) {
    size_t n = 0;
    for (int i = 0; i < S; i++) {
        int m = t->mf.infl[set[i]].n_posts;
        n += (size_t)(k > 0 && k < m ? k : m);
    }
    return n;
}

/* Gather influencers set[0..S) into the batch, sampling k posts each (0 =
 * all) with r (NULL: first k... only used with k = 0). */
static ipf_status gather_batch(ipf_trainer *t, const int *set, int S, int k, ipf_rng *r, int augment) {
    ipf_status st = reserve_batch(t, count_posts(t, set, S, k), (size_t)S);
    if (st) return st;
    t->seg[0] = 0;
    t->n_img = 0;
    t->n_txt = 0;
    for (int b = 0; b < S; b++) {
        const mf_influencer *f = &t->mf.infl[set[b]];
        int n = choose_posts(r, f->n_posts, k, t->pick);
        if ((st = gather(t, f, t->pick, n, t->seg[b], augment))) return st;
        t->seg[b + 1] = t->seg[b] + n;
        t->yinf[b] = f->label;
    }
    return finish_pool(t, t->seg[S]);
}

/* ---- training --------------------------------------------------------------- */

static ipf_status need_data(ipf_trainer *t, const char *fn) {
    if (!t) return ipf_fail(NULL, IPF_ERR_INVALID_ARGUMENT, "%s: trainer is NULL", fn);
    ipf_err_clear(&t->err);
    if (!t->loaded) return ipf_fail(&t->err, IPF_ERR_STATE, "%s: no data; call ipf_trainer_load_data first", fn);
    if (t->session) ipf_session_prepare(t->session);
    return IPF_OK;
}

/* Loss of the gathered batch (influencers batch[0..B)) and, into grads and
 * the Inception block's grads, its gradient.  rng: dropout (NULL: none). */
static ipf_status loss_and_grads(ipf_trainer *t, const int *batch, int B, ipf_rng *rng, double *loss) {
    ipf_status st;
    memset(t->grads, 0, t->lay.total * sizeof(float));
    prof_train_in in;
    set_input(t, &in, B, rng);
    double total;
    if ((st = prof_train_forward(t->k, &in, &t->acts, &total, NULL, NULL, &t->err))) return st;
    if (!isfinite(total)) {
        int b = 0;
        while (b < B - 1 && isfinite(t->acts.seg_loss[b])) b++;
        return ipf_fail(&t->err, IPF_ERR_NUMERIC,
                        "step %lld: the loss of influencer \"%s\" is %g; training stopped, parameters unchanged "
                        "(lower lr, enable clip_norm, or check the features)",
                        (long long)t->step + 1, t->mf.infl[batch[b]].name, t->acts.seg_loss[b]);
    }
    size_t E = t->cfg.img_pool;
    float *inc_grads = t->inc_t ? inception_train_grads(t->inc_t) : NULL;
    if (t->inc_t) memset(t->bdpool, 0, sizeof(float) * E * (size_t)t->seg[B]);
    size_t X = t->cfg.text_dim;
    if (t->bt) memset(t->bdxt, 0, sizeof(float) * X * (size_t)t->seg[B]);
    if ((st = prof_train_backward(t->k, &in, &t->acts, 1.0f, t->grads, t->inc_t ? t->bdpool : NULL,
                                  t->bt ? t->bdxt : NULL, &t->err)))
        return st;
    if (t->bt) { /* chain d(loss)/d(x_T) of the captions into the trainable layers */
        bert_train_zero_grad(t->bt);
        for (int j = 0; j < t->n_txt; j++) {
            const float *src = t->bdxt + (size_t)t->btxt_row[j] * X;
            float *dst = t->bcls + (size_t)j * t->bt_D;
            for (size_t d = 0; d < X; d++) dst[d] = t->opt.standardize_features ? src[d] * t->isd[E + d] : src[d];
        }
        if (t->n_txt && (st = bert_train_backward(t->bt, t->k, t->bcls, &t->err))) return st;
    }
    if (t->inc_t) { /* chain d(loss)/d(pool) of the images into the trainable blocks */
        memset(inc_grads, 0, t->inc_n * sizeof(float));
        for (int j = 0; j < t->n_img; j++) {
            const float *src = t->bdpool + (size_t)t->bimg_row[j] * E;
            float *dst = t->bipool + (size_t)j * E;
            for (size_t d = 0; d < E; d++) dst[d] = t->opt.standardize_features ? src[d] * t->isd[d] : src[d];
        }
        if (t->n_img && (st = inception_train_backward(t->inc_t, t->session, t->bipool, NULL)))
            return ipf_fail(&t->err, st, "Inception top blocks backward: %s", ipf_session_error(t->session));
    }
    *loss = total;
    return IPF_OK;
}

/* Internal (tests): loss without dropout over the first min(S, n_train)
 * training influencers with all their posts, and its gradients. */
ipf_status train_debug_loss(ipf_trainer *t, int S, double *loss) {
    if (S > t->n_train) S = t->n_train;
    ipf_status st = gather_batch(t, t->train_set, S, 0, NULL, 0);
    return st ? st : loss_and_grads(t, t->train_set, S, NULL, loss);
}

float *train_inc_params(ipf_trainer *t, size_t *n) {
    *n = t->inc_n;
    return t->inc_t ? inception_train_params(t->inc_t) : NULL;
}

float *train_inc_grads(ipf_trainer *t) { return t->inc_t ? inception_train_grads(t->inc_t) : NULL; }

float *train_bert_params(ipf_trainer *t, size_t *n) {
    *n = t->bt_n;
    return t->bt ? bert_train_params(t->bt, n) : NULL;
}

float *train_bert_grads(ipf_trainer *t) {
    size_t n;
    return t->bt ? bert_train_grads(t->bt, &n) : NULL;
}

IPF_API ipf_status ipf_trainer_step(ipf_trainer *t, double *loss) {
    ipf_status st = need_data(t, "ipf_trainer_step");
    if (st) return st;
    if (t->opt.augment && (!t->session || !ipf_model_has(t->model, IPF_COMPONENT_IMAGE_ENCODER)))
        return ipf_fail(&t->err, IPF_ERR_UNSUPPORTED,
                        "ipf_trainer_step: augmentation needs a model with an image encoder");
    if (t->cursor >= t->n_train) { /* a new epoch: reshuffle */
        memcpy(t->perm, t->train_set, sizeof(int) * (size_t)t->n_train);
        rng_shuffle(&t->rng, t->perm, (size_t)t->n_train);
        t->cursor = 0;
    }
    int B = t->opt.batch_influencers;
    if (B > t->n_train - t->cursor) B = t->n_train - t->cursor;
    const int *batch = t->perm + t->cursor;
    if ((st = gather_batch(t, batch, B, t->opt.posts_per_influencer, &t->rng, t->opt.augment))) return st;
    double total;
    if ((st = loss_and_grads(t, batch, B, &t->rng, &total))) return st;
    float *inc_grads = t->inc_t ? inception_train_grads(t->inc_t) : NULL;
    size_t bt_n = 0;
    float *bt_grads = t->bt ? bert_train_grads(t->bt, &bt_n) : NULL;
    double ss = adam_sumsq(t->grads, t->lay.total) + (t->inc_t ? adam_sumsq(inc_grads, t->inc_n) : 0.0) +
                (t->bt ? adam_sumsq(bt_grads, bt_n) : 0.0);
    double norm = sqrt(ss);
    if (!isfinite(norm))
        return ipf_fail(&t->err, IPF_ERR_NUMERIC,
                        "step %lld: the gradient norm is %g; training stopped, parameters unchanged",
                        (long long)t->step + 1, norm);
    float gscale = adam_clip_scale(&t->adam, norm);
    int64_t tt = t->step + 1;
    adam_update(&t->adam, t->params, t->grads, t->m, t->v, t->lay.total, tt, gscale);
    if (t->inc_t) adam_update(&t->adam, inception_train_params(t->inc_t), inc_grads, t->inc_m, t->inc_v, t->inc_n, tt, gscale);
    if (t->bt) adam_update(&t->adam, bert_train_params(t->bt, &bt_n), bt_grads, t->bt_m, t->bt_v, bt_n, tt, gscale);
    t->step = tt;
    t->cursor += B;
    t->epoch_loss += total;
    t->epoch_steps++;
    if (t->cursor >= t->n_train) t->epoch++;
    report(t, "train", t->cursor, t->n_train);
    if (loss) *loss = total;
    return IPF_OK;
}

/* ---- evaluation ---------------------------------------------------------------- */

static void f1_scores(const int *tp, const int *fp, const int *fn, int nc, float *f1, int32_t *support,
                      double *macro) {
    double sum = 0;
    int used = 0;
    for (int c = 0; c < nc; c++) {
        double p = tp[c] + fp[c] ? (double)tp[c] / (tp[c] + fp[c]) : 0;
        double r = tp[c] + fn[c] ? (double)tp[c] / (tp[c] + fn[c]) : 0;
        double f = p + r > 0 ? 2 * p * r / (p + r) : 0;
        if (c < IPF_TRAIN_MAX_CLASSES) {
            f1[c] = (float)f;
            support[c] = tp[c] + fn[c];
        }
        if (tp[c] + fn[c] + fp[c] > 0) {
            sum += f;
            used++;
        }
    }
    *macro = used ? sum / used : 0;
}

static int argmax(const float *x, int n) {
    int b = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[b]) b = i;
    return b;
}

#define EVAL_CHUNK 16 /* influencers per forward pass at evaluation */

/* Gather influencers set[0..S) for evaluation: all posts (k = 0) or k posts
 * each sampled with a per-influencer seed, so the sample does not depend on
 * the chunking or on training. */
static ipf_status gather_eval(ipf_trainer *t, const int *set, int S, int k) {
    ipf_status st = reserve_batch(t, count_posts(t, set, S, k), (size_t)S);
    if (st) return st;
    t->seg[0] = 0;
    t->n_img = 0;
    t->n_txt = 0;
    for (int b = 0; b < S; b++) {
        const mf_influencer *f = &t->mf.infl[set[b]];
        ipf_rng er;
        rng_seed(&er, t->opt.seed * 1000003u + (uint64_t)set[b]);
        int n = choose_posts(&er, f->n_posts, k, t->pick);
        if ((st = gather(t, f, t->pick, n, t->seg[b], 0))) return st;
        t->seg[b + 1] = t->seg[b] + n;
        t->yinf[b] = f->label;
    }
    return finish_pool(t, t->seg[S]);
}

static ipf_status evaluate(ipf_trainer *t, ipf_train_metrics *out) {
    const int *set = t->n_val ? t->val_set : t->train_set;
    int nset = t->n_val ? t->n_val : t->n_train;
    int Ci = t->cfg.n_inf, Cp = t->cfg.n_post, k = t->opt.eval_posts_per_influencer;
    ipf_status st;
    int counts[6][PROF_MAX_CLASSES];
    memset(counts, 0, sizeof counts);
    int *itp = counts[0], *ifp = counts[1], *ifn = counts[2], *ptp = counts[3], *pfp = counts[4], *pfn = counts[5];
    double loss = 0, li_sum = 0, lp_sum = 0;
    int n_inf = 0, n_inf_ok = 0, n_post = 0, n_post_ok = 0;
    float probs[EVAL_CHUNK * PROF_MAX_CLASSES];
    double lp_seg[EVAL_CHUNK];
    int chunk = t->inc_t ? 2 : EVAL_CHUNK; /* fine-tuning keeps every image's activations */
    for (int a0 = 0; a0 < nset; a0 += chunk) {
        int S = nset - a0 < chunk ? nset - a0 : chunk;
        /* the post head on every post */
        if ((st = gather_eval(t, set + a0, S, 0))) return st;
        prof_train_in in;
        set_input(t, &in, S, NULL);
        if ((st = prof_train_forward(t->k, &in, &t->acts, NULL, NULL, NULL, &t->err))) return st;
        for (int i = 0; i < t->seg[S]; i++) {
            if (t->by[i] < 0) continue;
            int pred = argmax(t->acts.pl + (size_t)i * Cp, Cp), y = t->by[i];
            n_post++;
            if (pred == y) n_post_ok++, ptp[y]++;
            else pfp[pred]++, pfn[y]++;
        }
        for (int b = 0; b < S; b++) lp_seg[b] = t->acts.seg_lp[b];
        if (k > 0) { /* the influencer head on k sampled posts */
            if ((st = gather_eval(t, set + a0, S, k))) return st;
            set_input(t, &in, S, NULL);
            if ((st = prof_train_forward(t->k, &in, &t->acts, NULL, NULL, NULL, &t->err))) return st;
        }
        prof_train_probs(&in, &t->acts, probs, NULL);
        for (int b = 0; b < S; b++) {
            double li = t->acts.seg_li[b];
            loss += li + t->opt.lambda_post * lp_seg[b];
            li_sum += li;
            lp_sum += lp_seg[b];
            int y = t->yinf[b];
            if (y < 0) continue;
            int pred = argmax(probs + (size_t)b * Ci, Ci);
            n_inf++;
            if (pred == y) n_inf_ok++, itp[y]++;
            else ifp[pred]++, ifn[y]++;
        }
        report(t, "evaluate", a0 + S, nset);
    }
    if (!isfinite(loss))
        return ipf_fail(&t->err, IPF_ERR_NUMERIC, "evaluation loss is %g after %lld steps", loss, (long long)t->step);
    ipf_train_metrics m;
    memset(&m, 0, sizeof m);
    m.struct_size = sizeof m;
    m.epoch = t->epoch;
    m.step = t->step;
    m.loss = nset ? loss / nset : 0;
    m.loss_influencer = nset ? li_sum / nset : 0;
    m.loss_post = nset ? lp_sum / nset : 0;
    m.influencer_accuracy = n_inf ? (double)n_inf_ok / n_inf : 0;
    m.post_accuracy = n_post ? (double)n_post_ok / n_post : 0;
    m.n_influencers = n_inf;
    m.n_posts = n_post;
    m.n_influencer_classes = Ci;
    m.n_post_classes = Cp;
    f1_scores(itp, ifp, ifn, Ci, m.influencer_f1, m.influencer_support, &m.influencer_macro_f1);
    f1_scores(ptp, pfp, pfn, Cp, m.post_f1, m.post_support, &m.post_macro_f1);
    memcpy(out, &m, out->struct_size < sizeof m ? out->struct_size : sizeof m);
    out->struct_size = out->struct_size < sizeof m ? out->struct_size : sizeof m;
    return IPF_OK;
}

static ipf_status check_metrics(ipf_trainer *t, const ipf_train_metrics *m, const char *fn) {
    if (m && (m->struct_size < offsetof(ipf_train_metrics, loss) || m->struct_size > sizeof *m))
        return ipf_fail(&t->err, IPF_ERR_INVALID_ARGUMENT, "%s: metrics->struct_size %zu is not a known size (%zu)",
                        fn, m->struct_size, sizeof *m);
    return IPF_OK;
}

IPF_API ipf_status ipf_trainer_evaluate(ipf_trainer *t, ipf_train_metrics *metrics) {
    ipf_status st = need_data(t, "ipf_trainer_evaluate");
    if (st || (st = check_metrics(t, metrics, "ipf_trainer_evaluate"))) return st;
    ipf_train_metrics local;
    local.struct_size = sizeof local;
    return evaluate(t, metrics ? metrics : &local);
}

IPF_API ipf_status ipf_trainer_epoch(ipf_trainer *t, ipf_train_metrics *metrics) {
    ipf_status st = need_data(t, "ipf_trainer_epoch");
    if (st || (st = check_metrics(t, metrics, "ipf_trainer_epoch"))) return st;
    if (t->cursor >= t->n_train) {
        t->epoch_loss = 0;
        t->epoch_steps = 0;
    }
    do {
        if ((st = ipf_trainer_step(t, NULL))) return st;
    } while (t->cursor < t->n_train);
    double train_loss = t->epoch_steps ? t->epoch_loss / (double)t->epoch_steps : 0;
    ipf_train_metrics local;
    local.struct_size = sizeof local;
    ipf_train_metrics *m = metrics ? metrics : &local;
    if ((st = evaluate(t, m))) return st;
    if (m->struct_size >= offsetof(ipf_train_metrics, train_loss) + sizeof(double)) m->train_loss = train_loss;
    return IPF_OK;
}

/* ---- saving ----------------------------------------------------------------- */

/* The parameters with the feature standardisation folded into img_proj and
 * the text columns of post_proj: W (x - mu) * isd + b = (W isd) x + (b - W (mu isd)). */
float *train_export_params(ipf_trainer *t) {
    float *p = ipf_malloc_array(t->lay.total, sizeof(float));
    if (!p) return NULL;
    memcpy(p, t->params, t->lay.total * sizeof(float));
    if (!t->opt.standardize_features || !t->loaded) return p;
    size_t E = t->cfg.img_pool, X = t->cfg.text_dim, I = t->cfg.img_dim, D = t->cfg.post_dim;
    float *W = p + t->lay.offset[PT_IMG_W], *b = p + t->lay.offset[PT_IMG_B];
    for (size_t o = 0; o < I; o++) {
        double shift = 0;
        for (size_t j = 0; j < E; j++) {
            float w = W[o * E + j] * t->isd[j];
            shift += (double)w * t->mu[j];
            W[o * E + j] = w;
        }
        b[o] = (float)(b[o] - shift);
    }
    W = p + t->lay.offset[PT_POST_W];
    b = p + t->lay.offset[PT_POST_B];
    for (size_t o = 0; o < D; o++) {
        double shift = 0;
        for (size_t j = 0; j < X; j++) {
            float *w = &W[o * (I + X) + I + j];
            *w *= t->isd[E + j];
            shift += (double)*w * t->mu[E + j];
        }
        b[o] = (float)(b[o] - shift);
    }
    return p;
}

static ipf_status copy_file(const char *src, const char *dst, ipf_err *e) {
    FILE *in = fopen(src, "rb");
    if (!in) return ipf_fail(e, IPF_ERR_IO, "cannot open %s: %s", src, strerror(errno));
    FILE *out = fopen(dst, "wb");
    if (!out) {
        fclose(in);
        return ipf_fail(e, IPF_ERR_IO, "cannot create %s: %s", dst, strerror(errno));
    }
    char buf[1 << 16];
    size_t n;
    int ok = 1;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n) ok = 0;
    ok = ok && !ferror(in);
    fclose(in);
    if (fclose(out) != 0) ok = 0;
    return ok ? IPF_OK : ipf_fail(e, IPF_ERR_IO, "cannot copy %s to %s", src, dst);
}

static int join_path(char *buf, size_t cap, const char *a, const char *b) {
    int n = snprintf(buf, cap, "%s/%s", a, b);
    return n >= 0 && (size_t)n < cap;
}

/* Encoder directory `name` of the source bundle into out_dir: a symlink to
 * its absolute path, or a copy of its files when linking fails.  An encoder
 * already in out_dir (e.g. from an earlier save) is kept. */
static ipf_status link_encoder(ipf_trainer *t, const char *out_dir, const char *name) {
    char src[PATH_MAX], dst[PATH_MAX], abs_src[PATH_MAX];
    if (!t->model || !t->model->path[0]) return IPF_OK;
    if (!join_path(src, sizeof src, t->model->path, name) || !join_path(dst, sizeof dst, out_dir, name))
        return ipf_fail(&t->err, IPF_ERR_INVALID_ARGUMENT, "path too long: %s/%s", out_dir, name);
    struct stat sb;
    if (stat(src, &sb) != 0 || !S_ISDIR(sb.st_mode)) return IPF_OK; /* the source has none */
    if (lstat(dst, &sb) == 0) return IPF_OK;
    if (realpath(src, abs_src) && symlink(abs_src, dst) == 0) return IPF_OK;
    if (mkdir(dst, 0777) != 0) return ipf_fail(&t->err, IPF_ERR_IO, "cannot create %s: %s", dst, strerror(errno));
    const char *files[] = {"config.json", "vocab.txt", "model.safetensors", "tokenizer_config.json"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char s[PATH_MAX + 64], d[PATH_MAX + 64];
        snprintf(s, sizeof s, "%s/%s", src, files[i]);
        snprintf(d, sizeof d, "%s/%s", dst, files[i]);
        if (stat(s, &sb) != 0) continue;
        ipf_status st = copy_file(s, d, &t->err);
        if (st) return st;
    }
    return IPF_OK;
}

ipf_status train_link_encoders(ipf_trainer *t, const char *out_dir) {
    ipf_status st = link_encoder(t, out_dir, "bert");
    if (!st) st = link_encoder(t, out_dir, "inception");
    return st;
}

ipf_err *train_err(ipf_trainer *t) { return &t->err; }

ipf_status train_extra_tensors(ipf_trainer *t, st_wtensor **out, char **names, size_t *n) {
    *out = NULL;
    *names = NULL;
    *n = 0;
    size_t ci = t->inc_t ? inception_train_count(t->inc_t) : 0, cb = t->bt ? bert_train_param_count(t->bt) : 0;
    size_t cnt = ci + cb;
    if (!cnt) return IPF_OK;
    st_wtensor *w = calloc(cnt ? cnt : 1, sizeof *w);
    char *nm = calloc(cnt ? cnt : 1, 128);
    if (!w || !nm) {
        free(w);
        free(nm);
        return ipf_fail(&t->err, IPF_ERR_OUT_OF_MEMORY, "out of memory");
    }
    for (size_t i = 0; i < cb; i++) { /* Hugging Face names under "bert." (bert_load_layers reads them) */
        const bert_param *bp = bert_train_param(t->bt, i);
        snprintf(nm + (ci + i) * 128, 128, "bert.%s", bp->name);
        w[ci + i].name = nm + (ci + i) * 128;
        w[ci + i].ndim = bp->ndim;
        w[ci + i].shape[0] = bp->shape[0];
        w[ci + i].shape[1] = bp->shape[1];
        w[ci + i].data = bp->data;
    }
    const float *params = t->inc_t ? inception_train_params(t->inc_t) : NULL;
    for (size_t i = 0; i < ci; i++) {
        const char *name;
        size_t off, count;
        inception_train_tensor(t->inc_t, i, &name, &off, &count);
        snprintf(nm + i * 128, 128, "inception.%s", name);
        w[i].name = nm + i * 128;
        w[i].ndim = 1; /* folded conv weights and biases, flat (inception_set_folded takes a count) */
        w[i].shape[0] = (int64_t)count;
        w[i].data = params + off;
    }
    *out = w;
    *names = nm;
    *n = cnt;
    return IPF_OK;
}
const prof_config *train_config(const ipf_trainer *t) { return &t->cfg; }

/* ---- checkpoints ------------------------------------------------------------ */

static const char CKPT_MAGIC[8] = {'I', 'P', 'F', 'C', 'K', 'P', 'T', '1'};

typedef struct ckpt_header {
    uint64_t total;
    int32_t dims[8];
    uint32_t data_crc;
    int32_t n_train;
    int64_t step;
    int32_t epoch;
    int32_t cursor;
    uint64_t rng[4];
    double epoch_loss;
    int64_t epoch_steps;
} ckpt_header;

static void fill_dims(const prof_config *c, int32_t *d) {
    d[0] = c->img_pool, d[1] = c->img_dim, d[2] = c->text_dim, d[3] = c->post_dim;
    d[4] = c->att_dim, d[5] = c->head_hidden, d[6] = c->n_inf, d[7] = c->n_post;
}

IPF_API ipf_status ipf_trainer_checkpoint_save(ipf_trainer *t, const char *path) {
    if (!t) return ipf_fail(NULL, IPF_ERR_INVALID_ARGUMENT, "ipf_trainer_checkpoint_save: trainer is NULL");
    if (!path) return ipf_fail(&t->err, IPF_ERR_INVALID_ARGUMENT, "ipf_trainer_checkpoint_save: path is NULL");
    ipf_err_clear(&t->err);
    ckpt_header h;
    memset(&h, 0, sizeof h);
    h.total = t->lay.total;
    fill_dims(&t->cfg, h.dims);
    h.data_crc = t->data_crc;
    h.n_train = t->n_train;
    h.step = t->step;
    h.epoch = t->epoch;
    h.cursor = t->cursor;
    memcpy(h.rng, t->rng.s, sizeof h.rng);
    h.epoch_loss = t->epoch_loss;
    h.epoch_steps = t->epoch_steps;
    afile f;
    ipf_status st = afile_open(&f, path, &t->err);
    if (st) return st;
    afile_write(&f, CKPT_MAGIC, 8);
    afile_write(&f, &h, sizeof h);
    afile_write(&f, t->params, t->lay.total * sizeof(float));
    afile_write(&f, t->m, t->lay.total * sizeof(float));
    afile_write(&f, t->v, t->lay.total * sizeof(float));
    if (t->n_train) afile_write(&f, t->perm, (size_t)t->n_train * sizeof(int));
    uint64_t inc_n = t->inc_n; /* fine-tuned Inception blocks, when any */
    afile_write(&f, &inc_n, sizeof inc_n);
    if (t->inc_t) {
        afile_write(&f, inception_train_params(t->inc_t), t->inc_n * sizeof(float));
        afile_write(&f, t->inc_m, t->inc_n * sizeof(float));
        afile_write(&f, t->inc_v, t->inc_n * sizeof(float));
    }
    uint64_t bt_n = t->bt_n; /* fine-tuned BERT layers, when any */
    afile_write(&f, &bt_n, sizeof bt_n);
    if (t->bt) {
        size_t nn;
        afile_write(&f, bert_train_params(t->bt, &nn), t->bt_n * sizeof(float));
        afile_write(&f, t->bt_m, t->bt_n * sizeof(float));
        afile_write(&f, t->bt_v, t->bt_n * sizeof(float));
    }
    return afile_commit(&f, path, &t->err);
}

IPF_API ipf_status ipf_trainer_checkpoint_resume(ipf_trainer *t, const char *path) {
    if (!t) return ipf_fail(NULL, IPF_ERR_INVALID_ARGUMENT, "ipf_trainer_checkpoint_resume: trainer is NULL");
    if (!path) return ipf_fail(&t->err, IPF_ERR_INVALID_ARGUMENT, "ipf_trainer_checkpoint_resume: path is NULL");
    ipf_err_clear(&t->err);
    unsigned char *buf;
    size_t len;
    ipf_status st = read_checked(path, &buf, &len, &t->err);
    if (st) return st;
    ckpt_header h;
    if (len < 8 + sizeof h || memcmp(buf, CKPT_MAGIC, 8)) {
        free(buf);
        return ipf_fail(&t->err, IPF_ERR_FORMAT, "%s: not a trainer checkpoint", path);
    }
    memcpy(&h, buf + 8, sizeof h);
    int32_t dims[8];
    fill_dims(&t->cfg, dims);
    size_t need = 8 + sizeof h + 3 * (size_t)h.total * sizeof(float) + (size_t)(h.n_train > 0 ? h.n_train : 0) * sizeof(int) +
                  2 * sizeof(uint64_t) + 3 * (t->inc_n + t->bt_n) * sizeof(float);
    if (h.total != t->lay.total || memcmp(dims, h.dims, sizeof dims)) {
        free(buf);
        return ipf_fail(&t->err, IPF_ERR_STATE, "%s: made for a different profiler configuration", path);
    }
    if (h.data_crc != t->data_crc || h.n_train != t->n_train) {
        free(buf);
        return ipf_fail(&t->err, IPF_ERR_STATE,
                        "%s: made on different data or split (load the same manifest with the same seed and "
                        "val_fraction before resuming)",
                        path);
    }
    if (len != need || h.cursor < 0 || h.cursor > h.n_train) {
        free(buf);
        return ipf_fail(&t->err, IPF_ERR_FORMAT, "%s: inconsistent sizes", path);
    }
    const unsigned char *p = buf + 8 + sizeof h;
    size_t nb = t->lay.total * sizeof(float);
    memcpy(t->params, p, nb);
    memcpy(t->m, p + nb, nb);
    memcpy(t->v, p + 2 * nb, nb);
    if (t->n_train) memcpy(t->perm, p + 3 * nb, (size_t)t->n_train * sizeof(int));
    const unsigned char *q = p + 3 * nb + (size_t)t->n_train * sizeof(int);
    uint64_t inc_n;
    memcpy(&inc_n, q, sizeof inc_n);
    if (inc_n != t->inc_n) {
        free(buf);
        return ipf_fail(&t->err, IPF_ERR_STATE, "%s: made with %llu fine-tuned Inception parameters, this trainer has %zu",
                        path, (unsigned long long)inc_n, t->inc_n);
    }
    q += sizeof inc_n;
    if (t->inc_t) {
        size_t ib = t->inc_n * sizeof(float);
        memcpy(inception_train_params(t->inc_t), q, ib);
        memcpy(t->inc_m, q + ib, ib);
        memcpy(t->inc_v, q + 2 * ib, ib);
        q += 3 * ib;
    }
    uint64_t bt_n;
    memcpy(&bt_n, q, sizeof bt_n);
    q += sizeof bt_n;
    if (bt_n != t->bt_n) {
        free(buf);
        return ipf_fail(&t->err, IPF_ERR_STATE, "%s: made with %llu fine-tuned BERT parameters, this trainer has %zu",
                        path, (unsigned long long)bt_n, t->bt_n);
    }
    if (t->bt) {
        size_t bb = t->bt_n * sizeof(float), nn;
        memcpy(bert_train_params(t->bt, &nn), q, bb);
        memcpy(t->bt_m, q + bb, bb);
        memcpy(t->bt_v, q + 2 * bb, bb);
    }
    t->step = h.step;
    t->epoch = h.epoch;
    t->cursor = h.cursor;
    memcpy(t->rng.s, h.rng, sizeof h.rng);
    t->epoch_loss = h.epoch_loss;
    t->epoch_steps = h.epoch_steps;
    free(buf);
    return IPF_OK;
}

/* Internal (tests): the current parameters. */
const float *train_params(const ipf_trainer *t, size_t *n) {
    if (n) *n = t->lay.total;
    return t->params;
}
