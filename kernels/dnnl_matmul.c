/* dnnl_matmul.c — one oneDNN matmul helper for the text ops (linear layers,
 * attention): any strided, optionally batched C = alpha * A.B [+ bias] [+ C].
 * Primitives are created once per shape and kept in the session's plan
 * cache with their memory objects (data handles set per call); the
 * scratchpad is user-mode, from the kernel context. */
#include "kernels.h"

#include <dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct klinear_packed {
    dnnl_memory_desc_t md; /* (K,N) weights in the blocked layout */
    void *data;
    size_t bytes;
    char sig[96];          /* layout signature for plan keys */
};

typedef struct mm_plan {
    dnnl_primitive_t prim;
    dnnl_memory_t a, b, bias, c, scratch;
    size_t scratch_bytes;
} mm_plan;

static void mm_plan_free(void *p) {
    mm_plan *m = p;
    if (!m) return;
    if (m->prim) dnnl_primitive_destroy(m->prim);
    dnnl_memory_t mems[5] = {m->a, m->b, m->bias, m->c, m->scratch};
    for (int i = 0; i < 5; i++)
        if (mems[i]) dnnl_memory_destroy(mems[i]);
    free(m);
}

static int md_strided(dnnl_memory_desc_t *md, int nd, const int64_t *dims, const int64_t *strides) {
    dnnl_dims_t d, s;
    for (int i = 0; i < nd; i++) d[i] = dims[i], s[i] = strides[i];
    return dnnl_memory_desc_init_by_strides(md, nd, d, dnnl_f32, s) == dnnl_success ? 0 : -1;
}

static mm_plan *mm_plan_build(ipf_kctx *c, const kmm_desc *d, const char *key) {
    void *eng, *str;
    if (kctx_dnnl(c, &eng, &str)) return NULL;
    int nd = d->nb > 1 ? 3 : 2;
    int64_t ad[3], bd[3], cd[3], zd[3] = {1, 1, d->N}, as[3], bs[3], cs[3], zs[3] = {d->N, d->N, 1};
    int o = nd == 3;
    if (o) {
        ad[0] = bd[0] = cd[0] = d->nb;
        as[0] = d->sa[0], bs[0] = d->sb[0], cs[0] = d->sc[0];
    }
    ad[o] = d->M, ad[o + 1] = d->K, as[o] = d->sa[1], as[o + 1] = d->sa[2];
    bd[o] = d->K, bd[o + 1] = d->N, bs[o] = d->sb[1], bs[o + 1] = d->sb[2];
    cd[o] = d->M, cd[o + 1] = d->N, cs[o] = d->sc[1], cs[o + 1] = d->sc[2];
    dnnl_memory_desc_t amd, bmd, cmd, zmd;
    if (md_strided(&amd, nd, ad, as) || md_strided(&cmd, nd, cd, cs) ||
        md_strided(&zmd, nd, zd + (3 - nd), zs + (3 - nd)))
        return NULL;
    if (d->packed) bmd = d->packed->md;
    else if (md_strided(&bmd, nd, bd, bs)) return NULL;
    dnnl_matmul_desc_t desc;
    if (dnnl_matmul_desc_init(&desc, &amd, &bmd, d->has_bias ? &zmd : NULL, &cmd) != dnnl_success) return NULL;
    dnnl_primitive_attr_t attr;
    if (dnnl_primitive_attr_create(&attr) != dnnl_success) return NULL;
    dnnl_post_ops_t po = NULL;
    int ok = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user) == dnnl_success;
    if (ok && d->alpha != 1.0f) ok = dnnl_primitive_attr_set_output_scales(attr, 1, 0, &d->alpha) == dnnl_success;
    if (ok && (d->accumulate || d->gelu)) {
        ok = dnnl_post_ops_create(&po) == dnnl_success &&
             (!d->accumulate || dnnl_post_ops_append_sum(po, 1.0f) == dnnl_success) &&
             (!d->gelu || dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_gelu_erf, 0, 0) == dnnl_success) &&
             dnnl_primitive_attr_set_post_ops(attr, po) == dnnl_success;
    }
    dnnl_primitive_desc_t pd = NULL;
    if (ok) ok = dnnl_primitive_desc_create(&pd, &desc, attr, (dnnl_engine_t)eng, NULL) == dnnl_success;
    if (po) dnnl_post_ops_destroy(po);
    dnnl_primitive_attr_destroy(attr);
    if (!ok) return NULL;
    mm_plan *m = calloc(1, sizeof *m);
    const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    ok = m && dnnl_primitive_create(&m->prim, pd) == dnnl_success &&
         dnnl_memory_create(&m->a, &amd, (dnnl_engine_t)eng, DNNL_MEMORY_NONE) == dnnl_success &&
         dnnl_memory_create(&m->b, &bmd, (dnnl_engine_t)eng, DNNL_MEMORY_NONE) == dnnl_success &&
         dnnl_memory_create(&m->c, &cmd, (dnnl_engine_t)eng, DNNL_MEMORY_NONE) == dnnl_success &&
         (!d->has_bias || dnnl_memory_create(&m->bias, &zmd, (dnnl_engine_t)eng, DNNL_MEMORY_NONE) == dnnl_success) &&
         (!smd || dnnl_memory_create(&m->scratch, smd, (dnnl_engine_t)eng, DNNL_MEMORY_NONE) == dnnl_success);
    if (ok && smd) m->scratch_bytes = dnnl_memory_desc_get_size(smd);
    dnnl_primitive_desc_destroy(pd);
    if (!ok) {
        mm_plan_free(m);
        return NULL;
    }
    if (kctx_plan_put(c, key, m, mm_plan_free)) return NULL;
    return m;
}

