/* conv2d.c — 2-D convolution, torch.nn.functional.conv2d (groups 1, no
 * dilation, symmetric zero padding) with optional bias and fused ReLU.
 *
 * Backends:
 *   oneDNN  — forward_inference primitive per shape, cached in the session's
 *             plan cache; activations in KL_NCHW or blocked (nChw8c/16c);
 *             weights described with format_tag_any and reordered into
 *             oneDNN's blocked layout: once per model when it passes a
 *             conv2d_pack (kconv.wpack), else once per session, cached by
 *             address (the model is immutable after load, so the address
 *             identifies the weights; kconv.w_volatile turns the cache off
 *             for training).
 *   OpenBLAS — im2col + sgemm per image (1x1 stride-1 convs skip im2col).
 *   ref     — direct loops accumulating in double, the test oracle.
 * Letters: N batch, C input channels, H/W input size, M output channels,
 * KH/KW kernel, SH/SW stride, PH/PW padding, OH/OW output size. */
#include "cnn_dnnl.h"

#include <cblas.h>
#include <dnnl_debug.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int conv2d_out_dim(int in, int k, int s, int p) { return (in + 2 * p - k) / s + 1; }

static int conv_ctot(const kconv *p) { return p->y_ctot > 0 ? p->y_ctot : p->M; }

void conv2d_forward_ref(const kconv *p, float *y, const float *x, const float *w, const float *b) {
    int OH = conv2d_out_dim(p->H, p->KH, p->SH, p->PH), OW = conv2d_out_dim(p->W, p->KW, p->SW, p->PW);
    int ctot = conv_ctot(p);
    for (int n = 0; n < p->N; n++)
        for (int m = 0; m < p->M; m++)
            for (int oh = 0; oh < OH; oh++)
                for (int ow = 0; ow < OW; ow++) {
                    double acc = b ? b[m] : 0.0; /* double: the oracle should not share float rounding */
                    for (int ch = 0; ch < p->C; ch++)
                        for (int kh = 0; kh < p->KH; kh++) {
                            int ih = oh * p->SH - p->PH + kh;
                            if (ih < 0 || ih >= p->H) continue;
                            for (int kw = 0; kw < p->KW; kw++) {
                                int iw = ow * p->SW - p->PW + kw;
                                if (iw < 0 || iw >= p->W) continue;
                                acc += (double)x[(((size_t)n * p->C + ch) * p->H + ih) * p->W + iw] *
                                       w[(((size_t)m * p->C + ch) * p->KH + kh) * p->KW + kw];
                            }
                        }
                    if (p->relu && acc < 0) acc = 0;
                    y[(((size_t)n * ctot + p->y_c0 + m) * OH + oh) * OW + ow] = (float)acc;
                }
}

/* ---- OpenBLAS: im2col + sgemm ------------------------------------------- */

/* col (C*KH*KW, OH*OW) from one image x (C,H,W). */
static void im2col(float *col, const float *x, const kconv *p, int OH, int OW) {
    size_t ohw = (size_t)OH * OW;
#pragma omp parallel for collapse(2) schedule(static)
    for (int ch = 0; ch < p->C; ch++)
        for (int kh = 0; kh < p->KH; kh++)
            for (int kw = 0; kw < p->KW; kw++) {
                float *dst = col + (((size_t)ch * p->KH + kh) * p->KW + kw) * ohw;
                const float *src = x + (size_t)ch * p->H * p->W;
                for (int oh = 0; oh < OH; oh++) {
                    int ih = oh * p->SH - p->PH + kh;
                    float *d = dst + (size_t)oh * OW;
                    if (ih < 0 || ih >= p->H) {
                        memset(d, 0, sizeof(float) * (size_t)OW);
                        continue;
                    }
                    const float *s = src + (size_t)ih * p->W;
                    for (int ow = 0; ow < OW; ow++) {
                        int iw = ow * p->SW - p->PW + kw;
                        d[ow] = (iw >= 0 && iw < p->W) ? s[iw] : 0.0f;
                    }
                }
            }
}

