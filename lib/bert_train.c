/* bert_train.c — fine-tuning the top k BERT layers (see bert.h, "training").
 * Trainable float copies of the layers' weights in one flat block (and a
 * gradient block of the same layout), a forward that saves every layer's
 * activations, and the backward from d[CLS] to the weight gradients.
 * Dropout is off (HF's hidden/attention dropout are not applied), so the
 * forward equals inference exactly.
 *
 * Letters: Ttot packed tokens of n sequences, nq query rows (Ttot, or n for
 * the last layer which computes only [CLS]), D hidden, F FFN width, H heads,
 * dh = D/H. */
#include "bert.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Per-layer tensors in flat-block order, with their HF names. */
enum { P_WQKV, P_BQKV, P_WO, P_BO, P_LN1W, P_LN1B, P_WI, P_BI, P_WF, P_BF, P_LN2W, P_LN2B, P_COUNT };

typedef struct layer_act { /* one layer's saved activations */
    float *x;              /* (Ttot,D) input: the caller's hidden or the previous layer's output */
    float *ws;             /* bert_layer_scratch floats: qkv, probs, ctx, attn, ln1, h */
    bert_layer_saved sv;
    float *out;            /* (nq,D) */
} layer_act;

struct bert_train {
    bert_config cfg;
    int first, k;          /* trains layers first .. first+k-1 */
    float *params, *grads; /* flat, nparams each */
    size_t nparams;
    bert_layer *layer;     /* k views into params */
    bert_layer *glayer;    /* k views into grads */
    bert_param *table;     /* named views (HF names, Q/K/V split) */
    size_t ntable;
    /* forward state */
    int n, total, *lens;
    const float *hidden;
    layer_act *act;
    float *arena;
    size_t arena_cap;
    float *bwd;            /* backward scratch */
    size_t bwd_cap;
};

static size_t layer_floats(const bert_config *c) {
    size_t D = (size_t)c->hidden, F = (size_t)c->intermediate;
    return 3 * D * D + 3 * D + D * D + D + 2 * D + F * D + F + D * F + D + 2 * D;
}

/* Point the fields of L into a flat layer block p. */
static void layer_views(const bert_config *c, float *p, bert_layer *L, float **fields) {
    size_t D = (size_t)c->hidden, F = (size_t)c->intermediate;
    const size_t sizes[P_COUNT] = {3 * D * D, 3 * D, D * D, D, D, D, F * D, F, D * F, D, D, D};
    for (int i = 0; i < P_COUNT; i++) {
        fields[i] = p;
        p += sizes[i];
    }
    L->Wqkv = fields[P_WQKV], L->bqkv = fields[P_BQKV], L->Wo = fields[P_WO], L->bo = fields[P_BO];
    L->ln1_w = fields[P_LN1W], L->ln1_b = fields[P_LN1B], L->Wi = fields[P_WI], L->bi = fields[P_BI];
    L->Wf = fields[P_WF], L->bf = fields[P_BF], L->ln2_w = fields[P_LN2W], L->ln2_b = fields[P_LN2B];
}

void bert_train_free(bert_train *t) {
    if (!t) return;
    free(t->params);
    free(t->grads);
    free(t->layer);
    free(t->glayer);
    free(t->table);
    free(t->lens);
    free(t->act);
    free(t->arena);
    free(t->bwd);
    free(t);
}