int kdnnl_matmul(ipf_kctx *c, const kmm_desc *d, const float *A, const float *B, const float *bias, float *C) {
    char key[384];
    snprintf(key, sizeof key, "mm:%d,%d,%d,%d|%lld,%lld,%lld|%lld,%lld,%lld|%lld,%lld,%lld|%a,%d,%d,%d|%s", d->nb,
             d->M, d->N, d->K, (long long)d->sa[0], (long long)d->sa[1], (long long)d->sa[2],
             (long long)d->sb[0], (long long)d->sb[1], (long long)d->sb[2], (long long)d->sc[0],
             (long long)d->sc[1], (long long)d->sc[2], (double)d->alpha, d->accumulate, d->has_bias, d->gelu,
             d->packed ? d->packed->sig : "");
    mm_plan *m = kctx_plan_get(c, key);
    if (!m && !(m = mm_plan_build(c, d, key))) {
        snprintf(c->err, sizeof c->err, "oneDNN matmul %dx%dx%d (batch %d) could not be created", d->M, d->N, d->K,
                 d->nb);
        return -1;
    }
    void *sp = NULL;
    if (m->scratch && m->scratch_bytes && !(sp = kctx_scratch(c, m->scratch_bytes))) {
        snprintf(c->err, sizeof c->err, "out of memory for a oneDNN scratchpad of %zu bytes", m->scratch_bytes);
        return -1;
    }
    dnnl_memory_set_data_handle(m->a, (void *)A);
    dnnl_memory_set_data_handle(m->b, d->packed ? d->packed->data : (void *)B);
    dnnl_memory_set_data_handle(m->c, C);
    dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, m->a}, {DNNL_ARG_WEIGHTS, m->b}, {DNNL_ARG_DST, m->c}};
    int na = 3;
    if (m->bias) {
        dnnl_memory_set_data_handle(m->bias, (void *)bias);
        args[na++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, m->bias};
    }
    if (m->scratch) {
        dnnl_memory_set_data_handle(m->scratch, sp);
        args[na++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, m->scratch};
    }
    if (dnnl_primitive_execute(m->prim, (dnnl_stream_t)c->dnnl_stream, na, args) != dnnl_success ||
        dnnl_stream_wait((dnnl_stream_t)c->dnnl_stream) != dnnl_success) {
        snprintf(c->err, sizeof c->err, "oneDNN matmul %dx%dx%d (batch %d) failed to run", d->M, d->N, d->K, d->nb);
        return -1;
    }
    return 0;
}

