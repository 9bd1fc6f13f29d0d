/* tokenizer.h — BERT WordPiece (google-research tokenization.py semantics)
 * and SentencePiece (via the C++ shim).  Owner: tok. */
#ifndef IPF_TOKENIZER_H
#define IPF_TOKENIZER_H

#include "internal.h"

typedef struct tokenizer tokenizer;

IPF_INTERNAL ipf_status tokenizer_load_vocab(const char *vocab_path, int lower_case, tokenizer **out, ipf_err *e);
IPF_INTERNAL ipf_status tokenizer_load_spm(const char *model_path, tokenizer **out, ipf_err *e);
IPF_INTERNAL void tokenizer_free(void *t);
IPF_INTERNAL int32_t tokenizer_vocab_size(const tokenizer *t);

/* Bytes (any, possibly invalid UTF-8) -> [CLS] ... [SEP] ids truncated to
 * max_len.  *n_ids receives the count; IPF_ERR_BUFFER_TOO_SMALL if cap is
 * too small (count still reported).  Thread-safe on a shared tokenizer. */
IPF_INTERNAL ipf_status tokenizer_encode(const tokenizer *t, const char *text, size_t len, int max_len,
                                         int32_t *ids, size_t cap, size_t *n_ids, ipf_err *e);

#endif
