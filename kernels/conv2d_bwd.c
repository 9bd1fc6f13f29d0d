/* conv2d_bwd.c — gradients of conv2d_forward (torch conv2d backward):
 *   g  = dy * (y > 0)            when the ReLU is fused, else dy
 *   dx += conv_transpose(g, w);  dw += g (*) x;  db += sum g.
 * Backends: oneDNN backward_data / backward_weights primitives (plain NCHW,
 * weights and gradients converted from/to oihw by oneDNN reorders),
 * OpenBLAS im2col/col2im + sgemm per image, and a double-accumulating
 * reference.  Letters as in conv2d.c. */
#include "cnn_dnnl.h"

#include <cblas.h>
#include <dnnl_debug.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int ctot_of(const kconv *p) { return p->y_ctot > 0 ? p->y_ctot : p->M; }

/* g (N,M,OH,OW) contiguous = masked dy slice. */
static void masked_grad(const kconv *p, float *g, const float *dy, const float *y, size_t ohw) {
    int ctot = ctot_of(p);
    for (int n = 0; n < p->N; n++) {
        size_t src = ((size_t)n * ctot + p->y_c0) * ohw, dst = (size_t)n * p->M * ohw, cnt = (size_t)p->M * ohw;
        if (p->relu)
            for (size_t i = 0; i < cnt; i++) g[dst + i] = y[src + i] > 0.0f ? dy[src + i] : 0.0f;
        else memcpy(g + dst, dy + src, cnt * sizeof(float));
    }
}

void conv2d_backward_ref(const kconv *p, float *dx, float *dw, float *db, const float *dy, const float *y,
                         const float *x, const float *w) {
    int OH = conv2d_out_dim(p->H, p->KH, p->SH, p->PH), OW = conv2d_out_dim(p->W, p->KW, p->SW, p->PW);
    size_t ohw = (size_t)OH * OW, nx = (size_t)p->N * p->C * p->H * p->W, nw = (size_t)p->M * p->C * p->KH * p->KW;
    float *g = malloc((size_t)p->N * p->M * ohw * sizeof(float));
    double *ax = calloc(nx, sizeof(double)), *aw = calloc(nw, sizeof(double)), *ab = calloc((size_t)p->M, sizeof(double));
    if (!g || !ax || !aw || !ab) goto done; /* reference: test-only sizes */
    masked_grad(p, g, dy, y, ohw);
    for (int n = 0; n < p->N; n++)
        for (int m = 0; m < p->M; m++)
            for (int oh = 0; oh < OH; oh++)
                for (int ow = 0; ow < OW; ow++) {
                    double gv = g[((size_t)n * p->M + m) * ohw + (size_t)oh * OW + ow];
                    ab[m] += gv;
                    for (int ch = 0; ch < p->C; ch++)
                        for (int kh = 0; kh < p->KH; kh++) {
                            int ih = oh * p->SH - p->PH + kh;
                            if (ih < 0 || ih >= p->H) continue;
                            for (int kw = 0; kw < p->KW; kw++) {
                                int iw = ow * p->SW - p->PW + kw;
                                if (iw < 0 || iw >= p->W) continue;
                                size_t xi = (((size_t)n * p->C + ch) * p->H + ih) * p->W + iw;
                                size_t wi = (((size_t)m * p->C + ch) * p->KH + kh) * p->KW + kw;
                                ax[xi] += gv * w[wi];
                                aw[wi] += gv * x[xi];
                            }
                        }
                }
    if (dx)
        for (size_t i = 0; i < nx; i++) dx[i] += (float)ax[i];
    if (dw)
        for (size_t i = 0; i < nw; i++) dw[i] += (float)aw[i];
    if (db)
        for (int m = 0; m < p->M; m++) db[m] += (float)ab[m];
done:
    free(g), free(ax), free(aw), free(ab);
}

/* ---- OpenBLAS ------------------------------------------------------------- */

static void im2col_b(float *col, const float *x, const kconv *p, int OH, int OW) {
    size_t ohw = (size_t)OH * OW;
    for (int ch = 0; ch < p->C; ch++)
        for (int kh = 0; kh < p->KH; kh++)
            for (int kw = 0; kw < p->KW; kw++) {
                float *d = col + (((size_t)ch * p->KH + kh) * p->KW + kw) * ohw;
                const float *s = x + (size_t)ch * p->H * p->W;
                for (int oh = 0; oh < OH; oh++) {
                    int ih = oh * p->SH - p->PH + kh;
                    for (int ow = 0; ow < OW; ow++) {
                        int iw = ow * p->SW - p->PW + kw;
                        d[(size_t)oh * OW + ow] =
                            (ih >= 0 && ih < p->H && iw >= 0 && iw < p->W) ? s[(size_t)ih * p->W + iw] : 0.0f;
                    }
                }
            }
}

