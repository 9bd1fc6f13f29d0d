/* image.c — image decoding (stb_image, compiled in privately) and the
 * torchvision preprocessing pipeline: Resize(short side) with PIL's
 * antialiased bilinear resampler, CenterCrop, ToTensor, Normalize.
 *
 * The resampler is a port of Pillow 9.4's ImagingResample (Resample.c):
 * triangle filter with its support stretched by the downscale factor,
 * coefficients normalised to 1 in double, then rounded to 22-bit fixed point
 * (PRECISION_BITS), a horizontal pass then a vertical pass, each rounding and
 * clipping to 8 bits.  Every output pixel depends only on its own coefficient
 * row and column, so only the centre-crop window is computed: the result is
 * identical to resizing the whole image and cropping, at a fraction of the
 * cost and memory (a 1x20000 strip would otherwise resize to 342x6.8M). */
#define _GNU_SOURCE
#include "image.h"
#include "inception.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

/* ---- stb_image, private to this file ------------------------------------
 * Static functions only (STB_IMAGE_STATIC); its one global, the thread-local
 * failure reason, is renamed so it cannot clash with a user's own stb.  No
 * stdio (files are read here, under the byte limit), asserts compiled out
 * (stb checks its inputs itself and returns errors), and every allocation
 * goes through a per-thread budget sized from the image header, so a
 * decompression bomb (tiny PNG header, huge zlib stream) fails cleanly
 * instead of growing a buffer to 4 GiB. */
typedef struct stb_budget {
    size_t used, cap;
    int over; /* an allocation was refused for the budget */
} stb_budget;
static _Thread_local stb_budget g_budget = {0, SIZE_MAX, 0};

typedef union stb_hdr {
    size_t n;
    max_align_t align;
} stb_hdr;

static void *stb_budget_malloc(size_t sz) {
    if (sz > SIZE_MAX - sizeof(stb_hdr) || sz > g_budget.cap - g_budget.used) {
        g_budget.over = 1;
        return NULL;
    }
    /* Zeroed, as stb 2.28 zeroes its JPEG state (uninitialised reads on
     * corrupt files in 2.27). */
    stb_hdr *h = calloc(1, sizeof(stb_hdr) + sz);
    if (!h) return NULL;
    h->n = sz;
    g_budget.used += sz;
    return h + 1;
}

static void stb_budget_free(void *p) {
    if (!p) return;
    stb_hdr *h = (stb_hdr *)p - 1;
    g_budget.used = g_budget.used >= h->n ? g_budget.used - h->n : 0;
    free(h);
}

static void *stb_budget_realloc(void *p, size_t sz) {
    if (!p) return stb_budget_malloc(sz);
    stb_hdr *h = (stb_hdr *)p - 1;
    size_t old = h->n;
    size_t base = g_budget.used >= old ? g_budget.used - old : 0;
    if (sz > SIZE_MAX - sizeof(stb_hdr) || sz > g_budget.cap - base) {
        g_budget.over = 1;
        return NULL;
    }
    stb_hdr *nh = realloc(h, sizeof(stb_hdr) + sz);
    if (!nh) return NULL;
    nh->n = sz;
    g_budget.used = base + sz;
    return nh + 1;
}

#define STBI_MALLOC(sz) stb_budget_malloc(sz)
#define STBI_REALLOC(p, sz) stb_budget_realloc(p, sz)
#define STBI_FREE(p) stb_budget_free(p)
#define STBI_ASSERT(x) ((void)sizeof(x))
#define STBI_NO_STDIO
/* Radiance HDR and Softimage PIC: no use here, and 2.27's HDR RLE reader can
 * loop forever on a zero run (fixed in 2.28). */
#define STBI_NO_HDR
#define STBI_NO_PIC
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define stbi__g_failure_reason ipf_stbi_failure_reason_
/* stb 2.27 declares this under one name and defines it under another. */
#define stbi_set_unpremultiply_on_load_thread stbi__unpremultiply_on_load_thread
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#pragma GCC diagnostic ignored "-Wmisleading-indentation"
#pragma GCC diagnostic ignored "-Wtype-limits"
#include <stb_image.h>
#pragma GCC diagnostic pop

/* ---- configuration -------------------------------------------------------- */

void image_cfg_default(image_cfg *c) {
    c->resize_short = 342;
    c->crop = 299;
    c->mean[0] = 0.485f, c->mean[1] = 0.456f, c->mean[2] = 0.406f;
    c->std[0] = 0.229f, c->std[1] = 0.224f, c->std[2] = 0.225f;
}

ipf_status image_cfg_check(const image_cfg *c, ipf_err *e) {
    if (c->resize_short < 1 || c->resize_short > IMAGE_CFG_MAX_SIZE)
        return ipf_fail(e, IPF_ERR_INVALID_ARGUMENT, "image config: resize_short %d outside [1, %d]",
                        c->resize_short, IMAGE_CFG_MAX_SIZE);
    if (c->crop < 1 || c->crop > IMAGE_CFG_MAX_SIZE)
        return ipf_fail(e, IPF_ERR_INVALID_ARGUMENT, "image config: crop %d outside [1, %d]", c->crop,
                        IMAGE_CFG_MAX_SIZE);
    for (int i = 0; i < 3; i++) {
        if (!isfinite(c->mean[i]))
            return ipf_fail(e, IPF_ERR_INVALID_ARGUMENT, "image config: mean[%d] is not finite", i);
        if (!isfinite(c->std[i]) || c->std[i] == 0.0f)
            return ipf_fail(e, IPF_ERR_INVALID_ARGUMENT, "image config: std[%d] = %g must be finite and non-zero", i,
                            (double)c->std[i]);
    }
    return IPF_OK;
}

