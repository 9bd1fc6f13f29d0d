/* bundle.c — loading a model bundle directory (DESIGN.md §4) and asking a
 * model what it holds:
 *   profiler.safetensors                              required
 *   bert/{config.json,vocab.txt,model.safetensors}    optional text encoder + tokenizer
 *     (spiece.model or sentencepiece.model instead of vocab.txt: SentencePiece)
 *   inception/model.safetensors                       optional image encoder
 * Fine-tuned encoder layers the trainer stores in profiler.safetensors
 * ("inception.*", "bert.*" tensors) replace the encoders' at load. */
#include "bert.h"
#include "image.h"
#include "inception.h"
#include "profiler.h"
#include "tokenizer.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

static int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* dir/rel into buf; IPF_ERR_INVALID_ARGUMENT when it does not fit. */
static ipf_status join(char *buf, size_t cap, const char *dir, const char *rel) {
    if (snprintf(buf, cap, "%s/%s", dir, rel) >= (int)cap)
        return ipf_fail(NULL, IPF_ERR_INVALID_ARGUMENT, "model bundle path too long: %s/%s", dir, rel);
    return IPF_OK;
}

/* do_lower_case from a Hugging Face tokenizer_config.json beside vocab.txt;
 * 1 when the file or the key is absent. */
static int bert_lower_case(const char *bert_dir) {
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/tokenizer_config.json", bert_dir) >= (int)sizeof path) return 1;
    json_t *root = json_load_file(path, 0, NULL);
    json_t *v = root ? json_object_get(root, "do_lower_case") : NULL;
    int lower = v && json_is_boolean(v) ? json_is_true(v) : 1;
    json_decref(root);
    return lower;
}

static ipf_status load_text(ipf_model *m, const char *dir, const prof_model *prof) {
    char bdir[PATH_MAX], path[PATH_MAX];
    ipf_status st = join(bdir, sizeof bdir, dir, "bert");
    if (st || !is_dir(bdir)) return st;
    ipf_err *e = ipf_tls_err();
    if ((st = join(path, sizeof path, bdir, "vocab.txt"))) return st;
    if (exists(path)) {
        tokenizer *tk;
        if ((st = tokenizer_load_vocab(path, bert_lower_case(bdir), &tk, e))) return st;
        ipf_model_set_part(m, IPF_PART_TOKENIZER, tk, tokenizer_free);
    } else { /* a SentencePiece model instead of a WordPiece vocabulary */
        static const char *const spm_names[] = {"spiece.model", "sentencepiece.model"};
        for (size_t i = 0; i < 2; i++) {
            if ((st = join(path, sizeof path, bdir, spm_names[i]))) return st;
            if (!exists(path)) continue;
            tokenizer *tk;
            if ((st = tokenizer_load_spm(path, &tk, e))) return st;
            ipf_model_set_part(m, IPF_PART_TOKENIZER, tk, tokenizer_free);
            break;
        }
    }
    if ((st = join(path, sizeof path, bdir, "config.json"))) return st;
    char weights[PATH_MAX];
    if ((st = join(weights, sizeof weights, bdir, "model.safetensors"))) return st;
    if (!exists(path) && !exists(weights)) return IPF_OK; /* a tokenizer alone */
    bert *b;
    if ((st = bert_load(bdir, &b, e))) return st;
    ipf_model_set_part(m, IPF_PART_BERT, b, bert_free);
    const bert_config *bc = bert_get_config(b);
    if (prof && bc->hidden != prof->cfg.text_dim)
        return ipf_fail(NULL, IPF_ERR_SHAPE, "%s/config.json: hidden_size %d, but %s/profiler.safetensors expects text_dim %d",
                        bdir, bc->hidden, dir, prof->cfg.text_dim);
    const tokenizer *tk = m->part[IPF_PART_TOKENIZER];
    if (tk && tokenizer_vocab_size(tk) > bc->vocab_size)
        return ipf_fail(NULL, IPF_ERR_SHAPE, "%s/vocab.txt: %d tokens, but config.json vocab_size is %d", bdir,
                        (int)tokenizer_vocab_size(tk), bc->vocab_size);
    return IPF_OK;
}

static ipf_status load_image(ipf_model *m, const char *dir, const prof_model *prof) {
    char path[PATH_MAX];
    ipf_status st = join(path, sizeof path, dir, "inception/model.safetensors");
    if (st || !exists(path)) return st;
    if (prof->cfg.img_pool != INCEPTION_POOL_DIM)
        return ipf_fail(NULL, IPF_ERR_SHAPE, "%s/profiler.safetensors: img_pool %d, but Inception-v3 gives %d", dir,
                        prof->cfg.img_pool, INCEPTION_POOL_DIM);
    inception *inc;
    if ((st = inception_load(path, prof->cfg.transform_input, &inc, ipf_tls_err()))) return st;
    ipf_model_set_part(m, IPF_PART_INCEPTION, inc, inception_free);
    return IPF_OK;
}

