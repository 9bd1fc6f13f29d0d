/* internal.h — shared internals of libinfluencer_profiler (not installed). */
#ifndef IPF_INTERNAL_H
#define IPF_INTERNAL_H

#include "influencer_profiler.h"
#include "../kernels/kernels.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define IPF_INTERNAL __attribute__((visibility("hidden")))
#define IPF_ERRMSG_CAP 1024

/* An error slot: kept on each handle, and thread-locally for calls with none. */
typedef struct ipf_err {
    char msg[IPF_ERRMSG_CAP];
} ipf_err;

/* Format a message into `e` (or the thread-local slot when e is NULL) and
 * return `status`, so call sites read `return ipf_fail(e, IPF_ERR_IO, "...", ...)`. */
IPF_INTERNAL ipf_status ipf_fail(ipf_err *e, ipf_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
IPF_INTERNAL ipf_status ipf_vfail(ipf_err *e, ipf_status status, const char *fmt, va_list ap);
/* Copy a message from one slot to another (NULL dst = thread-local). */
IPF_INTERNAL void ipf_err_copy(ipf_err *dst, const ipf_err *src);
IPF_INTERNAL void ipf_err_clear(ipf_err *e);
/* The thread-local slot. */
IPF_INTERNAL ipf_err *ipf_tls_err(void);

/* Logging through the user's callback (no-op when none). */
IPF_INTERNAL void ipf_log(ipf_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Checked allocation helpers: return NULL on overflow or failure. */
IPF_INTERNAL void *ipf_malloc_array(size_t n, size_t size);
IPF_INTERNAL void *ipf_calloc_array(size_t n, size_t size);

/* ---- model and session internals --------------------------------------
 * A model is a set of independent parts (image encoder, text encoder,
 * tokenizer, profiler heads, ...), each owned by its module and freed by the
 * function stored beside it.  A session likewise keeps one state per part,
 * created lazily by the module that needs it. */
typedef enum ipf_part {
    IPF_PART_INCEPTION = 0,
    IPF_PART_BERT = 1,
    IPF_PART_TOKENIZER = 2,
    IPF_PART_PROFILER = 3,
    IPF_PART_IMAGE_CFG = 4,
    IPF_PART_COUNT_ = 8
} ipf_part;

struct ipf_model {
    void *part[IPF_PART_COUNT_];
    void (*part_free[IPF_PART_COUNT_])(void *);
    char path[4096]; /* what it was loaded from, for messages */
};

struct ipf_session {
    const ipf_model *model;
    ipf_err err;
    int64_t opt[IPF_OPT_COUNT_];
    ipf_kctx kctx;
    void *state[IPF_PART_COUNT_];
    void (*state_free[IPF_PART_COUNT_])(void *);
};

IPF_INTERNAL ipf_status ipf_model_alloc(ipf_model **out);
IPF_INTERNAL void ipf_model_set_part(ipf_model *m, ipf_part p, void *obj, void (*free_fn)(void *));
IPF_INTERNAL void ipf_session_set_state(ipf_session *s, ipf_part p, void *obj, void (*free_fn)(void *));
/* Apply the session's thread and backend options to its kernel context;
 * call at the start of every compute entry point. */
IPF_INTERNAL void ipf_session_prepare(ipf_session *s);

/* CRC-32 (zlib) of a buffer, for files and checks. */
IPF_INTERNAL uint32_t ipf_crc32(uint32_t crc, const void *buf, size_t len);

#endif
