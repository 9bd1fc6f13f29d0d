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

/* ===== end ops: text ===== */

/* ===== ops: heads and training (owner: train) ===== */

/* Small element-wise and per-row ops of the profiler heads (kernels/heads.c).
 * They are O(n) or O(n*D) with tiny n, so the plain-C reference is the only
 * path: <op>_forward is <op>_forward_ref.  They cannot fail.  relu and
 * softmax carry a vec_ prefix: these are the context-free vector forms; the
 * image and text ops have their own relu_forward / softmax_forward.
 * Letters: n elements, M rows, C classes, P posts, D value width, A key width. */

/* y = max(x, 0)   (torch.relu); y may alias x. */
IPF_KINTERNAL void vec_relu_forward(float *y, const float *x, size_t n);
IPF_KINTERNAL void vec_relu_forward_ref(float *y, const float *x, size_t n);
/* dx += dy * (y > 0), from the forward OUTPUT y (so in-place forward is fine). */
IPF_KINTERNAL void vec_relu_backward(float *dx, const float *dy, const float *y, size_t n);
IPF_KINTERNAL void vec_relu_backward_ref(float *dx, const float *dy, const float *y, size_t n);

/* y = tanh(x)   (torch.tanh); y may alias x. */
IPF_KINTERNAL void tanh_forward(float *y, const float *x, size_t n);
IPF_KINTERNAL void tanh_forward_ref(float *y, const float *x, size_t n);
/* dx += dy * (1 - y^2), from the forward output y. */
IPF_KINTERNAL void tanh_backward(float *dx, const float *dy, const float *y, size_t n);
IPF_KINTERNAL void tanh_backward_ref(float *dx, const float *dy, const float *y, size_t n);

/* Attention pooling (DESIGN.md §1): s_i = <r_i, rc>, alpha = softmax_i(s),
 * h = sum_i alpha_i v_i.   r (P,A), rc (A), v (P,D) -> alpha (P), h (D).
 * P >= 1. */
IPF_KINTERNAL void attpool_forward(float *h, float *alpha, const float *v, const float *r, const float *rc, int P,
                                   int D, int A);
IPF_KINTERNAL void attpool_forward_ref(float *h, float *alpha, const float *v, const float *r, const float *rc,
                                       int P, int D, int A);
/* From dh (D) and the forward's alpha:  dv (P,D) += alpha_i dh;
 * dr (P,A) += ds_i rc;  drc (A) += sum_i ds_i r_i, where
 * ds_i = alpha_i (<dh, v_i> - sum_j alpha_j <dh, v_j>).  Any of dv, dr, drc may be NULL. */
IPF_KINTERNAL void attpool_backward(float *dv, float *dr, float *drc, const float *dh, const float *alpha,
                                    const float *v, const float *r, const float *rc, int P, int D, int A);
IPF_KINTERNAL void attpool_backward_ref(float *dv, float *dr, float *drc, const float *dh, const float *alpha,
                                        const float *v, const float *r, const float *rc, int P, int D, int A);

/* Row-wise softmax (torch.softmax(x, dim=-1)): x (M,C) -> p (M,C); p may alias x. */
IPF_KINTERNAL void vec_softmax_forward(float *p, const float *x, int M, int C);
IPF_KINTERNAL void vec_softmax_forward_ref(float *p, const float *x, int M, int C);
/* dx += p * (dp - <dp, p>) per row, from the forward output p. */
IPF_KINTERNAL void vec_softmax_backward(float *dx, const float *dp, const float *p, int M, int C);
IPF_KINTERNAL void vec_softmax_backward_ref(float *dx, const float *dp, const float *p, int M, int C);

/* Softmax cross-entropy, mean over labelled rows
 * (torch.nn.functional.cross_entropy with ignore_index): logits (M,C),
 * labels (M), a negative label marks an unlabelled row (skipped).  Writes
 * probs (M,C) (softmax of every row, labelled or not) and *loss (0 when no
 * row is labelled).  Returns the number of labelled rows, or -1 when a label
 * is >= C (nothing written to *loss then). */
IPF_KINTERNAL int xent_forward(float *loss, float *probs, const float *logits, const int32_t *labels, int M, int C);
IPF_KINTERNAL int xent_forward_ref(float *loss, float *probs, const float *logits, const int32_t *labels, int M,
                                   int C);
/* dlogits (M,C) += dloss * (probs - onehot(label)) / n_labelled on labelled
 * rows (unlabelled rows get nothing).  Labels as validated by the forward. */
IPF_KINTERNAL void xent_backward(float *dlogits, float dloss, const float *probs, const int32_t *labels, int M,
                                 int C);
IPF_KINTERNAL void xent_backward_ref(float *dlogits, float dloss, const float *probs, const int32_t *labels, int M,
                                     int C);

/* Inverted dropout with a given mask (torch.nn.functional.dropout, training):
 * y = x * mask / (1 - p), mask[i] in {0,1} drawn by the caller with keep
 * probability 1-p; p in [0,1) (p >= 1 gives y = 0).  y may alias x. */
IPF_KINTERNAL void dropout_forward(float *y, const float *x, const uint8_t *mask, float p, size_t n);
IPF_KINTERNAL void dropout_forward_ref(float *y, const float *x, const uint8_t *mask, float p, size_t n);
/* dx += dy * mask / (1 - p). */
IPF_KINTERNAL void dropout_backward(float *dx, const float *dy, const uint8_t *mask, float p, size_t n);
IPF_KINTERNAL void dropout_backward_ref(float *dx, const float *dy, const uint8_t *mask, float p, size_t n);

/* ===== end ops: heads and training ===== */

#endif
