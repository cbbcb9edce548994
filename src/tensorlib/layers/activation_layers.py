"""Keras 3's activation layers: ReLU (max_value, negative_slope, threshold), LeakyReLU, ELU
and PReLU (a learned slope, shared over ``shared_axes``), each op's forward beside its
backward."""
import warnings

import numpy as np

from .. import constraints, initializers, regularizers
from ..autograd import Function
from .base import Layer


def _number(layer, arg, value, allow_none=False, low=0.0):
    """A real number >= ``low`` (or None when allowed), else ValueError naming it."""
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(
            value, (int, float, np.integer, np.floating)) or not value >= low:
        raise ValueError(f"{layer}: `{arg}` must be a number >= {low}"
                         f"{' or None' if allow_none else ''}. Received: {arg}={value!r}")
    return float(value)


# ---------------------------------------------------------------- differentiable ops
class ThresholdedReLU(Function):
    """Keras's ``relu(x, negative_slope, max_value, threshold)``: ``x`` above ``threshold``
    (capped at ``max_value``), ``negative_slope * (x - threshold)`` below it."""

    def forward(self, a, negative_slope=0.0, max_value=None, threshold=0.0):
        self.a, self.slope, self.max, self.thr = a, negative_slope, max_value, threshold
        out = np.where(a > threshold, a, 0).astype(a.dtype, copy=False)
        if max_value is not None:
            out = np.minimum(out, a.dtype.type(max_value))
        if negative_slope:
            out = out - a.dtype.type(negative_slope) * np.maximum(threshold - a, 0).astype(
                a.dtype, copy=False)
        return out

    def backward(self, g):
        a = self.a
        slope = (a > self.thr) if self.max is None else (a > self.thr) & (a < self.max)
        if self.slope:
            slope = slope + self.slope * (a < self.thr)
        return (g * slope).astype(g.dtype, copy=False)


class ELUOp(Function):
    """``x`` for ``x > 0``, ``alpha * (exp(x) - 1)`` otherwise."""

    def forward(self, a, alpha=1.0):
        self.a, self.alpha = a, alpha
        return np.where(a > 0, a, a.dtype.type(alpha) * np.expm1(np.minimum(a, 0)))

    def backward(self, g):
        a = self.a
        return g * np.where(a > 0, 1, a.dtype.type(self.alpha) * np.exp(np.minimum(a, 0)))


class PReLUOp(Function):
    """``max(x, 0) + alpha * min(x, 0)`` with ``alpha`` broadcast against ``x``."""

    def forward(self, a, alpha):
        self.a, self.alpha = a, alpha
        return np.maximum(a, 0) + alpha * np.minimum(a, 0)

    def backward(self, g):
        a = self.a
        ga = g * np.where(a > 0, 1, self.alpha) if self.needs_input_grad[0] else None
        galpha = g * np.minimum(a, 0) if self.needs_input_grad[1] else None
        return ga, galpha


# ---------------------------------------------------------------- layers
class ReLU(Layer):
    """``ReLU(max_value=None, negative_slope=0.0, threshold=0.0)``."""

    supports_masking = True

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        self.max_value = _number("ReLU", "max_value", max_value, allow_none=True)
        self.negative_slope = _number("ReLU", "negative_slope", negative_slope)
        self.threshold = _number("ReLU", "threshold", threshold)

    def call(self, x, training=False):
        return ThresholdedReLU.apply(x, negative_slope=self.negative_slope,
                                     max_value=self.max_value, threshold=self.threshold)

    def get_config(self):
        return {**super().get_config(), "max_value": self.max_value,
                "negative_slope": self.negative_slope, "threshold": self.threshold}


class LeakyReLU(Layer):
    """``LeakyReLU(negative_slope=0.3)``: ``x`` for ``x >= 0``, ``negative_slope * x``
    otherwise."""

    supports_masking = True

    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:           # Keras 2's name, still accepted by Keras 3
            warnings.warn("Argument `alpha` is deprecated. Use `negative_slope` instead.")
            negative_slope = kwargs.pop("alpha")
        super().__init__(**kwargs)
        self.negative_slope = _number("LeakyReLU", "negative_slope", negative_slope)

    def call(self, x, training=False):
        return ThresholdedReLU.apply(x, negative_slope=self.negative_slope)

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}


class ELU(Layer):
    """``ELU(alpha=1.0)``: ``x`` for ``x > 0``, ``alpha * (exp(x) - 1)`` otherwise."""

    supports_masking = True

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = _number("ELU", "alpha", alpha, low=-np.inf)

    def call(self, x, training=False):
        return ELUOp.apply(x, alpha=self.alpha)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


class PReLU(Layer):
    """``PReLU(alpha_initializer="Zeros", alpha_regularizer=None, alpha_constraint=None,
    shared_axes=None)``: a learned slope ``alpha`` of shape ``input_shape[1:]``, with size
    1 along the (1-based, batch excluded) ``shared_axes``."""

    supports_masking = True

    def __init__(self, alpha_initializer="Zeros", alpha_regularizer=None,
                 alpha_constraint=None, shared_axes=None, **kwargs):
        super().__init__(**kwargs)
        try:
            initializers.get(alpha_initializer)
            self.alpha_regularizer = regularizers.get(alpha_regularizer)
            self.alpha_constraint = constraints.get(alpha_constraint)
        except ValueError as e:
            raise ValueError(f"PReLU: {e}") from None
        self.alpha_initializer = alpha_initializer
        if shared_axes is not None:
            axes = list(shared_axes) if isinstance(shared_axes, (list, tuple)) \
                else [shared_axes]
            if not all(isinstance(a, (int, np.integer)) and not isinstance(a, bool)
                       and a >= 1 for a in axes):
                raise ValueError("PReLU: `shared_axes` must be positive integers (axis 0 is "
                                 f"the batch). Received: shared_axes={shared_axes!r}")
            shared_axes = [int(a) for a in axes]
        self.shared_axes = shared_axes

    def build(self, input_shape):
        shape = list(input_shape[1:])
        for axis in self.shared_axes or ():
            if axis >= len(input_shape):
                raise ValueError(f"Layer {self.name!r}: shared axis {axis} is out of range "
                                 f"for inputs of rank {len(input_shape)}. Received: "
                                 f"shared_axes={self.shared_axes}")
            shape[axis - 1] = 1
        if None in shape:
            raise ValueError(f"Layer {self.name!r}: the sizes of the non-shared axes must "
                             f"be known. Received: input shape {tuple(input_shape)}")
        self.alpha = self.add_weight(tuple(shape), self.alpha_initializer, name="alpha",
                                     regularizer=self.alpha_regularizer,
                                     constraint=self.alpha_constraint)

    def check_input_shape(self, input_shape):
        want = (None,) + self.alpha.shape
        if len(input_shape) != len(want) or any(
                w != 1 and d != w for d, w in zip(input_shape[1:], want[1:])):
            raise ValueError(f"Input 0 of layer {self.name!r} is incompatible with the "
                             f"layer: its alpha has shape {self.alpha.shape}. Received: "
                             f"input with shape {tuple(input_shape)}")

    def call(self, x, training=False):
        if x.ndim != self.alpha.ndim + 1:
            self.check_input_shape(x.shape)
        return PReLUOp.apply(x, self.alpha)

    def get_config(self):
        return {**super().get_config(), "alpha_initializer": self.alpha_initializer,
                "alpha_regularizer": regularizers.serialize(self.alpha_regularizer),
                "alpha_constraint": constraints.serialize(self.alpha_constraint),
                "shared_axes": self.shared_axes}
