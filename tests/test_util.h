/* test_util.h — helpers shared by several tests/test_*.c (tests/test_util.c). */
#ifndef IPF_TEST_UTIL_H
#define IPF_TEST_UTIL_H

#include "influencer_profiler.h"
#include "kernels.h"

#include <stddef.h>
#include <stdint.h>

/* Deterministic uniform floats in [-1, 1) from a caller-owned 64-bit LCG
 * state (each test file keeps its own seed). */
float tu_frand(uint64_t *state);
/* malloc'd n floats of tu_frand (free() them). */
float *tu_rand_buf(uint64_t *state, size_t n);

/* Kernel context for one backend (KB_*), 2 threads. */
void tu_ctx_for(ipf_kctx *c, int backend);

/* A float32 golden .npy (path relative to the golden dir), malloc'd; NULL when
 * missing, not float32, or (want > 0) not holding exactly want elements. */
float *tu_golden_f32(const char *rel, size_t want);

/* The end-to-end bundle of tests/gen/profiler_e2e.py: copies the golden
 * directory (images next to bundle/) into dir and returns the loaded model;
 * NULL after a FAILF when the golden is missing or does not load. */
ipf_model *tu_load_e2e_bundle(char *dir, size_t dircap);

#endif
