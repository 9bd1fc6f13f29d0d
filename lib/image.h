/* image.h — image decoding and preprocessing (stb_image + a port of PIL's
 * antialiased bilinear resampler).  Owner: image.
 *
 * The pipeline reproduces, for an image `im` opened with PIL:
 *   T.Compose([T.Resize(resize_short), T.CenterCrop(crop), T.ToTensor(),
 *              T.Normalize(mean, std)])(im.convert('RGB'))
 * bit for bit on 8-bit input that both decoders decode alike (PNG, BMP, GIF,
 * ...), see docs/IMAGES.md.  torchvision's transform_input for Google weights
 * is folded into the Inception weights at load (inception.h), not done here. */
#ifndef IPF_IMAGE_H
#define IPF_IMAGE_H

#include "internal.h"

/* Preprocessing configuration; stored in the model file (DESIGN.md §4) as the
 * model part IPF_PART_IMAGE_CFG (an image_cfg *); default when absent. */
typedef struct image_cfg {
    int resize_short;    /* short side after resize; 342 */
    int crop;            /* centre crop size; 299 */
    float mean[3];       /* ImageNet mean */
    float std[3];        /* ImageNet std */
} image_cfg;

/* Bounds accepted by image_cfg_check. */
#define IMAGE_CFG_MAX_SIZE 8192

IPF_INTERNAL void image_cfg_default(image_cfg *c);
/* IPF_ERR_INVALID_ARGUMENT naming the field when a value is out of range
 * (sizes 1..IMAGE_CFG_MAX_SIZE, finite mean, finite non-zero std). */
IPF_INTERNAL ipf_status image_cfg_check(const image_cfg *c, ipf_err *e);

/* Decode an encoded image (any stb_image format) and preprocess it into
 * out (3, crop, crop) float32 CHW, normalised.  max_pixels / max_bytes are
 * limits checked before decoding.  Errors name `what` (a path or "buffer"). */
IPF_INTERNAL ipf_status image_preprocess_encoded(const image_cfg *c, const void *data, size_t len,
                                                 const char *what, int64_t max_pixels, int64_t max_bytes,
                                                 float *out, ipf_err *e);
/* Same from interleaved 8-bit pixels (H, W, channels 1..4). */
IPF_INTERNAL ipf_status image_preprocess_pixels(const image_cfg *c, const uint8_t *pix, int w, int h,
                                                int channels, float *out, ipf_err *e);

/* Decode to 8-bit pixels: *pix (h, w, *channels) with *channels 1 (gray
 * sources) or 3 (everything else), as PIL's convert('RGB') would see them
 * (alpha dropped, 16-bit samples reduced to their high byte).  Free *pix with
 * image_pixels_free.  Same limits and messages as image_preprocess_encoded. */
IPF_INTERNAL ipf_status image_decode(const void *data, size_t len, const char *what, int64_t max_pixels,
                                     int64_t max_bytes, uint8_t **pix, int *w, int *h, int *channels,
                                     ipf_err *e);
IPF_INTERNAL void image_pixels_free(uint8_t *pix);

/* The resize + centre crop stage alone: out (crop, crop, channels) uint8,
 * identical to PIL's Image.resize(BILINEAR) then torchvision's CenterCrop
 * (zero padding when the crop is larger).  Only the cropped window is
 * resampled.  channels 1..4 are resampled independently. */
IPF_INTERNAL ipf_status image_resize_crop_u8(const uint8_t *pix, int w, int h, int channels, int resize_short,
                                             int crop, uint8_t *out, ipf_err *e);

/* Read a whole file of at most max_bytes into a malloc'd buffer. */
IPF_INTERNAL ipf_status image_read_file(const char *path, int64_t max_bytes, void **data, size_t *len,
                                        ipf_err *e);

#endif
