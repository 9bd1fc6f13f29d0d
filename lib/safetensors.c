/* safetensors.c — strict mmap reader and atomic writer for safetensors. */
#include "safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define ST_MAX_HEADER (100u << 20)

typedef struct st_conv {
    float *data;
    struct st_conv *next;
} st_conv;

struct st_file {
    char *path;
    void *map;
    size_t map_len;
    const unsigned char *data; /* start of the data area */
    size_t data_len;
    st_tensor *t;
    size_t n;
    char **meta; /* key, value pairs */
    size_t nmeta;
    st_conv *convs;
};

static const struct {
    const char *name;
    st_dtype dt;
    size_t size;
} DTYPES[] = {{"F32", ST_F32, 4}, {"F16", ST_F16, 2}, {"BF16", ST_BF16, 2}, {"F64", ST_F64, 8},
              {"I64", ST_I64, 8}, {"I32", ST_I32, 4}, {"I16", ST_I16, 2}, {"I8", ST_I8, 1},
              {"U8", ST_U8, 1},   {"BOOL", ST_BOOL, 1}};

static size_t dtype_size(st_dtype dt) {
    for (size_t i = 0; i < sizeof DTYPES / sizeof DTYPES[0]; i++)
        if (DTYPES[i].dt == dt) return DTYPES[i].size;
    return 0;
}

static const char *dtype_name(st_dtype dt) {
    for (size_t i = 0; i < sizeof DTYPES / sizeof DTYPES[0]; i++)
        if (DTYPES[i].dt == dt) return DTYPES[i].name;
    return "?";
}

void st_close(st_file *f) {
    if (!f) return;
    for (size_t i = 0; i < f->n; i++) free((char *)f->t[i].name);
    free(f->t);
    for (size_t i = 0; i < 2 * f->nmeta; i++) free(f->meta[i]);
    free(f->meta);
    for (st_conv *c = f->convs, *nx; c; c = nx) {
        nx = c->next;
        free(c->data);
        free(c);
    }
    if (f->map) munmap(f->map, f->map_len);
    free(f->path);
    free(f);
}

static int cmp_offset(const void *a, const void *b) {
    const st_tensor *x = a, *y = b;
    const unsigned char *px = x->data, *py = y->data;
    if (px != py) return px < py ? -1 : 1;
    return x->nbytes < y->nbytes ? -1 : x->nbytes > y->nbytes;
}

/* Parse one tensor entry; on error fills e and returns the status. */
static ipf_status parse_entry(st_file *f, const char *name, json_t *v, st_tensor *t, ipf_err *e) {
    const char *p = f->path;
    if (!json_is_object(v)) return ipf_fail(e, IPF_ERR_FORMAT, "%s: tensor '%s': entry is not a JSON object", p, name);
    json_t *jd = json_object_get(v, "dtype"), *js = json_object_get(v, "shape"), *jo = json_object_get(v, "data_offsets");
    if (!json_is_string(jd)) return ipf_fail(e, IPF_ERR_FORMAT, "%s: tensor '%s': field 'dtype' missing or not a string", p, name);
    size_t esize = 0;
    for (size_t i = 0; i < sizeof DTYPES / sizeof DTYPES[0]; i++)
        if (!strcmp(json_string_value(jd), DTYPES[i].name)) {
            t->dtype = DTYPES[i].dt;
            esize = DTYPES[i].size;
        }
    if (!esize)
        return ipf_fail(e, IPF_ERR_FORMAT, "%s: tensor '%s': field 'dtype': unknown dtype '%s'", p, name,
                        json_string_value(jd));
    if (!json_is_array(js)) return ipf_fail(e, IPF_ERR_FORMAT, "%s: tensor '%s': field 'shape' missing or not an array", p, name);
    if (json_array_size(js) > ST_MAX_DIMS)
        return ipf_fail(e, IPF_ERR_FORMAT, "%s: tensor '%s': field 'shape': %zu dims, at most %d supported", p, name,
                        json_array_size(js), ST_MAX_DIMS);
    t->ndim = (int)json_array_size(js);
    size_t count = 1;
    for (int d = 0; d < t->ndim; d++) {
        json_t *x = json_array_get(js, (size_t)d);
        if (!json_is_integer(x) || json_integer_value(x) < 0)
            return ipf_fail(e, IPF_ERR_FORMAT, "%s: tensor '%s': field 'shape': dim %d is not a non-negative integer", p, name, d);
        t->shape[d] = json_integer_value(x);
        if (t->shape[d] && count > SIZE_MAX / (size_t)t->shape[d])
            return ipf_fail(e, IPF_ERR_FORMAT, "%s: tensor '%s': field 'shape': element count overflows", p, name);
        count *= (size_t)t->shape[d];
    }
    if (count > SIZE_MAX / esize) return ipf_fail(e, IPF_ERR_FORMAT, "%s: tensor '%s': field 'shape': byte size overflows", p, name);
    if (!json_is_array(jo) || json_array_size(jo) != 2 || !json_is_integer(json_array_get(jo, 0)) ||
        !json_is_integer(json_array_get(jo, 1)))
        return ipf_fail(e, IPF_ERR_FORMAT, "%s: tensor '%s': field 'data_offsets' must be [begin, end] integers", p, name);
    json_int_t b = json_integer_value(json_array_get(jo, 0)), en = json_integer_value(json_array_get(jo, 1));
    if (b < 0 || en < b || (uint64_t)en > f->data_len)
        return ipf_fail(e, IPF_ERR_FORMAT, "%s: tensor '%s': field 'data_offsets' [%lld, %lld] outside the data area of %zu bytes",
                        p, name, (long long)b, (long long)en, f->data_len);
    t->nbytes = count * esize;
    if ((uint64_t)(en - b) != t->nbytes)
        return ipf_fail(e, IPF_ERR_FORMAT, "%s: tensor '%s': field 'data_offsets' span %lld bytes but shape and dtype %s need %zu",
                        p, name, (long long)(en - b), dtype_name(t->dtype), t->nbytes);
    t->data = f->data + b;
    return IPF_OK;
}

