"""Training (the "training" section of include/influencer_profiler.h).

    import influencer_profiler as ipf
    with ipf.Model.load('bundle/') as model, \\
            ipf.Trainer(model, ipf.TrainOptions(lr=3e-3, epochs=5)) as tr:
        tr.load_data('manifest.jsonl')
        for _ in range(tr.options.epochs):
            print(tr.epoch())            # metrics dict
        tr.save_bundle('trained/')

A trainer keeps its own copy of the parameters; the Model it was created
from is not modified and must stay open while the trainer is.  One thread
at a time per trainer.
"""
import ctypes
import dataclasses
import enum
import os
import threading

from . import _lib
from .enums import Head
from ._lib import as_bytes_path, check, lib

__all__ = ['TrainOptions', 'Trainer', 'LRSchedule', 'Pooling', 'TRAIN_MAX_CLASSES']




class LRSchedule(enum.IntEnum):
    CONSTANT = 0
    COSINE = 1
    STEP = 2


class Pooling(enum.IntEnum):
    ATTENTION = 0
    MEAN = 1


TRAIN_MAX_CLASSES = 64

_i32, _i64, _u64, _f32, _f64 = ctypes.c_int32, ctypes.c_int64, ctypes.c_uint64, ctypes.c_float, ctypes.c_double

# (field, ctype) in the order of ipf_train_options; struct_size first.
_OPTION_FIELDS = [
    ('lr', _f32), ('beta1', _f32), ('beta2', _f32), ('eps', _f32), ('weight_decay', _f32),
    ('decoupled_weight_decay', _i32), ('clip_norm', _f32), ('lr_schedule', _i32), ('lr_min', _f32),
    ('lr_step_epochs', _i32), ('lr_step_gamma', _f32), ('dropout', _f32), ('lambda_post', _f32),
    ('posts_per_influencer', _i32), ('eval_posts_per_influencer', _i32), ('batch_influencers', _i32),
    ('epochs', _i32), ('seed', _u64), ('pooling', _i32), ('val_fraction', _f32),
    ('standardize_features', _i32), ('augment', _i32), ('aug_rotation_deg', _f32), ('aug_shift', _f32),
    ('aug_zoom', _f32), ('aug_hflip', _i32), ('aug_channel_shift', _f32), ('aug_fill_nearest', _i32),
    ('aug_cache_mb', _i64), ('inception_trainable_blocks', _i32), ('bert_trainable_layers', _i32),
    ('threads', _i32), ('missing_image_is_error', _i32),
]


class CTrainOptions(ctypes.Structure):
    _fields_ = [('struct_size', ctypes.c_size_t)] + _OPTION_FIELDS


class CTrainMetrics(ctypes.Structure):
    _fields_ = [
        ('struct_size', ctypes.c_size_t), ('epoch', _i32), ('step', _i64), ('train_loss', _f64),
        ('loss', _f64), ('loss_influencer', _f64), ('loss_post', _f64),
        ('influencer_accuracy', _f64), ('post_accuracy', _f64),
        ('influencer_macro_f1', _f64), ('post_macro_f1', _f64),
        ('n_influencers', _i32), ('n_posts', _i32), ('n_influencer_classes', _i32), ('n_post_classes', _i32),
        ('influencer_f1', _f32 * TRAIN_MAX_CLASSES), ('post_f1', _f32 * TRAIN_MAX_CLASSES),
        ('influencer_support', _i32 * TRAIN_MAX_CLASSES), ('post_support', _i32 * TRAIN_MAX_CLASSES),
    ]


PROGRESS_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int64, ctypes.c_int64)

_tp = _lib.trainer_p
_S = _lib.c_status
for _name, _res, _args in [
    ('ipf_train_options_default', _S, [ctypes.POINTER(CTrainOptions)]),
    ('ipf_trainer_create', _S, [_lib.model_p, ctypes.POINTER(CTrainOptions), ctypes.POINTER(_tp)]),
    ('ipf_trainer_free', None, [_tp]),
    ('ipf_trainer_error', ctypes.c_char_p, [_tp]),
    ('ipf_trainer_set_progress', _S, [_tp, PROGRESS_FN, ctypes.c_void_p]),
    ('ipf_trainer_set_feature_cache', _S, [_tp, ctypes.c_char_p]),
    ('ipf_trainer_load_data', _S, [_tp, ctypes.c_char_p]),
    ('ipf_trainer_data_info', _S, [_tp, _lib.c_int32_p, _lib.c_int32_p, _lib.c_int32_p, _lib.c_int32_p]),
    ('ipf_trainer_step', _S, [_tp, ctypes.POINTER(_f64)]),
    ('ipf_trainer_epoch', _S, [_tp, ctypes.POINTER(CTrainMetrics)]),
    ('ipf_trainer_evaluate', _S, [_tp, ctypes.POINTER(CTrainMetrics)]),
    ('ipf_trainer_save_bundle', _S, [_tp, ctypes.c_char_p]),
    ('ipf_trainer_checkpoint_save', _S, [_tp, ctypes.c_char_p]),
    ('ipf_trainer_checkpoint_resume', _S, [_tp, ctypes.c_char_p]),
]:
    _lib.declare(_name, _res, _args)
