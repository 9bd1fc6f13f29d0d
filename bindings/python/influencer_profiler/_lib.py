"""Shared loader for the ctypes binding: finds the library, declares C
signatures, turns status codes into exceptions.

Other modules of the package (and later ones, e.g. train.py) add their
functions with `declare(name, restype, argtypes)` and call them as
`lib().name(...)`.  A function missing from the loaded library (an older
build) raises UnsupportedError when first used, not at import.
"""
import ctypes
import ctypes.util
import os
import threading

from . import errors

c_float_p = ctypes.POINTER(ctypes.c_float)
c_int32_p = ctypes.POINTER(ctypes.c_int32)
c_int64_p = ctypes.POINTER(ctypes.c_int64)
c_size_t_p = ctypes.POINTER(ctypes.c_size_t)
c_char_pp = ctypes.POINTER(ctypes.c_char_p)
c_status = ctypes.c_int

SONAME = 'libinfluencer_profiler.so.0'


class ModelHandle(ctypes.Structure):
    """Opaque ipf_model."""


class SessionHandle(ctypes.Structure):
    """Opaque ipf_session."""


class TrainerHandle(ctypes.Structure):
    """Opaque ipf_trainer."""


model_p = ctypes.POINTER(ModelHandle)
session_p = ctypes.POINTER(SessionHandle)
trainer_p = ctypes.POINTER(TrainerHandle)


class CPost(ctypes.Structure):
    """ipf_post (include/influencer_profiler.h); struct_size first."""
    _fields_ = [
        ('struct_size', ctypes.c_size_t),
        ('caption', ctypes.c_char_p),
        ('caption_len', ctypes.c_size_t),
        ('image_data', ctypes.c_void_p),
        ('image_len', ctypes.c_size_t),
        ('image_path', ctypes.c_char_p),
        ('text_feature', c_float_p),
        ('image_feature', c_float_p),
    ]


CPost_p = ctypes.POINTER(CPost)

LOG_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p)

# name -> (restype, argtypes).  Status-returning functions use c_status.
_DECLS = {}


def declare(name, restype, argtypes):
    """Register the C signature of `name` (idempotent)."""
    _DECLS[name] = (restype, list(argtypes))


_S = c_status
for _name, _res, _args in [
    # core
    ('ipf_status_string', ctypes.c_char_p, [ctypes.c_int]),
    ('ipf_version_number', ctypes.c_uint32, []),
    ('ipf_version_string', ctypes.c_char_p, []),
    ('ipf_abi_version', ctypes.c_uint32, []),
    ('ipf_last_error', ctypes.c_char_p, []),
    ('ipf_set_log_callback', None, [LOG_FN, ctypes.c_void_p, ctypes.c_int]),
    # model and session
    ('ipf_option_bounds', _S, [ctypes.c_int, c_int64_p, c_int64_p, c_int64_p]),
    ('ipf_model_free', None, [model_p]),
    ('ipf_session_create', _S, [model_p, ctypes.POINTER(session_p)]),
    ('ipf_session_free', None, [session_p]),
    ('ipf_session_error', ctypes.c_char_p, [session_p]),
    ('ipf_session_set_option', _S, [session_p, ctypes.c_int, ctypes.c_int64]),
    ('ipf_session_get_option', _S, [session_p, ctypes.c_int, c_int64_p]),
    ('ipf_model_load', _S, [ctypes.c_char_p, ctypes.POINTER(model_p)]),
    ('ipf_model_load_inception', _S, [ctypes.c_char_p, ctypes.c_int32, ctypes.POINTER(model_p)]),
    ('ipf_model_load_bert', _S, [ctypes.c_char_p, ctypes.POINTER(model_p)]),
    ('ipf_model_load_vocab', _S, [ctypes.c_char_p, ctypes.c_int32, ctypes.POINTER(model_p)]),
    ('ipf_model_load_spm', _S, [ctypes.c_char_p, ctypes.POINTER(model_p)]),
    ('ipf_model_has', ctypes.c_int32, [model_p, ctypes.c_int]),
    ('ipf_model_dim', _S, [model_p, ctypes.c_int, c_int64_p]),
    ('ipf_model_class_name', _S, [model_p, ctypes.c_int, ctypes.c_int32, c_char_pp]),
    # images
    ('ipf_session_preprocess_image', _S, [session_p, ctypes.c_void_p, ctypes.c_size_t, c_float_p,
                                          ctypes.c_size_t]),
    ('ipf_session_preprocess_rgb', _S, [session_p, ctypes.c_void_p, ctypes.c_int32, ctypes.c_int32,
                                        ctypes.c_int32, c_float_p, ctypes.c_size_t]),
    ('ipf_session_encode_image_tensor', _S, [session_p, c_float_p, ctypes.c_int32, ctypes.c_int32,
                                             ctypes.c_int32, c_float_p, ctypes.c_size_t]),
    ('ipf_session_encode_image_file', _S, [session_p, ctypes.c_char_p, c_float_p, ctypes.c_size_t]),
    ('ipf_session_encode_image_memory', _S, [session_p, ctypes.c_void_p, ctypes.c_size_t, c_float_p,
                                             ctypes.c_size_t]),
    ('ipf_session_encode_image_rgb', _S, [session_p, ctypes.c_void_p, ctypes.c_int32, ctypes.c_int32,
                                          ctypes.c_int32, c_float_p, ctypes.c_size_t]),
    # text
    ('ipf_session_tokenize', _S, [session_p, ctypes.c_char_p, ctypes.c_size_t, c_int32_p, ctypes.c_size_t,
                                  c_size_t_p]),
    ('ipf_session_encode_ids', _S, [session_p, c_int32_p, ctypes.c_size_t, c_float_p, ctypes.c_size_t]),
    ('ipf_session_encode_ids_batch', _S, [session_p, ctypes.POINTER(c_int32_p), c_size_t_p, ctypes.c_size_t,
                                          c_float_p, ctypes.c_size_t]),
    ('ipf_session_encode_text', _S, [session_p, ctypes.c_char_p, ctypes.c_size_t, c_float_p, ctypes.c_size_t]),
    ('ipf_session_encode_text_batch', _S, [session_p, c_char_pp, c_size_t_p, ctypes.c_size_t, c_float_p,
                                           ctypes.c_size_t]),
    # profiler
    ('ipf_session_encode_post', _S, [session_p, CPost_p, c_float_p, c_float_p, c_float_p]),
    ('ipf_session_encode_posts', _S, [session_p, CPost_p, ctypes.c_size_t, c_float_p, ctypes.c_size_t]),
    ('ipf_session_classify_post', _S, [session_p, c_float_p, c_float_p, ctypes.c_size_t]),
    ('ipf_session_pool', _S, [session_p, c_float_p, ctypes.c_size_t, c_float_p, c_float_p, ctypes.c_size_t]),
    ('ipf_session_classify_influencer', _S, [session_p, c_float_p, c_float_p, ctypes.c_size_t]),
    ('ipf_session_profile', _S, [session_p, CPost_p, ctypes.c_size_t, c_float_p, c_float_p, c_float_p]),
]:
    declare(_name, _res, _args)