static ipf_status parse_meta(st_file *f, json_t *v, ipf_err *e) {
    if (!json_is_object(v)) return ipf_fail(e, IPF_ERR_FORMAT, "%s: '__metadata__' is not a JSON object", f->path);
    size_t n = json_object_size(v);
    f->meta = calloc(2 * n + 1, sizeof *f->meta);
    if (!f->meta) return ipf_fail(e, IPF_ERR_OUT_OF_MEMORY, "%s: out of memory reading metadata", f->path);
    const char *k;
    json_t *x;
    json_object_foreach(v, k, x) {
        if (!json_is_string(x)) return ipf_fail(e, IPF_ERR_FORMAT, "%s: '__metadata__' key '%s' is not a string", f->path, k);
        f->meta[2 * f->nmeta] = strdup(k);
        f->meta[2 * f->nmeta + 1] = strdup(json_string_value(x));
        f->nmeta++;
        if (!f->meta[2 * f->nmeta - 2] || !f->meta[2 * f->nmeta - 1])
            return ipf_fail(e, IPF_ERR_OUT_OF_MEMORY, "%s: out of memory reading metadata", f->path);
    }
    return IPF_OK;
}

ipf_status st_open(const char *path, st_file **out, ipf_err *e) {
    *out = NULL;
    st_file *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(path))) {
        free(f);
        return ipf_fail(e, IPF_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    }
    ipf_status st = IPF_OK;
    json_t *root = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0) {
        st = ipf_fail(e, IPF_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        goto done;
    }
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        st = ipf_fail(e, IPF_ERR_IO, "%s: not a regular file", path);
        goto done;
    }
    if (sb.st_size < 8) {
        st = ipf_fail(e, IPF_ERR_FORMAT, "%s: %lld bytes, too short for a safetensors header", path, (long long)sb.st_size);
        goto done;
    }
    f->map_len = (size_t)sb.st_size;
    f->map = mmap(NULL, f->map_len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (f->map == MAP_FAILED) {
        f->map = NULL;
        st = ipf_fail(e, IPF_ERR_IO, "%s: mmap failed: %s", path, strerror(errno));
        goto done;
    }
    const unsigned char *m = f->map;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | m[i];
    if (hlen > ST_MAX_HEADER || hlen > f->map_len - 8) {
        st = ipf_fail(e, IPF_ERR_FORMAT, "%s: header length %llu exceeds the file (%zu bytes) or the 100 MB limit", path,
                      (unsigned long long)hlen, f->map_len);
        goto done;
    }
    f->data = m + 8 + hlen;
    f->data_len = f->map_len - 8 - (size_t)hlen;
    json_error_t je;
    root = json_loadb((const char *)m + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        st = ipf_fail(e, IPF_ERR_FORMAT, "%s: header is not valid JSON: %s (at byte %d)", path, je.text, je.position);
        goto done;
    }
    if (!json_is_object(root)) {
        st = ipf_fail(e, IPF_ERR_FORMAT, "%s: header is not a JSON object", path);
        goto done;
    }
    f->t = calloc(json_object_size(root) + 1, sizeof *f->t);
    if (!f->t) {
        st = ipf_fail(e, IPF_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
        goto done;
    }
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (!strcmp(key, "__metadata__")) {
            if ((st = parse_meta(f, v, e))) goto done;
            continue;
        }
        st_tensor *t = &f->t[f->n];
        if ((st = parse_entry(f, key, v, t, e))) goto done;
        if (!(t->name = strdup(key))) {
            st = ipf_fail(e, IPF_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
            goto done;
        }
        f->n++;
    }
    /* Offsets must tile the data area exactly: sorted, contiguous, no overlap. */
    st_tensor *sorted = ipf_malloc_array(f->n ? f->n : 1, sizeof *sorted);
    if (!sorted) {
        st = ipf_fail(e, IPF_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
        goto done;
    }
    memcpy(sorted, f->t, f->n * sizeof *sorted);
    qsort(sorted, f->n, sizeof *sorted, cmp_offset);
    size_t pos = 0;
    for (size_t i = 0; i < f->n && !st; i++) {
        size_t b = (size_t)((const unsigned char *)sorted[i].data - f->data);
        if (b < pos)
            st = ipf_fail(e, IPF_ERR_FORMAT, "%s: tensor '%s': field 'data_offsets' overlaps the previous tensor", path, sorted[i].name);
        else if (b > pos)
            st = ipf_fail(e, IPF_ERR_FORMAT, "%s: tensor '%s': field 'data_offsets' leaves a gap of %zu bytes before it", path,
                          sorted[i].name, b - pos);
        pos = b + sorted[i].nbytes;
    }
    if (!st && pos != f->data_len)
        st = ipf_fail(e, IPF_ERR_FORMAT, "%s: %zu trailing bytes after the last tensor", path, f->data_len - pos);
    free(sorted);
done:
    if (root) json_decref(root);
    if (fd >= 0) close(fd);
    if (st) {
        st_close(f);
        return st;
    }
    *out = f;
    return IPF_OK;
}

const char *st_path(const st_file *f) { return f->path; }
size_t st_count(const st_file *f) { return f->n; }
const st_tensor *st_at(const st_file *f, size_t i) { return i < f->n ? &f->t[i] : NULL; }

const st_tensor *st_find(const st_file *f, const char *name) {
    for (size_t i = 0; i < f->n; i++)
        if (!strcmp(f->t[i].name, name)) return &f->t[i];
    return NULL;
}

const char *st_meta(const st_file *f, const char *key) {
    for (size_t i = 0; i < f->nmeta; i++)
        if (!strcmp(f->meta[2 * i], key)) return f->meta[2 * i + 1];
    return NULL;
}

const void *st_data(const st_file *f, size_t *nbytes) {
    if (nbytes) *nbytes = f->data_len;
    return f->data;
}

static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0) bits = sign;
        else { /* subnormal: normalise */
            exp = 127 - 15 + 1;
            while (!(man & 0x400)) {
                man <<= 1;
                exp--;
            }
            bits = sign | (exp << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 31) bits = sign | 0x7f800000u | (man << 13);
    else bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    float out;
    memcpy(&out, &bits, 4);
    return out;
}

static void shape_str(char *buf, size_t cap, int ndim, const int64_t *shape) {
    size_t k = (size_t)snprintf(buf, cap, "(");
    for (int d = 0; d < ndim && k < cap; d++) k += (size_t)snprintf(buf + k, cap - k, d ? ",%lld" : "%lld", (long long)shape[d]);
    if (k < cap) snprintf(buf + k, cap - k, ")");
}

ipf_status st_get_f32(st_file *f, const char *name, int ndim, const int64_t *shape, const float **out, ipf_err *e) {
    *out = NULL;
    const st_tensor *t = st_find(f, name);
    if (!t) return ipf_fail(e, IPF_ERR_NOT_FOUND, "%s: tensor '%s' is missing", f->path, name);
    if (shape) {
        int ok = t->ndim == ndim;
        for (int d = 0; ok && d < ndim; d++) ok = t->shape[d] == shape[d];
        if (!ok) {
            char want[128], got[128];
            shape_str(want, sizeof want, ndim, shape);
            shape_str(got, sizeof got, t->ndim, t->shape);
            return ipf_fail(e, IPF_ERR_SHAPE, "%s: tensor '%s': field 'shape' is %s, expected %s", f->path, name, got, want);
        }
    }
    size_t count = t->nbytes / dtype_size(t->dtype);
    if (t->dtype == ST_F32 && ((uintptr_t)t->data & 3) == 0) {
        *out = t->data;
        return IPF_OK;
    }
    if (t->dtype != ST_F32 && t->dtype != ST_F16 && t->dtype != ST_BF16 && t->dtype != ST_F64)
        return ipf_fail(e, IPF_ERR_FORMAT, "%s: tensor '%s': field 'dtype' is %s, expected a float type", f->path, name,
                        dtype_name(t->dtype));
    st_conv *c = calloc(1, sizeof *c);
    float *d = ipf_malloc_array(count, sizeof(float));
    if (!c || !d) {
        free(c);
        free(d);
        return ipf_fail(e, IPF_ERR_OUT_OF_MEMORY, "%s: tensor '%s': out of memory converting to float32", f->path, name);
    }
    const unsigned char *s = t->data;
    for (size_t i = 0; i < count; i++) {
        if (t->dtype == ST_F32) memcpy(&d[i], s + 4 * i, 4);
        else if (t->dtype == ST_F64) {
            double x;
            memcpy(&x, s + 8 * i, 8);
            d[i] = (float)x;
        } else {
            uint16_t h;
            memcpy(&h, s + 2 * i, 2);
            if (t->dtype == ST_F16) d[i] = half_to_float(h);
            else {
                uint32_t bits = (uint32_t)h << 16;
                memcpy(&d[i], &bits, 4);
            }
        }
    }
    c->data = d;
    c->next = f->convs;
    f->convs = c;
    *out = d;
    return IPF_OK;
}

static int write_all(int fd, const void *buf, size_t len) {
    const char *p = buf;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

ipf_status st_write(const char *path, const st_wtensor *t, size_t n, const char *const *meta, size_t nmeta, ipf_err *e) {
    json_t *root = json_object();
    if (!root) return ipf_fail(e, IPF_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    size_t off = 0;
    ipf_status st = IPF_OK;
    for (size_t i = 0; i < n; i++) {
        json_t *shape = json_array();
        size_t count = 1;
        for (int d = 0; d < t[i].ndim; d++) {
            json_array_append_new(shape, json_integer(t[i].shape[d]));
            count *= (size_t)t[i].shape[d];
        }
        json_t *ent = json_pack("{s:s, s:o, s:[I,I]}", "dtype", "F32", "shape", shape, "data_offsets", (json_int_t)off,
                                (json_int_t)(off + 4 * count));
        if (ent && json_object_get(root, t[i].name)) {
            json_decref(ent);
            ent = NULL;
        }
        if (!ent || json_object_set_new(root, t[i].name, ent)) {
            st = ipf_fail(e, IPF_ERR_INVALID_ARGUMENT, "%s: cannot add tensor '%s' (duplicate name or out of memory)", path, t[i].name);
            goto out;
        }
        off += 4 * count;
    }
    if (nmeta) {
        json_t *m = json_object();
        for (size_t i = 0; i < nmeta; i++) json_object_set_new(m, meta[2 * i], json_string(meta[2 * i + 1]));
        json_object_set_new(root, "__metadata__", m);
    }
    char *hdr = json_dumps(root, JSON_COMPACT);
    if (!hdr) {
        st = ipf_fail(e, IPF_ERR_OUT_OF_MEMORY, "%s: cannot serialise the header", path);
        goto out;
    }
    size_t hlen = strlen(hdr), padded = (hlen + 7) & ~(size_t)7;
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        free(hdr);
        st = ipf_fail(e, IPF_ERR_INVALID_ARGUMENT, "%s: path too long", path);
        goto out;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        free(hdr);
        st = ipf_fail(e, IPF_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
        goto out;
    }
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    int bad = write_all(fd, len8, 8) || write_all(fd, hdr, hlen) || write_all(fd, "        ", padded - hlen);
    free(hdr);
    for (size_t i = 0; i < n && !bad; i++) {
        size_t count = 1;
        for (int d = 0; d < t[i].ndim; d++) count *= (size_t)t[i].shape[d];
        bad = write_all(fd, t[i].data, 4 * count);
    }
    if (!bad) bad = fsync(fd);
    int err = errno;
    if (close(fd) && !bad) {
        bad = 1;
        err = errno;
    }
    if (bad || rename(tmp, path)) {
        if (!bad) err = errno;
        unlink(tmp);
        st = ipf_fail(e, IPF_ERR_IO, "%s: write failed: %s (any previous file is intact)", path, strerror(err));
        goto out;
    }
    /* Make the rename durable. */
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    int dfd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
out:
    json_decref(root);
    return st;
}