static int conv2d_forward_blas(ipf_kctx *c, const kconv *p, float *y, const float *x, const float *w,
                               const float *b) {
    int OH = conv2d_out_dim(p->H, p->KH, p->SH, p->PH), OW = conv2d_out_dim(p->W, p->KW, p->SW, p->PW);
    size_t ohw = (size_t)OH * OW, K = (size_t)p->C * p->KH * p->KW;
    int pointwise = p->KH == 1 && p->KW == 1 && p->SH == 1 && p->SW == 1 && p->PH == 0 && p->PW == 0;
    float *col = NULL;
    if (!pointwise) {
        col = kctx_scratch(c, K * ohw * sizeof(float));
        if (!col) return kerr(c, "conv2d: out of memory for a %zux%zu im2col buffer", K, ohw);
    }
    int ctot = conv_ctot(p);
    for (int n = 0; n < p->N; n++) {
        const float *xn = x + (size_t)n * p->C * p->H * p->W;
        float *yn = y + ((size_t)n * ctot + p->y_c0) * ohw; /* (M, OH*OW), contiguous */
        if (!pointwise) im2col(col, xn, p, OH, OW);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, p->M, (int)ohw, (int)K, 1.0f, w, (int)K,
                    pointwise ? xn : col, (int)ohw, 0.0f, yn, (int)ohw);
        if (b || p->relu) {
#pragma omp parallel for schedule(static)
            for (int m = 0; m < p->M; m++) {
                float *r = yn + (size_t)m * ohw, bm = b ? b[m] : 0.0f;
                for (size_t i = 0; i < ohw; i++) {
                    float v = r[i] + bm;
                    r[i] = (p->relu && v < 0.0f) ? 0.0f : v;
                }
            }
        }
    }
    return 0;
}

/* ---- oneDNN ---------------------------------------------------------------- */

typedef struct conv_plan {
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t prim;
    dnnl_memory_t src, wei, bias, dst, scratch;
    /* weights reorder from the user's oihw to the primitive's layout */
    int w_reorder;
    dnnl_primitive_desc_t rpd;
    dnnl_primitive_t rprim;
    dnnl_memory_t rsrc, rscratch;
    const dnnl_memory_desc_t *wmd; /* inside pd */
    size_t wbytes;
    float *wbuf;  /* reordered volatile weights */
    float *ytmp;  /* output for a strided slice (N > 1), copied into place */
} conv_plan;

static void conv_plan_free(void *v) {
    conv_plan *p = v;
    if (!p) return;
    kd_prim_free(p->prim, p->pd);
    kd_prim_free(p->rprim, p->rpd);
    dnnl_memory_t mems[] = {p->src, p->wei, p->bias, p->dst, p->scratch, p->rsrc, p->rscratch};
    kd_mems_free(mems, sizeof mems / sizeof mems[0]);
    free(p->wbuf);
    free(p->ytmp);
    free(p);
}

/* Reordered weights cached per session by the address of the user's weights:
 * a list, since primitives of different shapes may want different layouts. */
typedef struct wcache {
    dnnl_memory_desc_t md;
    float *buf;
    struct wcache *next;
} wcache;

static void wcache_free(void *v) {
    wcache *w = v;
    while (w) {
        wcache *n = w->next;
        free(w->buf);
        free(w);
        w = n;
    }
}

static dnnl_status_t conv_plan_build(conv_plan *cp, const kconv *p, int has_bias, int direct, dnnl_engine_t eng) {
    int OH = conv2d_out_dim(p->H, p->KH, p->SH, p->PH), OW = conv2d_out_dim(p->W, p->KW, p->SW, p->PW);
    dnnl_memory_desc_t smd, wmd, bmd, dmd, uwmd;
    dnnl_dims_t wd = {p->M, p->C, p->KH, p->KW}, bd = {p->M};
    dnnl_dims_t strides = {p->SH, p->SW}, pad = {p->PH, p->PW};
    dnnl_status_t st = kd_act_md(&smd, p->N, p->C, p->H, p->W, p->x_layout);
    if (st == dnnl_success) st = kd_act_md(&dmd, p->N, p->M, OH, OW, p->y_layout);
    if (st == dnnl_success) st = dnnl_memory_desc_init_by_tag(&wmd, 4, wd, dnnl_f32, dnnl_format_tag_any);
    if (st == dnnl_success) st = dnnl_memory_desc_init_by_tag(&uwmd, 4, wd, dnnl_f32, dnnl_oihw);
    if (st == dnnl_success) st = dnnl_memory_desc_init_by_tag(&bmd, 1, bd, dnnl_f32, dnnl_x);
    if (st != dnnl_success) return st;
    dnnl_convolution_desc_t cd;
    st = dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct, &smd, &wmd,
                                            has_bias ? &bmd : NULL, &dmd, strides, pad, pad);
    if (st != dnnl_success) return st;
    dnnl_primitive_attr_t attr;
    if ((st = kd_attr(&attr, p->relu)) != dnnl_success) return st;
    st = dnnl_primitive_desc_create(&cp->pd, &cd, attr, eng, NULL);
    dnnl_primitive_attr_destroy(attr);
    if (st != dnnl_success) return st;
    if ((st = dnnl_primitive_create(&cp->prim, cp->pd)) != dnnl_success) return st;
    cp->wmd = dnnl_primitive_desc_query_md(cp->pd, dnnl_query_weights_md, 0);
    cp->wbytes = dnnl_memory_desc_get_size(cp->wmd);
    cp->w_reorder = !dnnl_memory_desc_equal(cp->wmd, &uwmd);
    if ((st = kd_mem(&cp->src, &smd, eng)) != dnnl_success) return st;
    if ((st = kd_mem(&cp->wei, cp->wmd, eng)) != dnnl_success) return st;
    if (has_bias && (st = kd_mem(&cp->bias, &bmd, eng)) != dnnl_success) return st;
    if ((st = kd_mem(&cp->dst, &dmd, eng)) != dnnl_success) return st;
    if ((st = kd_scratch_mem(&cp->scratch, cp->pd, eng)) != dnnl_success) return st;
    if (cp->w_reorder) {
        if ((st = kd_attr(&attr, 0)) != dnnl_success) return st;
        st = dnnl_reorder_primitive_desc_create(&cp->rpd, &uwmd, eng, cp->wmd, eng, attr);
        dnnl_primitive_attr_destroy(attr);
        if (st != dnnl_success) return st;
        if ((st = dnnl_primitive_create(&cp->rprim, cp->rpd)) != dnnl_success) return st;
        if ((st = kd_mem(&cp->rsrc, &uwmd, eng)) != dnnl_success) return st;
        if ((st = kd_scratch_mem(&cp->rscratch, cp->rpd, eng)) != dnnl_success) return st;
    }
    if (!direct) {
        cp->ytmp = malloc((size_t)p->N * p->M * OH * OW * sizeof(float));
        if (!cp->ytmp) return dnnl_out_of_memory;
    }
    return dnnl_success;
}

