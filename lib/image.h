/* image.h — image decoding and preprocessing (stb_image + a port of PIL's
 * antialiased bilinear resampler).  Owner: image. */
#ifndef IPF_IMAGE_H
#define IPF_IMAGE_H

#include "internal.h"

/* Preprocessing configuration; stored in the model file (DESIGN.md §4). */
typedef struct image_cfg {
    int resize_short;    /* short side after resize; 342 */
    int crop;            /* centre crop size; 299 */
    float mean[3];       /* ImageNet mean */
    float std[3];        /* ImageNet std */
} image_cfg;

IPF_INTERNAL void image_cfg_default(image_cfg *c);

/* Decode an encoded image (any stb_image format) and preprocess it into
 * out (3, crop, crop) float32 CHW, normalised.  max_pixels / max_bytes are
 * limits checked before decoding.  Errors name `what` (a path or "buffer"). */
IPF_INTERNAL ipf_status image_preprocess_encoded(const image_cfg *c, const void *data, size_t len,
                                                 const char *what, int64_t max_pixels, int64_t max_bytes,
                                                 float *out, ipf_err *e);
/* Same from interleaved 8-bit pixels (H, W, channels 1..4). */
IPF_INTERNAL ipf_status image_preprocess_pixels(const image_cfg *c, const uint8_t *pix, int w, int h,
                                                int channels, float *out, ipf_err *e);

#endif
