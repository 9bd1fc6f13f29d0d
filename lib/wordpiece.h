/* wordpiece.h — BERT WordPiece tokenizer (google-research/bert
 * tokenization.py BasicTokenizer + WordpieceTokenizer semantics, Python 3.11 /
 * Unicode 14 character data).  Internal to lib/tokenizer.c.  Owner: tok. */
#ifndef IPF_WORDPIECE_H
#define IPF_WORDPIECE_H

#include "internal.h"

/* Hugging Face's max_input_chars_per_word: a longer word becomes [UNK]
 * (google-research uses 200). */
#define WP_MAX_WORD_CHARS 100

typedef struct wordpiece wordpiece;

/* Load and validate vocab.txt (UTF-8, one token a line, no empty lines except
 * a final newline, no duplicates, [UNK] [CLS] [SEP] present). */
IPF_INTERNAL ipf_status wordpiece_load(const char *vocab_path, int lower_case, wordpiece **out, ipf_err *e);
IPF_INTERNAL void wordpiece_free(wordpiece *w);
IPF_INTERNAL int32_t wordpiece_vocab_size(const wordpiece *w);
IPF_INTERNAL int32_t wordpiece_id(const wordpiece *w, const char *token, size_t len); /* -1 if absent */
IPF_INTERNAL int32_t wordpiece_cls(const wordpiece *w);
IPF_INTERNAL int32_t wordpiece_sep(const wordpiece *w);

/* Code points (valid Unicode scalar values) -> word-piece ids, without
 * [CLS]/[SEP].  Stops after max_pieces pieces; *n receives the count kept.
 * pieces must hold max_pieces ids.  Thread-safe. */
IPF_INTERNAL ipf_status wordpiece_encode(const wordpiece *w, const uint32_t *cps, size_t n_cps, int32_t *pieces,
                                         size_t max_pieces, size_t *n, ipf_err *e);

/* Python 3.11 (Unicode 14) character predicates, exposed for tests. */
IPF_INTERNAL int py_is_unicode14(uint32_t c);
IPF_INTERNAL int py_isspace(uint32_t c);
IPF_INTERNAL int bert_is_punctuation(uint32_t c);
IPF_INTERNAL int bert_is_control(uint32_t c);
/* Python's unicodedata.category(c) as two letters plus NUL. */
IPF_INTERNAL void py_category(uint32_t c, char out[3]);

/* Decode UTF-8 as Python's bytes.decode('utf-8', errors='ignore'): every
 * byte that is not part of a well-formed sequence is dropped.  cps must
 * hold len entries; returns the number of code points. */
IPF_INTERNAL size_t utf8_decode_ignore(const char *s, size_t len, uint32_t *cps);
/* Encode one code point; returns the byte count (1..4). */
IPF_INTERNAL size_t utf8_put(uint32_t c, char *out);

#endif