/* Reorder user weights w (oihw) into dst (the primitive's layout). */
static int conv_reorder_weights(ipf_kctx *c, conv_plan *cp, const float *w, float *dst) {
    dnnl_memory_set_data_handle(cp->rsrc, (void *)w);
    dnnl_memory_set_data_handle(cp->wei, dst);
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_FROM, cp->rsrc}, {DNNL_ARG_TO, cp->wei}};
    return kd_exec(c, cp->rprim, cp->rpd, cp->rscratch, 2, args, "conv2d weights reorder");
}

/* The weights in the primitive's layout: w itself, a per-call reorder
 * (volatile weights) or the session's cached copy. */
struct kconv_pack {
    dnnl_memory_desc_t md;
    float *data;
};

void conv2d_pack_free(kconv_pack *pk) {
    if (!pk) return;
    free(pk->data);
    free(pk);
}

static const float *conv_weights(ipf_kctx *c, conv_plan *cp, const kconv *p, const float *w) {
    if (!cp->w_reorder) return w;
    if (p->wpack && dnnl_memory_desc_equal(&p->wpack->md, cp->wmd)) return p->wpack->data;
    if (p->w_volatile) {
        if (!cp->wbuf && !(cp->wbuf = aligned_alloc(64, (cp->wbytes + 63) & ~(size_t)63))) {
            kerr(c, "conv2d: out of memory for reordered weights");
            return NULL;
        }
        return conv_reorder_weights(c, cp, w, cp->wbuf) ? NULL : cp->wbuf;
    }
    char key[64];
    snprintf(key, sizeof key, "convw:%p", (const void *)w);
    wcache *head = kctx_plan_get(c, key), *e;
    for (e = head; e; e = e->next)
        if (dnnl_memory_desc_equal(&e->md, cp->wmd)) return e->buf;
    e = calloc(1, sizeof *e);
    if (e) e->buf = aligned_alloc(64, (cp->wbytes + 63) & ~(size_t)63);
    if (!e || !e->buf) {
        wcache_free(e);
        kerr(c, "conv2d: out of memory for reordered weights");
        return NULL;
    }
    e->md = *cp->wmd;
    if (conv_reorder_weights(c, cp, w, e->buf)) {
        wcache_free(e);
        return NULL;
    }
    if (head) {
        e->next = head->next;
        head->next = e;
    } else if (kctx_plan_put(c, key, e, wcache_free)) {
        kerr(c, "conv2d: out of memory");
        return NULL;
    }
    return e->buf;
}

static conv_plan *conv_plan_for(ipf_kctx *c, const kconv *p, int has_bias, int direct) {
    char key[160];
    snprintf(key, sizeof key, "conv:%d,%d,%d,%d>%d:%dx%d/%d,%d+%d,%d:r%d:l%d%d:b%d:d%d", p->N, p->C, p->H, p->W,
             p->M, p->KH, p->KW, p->SH, p->SW, p->PH, p->PW, p->relu, p->x_layout, p->y_layout, has_bias, direct);
    conv_plan *cp = kctx_plan_get(c, key);
    if (cp) return cp;
    void *eng, *strm;
    if (kctx_dnnl(c, &eng, &strm)) {
        kerr(c, "conv2d: cannot create the oneDNN engine/stream");
        return NULL;
    }
    if (!(cp = calloc(1, sizeof *cp))) {
        kerr(c, "conv2d: out of memory");
        return NULL;
    }
    dnnl_status_t st = conv_plan_build(cp, p, has_bias, direct, (dnnl_engine_t)eng);
    if (st != dnnl_success) {
        conv_plan_free(cp);
        kerr(c, "conv2d %s: oneDNN setup failed (%s)", key, dnnl_status2str(st));
        return NULL;
    }
    if (kctx_plan_put(c, key, cp, conv_plan_free)) {
        kerr(c, "conv2d: out of memory");
        return NULL;
    }
    return cp;
}

