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

/* ===== end ops: heads and training ===== */

#endif
