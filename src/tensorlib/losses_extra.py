"""Keras 3's regression, hinge, probabilistic and focal losses (``keras.losses``), built
from differentiable Tensor ops; ``tensorlib.losses`` publishes them and their string names.

Each function returns one value per sample (the mean or sum over the last axis, as in
Keras); each class is a ``LossFunctionWrapper`` of its function, reduced and weighted by
``Loss.__call__``. Constants follow Keras: ``epsilon = 1e-7`` clips probabilities and
guards divisions and logs; hinge losses turn 0/1 labels into -1/1.
"""
import math

import numpy as np

from . import activation_ops
from .losses_base import (EPSILON, Loss, LossFunctionWrapper, _check_axis, _match_rank,
                          _pred, _raw)
from .tensor import tensor

__all__ = ["MeanAbsolutePercentageError", "MeanSquaredLogarithmicError", "Huber",
           "LogCosh", "Poisson", "KLDivergence", "CosineSimilarity", "Hinge", "SquaredHinge",
           "CategoricalHinge", "BinaryFocalCrossentropy", "CategoricalFocalCrossentropy",
           "mean_absolute_percentage_error", "mean_squared_logarithmic_error", "huber",
           "log_cosh", "poisson", "kl_divergence", "cosine_similarity", "hinge",
           "squared_hinge", "categorical_hinge", "binary_focal_crossentropy",
           "categorical_focal_crossentropy", "kld", "KLD", "mape", "MAPE", "msle", "MSLE"]


def _pair(fn, y_true, y_pred, same_shape=True):
    """``(y_true as a constant array of y_pred's dtype, y_pred as a Tensor)``, ranks
    matched as Keras's squeeze_or_expand_to_same_rank does."""
    y_pred = _pred(y_pred)
    t, y_pred = _match_rank(_raw(y_true).astype(y_pred.dtype), y_pred)
    if same_shape:
        try:
            np.broadcast_shapes(t.shape, tuple(y_pred.shape))
        except ValueError:
            raise ValueError(f"{fn}: y_true and y_pred shapes do not match. Received: "
                             f"y_true.shape={t.shape}, y_pred.shape={tuple(y_pred.shape)}"
                             ) from None
    return t, y_pred


# ---------------------------------------------------------------- regression
def mean_absolute_percentage_error(y_true, y_pred):
    """``100 * mean(|y_true - y_pred| / max(|y_true|, eps), axis=-1)``."""
    t, p = _pair("mean_absolute_percentage_error", y_true, y_pred)
    scale = tensor((100.0 / np.maximum(np.abs(t), EPSILON)).astype(p.dtype))
    return ((tensor(t) - p).abs() * scale).mean(axis=-1)


def mean_squared_logarithmic_error(y_true, y_pred):
    """``mean((log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1))^2, axis=-1)``."""
    t, p = _pair("mean_squared_logarithmic_error", y_true, y_pred)
    d = (p.clip(EPSILON) + 1.0).log() - tensor(np.log(np.maximum(t, EPSILON) + 1.0))
    return (d * d).mean(axis=-1)


def huber(y_true, y_pred, delta=1.0):
    """``mean(0.5 e^2 if |e| <= delta else delta |e| - 0.5 delta^2, axis=-1)``, written as
    ``0.5 q^2 + delta (|e| - q)`` with ``q = min(|e|, delta)``."""
    t, p = _pair("huber", y_true, y_pred)
    if isinstance(delta, bool) or not isinstance(delta, (int, float)) or delta < 0:
        raise ValueError(f"huber: `delta` must be a number >= 0. Received: delta={delta!r}")
    err = (p - tensor(t)).abs()
    q = err.clip(None, float(delta))
    return (0.5 * q * q + float(delta) * (err - q)).mean(axis=-1)


def log_cosh(y_true, y_pred):
    """``mean(log(cosh(y_pred - y_true)), axis=-1)`` as ``x + softplus(-2x) - log 2``."""
    t, p = _pair("log_cosh", y_true, y_pred)
    x = p - tensor(t)
    return (x + activation_ops.apply("softplus", x * -2.0) - math.log(2.0)).mean(axis=-1)


# ---------------------------------------------------------------- probabilistic
def poisson(y_true, y_pred):
    """``mean(y_pred - y_true * log(y_pred + eps), axis=-1)``."""
    t, p = _pair("poisson", y_true, y_pred)
    return (p - tensor(t) * (p + EPSILON).log()).mean(axis=-1)


def kl_divergence(y_true, y_pred):
    """``sum(y_true * log(y_true / y_pred), axis=-1)``, both clipped to ``[eps, 1]``."""
    t, p = _pair("kl_divergence", y_true, y_pred)
    t = np.clip(t, EPSILON, 1.0)
    return (tensor(t) * (tensor(np.log(t)) - p.clip(EPSILON, 1.0).log())).sum(axis=-1)


