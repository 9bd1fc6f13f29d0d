/* kernels.h — compute ops, one dispatch layer (not installed).
 *
 * Each op lives in kernels/<op>.c as <op>_forward / <op>_backward plus a
 * plain-C <op>_forward_ref (and <op>_backward_ref) that is the test oracle.
 * Backward ADDS into gradients (+=).  The dispatch for an op picks oneDNN
 * first, OpenBLAS next, the reference last, subject to ctx->backend.
 * Only files in kernels/ may include dnnl.h or cblas.h.
 *
 * Shape letters used in comments: N batch, C channels, H/W spatial,
 * T tokens, D hidden width, K input features, M output features.
 */
#ifndef IPF_KERNELS_H
#define IPF_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#define IPF_KINTERNAL __attribute__((visibility("hidden")))

/* The backend values match ipf_backend in the public header. */
enum { KB_AUTO = 0, KB_ONEDNN = 1, KB_OPENBLAS = 2, KB_REF = 3 };

typedef struct kplan kplan;

/* Per-session kernel context: one per thread of use, never shared. */
typedef struct ipf_kctx {
    int backend;        /* KB_* requested; ops fall back along the chain */
    int nthreads;       /* compute threads for this session */
    void *dnnl_engine;  /* dnnl_engine_t, created on first use */
    void *dnnl_stream;  /* dnnl_stream_t, created on first use */
    void *scratch;      /* user-mode scratchpad for oneDNN primitives */
    size_t scratch_cap;
    kplan *plans;       /* keyed cache of per-shape plans (primitives etc.) */
    char err[256];      /* last kernel failure, copied into the handle's message */
} ipf_kctx;

IPF_KINTERNAL void kctx_init(ipf_kctx *c);
IPF_KINTERNAL void kctx_destroy(ipf_kctx *c);
/* Set this thread's OpenMP / OpenBLAS thread counts from c->nthreads. */
IPF_KINTERNAL void kctx_apply_threads(ipf_kctx *c);
/* 0 on success; creates engine and stream on first call. */
IPF_KINTERNAL int kctx_dnnl(ipf_kctx *c, void **engine, void **stream);
/* A scratch buffer of at least `bytes`, 64-byte aligned, owned by the ctx
 * (valid until the next call).  NULL on allocation failure. */
IPF_KINTERNAL void *kctx_scratch(ipf_kctx *c, size_t bytes);
/* Plan cache, keyed by a string such as "conv:N,C,H,W,...".  get returns NULL
 * when absent; put takes ownership of `plan` (destroy may be NULL) and returns
 * 0, or -1 on allocation failure (then destroy(plan) has been called). */
IPF_KINTERNAL void *kctx_plan_get(ipf_kctx *c, const char *key);
IPF_KINTERNAL int kctx_plan_put(ipf_kctx *c, const char *key, void *plan, void (*destroy)(void *));
/* Which backend runs an op that supports the given set: the requested one if
 * supported, else the first supported in oneDNN, OpenBLAS, ref order. */
IPF_KINTERNAL int kctx_pick(const ipf_kctx *c, int has_onednn, int has_openblas);

/* ---- shared ops ----------------------------------------------------------
 * Ops return 0 on success, -1 on failure with a message in c->err. */

/* y(M,N) = x(M,K) . W(N,K)^T + b(N)   (torch.nn.functional.linear; b may be NULL) */
IPF_KINTERNAL int linear_forward(ipf_kctx *c, float *y, const float *x, const float *W, const float *b, int M,
                                 int K, int N);
IPF_KINTERNAL void linear_forward_ref(float *y, const float *x, const float *W, const float *b, int M, int K,
                                      int N);
/* dx(M,K) += dy(M,N) . W(N,K);  dW(N,K) += dy^T . x;  db(N) += sum_m dy.
 * Any of dx, dW, db may be NULL (not needed). */
IPF_KINTERNAL int linear_backward(ipf_kctx *c, float *dx, float *dW, float *db, const float *dy, const float *x,
                                  const float *W, int M, int K, int N);
IPF_KINTERNAL void linear_backward_ref(float *dx, float *dW, float *db, const float *dy, const float *x,
                                       const float *W, int M, int K, int N);

