/*
 * influencer_profiler.h — the whole public API of libinfluencer_profiler.
 *
 * A C library that profiles social-media influencers from their posts, after
 * "Multimodal Post Attentive Profiling for Influencer Marketing" (Kim et al.,
 * WWW 2020): BERT-base reads captions, Inception-v3 reads images, a post
 * vector joins both, attention over an influencer's posts gives an influencer
 * vector, and two heads classify the influencer and each post.
 *
 * This header is the reference documentation.  Conventions, for every call:
 *   - Every fallible call returns ipf_status; IPF_OK is 0.  Detail is kept on
 *     the handle (ipf_model_error, ipf_session_error, ipf_trainer_error) or,
 *     before a handle exists, in a thread-local message (ipf_last_error).
 *   - Handles are opaque, created through an out-parameter, and freed by a
 *     function that accepts NULL.
 *   - The caller owns the buffers it passes and states their capacity; the
 *     library owns its handles.  No pointer passed in is kept after a call
 *     returns unless the function says so.
 *   - Threads: an ipf_model is read-only after load and may be shared by any
 *     number of threads.  An ipf_session (and an ipf_trainer) must be used by
 *     one thread at a time; make one per thread.  Nothing is tied to the
 *     thread that created a handle.
 *   - The library never exits, aborts or prints; logging goes through
 *     ipf_set_log_callback.
 *   - No variadic functions and no structs by value cross this interface.
 *
 * Since 0.1.0 unless marked otherwise.
 */
#ifndef INFLUENCER_PROFILER_H
#define INFLUENCER_PROFILER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Version: the Makefile reads these three lines; keep their form. */
#define IPF_VERSION_MAJOR 0
#define IPF_VERSION_MINOR 1
#define IPF_VERSION_PATCH 0
#define IPF_VERSION_NUMBER (IPF_VERSION_MAJOR * 10000 + IPF_VERSION_MINOR * 100 + IPF_VERSION_PATCH)

#if defined(IPF_BUILDING_LIBRARY) && defined(__GNUC__)
#define IPF_API __attribute__((visibility("default")))
#else
#define IPF_API
#endif

/* ------------------------------------------------------------------------ */
/* Status codes.  The list only grows; values never change.                  */
/* ------------------------------------------------------------------------ */
typedef enum ipf_status {
    IPF_OK = 0,
    IPF_ERR_INVALID_ARGUMENT = 1, /* NULL where a pointer is required, bad value */
    IPF_ERR_OUT_OF_MEMORY = 2,
    IPF_ERR_IO = 3,               /* a file could not be opened, read or written */
    IPF_ERR_FORMAT = 4,           /* a file or buffer is not of the expected format */
    IPF_ERR_SHAPE = 5,            /* a tensor or buffer has the wrong shape or size */
    IPF_ERR_UNSUPPORTED = 6,      /* valid, but not supported by this build */
    IPF_ERR_IMAGE = 7,            /* an image could not be decoded */
    IPF_ERR_TEXT = 8,             /* a caption is unusable (e.g. nothing left after cleaning) */
    IPF_ERR_CHECKSUM = 9,         /* stored CRC-32 or sha256 does not match */
    IPF_ERR_NUMERIC = 10,         /* NaN or infinity in an input or a result */
    IPF_ERR_BUFFER_TOO_SMALL = 11,/* the caller's buffer is too small; size was reported */
    IPF_ERR_LIMIT = 12,           /* an input is over a configured limit */
    IPF_ERR_BACKEND = 13,         /* oneDNN or OpenBLAS reported a failure */
    IPF_ERR_STATE = 14,           /* the call is not valid in the handle's current state */
    IPF_ERR_NOT_FOUND = 15,       /* a named item (class, tensor, file) does not exist */
    IPF_ERR_INTERNAL = 16
} ipf_status;

/* A static English string for a status; never NULL, "unknown status" for an
 * unknown value.  Thread-safe. */
IPF_API const char *ipf_status_string(ipf_status status);

/* ------------------------------------------------------------------------ */
/* Version and ABI                                                           */
/* ------------------------------------------------------------------------ */
/* IPF_VERSION_NUMBER of the library actually loaded (may differ from the
 * header the caller compiled against). */
IPF_API uint32_t ipf_version_number(void);
/* "MAJOR.MINOR.PATCH"; static storage. */
IPF_API const char *ipf_version_string(void);
/* The ABI major version, equal to the soname's number. */
#define IPF_ABI_VERSION 0
IPF_API uint32_t ipf_abi_version(void);

