/* bench_util.h — timing helpers shared by the C benchmarks (header-only). */
#ifndef IPF_BENCH_UTIL_H
#define IPF_BENCH_UTIL_H

#include <time.h>

/* Wall-clock milliseconds (monotonic). */
static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* Process CPU milliseconds, all threads. */
static double cpu_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* qsort comparator for doubles, ascending. */
static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

#endif
