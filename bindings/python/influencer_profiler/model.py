"""Model: weights and configuration, shareable by threads (one Session each)."""
import ctypes
import threading
import weakref

from . import _lib
from .enums import Component, Dim, Head, coerce
from ._lib import as_bytes_path, check, lib

# Fallbacks when a model lacks the component defining a dimension (the
# paper's sizes; only used to size buffers for cached features).
_DEFAULT_DIMS = {Dim.IMAGE_POOL: 2048, Dim.IMAGE: 1024, Dim.TEXT: 768, Dim.POST: 256}


class Model(_lib.Closeable):
    """A loaded model.  Use the classmethods load, load_inception, load_bert,
    load_vocab and load_spm; close() (or a with-block) frees it, after
    closing any Session still open on it."""

    def __init__(self, handle, source=''):
        if not handle:
            raise ValueError('Model() needs a handle; use Model.load(...)')
        self._handle = handle
        self.source = source
        self._sessions = weakref.WeakSet()
        self._lock = threading.Lock()
        self._dims = {}

    # ---- loading ---------------------------------------------------------
    @classmethod
    def _load(cls, fn_name, path, *extra):
        out = _lib.model_p()
        fn = getattr(lib(), fn_name)
        check(fn(as_bytes_path(path), *extra, ctypes.byref(out)))
        return cls(out, str(path))

    @classmethod
    def load(cls, bundle_dir):
        """A model bundle directory (profiler.safetensors, optional bert/ and inception/)."""
        return cls._load('ipf_model_load', bundle_dir)

    @classmethod
    def load_inception(cls, safetensors_path, transform_input=True):
        """Only an Inception-v3 trunk (torchvision/timm names)."""
        return cls._load('ipf_model_load_inception', safetensors_path, 1 if transform_input else 0)

    @classmethod
    def load_bert(cls, bert_dir):
        """Only BERT from a Hugging Face directory (config.json, model.safetensors, vocab.txt)."""
        return cls._load('ipf_model_load_bert', bert_dir)

    @classmethod
    def load_vocab(cls, vocab_path, lower_case=True):
        """Only a WordPiece tokenizer (BERT vocab.txt)."""
        return cls._load('ipf_model_load_vocab', vocab_path, 1 if lower_case else 0)

    @classmethod
    def load_spm(cls, spm_model_path):
        """Only a SentencePiece tokenizer (.model)."""
        return cls._load('ipf_model_load_spm', spm_model_path)

    # ---- queries ---------------------------------------------------------
    @property
    def handle(self):
        """The ipf_model pointer; raises StateError when closed."""
        if self._handle is None:
            from .errors import Status, StateError
            raise StateError(Status.STATE, 'model is closed')
        return self._handle

    @property
    def closed(self):
        return self._handle is None

    def has(self, component):
        return bool(lib().ipf_model_has(self.handle, int(coerce(Component, component))))

    def dim(self, dim):
        """A dimension (Dim or name such as 'text'); NotFoundError if the model lacks it."""
        dim = coerce(Dim, dim)
        v = self._dims.get(dim)
        if v is None:
            out = ctypes.c_int64()
            check(lib().ipf_model_dim(self.handle, int(dim), ctypes.byref(out)))
            v = self._dims[dim] = out.value
        return v

    def dim_or_default(self, dim):
        from .errors import NotFoundError
        try:
            return self.dim(dim)
        except NotFoundError:
            d = _DEFAULT_DIMS.get(coerce(Dim, dim))
            if d is None:
                raise
            return d

    def class_name(self, head, index):
        name = ctypes.c_char_p()
        check(lib().ipf_model_class_name(self.handle, int(coerce(Head, head)), int(index), ctypes.byref(name)))
        return _lib._s(name.value)

    def class_names(self, head=Head.INFLUENCER):
        """All class names of a head ('influencer' or 'post')."""
        head = coerce(Head, head)
        n = self.dim(Dim.INFLUENCER_CLASSES if head == Head.INFLUENCER else Dim.POST_CLASSES)
        return [self.class_name(head, i) for i in range(n)]

    def session(self, **options):
        """A new Session on this model; keyword options as Session.set_options."""
        from .session import Session
        return Session(self, **options)

    # ---- lifetime --------------------------------------------------------
    def close(self):
        """Free the model (closing its open sessions first).  Idempotent."""
        with self._lock:
            handle, self._handle = self._handle, None
            sessions = list(self._sessions)
        if handle is None:
            return
        for s in sessions:
            s.close()
        lib().ipf_model_free(handle)

    def __repr__(self):
        try:
            state = 'closed' if self._handle is None else ','.join(
                c.name.lower() for c in Component if self.has(c))
        except Exception:  # a library without ipf_model_has
            state = '?'
        return '<influencer_profiler.Model %r [%s]>' % (self.source, state)
