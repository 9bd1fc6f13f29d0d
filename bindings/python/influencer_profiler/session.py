"""Session (per-thread working state) and Post."""
import collections
import ctypes
import dataclasses
import os
import re
import threading
from typing import Any, Optional, Union

from . import _arrays, _lib
from .enums import Backend, Dim, Head, Option, coerce
from .errors import Status, StateError
from ._lib import check, lib

PostEncoding = collections.namedtuple('PostEncoding', 'text_feature image_feature post_vec')

# Default preprocessing size (DESIGN.md §4).  A model's image configuration
# may set another crop; the API has no dimension for it yet, so
# Session.image_shape asks the library with an empty buffer and reads the
# size from its BUFFER_TOO_SMALL message, falling back to this.
IMAGE_SHAPE = (3, 299, 299)
_SHAPE_RE = re.compile(r'\(3 x (\d+) x (\d+)\)')


@dataclasses.dataclass
class Post:
    """One post.  Each modality comes from the first of: cached feature, raw
    input (image bytes before image_path).  A post with neither modality is
    rejected by the library."""
    caption: Optional[Union[str, bytes]] = None
    image: Optional[bytes] = None            # encoded image bytes
    image_path: Optional[Union[str, bytes, os.PathLike]] = None
    text_feature: Any = None                 # cached x_T (Dim.TEXT floats)
    image_feature: Any = None                # cached Inception pool (Dim.IMAGE_POOL floats)
    id: Any = None                           # caller's label; not sent to the library

    def _to_c(self, model, keep):
        """Fill a CPost; buffers that must outlive the call go to `keep`."""
        c = _lib.CPost()
        c.struct_size = ctypes.sizeof(_lib.CPost)
        if self.caption is not None:
            b = self.caption.encode('utf-8') if isinstance(self.caption, str) else bytes(self.caption)
            keep.append(b)
            c.caption = b
            c.caption_len = len(b)
        if self.image is not None:
            k, ptr, n = _arrays.bytes_buffer(self.image)
            keep.append(k)
            c.image_data = ptr
            c.image_len = n
        if self.image_path is not None:
            p = _lib.as_bytes_path(self.image_path)
            keep.append(p)
            c.image_path = p
        if self.text_feature is not None:
            f = _arrays.FloatIn(self.text_feature, model.dim_or_default(Dim.TEXT), 'Post.text_feature')
            keep.append(f)
            c.text_feature = f.ptr
        if self.image_feature is not None:
            f = _arrays.FloatIn(self.image_feature, model.dim_or_default(Dim.IMAGE_POOL), 'Post.image_feature')
            keep.append(f)
            c.image_feature = f.ptr
        return c


def _post_array(posts, model, keep):
    posts = [p if isinstance(p, Post) else Post(**p) for p in posts]
    arr = (_lib.CPost * max(len(posts), 1))()
    for i, p in enumerate(posts):
        arr[i] = p._to_c(model, keep)
    keep.append(arr)
    return posts, arr


def _text_bytes(text):
    return text.encode('utf-8') if isinstance(text, str) else bytes(text)


