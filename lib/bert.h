/* bert.h — BERT encoder (Hugging Face BertModel names).  Owner: bert. */
#ifndef IPF_BERT_H
#define IPF_BERT_H

#include "internal.h"

typedef struct bert bert;

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

#endif
