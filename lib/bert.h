/* bert.h — BERT encoder (Hugging Face BertModel names).  Owner: bert. */
#ifndef IPF_BERT_H
#define IPF_BERT_H

#include "internal.h"

typedef struct bert bert;
typedef struct bert_layer bert_layer;

typedef struct bert_config {
    int vocab_size, hidden, layers, heads, intermediate, max_position, type_vocab;
    float eps;
} bert_config;

/* dir holds config.json, vocab.txt (optional here) and model.safetensors. */
IPF_INTERNAL ipf_status bert_load(const char *dir, bert **out, ipf_err *e);
IPF_INTERNAL void bert_free(void *b);
IPF_INTERNAL const bert_config *bert_get_config(const bert *b);
/* Replace layer weights with those of file f named prefix + HF name
 * ("encoder.layer.N...."), e.g. fine-tuned layers saved from a bert_train's
 * table into the profiler file; tensors absent from f are kept.  Load time
 * only (the model must not be shared yet).  *n_loaded (may be NULL) receives
 * how many tensors were replaced; shapes are checked, errors name the tensor. */
typedef struct st_file st_file;
IPF_INTERNAL ipf_status bert_load_layers(bert *b, st_file *f, const char *prefix, int *n_loaded, ipf_err *e);

/* n sequences of ids (lens[i] each, ragged) -> cls (n, hidden): the last
 * layer's output at position 0.  Sequences are packed without padding (each
 * costs its own length) and all n run in one pass, with working memory of
 * about 15*hidden floats per token kept in the session: callers with many
 * captions pass them in groups (the public API uses <= 4096 tokens a call).
 * Errors go to s->err. */
IPF_INTERNAL ipf_status bert_forward_cls(const bert *b, ipf_session *s, const int32_t *const *ids,
                                         const int *lens, int n, float *cls);

/* Hidden states after the embeddings and the first `upto` layers (0 = the
 * embeddings' LayerNorm output) for n packed sequences: out (Ttot,D), the
 * sequences' rows one after another.  This is what a trainer caches per
 * caption when only the top L-upto layers are trained. */
IPF_INTERNAL ipf_status bert_forward_hidden(const bert *b, ipf_session *s, const int32_t *const *ids,
                                            const int *lens, int n, int upto, float *out);

/* ---- training: fine-tuning the top k layers ---------------------------------
 *
 * BERT is frozen by default (k = 0: a trainer simply caches x_T).  With k >= 1
 * the bottom L-k layers stay frozen and the top k are trained:
 *
 *   1. Per caption, once: bert_forward_hidden(b, s, ..., upto = L-k, h) gives
 *      the frozen hidden states h (T,D), which the trainer may cache.
 *   2. bert_train_create(b, k, &t) copies the top k layers' weights into one
 *      flat float block (bert_train_params) with a gradient block of the same
 *      layout (bert_train_grads), so Adam is one loop over nparams floats.
 *   3. Per step: bert_train_forward(t, k, h_packed, lens, n, cls) runs the top
 *      layers on n sequences packed as (Ttot,D) and saves activations (the
 *      hidden input is borrowed: keep it alive until backward);
 *      bert_train_backward(t, k, dcls) takes dLoss/d[CLS] (n,D) and ADDS the
 *      weight gradients into the gradient block (bert_train_zero_grad clears).
 *      Dropout is off, so this forward equals inference.
 *   4. Checkpoints: bert_train_param(t, i) names each tensor with its Hugging
 *      Face name ("encoder.layer.11.attention.self.query.weight", ...; no
 *      "bert." prefix), shape, and views into the parameter and gradient
 *      blocks.  Q, K, V are views of the fused block, so a file written from
 *      this table loads back with bert_load_layers.
 * A bert_train is independent of the model once created, and single-threaded
 * (one trainer, one kernel context). */
typedef struct bert_train bert_train;
typedef struct bert_param {
    char name[96];
    int ndim;
    int64_t shape[2];
    float *data; /* inside the parameter block */
    float *grad; /* inside the gradient block */
} bert_param;