/* ---- PIL resampler port ---------------------------------------------------- */

#define PRECISION_BITS (32 - 8 - 2)

/* Pillow's clip8: the lookup table covers (ss >> 22) in [-640, 639]; this is
 * the same clamp without the table. */
static inline uint8_t clip8(int ss) {
    int v = ss >> PRECISION_BITS;
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

static double bilinear_filter(double x) {
    if (x < 0.0) x = -x;
    if (x < 1.0) return 1.0 - x;
    return 0.0;
}

/* Fixed-point coefficients for output positions [first, first+count) of a
 * resize from in_size to out_size: bounds[2*i] = first input index,
 * bounds[2*i+1] = number of taps, k[i*ksize + t] the taps.  Mirrors
 * precompute_coeffs + normalize_coeffs_8bpc with box (0, in_size). */
typedef struct coeffs {
    int ksize;
    int *bounds;
    int32_t *k;
} coeffs;

static void coeffs_free(coeffs *co) {
    free(co->bounds);
    free(co->k);
    co->bounds = NULL;
    co->k = NULL;
}

static ipf_status coeffs_compute(int in_size, int64_t out_size, int64_t first, int count, coeffs *co, ipf_err *e) {
    /* Pillow: box floats in0 = 0, in1 = in_size; scale = (double)(in1 - in0) / outSize. */
    float in0 = 0.0f, in1 = (float)in_size;
    double scale = (double)(in1 - in0) / (double)out_size;
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = 1.0 * filterscale; /* BILINEAR support 1.0 */
    double ks = ceil(support) * 2 + 1;
    if (ks > 1e6) return ipf_fail(e, IPF_ERR_LIMIT, "image resize: filter of %.0f taps is too large", ks);
    int ksize = (int)ks;
    co->ksize = ksize;
    co->bounds = ipf_malloc_array((size_t)count * 2, sizeof(int));
    co->k = ipf_calloc_array((size_t)count * (size_t)ksize, sizeof(int32_t));
    double *w = ipf_malloc_array((size_t)ksize, sizeof(double));
    if (!co->bounds || !co->k || !w) {
        free(w);
        coeffs_free(co);
        return ipf_fail(e, IPF_ERR_OUT_OF_MEMORY, "image resize: out of memory for %d x %d coefficients", count,
                        ksize);
    }
    for (int i = 0; i < count; i++) {
        int64_t xx = first + i;
        double center = in0 + (xx + 0.5) * scale;
        double ww = 0.0;
        double ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        if (xmax > ksize) xmax = ksize; /* cannot happen; keeps the buffers safe */
        if (xmax < 0) xmax = 0;
        for (int x = 0; x < xmax; x++) {
            double wt = bilinear_filter((x + xmin - center + 0.5) * ss);
            w[x] = wt;
            ww += wt;
        }
        int32_t *k = co->k + (size_t)i * ksize;
        for (int x = 0; x < xmax; x++) {
            if (ww != 0.0) w[x] /= ww;
            k[x] = w[x] < 0 ? (int32_t)(-0.5 + w[x] * (1 << PRECISION_BITS))
                            : (int32_t)(0.5 + w[x] * (1 << PRECISION_BITS));
        }
        co->bounds[2 * i] = xmin;
        co->bounds[2 * i + 1] = xmax;
    }
    free(w);
    return IPF_OK;
}

/* Python's int(round(d / 2.0)) for d >= 0: round half to even. */
static int64_t half_round_even(int64_t d) {
    int64_t q = d / 2;
    if (d % 2 && q % 2) q++;
    return q;
}

/* Position of the crop window in resized coordinates: the first resized
 * index shown at crop index 0 (negative when torchvision pads). */
static int64_t crop_offset(int64_t resized, int crop) {
    if (crop > resized) return -((crop - resized) / 2);
    return half_round_even(resized - crop);
}

/* Resize (w,h) reading `use` channels of pixels `stride` bytes apart, then
 * centre-crop into out (crop, crop, use). */
static ipf_status resize_crop(const uint8_t *pix, int w, int h, int stride, int use, int resize_short, int crop,
                              uint8_t *out, ipf_err *e) {
    /* torchvision _compute_resized_output_size: new_long = int(size * long / short). */
    int64_t rw, rh;
    if (w <= h) {
        rw = resize_short;
        rh = (int64_t)((double)((int64_t)resize_short * h) / (double)w);
    } else {
        rh = resize_short;
        rw = (int64_t)((double)((int64_t)resize_short * w) / (double)h);
    }
    if (rw < 1 || rh < 1) return ipf_fail(e, IPF_ERR_SHAPE, "image resize: %dx%d gives an empty image", w, h);
    /* torchvision returns the image untouched when the size already matches;
     * Pillow skips a pass whose size is unchanged. */
    int need_h = rw != w, need_v = rh != h;

    int64_t ox = crop_offset(rw, crop), oy = crop_offset(rh, crop);
    /* Crop indices that land inside the resized image. */
    int cx0 = ox < 0 ? (int)-ox : 0, cx1 = (int)(rw - ox < crop ? rw - ox : crop);
    int cy0 = oy < 0 ? (int)-oy : 0, cy1 = (int)(rh - oy < crop ? rh - oy : crop);
    int ncx = cx1 - cx0, ncy = cy1 - cy0;

    memset(out, 0, (size_t)crop * crop * use); /* torchvision pads with 0 */
    coeffs hc = {0}, vc = {0};
    uint8_t *tmp = NULL;
    ipf_status st = IPF_OK;
    if (need_h && (st = coeffs_compute(w, rw, ox + cx0, ncx, &hc, e))) goto done;
    if (need_v && (st = coeffs_compute(h, rh, oy + cy0, ncy, &vc, e))) goto done;

    /* Input rows the vertical pass reads. */
    int row0, row1;
    if (need_v) {
        row0 = vc.bounds[0];
        row1 = vc.bounds[2 * (ncy - 1)] + vc.bounds[2 * (ncy - 1) + 1];
        for (int i = 0; i < ncy; i++) {
            if (vc.bounds[2 * i] < row0) row0 = vc.bounds[2 * i];
            if (vc.bounds[2 * i] + vc.bounds[2 * i + 1] > row1) row1 = vc.bounds[2 * i] + vc.bounds[2 * i + 1];
        }
    } else {
        row0 = (int)(oy + cy0);
        row1 = row0 + ncy;
    }
    int nrows = row1 - row0;
    if (nrows < 1) nrows = 1;

    /* Horizontal pass: tmp (nrows, ncx, use). */
    tmp = ipf_malloc_array((size_t)nrows * ncx, (size_t)use);
    if (!tmp) {
        st = ipf_fail(e, IPF_ERR_OUT_OF_MEMORY, "image resize: out of memory for %d x %d pixels", nrows, ncx);
        goto done;
    }
    for (int r = 0; r < row1 - row0; r++) {
        const uint8_t *src = pix + ((size_t)(row0 + r) * w) * stride;
        uint8_t *dst = tmp + (size_t)r * ncx * use;
        for (int i = 0; i < ncx; i++) {
            if (!need_h) {
                const uint8_t *p = src + (size_t)(ox + cx0 + i) * stride;
                for (int c = 0; c < use; c++) dst[i * use + c] = p[c];
                continue;
            }
            int xmin = hc.bounds[2 * i], xn = hc.bounds[2 * i + 1];
            const int32_t *k = hc.k + (size_t)i * hc.ksize;
            for (int c = 0; c < use; c++) {
                int ss = 1 << (PRECISION_BITS - 1);
                const uint8_t *p = src + (size_t)xmin * stride + c;
                for (int x = 0; x < xn; x++) ss += p[(size_t)x * stride] * k[x];
                dst[i * use + c] = clip8(ss);
            }
        }
    }

    /* Vertical pass into the crop window. */
    for (int j = 0; j < ncy; j++) {
        uint8_t *dst = out + ((size_t)(cy0 + j) * crop + cx0) * use;
        if (!need_v) {
            memcpy(dst, tmp + (size_t)j * ncx * use, (size_t)ncx * use);
            continue;
        }
        int ymin = vc.bounds[2 * j] - row0, yn = vc.bounds[2 * j + 1];
        const int32_t *k = vc.k + (size_t)j * vc.ksize;
        for (int i = 0; i < ncx * use; i++) {
            int ss = 1 << (PRECISION_BITS - 1);
            const uint8_t *p = tmp + (size_t)ymin * ncx * use + i;
            for (int y = 0; y < yn; y++) ss += p[(size_t)y * ncx * use] * k[y];
            dst[i] = clip8(ss);
        }
    }
done:
    coeffs_free(&hc);
    coeffs_free(&vc);
    free(tmp);
    return st;
}

ipf_status image_resize_crop_u8(const uint8_t *pix, int w, int h, int channels, int resize_short, int crop,
                                uint8_t *out, ipf_err *e) {
    if (!pix || !out || w < 1 || h < 1 || channels < 1 || channels > 4 || resize_short < 1 || crop < 1)
        return ipf_fail(e, IPF_ERR_INVALID_ARGUMENT, "image_resize_crop_u8: bad arguments (%dx%dx%d)", w, h,
                        channels);
    return resize_crop(pix, w, h, channels, channels, resize_short, crop, out, e);
}

/* ---- preprocessing -------------------------------------------------------- */

ipf_status image_preprocess_pixels(const image_cfg *c, const uint8_t *pix, int w, int h, int channels, float *out,
                                   ipf_err *e) {
    ipf_status st = image_cfg_check(c, e);
    if (st) return st;
    if (!pix || !out) return ipf_fail(e, IPF_ERR_INVALID_ARGUMENT, "image: pixels or output is NULL");
    if (w < 1 || h < 1) return ipf_fail(e, IPF_ERR_SHAPE, "image: size %dx%d must be at least 1x1", w, h);
    if (channels < 1 || channels > 4)
        return ipf_fail(e, IPF_ERR_SHAPE, "image: %d channels; expected 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA)",
                        channels);
    if ((uint64_t)w * (uint64_t)h > (uint64_t)INT_MAX * 2)
        return ipf_fail(e, IPF_ERR_LIMIT, "image: %dx%d pixels is too large", w, h);
    /* PIL convert('RGB'): gray is replicated, alpha dropped (not composited).
     * Resampling is per channel, so gray is resized once and replicated after. */
    int use = channels <= 2 ? 1 : 3;
    int crop = c->crop;
    uint8_t *u8 = ipf_malloc_array((size_t)crop * crop, (size_t)use);
    if (!u8) return ipf_fail(e, IPF_ERR_OUT_OF_MEMORY, "image: out of memory for a %dx%d crop", crop, crop);
    st = resize_crop(pix, w, h, channels, use, c->resize_short, crop, u8, e);
    if (!st) {
        /* ToTensor: float(v) / 255; Normalize: (x - mean) / std, all float32. */
        size_t plane = (size_t)crop * crop;
        for (int ch = 0; ch < 3; ch++) {
            int sc = use == 1 ? 0 : ch;
            float m = c->mean[ch], s = c->std[ch];
            float *o = out + ch * plane;
            for (size_t i = 0; i < plane; i++) {
                float x = (float)u8[i * use + sc] / 255.0f;
                o[i] = (x - m) / s;
            }
        }
    }
    free(u8);
    return st;
}

/* ---- decoding --------------------------------------------------------------- */

static const char *stb_reason(void) {
    const char *r = stbi_failure_reason();
    return r ? r : "unknown reason";
}

/* After stbi_info fails, its reason is the last format's ("unknown image
 * type").  Find the format the decoder would pick (stbi__load_main's order)
 * and ask that format's header parser for the real reason. */
static const char *stb_diagnose(const uint8_t *d, size_t len, const char **fmt) {
    static const struct {
        const char *name;
        int (*test)(stbi__context *);
        int (*info)(stbi__context *, int *, int *, int *);
    } F[] = {{"JPEG", stbi__jpeg_test, stbi__jpeg_info}, {"PNG", stbi__png_test, stbi__png_info},
             {"BMP", stbi__bmp_test, stbi__bmp_info},    {"GIF", stbi__gif_test, stbi__gif_info},
             {"PSD", stbi__psd_test, stbi__psd_info},    {"PNM", stbi__pnm_test, stbi__pnm_info},
             {"TGA", stbi__tga_test, stbi__tga_info}};
    stbi__context s;
    for (size_t i = 0; i < sizeof F / sizeof F[0]; i++) {
        stbi__start_mem(&s, d, (int)len);
        if (!F[i].test(&s)) continue;
        *fmt = F[i].name;
        stbi__start_mem(&s, d, (int)len);
        int x, y, c;
        stbi__g_failure_reason = "corrupt header";
        if (F[i].info(&s, &x, &y, &c)) return "header accepted on retry";
        return stb_reason();
    }
    *fmt = "unknown format";
    return "not JPEG, PNG, BMP, GIF, PSD, PNM or TGA";
}

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* JPEG: stb 2.27 writes past a Huffman table when a DHT segment's sixteen
 * code counts sum above 256 (fixed in 2.28).  Walk the marker segments, and
 * the markers inside entropy-coded data, and check every table.  1 = bad. */
static int jpeg_bad_dht(const uint8_t *d, size_t len) {
    if (len < 4 || d[0] != 0xFF || d[1] != 0xD8) return 0;
    size_t p = 2;
    while (p + 1 < len) {
        if (d[p] != 0xFF) { /* entropy-coded data */
            p++;
            continue;
        }
        uint8_t m = d[p + 1];
        if (m == 0xFF) { /* fill byte */
            p++;
            continue;
        }
        if (m == 0x00 || m == 0x01 || m == 0xD8 || (m >= 0xD0 && m <= 0xD7)) { /* stuffing, TEM, SOI, RSTn */
            p += 2;
            continue;
        }
        if (m == 0xD9 || p + 4 > len) return 0; /* EOI */
        size_t L = (size_t)d[p + 2] << 8 | d[p + 3];
        if (m == 0xC4) {
            size_t q = p + 4, end = p + 2 + L < len ? p + 2 + L : len;
            while (q + 17 <= end) {
                unsigned n = 0;
                for (int i = 1; i <= 16; i++) n += d[q + i];
                if (n > 256) return 1;
                q += 17 + n;
            }
        }
        p += 2 + L;
    }
    return 0;
}

/* PNG: inflate the IDAT stream once with zlib before stb does.  stb 2.27's
 * inflater reads past its tables on the invalid length/distance codes
 * 286-287 / 30-31 (fixed in 2.28), and a stream that inflates to more than
 * the header's image size is a decompression bomb.  Status IPF_OK when the
 * stream is clean or absent (stb then reports what is wrong). */
static ipf_status png_precheck(const uint8_t *d, size_t len, const char *what, uint64_t max_raw, ipf_err *e) {
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (len < 8 || memcmp(d, sig, 8)) return IPF_OK;
    z_stream z;
    memset(&z, 0, sizeof z);
    int started = 0, raw = 0, zr = Z_OK;
    uint8_t sink[16384];
    uint64_t total = 0;
    ipf_status st = IPF_OK;
    for (size_t p = 8; p + 12 <= len && zr != Z_STREAM_END;) {
        uint32_t n = be32(d + p);
        const uint8_t *type = d + p + 4;
        if (n > len - p - 12) break; /* truncated chunk: stb reports it */
        if (!memcmp(type, "CgBI", 4)) raw = 1; /* Apple PNG: raw deflate */
        if (!memcmp(type, "IEND", 4)) break;
        if (!memcmp(type, "IDAT", 4) && n) {
            if (!started) {
                if ((raw ? inflateInit2(&z, -15) : inflateInit(&z)) != Z_OK)
                    return ipf_fail(e, IPF_ERR_OUT_OF_MEMORY, "%s: cannot initialise zlib", what);
                started = 1;
            }
            z.next_in = (Bytef *)(d + p + 8);
            z.avail_in = n;
            while (z.avail_in && zr != Z_STREAM_END) {
                z.next_out = sink;
                z.avail_out = sizeof sink;
                zr = inflate(&z, Z_NO_FLUSH);
                total += sizeof sink - z.avail_out;
                if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR) {
                    st = ipf_fail(e, IPF_ERR_IMAGE, "%s: corrupt PNG image data (zlib: %s)", what,
                                  z.msg ? z.msg : "error");
                    goto done;
                }
                if (total > max_raw) {
                    st = ipf_fail(e, IPF_ERR_LIMIT, "%s: PNG image data inflates to more than %llu bytes, over what its header allows (a decompression bomb?)",
                                  what, (unsigned long long)max_raw);
                    goto done;
                }
            }
        }
        p += 12 + (size_t)n;
    }
done:
    if (started) inflateEnd(&z);
    return st;
}