/* ===== ops: image (owner: image) ===== */

/* ===== end ops: image ===== */

/* ===== ops: text (owner: text) ===== */
/* Transformer ops for BERT.  Elementwise/row ops have an optimised C path
 * (OpenMP over rows; it answers the "OpenBLAS" slot of kctx_pick) and a
 * plain double-accumulating reference. */

/* oneDNN matmul on strided views (kernels/dnnl_matmul.c), shared by linear
 * and bmm: for b < nb, C_b(M,N) = alpha * A_b(M,K) . B_b(K,N) [+ bias(N)]
 * [+ C_b when accumulate].  Strides in elements: sa = {batch, row, col} of
 * A as (M,K), sb of B as (K,N), sc of C (transposes are just strides).
 * 0, or -1 with c->err (the caller may fall back to another backend). */
typedef struct klinear_packed klinear_packed;
typedef struct kmm_desc {
    int nb, M, N, K;
    int64_t sa[3], sb[3], sc[3];
    float alpha;
    int accumulate, has_bias;
    int gelu;                         /* exact GELU applied to the result (post-op) */
    const klinear_packed *packed;     /* B in a packed layout (sb ignored), or NULL */
} kmm_desc;
IPF_KINTERNAL int kdnnl_matmul(ipf_kctx *c, const kmm_desc *d, const float *A, const float *B, const float *bias,
                               float *C);

/* A linear layer's weight W (N,K) copied into oneDNN's preferred blocked
 * layout for y = x W^T (the layout does not depend on the row count M), made
 * once at model load and then read-only, shareable by every session.  NULL
 * when oneDNN cannot make one; callers then use W itself. */
IPF_KINTERNAL klinear_packed *linear_pack(const float *W, int K, int N);
IPF_KINTERNAL void linear_pack_free(klinear_packed *p);
IPF_KINTERNAL size_t linear_pack_bytes(const klinear_packed *p);
/* y(M,N) = [y +] x(M,K) . W(N,K)^T + b, then GELU if gelu (accumulate and
 * gelu not both).  Wp (may be NULL) is W packed, used on the oneDNN backend;
 * other backends use W.  Fusing the residual add and GELU into the product
 * saves a pass over memory each. */
IPF_KINTERNAL int linear_forward_ex(ipf_kctx *c, float *y, const float *x, const float *W,
                                    const klinear_packed *Wp, const float *b, int M, int K, int N, int accumulate,
                                    int gelu);

/* Strided batched matmul, torch.matmul on strided views (attention QK^T, PV):
 * for b in [0,nb): C_b(M,N) = alpha * op(A_b) . op(B_b) + beta * C_b, where
 * X_b = X + b*sX; op(A_b) is (M,K): A_b stored (M,K) with row stride lda, or
 * stored (K,M) and transposed when ta; op(B_b) is (K,N): stored (K,N) with
 * ldb, or stored (N,K) and transposed when tb.  beta is 0 or 1. */
IPF_KINTERNAL int bmm_forward(ipf_kctx *c, int nb, int ta, int tb, int M, int N, int K, float alpha, const float *A,
                              int lda, size_t sA, const float *B, int ldb, size_t sB, float beta, float *C, int ldc,
                              size_t sC);
IPF_KINTERNAL void bmm_forward_ref(int nb, int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                                   size_t sA, const float *B, int ldb, size_t sB, float beta, float *C, int ldc,
                                   size_t sC);
/* Backward of C = alpha*op(A).op(B): dA += alpha*dC.op(B)^T and dB +=
 * alpha*op(A)^T.dC, each in its operand's stored layout (lda/sA, ldb/sB);
 * dA or dB may be NULL. */
IPF_KINTERNAL int bmm_backward(ipf_kctx *c, int nb, int ta, int tb, int M, int N, int K, float alpha, float *dA,
                               const float *A, int lda, size_t sA, float *dB, const float *B, int ldb, size_t sB,
                               const float *dC, int ldc, size_t sC);
