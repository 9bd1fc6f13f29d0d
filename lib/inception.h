/* inception.h — Inception-v3 trunk (torchvision Inception3 names).  Owner: cnn. */
#ifndef IPF_INCEPTION_H
#define IPF_INCEPTION_H

#include "internal.h"

#define INCEPTION_POOL_DIM 2048

typedef struct inception inception;

/* Load the trunk from a safetensors file with torchvision / timm Inception3
 * names (AuxLogits.* and fc.* ignored).  transform_input folds torchvision's
 * input transform for Google-trained weights. */
IPF_INTERNAL ipf_status inception_load(const char *path, int transform_input, inception **out, ipf_err *e);
IPF_INTERNAL void inception_free(void *inc);

/* x (N,3,H,W) preprocessed, H,W >= 75  ->  pool (N,2048) global-average-
 * pooled Mixed_7c features.  Errors go to s->err. */
IPF_INTERNAL ipf_status inception_forward(const inception *inc, ipf_session *s, const float *x, int N, int H,
                                          int W, float *pool);

#endif