/* How many tensors of f start with prefix. */
static size_t count_prefixed(const st_file *f, const char *prefix) {
    size_t n = 0, pl = strlen(prefix);
    for (size_t i = 0; i < st_count(f); i++) n += !strncmp(st_at(f, i)->name, prefix, pl);
    return n;
}

/* Fine-tuned encoder layers the trainer stores in profiler.safetensors
 * (integrity covered by its CRC-32, checked by prof_load):
 * "inception.<block>.<branch>.weight|bias" (folded convolutions, flat) and
 * "bert.encoder.layer.N...." (Hugging Face names).  They replace the
 * encoders' own while the model is still private to this call.  Without the
 * encoder they belong to, they are skipped with a warning: cached features
 * must then come from the fine-tuned encoder. */
ipf_status bundle_apply_finetuned(ipf_model *m, const char *path, int *n_applied, ipf_err *e) {
    if (n_applied) *n_applied = 0;
    st_file *f;
    ipf_status st = st_open(path, &f, e);
    if (st) return st;
    const struct {
        const char *prefix, *what, *dir;
        int part;
    } enc[2] = {{"inception.", "Inception-v3 blocks", "inception/", IPF_PART_INCEPTION},
                {"bert.", "BERT layers", "bert/", IPF_PART_BERT}};
    for (int i = 0; i < 2 && !st; i++) {
        size_t n = count_prefixed(f, enc[i].prefix);
        if (!n) continue;
        if (!m->part[enc[i].part]) {
            ipf_log(IPF_LOG_WARN, "%s: holds %zu fine-tuned %s tensors but the bundle has no %s; skipped", path, n,
                    enc[i].what, enc[i].dir);
            continue;
        }
        int applied = 0;
        st = enc[i].part == IPF_PART_INCEPTION
                 ? inception_apply_folded(m->part[IPF_PART_INCEPTION], f, enc[i].prefix, &applied, e)
                 : bert_load_layers(m->part[IPF_PART_BERT], f, enc[i].prefix, &applied, e);
        if (!st) ipf_log(IPF_LOG_INFO, "%s: %d fine-tuned %s tensors applied", path, applied, enc[i].what);
        if (n_applied) *n_applied += applied;
    }
    st_close(f);
    return st;
}

IPF_API ipf_status ipf_model_load(const char *bundle_dir, ipf_model **out) {
    if (!out) return ipf_fail(NULL, IPF_ERR_INVALID_ARGUMENT, "ipf_model_load: out is NULL");
    *out = NULL;
    if (!bundle_dir) return ipf_fail(NULL, IPF_ERR_INVALID_ARGUMENT, "ipf_model_load: bundle_dir is NULL");
    if (!is_dir(bundle_dir))
        return ipf_fail(NULL, IPF_ERR_IO, "%s: not a readable directory (%s)", bundle_dir,
                        exists(bundle_dir) ? "not a directory" : strerror(errno));
    ipf_model *m;
    ipf_status st = ipf_model_alloc(&m);
    if (st) return st;
    snprintf(m->path, sizeof m->path, "%s", bundle_dir);
    char path[PATH_MAX];
    prof_model *prof = NULL;
    if ((st = join(path, sizeof path, bundle_dir, "profiler.safetensors"))) goto fail;
    if (!exists(path)) {
        st = ipf_fail(NULL, IPF_ERR_IO, "%s: missing (a model bundle needs profiler.safetensors)", path);
        goto fail;
    }
    if ((st = prof_load(path, &prof, ipf_tls_err()))) goto fail;
    ipf_model_set_part(m, IPF_PART_PROFILER, prof, prof_free);
    image_cfg *ic = malloc(sizeof *ic);
    if (!ic) {
        st = ipf_fail(NULL, IPF_ERR_OUT_OF_MEMORY, "out of memory loading %s", bundle_dir);
        goto fail;
    }
    *ic = prof->cfg.image;
    ipf_model_set_part(m, IPF_PART_IMAGE_CFG, ic, free);
    if ((st = load_text(m, bundle_dir, prof)) || (st = load_image(m, bundle_dir, prof)) ||
        (st = bundle_apply_finetuned(m, path, NULL, ipf_tls_err())))
        goto fail;
    ipf_log(IPF_LOG_INFO, "loaded model bundle %s (text encoder: %s, image encoder: %s)", bundle_dir,
            m->part[IPF_PART_BERT] ? "yes" : "no", m->part[IPF_PART_INCEPTION] ? "yes" : "no");
    *out = m;
    return IPF_OK;
fail:
    ipf_model_free(m);
    return st;
}