static uint32_t le16(const uint8_t *p) { return p[0] | (uint32_t)p[1] << 8; }
static uint32_t le32(const uint8_t *p) { return le16(p) | le16(p + 2) << 16; }

/* GIF: walk the blocks up to the end of the first image's data. */
static int gif_first_frame_complete(const uint8_t *d, size_t len) {
    if (len < 13) return 0;
    size_t pos = 13;
    if (d[10] & 0x80) pos += 3u * (2u << (d[10] & 7));
    for (;;) {
        if (pos >= len) return 0;
        uint8_t b = d[pos++];
        if (b == 0x21) {
            pos++; /* label */
        } else if (b == 0x2C) {
            if (pos + 9 > len) return 0;
            uint8_t f = d[pos + 8];
            pos += 9;
            if (f & 0x80) pos += 3u * (2u << (f & 7));
            pos++; /* LZW minimum code size */
        } else {
            return 1; /* trailer or junk: stb decides */
        }
        for (;;) { /* data sub-blocks up to the zero-length terminator */
            if (pos >= len) return 0;
            uint8_t n = d[pos++];
            if (!n) break;
            pos += n;
        }
        if (b == 0x2C) return 1;
    }
}

/* stb_image reads zeros past the end of uncompressed BMP, TGA, PNM and GIF
 * data and reports success; PIL refuses such files ("image file is
 * truncated").  Returns the bytes needed when `d` is shorter, else 0. */