/* Pack with a temporary engine and stream: the result is plain memory that
 * any session's primitives read. */
klinear_packed *linear_pack(const float *W, int K, int N) {
    dnnl_engine_t eng = NULL;
    dnnl_stream_t str = NULL;
    klinear_packed *p = NULL;
    dnnl_primitive_desc_t pd = NULL, rpd = NULL;
    dnnl_primitive_t reorder = NULL;
    dnnl_memory_t src = NULL, dst = NULL;
    if (dnnl_engine_create(&eng, dnnl_cpu, 0) != dnnl_success) return NULL;
    if (dnnl_stream_create(&str, eng, dnnl_stream_default_flags) != dnnl_success) goto done;
    /* Ask a representative matmul (M = 64) for its preferred weight layout. */
    dnnl_memory_desc_t amd, wany, wplain, cmd;
    dnnl_dims_t ad = {64, K}, wd = {K, N}, cd = {64, N}, ws = {1, K};
    if (dnnl_memory_desc_init_by_tag(&amd, 2, ad, dnnl_f32, dnnl_ab) != dnnl_success ||
        dnnl_memory_desc_init_by_tag(&wany, 2, wd, dnnl_f32, dnnl_format_tag_any) != dnnl_success ||
        dnnl_memory_desc_init_by_strides(&wplain, 2, wd, dnnl_f32, ws) != dnnl_success ||
        dnnl_memory_desc_init_by_tag(&cmd, 2, cd, dnnl_f32, dnnl_ab) != dnnl_success)
        goto done;
    dnnl_matmul_desc_t desc;
    if (dnnl_matmul_desc_init(&desc, &amd, &wany, NULL, &cmd) != dnnl_success ||
        dnnl_primitive_desc_create(&pd, &desc, NULL, eng, NULL) != dnnl_success)
        goto done;
    const dnnl_memory_desc_t *wmd = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    if (!wmd || wmd->format_kind != dnnl_blocked) goto done;
    p = calloc(1, sizeof *p);
    if (!p) goto done;
    p->md = *wmd;
    p->bytes = dnnl_memory_desc_get_size(wmd);
    p->data = aligned_alloc(64, (p->bytes + 63) & ~(size_t)63);
    const dnnl_blocking_desc_t *bd = &wmd->format_desc.blocking;
    int o = snprintf(p->sig, sizeof p->sig, "%lld,%lld", (long long)bd->strides[0], (long long)bd->strides[1]);
    for (int i = 0; i < bd->inner_nblks && o < (int)sizeof p->sig; i++)
        o += snprintf(p->sig + o, sizeof p->sig - (size_t)o, ",%lld%c", (long long)bd->inner_blks[i],
                      'a' + (int)bd->inner_idxs[i]);
    int ok = p->data && dnnl_memory_create(&src, &wplain, eng, (void *)W) == dnnl_success &&
             dnnl_memory_create(&dst, wmd, eng, p->data) == dnnl_success &&
             dnnl_reorder_primitive_desc_create(&rpd, &wplain, eng, wmd, eng, NULL) == dnnl_success &&
             dnnl_primitive_create(&reorder, rpd) == dnnl_success;
    if (ok) {
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}};
        ok = dnnl_primitive_execute(reorder, str, 2, args) == dnnl_success && dnnl_stream_wait(str) == dnnl_success;
    }
    if (!ok) {
        linear_pack_free(p);
        p = NULL;
    }
done:
    if (reorder) dnnl_primitive_destroy(reorder);
    if (rpd) dnnl_primitive_desc_destroy(rpd);
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (src) dnnl_memory_destroy(src);
    if (dst) dnnl_memory_destroy(dst);
    if (str) dnnl_stream_destroy(str);
    dnnl_engine_destroy(eng);
    return p;
}

void linear_pack_free(klinear_packed *p) {
    if (!p) return;
    free(p->data);
    free(p);
}

size_t linear_pack_bytes(const klinear_packed *p) { return p ? p->bytes : 0; }