ipf_status bert_train_create(const bert *b, int k, bert_train **out, ipf_err *e) {
    *out = NULL;
    const bert_config *c = bert_get_config(b);
    if (k < 1 || k > c->layers)
        return ipf_fail(e, IPF_ERR_INVALID_ARGUMENT, "BERT training: trainable layer count %d outside 1..%d", k,
                        c->layers);
    bert_train *t = calloc(1, sizeof *t);
    if (!t) return ipf_fail(e, IPF_ERR_OUT_OF_MEMORY, "BERT training: out of memory");
    t->cfg = *c;
    t->k = k;
    t->first = c->layers - k;
    size_t per = layer_floats(c);
    t->nparams = per * (size_t)k;
    t->params = ipf_malloc_array(t->nparams, sizeof(float));
    t->grads = ipf_calloc_array(t->nparams, sizeof(float));
    t->layer = calloc((size_t)k, sizeof *t->layer);
    t->glayer = calloc((size_t)k, sizeof *t->glayer);
    t->ntable = (size_t)k * (P_COUNT + 4); /* Wqkv and bqkv each split in three */
    t->table = calloc(t->ntable, sizeof *t->table);
    if (!t->params || !t->grads || !t->layer || !t->glayer || !t->table) {
        bert_train_free(t);
        return ipf_fail(e, IPF_ERR_OUT_OF_MEMORY, "BERT training: out of memory for %zu parameters", per * (size_t)k);
    }
    const int64_t D = c->hidden, F = c->intermediate;
    size_t ti = 0;
    for (int j = 0; j < k; j++) {
        float *pf[P_COUNT], *gf[P_COUNT];
        layer_views(c, t->params + per * (size_t)j, &t->layer[j], pf);
        layer_views(c, t->grads + per * (size_t)j, &t->glayer[j], gf);
        const bert_layer *src = bert_get_layer(b, t->first + j);
        const float *from[P_COUNT] = {src->Wqkv, src->bqkv, src->Wo, src->bo, src->ln1_w, src->ln1_b,
                                      src->Wi, src->bi, src->Wf, src->bf, src->ln2_w, src->ln2_b};
        static const char *names[P_COUNT] = {NULL, NULL, "attention.output.dense.weight", "attention.output.dense.bias",
                                             "attention.output.LayerNorm.weight", "attention.output.LayerNorm.bias",
                                             "intermediate.dense.weight", "intermediate.dense.bias",
                                             "output.dense.weight", "output.dense.bias", "output.LayerNorm.weight",
                                             "output.LayerNorm.bias"};
        const int64_t rows[P_COUNT] = {3 * D, 3 * D, D, D, D, D, F, F, D, D, D, D};
        const int64_t cols[P_COUNT] = {D, 0, D, 0, 0, 0, D, 0, F, 0, 0, 0};
        for (int i = 0; i < P_COUNT; i++) {
            size_t nf = (size_t)(rows[i] * (cols[i] ? cols[i] : 1));
            memcpy(pf[i], from[i], nf * sizeof(float));
            if (i == P_WQKV || i == P_BQKV) { /* HF keeps query, key, value apart */
                static const char *qkv[3] = {"query", "key", "value"};
                for (int q = 0; q < 3; q++) {
                    bert_param *p = &t->table[ti++];
                    snprintf(p->name, sizeof p->name, "encoder.layer.%d.attention.self.%s.%s", t->first + j, qkv[q],
                             i == P_WQKV ? "weight" : "bias");
                    p->ndim = i == P_WQKV ? 2 : 1;
                    p->shape[0] = D, p->shape[1] = i == P_WQKV ? D : 0;
                    size_t off = (size_t)q * nf / 3;
                    p->data = pf[i] + off, p->grad = gf[i] + off;
                }
            } else {
                bert_param *p = &t->table[ti++];
                snprintf(p->name, sizeof p->name, "encoder.layer.%d.%s", t->first + j, names[i]);
                p->ndim = cols[i] ? 2 : 1;
                p->shape[0] = rows[i], p->shape[1] = cols[i];
                p->data = pf[i], p->grad = gf[i];
            }
        }
    }
    t->ntable = ti;
    *out = t;
    return IPF_OK;
}

int bert_train_first_layer(const bert_train *t) { return t->first; }
float *bert_train_params(bert_train *t, size_t *n) {
    *n = t->nparams;
    return t->params;
}
float *bert_train_grads(bert_train *t, size_t *n) {
    *n = t->nparams;
    return t->grads;
}
void bert_train_zero_grad(bert_train *t) { memset(t->grads, 0, t->nparams * sizeof(float)); }
size_t bert_train_param_count(const bert_train *t) { return t->ntable; }
const bert_param *bert_train_param(const bert_train *t, size_t i) { return i < t->ntable ? &t->table[i] : NULL; }

static float *grow(float **buf, size_t *cap, size_t floats) {
    if (floats > *cap) {
        float *p = ipf_malloc_array(floats, sizeof(float));
        if (!p) return NULL;
        free(*buf);
        *buf = p;
        *cap = floats;
    }
    return *buf;
}