static uint64_t truncated_need(const uint8_t *d, size_t len) {
    stbi__context s;
    stbi__start_mem(&s, d, (int)len);
    if (len >= 2 && d[0] == 'B' && d[1] == 'M') {
        if (len < 30) return 30;
        uint32_t off = le32(d + 10), hsz = le32(d + 14);
        uint64_t w, h, bpp, comp = 0;
        if (hsz == 12) {
            w = le16(d + 18), h = le16(d + 20), bpp = le16(d + 24);
        } else {
            if (len < 34) return 34;
            int32_t sh = (int32_t)le32(d + 22);
            w = (uint32_t)abs((int32_t)le32(d + 18)), h = (uint64_t)(sh < 0 ? -(int64_t)sh : sh);
            bpp = le16(d + 28), comp = le32(d + 30);
        }
        if (comp != 0 && comp != 3) return 0; /* RLE etc.: stb refuses those itself */
        uint64_t need = off + (w * bpp + 31) / 32 * 4 * h;
        return len < need ? need : 0;
    }
    if (len >= 4 && !memcmp(d, "GIF8", 4)) return gif_first_frame_complete(d, len) ? 0 : UINT64_MAX;
    int px, py, pc;
    if (stbi__pnm_test(&s)) {
        int bits = stbi__pnm_info(&s, &px, &py, &pc);
        if (bits <= 0 || px < 0 || py < 0) return 0;
        uint64_t need = (uint64_t)(s.img_buffer - s.img_buffer_original) + (uint64_t)px * py * pc * (bits / 8);
        return len < need ? need : 0;
    }
    /* TGA has no magic: only when no earlier format claims the data, as stb orders them. */
    if (!stbi__jpeg_test(&s) && !stbi__png_test(&s) && !stbi__psd_test(&s) && stbi__tga_test(&s) && len >= 18) {
        int type = d[2]; /* 1, 2, 3 uncompressed; 9, 10, 11 RLE */
        if (type != 1 && type != 2 && type != 3) return 0;
        uint64_t cmap = d[1] ? (uint64_t)le16(d + 5) * ((d[7] + 7) / 8) : 0;
        uint64_t need = 18 + d[0] + cmap + (uint64_t)le16(d + 12) * le16(d + 14) * ((d[16] + 7) / 8);
        return len < need ? need : 0;
    }
    return 0;
}

