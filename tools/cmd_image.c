/* cmd_image.c — `ipf embed-image`: Inception-v3 pool features of images
 * (DESIGN.md §5).  Public API only.
 *
 *   ipf embed-image --inception FILE [--no-transform-input] [--threads N] IMAGE...
 *       one line per image: {"image": PATH, "pool": [2048 floats]}
 *       or, when it cannot be read or decoded, {"image": PATH, "error": "..."}
 *   ipf embed-image --inception FILE [--no-transform-input] --npy X.npy
 *       X float32 (N,3,H,W) C order, already preprocessed:
 *       one line per image: {"index": i, "pool": [...]}
 * Exit status: 0 when every image was encoded, 1 when any failed (the rest
 * still run), 2 on a usage error. */
#include "ipf_tool.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POOL_DIM 2048

static void usage(void) {
    fprintf(stderr, "usage: ipf embed-image --inception FILE [--no-transform-input] [--threads N] "
                    "(IMAGE... | --npy TENSOR.npy)\n");
}

static int usage_error(const char *msg) {
    fprintf(stderr, "ipf embed-image: %s\n", msg);
    usage();
    return 2;
}

/* A JSON string literal for s (lossy for bytes that are not UTF-8). */
static char *json_quote(const char *s) {
    json_t *j = json_string(s);
    if (!j) {
        char *copy = strdup(s);
        if (!copy) return NULL;
        for (char *p = copy; *p; p++)
            if ((unsigned char)*p >= 0x80) *p = '?';
        j = json_string(copy);
        free(copy);
    }
    char *out = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
    json_decref(j);
    return out;
}

static void print_pool(const char *key, const char *value, const float *pool) {
    printf("{\"%s\": %s, \"pool\": [", key, value);
    for (int i = 0; i < POOL_DIM; i++) printf(i ? ", %.9g" : "%.9g", (double)pool[i]);
    printf("]}\n");
}

static void print_error(const char *key, const char *value, const char *msg) {
    char *m = json_quote(msg);
    printf("{\"%s\": %s, \"error\": %s}\n", key, value, m ? m : "\"error\"");
    free(m);
}

/* Read a float32 C-order 4-D .npy.  Returns the data (caller frees) or NULL
 * with a message in err. */
static float *read_npy4(const char *path, int64_t shape[4], char *err, size_t errcap) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errcap, "%s: cannot open", path);
        return NULL;
    }
    unsigned char pre[12];
    size_t hl = 0;
    char hdr[4096];
    float *data = NULL;
    if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6)) {
        snprintf(err, errcap, "%s: not a .npy file", path);
        goto fail;
    }
    if (pre[6] == 1) {
        hl = pre[8] | (size_t)pre[9] << 8;
    } else {
        if (fread(pre + 10, 1, 2, f) != 2) goto trunc;
        hl = pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
    }
    if (hl >= sizeof hdr) {
        snprintf(err, errcap, "%s: .npy header too long", path);
        goto fail;
    }
    if (fread(hdr, 1, hl, f) != hl) goto trunc;
    hdr[hl] = 0;
    if (!strstr(hdr, "'descr': '<f4'") || !strstr(hdr, "'fortran_order': False")) {
        snprintf(err, errcap, "%s: need a float32 ('<f4') C-order array", path);
        goto fail;
    }
    char *s = strstr(hdr, "'shape': (");
    int nd = 0;
    if (s) {
        s += 10;
        while (nd < 5) {
            while (*s == ' ' || *s == ',') s++;
            if (*s < '0' || *s > '9') break;
            int64_t v = strtoll(s, &s, 10);
            if (nd < 4) shape[nd] = v;
            nd++;
        }
    }
    if (nd != 4 || shape[1] != 3) {
        snprintf(err, errcap, "%s: need shape (N, 3, H, W)", path);
        goto fail;
    }
    if (shape[0] < 1 || shape[2] < 1 || shape[3] < 1 || shape[0] > (1 << 20) || shape[2] > 65536 || shape[3] > 65536) {
        snprintf(err, errcap, "%s: unreasonable shape (%lld, 3, %lld, %lld)", path, (long long)shape[0],
                 (long long)shape[2], (long long)shape[3]);
        goto fail;
    }
    size_t count = (size_t)shape[0] * 3 * (size_t)shape[2] * (size_t)shape[3];
    data = malloc(count * sizeof(float));
    if (!data) {
        snprintf(err, errcap, "%s: out of memory", path);
        goto fail;
    }
    if (fread(data, sizeof(float), count, f) != count) goto trunc;
    fclose(f);
    return data;