int conv2d_pack(ipf_kctx *c, const kconv *p, const float *w, kconv_pack **out) {
    *out = NULL;
    if (kctx_pick(c, 1, 1) != KB_ONEDNN) return 0;
    conv_plan *cp = conv_plan_for(c, p, 1, 1);
    if (!cp) return -1;
    if (!cp->w_reorder) return 0;
    kconv_pack *pk = calloc(1, sizeof *pk);
    if (pk) pk->data = aligned_alloc(64, (cp->wbytes + 63) & ~(size_t)63);
    if (!pk || !pk->data) {
        conv2d_pack_free(pk);
        return kerr(c, "conv2d: out of memory packing weights");
    }
    pk->md = *cp->wmd;
    if (conv_reorder_weights(c, cp, w, pk->data)) {
        conv2d_pack_free(pk);
        return -1;
    }
    *out = pk;
    return 0;
}

static int conv2d_forward_dnnl(ipf_kctx *c, const kconv *p, float *y, const float *x, const float *w,
                               const float *b) {
    int OH = conv2d_out_dim(p->H, p->KH, p->SH, p->PH), OW = conv2d_out_dim(p->W, p->KW, p->SW, p->PW);
    int ctot = conv_ctot(p), direct = kd_slice_direct(p->N, p->M, ctot);
    conv_plan *cp = conv_plan_for(c, p, b != NULL, direct);
    if (!cp) return -1;
    const float *wk = conv_weights(c, cp, p, w);
    if (!wk) return -1;
    float *dst = direct ? y + (size_t)p->y_c0 * OH * OW : cp->ytmp;
    dnnl_memory_set_data_handle(cp->src, (void *)x);
    dnnl_memory_set_data_handle(cp->wei, (void *)wk);
    dnnl_memory_set_data_handle(cp->dst, dst);
    dnnl_exec_arg_t args[6] = {{DNNL_ARG_SRC, cp->src}, {DNNL_ARG_WEIGHTS, cp->wei}, {DNNL_ARG_DST, cp->dst}};
    int nargs = 3;
    if (b) {
        dnnl_memory_set_data_handle(cp->bias, (void *)b);
        args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, cp->bias};
    }
    if (kd_exec(c, cp->prim, cp->pd, cp->scratch, nargs, args, "conv2d")) return -1;
    if (!direct) concat_channels_forward(y, ctot, p->y_c0, cp->ytmp, p->N, p->M, OH, OW);
    return 0;
}

int conv2d_forward(ipf_kctx *c, const kconv *p, float *y, const float *x, const float *w, const float *b) {
    int ctot = conv_ctot(p);
    if (p->N <= 0 || p->C <= 0 || p->M <= 0 || p->KH <= 0 || p->KW <= 0 || p->SH <= 0 || p->SW <= 0 ||
        p->PH < 0 || p->PW < 0 || p->H + 2 * p->PH < p->KH || p->W + 2 * p->PW < p->KW || p->y_c0 < 0 ||
        p->y_c0 + p->M > ctot)
        return kerr(c, "conv2d: invalid shape N=%d C=%d H=%d W=%d M=%d kernel %dx%d stride %d,%d pad %d,%d", p->N,
                    p->C, p->H, p->W, p->M, p->KH, p->KW, p->SH, p->SW, p->PH, p->PW);
    int xb = kl_block(p->x_layout), yb = kl_block(p->y_layout), blocked = xb > 1 || yb > 1;
    if (p->C % xb || p->M % yb || ctot % yb || p->y_c0 % yb)
        return kerr(c, "conv2d: blocked layout needs channel counts and offsets divisible by the block (C=%d M=%d)",
                    p->C, p->M);
    int be = kctx_pick(c, 1, !blocked);
    if (be == KB_ONEDNN) return conv2d_forward_dnnl(c, p, y, x, w, b);
    if (blocked) return kerr(c, "conv2d: the blocked layout needs the oneDNN backend");
    if (be == KB_OPENBLAS) return conv2d_forward_blas(c, p, y, x, w, b);
    conv2d_forward_ref(p, y, x, w, b);
    return 0;
}
