"""The base of tensorlib's losses: Keras 3's ``Loss`` (reduction and sample weighting in
``__call__``), ``LossFunctionWrapper``, and the argument helpers the losses share.
``tensorlib.losses`` publishes them with the losses themselves."""
import numpy as np

from .tensor import Tensor, tensor

EPSILON = 1e-7
REDUCTIONS = ("sum_over_batch_size", "sum", None, "none", "mean", "mean_with_sample_weight")
FUNCTIONS_BY_NAME = {}   # built-in loss functions by lower-case name (filled by losses)


# ---------------------------------------------------------------- helpers
def _pred(y_pred):
    if isinstance(y_pred, Tensor):
        return y_pred
    arr = np.asarray(y_pred)
    return tensor(arr if arr.dtype.kind == "f" else arr.astype(np.float32))


def _raw(y):
    return y.data if isinstance(y, Tensor) else np.asarray(y)


def _match_rank(a, b):
    """Keras's squeeze_or_expand_to_same_rank for objects with ``shape``/``reshape``."""
    ra, rb = len(a.shape), len(b.shape)
    if ra == rb + 1 and a.shape[-1] == 1:
        if rb == 1:
            b = b.reshape(tuple(b.shape) + (1,))
        else:
            a = a.reshape(tuple(a.shape[:-1]))
    elif rb == ra + 1 and b.shape[-1] == 1:
        if ra == 1:
            a = a.reshape(tuple(a.shape) + (1,))
        else:
            b = b.reshape(tuple(b.shape[:-1]))
    return a, b


def _looks_like_labels(t_shape, p_shape):
    """Integer class labels of shape (N,) / (N, 1) against (N, C) predictions, C > 1."""
    if len(p_shape) < 1 or p_shape[-1] <= 1:
        return False
    return tuple(t_shape) == tuple(p_shape[:-1]) or \
        tuple(t_shape) == tuple(p_shape[:-1]) + (1,)


def _check_same_shape(fn, t, p, broadcast=False):
    """After Keras's rank matching, ``target`` must have ``output``'s shape, or with
    ``broadcast`` broadcast to it (Keras's MSE and MAE broadcast them)."""
    fits = tuple(t.shape) == tuple(p.shape)
    if broadcast and not fits:
        try:
            fits = np.broadcast_shapes(tuple(t.shape), tuple(p.shape)) == tuple(p.shape)
        except ValueError:
            fits = False
    if not fits:
        raise ValueError(f"{fn}: arguments `target` and `output` must have the same shape"
                         f"{' (or `target` broadcast to it)' if broadcast else ''}. "
                         f"Received: target.shape={tuple(t.shape)}, "
                         f"output.shape={tuple(p.shape)}")


def _check_axis(fn, axis, ndim):
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)) or \
            not -max(ndim, 1) <= axis < max(ndim, 1):
        raise ValueError(f"{fn}: `axis` must be an int within the rank of y_pred ({ndim}). "
                         f"Received: axis={axis!r}")


def _check_classes(fn, p_shape, axis):
    if len(p_shape) and p_shape[axis] == 0:
        raise ValueError(f"{fn}: y_pred has no classes (its class axis has size 0). "
                         f"Received: y_pred.shape={tuple(p_shape)}")


def _log_probs(y_pred, from_logits, axis):
    if from_logits:
        return y_pred.log_softmax(axis)
    out = y_pred / y_pred.sum(axis=axis, keepdims=True)
    return out.clip(EPSILON, 1.0 - EPSILON).log()


def _int_labels(fn, y_true, num_classes, ignore_class=None):
    arr = _raw(y_true)
    if arr.dtype.kind == "b" or arr.dtype.kind not in "iuf":
        raise ValueError(f"{fn}: y_true must hold integer class indices. Received: "
                         f"dtype={arr.dtype}")
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise ValueError(f"{fn}: y_true must hold integer class indices. Received: "
                             f"non-integer values such as "
                             f"{arr[arr != np.round(arr)][:3].tolist()}")
    labels = arr.astype(np.int64)
    valid = np.ones(labels.shape, bool) if ignore_class is None else labels != ignore_class
    bad = valid & ((labels < 0) | (labels >= num_classes))
    if bad.any():
        raise ValueError(f"{fn}: class indices must lie in [0, {num_classes}). Received: "
                         f"{sorted(set(labels[bad].tolist()))[:5]}")
    return labels, valid


# ---------------------------------------------------------------- reduction
def _reduce(values, sample_weight, reduction, mask=None):
    """Keras's reduce_weighted_values for a Tensor of per-sample losses."""
    if mask is not None:
        mask = mask.astype(values.dtype)
        if reduction in ("mean", "sum_over_batch_size"):
            valid = mask.sum()
            mask = mask * (mask.size / valid if valid else 0.0)
        if sample_weight is not None:
            sw = _raw(sample_weight).astype(values.dtype)
            mask, sw = _match_rank(mask, sw)
            sample_weight = sw * mask
        else:
            sample_weight = mask
    if sample_weight is not None:
        sw = _raw(sample_weight).astype(values.dtype)
        values, sw = _match_rank(values, sw)
        try:
            np.broadcast_shapes(values.shape, sw.shape)
        except ValueError:
            raise ValueError("sample_weight cannot be broadcast to the per-sample losses. "
                             f"Received: sample_weight.shape={sw.shape}, losses shape "
                             f"{values.shape}") from None
        values = values * tensor(sw)
    if reduction in (None, "none") or values.shape in ((), (0,)):
        return values
    loss = values.sum()
    if reduction == "sum":
        return loss
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        total = float(np.sum(sw))
        return loss / total if total else loss * 0.0
    return loss / values.size if values.size else loss * 0.0


# ---------------------------------------------------------------- classes
class Loss:
    """Base class: ``__call__(y_true, y_pred, sample_weight=None)`` reduces ``call``."""

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        if reduction not in REDUCTIONS:
            raise ValueError(f"Invalid value for argument `reduction`. Expected one of "
                             f"{REDUCTIONS}. Received: reduction={reduction!r}")
        self.name = name or _snake(type(self).__name__)
        self.reduction = reduction
        self.dtype = dtype

    def __call__(self, y_true, y_pred, sample_weight=None):
        y_pred = _pred(y_pred)
        if self.dtype is not None and y_pred.dtype != np.dtype(self.dtype):
            y_pred = y_pred.astype(self.dtype)
        values = self.call(y_true, y_pred)
        return _reduce(values, sample_weight, self.reduction, getattr(self, "_mask", None))

    def call(self, y_true, y_pred):
        raise NotImplementedError

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r}>"


def _snake(name):
    return "".join("_" + c.lower() if c.isupper() and i else c.lower()
                   for i, c in enumerate(name))


class LossFunctionWrapper(Loss):
    """Wraps ``fn(y_true, y_pred, **kwargs)`` returning per-sample losses."""

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        super().__init__(name=name or getattr(fn, "__name__", None), reduction=reduction,
                         dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        y_true, y_pred = _match_rank(_raw(y_true), y_pred)
        out = self.fn(y_true, y_pred, **self._fn_kwargs)
        return out if isinstance(out, Tensor) else _pred(out)

    def get_config(self):
        return {**super().get_config(), "fn": getattr(self.fn, "__name__", self.fn),
                **self._fn_kwargs}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("fn"), str):          # a built-in function, by name
            config["fn"] = FUNCTIONS_BY_NAME[config["fn"].lower()]
        return cls(**config)

    def __repr__(self):
        return f"<LossFunctionWrapper({self.fn}, kwargs={self._fn_kwargs})>"
