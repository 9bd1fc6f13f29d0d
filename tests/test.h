/* test.h — the one test runner's macros.  Each tests/test_*.c defines tests
 * with TEST(name) { ... }; they register themselves and build/test_runner runs
 * them all (or those whose name contains argv[1]).  A failed check prints the
 * expression, file, line and both values and marks the test failed; the run
 * exits non-zero if any test failed.  SKIP("why") ends a test as skipped. */
#ifndef IPF_TEST_H
#define IPF_TEST_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct test_case {
    const char *name;
    void (*fn)(void);
    struct test_case *next;
} test_case;

void test_register(test_case *t);
extern int test_failed_;  /* checks failed in the current test */
extern int test_skipped_; /* current test skipped */
extern char test_skip_why_[512];

#define TEST(name)                                                                                   \
    static void test_fn_##name(void);                                                                \
    static test_case test_case_##name = {#name, test_fn_##name, 0};                                  \
    __attribute__((constructor)) static void test_reg_##name(void) { test_register(&test_case_##name); } \
    static void test_fn_##name(void)

#define FAILF(...)                                                                                   \
    do {                                                                                             \
        fprintf(stderr, "    FAIL %s:%d: ", __FILE__, __LINE__);                                      \
        fprintf(stderr, __VA_ARGS__);                                                                \
        fprintf(stderr, "\n");                                                                       \
        test_failed_++;                                                                              \
    } while (0)

#define CHECK(cond)                                                                                  \
    do {                                                                                             \
        if (!(cond)) FAILF("CHECK(%s)", #cond);                                                      \
    } while (0)

/* Fatal variant: stop this test on failure. */
#define REQUIRE(cond)                                                                                \
    do {                                                                                             \
        if (!(cond)) {                                                                               \
            FAILF("REQUIRE(%s)", #cond);                                                             \
            return;                                                                                  \
        }                                                                                            \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                           \
    do {                                                                                             \
        long long a_ = (long long)(a), b_ = (long long)(b);                                          \
        if (a_ != b_) FAILF("CHECK_EQ_INT(%s, %s): %lld != %lld", #a, #b, a_, b_);                   \
    } while (0)

#define CHECK_STR_EQ(a, b)                                                                           \
    do {                                                                                             \
        const char *a_ = (a), *b_ = (b);                                                             \
        if (!a_ || !b_ || strcmp(a_, b_)) FAILF("CHECK_STR_EQ(%s, %s): \"%s\" != \"%s\"", #a, #b,     \
                                                a_ ? a_ : "(null)", b_ ? b_ : "(null)");             \
    } while (0)

/* Status check that prints the message the library left. */
#define CHECK_OK(expr, errmsg)                                                                       \
    do {                                                                                             \
        int st_ = (int)(expr);                                                                       \
        if (st_ != 0) FAILF("CHECK_OK(%s): status %d: %s", #expr, st_, (errmsg));                    \
    } while (0)

/* |a-b| <= atol + rtol*|b| for every element; reports the worst element. */
int test_close_(const float *a, const float *b, size_t n, double atol, double rtol, const char *what,
                const char *file, int line);
#define CHECK_CLOSE(a, b, n, atol, rtol) test_close_((a), (b), (n), (atol), (rtol), #a " vs " #b, __FILE__, __LINE__)

#define SKIP(...)                                                                                    \
    do {                                                                                             \
        snprintf(test_skip_why_, sizeof test_skip_why_, __VA_ARGS__);                                \
        test_skipped_ = 1;                                                                           \
        return;                                                                                      \
    } while (0)

/* Paths: IPF_SHARED_DIR (default ../shared) for shared/data, and
 * IPF_GOLDEN_DIR (default build/goldens) for generated goldens.  The
 * returned string is static per call site use; copy if kept. */
const char *test_shared_path(const char *rel); /* NULL when absent */
const char *test_golden_path(const char *rel); /* NULL when absent */
/* Read a whole file; NULL if missing.  Caller frees. */
void *test_read_file(const char *path, size_t *len);
/* Load a .npy float32/int64 array written by numpy (C order).  Returns data
 * (caller frees) and fills shape/ndim; NULL on failure. */
void *test_load_npy(const char *path, int *ndim, int64_t shape[8], char *dtype /* 'f','d','i' */);

#endif
