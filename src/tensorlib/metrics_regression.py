"""Keras 3's regression, probabilistic, hinge and top-k metrics: ``MeanMetricWrapper``s of
a per-sample function (the losses' own, run without gradients), so ``sample_weight``
weights samples and ``result()`` is the weighted mean; ``RootMeanSquaredError`` is the
square root of the weighted mean squared error."""
import numpy as np

from . import losses as L
from .metrics_base import Mean, MeanMetricWrapper, Metric, _match_rank, _np


def _wrapper(cls_name, fn, default_name, direction, args=()):
    """A metric class over ``fn`` with Keras's signature ``(name, dtype, *args)``."""
    arg_names = [a for a, _ in args]

    def __init__(self, name=default_name, dtype=None, **kwargs):
        unknown = sorted(set(kwargs) - set(arg_names))
        if unknown:
            raise TypeError(f"{cls_name}: unexpected keyword arguments {unknown}. "
                            f"Received: {', '.join(f'{k}={kwargs[k]!r}' for k in unknown)}")
        values = {**dict(args), **kwargs}
        MeanMetricWrapper.__init__(self, fn, name=name, dtype=dtype, **values)
        for k, v in values.items():
            setattr(self, k, v)
        self._direction = direction

    def get_config(self):
        return {**Metric.get_config(self), **{k: getattr(self, k) for k in arg_names}}

    doc = f"Keras's ``metrics.{cls_name}``: the weighted mean of ``{fn.__name__}``."
    return type(cls_name, (MeanMetricWrapper,), {
        "__init__": __init__, "get_config": get_config, "__doc__": doc,
        "__module__": __name__})


def cosine_similarity(y_true, y_pred, axis=-1):
    """``sum(l2_normalize(y_true) * l2_normalize(y_pred), axis)`` (the metric's sign)."""
    t, p = _match_rank(_np(y_true).astype(np.float64), _np(y_pred).astype(np.float64))

    def unit(a):
        return a / np.maximum(np.sqrt(np.sum(a * a, axis=axis, keepdims=True)), L.EPSILON)
    return np.sum(unit(t) * unit(p), axis=axis)


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1.0 where the true class (argmax of one-hot ``y_true``) scores among the ``k``
    highest of ``y_pred`` (ties with the k-th score count as in, as Keras's in_top_k)."""
    return _in_top_k(np.argmax(_np(y_true), axis=-1), _np(y_pred), k)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1.0 where the integer label scores among the ``k`` highest of ``y_pred``."""
    t, p = _np(y_true), _np(y_pred)
    if t.ndim == p.ndim and t.ndim and t.shape[-1] == 1:
        t = t.reshape(t.shape[:-1])
    return _in_top_k(t.astype(np.int64), p, k)


def _in_top_k(labels, scores, k):
    scores = np.asarray(scores, dtype=np.float64)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"top_k_categorical_accuracy: `k` must be a positive integer. "
                         f"Received: k={k!r}")
    n = scores.shape[-1]
    flat, lab = scores.reshape(-1, n), labels.reshape(-1)
    if lab.size != flat.shape[0]:
        raise ValueError("top_k_categorical_accuracy: one label per row of y_pred is "
                         f"needed. Received: y_true of {lab.size} labels, "
                         f"y_pred.shape={scores.shape}")
    kth = np.sort(flat, axis=-1)[:, max(n - k, 0)]
    target = flat[np.arange(flat.shape[0]), np.clip(lab, 0, n - 1)]
    hit = (target >= kth) & (lab >= 0) & (lab < n)
    return hit.astype(np.float64).reshape(labels.shape)


class RootMeanSquaredError(Mean):
    """``sqrt`` of the weighted mean of ``(y_pred - y_true)^2`` (per-sample means)."""

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self._direction = "down"

    def update_state(self, y_true, y_pred, sample_weight=None):
        t, p = _match_rank(_np(y_true).astype(np.float64), _np(y_pred).astype(np.float64))
        super().update_state(np.square(p - t), sample_weight=sample_weight)

    def result(self):
        return float(np.sqrt(self.total / self.count)) if self.count else 0.0

    def get_config(self):
        return Metric.get_config(self)


_CE = (("from_logits", False), ("label_smoothing", 0.0))
MeanSquaredError = _wrapper("MeanSquaredError", L.mean_squared_error, "mean_squared_error",
                            "down")
MeanAbsoluteError = _wrapper("MeanAbsoluteError", L.mean_absolute_error,
                             "mean_absolute_error", "down")
MeanAbsolutePercentageError = _wrapper("MeanAbsolutePercentageError",
                                       L.mean_absolute_percentage_error,
                                       "mean_absolute_percentage_error", "down")
MeanSquaredLogarithmicError = _wrapper("MeanSquaredLogarithmicError",
                                       L.mean_squared_logarithmic_error,
                                       "mean_squared_logarithmic_error", "down")
CosineSimilarity = _wrapper("CosineSimilarity", cosine_similarity, "cosine_similarity", "up",
                            (("axis", -1),))
LogCoshError = _wrapper("LogCoshError", L.log_cosh, "logcosh", "down")
KLDivergence = _wrapper("KLDivergence", L.kl_divergence, "kl_divergence", "down")
Poisson = _wrapper("Poisson", L.poisson, "poisson", "down")
Hinge = _wrapper("Hinge", L.hinge, "hinge", "down")
SquaredHinge = _wrapper("SquaredHinge", L.squared_hinge, "squared_hinge", "down")
CategoricalHinge = _wrapper("CategoricalHinge", L.categorical_hinge, "categorical_hinge",
                            "down")
BinaryCrossentropy = _wrapper("BinaryCrossentropy", L.binary_crossentropy,
                              "binary_crossentropy", "down", _CE)
CategoricalCrossentropy = _wrapper("CategoricalCrossentropy", L.categorical_crossentropy,
                                   "categorical_crossentropy", "down", _CE + (("axis", -1),))
SparseCategoricalCrossentropy = _wrapper("SparseCategoricalCrossentropy",
                                         L.sparse_categorical_crossentropy,
                                         "sparse_categorical_crossentropy", "down",
                                         (("from_logits", False), ("axis", -1)))


class TopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the one-hot target is among the ``k`` top-scored classes."""
    _fn = staticmethod(top_k_categorical_accuracy)

    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        _in_top_k(np.zeros(1, np.int64), np.zeros((1, 1)), k)        # validates k
        super().__init__(type(self)._fn, name=name, dtype=dtype, k=k)
        self.k = k
        self._direction = "up"

    def get_config(self):
        return {**Metric.get_config(self), "k": self.k}


class SparseTopKCategoricalAccuracy(TopKCategoricalAccuracy):
    """How often the integer label is among the ``k`` top-scored classes."""
    _fn = staticmethod(sparse_top_k_categorical_accuracy)

    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None):
        super().__init__(k=k, name=name, dtype=dtype)


CLASSES = (MeanSquaredError, RootMeanSquaredError, MeanAbsoluteError,
           MeanAbsolutePercentageError, MeanSquaredLogarithmicError, CosineSimilarity,
           LogCoshError, KLDivergence, Poisson, Hinge, SquaredHinge, CategoricalHinge,
           BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy,
           TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy)
FUNCTIONS = (top_k_categorical_accuracy, sparse_top_k_categorical_accuracy)
__all__ = [c.__name__ for c in CLASSES] + [f.__name__ for f in FUNCTIONS]
