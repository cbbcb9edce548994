"""Keras 3's confusion-matrix metrics: ``Precision``, ``Recall``, ``AUC`` and the F-scores,
with their state in ``add_variable`` variables (true/false positives/negatives per
threshold or class) updated in NumPy.

As Keras: a prediction is positive when ``y_pred > threshold``; every element of a
multi-label ``y_pred`` counts once (weighted by its sample's weight); ``top_k`` keeps the
k highest scores per row (the rest become -1e10) before ``class_id`` picks one column;
divisions by an empty count give 0.
"""
import numpy as np

from . import losses as losses_module
from .metrics_base import Metric, _match_rank, _np

NEG_INF = -1e10
EPSILON = losses_module.EPSILON


def _parse_thresholds(metric, thresholds, default):
    """(the thresholds as a list, whether one was given as a scalar)."""
    if thresholds is None:
        return [default], True
    single = not isinstance(thresholds, (list, tuple, np.ndarray))
    values = [thresholds] if single else [float(t) for t in thresholds]
    bad = [t for t in values if not (isinstance(t, (int, float, np.number)) and 0 <= t <= 1)]
    if bad or not values:
        raise ValueError(f"{metric}: threshold values must be in [0, 1]. Received: "
                         f"thresholds={thresholds!r}")
    return [float(t) for t in values], single


def _filter_top_k(p, k):
    order = np.argsort(-p, axis=-1, kind="stable")[..., :k]
    keep = np.zeros(p.shape, bool)
    np.put_along_axis(keep, order, True, axis=-1)
    return np.where(keep, p, NEG_INF)


def confusion_counts(y_true, y_pred, thresholds, top_k=None, class_id=None,
                     sample_weight=None, multi_label=False, label_weights=None):
    """Weighted (tp, fp, tn, fn), one entry per threshold (per threshold and label, the
    last axis of ``y_pred``, with ``multi_label``)."""
    p = _np(y_pred).astype(np.float64)
    t = _np(y_true).astype(np.float64)
    p, t = _match_rank(p, t)
    sw = None
    if sample_weight is not None:
        sw = np.asarray(_np(sample_weight), dtype=np.float64)[..., None]
        if sw.ndim == t.ndim + 1 and sw.shape[-1] == 1:
            sw = sw[..., 0]
    if top_k is not None:
        p = _filter_top_k(p, top_k)
    if class_id is not None:
        if p.ndim < 2:
            raise ValueError("When class_id is provided, y_pred must be a 2D array with "
                             f"shape (num_samples, num_classes). Received: "
                             f"y_pred.shape={p.shape}")
        t, p = t[..., class_id, None], p[..., class_id, None]
    w = np.ones(p.shape) if sw is None else np.broadcast_to(sw, p.shape)
    if label_weights is not None:
        w = w * np.broadcast_to(np.asarray(label_weights, np.float64), p.shape)
    thr = np.asarray(thresholds, np.float64)
    if multi_label:                                  # (thresholds, samples, labels)
        pos = p[None] > thr.reshape(-1, 1, 1)
        label = t.astype(bool)[None]
        w = w[None]
        return tuple(np.sum(m * w, axis=1) for m in (
            pos & label, pos & ~label, ~pos & ~label, ~pos & label))
    w = w.reshape(-1)
    label = t.reshape(-1).astype(bool)
    pos = p.reshape(1, -1) > thr.reshape(-1, 1)
    return ((pos & label) @ w, (pos & ~label) @ w, (~pos & ~label) @ w,
            (~pos & label) @ w)


def _ratio(a, b):
    return np.divide(a, b, out=np.zeros_like(a, dtype=np.float64), where=b != 0)


class _Confusion(Metric):
    """Precision / Recall: two count variables per threshold."""
    _counts = ()

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.init_thresholds, self.top_k, self.class_id = thresholds, top_k, class_id
        self.thresholds, self._single = _parse_thresholds(
            type(self).__name__, thresholds, 0.5 if top_k is None else NEG_INF)
        self._direction = "up"
        for key in self._counts:
            setattr(self, key, self.add_variable((len(self.thresholds),), "zeros",
                                                 dtype="float64", name=key))

    def update_state(self, y_true, y_pred, sample_weight=None):
        tp, fp, tn, fn = confusion_counts(y_true, y_pred, self.thresholds, self.top_k,
                                          self.class_id, sample_weight)
        counts = {"true_positives": tp, "false_positives": fp, "true_negatives": tn,
                  "false_negatives": fn}
        for key in self._counts:
            getattr(self, key).assign_add(counts[key])

    def _value(self, result):
        return result[0] if self._single else result

    def get_config(self):
        return {**super().get_config(), "thresholds": self.init_thresholds,
                "top_k": self.top_k, "class_id": self.class_id}


