"""Keras 3 compatible losses built from differentiable tensorlib ops.

The functions (``categorical_crossentropy``, ``mean_squared_error``, ...) return one loss
per sample as a ``Tensor``, like Keras's. The ``Loss`` classes reduce those values
(default ``"sum_over_batch_size"``: the mean over samples) and return a scalar ``Tensor``
that ``backward()`` can differentiate. ``y_pred`` is a ``Tensor`` (arrays are wrapped);
``y_true`` is an array or ``Tensor`` and is cast to ``y_pred``'s dtype.

Numerics follow Keras: probabilities are clipped to ``[1e-7, 1 - 1e-7]`` and categorical
cross-entropy first renormalises ``y_pred`` to sum to one over the last axis.

``CategoricalCrossentropy`` / ``SparseCategoricalCrossentropy`` built with
``from_logits=False`` look at ``y_pred`` as Keras does: when it was made by a softmax over
the class axis (``Tensor.softmax`` records its input as ``y_pred._softmax_of``), the loss is
computed by ``from_logits_call`` on the softmax's input, the fused kernel
``functional.softmax_cross_entropy``; its gradient flows to that input directly, and the
softmax output itself serves the metrics. No layer or model needs to know.

Keras's other losses (``Huber``, ``LogCosh``, ``Poisson``, ``KLDivergence``, the hinge and
focal losses, ...) are in ``losses_extra`` and published here with their string names.
"""
import inspect
import warnings

import numpy as np

from . import functional, losses_extra
from .losses_base import (EPSILON, REDUCTIONS, FUNCTIONS_BY_NAME, Loss,  # noqa: F401
                          LossFunctionWrapper, _check_axis, _check_classes,
                          _check_same_shape, _int_labels, _log_probs, _looks_like_labels,
                          _match_rank, _pred, _raw, _reduce, _snake)
from .losses_extra import *  # noqa: F401,F403 - Keras's other losses, published here
from .tensor import stack, tensor, zeros

__all__ = ["Loss", "LossFunctionWrapper", "CategoricalCrossentropy",
           "SparseCategoricalCrossentropy", "BinaryCrossentropy", "MeanSquaredError",
           "MeanAbsoluteError", "categorical_crossentropy", "sparse_categorical_crossentropy",
           "binary_crossentropy", "mean_squared_error", "mean_absolute_error", "get"]


# ---------------------------------------------------------------- functions
def mean_squared_error(y_true, y_pred):
    """``mean(square(y_true - y_pred), axis=-1)`` per sample."""
    y_pred = _pred(y_pred)
    y_true, y_pred = _match_rank(_raw(y_true).astype(y_pred.dtype), y_pred)
    _check_same_shape("mean_squared_error", y_true, y_pred, broadcast=True)
    d = y_pred - tensor(y_true)
    return (d * d).mean(axis=-1)


def mean_absolute_error(y_true, y_pred):
    """``mean(abs(y_true - y_pred), axis=-1)`` per sample."""
    y_pred = _pred(y_pred)
    y_true, y_pred = _match_rank(_raw(y_true).astype(y_pred.dtype), y_pred)
    _check_same_shape("mean_absolute_error", y_true, y_pred, broadcast=True)
    return (y_pred - tensor(y_true)).abs().mean(axis=-1)


