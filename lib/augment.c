/* augment.c — Keras ImageDataGenerator-style augmentation on a preprocessed
 * (C,H,W) tensor: random rotation, width/height shift, zoom, horizontal flip
 * and channel shift, composed as Keras's apply_affine_transform does
 * (input = centre + R(theta) . (Z . d + t), d = output - centre) and sampled
 * bilinearly (scipy order=1) with 'nearest' (edge) or 'constant' fill.
 * Channel shift follows Keras's apply_channel_shift: one intensity added to
 * every channel, clipped to the image's min/max.  Parameters are drawn from
 * the caller's RNG in a fixed order (7 draws) whatever the ranges, so a run
 * is reproducible from its seed. */
#include "train.h"

#include <math.h>
#include <string.h>

static float tap(const float *plane, int H, int W, int y, int x, const augment_cfg *c) {
    if (y < 0 || y >= H || x < 0 || x >= W) {
        if (!c->fill_nearest) return c->fill_value;
        y = y < 0 ? 0 : y >= H ? H - 1 : y;
        x = x < 0 ? 0 : x >= W ? W - 1 : x;
    }
    return plane[(size_t)y * W + x];
}

void augment_image(const augment_cfg *c, ipf_rng *r, const float *in, float *out, int C, int H, int W) {
    float u_rot = rng_uniform(r), u_ty = rng_uniform(r), u_tx = rng_uniform(r);
    float u_zy = rng_uniform(r), u_zx = rng_uniform(r), u_flip = rng_uniform(r), u_ch = rng_uniform(r);
    double theta = c->rotation_deg > 0 ? (2 * u_rot - 1) * c->rotation_deg * M_PI / 180.0 : 0.0;
    double ty = c->shift_frac > 0 ? (2 * u_ty - 1) * c->shift_frac * H : 0.0;
    double tx = c->shift_frac > 0 ? (2 * u_tx - 1) * c->shift_frac * W : 0.0;
    double zy = c->zoom > 0 ? 1 - c->zoom + 2 * c->zoom * u_zy : 1.0;
    double zx = c->zoom > 0 ? 1 - c->zoom + 2 * c->zoom * u_zx : 1.0;
    int flip = c->hflip && u_flip < 0.5f;
    float shift = c->channel_shift > 0 ? (2 * u_ch - 1) * c->channel_shift : 0.0f;

    size_t plane = (size_t)H * W;
    if (theta == 0 && ty == 0 && tx == 0 && zy == 1 && zx == 1 && !flip) {
        memcpy(out, in, plane * C * sizeof(float)); /* identity: exact copy */
    } else {
        double cs = cos(theta), sn = sin(theta), cy = (H - 1) / 2.0, cx = (W - 1) / 2.0;
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                double dy = y - cy, dx = (flip ? (W - 1 - x) : x) - cx;
                double py = zy * dy + ty, px = zx * dx + tx; /* zoom, then shift */
                double sy = cy + cs * py - sn * px, sx = cx + sn * py + cs * px;
                int y0 = (int)floor(sy), x0 = (int)floor(sx);
                float fy = (float)(sy - y0), fx = (float)(sx - x0);
                for (int ch = 0; ch < C; ch++) {
                    const float *p = in + ch * plane;
                    float v00 = tap(p, H, W, y0, x0, c), v01 = tap(p, H, W, y0, x0 + 1, c);
                    float v10 = tap(p, H, W, y0 + 1, x0, c), v11 = tap(p, H, W, y0 + 1, x0 + 1, c);
                    out[ch * plane + (size_t)y * W + x] =
                        (1 - fy) * ((1 - fx) * v00 + fx * v01) + fy * ((1 - fx) * v10 + fx * v11);
                }
            }
    }
    if (shift != 0) {
        size_t n = plane * C;
        float lo = out[0], hi = out[0];
        for (size_t i = 1; i < n; i++) {
            lo = out[i] < lo ? out[i] : lo;
            hi = out[i] > hi ? out[i] : hi;
        }
        for (size_t i = 0; i < n; i++) {
            float v = out[i] + shift;
            out[i] = v < lo ? lo : v > hi ? hi : v;
        }
    }
}
