/* pool.c — 2-D max and average pooling: torch.nn.functional.max_pool2d and
 * avg_pool2d (count_include_pad=True, ceil_mode=False).
 * oneDNN: forward_inference pooling primitive per shape (plan cache), any
 * KL_* layout; OpenBLAS has nothing to add, so that backend runs the plain
 * loops of the reference (KL_NCHW only). */
#include "cnn_dnnl.h"

#include <dnnl_debug.h>
#include <float.h>
#include <stdio.h>
#include <stdlib.h>

static int pool_ctot(const kpool *p) { return p->y_ctot > 0 ? p->y_ctot : p->C; }

void pool2d_forward_ref(const kpool *p, float *y, const float *x) {
    int OH = conv2d_out_dim(p->H, p->KH, p->SH, p->PH), OW = conv2d_out_dim(p->W, p->KW, p->SW, p->PW);
    int ctot = pool_ctot(p);
    for (int n = 0; n < p->N; n++)
        for (int ch = 0; ch < p->C; ch++) {
            const float *xc = x + ((size_t)n * p->C + ch) * p->H * p->W;
            float *yc = y + ((size_t)n * ctot + p->y_c0 + ch) * OH * OW;
            for (int oh = 0; oh < OH; oh++)
                for (int ow = 0; ow < OW; ow++) {
                    double acc = 0;
                    float mx = -FLT_MAX;
                    for (int kh = 0; kh < p->KH; kh++) {
                        int ih = oh * p->SH - p->PH + kh;
                        if (ih < 0 || ih >= p->H) continue;
                        for (int kw = 0; kw < p->KW; kw++) {
                            int iw = ow * p->SW - p->PW + kw;
                            if (iw < 0 || iw >= p->W) continue;
                            float v = xc[(size_t)ih * p->W + iw];
                            acc += v;
                            if (v > mx) mx = v;
                        }
                    }
                    yc[(size_t)oh * OW + ow] = p->alg == KP_MAX ? mx : (float)(acc / (p->KH * p->KW));
                }
        }
}

typedef struct pool_plan {
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t prim;
    dnnl_memory_t src, dst, scratch;
    float *ytmp; /* output for a strided slice (N > 1), copied into place */
} pool_plan;

static void pool_plan_free(void *v) {
    pool_plan *p = v;
    if (!p) return;
    kd_prim_free(p->prim, p->pd);
    dnnl_memory_t m[] = {p->src, p->dst, p->scratch};
    kd_mems_free(m, sizeof m / sizeof m[0]);
    free(p->ytmp);
    free(p);
}

static dnnl_status_t pool_plan_build(pool_plan *pp, const kpool *p, int direct, dnnl_engine_t eng) {
    int OH = conv2d_out_dim(p->H, p->KH, p->SH, p->PH), OW = conv2d_out_dim(p->W, p->KW, p->SW, p->PW);
    dnnl_memory_desc_t smd, dmd;
    dnnl_dims_t strides = {p->SH, p->SW}, kernel = {p->KH, p->KW}, pad = {p->PH, p->PW};
    dnnl_status_t st = kd_act_md(&smd, p->N, p->C, p->H, p->W, p->layout);
    if (st == dnnl_success) st = kd_act_md(&dmd, p->N, p->C, OH, OW, p->layout);
    if (st != dnnl_success) return st;
    dnnl_pooling_desc_t pdsc;
    st = dnnl_pooling_forward_desc_init(&pdsc, dnnl_forward_inference,
                                        p->alg == KP_MAX ? dnnl_pooling_max : dnnl_pooling_avg_include_padding,
                                        &smd, &dmd, strides, kernel, pad, pad);
    if (st != dnnl_success) return st;
    dnnl_primitive_attr_t attr;
    if ((st = kd_attr(&attr, 0)) != dnnl_success) return st;
    st = dnnl_primitive_desc_create(&pp->pd, &pdsc, attr, eng, NULL);
    dnnl_primitive_attr_destroy(attr);
    if (st != dnnl_success) return st;
    if ((st = dnnl_primitive_create(&pp->prim, pp->pd)) != dnnl_success) return st;
    if ((st = kd_mem(&pp->src, &smd, eng)) != dnnl_success) return st;
    if ((st = kd_mem(&pp->dst, &dmd, eng)) != dnnl_success) return st;
    if ((st = kd_scratch_mem(&pp->scratch, pp->pd, eng)) != dnnl_success) return st;
    if (!direct && !(pp->ytmp = malloc((size_t)p->N * p->C * OH * OW * sizeof(float)))) return dnnl_out_of_memory;
    return dnnl_success;
}

static int pool2d_forward_dnnl(ipf_kctx *c, const kpool *p, float *y, const float *x) {
    int OH = conv2d_out_dim(p->H, p->KH, p->SH, p->PH), OW = conv2d_out_dim(p->W, p->KW, p->SW, p->PW);
    int ctot = pool_ctot(p), direct = kd_slice_direct(p->N, p->C, ctot);
    char key[128];
    snprintf(key, sizeof key, "pool%d:%d,%d,%d,%d:%dx%d/%d,%d+%d,%d:l%d:d%d", p->alg, p->N, p->C, p->H, p->W, p->KH,
             p->KW, p->SH, p->SW, p->PH, p->PW, p->layout, direct);
    pool_plan *pp = kctx_plan_get(c, key);
    if (!pp) {
        void *eng, *strm;
        if (kctx_dnnl(c, &eng, &strm)) return kerr(c, "pool2d: cannot create the oneDNN engine/stream");
        if (!(pp = calloc(1, sizeof *pp))) return kerr(c, "pool2d: out of memory");
        dnnl_status_t st = pool_plan_build(pp, p, direct, (dnnl_engine_t)eng);
        if (st != dnnl_success) {
            pool_plan_free(pp);
            return kerr(c, "pool2d %s: oneDNN setup failed (%s)", key, dnnl_status2str(st));
        }
        if (kctx_plan_put(c, key, pp, pool_plan_free)) return kerr(c, "pool2d: out of memory");
    }
    dnnl_memory_set_data_handle(pp->src, (void *)x);
    dnnl_memory_set_data_handle(pp->dst, direct ? y + (size_t)p->y_c0 * OH * OW : pp->ytmp);
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, pp->src}, {DNNL_ARG_DST, pp->dst}};
    if (kd_exec(c, pp->prim, pp->pd, pp->scratch, 2, args, "pool2d")) return -1;
    if (!direct) concat_channels_forward(y, ctot, p->y_c0, pp->ytmp, p->N, p->C, OH, OW);
    return 0;
}