ipf_status image_decode(const void *data, size_t len, const char *what, int64_t max_pixels, int64_t max_bytes,
                        uint8_t **pix, int *w, int *h, int *channels, ipf_err *e) {
    if (!what) what = "buffer";
    if (!pix || !w || !h || !channels) return ipf_fail(e, IPF_ERR_INVALID_ARGUMENT, "%s: NULL output argument", what);
    *pix = NULL;
    if (!data && len) return ipf_fail(e, IPF_ERR_INVALID_ARGUMENT, "%s: data is NULL", what);
    if (len == 0) return ipf_fail(e, IPF_ERR_IMAGE, "%s: empty (0 bytes), not an image", what);
    if (max_bytes > 0 && (uint64_t)len > (uint64_t)max_bytes)
        return ipf_fail(e, IPF_ERR_LIMIT, "%s: %zu bytes is over the image size limit of %lld bytes (IPF_OPT_MAX_IMAGE_BYTES)",
                        what, len, (long long)max_bytes);
    if (len > INT_MAX)
        return ipf_fail(e, IPF_ERR_LIMIT, "%s: %zu bytes is over the decoder's limit of %d bytes", what, len, INT_MAX);

    /* Header first: refuse oversized images before any large allocation. */
    g_budget = (stb_budget){0, (size_t)16 << 20, 0};
    int iw = 0, ih = 0, comp = 0;
    int ok = stbi_info_from_memory(data, (int)len, &iw, &ih, &comp);
    if (!ok) {
        g_budget = (stb_budget){0, SIZE_MAX, 0};
        const char *fmt, *why = stb_diagnose(data, len, &fmt);
        if (!strcmp(why, "too large"))
            return ipf_fail(e, IPF_ERR_LIMIT, "%s: %s header gives a size too large to decode (%s)", what, fmt, why);
        return ipf_fail(e, IPF_ERR_IMAGE, "%s: not a decodable image (%s: %s)", what, fmt, why);
    }
    if (iw < 1 || ih < 1) {
        g_budget = (stb_budget){0, SIZE_MAX, 0};
        return ipf_fail(e, IPF_ERR_IMAGE, "%s: image header gives size %dx%d", what, iw, ih);
    }
    int64_t npix = (int64_t)iw * ih;
    if (max_pixels > 0 && npix > max_pixels) {
        g_budget = (stb_budget){0, SIZE_MAX, 0};
        return ipf_fail(e, IPF_ERR_LIMIT, "%s: %dx%d = %lld pixels is over the limit of %lld (IPF_OPT_MAX_IMAGE_PIXELS)",
                        what, iw, ih, (long long)npix, (long long)max_pixels);
    }
    if (jpeg_bad_dht(data, len)) {
        g_budget = (stb_budget){0, SIZE_MAX, 0};
        return ipf_fail(e, IPF_ERR_IMAGE, "%s: corrupt JPEG (a Huffman table has more than 256 codes)", what);
    }
    /* Raw PNG data: at most 8 bytes a pixel (16-bit RGBA) plus a filter byte
     * a row, and under 2x that with Adam7 interlacing. */
    ipf_status pst = png_precheck(data, len, what, 2 * (uint64_t)ih * (1 + 8 * (uint64_t)iw) + 64, e);
    if (pst) {
        g_budget = (stb_budget){0, SIZE_MAX, 0};
        return pst;
    }
    uint64_t need = truncated_need(data, len);
    if (need) {
        g_budget = (stb_budget){0, SIZE_MAX, 0};
        if (need == UINT64_MAX)
            return ipf_fail(e, IPF_ERR_IMAGE, "%s: truncated image (%zu bytes end inside the first frame)", what, len);
        return ipf_fail(e, IPF_ERR_IMAGE, "%s: truncated image (%zu bytes; its header needs %llu)", what, len,
                        (unsigned long long)need);
    }
    /* Decoding memory: generously 32 bytes a pixel (16-bit RGBA PNG: raw
     * stream + unfiltered image + conversions; progressive JPEG: coefficients
     * + planes), MCU padding, the compressed data twice, and 16 MiB. */
    uint64_t cap = 32 * (uint64_t)(iw + 16) * (uint64_t)(ih + 16) + 2 * (uint64_t)len + ((uint64_t)16 << 20);
    g_budget = (stb_budget){0, cap > SIZE_MAX ? SIZE_MAX : (size_t)cap, 0};

    int req = comp <= 2 ? 1 : 3; /* gray sources stay one channel */
    int dw = 0, dh = 0, dc = 0;
    stbi_uc *p = stbi_load_from_memory(data, (int)len, &dw, &dh, &dc, req);
    int over = g_budget.over;
    g_budget = (stb_budget){0, SIZE_MAX, 0};
    if (!p) {
        if (over)
            return ipf_fail(e, IPF_ERR_LIMIT, "%s: decoding a %dx%d image needs more than %llu bytes of memory (corrupt or a decompression bomb)",
                            what, iw, ih, (unsigned long long)cap);
        return ipf_fail(e, IPF_ERR_IMAGE, "%s: cannot decode image (%s)", what, stb_reason());
    }
    if (dw != iw || dh != ih) {
        stbi_image_free(p);
        return ipf_fail(e, IPF_ERR_IMAGE, "%s: decoded size %dx%d differs from the header's %dx%d", what, dw, dh, iw,
                        ih);
    }
    *pix = p;
    *w = dw;
    *h = dh;
    *channels = req;
    return IPF_OK;
}