trunc:
    snprintf(err, errcap, "%s: truncated .npy file", path);
fail:
    free(data);
    fclose(f);
    return NULL;
}

int cmd_embed_image(int argc, char **argv) {
    const char *weights = NULL, *npy = NULL;
    int transform_input = 1, first_image = 0;
    long threads = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--inception") && i + 1 < argc) weights = argv[++i];
        else if (!strcmp(argv[i], "--npy") && i + 1 < argc) npy = argv[++i];
        else if (!strcmp(argv[i], "--no-transform-input")) transform_input = 0;
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) { long long x_; if (tool_int_arg("embed-image", "--threads", argv[++i], 1, 256, &x_)) return 2; threads = (long)x_; }
        else if (!strcmp(argv[i], "--")) {
            first_image = i + 1;
            break;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage();
            return 0;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "ipf embed-image: unknown option or missing value: %s\n", argv[i]);
            return usage_error("bad arguments");
        } else {
            first_image = i;
            break;
        }
    }
    int n_images = first_image ? argc - first_image : 0;
    if (!weights) return usage_error("--inception FILE is required");
    if (!npy && n_images == 0) return usage_error("give image paths or --npy TENSOR.npy");
    if (npy && n_images) return usage_error("give either image paths or --npy, not both");

    ipf_model *model = NULL;
    if (ipf_model_load_inception(weights, transform_input, &model)) {
        fprintf(stderr, "ipf embed-image: %s\n", ipf_last_error());
        return 1;
    }
    ipf_session *s = NULL;
    if (ipf_session_create(model, &s)) {
        fprintf(stderr, "ipf embed-image: %s\n", ipf_last_error());
        ipf_model_free(model);
        return 1;
    }
    if (threads > 0 && ipf_session_set_option(s, IPF_OPT_THREADS, threads)) {
        fprintf(stderr, "ipf embed-image: --threads: %s\n", ipf_session_error(s));
        ipf_session_free(s);
        ipf_model_free(model);
        return 2;
    }
    float pool[POOL_DIM];
    int failed = 0;
    if (npy) {
        int64_t shape[4];
        char err[512];
        float *x = read_npy4(npy, shape, err, sizeof err);
        if (!x) {
            fprintf(stderr, "ipf embed-image: %s\n", err);
            failed = 1;
        } else {
            size_t per = (size_t)3 * (size_t)shape[2] * (size_t)shape[3];
            for (int64_t i = 0; i < shape[0]; i++) {
                char idx[32];
                snprintf(idx, sizeof idx, "%lld", (long long)i);
                if (ipf_session_encode_image_tensor(s, x + (size_t)i * per, 1, (int32_t)shape[2], (int32_t)shape[3],
                                                    pool, POOL_DIM)) {
                    fprintf(stderr, "ipf embed-image: %s[%lld]: %s\n", npy, (long long)i, ipf_session_error(s));
                    print_error("index", idx, ipf_session_error(s));
                    failed = 1;
                } else {
                    print_pool("index", idx, pool);
                }
                fflush(stdout);
            }
            free(x);
        }
    } else {
        for (int i = first_image; i < argc; i++) {
            char *q = json_quote(argv[i]);
            if (ipf_session_encode_image_file(s, argv[i], pool, POOL_DIM)) {
                fprintf(stderr, "ipf embed-image: %s\n", ipf_session_error(s));
                print_error("image", q ? q : "\"?\"", ipf_session_error(s));
                failed = 1;
            } else {
                print_pool("image", q ? q : "\"?\"", pool);
            }
            free(q);
            fflush(stdout);
        }
    }
    ipf_session_free(s);
    ipf_model_free(model);
    return failed;
}