del _name, _res, _args


def library_candidates():
    """Where the library is looked for, in order."""
    out = []
    env = os.environ.get('IPF_LIBRARY')
    if env:
        out.append(env)
    # bindings/python/influencer_profiler/_lib.py -> repo root is three levels up.
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(os.path.dirname(os.path.dirname(here)))
    out.append(os.path.join(repo, 'build', SONAME))
    found = ctypes.util.find_library('influencer_profiler')
    if found:
        out.append(found)
    out.append(SONAME)  # plain dlopen search (LD_LIBRARY_PATH, ld.so.cache)
    return out


class _Lib:
    """The loaded library; attribute access gives declared C functions."""

    def __init__(self, dll, path):
        self._dll = dll
        self.path = path
        self._fns = {}
        self._lock = threading.Lock()

    def has(self, name):
        try:
            getattr(self._dll, name)
            return True
        except AttributeError:
            return False

    def __getattr__(self, name):
        fns = self.__dict__.get('_fns')
        if fns is None or not name.startswith('ipf_'):
            raise AttributeError(name)
        fn = fns.get(name)
        if fn is not None:
            return fn
        if name not in _DECLS:
            raise AttributeError('%s is not declared in the binding' % name)
        try:
            fn = getattr(self._dll, name)
        except AttributeError:
            raise errors.UnsupportedError(
                errors.Status.UNSUPPORTED,
                '%s is not exported by %s (library older than the binding?)' % (name, self.path)) from None
        fn.restype, fn.argtypes = _DECLS[name]
        with self._lock:
            fns[name] = fn
        return fn


_LIB = None
_LIB_LOCK = threading.Lock()


def lib():
    """The loaded library (loaded on first use)."""
    global _LIB
    if _LIB is not None:
        return _LIB
    with _LIB_LOCK:
        if _LIB is None:
            tried = []
            for cand in library_candidates():
                if os.sep in cand and not os.path.exists(cand):
                    tried.append('%s (absent)' % cand)
                    continue
                try:
                    _LIB = _Lib(ctypes.CDLL(cand), cand)
                    break
                except OSError as exc:
                    tried.append('%s (%s)' % (cand, exc))
            if _LIB is None:
                raise OSError('libinfluencer_profiler not found; set IPF_LIBRARY. Tried: ' + '; '.join(tried))
    return _LIB


def _s(b):
    return b.decode('utf-8', 'replace') if b else ''


def last_error():
    """ipf_last_error() of this thread, as str."""
    return _s(lib().ipf_last_error())


def check(status, message=None):
    """Raise the exception for `status` (no-op for IPF_OK).  `message` is a
    callable giving the detail (the handle's message) or None for the
    thread-local ipf_last_error()."""
    if status == 0:
        return
    msg = message() if message is not None else last_error()
    raise errors.from_status(status, msg)


def as_bytes_path(path):
    """os.PathLike/str/bytes -> bytes for a const char * path."""
    if isinstance(path, bytes):
        return path
    return os.fsencode(os.fspath(path))


class Closeable:
    """Context-manager and finaliser behaviour for the handle classes; each
    defines an idempotent close() that frees its handle."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            if getattr(self, '_handle', None) is not None:
                self.close()
        except Exception:  # interpreter shutdown: the library may be gone
            pass