void image_pixels_free(uint8_t *pix) { stbi_image_free(pix); }

ipf_status image_preprocess_encoded(const image_cfg *c, const void *data, size_t len, const char *what,
                                    int64_t max_pixels, int64_t max_bytes, float *out, ipf_err *e) {
    ipf_status st = image_cfg_check(c, e);
    if (st) return st;
    uint8_t *pix;
    int w, h, ch;
    st = image_decode(data, len, what, max_pixels, max_bytes, &pix, &w, &h, &ch, e);
    if (st) return st;
    st = image_preprocess_pixels(c, pix, w, h, ch, out, e);
    image_pixels_free(pix);
    return st;
}

ipf_status image_read_file(const char *path, int64_t max_bytes, void **data, size_t *len, ipf_err *e) {
    *data = NULL;
    *len = 0;
    if (!path) return ipf_fail(e, IPF_ERR_INVALID_ARGUMENT, "image path is NULL");
    char eb[256];
    FILE *f = fopen(path, "rb");
    if (!f)
        return ipf_fail(e, errno == ENOENT ? IPF_ERR_NOT_FOUND : IPF_ERR_IO, "%s: cannot open image file: %s", path,
                        strerror_r(errno, eb, sizeof eb));
    struct stat sb;
    if (fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode) && max_bytes > 0 && sb.st_size > max_bytes) {
        fclose(f);
        return ipf_fail(e, IPF_ERR_LIMIT, "%s: %lld bytes is over the image size limit of %lld bytes (IPF_OPT_MAX_IMAGE_BYTES)",
                        path, (long long)sb.st_size, (long long)max_bytes);
    }
    if (fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode)) {
        fclose(f);
        return ipf_fail(e, IPF_ERR_IO, "%s: is a directory, not an image file", path);
    }
    /* Read up to max_bytes + 1 so a growing file or a pipe is caught too. */
    size_t lim = max_bytes > 0 ? (size_t)max_bytes : (size_t)INT_MAX;
    size_t cap = S_ISREG(sb.st_mode) && sb.st_size > 0 ? (size_t)sb.st_size + 1 : 65536, n = 0;
    if (cap > lim + 1) cap = lim + 1;
    unsigned char *buf = malloc(cap);
    if (!buf) {
        fclose(f);
        return ipf_fail(e, IPF_ERR_OUT_OF_MEMORY, "%s: out of memory reading %zu bytes", path, cap);
    }
    for (;;) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n > lim) {
            free(buf);
            fclose(f);
            return ipf_fail(e, IPF_ERR_LIMIT, "%s: over the image size limit of %lld bytes (IPF_OPT_MAX_IMAGE_BYTES)", path,
                            (long long)max_bytes);
        }
        if (got == 0 || n < cap) {
            if (ferror(f)) {
                free(buf);
                fclose(f);
                return ipf_fail(e, IPF_ERR_IO, "%s: read error", path);
            }
            if (feof(f)) break;
        }
        if (n == cap) {
            size_t ncap = cap * 2 > lim + 1 ? lim + 1 : cap * 2;
            unsigned char *nb = realloc(buf, ncap);
            if (!nb) {
                free(buf);
                fclose(f);
                return ipf_fail(e, IPF_ERR_OUT_OF_MEMORY, "%s: out of memory reading the file", path);
            }
            buf = nb;
            cap = ncap;
        }
    }
    fclose(f);
    *data = buf;
    *len = n;
    return IPF_OK;
}

