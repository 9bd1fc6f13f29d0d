/* bert.c — BERT encoder, Hugging Face BertModel semantics (post-LN layers,
 * exact-erf GELU, absolute positions, token type 0), over ragged batches
 * packed without padding: the n sequences' tokens are concatenated into one
 * (Ttot, D) matrix, so the dense layers run as one GEMM over Ttot rows and
 * attention runs per sequence over its own tokens only.  A caption costs its
 * own length.
 *
 * Letters: T tokens of one sequence, Ttot packed tokens, n sequences, D
 * hidden, H heads, dh = D/H, F intermediate (FFN) width, V vocabulary. */
#include "bert.h"
#include "safetensors.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- loading ------------------------------------------------------------ */

static ipf_status cfg_int(json_t *root, const char *path, const char *key, int required, int def, int lo, int hi,
                          int *out, ipf_err *e) {
    json_t *v = json_object_get(root, key);
    if (!v) {
        if (required) return ipf_fail(e, IPF_ERR_FORMAT, "%s: field '%s' is missing", path, key);
        *out = def;
        return IPF_OK;
    }
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return ipf_fail(e, IPF_ERR_FORMAT, "%s: field '%s' must be an integer in [%d, %d]", path, key, lo, hi);
    *out = (int)json_integer_value(v);
    return IPF_OK;
}

static ipf_status load_config(const char *dir, bert_config *c, ipf_err *e) {
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root) {
        FILE *f = fopen(path, "rb");
        if (!f) return ipf_fail(e, IPF_ERR_IO, "%s: cannot open", path);
        fclose(f);
        return ipf_fail(e, IPF_ERR_FORMAT, "%s: line %d: %s", path, je.line, je.text);
    }
    ipf_status st = IPF_ERR_FORMAT;
    if (!json_is_object(root)) {
        ipf_fail(e, IPF_ERR_FORMAT, "%s: not a JSON object", path);
        goto done;
    }
    if ((st = cfg_int(root, path, "hidden_size", 1, 0, 1, 1 << 16, &c->hidden, e)) ||
        (st = cfg_int(root, path, "num_hidden_layers", 1, 0, 1, 1024, &c->layers, e)) ||
        (st = cfg_int(root, path, "num_attention_heads", 1, 0, 1, 1024, &c->heads, e)) ||
        (st = cfg_int(root, path, "intermediate_size", 1, 0, 1, 1 << 18, &c->intermediate, e)) ||
        (st = cfg_int(root, path, "max_position_embeddings", 1, 0, 1, 1 << 16, &c->max_position, e)) ||
        (st = cfg_int(root, path, "vocab_size", 1, 0, 1, 1 << 24, &c->vocab_size, e)) ||
        (st = cfg_int(root, path, "type_vocab_size", 0, 2, 1, 1 << 16, &c->type_vocab, e)))
        goto done;
    st = IPF_ERR_FORMAT;
    if (c->hidden % c->heads) {
        ipf_fail(e, st, "%s: field 'hidden_size' (%d) is not a multiple of 'num_attention_heads' (%d)", path,
                 c->hidden, c->heads);
        goto done;
    }
    json_t *v = json_object_get(root, "layer_norm_eps");
    c->eps = 1e-12f;
    if (v) {
        if (!json_is_number(v) || !(json_number_value(v) > 0) || json_number_value(v) > 1) {
            ipf_fail(e, st, "%s: field 'layer_norm_eps' must be a number in (0, 1]", path);
            goto done;
        }
        c->eps = (float)json_number_value(v);
    }
    v = json_object_get(root, "hidden_act");
    if (v && (!json_is_string(v) || strcmp(json_string_value(v), "gelu"))) {
        ipf_fail(e, IPF_ERR_UNSUPPORTED, "%s: field 'hidden_act' must be \"gelu\" (exact erf GELU)", path);
        st = IPF_ERR_UNSUPPORTED;
        goto done;
    }
    v = json_object_get(root, "position_embedding_type");
    if (v && (!json_is_string(v) || strcmp(json_string_value(v), "absolute"))) {
        ipf_fail(e, IPF_ERR_UNSUPPORTED, "%s: field 'position_embedding_type' must be \"absolute\"", path);
        st = IPF_ERR_UNSUPPORTED;
        goto done;
    }
    st = IPF_OK;
