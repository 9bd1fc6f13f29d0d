/* bench_image.c — time ipf_session_encode_image_tensor through the public API.
 * usage: bench_image MODEL.safetensors BATCH THREADS ITERS [H W] [BACKEND]
 * Prints one JSON line: {"batch","threads","iters","first_ms","mean_ms","min_ms","median_ms","cpu_ms"}
 * (cpu_ms: process CPU time per timed call, all threads, spin-waits included).
 * The first (warm-up) call, which builds the oneDNN plans and reorders the
 * weights, is reported separately as "first_ms". */
#include <influencer_profiler.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: %s MODEL.safetensors BATCH THREADS ITERS [H W] [onednn|openblas|ref]\n", argv[0]);
        return 2;
    }
    int batch = atoi(argv[2]), threads = atoi(argv[3]), iters = atoi(argv[4]);
    int h = argc > 6 ? atoi(argv[5]) : 299, w = argc > 6 ? atoi(argv[6]) : 299;
    int backend = IPF_BACKEND_AUTO;
    if (argc > 7) backend = !strcmp(argv[7], "onednn") ? IPF_BACKEND_ONEDNN : !strcmp(argv[7], "openblas") ? IPF_BACKEND_OPENBLAS : IPF_BACKEND_REF;
    if (batch < 1 || threads < 1 || iters < 1) return 2;
    ipf_model *m;
    if (ipf_model_load_inception(argv[1], 1, &m)) {
        fprintf(stderr, "load: %s\n", ipf_last_error());
        return 1;
    }
    ipf_session *s;
    if (ipf_session_create(m, &s) || ipf_session_set_option(s, IPF_OPT_THREADS, threads) ||
        ipf_session_set_option(s, IPF_OPT_BACKEND, backend)) {
        fprintf(stderr, "session: %s\n", ipf_last_error());
        return 1;
    }
    size_t nx = (size_t)batch * 3 * h * w;
    float *x = malloc(nx * sizeof(float)), *pool = malloc((size_t)batch * 2048 * sizeof(float));
    srand(1);
    for (size_t i = 0; i < nx; i++) x[i] = (float)rand() / RAND_MAX * 2.0f - 1.0f;
    double t0 = now_ms();
    if (ipf_session_encode_image_tensor(s, x, batch, h, w, pool, (size_t)batch * 2048)) {
        fprintf(stderr, "encode: %s\n", ipf_session_error(s));
        return 1;
    }
    double first = now_ms() - t0;
    double *t = malloc(sizeof(double) * iters), sum = 0, c0 = cpu_ms();
    for (int i = 0; i < iters; i++) {
        t0 = now_ms();
        ipf_session_encode_image_tensor(s, x, batch, h, w, pool, (size_t)batch * 2048);
        t[i] = now_ms() - t0;
        sum += t[i];
    }
    double cpu = (cpu_ms() - c0) / iters;
    qsort(t, iters, sizeof(double), cmp);
    printf("{\"batch\": %d, \"threads\": %d, \"iters\": %d, \"first_ms\": %.2f, \"mean_ms\": %.2f, \"min_ms\": %.2f, "
           "\"median_ms\": %.2f, \"cpu_ms\": %.2f}\n",
           batch, threads, iters, first, sum / iters, t[0], t[iters / 2], cpu);
    ipf_session_free(s);
    ipf_model_free(m);
    free(x), free(pool), free(t);
    return 0;
}
