/* cnn_misc.c — small image ops: global average pool, channel concat, ReLU,
 * layout conversion, and the oneDNN helpers of cnn_dnnl.h. */
#include "cnn_dnnl.h"

#include <dnnl_debug.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int kerr(ipf_kctx *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof c->err, fmt, ap);
    va_end(ap);
    return -1;
}

int kl_block(int layout) { return layout == KL_BLK16 ? 16 : layout == KL_BLK8 ? 8 : 1; }

int kl_preferred_blocked(void) {
    /* oneDNN's own dispatch (honours DNNL_MAX_CPU_ISA): its AVX-512 kernels
     * run on 16-channel blocks, the AVX2 ones on 8. */
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    return (isa & dnnl_cpu_isa_avx512_core) == dnnl_cpu_isa_avx512_core ? KL_BLK16 : KL_BLK8;
}

dnnl_status_t kd_act_md(dnnl_memory_desc_t *md, int N, int C, int H, int W, int layout) {
    dnnl_dims_t d = {N, C, H, W};
    return dnnl_memory_desc_init_by_tag(md, 4, d, dnnl_f32,
                                        layout == KL_BLK16 ? dnnl_nChw16c : layout == KL_BLK8 ? dnnl_nChw8c : dnnl_nchw);
}

/* Offset of element (n, ch, i) (i the spatial index) of an (N,C,HW) tensor. */
static size_t act_off(int layout, int n, int ch, size_t i, int C, size_t hw) {
    size_t b = (size_t)kl_block(layout);
    return (((size_t)n * (C / b) + ch / b) * hw + i) * b + ch % b;
}

dnnl_status_t kd_mem(dnnl_memory_t *m, const dnnl_memory_desc_t *md, dnnl_engine_t eng) {
    return dnnl_memory_create(m, md, eng, DNNL_MEMORY_NONE);
}

dnnl_status_t kd_scratch_mem(dnnl_memory_t *m, const_dnnl_primitive_desc_t pd, dnnl_engine_t eng) {
    const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    *m = NULL;
    if (!md || dnnl_memory_desc_get_size(md) == 0) return dnnl_success;
    return kd_mem(m, md, eng);
}

dnnl_status_t kd_attr(dnnl_primitive_attr_t *attr, int relu) {
    dnnl_status_t st = dnnl_primitive_attr_create(attr);
    if (st != dnnl_success) return st;
    st = dnnl_primitive_attr_set_scratchpad_mode(*attr, dnnl_scratchpad_mode_user);
    if (st == dnnl_success && relu) {
        dnnl_post_ops_t po;
        st = dnnl_post_ops_create(&po);
        if (st == dnnl_success) {
            st = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f);
            if (st == dnnl_success) st = dnnl_primitive_attr_set_post_ops(*attr, po);
            dnnl_post_ops_destroy(po);
        }
    }
    if (st != dnnl_success) dnnl_primitive_attr_destroy(*attr);
    return st;
}

int kd_exec(ipf_kctx *c, dnnl_primitive_t prim, const_dnnl_primitive_desc_t pd, dnnl_memory_t scratch_mem,
            int nargs, dnnl_exec_arg_t *args, const char *what) {
    void *eng, *strm;
    if (kctx_dnnl(c, &eng, &strm)) return kerr(c, "%s: cannot create the oneDNN engine/stream", what);
    const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    size_t sbytes = smd ? dnnl_memory_desc_get_size(smd) : 0;
    if (sbytes && scratch_mem) {
        void *sp = kctx_scratch(c, sbytes);
        if (!sp) return kerr(c, "%s: out of memory for a %zu-byte scratchpad", what, sbytes);
        dnnl_memory_set_data_handle(scratch_mem, sp);
        args[nargs].arg = DNNL_ARG_SCRATCHPAD;
        args[nargs].memory = scratch_mem;
        nargs++;
    }
    dnnl_status_t st = dnnl_primitive_execute(prim, (dnnl_stream_t)strm, nargs, args);
    if (st == dnnl_success) st = dnnl_stream_wait((dnnl_stream_t)strm);
    if (st != dnnl_success) return kerr(c, "%s: oneDNN execute failed (%s)", what, dnnl_status2str(st));
    return 0;
}

int kd_slice_direct(int N, int C, int ctot) { return N == 1 || C == ctot; }

/* ---- global average pool ---------------------------------------------- */

void gap_forward_ref(float *y, const float *x, int N, int C, int H, int W, int layout) {
    size_t hw = (size_t)H * W;
    for (int n = 0; n < N; n++)
        for (int ch = 0; ch < C; ch++) {
            double acc = 0;
            for (size_t i = 0; i < hw; i++) {
                acc += x[act_off(layout, n, ch, i, C, hw)];
            }
            y[(size_t)n * C + ch] = (float)(acc / (double)hw);
        }
}

int gap_forward(ipf_kctx *c, float *y, const float *x, int N, int C, int H, int W, int layout) {
    int b = kl_block(layout);
    if (C % b) return kerr(c, "gap: blocked layout needs C %% %d == 0 (C=%d)", b, C);
    size_t hw = (size_t)H * W;
    float inv = 1.0f / (float)hw;
    if (b > 1) {
        /* Accumulate a block of channels at a time along the contiguous inner block. */
        for (int n = 0; n < N; n++)
            for (int cb = 0; cb < C / b; cb++) {
                const float *p = x + ((size_t)n * (C / b) + cb) * hw * b;
                float acc[16] = {0};
                for (size_t i = 0; i < hw; i++)
                    for (int j = 0; j < b; j++) acc[j] += p[i * b + j];
                for (int j = 0; j < b; j++) y[(size_t)n * C + cb * b + j] = acc[j] * inv;
            }
    } else {
        for (size_t r = 0; r < (size_t)N * C; r++) {
            const float *p = x + r * hw;
            float acc = 0;
            for (size_t i = 0; i < hw; i++) acc += p[i];
            y[r] = acc * inv;
        }
    }
    return 0;
}