done:
    json_decref(root);
    return st;
}

/* Tensor `base`.weight etc. under the detected prefix; LayerNorm parameters
 * also under TF-era names gamma/beta. */
static ipf_status get(bert *b, st_file *f, const char *base, const char *suffix, int ndim, int64_t d0, int64_t d1,
                      const float **out, ipf_err *e);

struct bert {
    bert_config cfg;
    st_file *st;
    char prefix[8]; /* "" or "bert." */
    const float *word, *pos, *type; /* (V,D) (P,D) (TV,D) */
    const float *emb_ln_w, *emb_ln_b;
    bert_layer *layer;
    float *fused; /* all layers' Wqkv (3D,D) and bqkv (3D), owned */
    float **owned; /* copies made by bert_load_layers */
    size_t nowned;
};

static ipf_status get(bert *b, st_file *f, const char *base, const char *suffix, int ndim, int64_t d0, int64_t d1,
                      const float **out, ipf_err *e) {
    char name[512];
    int64_t shape[2] = {d0, d1};
    snprintf(name, sizeof name, "%s%s.%s", b->prefix, base, suffix);
    if (!st_find(f, name) && strstr(base, "LayerNorm")) {
        const char *old = !strcmp(suffix, "weight") ? "gamma" : !strcmp(suffix, "bias") ? "beta" : NULL;
        char alt[512];
        snprintf(alt, sizeof alt, "%s%s.%s", b->prefix, base, old ? old : suffix);
        if (old && st_find(f, alt)) return st_get_f32(f, alt, ndim, shape, out, e);
    }
    return st_get_f32(f, name, ndim, shape, out, e);
}

const bert_config *bert_get_config(const bert *b) { return &b->cfg; }

/* oneDNN-packed weights for inference (see bert_layer); a failed pack just
 * leaves NULL and the plain weights are used.  The last layer only runs
 * [CLS]-only in inference, so it gets Q and K|V packs instead of QKV. */
static void bert_pack(bert *b) {
    const int D = b->cfg.hidden, F = b->cfg.intermediate;
    for (int l = 0; l < b->cfg.layers; l++) {
        bert_layer *L = &b->layer[l];
        const klinear_packed *pk[6] = {L->pk_qkv, L->pk_q, L->pk_kv, L->pk_o, L->pk_i, L->pk_f};
        for (int i = 0; i < 6; i++) linear_pack_free((klinear_packed *)pk[i]);
        if (l < b->cfg.layers - 1) {
            L->pk_qkv = linear_pack(L->Wqkv, D, 3 * D);
            L->pk_q = L->pk_kv = NULL;
        } else {
            L->pk_qkv = NULL;
            L->pk_q = linear_pack(L->Wqkv, D, D);
            L->pk_kv = linear_pack(L->Wqkv + (size_t)D * D, D, 2 * D);
        }
        L->pk_o = linear_pack(L->Wo, D, D);
        L->pk_i = linear_pack(L->Wi, D, F);
        L->pk_f = linear_pack(L->Wf, F, D);
    }
}

void bert_free(void *p) {
    bert *b = p;
    if (!b) return;
    st_close(b->st);
    for (int l = 0; b->layer && l < b->cfg.layers; l++) {
        bert_layer *L = &b->layer[l];
        const klinear_packed *pk[6] = {L->pk_qkv, L->pk_q, L->pk_kv, L->pk_o, L->pk_i, L->pk_f};
        for (int i = 0; i < 6; i++) linear_pack_free((klinear_packed *)pk[i]);
    }
    for (size_t i = 0; i < b->nowned; i++) free(b->owned[i]);
    free(b->owned);
    free(b->layer);
    free(b->fused);
    free(b);
}