ipf_status bert_train_forward(bert_train *t, ipf_kctx *k, const float *hidden, const int *lens, int n, float *cls,
                              ipf_err *e) {
    const bert_config *c = &t->cfg;
    const size_t D = (size_t)c->hidden, F = (size_t)c->intermediate;
    if (n < 1) return ipf_fail(e, IPF_ERR_INVALID_ARGUMENT, "BERT training: %d sequences", n);
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        if (lens[i] < 1 || lens[i] > c->max_position)
            return ipf_fail(e, IPF_ERR_LIMIT, "BERT training: sequence %d has %d tokens; must be 1..%d", i, lens[i],
                            c->max_position);
        total += (size_t)lens[i];
    }
    int *nl = realloc(t->lens, (size_t)n * sizeof *nl);
    layer_act *act = realloc(t->act, (size_t)t->k * sizeof *act);
    if (nl) t->lens = nl;
    if (act) t->act = act;
    /* Arena: per layer its scratch, GELU input, second residual, 4 stats
     * vectors and its output (the next layer's input). */
    size_t need = 0;
    for (int j = 0; j < t->k; j++) {
        int last = j == t->k - 1;
        size_t nq = last ? (size_t)n : total;
        need += bert_layer_scratch(c, lens, n, last) + nq * (F + D + 4) + nq * D;
    }
    if (!nl || !act || !grow(&t->arena, &t->arena_cap, need))
        return ipf_fail(e, IPF_ERR_OUT_OF_MEMORY, "BERT training: out of memory for %zu tokens", total);
    memcpy(t->lens, lens, (size_t)n * sizeof *lens);
    t->n = n;
    t->total = (int)total;
    t->hidden = hidden;
    float *p = t->arena;
    const float *x = hidden;
    for (int j = 0; j < t->k; j++) {
        int last = j == t->k - 1;
        size_t nq = last ? (size_t)n : total;
        layer_act *a = &t->act[j];
        a->x = (float *)x;
        a->ws = p, p += bert_layer_scratch(c, lens, n, last);
        a->sv.hpre = p, p += nq * F;
        a->sv.res2 = p, p += nq * D;
        a->sv.mean1 = p, p += nq;
        a->sv.rstd1 = p, p += nq;
        a->sv.mean2 = p, p += nq;
        a->sv.rstd2 = p, p += nq;
        a->out = p, p += nq * D;
        if (bert_layer_forward(c, &t->layer[j], k, a->out, x, lens, n, last, a->ws, &a->sv))
            return ipf_fail(e, IPF_ERR_BACKEND, "BERT training: kernel failure: %s", k->err);
        x = a->out;
    }
    memcpy(cls, t->act[t->k - 1].out, (size_t)n * D * sizeof(float));
    return IPF_OK;
}

/* Backward of one layer (bert_layer_forward's inverse): dout (nq,D) ->
 * parameter gradients in G, and dx (Ttot,D) += d input when dx is not NULL.
 * s: scratch as sized in bert_train_backward. */
