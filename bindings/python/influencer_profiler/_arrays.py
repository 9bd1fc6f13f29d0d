"""numpy-optional buffers.  With numpy (and IPF_PY_NO_NUMPY unset), results
are numpy float32 arrays and inputs may be any array-like; without it,
results are (nested) lists of floats and inputs are sequences."""
import ctypes
import os

try:
    if os.environ.get('IPF_PY_NO_NUMPY'):
        raise ImportError('disabled by IPF_PY_NO_NUMPY')
    import numpy as np
except ImportError:  # pragma: no cover - depends on the environment
    np = None

from . import errors
from ._lib import c_float_p

HAVE_NUMPY = np is not None


class FloatOut:
    """A float32 output buffer of `shape`; .ptr for C, .result() for Python."""

    def __init__(self, *shape):
        self.shape = tuple(int(s) for s in shape)
        n = 1
        for s in self.shape:
            n *= s
        self.size = n
        if np is not None:
            self._arr = np.zeros(max(n, 1), dtype=np.float32)
            self.ptr = self._arr.ctypes.data_as(c_float_p)
        else:
            self._arr = (ctypes.c_float * max(n, 1))()
            self.ptr = ctypes.cast(self._arr, c_float_p)

    def result(self):
        if np is not None:
            return self._arr[:self.size].reshape(self.shape)
        flat = list(self._arr[:self.size])
        return _nest(flat, self.shape)


def _nest(flat, shape):
    if len(shape) <= 1:
        return flat
    step = len(flat) // shape[0] if shape[0] else 0
    return [_nest(flat[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])]


def _flatten(seq):
    out = []
    stack = [iter([seq])]
    while stack:
        try:
            x = next(stack[-1])
        except StopIteration:
            stack.pop()
            continue
        if isinstance(x, (list, tuple)) or (hasattr(x, '__len__') and not isinstance(x, (str, bytes))):
            stack.append(iter(x))
        else:
            out.append(float(x))
    return out


class FloatIn:
    """A float32 input of exactly `expected` values (None: any), flattened.
    Keeps its memory alive while the object lives."""

    def __init__(self, values, expected=None, what='input'):
        if np is not None:
            arr = np.ascontiguousarray(values, dtype=np.float32).reshape(-1)
            self.size = arr.size
            self._keep = arr
            self.ptr = arr.ctypes.data_as(c_float_p)
        else:
            flat = _flatten(values)
            self.size = len(flat)
            self._keep = (ctypes.c_float * max(self.size, 1))(*flat)
            self.ptr = ctypes.cast(self._keep, c_float_p)
        if expected is not None and self.size != expected:
            raise errors.ShapeError(errors.Status.SHAPE,
                                    '%s has %d floats, expected %d' % (what, self.size, expected))


def shape_of(values):
    """Shape of an array-like (numpy or nested sequences)."""
    if np is not None:
        return tuple(np.shape(values))
    shape = []
    x = values
    while isinstance(x, (list, tuple)):
        shape.append(len(x))
        if not x:
            break
        x = x[0]
    return tuple(shape)


def u8_buffer(pixels):
    """An 8-bit pixel buffer (bytes-like or uint8 array) -> (keepalive, c_void_p, nbytes)."""
    if np is not None and isinstance(pixels, np.ndarray):
        if pixels.dtype != np.uint8:
            raise errors.InvalidArgumentError(errors.Status.INVALID_ARGUMENT,
                                              'pixels must be uint8, got %s' % pixels.dtype)
        arr = np.ascontiguousarray(pixels)
        return arr, ctypes.c_void_p(arr.ctypes.data), arr.nbytes
    return bytes_buffer(pixels)


def bytes_buffer(data):
    """bytes-like -> (keepalive, c_void_p, nbytes) without copying bytes objects."""
    if isinstance(data, bytes):
        buf = ctypes.c_char_p(data)
        return (data, buf), ctypes.cast(buf, ctypes.c_void_p), len(data)
    mv = memoryview(data).cast('B')
    b = bytes(mv)  # copy: ctypes cannot borrow a read-only buffer portably
    buf = ctypes.c_char_p(b)
    return (b, buf), ctypes.cast(buf, ctypes.c_void_p), len(b)