/* dx (C,H,W) += col2im(dcol (C*KH*KW, OH*OW)). */
static void col2im_add(float *dx, const float *dcol, const kconv *p, int OH, int OW) {
    size_t ohw = (size_t)OH * OW;
#pragma omp parallel for schedule(static)
    for (int ch = 0; ch < p->C; ch++)
        for (int kh = 0; kh < p->KH; kh++)
            for (int kw = 0; kw < p->KW; kw++) {
                const float *s = dcol + (((size_t)ch * p->KH + kh) * p->KW + kw) * ohw;
                float *d = dx + (size_t)ch * p->H * p->W;
                for (int oh = 0; oh < OH; oh++) {
                    int ih = oh * p->SH - p->PH + kh;
                    if (ih < 0 || ih >= p->H) continue;
                    for (int ow = 0; ow < OW; ow++) {
                        int iw = ow * p->SW - p->PW + kw;
                        if (iw >= 0 && iw < p->W) d[(size_t)ih * p->W + iw] += s[(size_t)oh * OW + ow];
                    }
                }
            }
}

static int conv2d_backward_blas(ipf_kctx *c, const kconv *p, float *dx, float *dw, float *db, const float *dy,
                                const float *y, const float *x, const float *w) {
    int OH = conv2d_out_dim(p->H, p->KH, p->SH, p->PH), OW = conv2d_out_dim(p->W, p->KW, p->SW, p->PW);
    size_t ohw = (size_t)OH * OW, K = (size_t)p->C * p->KH * p->KW, chw = (size_t)p->C * p->H * p->W;
    int pointwise = p->KH == 1 && p->KW == 1 && p->SH == 1 && p->SW == 1 && p->PH == 0 && p->PW == 0;
    size_t gsz = (size_t)p->N * p->M * ohw, csz = pointwise ? 0 : K * ohw;
    float *g = kctx_scratch(c, (gsz + 2 * csz) * sizeof(float));
    if (!g) return kerr(c, "conv2d backward: out of memory for %zu floats of scratch", gsz + 2 * csz);
    float *col = g + gsz, *dcol = col + csz;
    masked_grad(p, g, dy, y, ohw);
    for (int n = 0; n < p->N; n++) {
        const float *gn = g + (size_t)n * p->M * ohw, *xn = x + (size_t)n * chw;
        if (dw) {
            if (!pointwise) im2col_b(col, xn, p, OH, OW);
            /* dw (M,K) += g (M,OHW) . col^T */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, p->M, (int)K, (int)ohw, 1.0f, gn, (int)ohw,
                        pointwise ? xn : col, (int)ohw, 1.0f, dw, (int)K);
        }
        if (dx) {
            float *dxn = dx + (size_t)n * chw;
            /* dcol (K,OHW) = w^T (K,M) . g (M,OHW); pointwise adds straight into dx */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, (int)ohw, p->M, 1.0f, w, (int)K, gn,
                        (int)ohw, pointwise ? 1.0f : 0.0f, pointwise ? dxn : dcol, (int)ohw);
            if (!pointwise) col2im_add(dxn, dcol, p, OH, OW);
        }
        if (db)
            for (int m = 0; m < p->M; m++) {
                const float *r = gn + (size_t)m * ohw;
                float acc = 0;
                for (size_t i = 0; i < ohw; i++) acc += r[i];
                db[m] += acc;
            }
    }
    return 0;
}

/* ---- oneDNN -------------------------------------------------------------- */

typedef struct convb_plan {
    dnnl_primitive_desc_t fwd, bd, bw; /* forward hint, backward data, backward weights */
    dnnl_primitive_t pbd, pbw;
    dnnl_memory_t g, w, dxm, x, dwm, dbm, sbd, sbw;
    float *gbuf, *dxbuf, *dwbuf, *dbbuf; /* g contiguous; outputs before adding */
} convb_plan;