ipf_status bert_load(const char *dir, bert **out, ipf_err *e) {
    *out = NULL;
    bert *b = calloc(1, sizeof *b);
    if (!b) return ipf_fail(e, IPF_ERR_OUT_OF_MEMORY, "out of memory loading BERT from %s", dir);
    ipf_status st = load_config(dir, &b->cfg, e);
    if (st) goto fail;
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if ((st = st_open(path, &b->st, e))) goto fail;
    const bert_config *c = &b->cfg;
    const int64_t D = c->hidden, F = c->intermediate;
    if (!st_find(b->st, "embeddings.word_embeddings.weight") && st_find(b->st, "bert.embeddings.word_embeddings.weight"))
        strcpy(b->prefix, "bert.");
    if ((st = get(b, b->st, "embeddings.word_embeddings", "weight", 2, c->vocab_size, D, &b->word, e)) ||
        (st = get(b, b->st, "embeddings.position_embeddings", "weight", 2, c->max_position, D, &b->pos, e)) ||
        (st = get(b, b->st, "embeddings.token_type_embeddings", "weight", 2, c->type_vocab, D, &b->type, e)) ||
        (st = get(b, b->st, "embeddings.LayerNorm", "weight", 1, D, 0, &b->emb_ln_w, e)) ||
        (st = get(b, b->st, "embeddings.LayerNorm", "bias", 1, D, 0, &b->emb_ln_b, e)))
        goto fail;
    b->layer = calloc((size_t)c->layers, sizeof *b->layer);
    b->fused = ipf_malloc_array((size_t)c->layers * (size_t)(3 * D * D + 3 * D), sizeof(float));
    if (!b->layer || !b->fused) {
        st = ipf_fail(e, IPF_ERR_OUT_OF_MEMORY, "out of memory loading BERT from %s", dir);
        goto fail;
    }
    for (int l = 0; l < c->layers; l++) {
        bert_layer *L = &b->layer[l];
        char base[128];
        static const char *qkv[3] = {"query", "key", "value"};
        float *W = b->fused + (size_t)l * (size_t)(3 * D * D + 3 * D), *bias = W + 3 * D * D;
        /* Fuse Q, K, V into one (3D, D) weight so one GEMM makes all three. */
        for (int j = 0; j < 3; j++) {
            const float *w, *bb;
            snprintf(base, sizeof base, "encoder.layer.%d.attention.self.%s", l, qkv[j]);
            if ((st = get(b, b->st, base, "weight", 2, D, D, &w, e)) || (st = get(b, b->st, base, "bias", 1, D, 0, &bb, e)))
                goto fail;
            memcpy(W + (size_t)j * D * D, w, sizeof(float) * (size_t)(D * D));
            memcpy(bias + j * D, bb, sizeof(float) * (size_t)D);
        }
        L->Wqkv = W;
        L->bqkv = bias;
#define GETL(field_w, field_b, name, d0, d1)                                                                 \
    snprintf(base, sizeof base, "encoder.layer.%d.%s", l, name);                                             \
    if ((st = get(b, b->st, base, "weight", (d1) ? 2 : 1, d0, d1, &L->field_w, e)) ||                        \
        (st = get(b, b->st, base, "bias", 1, d0, 0, &L->field_b, e)))                                        \
        goto fail;
        GETL(Wo, bo, "attention.output.dense", D, D)
        GETL(ln1_w, ln1_b, "attention.output.LayerNorm", D, 0)
        GETL(Wi, bi, "intermediate.dense", F, D)
        GETL(Wf, bf, "output.dense", D, F)
        GETL(ln2_w, ln2_b, "output.LayerNorm", D, 0)
#undef GETL
    }
    bert_pack(b);
    *out = b;
    return IPF_OK;
fail:
    bert_free(b);
    return st;
}

