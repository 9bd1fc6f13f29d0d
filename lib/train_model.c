/* train_model.c — the model side of the trainer: creation from a loaded
 * model (its profiler weights, configuration and encoders) and writing a
 * trained bundle through the profiler module's saver. */
#include "train.h"
#include "inception.h"
#include "bert.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

IPF_API ipf_status ipf_trainer_create(const ipf_model *model, const ipf_train_options *options, ipf_trainer **out) {
    if (!out) return ipf_fail(NULL, IPF_ERR_INVALID_ARGUMENT, "ipf_trainer_create: out is NULL");
    *out = NULL;
    if (!model) return ipf_fail(NULL, IPF_ERR_INVALID_ARGUMENT, "ipf_trainer_create: model is NULL");
    const prof_model *pm = model->part[IPF_PART_PROFILER];
    if (!pm)
        return ipf_fail(NULL, IPF_ERR_NOT_FOUND,
                        "ipf_trainer_create: the model has no profiler (load a bundle with profiler.safetensors)");
    ipf_trainer *t;
    ipf_status st = train_create_raw(&pm->cfg, pm->params, options, &t, NULL);
    if (st) return st;
    if ((st = train_attach_model(t, model, pm->cfg.image.crop, NULL))) {
        ipf_trainer_free(t);
        return st;
    }
    *out = t;
    return IPF_OK;
}

IPF_API ipf_status ipf_trainer_save_bundle(ipf_trainer *t, const char *out_dir) {
    if (!t) return ipf_fail(NULL, IPF_ERR_INVALID_ARGUMENT, "ipf_trainer_save_bundle: trainer is NULL");
    ipf_err *e = train_err(t);
    if (!out_dir) return ipf_fail(e, IPF_ERR_INVALID_ARGUMENT, "ipf_trainer_save_bundle: out_dir is NULL");
    ipf_err_clear(e);
    if (mkdir(out_dir, 0777) != 0 && errno != EEXIST)
        return ipf_fail(e, IPF_ERR_IO, "cannot create %s: %s", out_dir, strerror(errno));
    float *p = train_export_params(t);
    if (!p) return ipf_fail(e, IPF_ERR_OUT_OF_MEMORY, "out of memory");
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/profiler.safetensors", out_dir) >= (int)sizeof path) {
        free(p);
        return ipf_fail(e, IPF_ERR_INVALID_ARGUMENT, "path too long: %s", out_dir);
    }
    st_wtensor *extra;
    char *names;
    size_t n_extra;
    ipf_status st = train_extra_tensors(t, &extra, &names, &n_extra);
    if (!st) st = prof_save(path, train_config(t), p, extra, n_extra, e);
    free(p);
    free(extra);
    free(names);
    if (!st) st = train_link_encoders(t, out_dir);
    return st;
}
