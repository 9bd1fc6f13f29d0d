/* kctx.c — per-session kernel context: oneDNN engine/stream, scratchpad,
 * plan cache and thread counts. */
#include "kernels.h"

#include <dnnl.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* OpenBLAS (OpenMP build) thread control; declared here to avoid pulling
 * cblas.h into every file. */
extern void openblas_set_num_threads(int);

struct kplan {
    char *key;
    void *plan;
    void (*destroy)(void *);
    kplan *next;
};

void kctx_init(ipf_kctx *c) {
    memset(c, 0, sizeof *c);
    c->nthreads = 1;
}

void kctx_destroy(ipf_kctx *c) {
    kplan *p = c->plans;
    while (p) {
        kplan *n = p->next;
        if (p->destroy) p->destroy(p->plan);
        free(p->key);
        free(p);
        p = n;
    }
    c->plans = NULL;
    if (c->dnnl_stream) dnnl_stream_destroy((dnnl_stream_t)c->dnnl_stream);
    if (c->dnnl_engine) dnnl_engine_destroy((dnnl_engine_t)c->dnnl_engine);
    c->dnnl_stream = c->dnnl_engine = NULL;
    free(c->scratch);
    c->scratch = NULL;
    c->scratch_cap = 0;
}

void kctx_apply_threads(ipf_kctx *c) {
    int n = c->nthreads > 0 ? c->nthreads : 1;
    omp_set_num_threads(n); /* this thread's nthreads-var: what oneDNN uses */
    openblas_set_num_threads(n);
}

int kctx_dnnl(ipf_kctx *c, void **engine, void **stream) {
    if (!c->dnnl_engine) {
        dnnl_engine_t e;
        if (dnnl_engine_create(&e, dnnl_cpu, 0) != dnnl_success) return -1;
        c->dnnl_engine = e;
    }
    if (!c->dnnl_stream) {
        dnnl_stream_t s;
        if (dnnl_stream_create(&s, (dnnl_engine_t)c->dnnl_engine, dnnl_stream_default_flags) != dnnl_success)
            return -1;
        c->dnnl_stream = s;
    }
    *engine = c->dnnl_engine;
    *stream = c->dnnl_stream;
    return 0;
}

void *kctx_scratch(ipf_kctx *c, size_t bytes) {
    if (bytes <= c->scratch_cap && c->scratch) return c->scratch;
    size_t cap = (bytes + 63) & ~(size_t)63;
    if (cap < 64) cap = 64;
    void *p = aligned_alloc(64, cap);
    if (!p) return NULL;
    free(c->scratch);
    c->scratch = p;
    c->scratch_cap = cap;
    return p;
}

void *kctx_plan_get(ipf_kctx *c, const char *key) {
    for (kplan *p = c->plans; p; p = p->next)
        if (!strcmp(p->key, key)) return p->plan;
    return NULL;
}

int kctx_plan_put(ipf_kctx *c, const char *key, void *plan, void (*destroy)(void *)) {
    kplan *p = malloc(sizeof *p);
    char *k = p ? strdup(key) : NULL;
    if (!p || !k) {
        free(p);
        if (destroy) destroy(plan);
        return -1;
    }
    p->key = k;
    p->plan = plan;
    p->destroy = destroy;
    p->next = c->plans;
    c->plans = p;
    return 0;
}

int kctx_pick(const ipf_kctx *c, int has_onednn, int has_openblas) {
    switch (c->backend) {
    case KB_REF: return KB_REF;
    case KB_OPENBLAS: return has_openblas ? KB_OPENBLAS : KB_REF;
    case KB_ONEDNN: return has_onednn ? KB_ONEDNN : (has_openblas ? KB_OPENBLAS : KB_REF);
    default: return has_onednn ? KB_ONEDNN : (has_openblas ? KB_OPENBLAS : KB_REF);
    }
}