del _name, _res, _args


def _c_defaults():
    c = CTrainOptions()
    c.struct_size = ctypes.sizeof(CTrainOptions)
    check(lib().ipf_train_options_default(ctypes.byref(c)))
    return c


_DEFAULTS = None


def _default(name):
    global _DEFAULTS
    if _DEFAULTS is None:
        try:
            c = _c_defaults()
            _DEFAULTS = {f: getattr(c, f) for f, _ in _OPTION_FIELDS}
        except Exception:  # library without training: the header's documented defaults
            _DEFAULTS = dict(_HEADER_DEFAULTS)
    return _DEFAULTS[name]


_HEADER_DEFAULTS = {
    'lr': 1e-3, 'beta1': 0.9, 'beta2': 0.999, 'eps': 1e-8, 'weight_decay': 0.0, 'decoupled_weight_decay': 0,
    'clip_norm': 0.0, 'lr_schedule': 0, 'lr_min': 0.0, 'lr_step_epochs': 10, 'lr_step_gamma': 0.1,
    'dropout': 0.5, 'lambda_post': 1.0, 'posts_per_influencer': 20, 'eval_posts_per_influencer': 0,
    'batch_influencers': 8, 'epochs': 10, 'seed': 1, 'pooling': 0, 'val_fraction': 0.2,
    'standardize_features': 0, 'augment': 0, 'aug_rotation_deg': 30.0, 'aug_shift': 0.2, 'aug_zoom': 0.2,
    'aug_hflip': 1, 'aug_channel_shift': 0.1, 'aug_fill_nearest': 1, 'aug_cache_mb': 1024,
    'inception_trainable_blocks': 0, 'bert_trainable_layers': 0, 'threads': 0, 'missing_image_is_error': 0,
}


def _options_to_c(self):
    c = _c_defaults()
    for name, ct in _OPTION_FIELDS:
        v = getattr(self, name)
        if name == 'lr_schedule' and isinstance(v, str):
            v = LRSchedule[v.upper()]
        elif name == 'pooling' and isinstance(v, str):
            v = Pooling[v.upper()]
        setattr(c, name, float(v) if ct is _f32 else int(v))
    return c


def _options_replace(self, **changes):
    return dataclasses.replace(self, **changes)


TrainOptions = dataclasses.make_dataclass(
    'TrainOptions',
    [(name, float if ct is _f32 else int, dataclasses.field(default_factory=(lambda n=name: _default(n))))
     for name, ct in _OPTION_FIELDS],
    namespace={'to_c': _options_to_c, 'replace': _options_replace, '__module__': __name__,
               '__doc__': """ipf_train_options as keyword fields (names as in the C struct;
    defaults from ipf_train_options_default).  Booleans are accepted for
    the 0/1 fields, enums (LRSchedule, Pooling) or their names for
    lr_schedule and pooling."""})


def _metrics_dict(m, model):
    """ipf_train_metrics -> dict; per-class F1/support keyed by class name."""
    d = {f: getattr(m, f) for f in ('epoch', 'step', 'train_loss', 'loss', 'loss_influencer', 'loss_post',
                                    'influencer_accuracy', 'post_accuracy', 'influencer_macro_f1',
                                    'post_macro_f1', 'n_influencers', 'n_posts')}
    for head, key in ((Head.INFLUENCER, 'influencer'), (Head.POST, 'post')):
        n = min(getattr(m, 'n_%s_classes' % key), TRAIN_MAX_CLASSES)
        try:
            names = model.class_names(head)[:n]
        except Exception:
            names = []
        names += [str(i) for i in range(len(names), n)]
        f1, sup = getattr(m, key + '_f1'), getattr(m, key + '_support')
        d[key + '_f1'] = {names[i]: float(f1[i]) for i in range(n)}
        d[key + '_support'] = {names[i]: int(sup[i]) for i in range(n)}
    return d


