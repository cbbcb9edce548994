"""``keras.regularizers``: penalties on weights (or layer outputs) added to the loss.

``L1(l1)``: ``l1 * sum(|x|)``; ``L2(l2)``: ``l2 * sum(x**2)``; ``L1L2(l1, l2)``: both
(Keras 3's names, defaults and formulas; the functions ``l1``, ``l2``, ``l1_l2`` make the
same objects); ``OrthogonalRegularizer(factor=0.01, mode="rows")``: ``factor`` times half
the mean of ``|u_i . u_j|`` over the pairs of L2-normalized rows (or columns) of a 2-D
weight. A layer's ``kernel_regularizer`` / ``bias_regularizer`` (or
``add_weight(regularizer=...)``) adds the penalty of that weight, its
``activity_regularizer`` the penalty of its output divided by the batch size, as Keras
does; ``model.losses`` lists them and ``fit``/``evaluate`` add their sum to the loss.
"""
import math

import numpy as np

from .tensor import Tensor, maximum

MODULE = "keras.regularizers"


def _factor(where, name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or value < 0:
        raise ValueError(f"{where}: `{name}` must be a non-negative number. Received: "
                         f"{name}={value!r}")
    return float(value)


class Regularizer:
    """Base class: ``__call__(x)`` gives the penalty of Tensor ``x`` as a scalar Tensor."""

    def __call__(self, x):
        return 0.0

    def get_config(self):
        raise NotImplementedError(f"{type(self).__name__} must define get_config")

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} {self.get_config()}>"


class L1(Regularizer):
    def __init__(self, l1=0.01):
        self.l1 = _factor("L1", "l1", l1)

    def __call__(self, x):
        return x.abs().sum() * self.l1

    def get_config(self):
        return {"l1": self.l1}


class L2(Regularizer):
    def __init__(self, l2=0.01):
        self.l2 = _factor("L2", "l2", l2)

    def __call__(self, x):
        return (x * x).sum() * self.l2

    def get_config(self):
        return {"l2": self.l2}


class L1L2(Regularizer):
    def __init__(self, l1=0.0, l2=0.0):
        self.l1, self.l2 = _factor("L1L2", "l1", l1), _factor("L1L2", "l2", l2)

    def __call__(self, x):
        out = x.abs().sum() * self.l1 if self.l1 else None
        if self.l2:
            sq = (x * x).sum() * self.l2
            out = sq if out is None else out + sq
        return out if out is not None else (x * 0.0).sum()

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class OrthogonalRegularizer(Regularizer):
    """Pushes the rows (``mode="rows"``) or columns of a rank-2 weight to be orthogonal:
    ``factor * 0.5 * sum(|U U^T - diag|) / (n(n-1)/2)`` with ``U`` the L2-normalized rows
    (norms below Keras's epsilon 1e-7 count as 1e-7)."""

    def __init__(self, factor=0.01, mode="rows"):
        self.factor = _factor("OrthogonalRegularizer", "factor", factor)
        if mode not in ("rows", "columns"):
            raise ValueError("OrthogonalRegularizer: invalid value for argument `mode`. "
                             f'Expected one of {{"rows", "columns"}}. Received: mode={mode!r}')
        self.mode = mode

    def __call__(self, x):
        if len(x.shape) != 2:
            raise ValueError("Inputs to OrthogonalRegularizer must have rank 2. Received: "
                             f"inputs.shape={tuple(x.shape)}")
        x = x if isinstance(x, Tensor) else Tensor(np.asarray(x, dtype=float))
        rows = self.mode == "rows"
        norms = (x * x).sum(axis=1 if rows else 0, keepdims=True).sqrt()
        u = x / maximum(norms, Tensor(np.asarray(1e-7, x.dtype)))
        product = u @ u.T if rows else u.T @ u
        size = x.shape[0 if rows else 1]
        off_diagonal = 1.0 - np.eye(size, dtype=x.dtype)
        pairs = np.asarray(size * (size - 1.0) / 2.0, x.dtype)
        return (product * off_diagonal).abs().sum() * (self.factor * 0.5) / Tensor(pairs)

    def get_config(self):
        return {"factor": self.factor, "mode": self.mode}


def l1(l1=0.01):  # noqa: E743 - Keras's names
    return L1(l1)


def l2(l2=0.01):
    return L2(l2)


def l1_l2(l1=0.0, l2=0.0):  # noqa: E741
    return L1L2(l1, l2)


ALL_OBJECTS = {"L1": L1, "L2": L2, "L1L2": L1L2, "OrthogonalRegularizer": OrthogonalRegularizer}
_NAMES = {"l1": L1, "l2": L2, "l1_l2": L1L2, "L1": L1, "L2": L2, "L1L2": L1L2,
          "OrthogonalRegularizer": OrthogonalRegularizer,
          "orthogonal_regularizer": OrthogonalRegularizer}


def serialize(regularizer):
    """Keras's record of a built-in regularizer (None stays None)."""
    if regularizer is None:
        return None
    if type(regularizer) not in ALL_OBJECTS.values():
        raise ValueError(f"serialize: only the built-in regularizers {sorted(ALL_OBJECTS)} "
                         f"can be serialized. Received: {regularizer!r}")
    return {"module": MODULE, "class_name": type(regularizer).__name__,
            "config": regularizer.get_config(), "registered_name": None}


def deserialize(config):
    cls = ALL_OBJECTS.get(config.get("class_name")) if isinstance(config, dict) else None
    if cls is None or not isinstance(config.get("config", {}), dict):
        raise ValueError(f"deserialize: not a regularizer record (class_name one of "
                         f"{sorted(ALL_OBJECTS)}). Received: {config!r}"[:300])
    return cls.from_config(dict(config.get("config", {})))


def get(identifier):
    """None, a Regularizer or a callable, a name ('l1', 'l2', 'l1_l2', 'L1'...: Keras's
    default factors) or a record (dict)."""
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, str) and identifier in _NAMES:
        return _NAMES[identifier]()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if callable(identifier) and not isinstance(identifier, type):
        return identifier
    raise ValueError(f"Could not interpret regularizer identifier: {identifier!r}. "
                     f"Received: regularizer={identifier!r}")


__all__ = ["Regularizer", "L1", "L2", "L1L2", "OrthogonalRegularizer", "l1", "l2", "l1_l2",
           "serialize", "deserialize", "get"]
