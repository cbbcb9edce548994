"""Keras 3 compatible streaming metrics on NumPy arrays.

Every metric has ``update_state(...)``, ``result()`` (a Python float), ``reset_state()`` and
``name``. ``Mean`` is Keras's weighted running mean; the accuracy metrics are
``MeanMetricWrapper``s of a per-sample match function, as in Keras, so ``sample_weight``
weights samples and ``result()`` is ``total / count`` (0.0 before any update).

``get("accuracy", loss=..., y_true=..., y_pred=...)`` resolves the generic
"accuracy"/"acc" names to the accuracy that fits the loss (or, failing that, the shapes),
keeping the name the user wrote; see ``resolve_accuracy``.
"""
import inspect

import numpy as np

from . import losses as losses_module
from .autograd import no_grad
from .tensor import Tensor

__all__ = ["Metric", "Mean", "MeanMetricWrapper", "Accuracy", "BinaryAccuracy",
           "CategoricalAccuracy", "SparseCategoricalAccuracy", "accuracy", "binary_accuracy",
           "categorical_accuracy", "sparse_categorical_accuracy", "resolve_accuracy", "get"]


def _np(x):
    if isinstance(x, Tensor):
        return x.data
    return np.asarray(x)


def _match_rank(a, b):
    return losses_module._match_rank(a, b)


def _reduce_to_samplewise(values, sample_weight):
    """Keras's reduce_to_samplewise_values with a mean: one value (and weight) per sample."""
    values = np.asarray(values, dtype=np.float64)
    if sample_weight is not None:
        sw = np.asarray(sample_weight, dtype=np.float64)
        values, sw = _match_rank(values, sw)
        w_ndim, v_ndim = sw.ndim, values.ndim
        if v_ndim > w_ndim:
            values = values.mean(axis=tuple(range(w_ndim, v_ndim)))
        try:
            sw = np.broadcast_to(sw, values.shape)
        except ValueError:
            raise ValueError("sample_weight cannot be broadcast to the metric values. "
                             f"Received: sample_weight.shape={np.shape(sample_weight)}, "
                             f"values shape {values.shape}") from None
        values = values * sw
        if w_ndim > 1:
            sw = sw.mean(axis=tuple(range(1, w_ndim)))
        sample_weight = sw
    if values.ndim > 1:
        values = values.mean(axis=tuple(range(1, values.ndim)))
    return values, sample_weight


class Metric:
    """Base class: subclasses define ``update_state``, ``result`` and ``reset_state``."""

    def __init__(self, name=None, dtype=None):
        self.name = name or losses_module._snake(type(self).__name__)
        self.dtype = dtype

    def update_state(self, *args, **kwargs):
        raise NotImplementedError

    def result(self):
        raise NotImplementedError

    def reset_state(self):
        raise NotImplementedError

    def __call__(self, *args, **kwargs):
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r}>"


