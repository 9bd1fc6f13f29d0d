/* fuzz_tokenizer.c — libFuzzer target for the WordPiece tokenizer (built and
 * run by tests/check_60_fuzz.sh under ASan+UBSan).  Input: byte 0 picks
 * max_len (2..129) and cased/uncased, the rest is the caption, any bytes.
 * Checks the invariants every caller relies on: [CLS] first, [SEP] last,
 * count <= max_len, ids inside the vocabulary, the size query agreeing with
 * the real call, and a deterministic result. */
#include "tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static tokenizer *tok[2]; /* uncased, cased (same vocab file) */

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    const char *path = getenv("IPF_FUZZ_VOCAB");
    if (!path) path = "../shared/data/bert-base-uncased-vocab.txt";
    ipf_err e;
    for (int i = 0; i < 2; i++)
        if (tokenizer_load_vocab(path, i == 0, &tok[i], &e)) {
            fprintf(stderr, "fuzz_tokenizer: %s\n", e.msg);
            abort();
        }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int max_len = 2 + (data[0] & 0x7f);
    const tokenizer *t = tok[data[0] >> 7];
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    ipf_err e;
    size_t n = 0, n2 = 0, nq = 0;
    int32_t ids[130], ids2[130];
    if (tokenizer_encode(t, text, len, max_len, ids, 130, &n, &e)) {
        fprintf(stderr, "encode failed: %s\n", e.msg);
        abort();
    }
    int32_t vs = tokenizer_vocab_size(t);
    if (n < 2 || n > (size_t)max_len || ids[0] != ids[n - 1] - 1 /* [CLS]=101, [SEP]=102 */) abort();
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= vs) abort();
    if (tokenizer_encode(t, text, len, max_len, NULL, 0, &nq, &e) != (n ? IPF_ERR_BUFFER_TOO_SMALL : IPF_OK) ||
        nq != n)
        abort();
    if (tokenizer_encode(t, text, len, max_len, ids2, 130, &n2, &e) || n2 != n || memcmp(ids, ids2, n * sizeof *ids))
        abort();
    return 0;
}