/* ---- concat ------------------------------------------------------------ */

void concat_channels_forward(float *y, int ctot, int c0, const float *x, int N, int C, int H, int W) {
    size_t hw = (size_t)H * W, run = (size_t)C * hw;
    for (int n = 0; n < N; n++)
        memcpy(y + ((size_t)n * ctot + c0) * hw, x + (size_t)n * run, run * sizeof(float));
}

/* ---- ReLU ---------------------------------------------------------------- */

void relu_forward_ref(float *y, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

int relu_forward(ipf_kctx *c, float *y, const float *x, size_t n) {
    /* Memory-bound and trivially vectorised by the compiler: one loop for all
     * backends (oneDNN's eltwise would add a primitive per size for nothing). */
    (void)c;
#pragma omp parallel for if (n > 65536) schedule(static)
    for (size_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
    return 0;
}

/* ---- layout conversion --------------------------------------------------- */

void layout_convert_ref(float *y, int y_layout, const float *x, int x_layout, int N, int C, int H, int W) {
    size_t hw = (size_t)H * W;
    for (int n = 0; n < N; n++)
        for (int ch = 0; ch < C; ch++)
            for (size_t i = 0; i < hw; i++) {
                y[act_off(y_layout, n, ch, i, C, hw)] = x[act_off(x_layout, n, ch, i, C, hw)];
            }
}

typedef struct reorder_plan {
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t prim;
    dnnl_memory_t src, dst, scratch;
} reorder_plan;

static void reorder_plan_free(void *v) {
    reorder_plan *p = v;
    if (!p) return;
    kd_prim_free(p->prim, p->pd);
    dnnl_memory_t m[] = {p->src, p->dst, p->scratch};
    kd_mems_free(m, sizeof m / sizeof m[0]);
    free(p);
}

int layout_convert(ipf_kctx *c, float *y, int y_layout, const float *x, int x_layout, int N, int C, int H, int W) {
    if (C % kl_block(y_layout) || C % kl_block(x_layout))
        return kerr(c, "layout_convert: blocked layout needs C divisible by its block (C=%d)", C);
    if (y_layout == x_layout) {
        memmove(y, x, (size_t)N * C * H * W * sizeof(float));
        return 0;
    }
    if (kctx_pick(c, 1, 0) != KB_ONEDNN) {
        layout_convert_ref(y, y_layout, x, x_layout, N, C, H, W);
        return 0;
    }
    char key[96];
    snprintf(key, sizeof key, "reorder:%d,%d,%d,%d:%d>%d", N, C, H, W, x_layout, y_layout);
    reorder_plan *p = kctx_plan_get(c, key);
    if (!p) {
        void *eng, *strm;
        if (kctx_dnnl(c, &eng, &strm)) return kerr(c, "layout_convert: cannot create the oneDNN engine");
        p = calloc(1, sizeof *p);
        if (!p) return kerr(c, "layout_convert: out of memory");
        dnnl_memory_desc_t smd, dmd;
        dnnl_primitive_attr_t attr = NULL;
        dnnl_status_t st = kd_act_md(&smd, N, C, H, W, x_layout);
        if (st == dnnl_success) st = kd_act_md(&dmd, N, C, H, W, y_layout);
        if (st == dnnl_success) st = kd_attr(&attr, 0);
        if (st == dnnl_success) st = dnnl_reorder_primitive_desc_create(&p->pd, &smd, eng, &dmd, eng, attr);
        if (attr) dnnl_primitive_attr_destroy(attr);
        if (st == dnnl_success) st = dnnl_primitive_create(&p->prim, p->pd);
        if (st == dnnl_success) st = kd_mem(&p->src, &smd, eng);
        if (st == dnnl_success) st = kd_mem(&p->dst, &dmd, eng);
        if (st == dnnl_success) st = kd_scratch_mem(&p->scratch, p->pd, eng);
        if (st != dnnl_success) {
            reorder_plan_free(p);
            return kerr(c, "layout_convert: oneDNN reorder setup failed for %s (%s)", key, dnnl_status2str(st));
        }
        if (kctx_plan_put(c, key, p, reorder_plan_free)) return kerr(c, "layout_convert: out of memory");
    }
    dnnl_memory_set_data_handle(p->src, (void *)x);
    dnnl_memory_set_data_handle(p->dst, y);
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, p->src}, {DNNL_ARG_DST, p->dst}};
    return kd_exec(c, p->prim, p->pd, p->scratch, 2, args, "layout_convert");
}

/* ---- backward ------------------------------------------------------------ */

void gap_backward(float *dx, const float *dy, int N, int C, int H, int W) {
    size_t hw = (size_t)H * W;
    float inv = 1.0f / (float)hw;
    for (size_t r = 0; r < (size_t)N * C; r++) {
        float g = dy[r] * inv;
        float *d = dx + r * hw;
        for (size_t i = 0; i < hw; i++) d[i] += g;
    }
}

void relu_backward(float *dx, const float *dy, const float *y, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (y[i] > 0.0f) dx[i] += dy[i];
}