const bert_layer *bert_get_layer(const bert *b, int l) { return &b->layer[l]; }

ipf_status bert_load_layers(bert *b, st_file *f, const char *prefix, int *n_loaded, ipf_err *e) {
    const bert_config *c = &b->cfg;
    const int64_t D = c->hidden, F = c->intermediate;
    static const char *qkv[3] = {"query", "key", "value"};
    int count = 0;
    for (int l = 0; l < c->layers; l++) {
        bert_layer *L = &b->layer[l];
        float *W = b->fused + (size_t)l * (size_t)(3 * D * D + 3 * D), *bias = W + 3 * D * D;
        char name[512];
        for (int j = 0; j < 3; j++)
            for (int wb = 0; wb < 2; wb++) {
                snprintf(name, sizeof name, "%sencoder.layer.%d.attention.self.%s.%s", prefix, l, qkv[j],
                         wb ? "bias" : "weight");
                if (!st_find(f, name)) continue;
                const float *src;
                int64_t shape[2] = {D, D};
                ipf_status st = st_get_f32(f, name, wb ? 1 : 2, shape, &src, e);
                if (st) return st;
                if (wb) memcpy(bias + j * D, src, sizeof(float) * (size_t)D);
                else memcpy(W + (size_t)j * D * D, src, sizeof(float) * (size_t)(D * D));
                count++;
            }
        struct {
            const char *name;
            const float **w;
            int64_t d0, d1;
        } items[] = {{"attention.output.dense.weight", &L->Wo, D, D},    {"attention.output.dense.bias", &L->bo, D, 0},
                     {"attention.output.LayerNorm.weight", &L->ln1_w, D, 0},
                     {"attention.output.LayerNorm.bias", &L->ln1_b, D, 0},
                     {"intermediate.dense.weight", &L->Wi, F, D},        {"intermediate.dense.bias", &L->bi, F, 0},
                     {"output.dense.weight", &L->Wf, D, F},              {"output.dense.bias", &L->bf, D, 0},
                     {"output.LayerNorm.weight", &L->ln2_w, D, 0},       {"output.LayerNorm.bias", &L->ln2_b, D, 0}};
        for (size_t i = 0; i < sizeof items / sizeof *items; i++) {
            snprintf(name, sizeof name, "%sencoder.layer.%d.%s", prefix, l, items[i].name);
            if (!st_find(f, name)) continue;
            const float *src;
            int64_t shape[2] = {items[i].d0, items[i].d1};
            ipf_status st = st_get_f32(f, name, items[i].d1 ? 2 : 1, shape, &src, e);
            if (st) return st;
            size_t nf = (size_t)(items[i].d0 * (items[i].d1 ? items[i].d1 : 1));
            float *copy = ipf_malloc_array(nf, sizeof(float));
            float **list = realloc(b->owned, (b->nowned + 1) * sizeof *list);
            if (list) b->owned = list;
            if (!copy || !list) {
                free(copy);
                return ipf_fail(e, IPF_ERR_OUT_OF_MEMORY, "%s: out of memory copying '%s'", st_path(f), name);
            }
            memcpy(copy, src, nf * sizeof(float));
            b->owned[b->nowned++] = copy;
            *items[i].w = copy;
            count++;
        }
    }
    if (n_loaded) *n_loaded = count;
    if (count) bert_pack(b);
    return IPF_OK;
}

/* ---- forward -------------------------------------------------------------- */

static ipf_status kfail(ipf_session *s) {
    return ipf_fail(&s->err, IPF_ERR_BACKEND, "BERT: kernel failure: %s", s->kctx.err);
}