def cosine_similarity(y_true, y_pred, axis=-1):
    """``-sum(l2_normalize(y_true) * l2_normalize(y_pred), axis)``; norms floored at eps."""
    t, p = _pair("cosine_similarity", y_true, y_pred)
    _check_axis("cosine_similarity", axis, p.ndim)
    t_unit = t / np.maximum(np.sqrt(np.sum(t * t, axis=axis, keepdims=True)), EPSILON)
    p_norm = (p * p).sum(axis=axis, keepdims=True).clip(EPSILON * EPSILON).sqrt()
    return -(tensor(t_unit.astype(p.dtype)) * (p / p_norm)).sum(axis=axis)


# ---------------------------------------------------------------- hinge
def _hinge_labels(t):
    """0/1 labels as -1/1 (labels already -1/1, or anything else, pass unchanged)."""
    return 2.0 * t - 1.0 if np.all((t == 0) | (t == 1)) else t


def hinge(y_true, y_pred):
    """``mean(max(1 - y_true * y_pred, 0), axis=-1)`` with -1/1 labels."""
    t, p = _pair("hinge", y_true, y_pred, same_shape=False)
    return (1.0 - tensor(_hinge_labels(t)) * p).relu().mean(axis=-1)


def squared_hinge(y_true, y_pred):
    """``mean(max(1 - y_true * y_pred, 0)^2, axis=-1)`` with -1/1 labels."""
    t, p = _pair("squared_hinge", y_true, y_pred, same_shape=False)
    m = (1.0 - tensor(_hinge_labels(t)) * p).relu()
    return (m * m).mean(axis=-1)


def categorical_hinge(y_true, y_pred):
    """``max(max((1 - y_true) * y_pred) - sum(y_true * y_pred) + 1, 0)`` over the last
    axis, with one-hot ``y_true``."""
    t, p = _pair("categorical_hinge", y_true, y_pred)
    pos = (tensor(t) * p).sum(axis=-1)
    neg = (tensor(1.0 - t) * p).max(axis=-1)
    return (neg - pos + 1.0).relu()


