"""Enumerations of the C API (values fixed by include/influencer_profiler.h)."""
import enum


class LogLevel(enum.IntEnum):
    ERROR = 0
    WARN = 1
    INFO = 2
    DEBUG = 3


class Backend(enum.IntEnum):
    AUTO = 0
    ONEDNN = 1
    OPENBLAS = 2
    REF = 3


class Option(enum.IntEnum):
    THREADS = 0
    BACKEND = 1
    MAX_IMAGE_PIXELS = 2
    MAX_IMAGE_BYTES = 3
    MAX_TOKENS = 4


class Component(enum.IntEnum):
    IMAGE_ENCODER = 0
    TEXT_ENCODER = 1
    TOKENIZER = 2
    PROFILER = 3


class Dim(enum.IntEnum):
    IMAGE_POOL = 0
    IMAGE = 1
    TEXT = 2
    POST = 3
    INFLUENCER_CLASSES = 4
    POST_CLASSES = 5
    MAX_TOKENS = 6
    VOCAB = 7
    IMAGE_SIZE = 8


class Head(enum.IntEnum):
    INFLUENCER = 0
    POST = 1


def coerce(enum_cls, value):
    """An enum member from a member, an int or a case-insensitive name."""
    if isinstance(value, str):
        try:
            return enum_cls[value.upper()]
        except KeyError:
            raise ValueError('unknown %s %r; one of %s' % (enum_cls.__name__, value,
                                                            ', '.join(m.name.lower() for m in enum_cls))) from None
    return enum_cls(int(value))
