/* bench_bert.c — BERT [CLS] encoding latency through the public API.
 * usage: bench_bert BERT_DIR [threads] [reps] [BxT]
 * Runs the cases 1x16 1x32 1x64 1x128 8x32 (or only BxT, B <= 8, T <= 128)
 * and prints one JSON line per case: median and min wall ms, CPU ms. */
#include "influencer_profiler.h"

#include <stdio.h>
#include <stdlib.h>

#include "bench_util.h"

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s BERT_DIR [threads] [reps]\n", argv[0]);
        return 2;
    }
    int threads = argc > 2 ? atoi(argv[2]) : 2, reps = argc > 3 ? atoi(argv[3]) : 10;
    ipf_model *m;
    ipf_session *s;
    if (ipf_model_load_bert(argv[1], &m) || ipf_session_create(m, &s) ||
        ipf_session_set_option(s, IPF_OPT_THREADS, threads)) {
        fprintf(stderr, "bench_bert: %s\n", ipf_last_error());
        return 1;
    }
    static int cases[][2] = {{1, 16}, {1, 32}, {1, 64}, {1, 128}, {8, 32}};
    size_t ncases = sizeof cases / sizeof *cases;
    if (argc > 4) {
        if (sscanf(argv[4], "%dx%d", &cases[0][0], &cases[0][1]) != 2 || cases[0][0] < 1 || cases[0][0] > 8 ||
            cases[0][1] < 1 || cases[0][1] > 128) {
            fprintf(stderr, "bench_bert: case '%s' is not BxT with B <= 8, T <= 128\n", argv[4]);
            return 2;
        }
        ncases = 1;
    }
    static int32_t ids[8][128];
    srand(1);
    for (int b = 0; b < 8; b++)
        for (int t = 0; t < 128; t++) ids[b][t] = t == 0 ? 101 : 1000 + rand() % 29000;
    float *cls = malloc(8 * 4096 * sizeof(float));
    double *ms = malloc((size_t)reps * sizeof(double)), *cpu = malloc((size_t)reps * sizeof(double));
    for (size_t c = 0; c < ncases; c++) {
        int nb = cases[c][0], T = cases[c][1];
        const int32_t *ptr[8];
        size_t lens[8];
        for (int b = 0; b < nb; b++) ptr[b] = ids[b], lens[b] = (size_t)T;
        for (int r = -2; r < reps; r++) { /* two warm-up runs */
            double t0 = now_ms(), c0 = cpu_ms();
            if (ipf_session_encode_ids_batch(s, ptr, lens, (size_t)nb, cls, 8 * 4096)) {
                fprintf(stderr, "bench_bert: %s\n", ipf_session_error(s));
                return 1;
            }
            if (r >= 0) ms[r] = now_ms() - t0, cpu[r] = cpu_ms() - c0;
        }
        qsort(ms, (size_t)reps, sizeof *ms, cmp);
        qsort(cpu, (size_t)reps, sizeof *cpu, cmp);
        /* cpu_ms: process CPU time, a contention-robust figure (all threads summed) */
        printf("{\"impl\": \"ipf\", \"batch\": %d, \"tokens\": %d, \"threads\": %d, \"median_ms\": %.2f, \"min_ms\": %.2f, "
               "\"cpu_ms\": %.2f}\n", nb, T, threads, ms[reps / 2], ms[0], cpu[0]);
        fflush(stdout);
    }
    free(ms);
    free(cpu);
    free(cls);
    ipf_session_free(s);
    ipf_model_free(m);
    return 0;
}