def _validate_categorical(fn, t, p_shape):
    if tuple(t.shape) != tuple(p_shape) and _looks_like_labels(t.shape, p_shape):
        raise ValueError(
            f"{fn}: y_true looks like integer class labels but this loss expects one-hot "
            f"targets of y_pred's shape. Use `sparse_categorical_crossentropy` with integer "
            f"labels, or one-hot encode them with `to_categorical`. Received: "
            f"y_true.shape={tuple(t.shape)}, y_pred.shape={tuple(p_shape)}")
    if tuple(t.shape) != tuple(p_shape):
        raise ValueError(f"{fn}: arguments `target` and `output` must have the same shape. "
                         f"Received: target.shape={tuple(t.shape)}, "
                         f"output.shape={tuple(p_shape)}")


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """``-sum(y_true * log(y_pred), axis)`` with one-hot (or probability) targets."""
    fn = "categorical_crossentropy"
    y_pred = _pred(y_pred)
    t = _raw(y_true)
    _check_axis(fn, axis, y_pred.ndim)
    _check_classes(fn, y_pred.shape, axis)
    _validate_categorical(fn, t, y_pred.shape)
    if y_pred.shape[-1] == 1:
        warnings.warn(f"In loss {fn}, expected y_pred.shape to be (batch_size, num_classes) "
                      f"with num_classes > 1. Received: y_pred.shape={y_pred.shape}. "
                      "Consider using 'binary_crossentropy' if you only have 2 classes.",
                      SyntaxWarning, stacklevel=2)
    t = _smooth_categorical(t.astype(y_pred.dtype), label_smoothing, axis)
    return -(tensor(t) * _log_probs(y_pred, from_logits, axis)).sum(axis=axis)


def _smooth_categorical(t, label_smoothing, axis=-1):
    if label_smoothing:
        t = t * (1.0 - label_smoothing) + label_smoothing / t.shape[axis]
    return t.astype(t.dtype, copy=False)


def _validate_sparse(fn, y_true, p_shape, ignore_class=None):
    """The labels (trailing 1 squeezed) as int64 and the mask of entries not ignored."""
    t = _raw(y_true)
    if len(p_shape) < 1:
        raise ValueError(f"{fn}: y_pred must have at least rank 1. Received: "
                         f"y_pred.shape={tuple(p_shape)}")
    if t.ndim == len(p_shape) and t.ndim > 0 and t.shape[-1] == 1:
        t = t.reshape(t.shape[:-1])
    if tuple(t.shape) == tuple(p_shape) and p_shape[-1] > 1:
        raise ValueError(f"{fn}: y_true has y_pred's shape, so it looks one-hot encoded; this "
                         "loss expects integer class labels. Use `categorical_crossentropy` "
                         "for one-hot targets. Received: "
                         f"y_true.shape={tuple(_raw(y_true).shape)}, "
                         f"y_pred.shape={tuple(p_shape)}")
    if tuple(t.shape) != tuple(p_shape[:-1]):
        raise ValueError(f"{fn}: arguments `target` and `output` must have the same shape up "
                         "until the last dimension. Received: "
                         f"target.shape={tuple(_raw(y_true).shape)}, "
                         f"output.shape={tuple(p_shape)}")
    return _int_labels(fn, t, p_shape[-1], ignore_class)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None,
                                    axis=-1):
    """Cross-entropy against integer class indices; ``y_true`` of shape ``y_pred.shape[:-1]``
    (a trailing 1 is squeezed). Entries equal to ``ignore_class`` give a loss of 0."""
    fn = "sparse_categorical_crossentropy"
    y_pred = _pred(y_pred)
    if axis not in (-1, y_pred.ndim - 1):
        raise ValueError(f"{fn}: only the last axis is supported as the class axis. "
                         f"Received: axis={axis!r} for y_pred of rank {y_pred.ndim}")
    _check_classes(fn, y_pred.shape, -1)
    labels, valid = _validate_sparse(fn, y_true, y_pred.shape, ignore_class)
    labels = np.where(valid, labels, 0)
    onehot = (labels[..., None] == np.arange(y_pred.shape[-1])).astype(y_pred.dtype)
    if ignore_class is not None:
        onehot *= valid[..., None]
    return -(tensor(onehot) * _log_probs(y_pred, from_logits, -1)).sum(axis=-1)


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """``mean(-(y*log(p) + (1-y)*log(1-p)), axis)`` per sample."""
    fn = "binary_crossentropy"
    y_pred = _pred(y_pred)
    t, y_pred = _match_rank(_raw(y_true).astype(y_pred.dtype), y_pred)
    _check_same_shape(fn, t, y_pred)
    _check_axis(fn, axis, y_pred.ndim)
    if label_smoothing:
        t = (t * (1.0 - label_smoothing) + 0.5 * label_smoothing).astype(y_pred.dtype)
    z = tensor(t)
    if from_logits:
        # log(1 - sigmoid(x)) and log(sigmoid(x)) as a 2-way log-softmax of (0, x): stable,
        # and its gradient is exact everywhere (also at x == 0).
        pair = stack([zeros(y_pred.shape, dtype=y_pred.dtype), y_pred], axis=-1).log_softmax(-1)
        log_neg, log_pos = pair[..., 0], pair[..., 1]
    else:
        p = y_pred.clip(EPSILON, 1.0 - EPSILON)
        log_pos, log_neg = p.log(), (1.0 - p).log()
    return -(z * log_pos + (1.0 - z) * log_neg).mean(axis=axis)