/* ---- public API --------------------------------------------------------------- */

static const image_cfg *session_cfg(const ipf_session *s, image_cfg *def) {
    const image_cfg *c = s->model ? (const image_cfg *)s->model->part[IPF_PART_IMAGE_CFG] : NULL;
    if (c) return c;
    image_cfg_default(def);
    return def;
}

static ipf_status check_out(ipf_session *s, const image_cfg *c, const float *out, size_t out_cap, const char *fn) {
    size_t need = (size_t)3 * c->crop * c->crop;
    if (!out) return ipf_fail(&s->err, IPF_ERR_INVALID_ARGUMENT, "%s: out is NULL", fn);
    if (out_cap < need)
        return ipf_fail(&s->err, IPF_ERR_BUFFER_TOO_SMALL, "%s: out_cap %zu floats < %zu needed (3 x %d x %d)", fn, out_cap,
                        need, c->crop, c->crop);
    return IPF_OK;
}

IPF_API ipf_status ipf_session_preprocess_image(ipf_session *session, const void *data, size_t len, float *out,
                                                size_t out_cap) {
    if (!session) return ipf_fail(NULL, IPF_ERR_INVALID_ARGUMENT, "ipf_session_preprocess_image: session is NULL");
    image_cfg def;
    const image_cfg *c = session_cfg(session, &def);
    ipf_status st = check_out(session, c, out, out_cap, "ipf_session_preprocess_image");
    if (st) return st;
    return image_preprocess_encoded(c, data, len, "buffer", session->opt[IPF_OPT_MAX_IMAGE_PIXELS],
                                    session->opt[IPF_OPT_MAX_IMAGE_BYTES], out, &session->err);
}