class Precision(_Confusion):
    """``tp / (tp + fp)`` at each threshold (default 0.5)."""
    _counts = ("true_positives", "false_positives")

    def __init__(self, thresholds=None, top_k=None, class_id=None, name="precision",
                 dtype=None):
        super().__init__(thresholds, top_k, class_id, name, dtype)

    def result(self):
        tp = self.true_positives.data
        return self._value(_ratio(tp, tp + self.false_positives.data))


class Recall(_Confusion):
    """``tp / (tp + fn)`` at each threshold (default 0.5)."""
    _counts = ("true_positives", "false_negatives")

    def __init__(self, thresholds=None, top_k=None, class_id=None, name="recall",
                 dtype=None):
        super().__init__(thresholds, top_k, class_id, name, dtype)

    def result(self):
        tp = self.true_positives.data
        return self._value(_ratio(tp, tp + self.false_negatives.data))


class AUC(Metric):
    """Area under the ROC or PR curve from counts at ``num_thresholds`` thresholds spread
    evenly over [0, 1] (plus -eps and 1 + eps), by Riemann sums ("interpolation": the
    trapezoid rule; for PR the Davis & Goadrich interpolation; "minoring"/"majoring":
    the lower/upper heights). Single-label: every element of y_pred counts once (weighted
    by ``label_weights`` per column); ``multi_label``: one curve per column, averaged."""

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation",
                 name="auc", dtype=None, thresholds=None, multi_label=False, num_labels=None,
                 label_weights=None, from_logits=False):
        super().__init__(name=name, dtype=dtype)
        curve = curve.upper() if isinstance(curve, str) else curve
        if curve not in ("ROC", "PR"):
            raise ValueError(f'Invalid `curve` argument value "{curve}". Expected one of: '
                             f'["ROC", "PR"]. Received: curve={curve!r}')
        method = summation_method.lower() if isinstance(summation_method, str) else None
        if method not in ("interpolation", "minoring", "majoring"):
            raise ValueError('Invalid `summation_method` argument value. Expected one of: '
                             '["interpolation", "minoring", "majoring"]. Received: '
                             f"summation_method={summation_method!r}")
        if num_labels and not multi_label:
            raise ValueError("`num_labels` is needed only when `multi_label` is True. "
                             f"Received: num_labels={num_labels!r}")
        if thresholds is not None:
            inner, _ = _parse_thresholds("AUC", list(thresholds), 0.5)
            num_thresholds = len(inner) + 2
            inner = sorted(inner)
        else:
            if isinstance(num_thresholds, bool) or not isinstance(num_thresholds, int) \
                    or num_thresholds <= 1:
                raise ValueError("Argument `num_thresholds` must be an integer > 1. "
                                 f"Received: num_thresholds={num_thresholds!r}")
            inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
        self.num_thresholds, self.curve, self.summation_method = \
            num_thresholds, curve, method
        self._init_from_thresholds = thresholds is not None
        self.thresholds = [0.0 - EPSILON] + inner + [1.0 + EPSILON]
        self.multi_label, self.num_labels = bool(multi_label), num_labels
        self.label_weights = None if label_weights is None else \
            [float(v) for v in np.ravel(label_weights)]
        self.from_logits = from_logits
        self._direction = "up"
        self._built = False
        if not self.multi_label:
            self._build(())
        elif num_labels:
            self._build((num_labels,))

    def _build(self, labels_shape):
        shape = (self.num_thresholds,) + tuple(labels_shape)
        for key in ("true_positives", "false_positives", "true_negatives",
                    "false_negatives"):
            setattr(self, key, self.add_variable(shape, "zeros", dtype="float64", name=key))
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        p = _np(y_pred).astype(np.float64)
        if self.multi_label and not self._built:
            if p.ndim != 2:
                raise ValueError("`y_pred` must have rank 2 when `multi_label=True`. Found "
                                 f"rank {p.ndim}. Received: y_pred.shape={p.shape}")
            self._build((p.shape[1],))
        if self.from_logits:
            p = 1.0 / (1.0 + np.exp(-p))
        counts = confusion_counts(
            y_true, p, self.thresholds, sample_weight=sample_weight,
            multi_label=self.multi_label,
            label_weights=None if self.multi_label else self.label_weights)
        for var, c in zip((self.true_positives, self.false_positives, self.true_negatives,
                           self.false_negatives), counts):
            var.assign_add(c)

    def result(self):
        if not self._built:
            return 0.0
        tp, fp = self.true_positives.data, self.false_positives.data
        tn, fn = self.true_negatives.data, self.false_negatives.data
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._by_label(self._interpolated_pr(tp, fp, fn))
        recall = _ratio(tp, tp + fn)
        if self.curve == "ROC":
            x, y = _ratio(fp, fp + tn), recall
        else:
            x, y = recall, _ratio(tp, tp + fp)
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = np.minimum(y[:-1], y[1:])
        else:
            heights = np.maximum(y[:-1], y[1:])
        return self._by_label(np.sum((x[:-1] - x[1:]) * heights, axis=0))

    def _by_label(self, auc):
        """The AUC; with ``multi_label`` the mean of the per-label AUCs (weighted by
        ``label_weights`` if given)."""
        if not self.multi_label:
            return float(auc)
        if self.label_weights is None:
            return float(np.mean(auc))
        lw = np.asarray(self.label_weights)
        return float(np.sum(auc * lw) / np.sum(lw)) if np.sum(lw) else 0.0

    @staticmethod
    def _interpolated_pr(tp, fp, fn):
        """PR-AUC with precision interpolated between thresholds (Davis & Goadrich 2006):
        within each step precision is ``slope * p + intercept`` in the positives ``p``."""
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        slope = _ratio(dtp, np.maximum(dp, 0))
        intercept = tp[1:] - slope * p[1:]
        both = (p[:-1] > 0) & (p[1:] > 0)
        ratio = np.where(both, _ratio(p[:-1], np.maximum(p[1:], 0)), 1.0)
        log_ratio = np.log(np.where(ratio > 0, ratio, 1.0))
        return np.sum(_ratio(slope * (dtp + intercept * log_ratio),
                             np.maximum(tp[1:] + fn[1:], 0)), axis=0)

    def get_config(self):
        config = {**super().get_config(), "num_thresholds": self.num_thresholds,
                  "curve": self.curve, "summation_method": self.summation_method,
                  "multi_label": self.multi_label, "num_labels": self.num_labels,
                  "label_weights": self.label_weights, "from_logits": self.from_logits}
        if self._init_from_thresholds:
            config["thresholds"] = self.thresholds[1:-1]
        return config


