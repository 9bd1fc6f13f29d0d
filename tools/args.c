/* args.c — strict numeric option values for the ipf subcommands: the whole
 * string must parse and lie in range, else a message naming the option. */
#include "ipf_tool.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int tool_int_arg(const char *cmd, const char *opt, const char *s, long long lo, long long hi, long long *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno || v < lo || v > hi) {
        fprintf(stderr, "ipf %s: %s needs an integer in [%lld, %lld], got '%s'\n", cmd, opt, lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

int tool_float_arg(const char *cmd, const char *opt, const char *s, float *out) {
    char *end;
    errno = 0;
    float v = strtof(s, &end);
    if (!*s || *end || errno || !isfinite(v)) {
        fprintf(stderr, "ipf %s: %s needs a finite number, got '%s'\n", cmd, opt, s);
        return -1;
    }
    *out = v;
    return 0;
}