static int layer_backward(const bert_config *c, const bert_layer *L, const bert_layer *G, ipf_kctx *k,
                          const layer_act *a, const int *lens, int n, int total, int cls_only, float *dout,
                          float *dx, float *s) {
    const int D = c->hidden, F = c->intermediate, H = c->heads, dh = D / H;
    const int nq = cls_only ? n : total;
    const bert_layer_saved *sv = &a->sv;
    float *dres2 = s;                          /* (nq,D) */
    float *dln1 = dres2 + (size_t)nq * D;      /* (nq,D) */
    float *dh_ = dln1 + (size_t)nq * D;        /* (nq,F) */
    float *dhpre = dh_ + (size_t)nq * F;       /* (nq,F) */
    float *dattn = dhpre + (size_t)nq * F;     /* (nq,D) */
    float *dctx = dattn + (size_t)nq * D;      /* (nq,D) */
    float *dqkv = dctx + (size_t)nq * D;       /* like qkv: (Ttot,3D), or (Ttot,2D) K|V */
    float *dq = dqkv + (size_t)total * 3 * D;  /* cls_only: (n,D) */
    float *dxq = dq + (size_t)n * D;           /* cls_only: (n,D) */
    float *dP = dxq + (size_t)n * D;           /* per sequence (H,Tq,T) */
    int maxT = 0;
    for (int i = 0; i < n; i++) maxT = lens[i] > maxT ? lens[i] : maxT;
    float *dS = dP + (size_t)H * (cls_only ? 1 : maxT) * maxT;
    const size_t nqD = (size_t)nq * D;

    memset(s, 0, sizeof(float) * (size_t)(dP - s));
    /* out = LN2(res2), res2 = h Wf^T + bf + ln1 */
    if (layernorm_backward(k, dres2, (float *)G->ln2_w, (float *)G->ln2_b, dout, sv->res2, L->ln2_w, sv->mean2,
                           sv->rstd2, nq, D) ||
        linear_backward(k, dh_, (float *)G->Wf, (float *)G->bf, dres2, sv->h, L->Wf, nq, F, D))
        return -1;
    memcpy(dln1, dres2, nqD * sizeof(float)); /* the residual around the FFN */
    /* h = gelu(hpre), hpre = ln1 Wi^T + bi */
    if (gelu_backward(k, dhpre, dh_, sv->hpre, (size_t)nq * F)) return -1;
    if (linear_backward(k, dln1, (float *)G->Wi, (float *)G->bi, dhpre, sv->ln1, L->Wi, nq, D, F) ||
        layernorm_backward(k, dattn, (float *)G->ln1_w, (float *)G->ln1_b, dln1, sv->attn, L->ln1_w, sv->mean1,
                           sv->rstd1, nq, D) ||
        linear_backward(k, dctx, (float *)G->Wo, (float *)G->bo, dattn, sv->ctx, L->Wo, nq, D, D))
        return -1;
    /* attention, per sequence and head */
    const float scale = 1.0f / sqrtf((float)dh);
    const int ldqkv = cls_only ? 2 * D : 3 * D;
    const float *P = sv->probs;
    int off = 0;
    for (int i = 0; i < n; i++) {
        int T = lens[i], Tq = cls_only ? 1 : T;
        size_t hs = (size_t)Tq * T;
        const float *Q = cls_only ? sv->q + (size_t)i * D : sv->qkv + (size_t)off * ldqkv;
        float *dQ = cls_only ? dq + (size_t)i * D : dqkv + (size_t)off * ldqkv;
        int ldq = cls_only ? D : ldqkv;
        size_t kofs = (size_t)off * ldqkv + (cls_only ? 0 : D);
        const float *K = sv->qkv + kofs, *V = K + D;
        float *dK = dqkv + kofs, *dV = dK + D;
        const float *dC = dctx + (size_t)(cls_only ? i : off) * D;
        memset(dP, 0, sizeof(float) * H * hs);
        memset(dS, 0, sizeof(float) * H * hs);
        /* C_h = P_h V_h: dP_h += dC_h V_h^T, dV_h += P_h^T dC_h */
        if (bmm_backward(k, H, 0, 0, Tq, dh, T, 1.0f, dP, P, T, hs, dV, V, ldqkv, dh, dC, D, dh) ||
            softmax_backward(k, dS, dP, P, scale, H * Tq, T) ||
            /* S_h = Q_h K_h^T: dQ_h += dS_h K_h, dK_h += dS_h^T Q_h */
            bmm_backward(k, H, 0, 1, Tq, T, dh, 1.0f, dQ, Q, ldq, dh, dK, K, ldqkv, dh, dS, T, hs))
            return -1;
        P += (size_t)H * hs;
        off += T;
    }
    /* projections, and the residual into the layer input */
    if (cls_only) {
        if (linear_backward(k, dx, (float *)G->Wqkv + (size_t)D * D, (float *)G->bqkv + D, dqkv, a->x,
                            L->Wqkv + (size_t)D * D, total, D, 2 * D) ||
            linear_backward(k, dxq, (float *)G->Wqkv, (float *)G->bqkv, dq, sv->xq, L->Wqkv, n, D, D))
            return -1;
        if (dx) {
            off = 0;
            for (int i = 0; i < n; i++) {
                float *r = dx + (size_t)off * D;
                for (int d = 0; d < D; d++) r[d] += dxq[(size_t)i * D + d] + dattn[(size_t)i * D + d];
                off += lens[i];
            }
        }
    } else {
        if (linear_backward(k, dx, (float *)G->Wqkv, (float *)G->bqkv, dqkv, a->x, L->Wqkv, total, D, 3 * D))
            return -1;
        if (dx)
            for (size_t j = 0; j < nqD; j++) dx[j] += dattn[j];
    }
    return 0;
}

ipf_status bert_train_backward(bert_train *t, ipf_kctx *k, const float *dcls, ipf_err *e) {
    const bert_config *c = &t->cfg;
    if (!t->n) return ipf_fail(e, IPF_ERR_STATE, "BERT training: backward before forward");
    const size_t D = (size_t)c->hidden, F = (size_t)c->intermediate, H = (size_t)c->heads;
    size_t total = (size_t)t->total, n = (size_t)t->n, maxT = 0;
    for (size_t i = 0; i < n; i++) maxT = (size_t)t->lens[i] > maxT ? (size_t)t->lens[i] : maxT;
    /* layer scratch (full layer, the larger case) + dout/dx ping-pong (Ttot,D) x2 */
    size_t layer_s = total * (4 * D + 2 * F) + total * 3 * D + 2 * n * D + 2 * H * maxT * maxT;
    float *s = grow(&t->bwd, &t->bwd_cap, layer_s + 2 * total * D);
    if (!s) return ipf_fail(e, IPF_ERR_OUT_OF_MEMORY, "BERT training: out of memory for backward");
    float *dA = s + layer_s, *dB = dA + total * D;
    memcpy(dA, dcls, n * D * sizeof(float));
    for (int j = t->k - 1; j >= 0; j--) {
        float *dx = j > 0 ? dB : NULL; /* the lowest trained layer's input is frozen */
        if (dx) memset(dx, 0, total * D * sizeof(float));
        if (layer_backward(c, &t->layer[j], &t->glayer[j], k, &t->act[j], t->lens, t->n, t->total, j == t->k - 1,
                           dA, dx, s))
            return ipf_fail(e, IPF_ERR_BACKEND, "BERT training: kernel failure: %s", k->err);
        float *tmp = dA;
        dA = dB;
        dB = tmp;
    }
    return IPF_OK;
}
