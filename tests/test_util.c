/* test_util.c — helpers shared by several tests (see test_util.h); no tests here. */
#include "test_util.h"

#include "test.h"

float tu_frand(uint64_t *state) {
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((*state >> 40) * (1.0 / 16777216.0)) * 2.0f - 1.0f;
}

float *tu_rand_buf(uint64_t *state, size_t n) {
    float *p = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) p[i] = tu_frand(state);
    return p;
}

void tu_ctx_for(ipf_kctx *c, int backend) {
    kctx_init(c);
    c->backend = backend;
    c->nthreads = 2;
    kctx_apply_threads(c);
}

float *tu_golden_f32(const char *rel, size_t want) {
    const char *p = test_golden_path(rel);
    if (!p) return NULL;
    int nd;
    int64_t shape[8];
    char dt;
    float *a = test_load_npy(p, &nd, shape, &dt);
    size_t n = 1;
    for (int i = 0; a && i < nd; i++) n *= (size_t)shape[i];
    if (a && (dt != 'f' || (want && n != want))) {
        free(a);
        return NULL;
    }
    return a;
}

ipf_model *tu_load_e2e_bundle(char *dir, size_t dircap) {
    const char *d = test_golden_path("profiler_e2e");
    if (!d) {
        FAILF("golden profiler_e2e missing (run make gen)");
        return NULL;
    }
    char bundle[2100];
    snprintf(dir, dircap, "%s", d);
    snprintf(bundle, sizeof bundle, "%s/bundle", dir);
    ipf_model *m = NULL;
    if (ipf_model_load(bundle, &m)) {
        FAILF("load %s: %s", bundle, ipf_last_error());
        return NULL;
    }
    return m;
}