static void convb_plan_free(void *v) {
    convb_plan *p = v;
    if (!p) return;
    kd_prim_free(p->pbd, p->bd);
    kd_prim_free(p->pbw, p->bw);
    kd_prim_free(NULL, p->fwd);
    dnnl_memory_t m[] = {p->g, p->w, p->dxm, p->x, p->dwm, p->dbm, p->sbd, p->sbw};
    kd_mems_free(m, sizeof m / sizeof m[0]);
    free(p->gbuf), free(p->dxbuf), free(p->dwbuf), free(p->dbbuf);
    free(p);
}

static dnnl_status_t convb_build(convb_plan *cp, const kconv *p, dnnl_engine_t eng) {
    int OH = conv2d_out_dim(p->H, p->KH, p->SH, p->PH), OW = conv2d_out_dim(p->W, p->KW, p->SW, p->PW);
    dnnl_memory_desc_t xmd, wmd, bmd, ymd;
    dnnl_dims_t wd = {p->M, p->C, p->KH, p->KW}, bd = {p->M}, st2 = {p->SH, p->SW}, pad = {p->PH, p->PW};
    dnnl_status_t st = kd_act_md(&xmd, p->N, p->C, p->H, p->W, KL_NCHW);
    if (st == dnnl_success) st = kd_act_md(&ymd, p->N, p->M, OH, OW, KL_NCHW);
    if (st == dnnl_success) st = dnnl_memory_desc_init_by_tag(&wmd, 4, wd, dnnl_f32, dnnl_oihw);
    if (st == dnnl_success) st = dnnl_memory_desc_init_by_tag(&bmd, 1, bd, dnnl_f32, dnnl_x);
    if (st != dnnl_success) return st;
    dnnl_convolution_desc_t fd, dd, wdsc;
    dnnl_primitive_attr_t attr;
    if ((st = kd_attr(&attr, 0)) != dnnl_success) return st;
    st = dnnl_convolution_forward_desc_init(&fd, dnnl_forward_training, dnnl_convolution_direct, &xmd, &wmd, &bmd,
                                            &ymd, st2, pad, pad);
    if (st == dnnl_success) st = dnnl_primitive_desc_create(&cp->fwd, &fd, attr, eng, NULL);
    if (st == dnnl_success)
        st = dnnl_convolution_backward_data_desc_init(&dd, dnnl_convolution_direct, &xmd, &wmd, &ymd, st2, pad, pad);
    if (st == dnnl_success) st = dnnl_primitive_desc_create(&cp->bd, &dd, attr, eng, cp->fwd);
    if (st == dnnl_success)
        st = dnnl_convolution_backward_weights_desc_init(&wdsc, dnnl_convolution_direct, &xmd, &wmd, &bmd, &ymd, st2,
                                                         pad, pad);
    if (st == dnnl_success) st = dnnl_primitive_desc_create(&cp->bw, &wdsc, attr, eng, cp->fwd);
    dnnl_primitive_attr_destroy(attr);
    if (st != dnnl_success) return st;
    if ((st = dnnl_primitive_create(&cp->pbd, cp->bd)) != dnnl_success) return st;
    if ((st = dnnl_primitive_create(&cp->pbw, cp->bw)) != dnnl_success) return st;
    if ((st = kd_mem(&cp->g, &ymd, eng)) || (st = kd_mem(&cp->w, &wmd, eng)) || (st = kd_mem(&cp->dxm, &xmd, eng)) ||
        (st = kd_mem(&cp->x, &xmd, eng)) || (st = kd_mem(&cp->dwm, &wmd, eng)) || (st = kd_mem(&cp->dbm, &bmd, eng)) ||
        (st = kd_scratch_mem(&cp->sbd, cp->bd, eng)) || (st = kd_scratch_mem(&cp->sbw, cp->bw, eng)))
        return st;
    cp->gbuf = malloc((size_t)p->N * p->M * OH * OW * sizeof(float));
    cp->dxbuf = malloc((size_t)p->N * p->C * p->H * p->W * sizeof(float));
    cp->dwbuf = malloc((size_t)p->M * p->C * p->KH * p->KW * sizeof(float));
    cp->dbbuf = malloc((size_t)p->M * sizeof(float));
    if (!cp->gbuf || !cp->dxbuf || !cp->dwbuf || !cp->dbbuf) return dnnl_out_of_memory;
    return dnnl_success;
}

static void add_into(float *dst, const float *src, size_t n) {
#pragma omp parallel for if (n > 65536) schedule(static)
    for (size_t i = 0; i < n; i++) dst[i] += src[i];
}