class Session(_lib.Closeable):
    """Per-thread working state on a Model.  Calls on one Session are
    serialised by a lock; for parallel work make one Session per thread.
    Options are properties (threads, backend, max_image_pixels,
    max_image_bytes, max_tokens) or set_option/get_option."""

    def __init__(self, model, **options):
        self.model = model
        self._handle = None
        self._lock = threading.RLock()
        self._image_shape = None
        out = _lib.session_p()
        # Under the model's lock, so a concurrent Model.close() either sees
        # this session (and closes it first) or happens before it exists.
        with model._lock:
            check(lib().ipf_session_create(model.handle, ctypes.byref(out)))
            self._handle = out
            model._sessions.add(self)
        if options:
            self.set_options(**options)

    # ---- plumbing --------------------------------------------------------
    @property
    def handle(self):
        if self._handle is None:
            raise StateError(Status.STATE, 'session is closed')
        return self._handle

    @property
    def closed(self):
        return self._handle is None

    def _call(self, fn_name, *args):
        """Call a session function, raising with the session's message."""
        with self._lock:
            h = self.handle
            st = getattr(lib(), fn_name)(h, *args)
            if st != 0:
                check(st, lambda: _lib._s(lib().ipf_session_error(h)))

    def close(self):
        """Free the session.  Idempotent."""
        lock = getattr(self, '_lock', None)
        if lock is None:
            return
        with lock:
            handle, self._handle = self._handle, None
        if handle is not None:
            lib().ipf_session_free(handle)

    # ---- options ---------------------------------------------------------
    def set_option(self, option, value):
        option = coerce(Option, option)
        if option == Option.BACKEND:
            value = coerce(Backend, value)
        self._call('ipf_session_set_option', int(option), int(value))

    def get_option(self, option):
        out = ctypes.c_int64()
        self._call('ipf_session_get_option', int(coerce(Option, option)), ctypes.byref(out))
        return out.value

    def set_options(self, **options):
        for k, v in options.items():
            self.set_option(k, v)

    def _opt_prop(option, conv=int):  # noqa: N805 - property factory
        return property(lambda self: conv(self.get_option(option)),
                        lambda self, v: self.set_option(option, v),
                        doc='Option.%s' % option.name)

    threads = _opt_prop(Option.THREADS)
    backend = _opt_prop(Option.BACKEND, Backend)
    max_image_pixels = _opt_prop(Option.MAX_IMAGE_PIXELS)
    max_image_bytes = _opt_prop(Option.MAX_IMAGE_BYTES)
    max_tokens = _opt_prop(Option.MAX_TOKENS)
    del _opt_prop

    # ---- text ------------------------------------------------------------
    def tokenize(self, text):
        """[CLS] ... [SEP] ids of a caption (str or UTF-8 bytes), as a list."""
        b = _text_bytes(text)
        n = ctypes.c_size_t()
        cap = max(self.max_tokens, 2)
        while True:
            ids = (ctypes.c_int32 * cap)()
            with self._lock:
                h = self.handle
                st = lib().ipf_session_tokenize(h, b, len(b), ids, cap, ctypes.byref(n))
                if st == Status.BUFFER_TOO_SMALL and n.value > cap:
                    cap = n.value
                    continue
                check(st, lambda: _lib._s(lib().ipf_session_error(h)))
            return list(ids[:n.value])

    def _text_dim(self):
        return self.model.dim(Dim.TEXT)

    def encode_text(self, text):
        """x_T of one caption: Dim.TEXT floats."""
        b = _text_bytes(text)
        out = _arrays.FloatOut(self._text_dim())
        self._call('ipf_session_encode_text', b, len(b), out.ptr, out.size)
        return out.result()

    def encode_texts(self, texts):
        """x_T of n captions: (n, Dim.TEXT)."""
        bs = [_text_bytes(t) for t in texts]
        n = len(bs)
        arr = (ctypes.c_char_p * max(n, 1))(*bs)
        lens = (ctypes.c_size_t * max(n, 1))(*[len(b) for b in bs])
        out = _arrays.FloatOut(n, self._text_dim())
        self._call('ipf_session_encode_text_batch', arr, lens, n, out.ptr, out.size)
        return out.result()

    def encode_ids(self, ids):
        """x_T of one id sequence starting with [CLS]."""
        ids = [int(i) for i in ids]
        buf = (ctypes.c_int32 * max(len(ids), 1))(*ids)
        out = _arrays.FloatOut(self._text_dim())
        self._call('ipf_session_encode_ids', buf, len(ids), out.ptr, out.size)
        return out.result()

    def encode_ids_batch(self, seqs):
        """x_T of n id sequences of any lengths: (n, Dim.TEXT)."""
        bufs = [(ctypes.c_int32 * max(len(s), 1))(*[int(i) for i in s]) for s in seqs]
        n = len(bufs)
        ptrs = (_lib.c_int32_p * max(n, 1))(*[ctypes.cast(b, _lib.c_int32_p) for b in bufs])
        lens = (ctypes.c_size_t * max(n, 1))(*[len(s) for s in seqs])
        out = _arrays.FloatOut(n, self._text_dim())
        self._call('ipf_session_encode_ids_batch', ptrs, lens, n, out.ptr, out.size)
        return out.result()

    # ---- images ----------------------------------------------------------
    def _pool_dim(self):
        return self.model.dim(Dim.IMAGE_POOL)

    @staticmethod
    def _rgb_args(pixels, width, height, channels):
        shape = _arrays.shape_of(pixels) if _arrays.HAVE_NUMPY and hasattr(pixels, 'shape') else ()
        if len(shape) in (2, 3):
            height = shape[0] if height is None else height
            width = shape[1] if width is None else width
            channels = (shape[2] if len(shape) == 3 else 1) if channels is None else channels
        if width is None or height is None:
            raise ValueError('width and height are needed for a flat pixel buffer')
        if channels is None:
            channels = 3
        keep, ptr, nbytes = _arrays.u8_buffer(pixels)
        if nbytes != width * height * channels:
            from .errors import ShapeError
            raise ShapeError(Status.SHAPE, 'pixels hold %d bytes, expected %d x %d x %d' %
                             (nbytes, height, width, channels))
        return keep, ptr, int(width), int(height), int(channels)

    @property
    def image_shape(self):
        """(3, crop, crop) of preprocessed images for this model."""
        if self._image_shape is None:
            shape = IMAGE_SHAPE
            side = ctypes.c_int64(0)
            if lib().has('ipf_model_dim') and lib().ipf_model_dim(self.model.handle, Dim.IMAGE_SIZE,
                                                                  ctypes.byref(side)) == 0:
                shape = (3, side.value, side.value)
            elif lib().has('ipf_session_preprocess_image'):  # libraries before IPF_DIM_IMAGE_SIZE
                one = (ctypes.c_float * 1)()
                with self._lock:
                    h = self.handle
                    st = lib().ipf_session_preprocess_image(h, None, 0, ctypes.cast(one, _lib.c_float_p), 0)
                    m = _SHAPE_RE.search(_lib._s(lib().ipf_session_error(h))) if st == Status.BUFFER_TOO_SMALL else None
                if m:
                    shape = (3, int(m.group(1)), int(m.group(2)))
            self._image_shape = shape
        return self._image_shape

    def preprocess_image(self, data):
        """Decode and preprocess encoded image bytes: (3, crop, crop) float32
        (crop 299 by default)."""
        keep, ptr, n = _arrays.bytes_buffer(data)
        out = _arrays.FloatOut(*self.image_shape)
        self._call('ipf_session_preprocess_image', ptr, n, out.ptr, out.size)
        return out.result()

    def preprocess_rgb(self, pixels, width=None, height=None, channels=None):
        """Preprocess 8-bit pixels (H, W, C) (numpy array, or bytes with the sizes)."""
        keep, ptr, w, h, c = self._rgb_args(pixels, width, height, channels)
        out = _arrays.FloatOut(*self.image_shape)
        self._call('ipf_session_preprocess_rgb', ptr, w, h, c, out.ptr, out.size)
        return out.result()

    def encode_image_file(self, path):
        """Inception pool features (2048) of an image file."""
        out = _arrays.FloatOut(self._pool_dim())
        self._call('ipf_session_encode_image_file', _lib.as_bytes_path(path), out.ptr, out.size)
        return out.result()

    def encode_image_bytes(self, data):
        """Inception pool features of an encoded image in memory."""
        keep, ptr, n = _arrays.bytes_buffer(data)
        out = _arrays.FloatOut(self._pool_dim())
        self._call('ipf_session_encode_image_memory', ptr, n, out.ptr, out.size)
        return out.result()

    encode_image_memory = encode_image_bytes

    def encode_image_rgb(self, pixels, width=None, height=None, channels=None):
        """Inception pool features of 8-bit pixels (H, W, C)."""
        keep, ptr, w, h, c = self._rgb_args(pixels, width, height, channels)
        out = _arrays.FloatOut(self._pool_dim())
        self._call('ipf_session_encode_image_rgb', ptr, w, h, c, out.ptr, out.size)
        return out.result()

    def encode_image_tensor(self, x, n=None, height=None, width=None):
        """Inception on preprocessed images x (n, 3, H, W): (n, 2048).  Without
        numpy, pass x flat or nested with n/height/width."""
        shape = _arrays.shape_of(x)
        if len(shape) == 3:
            shape = (1,) + shape
        if len(shape) == 4:
            n = shape[0] if n is None else n
            height = shape[2] if height is None else height
            width = shape[3] if width is None else width
        if n is None or height is None or width is None:
            raise ValueError('encode_image_tensor: give x as (n, 3, H, W) or pass n, height, width')
        xin = _arrays.FloatIn(x, n * 3 * height * width, 'image tensor')
        out = _arrays.FloatOut(n, self._pool_dim())
        self._call('ipf_session_encode_image_tensor', xin.ptr, int(n), int(height), int(width), out.ptr, out.size)
        return out.result()

    # ---- profiler --------------------------------------------------------
    def _post_dim(self):
        return self.model.dim(Dim.POST)

    def encode_post(self, post):
        """PostEncoding(text_feature, image_feature, post_vec) of one Post
        (or a dict of Post fields)."""
        post = post if isinstance(post, Post) else Post(**post)
        keep = []
        c = post._to_c(self.model, keep)
        t = _arrays.FloatOut(self.model.dim_or_default(Dim.TEXT))
        i = _arrays.FloatOut(self.model.dim_or_default(Dim.IMAGE_POOL))
        v = _arrays.FloatOut(self._post_dim())
        self._call('ipf_session_encode_post', ctypes.byref(c), t.ptr, i.ptr, v.ptr)
        return PostEncoding(t.result(), i.result(), v.result())

    def encode_posts(self, posts):
        """Post vectors of n posts: (n, Dim.POST)."""
        keep = []
        posts, arr = _post_array(posts, self.model, keep)
        out = _arrays.FloatOut(len(posts), self._post_dim())
        self._call('ipf_session_encode_posts', arr, len(posts), out.ptr, out.size)
        return out.result()

    def classify_post(self, post_vec):
        """Post-head probabilities (Dim.POST_CLASSES) of one post vector."""
        v = _arrays.FloatIn(post_vec, self._post_dim(), 'post_vec')
        out = _arrays.FloatOut(self.model.dim(Dim.POST_CLASSES))
        self._call('ipf_session_classify_post', v.ptr, out.ptr, out.size)
        return out.result()

    def pool(self, post_vecs):
        """Attention pooling of (n, Dim.POST) post vectors: (influencer_vec, alpha)."""
        d = self._post_dim()
        v = _arrays.FloatIn(post_vecs, None, 'post_vecs')
        if v.size == 0 or v.size % d:
            from .errors import ShapeError
            raise ShapeError(Status.SHAPE, 'post_vecs has %d floats, not a positive multiple of %d' % (v.size, d))
        n = v.size // d
        h = _arrays.FloatOut(d)
        a = _arrays.FloatOut(n)
        self._call('ipf_session_pool', v.ptr, n, h.ptr, a.ptr, a.size)
        return h.result(), a.result()

    def classify_influencer(self, influencer_vec):
        """Influencer-head probabilities (Dim.INFLUENCER_CLASSES)."""
        v = _arrays.FloatIn(influencer_vec, self._post_dim(), 'influencer_vec')
        out = _arrays.FloatOut(self.model.dim(Dim.INFLUENCER_CLASSES))
        self._call('ipf_session_classify_influencer', v.ptr, out.ptr, out.size)
        return out.result()

    def profile(self, posts):
        """Profile one influencer from n >= 1 posts.  Returns
        {'label', 'probs': {class: p}, 'attention': [n floats],
         'posts': [{'id', 'label', 'probs': {class: p}, 'attention'}]}."""
        keep = []
        posts, arr = _post_array(posts, self.model, keep)
        n = len(posts)
        ci = self.model.dim(Dim.INFLUENCER_CLASSES)
        cp = self.model.dim(Dim.POST_CLASSES)
        inf = _arrays.FloatOut(ci)
        pp = _arrays.FloatOut(max(n, 1), cp)
        al = _arrays.FloatOut(max(n, 1))
        self._call('ipf_session_profile', arr, n, inf.ptr, pp.ptr, al.ptr)
        inf_names = self.model.class_names(Head.INFLUENCER)
        post_names = self.model.class_names(Head.POST)
        inf_p = [float(x) for x in inf.result()]
        post_p = [[float(x) for x in row] for row in pp.result()]
        alpha = [float(x) for x in al.result()]

        def named(names, probs):
            return dict(zip(names, probs))

        def top(names, probs):
            return names[max(range(len(probs)), key=probs.__getitem__)]

        return {
            'label': top(inf_names, inf_p),
            'probs': named(inf_names, inf_p),
            'attention': alpha[:n],
            'posts': [{'id': posts[i].id, 'label': top(post_names, post_p[i]),
                       'probs': named(post_names, post_p[i]), 'attention': alpha[i]} for i in range(n)],
        }