class FBetaScore(Metric):
    """F-beta per class from weighted tp/fp/fn sums over the batch axis (``average``:
    None -> per class, "micro" -> over all elements, "macro" -> the mean, "weighted" ->
    weighted by each class's support). ``threshold=None``: the top score of each row is
    the positive prediction."""

    def __init__(self, average=None, beta=1.0, threshold=None, name="fbeta_score",
                 dtype=None):
        super().__init__(name=name, dtype=dtype)
        if average not in (None, "micro", "macro", "weighted"):
            raise ValueError("Invalid `average` argument value. Expected one of: "
                             "{None, 'micro', 'macro', 'weighted'}. Received: "
                             f"average={average!r}")
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or beta <= 0:
            raise ValueError("Invalid `beta` argument value. It should be a Python float > 0."
                             f" Received: beta={beta!r}")
        if threshold is not None and (isinstance(threshold, bool) or not isinstance(
                threshold, (int, float)) or not 0 < threshold <= 1):
            raise ValueError("Invalid `threshold` argument value. It should be a Python "
                             f"float in the range ]0, 1]. Received: threshold={threshold!r}")
        self.average, self.beta, self.threshold = average, float(beta), threshold
        self.axis = None if average == "micro" else 0
        self._direction = "up"
        self._built = False

    def _build(self, t_shape, p_shape):
        if len(p_shape) != 2 or len(t_shape) != 2:
            raise ValueError("FBetaScore expects 2D inputs with shape (batch_size, "
                             f"output_dim). Received input shapes: y_pred.shape={p_shape} "
                             f"and y_true.shape={t_shape}.")
        shape = () if self.average == "micro" else (p_shape[-1],)
        for key in ("true_positives", "false_positives", "false_negatives",
                    "intermediate_weights"):
            setattr(self, key, self.add_variable(shape, "zeros", dtype="float64", name=key))
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        t = _np(y_true).astype(np.float64)
        p = _np(y_pred).astype(np.float64)
        if not self._built:
            self._build(t.shape, p.shape)
        if self.threshold is None:
            pos = (p >= p.max(axis=-1, keepdims=True)) & (np.abs(p) > 1e-9)
        else:
            pos = p > self.threshold
        pos = pos.astype(np.float64)
        w = 1.0 if sample_weight is None else \
            np.asarray(_np(sample_weight), np.float64)[:, None]

        def total(v):
            return np.sum(v * w, axis=self.axis)
        self.true_positives.assign_add(total(pos * t))
        self.false_positives.assign_add(total(pos * (1 - t)))
        self.false_negatives.assign_add(total((1 - pos) * t))
        self.intermediate_weights.assign_add(total(t))

    def result(self):
        if not self._built:
            return 0.0
        tp = self.true_positives.data
        precision = tp / (tp + self.false_positives.data + EPSILON)
        recall = tp / (tp + self.false_negatives.data + EPSILON)
        b2 = self.beta ** 2
        score = precision * recall / (b2 * precision + recall + EPSILON) * (1 + b2)
        if self.average == "weighted":
            iw = self.intermediate_weights.data
            return float(np.sum(score * iw / (np.sum(iw) + EPSILON)))
        if self.average is not None:
            return float(np.mean(score))
        return score

    def get_config(self):
        return {**super().get_config(), "beta": self.beta, "average": self.average,
                "threshold": self.threshold}