ipf_status bert_validate(const bert *b, ipf_err *e, const int32_t *const *ids, const int *lens, int n) {
    const bert_config *c = &b->cfg;
    if (n < 0) return ipf_fail(e, IPF_ERR_INVALID_ARGUMENT, "BERT: negative sequence count %d", n);
    if (n > 0 && (!ids || !lens)) return ipf_fail(e, IPF_ERR_INVALID_ARGUMENT, "BERT: ids or lengths is NULL");
    for (int i = 0; i < n; i++) {
        if (lens[i] < 1 || lens[i] > c->max_position)
            return ipf_fail(e, IPF_ERR_LIMIT, "BERT: sequence %d has %d ids; must be 1..%d", i, lens[i], c->max_position);
        if (!ids[i]) return ipf_fail(e, IPF_ERR_INVALID_ARGUMENT, "BERT: ids of sequence %d is NULL", i);
        for (int t = 0; t < lens[i]; t++)
            if (ids[i][t] < 0 || ids[i][t] >= c->vocab_size)
                return ipf_fail(e, IPF_ERR_INVALID_ARGUMENT,
                                "BERT: sequence %d: id %d at index %d is outside the vocabulary [0, %d)", i,
                                (int)ids[i][t], t, c->vocab_size);
    }
    return IPF_OK;
}

int bert_embed(const bert *b, ipf_kctx *k, float *x, const int32_t *const *ids, const int *lens, int n) {
    const bert_config *c = &b->cfg;
    int off = 0;
    for (int i = 0; i < n; i++) {
        if (embedding_forward(k, x + (size_t)off * c->hidden, ids[i], NULL, b->word, b->pos, b->type, lens[i],
                              c->hidden))
            return -1;
        off += lens[i];
    }
    return layernorm_forward(k, x, NULL, NULL, x, b->emb_ln_w, b->emb_ln_b, off, c->hidden, c->eps);
}

/* Scratch floats for one layer over `total` packed tokens of n sequences,
 * with saved activations as bert_layer_forward lays them out. */
size_t bert_layer_scratch(const bert_config *c, const int *lens, int n, int cls_only) {
    size_t D = (size_t)c->hidden, F = (size_t)c->intermediate, H = (size_t)c->heads, total = 0, att = 0;
    for (int i = 0; i < n; i++) {
        total += (size_t)lens[i];
        att += H * (size_t)(cls_only ? 1 : lens[i]) * (size_t)lens[i];
    }
    size_t q = cls_only ? (size_t)n : total;
    /* qkv (total,3D) [+ q (n,D) + xq (n,D)], probs, ctx (q,D), attn (q,D), ln1 (q,D), h (q,F) */
    return total * 3 * D + (cls_only ? 2 * (size_t)n * D : 0) + att + q * (3 * D + F) + 64;
}