static int conv2d_backward_dnnl(ipf_kctx *c, const kconv *p, float *dx, float *dw, float *db, const float *dy,
                                const float *y, const float *x, const float *w) {
    int OH = conv2d_out_dim(p->H, p->KH, p->SH, p->PH), OW = conv2d_out_dim(p->W, p->KW, p->SW, p->PW);
    char key[160];
    snprintf(key, sizeof key, "convbwd:%d,%d,%d,%d>%d:%dx%d/%d,%d+%d,%d", p->N, p->C, p->H, p->W, p->M, p->KH, p->KW,
             p->SH, p->SW, p->PH, p->PW);
    convb_plan *cp = kctx_plan_get(c, key);
    if (!cp) {
        void *eng, *strm;
        if (kctx_dnnl(c, &eng, &strm)) return kerr(c, "conv2d backward: cannot create the oneDNN engine");
        if (!(cp = calloc(1, sizeof *cp))) return kerr(c, "conv2d backward: out of memory");
        dnnl_status_t st = convb_build(cp, p, (dnnl_engine_t)eng);
        if (st != dnnl_success) {
            convb_plan_free(cp);
            return kerr(c, "conv2d backward %s: oneDNN setup failed (%s)", key, dnnl_status2str(st));
        }
        if (kctx_plan_put(c, key, cp, convb_plan_free)) return kerr(c, "conv2d backward: out of memory");
    }
    masked_grad(p, cp->gbuf, dy, y, (size_t)OH * OW);
    dnnl_memory_set_data_handle(cp->g, cp->gbuf);
    if (dx) {
        dnnl_memory_set_data_handle(cp->w, (void *)w);
        dnnl_memory_set_data_handle(cp->dxm, cp->dxbuf);
        dnnl_exec_arg_t a[4] = {{DNNL_ARG_DIFF_DST, cp->g}, {DNNL_ARG_WEIGHTS, cp->w}, {DNNL_ARG_DIFF_SRC, cp->dxm}};
        if (kd_exec(c, cp->pbd, cp->bd, cp->sbd, 3, a, "conv2d backward data")) return -1;
        add_into(dx, cp->dxbuf, (size_t)p->N * p->C * p->H * p->W);
    }
    if (dw || db) {
        dnnl_memory_set_data_handle(cp->x, (void *)x);
        dnnl_memory_set_data_handle(cp->dwm, cp->dwbuf);
        dnnl_memory_set_data_handle(cp->dbm, cp->dbbuf);
        dnnl_exec_arg_t a[5] = {{DNNL_ARG_DIFF_DST, cp->g},
                                {DNNL_ARG_SRC, cp->x},
                                {DNNL_ARG_DIFF_WEIGHTS, cp->dwm},
                                {DNNL_ARG_DIFF_BIAS, cp->dbm}};
        if (kd_exec(c, cp->pbw, cp->bw, cp->sbw, 4, a, "conv2d backward weights")) return -1;
        if (dw) add_into(dw, cp->dwbuf, (size_t)p->M * p->C * p->KH * p->KW);
        if (db) add_into(db, cp->dbbuf, (size_t)p->M);
    }
    return 0;
}

int conv2d_backward(ipf_kctx *c, const kconv *p, float *dx, float *dw, float *db, const float *dy, const float *y,
                    const float *x, const float *w) {
    int ctot = ctot_of(p);
    if (p->N <= 0 || p->C <= 0 || p->M <= 0 || p->KH <= 0 || p->KW <= 0 || p->SH <= 0 || p->SW <= 0 ||
        p->PH < 0 || p->PW < 0 || p->H + 2 * p->PH < p->KH || p->W + 2 * p->PW < p->KW || p->y_c0 < 0 ||
        p->y_c0 + p->M > ctot)
        return kerr(c, "conv2d backward: invalid shape N=%d C=%d H=%d W=%d M=%d kernel %dx%d", p->N, p->C, p->H, p->W,
                    p->M, p->KH, p->KW);
    if (p->x_layout != KL_NCHW || p->y_layout != KL_NCHW)
        return kerr(c, "conv2d backward: only the plain NCHW layout is supported");
    if (p->relu && !y) return kerr(c, "conv2d backward: the fused ReLU needs the forward output y");
    if (!dx && !dw && !db) return 0;
    switch (kctx_pick(c, 1, 1)) {
    case KB_ONEDNN: return conv2d_backward_dnnl(c, p, dx, dw, db, dy, y, x, w);
    case KB_OPENBLAS: return conv2d_backward_blas(c, p, dx, dw, db, dy, y, x, w);
    default: conv2d_backward_ref(p, dx, dw, db, dy, y, x, w); return 0;
    }
}
