/* safetensors.h — strict mmap reader and atomic writer for safetensors files
 * (https://github.com/huggingface/safetensors format: u64 little-endian
 * header length, JSON header, raw little-endian data). */
#ifndef IPF_SAFETENSORS_H
#define IPF_SAFETENSORS_H

#include "internal.h"

typedef enum st_dtype { ST_F32 = 0, ST_F16, ST_BF16, ST_F64, ST_I64, ST_I32, ST_I16, ST_I8, ST_U8, ST_BOOL } st_dtype;

#define ST_MAX_DIMS 8

typedef struct st_tensor {
    const char *name;
    st_dtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    size_t nbytes;
    const void *data; /* inside the mapping; not necessarily aligned */
} st_tensor;

typedef struct st_file st_file;

/* Map and validate `path`: header length within the file and below 100 MB,
 * JSON object (duplicate keys rejected), each entry with a known dtype, a
 * shape of non-negative dims whose byte size equals end-begin, offsets inside
 * the data area, sorted without overlap, covering the data area exactly.
 * Errors name the file, the tensor and the field. */
IPF_INTERNAL ipf_status st_open(const char *path, st_file **out, ipf_err *e);
IPF_INTERNAL void st_close(st_file *f);
IPF_INTERNAL const char *st_path(const st_file *f);
IPF_INTERNAL size_t st_count(const st_file *f);
IPF_INTERNAL const st_tensor *st_at(const st_file *f, size_t i);
IPF_INTERNAL const st_tensor *st_find(const st_file *f, const char *name);
/* A string value of "__metadata__", or NULL. */
IPF_INTERNAL const char *st_meta(const st_file *f, const char *key);
/* The data area (all tensor bytes) for checksums. */
IPF_INTERNAL const void *st_data(const st_file *f, size_t *nbytes);

/* A float32 view of tensor `name`, checked to have exactly `ndim` dims equal
 * to `shape` (shape may be NULL to skip the check).  F32 data that is 4-byte
 * aligned is returned in place; otherwise (F16, BF16, F64, unaligned) a
 * converted copy is made and kept until st_close.  Not thread-safe: call at
 * load time. */
IPF_INTERNAL ipf_status st_get_f32(st_file *f, const char *name, int ndim, const int64_t *shape,
                                   const float **out, ipf_err *e);

/* Writer: F32 tensors only; `meta` holds nmeta key/value string pairs
 * (meta[2*i], meta[2*i+1]).  Written to path.tmp, fsync'ed, renamed over
 * path, so a failure leaves any old file intact. */
typedef struct st_wtensor {
    const char *name;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    const float *data;
} st_wtensor;
IPF_INTERNAL ipf_status st_write(const char *path, const st_wtensor *t, size_t n, const char *const *meta,
                                 size_t nmeta, ipf_err *e);

#endif