IPF_KINTERNAL void bmm_backward_ref(int nb, int ta, int tb, int M, int N, int K, float alpha, float *dA,
                                    const float *A, int lda, size_t sA, float *dB, const float *B, int ldb, size_t sB,
                                    const float *dC, int ldc, size_t sC);

/* out(N,D) = (x - mean) * rstd * w + b over each row (torch.nn.LayerNorm);
 * mean(N), rstd(N) receive the statistics for backward (either may be NULL).
 * out may alias x. */
IPF_KINTERNAL int layernorm_forward(ipf_kctx *c, float *out, float *mean, float *rstd, const float *x,
                                    const float *w, const float *b, int N, int D, float eps);
IPF_KINTERNAL void layernorm_forward_ref(float *out, float *mean, float *rstd, const float *x, const float *w,
                                         const float *b, int N, int D, float eps);
/* dx(N,D) += ..., dw(D) += ..., db(D) += ... (any may be NULL); x is the
 * forward input, mean/rstd as saved by forward. */
IPF_KINTERNAL int layernorm_backward(ipf_kctx *c, float *dx, float *dw, float *db, const float *dout,
                                     const float *x, const float *w, const float *mean, const float *rstd, int N,
                                     int D);
IPF_KINTERNAL void layernorm_backward_ref(float *dx, float *dw, float *db, const float *dout, const float *x,
                                          const float *w, const float *mean, const float *rstd, int N, int D);

/* y(n) = x * Phi(x) = 0.5 x (1 + erf(x/sqrt 2))  (torch.nn.GELU(), exact);
 * y may alias x. */
IPF_KINTERNAL int gelu_forward(ipf_kctx *c, float *y, const float *x, size_t n);
IPF_KINTERNAL void gelu_forward_ref(float *y, const float *x, size_t n);
/* dx(n) += dy * gelu'(x), x the forward input. */
IPF_KINTERNAL int gelu_backward(ipf_kctx *c, float *dx, const float *dy, const float *x, size_t n);
IPF_KINTERNAL void gelu_backward_ref(float *dx, const float *dy, const float *x, size_t n);

/* y(R,C) = softmax over each row of (scale * x + mask), mask(C) additive
 * (e.g. 0 / -inf for padding) or NULL; y may alias x.  A row whose every
 * entry is -inf gives zeros. */
IPF_KINTERNAL int softmax_forward(ipf_kctx *c, float *y, const float *x, const float *mask, float scale, int R,
                                  int C);
IPF_KINTERNAL void softmax_forward_ref(float *y, const float *x, const float *mask, float scale, int R, int C);
/* dx(R,C) += scale * y * (dy - sum(dy*y)), y the forward output. */
IPF_KINTERNAL int softmax_backward(ipf_kctx *c, float *dx, const float *dy, const float *y, float scale, int R,
                                   int C);
IPF_KINTERNAL void softmax_backward_ref(float *dx, const float *dy, const float *y, float scale, int R, int C);

/* BERT embeddings before their LayerNorm: out(T,D) = word[ids[t]] +
 * pos[t] + type[types[t]] for positions t = 0..T-1 of one sequence
 * (types NULL = all 0).  Ids are trusted: callers validate them. */
IPF_KINTERNAL int embedding_forward(ipf_kctx *c, float *out, const int32_t *ids, const int32_t *types,
                                    const float *word, const float *pos, const float *type, int T, int D);
IPF_KINTERNAL void embedding_forward_ref(float *out, const int32_t *ids, const int32_t *types, const float *word,
                                         const float *pos, const float *type, int T, int D);
/* dword(V,D), dpos(P,D), dtype(TV,D) += scatter of dout(T,D); any may be NULL. */
IPF_KINTERNAL int embedding_backward(ipf_kctx *c, float *dword, float *dpos, float *dtype, const float *dout,
                                     const int32_t *ids, const int32_t *types, int T, int D);
IPF_KINTERNAL void embedding_backward_ref(float *dword, float *dpos, float *dtype, const float *dout,
                                          const int32_t *ids, const int32_t *types, int T, int D);

/* ===== end ops: text ===== */

/* ===== ops: heads and training (owner: train) ===== */

/* ===== end ops: heads and training ===== */

#endif
