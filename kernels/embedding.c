/* embedding.c — BERT input embeddings before LayerNorm (HF BertEmbeddings):
 * word_embeddings(ids) + position_embeddings(0..T-1) + token_type_embeddings(types).
 * Letters: T tokens of one sequence, D hidden. */
#include "kernels.h"

#include <string.h>

void embedding_forward_ref(float *out, const int32_t *ids, const int32_t *types, const float *word,
                           const float *pos, const float *type, int T, int D) {
    for (int t = 0; t < T; t++) {
        const float *w = word + (size_t)ids[t] * D, *p = pos + (size_t)t * D;
        const float *ty = type + (size_t)(types ? types[t] : 0) * D;
        for (int d = 0; d < D; d++) out[(size_t)t * D + d] = (float)((double)w[d] + p[d] + ty[d]);
    }
}

void embedding_backward_ref(float *dword, float *dpos, float *dtype, const float *dout, const int32_t *ids,
                            const int32_t *types, int T, int D) {
    for (int t = 0; t < T; t++) {
        const float *g = dout + (size_t)t * D;
        for (int d = 0; d < D; d++) {
            if (dword) dword[(size_t)ids[t] * D + d] += g[d];
            if (dpos) dpos[(size_t)t * D + d] += g[d];
            if (dtype) dtype[(size_t)(types ? types[t] : 0) * D + d] += g[d];
        }
    }
}

int embedding_forward(ipf_kctx *c, float *out, const int32_t *ids, const int32_t *types, const float *word,
                      const float *pos, const float *type, int T, int D) {
    if (kctx_pick(c, 0, 1) == KB_REF) {
        embedding_forward_ref(out, ids, types, word, pos, type, T, D);
        return 0;
    }
    for (int t = 0; t < T; t++) { /* memory-bound and small: one thread */
        const float *w = word + (size_t)ids[t] * D, *p = pos + (size_t)t * D;
        const float *ty = type + (size_t)(types ? types[t] : 0) * D;
        float *o = out + (size_t)t * D;
        for (int d = 0; d < D; d++) o[d] = w[d] + p[d] + ty[d];
    }
    return 0;
}

int embedding_backward(ipf_kctx *c, float *dword, float *dpos, float *dtype, const float *dout, const int32_t *ids,
                       const int32_t *types, int T, int D) {
    /* Scatter-add with repeated ids: sequential in both paths. */
    (void)c;
    embedding_backward_ref(dword, dpos, dtype, dout, ids, types, T, D);
    return 0;
}
