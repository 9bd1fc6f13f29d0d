/* core.c — status strings, versions, error slots, logging, allocation. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

IPF_API const char *ipf_status_string(ipf_status status) {
    switch (status) {
    case IPF_OK: return "ok";
    case IPF_ERR_INVALID_ARGUMENT: return "invalid argument";
    case IPF_ERR_OUT_OF_MEMORY: return "out of memory";
    case IPF_ERR_IO: return "input/output error";
    case IPF_ERR_FORMAT: return "bad format";
    case IPF_ERR_SHAPE: return "wrong shape";
    case IPF_ERR_UNSUPPORTED: return "unsupported";
    case IPF_ERR_IMAGE: return "bad image";
    case IPF_ERR_TEXT: return "bad text";
    case IPF_ERR_CHECKSUM: return "checksum mismatch";
    case IPF_ERR_NUMERIC: return "non-finite number";
    case IPF_ERR_BUFFER_TOO_SMALL: return "buffer too small";
    case IPF_ERR_LIMIT: return "over a limit";
    case IPF_ERR_BACKEND: return "compute backend failure";
    case IPF_ERR_STATE: return "invalid state";
    case IPF_ERR_NOT_FOUND: return "not found";
    case IPF_ERR_INTERNAL: return "internal error";
    }
    return "unknown status";
}

#define IPF_STR2(x) #x
#define IPF_STR(x) IPF_STR2(x)

IPF_API uint32_t ipf_version_number(void) { return IPF_VERSION_NUMBER; }
IPF_API const char *ipf_version_string(void) {
    return IPF_STR(IPF_VERSION_MAJOR) "." IPF_STR(IPF_VERSION_MINOR) "." IPF_STR(IPF_VERSION_PATCH);
}
IPF_API uint32_t ipf_abi_version(void) { return IPF_ABI_VERSION; }

static _Thread_local ipf_err tls_err;

ipf_err *ipf_tls_err(void) { return &tls_err; }

IPF_API const char *ipf_last_error(void) { return tls_err.msg; }

ipf_status ipf_vfail(ipf_err *e, ipf_status status, const char *fmt, va_list ap) {
    if (!e) e = &tls_err;
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    return status;
}

ipf_status ipf_fail(ipf_err *e, ipf_status status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    ipf_vfail(e, status, fmt, ap);
    va_end(ap);
    return status;
}

void ipf_err_copy(ipf_err *dst, const ipf_err *src) {
    if (!dst) dst = &tls_err;
    if (dst != src) memcpy(dst->msg, src->msg, sizeof dst->msg);
}

void ipf_err_clear(ipf_err *e) {
    if (!e) e = &tls_err;
    e->msg[0] = 0;
}

static ipf_log_fn log_fn;
static void *log_user;
static ipf_log_level log_max = IPF_LOG_ERROR;

IPF_API void ipf_set_log_callback(ipf_log_fn fn, void *user, ipf_log_level max_level) {
    log_fn = fn;
    log_user = user;
    log_max = max_level;
}

void ipf_log(ipf_log_level level, const char *fmt, ...) {
    if (!log_fn || level > log_max) return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    log_fn(log_user, level, buf);
}

void *ipf_malloc_array(size_t n, size_t size) {
    if (size && n > SIZE_MAX / size) return NULL;
    size_t total = n * size;
    return malloc(total ? total : 1);
}

void *ipf_calloc_array(size_t n, size_t size) {
    if (size && n > SIZE_MAX / size) return NULL;
    return calloc(n ? n : 1, size ? size : 1);
}

uint32_t ipf_crc32(uint32_t crc, const void *buf, size_t len) {
    const unsigned char *p = buf;
    uLong c = crc;
    while (len) { /* zlib's length is uInt: feed it in chunks */
        uInt chunk = len > (1u << 30) ? (1u << 30) : (uInt)len;
        c = crc32(c, p, chunk);
        p += chunk;
        len -= chunk;
    }
    return (uint32_t)c;
}