IPF_API ipf_status ipf_session_preprocess_rgb(ipf_session *session, const uint8_t *pixels, int32_t width,
                                              int32_t height, int32_t channels, float *out, size_t out_cap) {
    if (!session) return ipf_fail(NULL, IPF_ERR_INVALID_ARGUMENT, "ipf_session_preprocess_rgb: session is NULL");
    image_cfg def;
    const image_cfg *c = session_cfg(session, &def);
    ipf_status st = check_out(session, c, out, out_cap, "ipf_session_preprocess_rgb");
    if (st) return st;
    if (width > 0 && height > 0 && (int64_t)width * height > session->opt[IPF_OPT_MAX_IMAGE_PIXELS])
        return ipf_fail(&session->err, IPF_ERR_LIMIT,
                        "ipf_session_preprocess_rgb: %dx%d pixels is over the limit of %lld (IPF_OPT_MAX_IMAGE_PIXELS)",
                        width, height, (long long)session->opt[IPF_OPT_MAX_IMAGE_PIXELS]);
    return image_preprocess_pixels(c, pixels, width, height, channels, out, &session->err);
}

/* ---- preprocess + Inception-v3 ------------------------------------------------ */

/* Shared tail of the encode_image_* calls: checks, preprocessing by `prep`,
 * then the encoder with N = 1. */
typedef ipf_status (*prep_fn)(const image_cfg *c, ipf_session *s, const void *arg, float *x);

static ipf_status encode_common(ipf_session *s, const char *fn, prep_fn prep, const void *arg, float *pool,
                                size_t pool_cap) {
    if (!s) return ipf_fail(NULL, IPF_ERR_INVALID_ARGUMENT, "%s: session is NULL", fn);
    if (!pool) return ipf_fail(&s->err, IPF_ERR_INVALID_ARGUMENT, "%s: pool is NULL", fn);
    if (!s->model->part[IPF_PART_INCEPTION])
        return ipf_fail(&s->err, IPF_ERR_NOT_FOUND,
                        "%s: the model has no image encoder (load one with ipf_model_load_inception, or a bundle with inception/model.safetensors)",
                        fn);
    if (pool_cap < INCEPTION_POOL_DIM)
        return ipf_fail(&s->err, IPF_ERR_BUFFER_TOO_SMALL, "%s: pool_cap %zu floats < %d needed", fn, pool_cap,
                        INCEPTION_POOL_DIM);
    image_cfg def;
    const image_cfg *c = session_cfg(s, &def);
    ipf_status st = image_cfg_check(c, &s->err);
    if (st) return st;
    float *x = ipf_malloc_array((size_t)3 * c->crop * c->crop, sizeof(float)); /* (1,3,crop,crop) */
    if (!x) return ipf_fail(&s->err, IPF_ERR_OUT_OF_MEMORY, "%s: out of memory for the image tensor", fn);
    st = prep(c, s, arg, x);
    if (!st) st = ipf_session_encode_image_tensor(s, x, 1, c->crop, c->crop, pool, pool_cap);
    free(x);
    return st;
}

typedef struct encoded_arg {
    const void *data;
    size_t len;
    const char *what;
} encoded_arg;

static ipf_status prep_encoded(const image_cfg *c, ipf_session *s, const void *arg, float *x) {
    const encoded_arg *a = arg;
    return image_preprocess_encoded(c, a->data, a->len, a->what, s->opt[IPF_OPT_MAX_IMAGE_PIXELS],
                                    s->opt[IPF_OPT_MAX_IMAGE_BYTES], x, &s->err);
}

static ipf_status prep_file(const image_cfg *c, ipf_session *s, const void *arg, float *x) {
    const char *path = arg;
    void *data;
    size_t len;
    ipf_status st = image_read_file(path, s->opt[IPF_OPT_MAX_IMAGE_BYTES], &data, &len, &s->err);
    if (st) return st;
    encoded_arg a = {data, len, path};
    st = prep_encoded(c, s, &a, x);
    free(data);
    return st;
}

typedef struct pixels_arg {
    const uint8_t *pix;
    int32_t w, h, ch;
} pixels_arg;

static ipf_status prep_pixels(const image_cfg *c, ipf_session *s, const void *arg, float *x) {
    const pixels_arg *a = arg;
    if (a->w > 0 && a->h > 0 && (int64_t)a->w * a->h > s->opt[IPF_OPT_MAX_IMAGE_PIXELS])
        return ipf_fail(&s->err, IPF_ERR_LIMIT, "pixels: %dx%d is over the limit of %lld (IPF_OPT_MAX_IMAGE_PIXELS)",
                        a->w, a->h, (long long)s->opt[IPF_OPT_MAX_IMAGE_PIXELS]);
    return image_preprocess_pixels(c, a->pix, a->w, a->h, a->ch, x, &s->err);
}

IPF_API ipf_status ipf_session_encode_image_file(ipf_session *session, const char *path, float *pool,
                                                 size_t pool_cap) {
    if (session && !path)
        return ipf_fail(&session->err, IPF_ERR_INVALID_ARGUMENT, "ipf_session_encode_image_file: path is NULL");
    return encode_common(session, "ipf_session_encode_image_file", prep_file, path, pool, pool_cap);
}

IPF_API ipf_status ipf_session_encode_image_memory(ipf_session *session, const void *data, size_t len,
                                                   float *pool, size_t pool_cap) {
    encoded_arg a = {data, len, "buffer"};
    return encode_common(session, "ipf_session_encode_image_memory", prep_encoded, &a, pool, pool_cap);
}

IPF_API ipf_status ipf_session_encode_image_rgb(ipf_session *session, const uint8_t *pixels, int32_t width,
                                                int32_t height, int32_t channels, float *pool, size_t pool_cap) {
    pixels_arg a = {pixels, width, height, channels};
    return encode_common(session, "ipf_session_encode_image_rgb", prep_pixels, &a, pool, pool_cap);
}