class MeanSquaredError(LossFunctionWrapper):
    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, reduction=reduction, name=name, dtype=dtype)

    def get_config(self):
        return Loss.get_config(self)


class MeanAbsoluteError(LossFunctionWrapper):
    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error",
                 dtype=None):
        super().__init__(mean_absolute_error, reduction=reduction, name=name, dtype=dtype)

    def get_config(self):
        return Loss.get_config(self)


class BinaryCrossentropy(LossFunctionWrapper):
    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="binary_crossentropy", dtype=None):
        super().__init__(binary_crossentropy, reduction=reduction, name=name, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)
        self.from_logits, self.label_smoothing, self.axis = from_logits, label_smoothing, axis

    def get_config(self):
        return {**Loss.get_config(self), "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing, "axis": self.axis}


class _SoftmaxFusable(LossFunctionWrapper):
    """Shared by the two categorical losses: the fused softmax-cross-entropy entry point."""

    def __call__(self, y_true, y_pred, sample_weight=None):
        source = None if self.from_logits else getattr(y_pred, "_softmax_of", None)
        if source is not None and (self.dtype is None or y_pred.dtype == np.dtype(self.dtype)):
            logits, axis = source
            if axis % max(logits.ndim, 1) == self._class_axis(logits.ndim):
                return self.from_logits_call(y_true, logits, sample_weight)
        return super().__call__(y_true, y_pred, sample_weight)

    def _class_axis(self, ndim):
        return getattr(self, "axis", -1) % max(ndim, 1)

    def from_logits_call(self, y_true, logits, sample_weight=None):
        """The loss of ``softmax(logits)``, via the fused kernel when it applies (rank-2
        logits, no sample weight, a mean reduction); otherwise via ``log_softmax``."""
        logits = _pred(logits)
        _check_classes(self.fn.__name__, logits.shape, -1)
        target = self._fused_target(y_true, logits)
        if (logits.ndim == 2 and sample_weight is None and target is not None
                and self.reduction in ("sum_over_batch_size", "mean")):
            return functional.softmax_cross_entropy(logits, target)
        values = self.fn(y_true, logits, from_logits=True,
                         **{k: v for k, v in self._fn_kwargs.items() if k != "from_logits"})
        return _reduce(values, sample_weight, self.reduction, getattr(self, "_mask", None))


class CategoricalCrossentropy(_SoftmaxFusable):
    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="categorical_crossentropy", dtype=None):
        super().__init__(categorical_crossentropy, reduction=reduction, name=name, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)
        self.from_logits, self.label_smoothing, self.axis = from_logits, label_smoothing, axis

    def _fused_target(self, y_true, logits):
        if self.axis not in (-1, logits.ndim - 1):
            return None
        _validate_categorical("categorical_crossentropy", _raw(y_true), logits.shape)
        return _smooth_categorical(_raw(y_true).astype(logits.dtype), self.label_smoothing)

    def get_config(self):
        return {**Loss.get_config(self), "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing, "axis": self.axis}


class SparseCategoricalCrossentropy(_SoftmaxFusable):
    def __init__(self, from_logits=False, ignore_class=None, reduction="sum_over_batch_size",
                 axis=-1, name="sparse_categorical_crossentropy", dtype=None):
        super().__init__(sparse_categorical_crossentropy, reduction=reduction, name=name,
                         dtype=dtype, from_logits=from_logits, ignore_class=ignore_class,
                         axis=axis)
        self.from_logits, self.ignore_class, self.axis = from_logits, ignore_class, axis

    def call(self, y_true, y_pred):
        self._set_mask(y_true, y_pred)
        return super().call(y_true, y_pred)

    def from_logits_call(self, y_true, logits, sample_weight=None):
        self._set_mask(y_true, logits)
        return super().from_logits_call(y_true, logits, sample_weight)

    def _set_mask(self, y_true, y_pred):
        self._mask = None
        if self.ignore_class is not None:
            t = _raw(y_true)
            if t.ndim == len(y_pred.shape) and t.ndim and t.shape[-1] == 1:
                t = t.reshape(t.shape[:-1])
            self._mask = t != self.ignore_class

    def _fused_target(self, y_true, logits):
        if self.ignore_class is not None:
            return None
        return _validate_sparse("sparse_categorical_crossentropy", y_true, logits.shape)[0]

    def get_config(self):
        return {**Loss.get_config(self), "from_logits": self.from_logits,
                "ignore_class": self.ignore_class}


# ---------------------------------------------------------------- registry
ALL_OBJECTS = (CategoricalCrossentropy, SparseCategoricalCrossentropy, BinaryCrossentropy,
               MeanSquaredError, MeanAbsoluteError, categorical_crossentropy,
               sparse_categorical_crossentropy, binary_crossentropy, mean_squared_error,
               mean_absolute_error, *losses_extra.FUNCTION_CLASSES.values(),
               *losses_extra.FUNCTION_CLASSES)
_FUNCTION_CLASSES = {categorical_crossentropy: CategoricalCrossentropy,
                     sparse_categorical_crossentropy: SparseCategoricalCrossentropy,
                     binary_crossentropy: BinaryCrossentropy,
                     mean_squared_error: MeanSquaredError,
                     mean_absolute_error: MeanAbsoluteError,
                     **losses_extra.FUNCTION_CLASSES}
ALL_OBJECTS_DICT = {obj.__name__.lower(): obj for obj in ALL_OBJECTS}
ALL_OBJECTS_DICT.update({"bce": binary_crossentropy, "mse": mean_squared_error,
                         "mae": mean_absolute_error, **losses_extra.ALIASES})
__all__ += losses_extra.__all__
FUNCTIONS_BY_NAME.update({k: v for k, v in ALL_OBJECTS_DICT.items()
                          if not inspect.isclass(v)})
_CLASSES = {obj.__name__: obj for obj in ALL_OBJECTS if inspect.isclass(obj)}


def serialize(loss):
    return {"class_name": type(loss).__name__, "config": loss.get_config()}


def get(identifier):
    """A ``Loss`` instance from a name (case-insensitive: "mse", "categorical_crossentropy",
    "CategoricalCrossentropy", ...), a config dict, a class, an instance (returned as is) or
    a function ``fn(y_true, y_pred)`` returning per-sample losses (wrapped in a
    ``LossFunctionWrapper`` so that calling the result always gives the reduced loss).
    A name resolves to a loss named after that string, as ``compile`` does in Keras."""
    if identifier is None:
        return None
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, dict):
        name = str(identifier.get("class_name", ""))
        cls = _CLASSES.get(name) or ALL_OBJECTS_DICT.get(name.lower())
        if inspect.isclass(cls):
            return cls.from_config(dict(identifier.get("config") or {}))
    elif isinstance(identifier, str):
        obj = _CLASSES.get(identifier) or ALL_OBJECTS_DICT.get(identifier.lower())
        if obj in _FUNCTION_CLASSES:
            return _FUNCTION_CLASSES[obj](name=identifier)
        if inspect.isclass(obj):
            return obj()
    elif inspect.isclass(identifier) and issubclass(identifier, Loss):
        return identifier()
    elif callable(identifier) and not inspect.isclass(identifier):
        if identifier in _FUNCTION_CLASSES:
            return _FUNCTION_CLASSES[identifier]()
        return LossFunctionWrapper(identifier)
    raise ValueError(f"Could not interpret loss identifier: {identifier!r}")
