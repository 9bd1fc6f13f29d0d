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
/* Convolutional ops for the image encoder (owner: cnn).  Files:
 * kernels/conv2d.c, kernels/conv2d_bwd.c, kernels/pool.c, kernels/cnn_misc.c,
 * kernels/cnn_dnnl.h.
 *
 * Activation layouts: KL_NCHW is plain (N,C,H,W).  KL_BLK8 / KL_BLK16 are
 * oneDNN's nChw8c / nChw16c, (N, C/b, H, W, b), used on the oneDNN path so
 * activations stay in the blocked layout through a network; they require
 * C % b == 0.  kl_preferred_blocked() says which one this CPU's oneDNN
 * kernels want (16 with AVX-512, else 8).  In every layout the channels
 * [c0, c0+C') of one image are one contiguous run when c0 and C' are
 * multiples of the block, which is how branch outputs are written straight
 * into a concatenation ("slices" below: y_ctot is the destination's channel
 * count, y_c0 the first channel written; y_ctot 0 means the op's own output
 * channel count).  Only the oneDNN backend takes the blocked layouts;
 * OpenBLAS and the reference fail on them. */
enum { KL_NCHW = 0, KL_BLK8 = 1, KL_BLK16 = 2 };
/* Channel block of a layout: 1, 8 or 16. */
IPF_KINTERNAL int kl_block(int layout);
IPF_KINTERNAL int kl_preferred_blocked(void);

typedef struct kconv_pack kconv_pack;

/* Convolution parameters: x (N,C,H,W) * w (M,C,KH,KW) + b (M)  ->
 * y (N,M,OH,OW), OH = (H + 2PH - KH)/SH + 1 (torch.nn.functional.conv2d with
 * symmetric padding, no dilation, groups 1), ReLU fused when relu != 0. */
typedef struct kconv {
    int N, C, H, W;
    int M, KH, KW, SH, SW, PH, PW;
    int relu;
    int x_layout, y_layout;
    int y_ctot, y_c0;
    /* Weights change between calls (training): oneDNN reorders them on every
     * call instead of caching the reordered copy keyed by their address. */
    int w_volatile;
    /* Optional weights already in oneDNN's layout (conv2d_pack), shared
     * read-only by sessions; used when the primitive wants that layout. */
    const kconv_pack *wpack;
} kconv;

IPF_KINTERNAL int conv2d_out_dim(int in, int k, int s, int p);
/* y (N,y_ctot,OH,OW) slice; x (N,C,H,W); w (M,C,KH,KW); b (M) or NULL. */
IPF_KINTERNAL int conv2d_forward(ipf_kctx *c, const kconv *p, float *y, const float *x, const float *w,
                                 const float *b);
IPF_KINTERNAL void conv2d_forward_ref(const kconv *p, float *y, const float *x, const float *w, const float *b);
/* Reorder w once into the layout the oneDNN primitive for p wants (a model
 * does this at load so its sessions share one copy).  *out is NULL when no
 * reorder is needed or oneDNN is not the backend of c.  -1 on failure. */
IPF_KINTERNAL int conv2d_pack(ipf_kctx *c, const kconv *p, const float *w, kconv_pack **out);
IPF_KINTERNAL void conv2d_pack_free(kconv_pack *pk);

/* Pooling: max (torch max_pool2d) or average with padding counted in the
 * divisor (torch avg_pool2d's count_include_pad=True default), floor mode. */
enum { KP_MAX = 0, KP_AVG = 1 };
typedef struct kpool {
    int N, C, H, W;
    int KH, KW, SH, SW, PH, PW;
    int alg; /* KP_* */
    int layout;
    int y_ctot, y_c0;
} kpool;
/* y (N,y_ctot,OH,OW) slice; x (N,C,H,W); both in p->layout. */
IPF_KINTERNAL int pool2d_forward(ipf_kctx *c, const kpool *p, float *y, const float *x);
IPF_KINTERNAL void pool2d_forward_ref(const kpool *p, float *y, const float *x);

