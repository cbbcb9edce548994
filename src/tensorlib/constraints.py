"""``keras.constraints``: projections applied to a weight after each optimizer update.

``MaxNorm(max_value=2, axis=0)``, ``NonNeg()``, ``UnitNorm(axis=0)`` and
``MinMaxNorm(min_value=0.0, max_value=1.0, rate=1.0, axis=0)`` with Keras 3's names,
defaults and formulas (norms over ``axis``, kept as size-1 axes, and Keras's
``epsilon = 1e-7`` in the denominators). A layer's ``kernel_constraint`` /
``bias_constraint`` (or ``add_weight(constraint=...)``) sets the weight's ``constraint``;
the optimizer assigns ``constraint(weight)`` to it after each update, as Keras does.
A constraint takes a Tensor (or an array) and returns the same kind.
"""
import inspect

import numpy as np

from .tensor import Tensor

MODULE = "keras.constraints"
EPSILON = 1e-7


def _array(w):
    return w.data if isinstance(w, Tensor) else np.asarray(w)


def _like(w, out):
    return Tensor(out) if isinstance(w, Tensor) else out


def _axis(where, axis):
    ok = isinstance(axis, (int, np.integer)) and not isinstance(axis, bool) or (
        isinstance(axis, (list, tuple)) and axis and all(
            isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in axis))
    if not ok:
        raise ValueError(f"{where}: `axis` must be an integer or a list of integers. "
                         f"Received: axis={axis!r}")
    return list(axis) if isinstance(axis, (list, tuple)) else int(axis)


def _number(where, name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) \
            or not np.isfinite(value):
        raise ValueError(f"{where}: `{name}` must be a number. Received: {name}={value!r}")
    return value


def _norms(a, axis):
    axis = tuple(axis) if isinstance(axis, list) else axis
    return np.sqrt(np.sum(np.square(a), axis=axis, keepdims=True))


class Constraint:
    """Base class: ``__call__(w)`` returns the projected weight (here: ``w``)."""

    def __call__(self, w):
        return w

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} {self.get_config()}>"


class MaxNorm(Constraint):
    """Rescales slices whose L2 norm over ``axis`` exceeds ``max_value``."""

    def __init__(self, max_value=2, axis=0):
        self.max_value = _number("MaxNorm", "max_value", max_value)
        self.axis = _axis("MaxNorm", axis)

    def __call__(self, w):
        a = _array(w)
        norms = _norms(a, self.axis)
        dt = a.dtype.type
        desired = np.clip(norms, dt(0), dt(self.max_value))
        return _like(w, a * (desired / (dt(EPSILON) + norms)))

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    """``max(w, 0)``."""

    def __call__(self, w):
        a = _array(w)
        return _like(w, np.maximum(a, a.dtype.type(0)))


class UnitNorm(Constraint):
    """Divides by the L2 norm over ``axis`` (plus epsilon)."""

    def __init__(self, axis=0):
        self.axis = _axis("UnitNorm", axis)

    def __call__(self, w):
        a = _array(w)
        return _like(w, a / (a.dtype.type(EPSILON) + _norms(a, self.axis)))

    def get_config(self):
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    """Moves the L2 norm over ``axis`` by ``rate`` towards ``[min_value, max_value]``."""

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value = _number("MinMaxNorm", "min_value", min_value)
        self.max_value = _number("MinMaxNorm", "max_value", max_value)
        self.rate = _number("MinMaxNorm", "rate", rate)
        self.axis = _axis("MinMaxNorm", axis)

    def __call__(self, w):
        a = _array(w)
        dt = a.dtype.type
        norms = _norms(a, self.axis)
        desired = dt(self.rate) * np.clip(norms, dt(self.min_value), dt(self.max_value)) \
            + dt(1 - self.rate) * norms
        return _like(w, a * (desired / (dt(EPSILON) + norms)))

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate,
                "axis": self.axis}


def max_norm(max_value=2, axis=0):
    return MaxNorm(max_value, axis)


def non_neg():
    return NonNeg()


def unit_norm(axis=0):
    return UnitNorm(axis)


def min_max_norm(min_value=0.0, max_value=1.0, rate=1.0, axis=0):
    return MinMaxNorm(min_value, max_value, rate, axis)


ALL_OBJECTS = {"Constraint": Constraint, "MaxNorm": MaxNorm, "NonNeg": NonNeg,
               "UnitNorm": UnitNorm, "MinMaxNorm": MinMaxNorm}
_NAMES = {**ALL_OBJECTS, "constraint": Constraint, "max_norm": MaxNorm, "non_neg": NonNeg,
          "unit_norm": UnitNorm, "min_max_norm": MinMaxNorm}


def serialize(constraint):
    """Keras's record of a built-in constraint (None stays None)."""
    if constraint is None:
        return None
    if type(constraint) not in ALL_OBJECTS.values():
        raise ValueError("serialize: only the built-in constraints can be serialized. "
                         f"Received: constraint={constraint!r}")
    return {"module": MODULE, "class_name": type(constraint).__name__,
            "config": constraint.get_config(), "registered_name": None}


def deserialize(config):
    cls = ALL_OBJECTS.get(config.get("class_name")) if isinstance(config, dict) else None
    if cls is None or not isinstance(config.get("config", {}), dict) \
            or config.get("registered_name") not in (None, config.get("class_name")):
        raise ValueError(f"deserialize: not a constraint record (class_name one of "
                         f"{sorted(ALL_OBJECTS)}). Received: {config!r}"[:300])
    try:
        return cls.from_config(dict(config.get("config") or {}))
    except TypeError as e:
        raise ValueError(f"deserialize: bad {cls.__name__} config ({e}). Received: "
                         f"{config!r}"[:300]) from None


def get(identifier):
    """None, a Constraint or a callable, a name ('max_norm', 'NonNeg', ...: Keras's
    defaults), a class, or a record (dict)."""
    if identifier is None or isinstance(identifier, Constraint):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    obj = _NAMES.get(identifier) if isinstance(identifier, str) else identifier
    if inspect.isclass(obj):
        obj = obj()
    if callable(obj):
        return obj
    raise ValueError(f"Could not interpret constraint identifier: {identifier!r}. "
                     f"Received: constraint={identifier!r}")


__all__ = ["Constraint", "MaxNorm", "NonNeg", "UnitNorm", "MinMaxNorm", "max_norm",
           "non_neg", "unit_norm", "min_max_norm", "serialize", "deserialize", "get"]