IPF_INTERNAL ipf_status bert_train_create(const bert *b, int k, bert_train **out, ipf_err *e);
IPF_INTERNAL void bert_train_free(bert_train *t);
/* Index of the lowest trained layer, L-k: the `upto` for bert_forward_hidden. */
IPF_INTERNAL int bert_train_first_layer(const bert_train *t);
IPF_INTERNAL float *bert_train_params(bert_train *t, size_t *n);
IPF_INTERNAL float *bert_train_grads(bert_train *t, size_t *n);
IPF_INTERNAL void bert_train_zero_grad(bert_train *t);
IPF_INTERNAL size_t bert_train_param_count(const bert_train *t);
IPF_INTERNAL const bert_param *bert_train_param(const bert_train *t, size_t i);
/* hidden (Ttot,D): n sequences of lens[i] rows each -> cls (n,D). */
IPF_INTERNAL ipf_status bert_train_forward(bert_train *t, ipf_kctx *k, const float *hidden, const int *lens, int n,
                                           float *cls, ipf_err *e);
/* dcls (n,D) for the last forward -> gradients added into the block. */
IPF_INTERNAL ipf_status bert_train_backward(bert_train *t, ipf_kctx *k, const float *dcls, ipf_err *e);

/* ---- internals shared with training (lib/bert_train.c) -------------------- */

/* One encoder layer's weights (nn.Linear layout [out,in]); Q,K,V fused at
 * load into Wqkv (3D,D) = [Wq; Wk; Wv] and bqkv (3D). */
struct bert_layer {
    const float *Wqkv, *bqkv;   /* (3D,D) (3D) */
    const float *Wo, *bo;       /* (D,D) (D)   attention.output.dense */
    const float *ln1_w, *ln1_b; /* (D)         attention.output.LayerNorm */
    const float *Wi, *bi;       /* (F,D) (F)   intermediate.dense */
    const float *Wf, *bf;       /* (D,F) (D)   output.dense */
    const float *ln2_w, *ln2_b; /* (D)         output.LayerNorm */
    /* oneDNN-packed copies of the weights (NULL when unavailable, and always
     * in a bert_train): pk_qkv for full layers, pk_q/pk_kv (rows 0..D and
     * D..3D of Wqkv) for the [CLS]-only last layer. */
    const klinear_packed *pk_qkv, *pk_q, *pk_kv, *pk_o, *pk_i, *pk_f;
};

/* Activations one layer keeps for backward.  bert_layer_forward points the
 * first group into its scratch `ws`; the caller provides the second group
 * (nq = n when cls_only, else the packed token count). */
typedef struct bert_layer_saved {
    float *qkv, *q, *xq, *probs, *ctx, *attn, *ln1, *h; /* set by forward, inside ws */
    float *hpre;          /* (nq,F) GELU input, caller-provided */
    float *res2;          /* (nq,D) input of the second LayerNorm, caller-provided */
    float *mean1, *rstd1; /* (nq) caller-provided */
    float *mean2, *rstd2; /* (nq) caller-provided */
} bert_layer_saved;

IPF_INTERNAL const bert_layer *bert_get_layer(const bert *b, int l);
/* Check n sequences' lengths (1..max_position) and ids (< vocab); the message
 * names the sequence and index. */
IPF_INTERNAL ipf_status bert_validate(const bert *b, ipf_err *e, const int32_t *const *ids, const int *lens, int n);
/* x (Ttot,D) = LayerNorm(word + position + type 0) for the packed sequences. */
IPF_INTERNAL int bert_embed(const bert *b, ipf_kctx *k, float *x, const int32_t *const *ids, const int *lens, int n);
/* Floats of scratch bert_layer_forward needs for these sequences. */
IPF_INTERNAL size_t bert_layer_scratch(const bert_config *c, const int *lens, int n, int cls_only);
/* One layer over n packed sequences x (Ttot,D) -> out (Ttot,D), or with
 * cls_only -> out (n,D) holding only each sequence's first row (keys and
 * values still over all tokens).  ws: bert_layer_scratch floats; sv (may be
 * NULL) receives the activations for backward.  0, or -1 with k->err. */
IPF_INTERNAL int bert_layer_forward(const bert_config *c, const bert_layer *L, ipf_kctx *k, float *out,
                                    const float *x, const int *lens, int n, int cls_only, float *ws,
                                    bert_layer_saved *sv);
/* The session's BERT working buffer of at least `floats` (NULL on OOM). */
IPF_INTERNAL float *bert_session_buffer(ipf_session *s, size_t floats);

#endif