class Mean(Metric):
    """Weighted running mean of the values passed to ``update_state``."""

    def __init__(self, name="mean", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.reset_state()

    def update_state(self, values, sample_weight=None):
        values = _np(values)
        sample_weight = None if sample_weight is None else _np(sample_weight)
        values, sample_weight = _reduce_to_samplewise(values, sample_weight)
        self.total += float(np.sum(values))
        if sample_weight is not None:
            self.count += float(np.sum(sample_weight))
        else:
            self.count += float(values.shape[0]) if values.ndim >= 1 else 1.0

    def reset_state(self):
        self.total = 0.0
        self.count = 0.0

    def result(self):
        return self.total / self.count if self.count else 0.0


class MeanMetricWrapper(Mean):
    """The running mean of ``fn(y_true, y_pred, **kwargs)`` (per-sample values)."""

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        super().__init__(name=name or getattr(fn, "__name__", None) or "mean_metric_wrapper",
                         dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs
        if fn in losses_module.ALL_OBJECTS or isinstance(fn, losses_module.Loss):
            self._direction = "down"

    def update_state(self, y_true, y_pred, sample_weight=None):
        with no_grad():
            values = self._fn(y_true, y_pred, **self._fn_kwargs)
        super().update_state(_np(values), sample_weight=sample_weight)

    def get_config(self):
        return {**super().get_config(), "fn": getattr(self._fn, "__name__", self._fn),
                **self._fn_kwargs}


# ---------------------------------------------------------------- accuracy functions
def accuracy(y_true, y_pred):
    """Exact-match rate per sample (mean over the last axis)."""
    y_pred = _np(y_pred)
    y_true = _np(y_true).astype(y_pred.dtype)
    y_true, y_pred = _match_rank(y_true, y_pred)
    return np.mean(np.equal(y_true, y_pred).astype(np.float64), axis=-1)


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """Rate of ``(y_pred > threshold) == y_true`` per sample (mean over the last axis)."""
    y_true, y_pred = _match_rank(_np(y_true), _np(y_pred))
    y_pred = (y_pred > threshold).astype(y_true.dtype)
    return np.mean(np.equal(y_true, y_pred).astype(np.float64), axis=-1)


def categorical_accuracy(y_true, y_pred):
    """1.0 where ``argmax(y_pred) == argmax(y_true)`` over the last axis."""
    y_true, y_pred = _np(y_true), _np(y_pred)
    labels = np.argmax(y_true, axis=-1)
    shape = labels.shape
    reshape = labels.ndim == y_pred.ndim
    if reshape:
        labels = np.squeeze(labels, -1)
    matches = np.equal(labels, np.argmax(y_pred, axis=-1)).astype(np.float64)
    return matches.reshape(shape) if reshape else matches


def sparse_categorical_accuracy(y_true, y_pred):
    """1.0 where ``argmax(y_pred) == y_true`` (integer labels, trailing 1 squeezed)."""
    y_true, y_pred = _np(y_true), _np(y_pred)
    shape = y_true.shape
    reshape = y_true.ndim == y_pred.ndim and y_true.ndim > 0 and y_true.shape[-1] == 1
    if reshape:
        y_true = np.squeeze(y_true, -1)
    pred = np.argmax(y_pred, axis=-1).astype(y_true.dtype)
    matches = np.equal(y_true, pred).astype(np.float64)
    if reshape:
        matches = matches.reshape(shape)
    if matches.ndim > 1 and matches.shape[-1] == 1:
        matches = np.squeeze(matches, -1)
    return matches


class Accuracy(MeanMetricWrapper):
    def __init__(self, name="accuracy", dtype=None):
        super().__init__(accuracy, name=name, dtype=dtype)
        self._direction = "up"

    def get_config(self):
        return Metric.get_config(self)


class BinaryAccuracy(MeanMetricWrapper):
    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        if threshold is not None and (threshold <= 0 or threshold >= 1):
            raise ValueError("Invalid value for argument `threshold`. Expected a value in "
                             f"interval (0, 1). Received: threshold={threshold}")
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=threshold)
        self.threshold = threshold
        self._direction = "up"

    def get_config(self):
        return {**Metric.get_config(self), "threshold": self.threshold}


class CategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name=name, dtype=dtype)
        self._direction = "up"

    def get_config(self):
        return Metric.get_config(self)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name=name, dtype=dtype)
        self._direction = "up"

    def get_config(self):
        return Metric.get_config(self)


# ---------------------------------------------------------------- "accuracy" resolution
def _loss_kind(loss):
    """"categorical", "sparse", "binary" or None for a loss object, class, name or function."""
    if isinstance(loss, str):
        try:
            loss = losses_module.get(loss)
        except ValueError:
            return None
    if inspect.isclass(loss):
        if not issubclass(loss, losses_module.Loss):
            return None
        try:
            loss = loss()
        except TypeError:
            return None
    for cls, kind in ((losses_module.SparseCategoricalCrossentropy, "sparse"),
                      (losses_module.CategoricalCrossentropy, "categorical"),
                      (losses_module.BinaryCrossentropy, "binary")):
        if isinstance(loss, cls):
            return kind
    fn = getattr(loss, "fn", loss)
    return {losses_module.sparse_categorical_crossentropy: "sparse",
            losses_module.categorical_crossentropy: "categorical",
            losses_module.binary_crossentropy: "binary"}.get(fn) if callable(fn) else None


