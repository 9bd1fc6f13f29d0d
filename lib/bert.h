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

/* n sequences of ids (lens[i] each, ragged) -> cls (n, hidden): the last
 * layer's output at position 0.  Errors go to s->err. */
IPF_INTERNAL ipf_status bert_forward_cls(const bert *b, ipf_session *s, const int32_t *const *ids,
                                         const int *lens, int n, float *cls);

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
