/* session.c — model container, sessions and their options. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct opt_info {
    int64_t min, max;
} opt_info;

static const opt_info OPT_INFO[IPF_OPT_COUNT_] = {
    [IPF_OPT_THREADS] = {1, 256},
    [IPF_OPT_BACKEND] = {IPF_BACKEND_AUTO, IPF_BACKEND_REF},
    [IPF_OPT_MAX_IMAGE_PIXELS] = {1, INT64_C(1) << 31},
    [IPF_OPT_MAX_IMAGE_BYTES] = {1, INT64_C(1) << 31},
    [IPF_OPT_MAX_TOKENS] = {2, 512},
};

static int64_t default_threads(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1) n = 1;
    if (n > 256) n = 256;
    return n;
}

static int64_t default_backend(void) {
    const char *e = getenv("IPF_BACKEND");
    if (!e) return IPF_BACKEND_AUTO;
    if (!strcmp(e, "onednn")) return IPF_BACKEND_ONEDNN;
    if (!strcmp(e, "openblas")) return IPF_BACKEND_OPENBLAS;
    if (!strcmp(e, "ref")) return IPF_BACKEND_REF;
    return IPF_BACKEND_AUTO;
}

static int64_t option_default(ipf_option o) {
    switch (o) {
    case IPF_OPT_THREADS: return default_threads();
    case IPF_OPT_BACKEND: return default_backend();
    case IPF_OPT_MAX_IMAGE_PIXELS: return 50000000;
    case IPF_OPT_MAX_IMAGE_BYTES: return INT64_C(64) << 20;
    case IPF_OPT_MAX_TOKENS: return 128;
    default: return 0;
    }
}

IPF_API ipf_status ipf_option_bounds(ipf_option option, int64_t *min_value, int64_t *max_value,
                                     int64_t *default_value) {
    if ((int)option < 0 || option >= IPF_OPT_COUNT_)
        return ipf_fail(NULL, IPF_ERR_INVALID_ARGUMENT, "ipf_option_bounds: unknown option %d", (int)option);
    if (min_value) *min_value = OPT_INFO[option].min;
    if (max_value) *max_value = OPT_INFO[option].max;
    if (default_value) *default_value = option_default(option);
    return IPF_OK;
}

ipf_status ipf_model_alloc(ipf_model **out) {
    *out = calloc(1, sizeof **out);
    if (!*out) return ipf_fail(NULL, IPF_ERR_OUT_OF_MEMORY, "out of memory allocating a model");
    return IPF_OK;
}

void ipf_model_set_part(ipf_model *m, ipf_part p, void *obj, void (*free_fn)(void *)) {
    if (m->part[p] && m->part_free[p]) m->part_free[p](m->part[p]);
    m->part[p] = obj;
    m->part_free[p] = free_fn;
}

IPF_API void ipf_model_free(ipf_model *model) {
    if (!model) return;
    for (int i = 0; i < IPF_PART_COUNT_; i++)
        if (model->part[i] && model->part_free[i]) model->part_free[i](model->part[i]);
    free(model);
}

IPF_API ipf_status ipf_session_create(const ipf_model *model, ipf_session **out) {
    if (!out) return ipf_fail(NULL, IPF_ERR_INVALID_ARGUMENT, "ipf_session_create: out is NULL");
    *out = NULL;
    if (!model) return ipf_fail(NULL, IPF_ERR_INVALID_ARGUMENT, "ipf_session_create: model is NULL");
    ipf_session *s = calloc(1, sizeof *s);
    if (!s) return ipf_fail(NULL, IPF_ERR_OUT_OF_MEMORY, "out of memory allocating a session");
    s->model = model;
    for (int i = 0; i < IPF_OPT_COUNT_; i++) s->opt[i] = option_default((ipf_option)i);
    kctx_init(&s->kctx);
    ipf_session_prepare(s);
    *out = s;
    return IPF_OK;
}

void ipf_session_set_state(ipf_session *s, ipf_part p, void *obj, void (*free_fn)(void *)) {
    if (s->state[p] && s->state_free[p]) s->state_free[p](s->state[p]);
    s->state[p] = obj;
    s->state_free[p] = free_fn;
}

IPF_API void ipf_session_free(ipf_session *session) {
    if (!session) return;
    for (int i = 0; i < IPF_PART_COUNT_; i++)
        if (session->state[i] && session->state_free[i]) session->state_free[i](session->state[i]);
    kctx_destroy(&session->kctx);
    free(session);
}

IPF_API const char *ipf_session_error(const ipf_session *session) {
    return session ? session->err.msg : "session is NULL";
}

IPF_API ipf_status ipf_session_set_option(ipf_session *session, ipf_option option, int64_t value) {
    if (!session) return ipf_fail(NULL, IPF_ERR_INVALID_ARGUMENT, "ipf_session_set_option: session is NULL");
    if ((int)option < 0 || option >= IPF_OPT_COUNT_)
        return ipf_fail(&session->err, IPF_ERR_INVALID_ARGUMENT, "unknown option %d", (int)option);
    if (value < OPT_INFO[option].min || value > OPT_INFO[option].max)
        return ipf_fail(&session->err, IPF_ERR_INVALID_ARGUMENT, "option %d: value %lld outside [%lld, %lld]",
                        (int)option, (long long)value, (long long)OPT_INFO[option].min,
                        (long long)OPT_INFO[option].max);
    session->opt[option] = value;
    ipf_session_prepare(session);
    return IPF_OK;
}

IPF_API ipf_status ipf_session_get_option(const ipf_session *session, ipf_option option, int64_t *value) {
    if (!session || !value) return ipf_fail(NULL, IPF_ERR_INVALID_ARGUMENT, "ipf_session_get_option: NULL argument");
    if ((int)option < 0 || option >= IPF_OPT_COUNT_)
        return ipf_fail(NULL, IPF_ERR_INVALID_ARGUMENT, "unknown option %d", (int)option);
    *value = session->opt[option];
    return IPF_OK;
}

void ipf_session_prepare(ipf_session *s) {
    s->kctx.backend = (int)s->opt[IPF_OPT_BACKEND];
    s->kctx.nthreads = (int)s->opt[IPF_OPT_THREADS];
    kctx_apply_threads(&s->kctx);
}
