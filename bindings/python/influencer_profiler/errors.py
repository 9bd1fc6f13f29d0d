"""Status codes and the exceptions they map to.

Every failed library call raises a subclass of IPFError carrying .status (a
Status) and .message (the handle's or the thread's error message).  Where a
builtin exception has the same meaning the class also derives from it, so
`except ValueError` catches an invalid argument and `except OSError` an I/O
failure.
"""
import enum


class Status(enum.IntEnum):
    """ipf_status (include/influencer_profiler.h); values never change."""
    OK = 0
    INVALID_ARGUMENT = 1
    OUT_OF_MEMORY = 2
    IO = 3
    FORMAT = 4
    SHAPE = 5
    UNSUPPORTED = 6
    IMAGE = 7
    TEXT = 8
    CHECKSUM = 9
    NUMERIC = 10
    BUFFER_TOO_SMALL = 11
    LIMIT = 12
    BACKEND = 13
    STATE = 14
    NOT_FOUND = 15
    INTERNAL = 16


class IPFError(Exception):
    """Base class: .status (Status or int for a code newer than the binding)
    and .message (detail from the library, may be empty)."""
    status = None

    def __init__(self, status, message=''):
        try:
            status = Status(status)
        except ValueError:
            pass
        self.status = status
        self.message = message or ''
        text = _status_text(status)
        super().__init__('%s: %s' % (text, self.message) if self.message else text)


def _status_text(status):
    try:  # the library's own string when it is loaded
        from . import _lib
        return _lib._s(_lib.lib().ipf_status_string(int(status)))
    except Exception:  # pragma: no cover - library unusable
        return getattr(status, 'name', str(status)).lower().replace('_', ' ')


class InvalidArgumentError(IPFError, ValueError):
    pass


class OutOfMemoryError(IPFError, MemoryError):
    pass


class IOError(IPFError, OSError):  # noqa: A001 - shadows the builtin alias on purpose, inside this module
    pass


class FormatError(IPFError, ValueError):
    pass


class ShapeError(IPFError, ValueError):
    pass


class UnsupportedError(IPFError, NotImplementedError):
    pass


class ImageError(IPFError, ValueError):
    pass


class TextError(IPFError, ValueError):
    pass


class ChecksumError(IPFError, ValueError):
    pass


class NumericError(IPFError, ArithmeticError):
    pass


class BufferTooSmallError(IPFError):
    pass


class LimitError(IPFError, ValueError):
    pass


class BackendError(IPFError, RuntimeError):
    pass


class StateError(IPFError, RuntimeError):
    pass


class NotFoundError(IPFError, LookupError):
    pass


class InternalError(IPFError, RuntimeError):
    pass


_BY_STATUS = {
    Status.INVALID_ARGUMENT: InvalidArgumentError,
    Status.OUT_OF_MEMORY: OutOfMemoryError,
    Status.IO: IOError,
    Status.FORMAT: FormatError,
    Status.SHAPE: ShapeError,
    Status.UNSUPPORTED: UnsupportedError,
    Status.IMAGE: ImageError,
    Status.TEXT: TextError,
    Status.CHECKSUM: ChecksumError,
    Status.NUMERIC: NumericError,
    Status.BUFFER_TOO_SMALL: BufferTooSmallError,
    Status.LIMIT: LimitError,
    Status.BACKEND: BackendError,
    Status.STATE: StateError,
    Status.NOT_FOUND: NotFoundError,
    Status.INTERNAL: InternalError,
}


def error_class(status):
    """The exception class for a status code (IPFError for an unknown one)."""
    try:
        return _BY_STATUS.get(Status(status), IPFError)
    except ValueError:
        return IPFError


def from_status(status, message=''):
    return error_class(status)(status, message)