# ---------------------------------------------------------------- focal
def _check_focal(fn, gamma, alpha):
    for arg, v in (("gamma", gamma), ("alpha", alpha)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
            raise ValueError(f"{fn}: `{arg}` must be a number >= 0. Received: {arg}={v!r}")


def binary_focal_crossentropy(y_true, y_pred, apply_class_balancing=False, alpha=0.25,
                              gamma=2.0, from_logits=False, label_smoothing=0.0, axis=-1):
    """``mean((1 - p_t)^gamma * bce, axis)`` with ``p_t = y p + (1 - y)(1 - p)``; with
    ``apply_class_balancing`` also weighted by ``alpha`` (positives) / ``1 - alpha``."""
    fn = "binary_focal_crossentropy"
    _check_focal(fn, gamma, alpha)
    t, p = _pair(fn, y_true, y_pred)
    _check_axis(fn, axis, p.ndim)
    if label_smoothing:
        t = t * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        p = p.sigmoid()
    z = tensor(t.astype(p.dtype))
    pc = p.clip(EPSILON, 1.0 - EPSILON)
    bce = -(z * pc.log() + (1.0 - z) * (1.0 - pc).log())
    p_t = z * p + (1.0 - z) * (1.0 - p)
    focal = (1.0 - p_t) ** float(gamma) * bce
    if apply_class_balancing:
        focal = tensor((t * alpha + (1.0 - t) * (1.0 - alpha)).astype(p.dtype)) * focal
    return focal.mean(axis=axis)


def categorical_focal_crossentropy(y_true, y_pred, alpha=0.25, gamma=2.0, from_logits=False,
                                   label_smoothing=0.0, axis=-1):
    """``sum(alpha * (1 - p)^gamma * -y_true * log(p), axis)`` with ``p`` the (softmaxed,
    renormalised, clipped) predictions."""
    fn = "categorical_focal_crossentropy"
    _check_focal(fn, gamma, alpha)
    t, p = _pair(fn, y_true, y_pred)
    _check_axis(fn, axis, p.ndim)
    if label_smoothing:
        t = t * (1.0 - label_smoothing) + label_smoothing / t.shape[-1]
    if from_logits:
        p = p.softmax(axis)
    out = (p / p.sum(axis=axis, keepdims=True)).clip(EPSILON, 1.0 - EPSILON)
    cce = -tensor(t.astype(p.dtype)) * out.log()
    return ((1.0 - out) ** float(gamma) * float(alpha) * cce).sum(axis=axis)


# ---------------------------------------------------------------- classes
class _Plain(LossFunctionWrapper):
    """A wrapper of ``_fn`` whose config is Keras's name and reduction (+ ``_args``)."""
    _args = ()

    def __init__(self, reduction, name, dtype, **kwargs):
        super().__init__(type(self)._fn, reduction=reduction, name=name, dtype=dtype,
                         **kwargs)
        for k, v in kwargs.items():
            setattr(self, k, v)

    def get_config(self):
        return {**Loss.get_config(self), **{k: getattr(self, k) for k in self._args}}


SOBS = "sum_over_batch_size"


class MeanAbsolutePercentageError(_Plain):
    _fn = staticmethod(mean_absolute_percentage_error)

    def __init__(self, reduction=SOBS, name="mean_absolute_percentage_error", dtype=None):
        super().__init__(reduction, name, dtype)


class MeanSquaredLogarithmicError(_Plain):
    _fn = staticmethod(mean_squared_logarithmic_error)

    def __init__(self, reduction=SOBS, name="mean_squared_logarithmic_error", dtype=None):
        super().__init__(reduction, name, dtype)


class Huber(_Plain):
    _fn, _args = staticmethod(huber), ("delta",)

    def __init__(self, delta=1.0, reduction=SOBS, name="huber_loss", dtype=None):
        super().__init__(reduction, name, dtype, delta=delta)


class LogCosh(_Plain):
    _fn = staticmethod(log_cosh)

    def __init__(self, reduction=SOBS, name="log_cosh", dtype=None):
        super().__init__(reduction, name, dtype)


class Poisson(_Plain):
    _fn = staticmethod(poisson)

    def __init__(self, reduction=SOBS, name="poisson", dtype=None):
        super().__init__(reduction, name, dtype)


class KLDivergence(_Plain):
    _fn = staticmethod(kl_divergence)

    def __init__(self, reduction=SOBS, name="kl_divergence", dtype=None):
        super().__init__(reduction, name, dtype)


class CosineSimilarity(_Plain):
    _fn, _args = staticmethod(cosine_similarity), ("axis",)

    def __init__(self, axis=-1, reduction=SOBS, name="cosine_similarity", dtype=None):
        super().__init__(reduction, name, dtype, axis=axis)


class Hinge(_Plain):
    _fn = staticmethod(hinge)

    def __init__(self, reduction=SOBS, name="hinge", dtype=None):
        super().__init__(reduction, name, dtype)


class SquaredHinge(_Plain):
    _fn = staticmethod(squared_hinge)

    def __init__(self, reduction=SOBS, name="squared_hinge", dtype=None):
        super().__init__(reduction, name, dtype)


class CategoricalHinge(_Plain):
    _fn = staticmethod(categorical_hinge)

    def __init__(self, reduction=SOBS, name="categorical_hinge", dtype=None):
        super().__init__(reduction, name, dtype)


class BinaryFocalCrossentropy(_Plain):
    _fn = staticmethod(binary_focal_crossentropy)
    _args = ("from_logits", "label_smoothing", "axis", "apply_class_balancing", "alpha",
             "gamma")

    def __init__(self, apply_class_balancing=False, alpha=0.25, gamma=2.0, from_logits=False,
                 label_smoothing=0.0, axis=-1, reduction=SOBS,
                 name="binary_focal_crossentropy", dtype=None):
        _check_focal("BinaryFocalCrossentropy", gamma, alpha)
        super().__init__(reduction, name, dtype, apply_class_balancing=apply_class_balancing,
                         alpha=alpha, gamma=gamma, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)


class CategoricalFocalCrossentropy(_Plain):
    _fn = staticmethod(categorical_focal_crossentropy)
    _args = ("from_logits", "label_smoothing", "axis", "alpha", "gamma")

    def __init__(self, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0,
                 axis=-1, reduction=SOBS, name="categorical_focal_crossentropy", dtype=None):
        _check_focal("CategoricalFocalCrossentropy", gamma, alpha)
        super().__init__(reduction, name, dtype, alpha=alpha, gamma=gamma,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)


FUNCTION_CLASSES = {mean_absolute_percentage_error: MeanAbsolutePercentageError,
                    mean_squared_logarithmic_error: MeanSquaredLogarithmicError,
                    huber: Huber, log_cosh: LogCosh, poisson: Poisson,
                    kl_divergence: KLDivergence, cosine_similarity: CosineSimilarity,
                    hinge: Hinge, squared_hinge: SquaredHinge,
                    categorical_hinge: CategoricalHinge,
                    binary_focal_crossentropy: BinaryFocalCrossentropy,
                    categorical_focal_crossentropy: CategoricalFocalCrossentropy}
kld = KLD = kl_divergence
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
ALIASES = {"kld": kl_divergence, "mape": mean_absolute_percentage_error,
           "msle": mean_squared_logarithmic_error}