/* Global average pool (adaptive_avg_pool2d to 1x1): x (N,C,H,W) in `layout`
 * -> y (N,C) plain. */
IPF_KINTERNAL int gap_forward(ipf_kctx *c, float *y, const float *x, int N, int C, int H, int W, int layout);
IPF_KINTERNAL void gap_forward_ref(float *y, const float *x, int N, int C, int H, int W, int layout);

/* Channel concatenation (torch.cat dim 1): copy x (N,C,H,W) into channels
 * [c0, c0+C) of y (N,ctot,H,W); same layout both sides (C, c0 multiples of
 * the block for the blocked layouts).  Pure data movement, one implementation for all backends. */
IPF_KINTERNAL void concat_channels_forward(float *y, int ctot, int c0, const float *x, int N, int C, int H, int W);

/* y = max(x, 0) elementwise over n floats (y may equal x); any layout. */
IPF_KINTERNAL int relu_forward(ipf_kctx *c, float *y, const float *x, size_t n);
IPF_KINTERNAL void relu_forward_ref(float *y, const float *x, size_t n);

/* Layout conversion of (N,C,H,W) between any two KL_* (oneDNN reorder
 * on the oneDNN backend, plain C otherwise). */
IPF_KINTERNAL int layout_convert(ipf_kctx *c, float *y, int y_layout, const float *x, int x_layout, int N, int C,
                                 int H, int W);
IPF_KINTERNAL void layout_convert_ref(float *y, int y_layout, const float *x, int x_layout, int N, int C, int H,
                                      int W);

/* ---- image ops: backward (training).  Backward ADDS into dx, dw, db. ---- */

/* Gradients of conv2d_forward with the same parameters.  dy and y are the
 * forward output's slice (N,y_ctot,OH,OW) at y_c0; y (the post-ReLU output)
 * is read only when p->relu, to mask dy.  dx (N,C,H,W), dw (M,C,KH,KW),
 * db (M); any may be NULL.  KL_NCHW only.  oneDNN backward_data /
 * backward_weights on the oneDNN backend, im2col/col2im + sgemm on OpenBLAS. */
IPF_KINTERNAL int conv2d_backward(ipf_kctx *c, const kconv *p, float *dx, float *dw, float *db, const float *dy,
                                  const float *y, const float *x, const float *w);
IPF_KINTERNAL void conv2d_backward_ref(const kconv *p, float *dx, float *dw, float *db, const float *dy,
                                       const float *y, const float *x, const float *w);

/* Gradient of pool2d_forward: dy slice (N,y_ctot,OH,OW) at y_c0 -> dx
 * (N,C,H,W) +=.  Max pooling routes each gradient to the first maximum of
 * its window (as PyTorch), recomputed from x.  KL_NCHW only, plain C on
 * every backend. */
IPF_KINTERNAL int pool2d_backward(ipf_kctx *c, const kpool *p, float *dx, const float *dy, const float *x);
IPF_KINTERNAL void pool2d_backward_ref(const kpool *p, float *dx, const float *dy, const float *x);

/* dx (N,C,H,W) += dy (N,C) / (H*W), KL_NCHW. */
IPF_KINTERNAL void gap_backward(float *dx, const float *dy, int N, int C, int H, int W);
/* dx += dy where y > 0 (y the ReLU output), n floats. */
IPF_KINTERNAL void relu_backward(float *dx, const float *dy, const float *y, size_t n);

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

/* Small ops of the profiler heads (kernels/heads.c).  They are O(n) or
 * O(n*D) with tiny n, so the plain-C reference is the only path:
 * <op>_forward is <op>_forward_ref.  They cannot fail.  The heads' ReLU and
 * class softmax are the image ops' relu_forward/relu_backward and the text
 * ops' softmax_forward/softmax_backward (mask NULL, scale 1).
 * Letters: n elements, M rows, C classes, P posts, D value width, A key width. */

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
