"""Python binding (ctypes, no compile step) of libinfluencer_profiler.

    import influencer_profiler as ipf
    with ipf.Model.load('bundle/') as model, model.session() as s:
        print(s.profile([ipf.Post(caption='new lipstick!', image_path='a.jpg')]))

The library is found through $IPF_LIBRARY, then the repository's
build/libinfluencer_profiler.so.0, then the system search path.  Results are
numpy float32 arrays when numpy is importable, lists otherwise.
"""
import ctypes as _ctypes

from . import errors
from ._arrays import HAVE_NUMPY
from ._lib import lib as _lib_fn
from .enums import Backend, Component, Dim, Head, LogLevel, Option
from .errors import (BackendError, BufferTooSmallError, ChecksumError, FormatError, ImageError,
                     InternalError, InvalidArgumentError, IOError, IPFError, LimitError, NotFoundError,
                     NumericError, OutOfMemoryError, ShapeError, StateError, Status, TextError,
                     UnsupportedError)
from .model import Model
from .session import Post, PostEncoding, Session

__all__ = ['Model', 'Session', 'Post', 'PostEncoding', 'Backend', 'Component', 'Dim', 'Head', 'LogLevel',
           'Option', 'Status', 'IPFError', 'InvalidArgumentError', 'OutOfMemoryError', 'IOError',
           'FormatError', 'ShapeError', 'UnsupportedError', 'ImageError', 'TextError', 'ChecksumError',
           'NumericError', 'BufferTooSmallError', 'LimitError', 'BackendError', 'StateError', 'NotFoundError',
           'InternalError', 'errors', 'version', 'version_number', 'abi_version', 'status_string',
           'last_error', 'option_bounds', 'set_log_callback', 'library_path', 'HAVE_NUMPY']

#: ABI major version this binding was written for (the soname's number).
ABI_VERSION = 0


def library_path():
    """The path of the loaded shared library."""
    return _lib_fn().path


def version():
    """The loaded library's "MAJOR.MINOR.PATCH"."""
    return _lib_fn().ipf_version_string().decode()


def version_number():
    return int(_lib_fn().ipf_version_number())


def abi_version():
    return int(_lib_fn().ipf_abi_version())


def status_string(status):
    return _lib_fn().ipf_status_string(int(status)).decode()


def last_error():
    """This thread's last handle-less error message ('' if none)."""
    from ._lib import last_error as _le
    return _le()


def option_bounds(option):
    """(min, max, default) of a session option (Option or name)."""
    from .enums import coerce
    from ._lib import check
    lo, hi, de = _ctypes.c_int64(), _ctypes.c_int64(), _ctypes.c_int64()
    check(_lib_fn().ipf_option_bounds(int(coerce(Option, option)), _ctypes.byref(lo), _ctypes.byref(hi),
                                      _ctypes.byref(de)))
    return lo.value, hi.value, de.value


_log_cb = None  # keeps the C callback alive


def set_log_callback(fn, max_level=LogLevel.WARN):
    """Send library log lines to fn(level: LogLevel, message: str); None
    turns logging off.  Install before starting threads."""
    global _log_cb
    from ._lib import LOG_FN
    if fn is None:
        _lib_fn().ipf_set_log_callback(LOG_FN(), None, 0)
        _log_cb = None
        return

    def tramp(user, level, message):
        try:
            fn(LogLevel(level), message.decode('utf-8', 'replace') if message else '')
        except Exception:  # never let an exception cross into C
            pass

    cb = LOG_FN(tramp)
    _lib_fn().ipf_set_log_callback(cb, None, int(max_level))
    _log_cb = cb


# Optional modules that other parts of the project add beside this one
# (train.py: the trainer); their public names are re-exported here.
for _mod in ('train',):
    try:
        _m = __import__(__name__ + '.' + _mod, fromlist=['*'])
    except ModuleNotFoundError as _e:
        if _e.name != __name__ + '.' + _mod:
            raise
        continue
    for _n in getattr(_m, '__all__', [n for n in vars(_m) if not n.startswith('_')]):
        globals()[_n] = getattr(_m, _n)
        __all__.append(_n)
del _mod
