/* cnn_dnnl.h — oneDNN helpers shared by the image ops (private to kernels/). */
#ifndef IPF_CNN_DNNL_H
#define IPF_CNN_DNNL_H

#include "kernels.h"

#include <dnnl.h>

/* Format a message into c->err; returns -1 so callers can `return kerr(...)`. */
IPF_KINTERNAL int kerr(ipf_kctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* (N,C,H,W) f32 memory descriptor in a KL_* layout. */
IPF_KINTERNAL dnnl_status_t kd_act_md(dnnl_memory_desc_t *md, int N, int C, int H, int W, int layout);

/* A oneDNN memory object with no data handle yet (set before each execute). */
IPF_KINTERNAL dnnl_status_t kd_mem(dnnl_memory_t *m, const dnnl_memory_desc_t *md, dnnl_engine_t eng);

/* The scratchpad memory object of a primitive (NULL when it needs none). */
IPF_KINTERNAL dnnl_status_t kd_scratch_mem(dnnl_memory_t *m, const_dnnl_primitive_desc_t pd, dnnl_engine_t eng);

/* Primitive attributes with the user-mode scratchpad (and optional ReLU post-op). */
IPF_KINTERNAL dnnl_status_t kd_attr(dnnl_primitive_attr_t *attr, int relu);

/* Execute `prim` with nargs arguments, supplying the scratchpad (size from
 * pd) out of the context; waits for completion.  -1 with c->err on failure. */
IPF_KINTERNAL int kd_exec(ipf_kctx *c, dnnl_primitive_t prim, const_dnnl_primitive_desc_t pd,
                          dnnl_memory_t scratch_mem, int nargs, dnnl_exec_arg_t *args, const char *what);

/* Slice bookkeeping shared by ops that write into a concatenation: for a
 * one-image batch (or a full-width slice) the op writes in place at channel
 * offset c0; otherwise it writes a contiguous temporary and copies. */
IPF_KINTERNAL int kd_slice_direct(int N, int C, int ctot);

/* Plan teardown: destroy a primitive and its descriptor (either may be NULL). */
static inline void kd_prim_free(dnnl_primitive_t prim, dnnl_primitive_desc_t pd) {
    if (prim) dnnl_primitive_destroy(prim);
    if (pd) dnnl_primitive_desc_destroy(pd);
}

/* Plan teardown: destroy n memory objects (NULL entries skipped). */
static inline void kd_mems_free(dnnl_memory_t *m, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (m[i]) dnnl_memory_destroy(m[i]);
}

#endif