int bert_layer_forward(const bert_config *c, const bert_layer *L, ipf_kctx *k, float *out, const float *x,
                       const int *lens, int n, int cls_only, float *ws, bert_layer_saved *sv) {
    const int D = c->hidden, F = c->intermediate, H = c->heads, dh = D / H;
    int total = 0;
    for (int i = 0; i < n; i++) total += lens[i];
    const int nq = cls_only ? n : total;
    float *qkv = ws;                          /* (total,3D); with cls_only: (total,2D) K|V */
    ws += (size_t)total * 3 * D;
    float *q = NULL, *xq = NULL;              /* cls_only: (n,D) queries and their input rows */
    if (cls_only) {
        q = ws, ws += (size_t)n * D;
        xq = ws, ws += (size_t)n * D;
    }
    float *probs = ws; /* per sequence (H, Lq, T) */
    for (int i = 0; i < n; i++) ws += (size_t)H * (cls_only ? 1 : lens[i]) * lens[i];
    float *ctx = ws;   /* (nq,D) */
    ws += (size_t)nq * D;
    float *attn = ws;  /* (nq,D) attention output + residual, before LayerNorm */
    ws += (size_t)nq * D;
    float *ln1 = ws;   /* (nq,D) */
    ws += (size_t)nq * D;
    float *h = ws;     /* (nq,F) */
    if (sv) {
        sv->qkv = qkv, sv->q = q, sv->xq = xq, sv->probs = probs, sv->ctx = ctx, sv->attn = attn, sv->ln1 = ln1;
        sv->h = h;
    }
    const float *Wkv = L->Wqkv + (size_t)D * D, *bkv = L->bqkv + D;
    int ldqkv = cls_only ? 2 * D : 3 * D;
    if (cls_only) {
        int off = 0;
        for (int i = 0; i < n; i++) {
            memcpy(xq + (size_t)i * D, x + (size_t)off * D, sizeof(float) * (size_t)D);
            off += lens[i];
        }
        if (linear_forward_ex(k, qkv, x, Wkv, L->pk_kv, bkv, total, D, 2 * D, 0, 0) ||
            linear_forward_ex(k, q, xq, L->Wqkv, L->pk_q, L->bqkv, n, D, D, 0, 0))
            return -1;
    } else if (linear_forward_ex(k, qkv, x, L->Wqkv, L->pk_qkv, L->bqkv, total, D, 3 * D, 0, 0)) {
        return -1;
    }
    const float scale = 1.0f / sqrtf((float)dh);
    int off = 0;
    float *P = probs;
    for (int i = 0; i < n; i++) {
        int T = lens[i], Tq = cls_only ? 1 : T;
        const float *Q = cls_only ? q + (size_t)i * D : qkv + (size_t)off * ldqkv;
        int ldq = cls_only ? D : ldqkv;
        const float *K = qkv + (size_t)off * ldqkv + (cls_only ? 0 : D), *V = K + D;
        float *C = ctx + (size_t)(cls_only ? i : off) * D;
        /* per head h: P_h(Tq,T) = Q_h(Tq,dh) K_h(T,dh)^T; softmax(P_h / sqrt dh); C_h(Tq,dh) = P_h V_h(T,dh) */
        if (bmm_forward(k, H, 0, 1, Tq, T, dh, 1.0f, Q, ldq, dh, K, ldqkv, dh, 0.0f, P, T, (size_t)Tq * T) ||
            softmax_forward(k, P, P, NULL, scale, H * Tq, T) ||
            bmm_forward(k, H, 0, 0, Tq, dh, T, 1.0f, P, T, (size_t)Tq * T, V, ldqkv, dh, 0.0f, C, D, dh))
            return -1;
        P += (size_t)H * Tq * T;
        off += T;
    }
    /* attn = x + ctx Wo^T + bo: the residual is accumulated by the product */
    memcpy(attn, cls_only ? xq : x, sizeof(float) * (size_t)nq * D);
    if (linear_forward_ex(k, attn, ctx, L->Wo, L->pk_o, L->bo, nq, D, D, 1, 0) ||
        layernorm_forward(k, ln1, sv ? sv->mean1 : NULL, sv ? sv->rstd1 : NULL, attn, L->ln1_w, L->ln1_b, nq, D,
                          c->eps))
        return -1;
    if (sv) { /* training keeps the GELU input */
        if (linear_forward_ex(k, sv->hpre, ln1, L->Wi, L->pk_i, L->bi, nq, D, F, 0, 0) ||
            gelu_forward(k, h, sv->hpre, (size_t)nq * F))
            return -1;
    } else if (linear_forward_ex(k, h, ln1, L->Wi, L->pk_i, L->bi, nq, D, F, 0, 1)) {
        return -1;
    }
    memcpy(out, ln1, sizeof(float) * (size_t)nq * D); /* FFN residual, accumulated likewise */
    if (linear_forward_ex(k, out, h, L->Wf, L->pk_f, L->bf, nq, F, D, 1, 0)) return -1;
    if (sv) memcpy(sv->res2, out, sizeof(float) * (size_t)nq * D);
    return layernorm_forward(k, out, sv ? sv->mean2 : NULL, sv ? sv->rstd2 : NULL, out, L->ln2_w, L->ln2_b, nq, D,
                             c->eps);
}