int pool2d_forward(ipf_kctx *c, const kpool *p, float *y, const float *x) {
    int ctot = pool_ctot(p);
    if (p->N <= 0 || p->C <= 0 || p->KH <= 0 || p->KW <= 0 || p->SH <= 0 || p->SW <= 0 || p->PH < 0 ||
        p->PW < 0 || 2 * p->PH > p->KH || 2 * p->PW > p->KW || p->H + 2 * p->PH < p->KH ||
        p->W + 2 * p->PW < p->KW || p->y_c0 < 0 || p->y_c0 + p->C > ctot || (p->alg != KP_MAX && p->alg != KP_AVG))
        return kerr(c, "pool2d: invalid shape N=%d C=%d H=%d W=%d kernel %dx%d stride %d,%d pad %d,%d", p->N, p->C,
                    p->H, p->W, p->KH, p->KW, p->SH, p->SW, p->PH, p->PW);
    int b = kl_block(p->layout), blocked = b > 1;
    if (p->C % b || ctot % b || p->y_c0 % b)
        return kerr(c, "pool2d: blocked layout needs channel counts and offsets divisible by %d (C=%d)", b, p->C);
    int be = kctx_pick(c, 1, !blocked);
    if (be == KB_ONEDNN) return pool2d_forward_dnnl(c, p, y, x);
    if (blocked) return kerr(c, "pool2d: the blocked layout needs the oneDNN backend");
    pool2d_forward_ref(p, y, x);
    return 0;
}

/* ---- backward ----------------------------------------------------------- */

void pool2d_backward_ref(const kpool *p, float *dx, const float *dy, const float *x) {
    int OH = conv2d_out_dim(p->H, p->KH, p->SH, p->PH), OW = conv2d_out_dim(p->W, p->KW, p->SW, p->PW);
    int ctot = pool_ctot(p);
    float inv = 1.0f / (float)(p->KH * p->KW);
    for (int n = 0; n < p->N; n++)
        for (int ch = 0; ch < p->C; ch++) {
            const float *xc = x + ((size_t)n * p->C + ch) * p->H * p->W;
            float *dxc = dx + ((size_t)n * p->C + ch) * p->H * p->W;
            const float *dyc = dy + ((size_t)n * ctot + p->y_c0 + ch) * OH * OW;
            for (int oh = 0; oh < OH; oh++)
                for (int ow = 0; ow < OW; ow++) {
                    float g = dyc[(size_t)oh * OW + ow];
                    size_t best = (size_t)-1;
                    float mx = -FLT_MAX;
                    for (int kh = 0; kh < p->KH; kh++) {
                        int ih = oh * p->SH - p->PH + kh;
                        if (ih < 0 || ih >= p->H) continue;
                        for (int kw = 0; kw < p->KW; kw++) {
                            int iw = ow * p->SW - p->PW + kw;
                            if (iw < 0 || iw >= p->W) continue;
                            size_t i = (size_t)ih * p->W + iw;
                            if (p->alg == KP_AVG) dxc[i] += g * inv;
                            else if (best == (size_t)-1 || xc[i] > mx) {
                                mx = xc[i];
                                best = i;
                            }
                        }
                    }
                    if (p->alg == KP_MAX && best != (size_t)-1) dxc[best] += g;
                }
        }
}

int pool2d_backward(ipf_kctx *c, const kpool *p, float *dx, const float *dy, const float *x) {
    int ctot = pool_ctot(p);
    if (p->N <= 0 || p->C <= 0 || p->KH <= 0 || p->KW <= 0 || p->SH <= 0 || p->SW <= 0 || p->PH < 0 ||
        p->PW < 0 || p->H + 2 * p->PH < p->KH || p->W + 2 * p->PW < p->KW || p->y_c0 < 0 || p->y_c0 + p->C > ctot)
        return kerr(c, "pool2d backward: invalid shape N=%d C=%d H=%d W=%d", p->N, p->C, p->H, p->W);
    if (p->layout != KL_NCHW) return kerr(c, "pool2d backward: only the plain NCHW layout is supported");
    /* Memory-bound scatter: the plain loops serve every backend, one
     * (image, channel) plane per thread. */
    kpool q = *p;
    q.N = 1;
#pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < p->N; n++)
        for (int ch = 0; ch < p->C; ch++) {
            kpool r = q;
            r.C = 1;
            r.y_ctot = 1;
            r.y_c0 = 0;
            int OH = conv2d_out_dim(p->H, p->KH, p->SH, p->PH), OW = conv2d_out_dim(p->W, p->KW, p->SW, p->PW);
            size_t plane = (size_t)p->H * p->W;
            pool2d_backward_ref(&r, dx + ((size_t)n * p->C + ch) * plane,
                                dy + ((size_t)n * ctot + p->y_c0 + ch) * OH * OW, x + ((size_t)n * p->C + ch) * plane);
        }
    return 0;
}