/* ------------------------------------------------------------------------ */
/* Errors and logging                                                        */
/* ------------------------------------------------------------------------ */
/* The message of the last failed call made by this thread that had no handle
 * to keep it on (e.g. a failed ipf_model_load).  Empty string if none.  Valid
 * until the next library call on this thread. */
IPF_API const char *ipf_last_error(void);

typedef enum ipf_log_level {
    IPF_LOG_ERROR = 0,
    IPF_LOG_WARN = 1,
    IPF_LOG_INFO = 2,
    IPF_LOG_DEBUG = 3
} ipf_log_level;

/* Receives log lines (no trailing newline).  May be called from any thread
 * that runs a library call; must be thread-safe if the library is used from
 * several threads.  `message` is valid only during the call. */
typedef void (*ipf_log_fn)(void *user, ipf_log_level level, const char *message);

/* Install a process-wide log callback (NULL turns logging off, the default)
 * and the most verbose level passed to it.  Not thread-safe with respect to
 * concurrent library calls: install it before starting threads. */
IPF_API void ipf_set_log_callback(ipf_log_fn fn, void *user, ipf_log_level max_level);

/* ------------------------------------------------------------------------ */
/* Handles                                                                   */
/* ------------------------------------------------------------------------ */
typedef struct ipf_model ipf_model;     /* weights + configuration, shareable */
typedef struct ipf_session ipf_session; /* per-thread working state */
typedef struct ipf_trainer ipf_trainer; /* training state */

/* Compute backends.  AUTO = oneDNN where it supports an op, then OpenBLAS,
 * then the plain-C reference.  The environment variable IPF_BACKEND
 * (onednn|openblas|ref) overrides AUTO for new sessions. */
typedef enum ipf_backend {
    IPF_BACKEND_AUTO = 0,
    IPF_BACKEND_ONEDNN = 1,
    IPF_BACKEND_OPENBLAS = 2,
    IPF_BACKEND_REF = 3
} ipf_backend;

/* ===== section: model and session (owner: api) ===== */

/* Options, set per session with ipf_session_set_option.  Each has bounds
 * (ipf_option_bounds) and a default; out-of-bounds values are rejected with
 * IPF_ERR_INVALID_ARGUMENT and leave the option unchanged. */
typedef enum ipf_option {
    IPF_OPT_THREADS = 0,          /* compute threads, 1..256; default: online cores */
    IPF_OPT_BACKEND = 1,          /* an ipf_backend value; default AUTO (or $IPF_BACKEND) */
    IPF_OPT_MAX_IMAGE_PIXELS = 2, /* width*height limit before decoding, 1..2^31; default 50,000,000 */
    IPF_OPT_MAX_IMAGE_BYTES = 3,  /* encoded image size limit, 1..2^31; default 64 MiB */
    IPF_OPT_MAX_TOKENS = 4,       /* caption length incl. [CLS]/[SEP], 2..model max; default 128 */
    IPF_OPT_COUNT_ = 5            /* not an option: the number of options */
} ipf_option;

/* The inclusive bounds and default of an option.  Any out-pointer may be
 * NULL.  Thread-safe. */
IPF_API ipf_status ipf_option_bounds(ipf_option option, int64_t *min_value, int64_t *max_value,
                                     int64_t *default_value);

/* Free a model.  NULL is accepted.  Every session created from it must be
 * freed first. */
IPF_API void ipf_model_free(ipf_model *model);

/* Create a session for `model`, which must outlive it.  Thread-safe with
 * respect to other sessions of the same model. */
IPF_API ipf_status ipf_session_create(const ipf_model *model, ipf_session **out);
/* Free a session.  NULL is accepted. */
IPF_API void ipf_session_free(ipf_session *session);
/* The message of the last failed call on this session ("" if none).  Valid
 * until the next call on the session. */
IPF_API const char *ipf_session_error(const ipf_session *session);
IPF_API ipf_status ipf_session_set_option(ipf_session *session, ipf_option option, int64_t value);
IPF_API ipf_status ipf_session_get_option(const ipf_session *session, ipf_option option,
                                          int64_t *value);

/* ===== end section: model and session ===== */

/* ===== section: images (owner: image) ===== */

/* ===== end section: images ===== */

/* ===== section: text (owner: text) ===== */

/* ===== end section: text ===== */

/* ===== section: profiler (owner: api) ===== */

/* ===== end section: profiler ===== */

/* ===== section: training (owner: train) ===== */

/* ===== end section: training ===== */

#ifdef __cplusplus
}
#endif
#endif /* INFLUENCER_PROFILER_H */
