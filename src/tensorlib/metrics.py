"""Keras 3 compatible streaming metrics on NumPy arrays.

Every metric has ``update_state(...)``, ``result()`` (a ``MetricResult`` float, or an
array for vector results), ``reset_state()`` and ``name``. ``Mean`` is Keras's weighted
running mean; the accuracy metrics are ``MeanMetricWrapper``s of a per-sample match
function, as in Keras, so ``sample_weight`` weights samples and ``result()`` is
``total / count`` (0.0 before any update). A ``Metric`` subclass keeps state as Keras's
do, in ``add_variable``/``add_weight`` variables (``MetricVariable``). The base classes
are in ``metrics_base``, the regression, probabilistic and top-k metrics in
``metrics_regression``, Precision/Recall/AUC and the F-scores in ``metrics_confusion``;
all are published here.

``get("accuracy", loss=..., y_true=..., y_pred=...)`` resolves the generic
"accuracy"/"acc" names to the accuracy that fits the loss (or, failing that, the shapes),
keeping the name the user wrote; see ``resolve_accuracy``.
"""
import inspect
import re

import numpy as np

from . import losses as losses_module
from . import metrics_confusion, metrics_regression
from .metrics_base import (Mean, MeanMetricWrapper, Metric, MetricResult,  # noqa: F401
                           MetricVariable, Sum, _match_rank, _np, _reduce_to_samplewise)
from .metrics_confusion import *  # noqa: F401,F403
from .metrics_confusion import __all__ as _confusion_all
from .metrics_regression import *  # noqa: F401,F403
from .metrics_regression import __all__ as _regression_all
from .tensor import Tensor

__all__ = ["Metric", "Mean", "MeanMetricWrapper", "Accuracy", "BinaryAccuracy",
           "CategoricalAccuracy", "SparseCategoricalAccuracy", "accuracy", "binary_accuracy",
           "categorical_accuracy", "sparse_categorical_accuracy", "resolve_accuracy", "get"]


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
def _keras_snake(name):
    """Keras's to_snake_case: "AUC" -> "auc", "F1Score" -> "f1_score",
    "TopKCategoricalAccuracy" -> "top_k_categorical_accuracy"."""
    name = re.sub(r"(.)([A-Z][a-z0-9]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


ALL_OBJECTS = (Mean, Sum, MeanMetricWrapper, Accuracy, BinaryAccuracy, CategoricalAccuracy,
               SparseCategoricalAccuracy, *metrics_regression.CLASSES,
               *metrics_confusion.CLASSES, accuracy, binary_accuracy, categorical_accuracy,
               sparse_categorical_accuracy, *metrics_regression.FUNCTIONS)
_CLASSES = {obj.__name__: obj for obj in ALL_OBJECTS if inspect.isclass(obj)}
ALL_OBJECTS_DICT = {obj.__name__.lower(): obj for obj in ALL_OBJECTS}
ALL_OBJECTS_DICT.update({_keras_snake(name): cls for name, cls in _CLASSES.items()})
ALL_OBJECTS_DICT.update({  # Keras's aliases
    "bce": metrics_regression.BinaryCrossentropy, "mse": metrics_regression.MeanSquaredError,
    "mae": metrics_regression.MeanAbsoluteError,
    "mape": metrics_regression.MeanAbsolutePercentageError,
    "msle": metrics_regression.MeanSquaredLogarithmicError})
__all__ += ["Sum", "MetricVariable", "MetricResult", *_confusion_all, *_regression_all]
_FUNCTION_CLASSES = {accuracy: Accuracy, binary_accuracy: BinaryAccuracy,
                     categorical_accuracy: CategoricalAccuracy,
                     sparse_categorical_accuracy: SparseCategoricalAccuracy}
_FUNCTION_CLASSES.update({f: ALL_OBJECTS_DICT[f.__name__]
                          for f in metrics_regression.FUNCTIONS})


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
        name = str(identifier.get("class_name", ""))
        cls = _CLASSES.get(name) or ALL_OBJECTS_DICT.get(name.lower())
        if inspect.isclass(cls) and cls is not MeanMetricWrapper:
            return cls.from_config(dict(identifier.get("config") or {}))
    elif isinstance(identifier, str):
        key = identifier.lower()
        if key in ("accuracy", "acc"):
            return resolve_accuracy(loss, _shape(y_true), _shape(y_pred), name=identifier)
        obj = _CLASSES.get(identifier) or ALL_OBJECTS_DICT.get(key)
        if obj in _FUNCTION_CLASSES:
            return _FUNCTION_CLASSES[obj](name=identifier)
        if inspect.isclass(obj) and obj is not MeanMetricWrapper:
            return obj(name=identifier)
    elif inspect.isclass(identifier) and issubclass(identifier, Metric):
        return identifier()
    elif isinstance(identifier, losses_module.Loss):
        return MeanMetricWrapper(identifier, name=identifier.name)
    elif callable(identifier) and not inspect.isclass(identifier):
        if identifier in _FUNCTION_CLASSES:
            return _FUNCTION_CLASSES[identifier]()
        return MeanMetricWrapper(identifier)
    raise ValueError(f"Could not interpret metric identifier: {identifier!r}")