class Trainer(_lib.Closeable):
    """Trains a model's profiler (and optionally top encoder layers).

    Trainer(model, options=None, **overrides): options is a TrainOptions
    (or None for the defaults); keyword overrides change its fields.
    Errors raise IPFError subclasses carrying ipf_trainer_error's message.
    """

    def __init__(self, model, options=None, progress=None, **overrides):
        if options is None:
            options = TrainOptions()
        if overrides:
            options = dataclasses.replace(options, **overrides)
        self.model = model
        self.options = options
        self._handle = None
        self._progress_cb = None
        self._lock = threading.Lock()
        c = options.to_c()
        out = _tp()
        with model._lock:  # Model.close must not free the model meanwhile
            check(lib().ipf_trainer_create(model.handle, ctypes.byref(c), ctypes.byref(out)))
            self._handle = out
            model._sessions.add(self)  # closing the model closes this trainer first
        if progress is not None:
            self.set_progress(progress)

    # ---- plumbing ----------------------------------------------------------
    @property
    def handle(self):
        if self._handle is None:
            from .errors import Status, StateError
            raise StateError(Status.STATE, 'trainer is closed')
        if self.model.closed:
            from .errors import Status, StateError
            raise StateError(Status.STATE, 'the model of this trainer was closed')
        return self._handle

    @property
    def closed(self):
        return self._handle is None

    def error(self):
        """ipf_trainer_error: the last failed call's message ('' if none)."""
        if self._handle is None:
            return ''
        return _lib._s(lib().ipf_trainer_error(self._handle))

    def _call(self, fn_name, *args):
        h = self.handle
        check(getattr(lib(), fn_name)(h, *args), lambda: _lib._s(lib().ipf_trainer_error(h)))

    # ---- configuration -----------------------------------------------------
    def set_progress(self, fn):
        """fn(stage: str, done: int, total: int) on long calls; None removes it.
        Exceptions raised by fn are swallowed (they cannot cross into C)."""
        if fn is None:
            self._call('ipf_trainer_set_progress', PROGRESS_FN(), None)
            self._progress_cb = None
            return

        def tramp(user, stage, done, total):
            try:
                fn(stage.decode('utf-8', 'replace') if stage else '', int(done), int(total))
            except Exception:
                pass

        cb = PROGRESS_FN(tramp)
        self._call('ipf_trainer_set_progress', cb, None)
        self._progress_cb = cb  # keep alive

    def set_feature_cache(self, path):
        """Feature cache file (read when it matches the data, else written); before load_data."""
        self._call('ipf_trainer_set_feature_cache', as_bytes_path(path))

    # ---- data and training ---------------------------------------------------
    def load_data(self, manifest_path):
        """Read a JSONL manifest (plain or gzip), split and compute features.
        Returns data_info()."""
        self._call('ipf_trainer_load_data', as_bytes_path(manifest_path))
        return self.data_info()

    def data_info(self):
        """{'train_influencers', 'val_influencers', 'posts', 'dropped_posts'}."""
        v = [ctypes.c_int32() for _ in range(4)]
        self._call('ipf_trainer_data_info', *[ctypes.byref(x) for x in v])
        return dict(zip(('train_influencers', 'val_influencers', 'posts', 'dropped_posts'), (x.value for x in v)))

    def step(self):
        """One optimisation step; returns the batch loss (float)."""
        loss = _f64()
        self._call('ipf_trainer_step', ctypes.byref(loss))
        return loss.value

    def _metrics(self, fn_name):
        m = CTrainMetrics()
        m.struct_size = ctypes.sizeof(CTrainMetrics)
        self._call(fn_name, ctypes.byref(m))
        return _metrics_dict(m, self.model)

    def epoch(self):
        """Finish the current epoch, then evaluate; returns the metrics dict
        (epoch, step, train_loss, loss, accuracies, macro F1s, n_*, and
        influencer_f1 / post_f1 / *_support keyed by class name)."""
        return self._metrics('ipf_trainer_epoch')

    def evaluate(self):
        """Metrics on the validation split (training split without one); no dropout."""
        return self._metrics('ipf_trainer_evaluate')

    def fit(self, epochs=None):
        """Run `epochs` (default options.epochs) epochs; returns the list of metrics dicts."""
        n = self.options.epochs if epochs is None else epochs
        return [self.epoch() for _ in range(int(n))]

    # ---- output ----------------------------------------------------------------
    def save_bundle(self, out_dir):
        """Write a model bundle (loadable with Model.load) to out_dir."""
        self._call('ipf_trainer_save_bundle', as_bytes_path(out_dir))

    def save_checkpoint(self, path):
        """Parameters, Adam state, RNG, epoch/step and data order, written atomically."""
        self._call('ipf_trainer_checkpoint_save', as_bytes_path(path))

    def resume(self, path):
        """Restore a checkpoint of a trainer with the same configuration and data
        (after load_data); training continues bit-exactly."""
        self._call('ipf_trainer_checkpoint_resume', as_bytes_path(path))

    checkpoint_save = save_checkpoint
    checkpoint_resume = resume

    # ---- lifetime ----------------------------------------------------------------
    def close(self):
        with self._lock:
            h, self._handle = self._handle, None
        if h is not None:
            lib().ipf_trainer_free(h)

    def __repr__(self):
        return '<Trainer %s%s>' % (os.fspath(self.model.source) if self.model.source else '',
                                   ' closed' if self.closed else '')