/* Session working memory, grown on demand. */
typedef struct bert_ws {
    float *buf;
    size_t cap; /* floats */
} bert_ws;

static void bert_ws_free(void *p) {
    bert_ws *w = p;
    if (w) free(w->buf);
    free(w);
}

float *bert_session_buffer(ipf_session *s, size_t floats) {
    bert_ws *w = s->state[IPF_PART_BERT];
    if (!w) {
        w = calloc(1, sizeof *w);
        if (!w) return NULL;
        ipf_session_set_state(s, IPF_PART_BERT, w, bert_ws_free);
    }
    if (floats > w->cap) {
        float *p = aligned_alloc(64, ((floats * sizeof(float)) + 63) & ~(size_t)63);
        if (!p) return NULL;
        free(w->buf);
        w->buf = p;
        w->cap = floats;
    }
    return w->buf;
}

ipf_status bert_forward_cls(const bert *b, ipf_session *s, const int32_t *const *ids, const int *lens, int n,
                            float *cls) {
    const bert_config *c = &b->cfg;
    ipf_status st = bert_validate(b, &s->err, ids, lens, n);
    if (st || n == 0) return st;
    const size_t D = (size_t)c->hidden;
    size_t total = 0;
    for (int i = 0; i < n; i++) total += (size_t)lens[i];
    size_t need = 2 * total * D + bert_layer_scratch(c, lens, n, 0);
    float *x = bert_session_buffer(s, need);
    if (!x) return ipf_fail(&s->err, IPF_ERR_OUT_OF_MEMORY, "BERT: out of memory for %zu packed tokens", total);
    float *y = x + total * D, *ws = y + total * D;
    ipf_session_prepare(s);
    ipf_kctx *k = &s->kctx;
    if (bert_embed(b, k, x, ids, lens, n)) return kfail(s);
    for (int l = 0; l < c->layers; l++) {
        int last = l == c->layers - 1;
        /* The last layer only needs the [CLS] rows: queries, FFN and norms
         * run on n rows, keys and values on all. */
        if (bert_layer_forward(c, &b->layer[l], k, last ? cls : y, x, lens, n, last, ws, NULL)) return kfail(s);
        float *t = x;
        x = y;
        y = t;
    }
    return IPF_OK;
}

ipf_status bert_forward_hidden(const bert *b, ipf_session *s, const int32_t *const *ids, const int *lens, int n,
                               int upto, float *out) {
    const bert_config *c = &b->cfg;
    if (upto < 0 || upto > c->layers)
        return ipf_fail(&s->err, IPF_ERR_INVALID_ARGUMENT, "BERT: layer count %d outside 0..%d", upto, c->layers);
    ipf_status st = bert_validate(b, &s->err, ids, lens, n);
    if (st || n == 0) return st;
    const size_t D = (size_t)c->hidden;
    size_t total = 0;
    for (int i = 0; i < n; i++) total += (size_t)lens[i];
    float *y = bert_session_buffer(s, total * D + bert_layer_scratch(c, lens, n, 0));
    if (!y) return ipf_fail(&s->err, IPF_ERR_OUT_OF_MEMORY, "BERT: out of memory for %zu packed tokens", total);
    float *ws = y + total * D;
    ipf_session_prepare(s);
    ipf_kctx *k = &s->kctx;
    if (bert_embed(b, k, out, ids, lens, n)) return kfail(s);
    for (int l = 0; l < upto; l++) {
        if (bert_layer_forward(c, &b->layer[l], k, y, out, lens, n, 0, ws, NULL)) return kfail(s);
        memcpy(out, y, sizeof(float) * total * D);
    }
    return IPF_OK;
}
