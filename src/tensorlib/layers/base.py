"""The Layer contract, as in Keras: ``__init__`` validates and stores arguments,
``build(input_shape)`` creates weights, ``call`` computes, ``compute_output_shape``
answers shapes without running anything. Shapes include the batch axis (``None``).
"""
import re

import numpy as np

from .. import initializers
from ..tensor import Tensor

_name_counts = {}


def unique_name(base):
    """Keras-style names: ``dense``, ``dense_1``, ``dense_2``, ..."""
    n = _name_counts.get(base, 0)
    _name_counts[base] = n + 1
    return base if n == 0 else f"{base}_{n}"


def snake_case(name):
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()


class Layer:
    def __init__(self, name=None, trainable=True, dtype=None, input_shape=None,
                 input_dim=None, batch_size=None, **kwargs):
        if kwargs:
            raise TypeError(f"Unrecognized keyword arguments passed to "
                            f"{type(self).__name__}: {kwargs}")
        self.name = name or unique_name(snake_case(type(self).__name__))
        self.trainable = trainable
        self.dtype = np.dtype(dtype or "float32")
        self.built = False
        self._weights = []          # list of (tensor, trainable)
        self.output_shape = None
        if input_dim is not None and input_shape is None:
            input_shape = (input_dim,)
        self.batch_input_shape = None
        if input_shape is not None:
            self.batch_input_shape = (batch_size,) + tuple(int(d) for d in input_shape)

    # ------------------------------------------------------------ weights
    def add_weight(self, shape, initializer="zeros", trainable=True, name=None):
        value = initializers.get(initializer)(tuple(shape), self.dtype)
        var = Tensor(np.asarray(value, dtype=self.dtype), requires_grad=trainable)
        var.name = f"{self.name}/{name}" if name else self.name
        var.trainable = trainable
        self._weights.append(var)
        return var

    @property
    def weights(self):
        return list(self._weights)

    @property
    def trainable_weights(self):
        return [w for w in self._weights if w.trainable and self.trainable]

    @property
    def non_trainable_weights(self):
        return [w for w in self._weights if not (w.trainable and self.trainable)]

    def count_params(self):
        return int(sum(w.size for w in self._weights))

    def get_weights(self):
        return [w.data.copy() for w in self._weights]

    def set_weights(self, weights):
        weights = list(weights)
        if len(weights) != len(self._weights):
            raise ValueError(f"Layer {self.name!r} expects {len(self._weights)} weights, but "
                             f"the weight list has {len(weights)} elements. Received: "
                             f"{[np.shape(w) for w in weights]}")
        for var, value in zip(self._weights, weights):
            if np.shape(value) != var.shape:
                raise ValueError(f"Layer {self.name!r} weight {var.name!r} has shape "
                                 f"{var.shape}. Received: shape {np.shape(value)}")
        for var, value in zip(self._weights, weights):
            var.data[...] = value

    # ------------------------------------------------------------ the contract
    def build(self, input_shape):
        self.built = True

    def build_for(self, input_shape):
        """Build (once) and record the output shape; returns it."""
        input_shape = tuple(input_shape)
        if not self.built:
            self.build(input_shape)
            self.built = True
        self.output_shape = tuple(self.compute_output_shape(input_shape))
        return self.output_shape

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def call(self, x, training=False):
        raise NotImplementedError

    def __call__(self, x, training=False):
        if not isinstance(x, Tensor):
            x = Tensor(np.asarray(x, dtype=self.dtype))
        if not self.built:
            self.build_for((None,) + x.shape[1:])
        return self.call(x, training=training)

    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype.name}
        if self.batch_input_shape is not None:
            config["input_shape"] = list(self.batch_input_shape[1:])
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


def check_rank(layer, input_shape, ndim, what):
    if len(input_shape) != ndim:
        raise ValueError(f"Input 0 of layer {layer.name!r} is incompatible with the layer: "
                         f"expected ndim={ndim} ({what}), found ndim={len(input_shape)}. "
                         f"Full shape received: {tuple(input_shape)}")


def conv_tuple(value, n, name):
    """Keras's normalisation of an int-or-tuple argument."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (int(value),) * n
    try:
        value = tuple(int(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"The `{name}` argument must be a tuple of {n} integers. "
                         f"Received: {name}={value!r}") from None
    if len(value) != n or min(value) < 1:
        raise ValueError(f"The `{name}` argument must be a tuple of {n} positive integers. "
                         f"Received: {name}={value!r}")
    return value