class F1Score(FBetaScore):
    """``FBetaScore`` with ``beta=1``."""

    def __init__(self, average=None, threshold=None, name="f1_score", dtype=None):
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name,
                         dtype=dtype)

    def get_config(self):
        config = super().get_config()
        del config["beta"]
        return config


class _ConditionCount(Metric):
    """One weighted confusion count per threshold (default 0.5): a number when there is
    one threshold, else an array, as Keras gives it."""
    _condition = None

    def __init__(self, thresholds=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.init_thresholds = thresholds
        self.thresholds, _ = _parse_thresholds(type(self).__name__, thresholds, 0.5)
        self.accumulator = self.add_variable((len(self.thresholds),), "zeros",
                                             dtype="float64", name="accumulator")

    def update_state(self, y_true, y_pred, sample_weight=None):
        counts = dict(zip(("tp", "fp", "tn", "fn"), confusion_counts(
            y_true, y_pred, self.thresholds, sample_weight=sample_weight)))
        self.accumulator.assign_add(counts[self._condition])

    def result(self):
        acc = self.accumulator.data
        return acc[0] if len(self.thresholds) == 1 else acc

    def get_config(self):
        return {**super().get_config(), "thresholds": self.init_thresholds}


class TruePositives(_ConditionCount):
    """The weighted number of predictions above the threshold whose label is 1."""
    _condition = "tp"


class FalsePositives(_ConditionCount):
    """The weighted number of predictions above the threshold whose label is 0."""
    _condition = "fp"


class TrueNegatives(_ConditionCount):
    """The weighted number of predictions at or below the threshold whose label is 0."""
    _condition = "tn"


class FalseNegatives(_ConditionCount):
    """The weighted number of predictions at or below the threshold whose label is 1."""
    _condition = "fn"


CLASSES = (Precision, Recall, AUC, FBetaScore, F1Score, TruePositives, FalsePositives,
           TrueNegatives, FalseNegatives)
__all__ = ["Precision", "Recall", "AUC", "FBetaScore", "F1Score", "TruePositives",
           "FalsePositives", "TrueNegatives", "FalseNegatives"]