def resolve_accuracy(loss=None, y_true_shape=None, y_pred_shape=None, name="accuracy"):
    """The accuracy metric (named ``name``) for a generic "accuracy"/"acc" request.

    A cross-entropy loss decides: categorical -> ``CategoricalAccuracy``, sparse categorical
    -> ``SparseCategoricalAccuracy``, binary -> ``BinaryAccuracy``. Otherwise the shapes
    decide as in Keras's ``compile``: ``y_pred`` last dim 1 -> binary; ``y_true`` of lower
    rank, or last dim 1 against ``C > 1`` -> sparse; else categorical. With neither a known
    loss nor shapes, the exact-match ``Accuracy``.
    """
    kind = _loss_kind(loss)
    if kind is None and y_true_shape is not None and y_pred_shape is not None:
        t, p = tuple(y_true_shape), tuple(y_pred_shape)
        t_last = t[-1] if t else None
        p_last = p[-1] if p else None
        if p_last == 1:
            kind = "binary"
        elif len(t) < len(p) or (t_last == 1 and p_last is not None and p_last > 1):
            kind = "sparse"
        else:
            kind = "categorical"
    cls = {"binary": BinaryAccuracy, "sparse": SparseCategoricalAccuracy,
           "categorical": CategoricalAccuracy}.get(kind, Accuracy)
    return cls(name=name)


# ---------------------------------------------------------------- registry
ALL_OBJECTS = (Mean, Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy,
               accuracy, binary_accuracy, categorical_accuracy, sparse_categorical_accuracy)
ALL_OBJECTS_DICT = {obj.__name__.lower(): obj for obj in ALL_OBJECTS}
_LOSS_FUNCTIONS = {"mse": losses_module.mean_squared_error,
                   "mae": losses_module.mean_absolute_error,
                   "bce": losses_module.binary_crossentropy}
for _f in (losses_module.mean_squared_error, losses_module.mean_absolute_error,
           losses_module.binary_crossentropy, losses_module.categorical_crossentropy,
           losses_module.sparse_categorical_crossentropy):
    _LOSS_FUNCTIONS[_f.__name__] = _f
_FUNCTION_CLASSES = {accuracy: Accuracy, binary_accuracy: BinaryAccuracy,
                     categorical_accuracy: CategoricalAccuracy,
                     sparse_categorical_accuracy: SparseCategoricalAccuracy}


def _shape(x):
    """A shape from an array, a Tensor or a shape tuple."""
    if x is None or isinstance(x, tuple):
        return x
    return tuple(np.shape(x.data if isinstance(x, Tensor) else x))


def get(identifier, loss=None, y_true=None, y_pred=None):
    """A ``Metric`` from a name (case-insensitive), a config dict, a class, an instance
    (returned as is) or a function ``fn(y_true, y_pred)`` (wrapped in a running mean).

    "accuracy"/"acc" (any case) resolve through ``resolve_accuracy`` with ``loss`` and the
    shapes of ``y_true``/``y_pred`` (arrays, Tensors or shape tuples). A metric made from a
    string is named after that string, as ``compile`` does in Keras.
    """
    if identifier is None:
        return None
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, dict):
        cls = ALL_OBJECTS_DICT.get(str(identifier.get("class_name", "")).lower())
        if inspect.isclass(cls):
            return cls.from_config(dict(identifier.get("config") or {}))
    elif isinstance(identifier, str):
        key = identifier.lower()
        if key in ("accuracy", "acc"):
            return resolve_accuracy(loss, _shape(y_true), _shape(y_pred), name=identifier)
        obj = ALL_OBJECTS_DICT.get(key)
        if obj in _FUNCTION_CLASSES:
            return _FUNCTION_CLASSES[obj](name=identifier)
        if inspect.isclass(obj):
            return obj(name=identifier)
        if key in _LOSS_FUNCTIONS:
            return MeanMetricWrapper(_LOSS_FUNCTIONS[key], name=identifier)
    elif inspect.isclass(identifier) and issubclass(identifier, Metric):
        return identifier()
    elif isinstance(identifier, losses_module.Loss):
        return MeanMetricWrapper(identifier, name=identifier.name)
    elif callable(identifier) and not inspect.isclass(identifier):
        if identifier in _FUNCTION_CLASSES:
            return _FUNCTION_CLASSES[identifier]()
        return MeanMetricWrapper(identifier)
    raise ValueError(f"Could not interpret metric identifier: {identifier!r}")
