/* inception_api.c — public entry points of the image encoder: loading a
 * stand-alone Inception-v3 model and encoding preprocessed tensors. */
#include "inception.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

IPF_API ipf_status ipf_model_load_inception(const char *safetensors_path, int32_t transform_input,
                                            ipf_model **out) {
    if (!out) return ipf_fail(NULL, IPF_ERR_INVALID_ARGUMENT, "ipf_model_load_inception: out is NULL");
    *out = NULL;
    if (!safetensors_path)
        return ipf_fail(NULL, IPF_ERR_INVALID_ARGUMENT, "ipf_model_load_inception: safetensors_path is NULL");
    inception *inc;
    ipf_status st = inception_load(safetensors_path, transform_input, &inc, NULL);
    if (st) return st;
    ipf_model *m;
    if ((st = ipf_model_alloc(&m))) {
        inception_free(inc);
        return st;
    }
    ipf_model_set_part(m, IPF_PART_INCEPTION, inc, inception_free);
    snprintf(m->path, sizeof m->path, "%s", safetensors_path);
    *out = m;
    return IPF_OK;
}

IPF_API ipf_status ipf_session_encode_image_tensor(ipf_session *session, const float *x, int32_t n,
                                                   int32_t height, int32_t width, float *pool, size_t pool_cap) {
    if (!session) return ipf_fail(NULL, IPF_ERR_INVALID_ARGUMENT, "ipf_session_encode_image_tensor: session is NULL");
    ipf_err *e = &session->err;
    if (!x || !pool)
        return ipf_fail(e, IPF_ERR_INVALID_ARGUMENT, "ipf_session_encode_image_tensor: %s is NULL", !x ? "x" : "pool");
    const inception *inc = session->model->part[IPF_PART_INCEPTION];
    if (!inc) return ipf_fail(e, IPF_ERR_NOT_FOUND, "the model has no image encoder (Inception-v3)");
    if (n < 1) return ipf_fail(e, IPF_ERR_INVALID_ARGUMENT, "ipf_session_encode_image_tensor: n is %d, need >= 1", (int)n);
    if (height < 75 || width < 75)
        return ipf_fail(e, IPF_ERR_SHAPE, "image tensor is %dx%d; Inception-v3 needs height and width >= 75",
                        (int)height, (int)width);
    if ((int64_t)height * width > session->opt[IPF_OPT_MAX_IMAGE_PIXELS])
        return ipf_fail(e, IPF_ERR_LIMIT, "image tensor %dx%d is over IPF_OPT_MAX_IMAGE_PIXELS (%lld)", (int)height,
                        (int)width, (long long)session->opt[IPF_OPT_MAX_IMAGE_PIXELS]);
    size_t need = (size_t)n * INCEPTION_POOL_DIM;
    if (pool_cap < need)
        return ipf_fail(e, IPF_ERR_BUFFER_TOO_SMALL, "pool holds %zu floats; %d images need %zu", pool_cap, (int)n,
                        need);
    size_t count = (size_t)n * 3 * (size_t)height * (size_t)width;
    for (size_t i = 0; i < count; i++)
        if (!isfinite(x[i]))
            return ipf_fail(e, IPF_ERR_NUMERIC, "image tensor element %zu (image %zu) is not finite", i,
                            i / (count / (size_t)n));
    ipf_session_prepare(session);
    ipf_status st = inception_forward(inc, session, x, n, height, width, pool);
    if (st) return st;
    for (size_t i = 0; i < need; i++)
        if (!isfinite(pool[i]))
            return ipf_fail(e, IPF_ERR_NUMERIC, "Inception-v3 produced a non-finite feature (image %zu, index %zu)",
                            i / INCEPTION_POOL_DIM, i % INCEPTION_POOL_DIM);
    return IPF_OK;
}
