"""Keras 3's LayerNormalization: each sample normalised over ``axis`` (biased variance,
``epsilon`` 1e-3 by default), then scaled by ``gamma`` and shifted by ``beta`` (weights in
that order, of the shape of the normalised axes)."""
import numpy as np

from .. import constraints, initializers, regularizers
from .base import Layer


def _is_int(v):
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


class LayerNormalization(Layer):
    supports_masking = True

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", beta_regularizer=None,
                 gamma_regularizer=None, beta_constraint=None, gamma_constraint=None,
                 rms_scaling=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)) and all(_is_int(a) for a in axis) and axis:
            axis = [int(a) for a in axis]
        elif _is_int(axis):
            axis = int(axis)
        else:
            raise TypeError("LayerNormalization: expected an int or a non-empty list/tuple "
                            f"of ints for the argument 'axis'. Received: axis={axis!r}")
        if isinstance(epsilon, (bool, np.bool_)) or not isinstance(
                epsilon, (int, float, np.integer, np.floating)) or not epsilon > 0:
            raise ValueError("LayerNormalization: `epsilon` must be a positive number. "
                             f"Received: epsilon={epsilon!r}")
        for arg, value in (("center", center), ("scale", scale)):
            if not isinstance(value, (bool, np.bool_)):
                raise ValueError(f"LayerNormalization: `{arg}` must be True or False. "
                                 f"Received: {arg}={value!r}")
        if rms_scaling is not False:
            raise ValueError("LayerNormalization: tensorlib does not support the deprecated "
                             "`rms_scaling` (use RMS normalisation instead). Received: "
                             f"rms_scaling={rms_scaling!r}")
        try:
            for init in (beta_initializer, gamma_initializer):
                initializers.get(init)
            self.beta_regularizer = regularizers.get(beta_regularizer)
            self.gamma_regularizer = regularizers.get(gamma_regularizer)
            self.beta_constraint = constraints.get(beta_constraint)
            self.gamma_constraint = constraints.get(gamma_constraint)
        except ValueError as e:
            raise ValueError(f"LayerNormalization: {e}") from None
        self.axis, self.epsilon = axis, float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer, self.gamma_initializer = beta_initializer, gamma_initializer

    def build(self, input_shape):
        rank = len(input_shape)
        axes = sorted(self.axis) if isinstance(self.axis, list) else [self.axis]
        if any(not -rank <= a < rank for a in axes) or \
                len({a % rank for a in axes}) != len(axes):
            raise ValueError(f"Layer {self.name!r}: `axis` must hold distinct axes of the "
                             f"input, in [-{rank}, {rank}). Received: axis={self.axis} for "
                             f"inputs of shape {tuple(input_shape)}")
        shape = tuple(input_shape[a] for a in axes)
        if None in shape:
            raise ValueError(f"Layer {self.name!r}: the normalised axes must have known "
                             f"sizes. Received: axis={self.axis} for inputs of shape "
                             f"{tuple(input_shape)}")
        self.axis = axes            # as Keras: a sorted list once built
        self._axes = tuple(a % rank for a in axes)
        # the weights follow ``axes`` (Keras's order); as input axes they may be reordered
        self._order = tuple(int(i) for i in np.argsort(self._axes))
        self.gamma = self.add_weight(shape, self.gamma_initializer, name="gamma",
                                     regularizer=self.gamma_regularizer,
                                     constraint=self.gamma_constraint) \
            if self.scale else None
        self.beta = self.add_weight(shape, self.beta_initializer, name="beta",
                                    regularizer=self.beta_regularizer,
                                    constraint=self.beta_constraint) \
            if self.center else None

    def check_input_shape(self, input_shape):
        built = self._build_input_shape
        if len(input_shape) != len(built) or any(
                input_shape[a] != built[a] for a in self._axes):
            raise ValueError(f"Input 0 of layer {self.name!r} is incompatible with the "
                             f"layer: it was built for inputs of shape {built} (axis="
                             f"{self.axis}). Received: input with shape {input_shape}")

    def _broadcast(self, w, ndim):
        if self._order != tuple(range(len(self._order))):
            w = w.permute(*self._order)
        shape = [1] * ndim
        for a in self._axes:
            shape[a] = w.shape[sorted(self._axes).index(a)]
        return w.reshape(shape)

    def call(self, x, training=False):
        if x.ndim != len(self._build_input_shape):
            self.check_input_shape(x.shape)
        mean = x.mean(axis=self._axes, keepdims=True)
        centered = x - mean
        var = (centered * centered).mean(axis=self._axes, keepdims=True)
        y = centered / (var + self.epsilon).sqrt()
        if self.gamma is not None:
            y = y * self._broadcast(self.gamma, x.ndim)
        if self.beta is not None:
            y = y + self._broadcast(self.beta, x.ndim)
        return y

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale, "rms_scaling": False,
                "beta_initializer": self.beta_initializer,
                "gamma_initializer": self.gamma_initializer,
                "beta_regularizer": regularizers.serialize(self.beta_regularizer),
                "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
                "beta_constraint": constraints.serialize(self.beta_constraint),
                "gamma_constraint": constraints.serialize(self.gamma_constraint)}
