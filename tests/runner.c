/* runner.c — the single test runner. */
#include "test.h"

#include <sys/stat.h>

static test_case *head, **tail = &head;
int test_failed_, test_skipped_;
char test_skip_why_[512];

void test_register(test_case *t) {
    *tail = t;
    tail = &t->next;
}

int test_close_(const float *a, const float *b, size_t n, double atol, double rtol, const char *what,
                const char *file, int line) {
    size_t worst = 0, bad = 0;
    double worst_excess = -1, max_abs = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        double tol = atol + rtol * fabs((double)b[i]);
        if (!(d <= tol)) bad++;
        if (d > max_abs || d != d) max_abs = d;
        double ex = d - tol;
        if (ex > worst_excess || d != d) {
            worst_excess = ex;
            worst = i;
        }
    }
    if (bad) {
        fprintf(stderr, "    FAIL %s:%d: %s: %zu/%zu elements outside atol %g rtol %g; worst [%zu] %.9g vs %.9g (max abs %.3g)\n",
                file, line, what, bad, n, atol, rtol, worst, a[worst], b[worst], max_abs);
        test_failed_++;
        return 0;
    }
    return 1;
}

static const char *join(char *buf, size_t cap, const char *dir, const char *rel) {
    snprintf(buf, cap, "%s/%s", dir, rel);
    struct stat st;
    return stat(buf, &st) == 0 ? buf : NULL;
}

const char *test_shared_path(const char *rel) {
    static _Thread_local char buf[4096];
    const char *d = getenv("IPF_SHARED_DIR");
    return join(buf, sizeof buf, d ? d : "../shared", rel);
}

const char *test_golden_path(const char *rel) {
    static _Thread_local char buf[4096];
    const char *d = getenv("IPF_GOLDEN_DIR");
    return join(buf, sizeof buf, d ? d : "build/goldens", rel);
}

void *test_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)n + 1);
    if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        p = NULL;
    }
    fclose(f);
    if (p) {
        p[n] = 0;
        if (len) *len = (size_t)n;
    }
    return p;
}

void *test_load_npy(const char *path, int *ndim, int64_t shape[8], char *dtype) {
    size_t len;
    unsigned char *p = test_read_file(path, &len);
    if (!p || len < 10 || memcmp(p, "\x93NUMPY", 6)) {
        free(p);
        return NULL;
    }
    size_t hl, off;
    if (p[6] == 1) {
        hl = p[8] | (p[9] << 8);
        off = 10;
    } else {
        hl = p[8] | (p[9] << 8) | ((size_t)p[10] << 16) | ((size_t)p[11] << 24);
        off = 12;
    }
    char hdr[4096];
    size_t n = hl < sizeof hdr - 1 ? hl : sizeof hdr - 1;
    memcpy(hdr, p + off, n);
    hdr[n] = 0;
    int esize;
    if (strstr(hdr, "'<f4'")) { *dtype = 'f'; esize = 4; }
    else if (strstr(hdr, "'<f8'")) { *dtype = 'd'; esize = 8; }
    else if (strstr(hdr, "'<i8'")) { *dtype = 'i'; esize = 8; }
    else { free(p); return NULL; }
    if (strstr(hdr, "'fortran_order': True")) { free(p); return NULL; }
    char *s = strstr(hdr, "'shape': (");
    if (!s) { free(p); return NULL; }
    s += 10;
    *ndim = 0;
    size_t count = 1;
    while (*s && *s != ')' && *ndim < 8) {
        while (*s == ' ' || *s == ',') s++;
        if (*s == ')') break;
        shape[*ndim] = strtoll(s, &s, 10);
        count *= (size_t)shape[*ndim];
        (*ndim)++;
    }
    size_t bytes = count * (size_t)esize;
    if (off + hl + bytes > len) { free(p); return NULL; }
    void *out = malloc(bytes ? bytes : 1);
    memcpy(out, p + off + hl, bytes);
    free(p);
    return out;
}

int main(int argc, char **argv) {
    int passed = 0, failed = 0, skipped = 0;
    for (test_case *t = head; t; t = t->next) {
        if (argc > 1 && !strstr(t->name, argv[1])) continue;
        test_failed_ = 0;
        test_skipped_ = 0;
        fprintf(stderr, "[ RUN  ] %s\n", t->name);
        t->fn();
        if (test_failed_) {
            failed++;
            fprintf(stderr, "[ FAIL ] %s (%d checks failed)\n", t->name, test_failed_);
        } else if (test_skipped_) {
            skipped++;
            fprintf(stderr, "[ SKIP ] %s: %s\n", t->name, test_skip_why_);
        } else {
            passed++;
            fprintf(stderr, "[  OK  ] %s\n", t->name);
        }
    }
    printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    return failed ? 1 : 0;
}
