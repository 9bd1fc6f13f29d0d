"""Goldens for the image pipeline (lib/image.c): test images in many formats
and torchvision's preprocessing of each, as PIL + torchvision compute it:

    T.Compose([T.Resize(R), T.CenterCrop(C), T.ToTensor(),
               T.Normalize(IMAGENET_MEAN, IMAGENET_STD)])(Image.open(f).convert('RGB'))

Writes OUTDIR/<files>, OUTDIR/<name>.npy (3, C, C) float32 and
OUTDIR/cases.txt, one case a line:  name file ref.npy R C kind
kind: exact (PNG/BMP/GIF/PPM/TGA: same decoded pixels as stb_image), jpeg
(libjpeg vs stb_image IDCT/upsampling differ), raw:W:H:CH (headerless
interleaved 8-bit pixels for ipf_session_preprocess_rgb).
Seeded; runs in a few seconds.
"""
import struct
import sys
import zlib

import numpy as np
from PIL import Image
import torchvision.transforms as T

OUT = sys.argv[1]
MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]
rng = np.random.default_rng(20200420)
cases = []


def content(w, h, ch=3):
    """Smooth gradients, stripes, rectangles and noise: edges at all scales,
    so any resampling difference shows."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    planes = []
    for c in range(ch):
        f = rng.uniform(0.02, 0.3, 2)
        p = 128 + 60 * np.sin(x * f[0] + c) * np.cos(y * f[1]) + 50 * (x / max(w, 1) - y / max(h, 1))
        planes.append(p)
    a = np.stack(planes, -1)
    for _ in range(6):
        x0, y0 = rng.integers(0, w), rng.integers(0, h)
        a[y0:y0 + rng.integers(1, h + 1), x0:x0 + rng.integers(1, w + 1)] = rng.uniform(0, 255, ch)
    a += rng.normal(0, 12, a.shape)
    return np.clip(np.rint(a), 0, 255).astype(np.uint8)


def ref(img, r, c):
    t = T.Compose([T.Resize(r), T.CenterCrop(c), T.ToTensor(), T.Normalize(MEAN, STD)])
    return t(img.convert('RGB')).numpy().astype(np.float32)


def add(name, fname, kind, r=342, c=299, img=None):
    if img is None:
        img = Image.open(f'{OUT}/{fname}')
        img.load()
    np.save(f'{OUT}/{name}.npy', ref(img, r, c))
    cases.append(f'{name} {fname} {name}.npy {r} {c} {kind}')


def save(name, img, kind='exact', ext='png', **kw):
    fname = f'{name}.{ext}'
    img.save(f'{OUT}/{fname}', **kw)
    add(name, fname, kind)
    return fname


def png16(path, a):
    """Write a 16-bit PNG (PIL cannot write 16-bit RGB): a (h, w[, ch]) uint16."""
    if a.ndim == 2:
        a = a[:, :, None]
    h, w, ch = a.shape
    ctype = {1: 0, 2: 4, 3: 2, 4: 6}[ch]
    raw = b''.join(b'\0' + a[i].astype('>u2').tobytes() for i in range(h))

    def chunk(t, d):
        return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
    with open(path, 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 16, ctype, 0, 0, 0))
                + chunk(b'IDAT', zlib.compress(raw, 6)) + chunk(b'IEND', b''))


# ---- PNG: 8-bit modes, sizes (down- and upscaling, extreme aspect, tiny) ----
save('png_rgb_640x480', Image.fromarray(content(640, 480)))
rgba = np.concatenate([content(300, 400), content(300, 400, 1)], -1)
save('png_rgba_300x400', Image.fromarray(rgba, 'RGBA'))
save('png_gray_500x333', Image.fromarray(content(500, 333, 1)[:, :, 0], 'L'))
la = np.concatenate([content(200, 260, 1), content(200, 260, 1)], -1)
save('png_la_200x260', Image.fromarray(la, 'LA'))
save('png_pal_320x240', Image.fromarray(content(320, 240)).quantize(256))
save('png_pal16_123x77', Image.fromarray(content(123, 77)).quantize(16), bits=4)
save('png_1bit_90x70', Image.fromarray(content(90, 70, 1)[:, :, 0] > 128))
for w, h in [(1, 1), (2, 3), (7, 5), (100, 80), (2000, 50), (40, 900), (342, 500), (457, 342), (300, 299), (400, 400)]:
    save(f'png_rgb_{w}x{h}', Image.fromarray(content(w, h)))

# ---- 16-bit PNG: stb keeps the high byte of each sample.  PIL does the same
# for RGB/RGBA (rawmode RGB;16B), so those references are plain PIL.  For
# 16-bit gray PIL opens mode I and convert('RGB') CLIPS values to 0..255
# (almost all white); we deliberately take the high byte instead, so the
# reference is the high byte through the same transforms. ----
a16 = (content(400, 300).astype(np.uint16) * 257 + rng.integers(0, 257, (300, 400, 3))).astype(np.uint16)
png16(f'{OUT}/png_rgb16_400x300.png', a16)
add('png_rgb16_400x300', 'png_rgb16_400x300.png', 'exact')
a16a = (content(210, 330, 4).astype(np.uint16) * 257).astype(np.uint16)
png16(f'{OUT}/png_rgba16_210x330.png', a16a)
add('png_rgba16_210x330', 'png_rgba16_210x330.png', 'exact')
g16 = (content(350, 300, 1)[:, :, 0].astype(np.uint16) * 257 + rng.integers(0, 257, (300, 350))).astype(np.uint16)
png16(f'{OUT}/png_gray16_350x300.png', g16)
add('png_gray16_350x300', 'png_gray16_350x300.png', 'exact', img=Image.fromarray((g16 >> 8).astype(np.uint8), 'L'))

# ---- other lossless formats ----
save('bmp_rgb_333x222', Image.fromarray(content(333, 222)), ext='bmp')
save('bmp_pal_200x150', Image.fromarray(content(200, 150)).quantize(256), ext='bmp')
save('gif_pal_260x190', Image.fromarray(content(260, 190)).quantize(256), ext='gif')
save('ppm_rgb_150x200', Image.fromarray(content(150, 200)), ext='ppm')
save('tga_rgb_210x160', Image.fromarray(content(210, 160)), ext='tga')

# ---- JPEG: libjpeg (PIL) and stb_image decode differently; see test_image.c ----
save('jpg_baseline_640x480', Image.fromarray(content(640, 480)), 'jpeg', 'jpg', quality=90)
save('jpg_progressive_500x375', Image.fromarray(content(500, 375)), 'jpeg', 'jpg', quality=85, progressive=True)
save('jpg_gray_400x300', Image.fromarray(content(400, 300, 1)[:, :, 0], 'L'), 'jpeg', 'jpg', quality=90)
save('jpg_444_300x300', Image.fromarray(content(300, 300)), 'jpeg', 'jpg', quality=95, subsampling=0)
save('jpg_small_120x90', Image.fromarray(content(120, 90)), 'jpeg', 'jpg', quality=90)
save('jpg_cmyk_320x240', Image.fromarray(content(320, 240, 4), 'CMYK'), 'jpeg', 'jpg', quality=95)

# ---- other configurations: ImageNet's 256/224, and a crop larger than the
# resized image (torchvision pads with zeros) ----
add('cfg_256_224', 'png_rgb_640x480.png', 'exact', 256, 224)
add('cfg_pad_100_150', 'png_rgb_100x80.png', 'exact', 100, 150)
add('cfg_pad_7_12', 'png_rgb_2000x50.png', 'exact', 7, 12)

# ---- raw pixels for ipf_session_preprocess_rgb (channels 1..4) ----
for ch, mode in [(1, 'L'), (2, 'LA'), (3, 'RGB'), (4, 'RGBA')]:
    w, h = 180 + ch, 150 - ch
    a = content(w, h, ch)
    fname = f'raw_{ch}_{w}x{h}.raw'
    with open(f'{OUT}/{fname}', 'wb') as f:
        f.write(a.tobytes())
    img = Image.fromarray(a[:, :, 0] if ch == 1 else a, mode)
    np.save(f'{OUT}/raw_{ch}.npy', ref(img, 342, 299))
    cases.append(f'raw_{ch} {fname} raw_{ch}.npy 342 299 raw:{w}:{h}:{ch}')

# ---- for tests/check_20_cli_image.sh: the references of two lossless files
# stacked (N,3,299,299), so `ipf embed-image IMAGE...` and `--npy` must agree ----
np.save(f'{OUT}/batch_refs.npy', np.stack([np.load(f'{OUT}/png_rgb_640x480.npy'),
                                           np.load(f'{OUT}/bmp_rgb_333x222.npy')]))

with open(f'{OUT}/cases.txt', 'w') as f:
    f.write('\n'.join(cases) + '\n')
print(f'image: {len(cases)} cases in {OUT}')