IPF_API int32_t ipf_model_has(const ipf_model *model, ipf_component component) {
    if (!model) return 0;
    switch (component) {
    case IPF_COMPONENT_IMAGE_ENCODER: return model->part[IPF_PART_INCEPTION] != NULL;
    case IPF_COMPONENT_TEXT_ENCODER: return model->part[IPF_PART_BERT] != NULL;
    case IPF_COMPONENT_TOKENIZER: return model->part[IPF_PART_TOKENIZER] != NULL;
    case IPF_COMPONENT_PROFILER: return model->part[IPF_PART_PROFILER] != NULL;
    }
    return 0;
}

IPF_API ipf_status ipf_model_dim(const ipf_model *model, ipf_dim dim, int64_t *value) {
    if (!model || !value)
        return ipf_fail(NULL, IPF_ERR_INVALID_ARGUMENT, "ipf_model_dim: %s is NULL", model ? "value" : "model");
    const prof_model *p = model->part[IPF_PART_PROFILER];
    const bert *b = model->part[IPF_PART_BERT];
    const tokenizer *tk = model->part[IPF_PART_TOKENIZER];
    const char *needs = "the profiler (profiler.safetensors)";
    int64_t v = -1;
    switch (dim) {
    case IPF_DIM_IMAGE_POOL:
        v = p ? p->cfg.img_pool : model->part[IPF_PART_INCEPTION] ? INCEPTION_POOL_DIM : -1;
        needs = "the profiler or an image encoder";
        break;
    case IPF_DIM_IMAGE: v = p ? p->cfg.img_dim : -1; break;
    case IPF_DIM_TEXT:
        v = p ? p->cfg.text_dim : b ? bert_get_config(b)->hidden : -1;
        needs = "the profiler or a text encoder";
        break;
    case IPF_DIM_POST: v = p ? p->cfg.post_dim : -1; break;
    case IPF_DIM_INFLUENCER_CLASSES: v = p ? p->cfg.n_inf : -1; break;
    case IPF_DIM_POST_CLASSES: v = p ? p->cfg.n_post : -1; break;
    case IPF_DIM_MAX_TOKENS:
        v = b ? bert_get_config(b)->max_position : -1;
        needs = "a text encoder";
        break;
    case IPF_DIM_VOCAB:
        v = tk ? tokenizer_vocab_size(tk) : -1;
        needs = "a tokenizer";
        break;
    case IPF_DIM_IMAGE_SIZE: {
        /* every model can preprocess images: its own configuration or the default */
        const image_cfg *ic = model->part[IPF_PART_IMAGE_CFG];
        image_cfg def;
        if (!ic) {
            image_cfg_default(&def);
            ic = &def;
        }
        v = ic->crop;
        break;
    }
    default: return ipf_fail(NULL, IPF_ERR_INVALID_ARGUMENT, "ipf_model_dim: unknown dimension %d", (int)dim);
    }
    if (v < 0) return ipf_fail(NULL, IPF_ERR_NOT_FOUND, "ipf_model_dim: dimension %d needs %s, which the model lacks", (int)dim, needs);
    *value = v;
    return IPF_OK;
}

IPF_API ipf_status ipf_model_class_name(const ipf_model *model, ipf_head head, int32_t index, const char **name) {
    if (!model || !name)
        return ipf_fail(NULL, IPF_ERR_INVALID_ARGUMENT, "ipf_model_class_name: %s is NULL", model ? "name" : "model");
    *name = NULL;
    const prof_model *p = model->part[IPF_PART_PROFILER];
    if (!p) return ipf_fail(NULL, IPF_ERR_NOT_FOUND, "ipf_model_class_name: the model has no profiler (class names live there)");
    if (head != IPF_HEAD_INFLUENCER && head != IPF_HEAD_POST)
        return ipf_fail(NULL, IPF_ERR_INVALID_ARGUMENT, "ipf_model_class_name: unknown head %d", (int)head);
    int n = head == IPF_HEAD_INFLUENCER ? p->cfg.n_inf : p->cfg.n_post;
    if (index < 0 || index >= n)
        return ipf_fail(NULL, IPF_ERR_NOT_FOUND, "ipf_model_class_name: index %d outside [0, %d) of the %s head", (int)index,
                        n, head == IPF_HEAD_INFLUENCER ? "influencer" : "post");
    *name = head == IPF_HEAD_INFLUENCER ? p->cfg.inf_names[index] : p->cfg.post_names[index];
    return IPF_OK;
}
