"""Core layers: Input, Dense, Activation, Flatten, Reshape, Dropout."""
import math

import numpy as np

from .. import activations, constraints, regularizers, graph
from ..functional import linear, linear_array
from ..random import get_generator
from ..tensor import Tensor
from .base import MAX_DIM, Layer, standardize_shape


class InputLayer(Layer):
    """The layer behind ``keras.Input``: it makes the graph's symbolic input tensor
    (``layer.output``). As the first entry of a Sequential model it declares the input
    shape (and is not listed in ``model.layers``)."""

    _is_input_layer = True

    def __init__(self, shape=None, batch_size=None, dtype=None, batch_shape=None,
                 name=None, input_shape=None, batch_input_shape=None, **kwargs):
        if shape is None and input_shape is not None:       # Keras 2 argument names
            shape = input_shape
        if batch_shape is None and batch_input_shape is not None:
            batch_shape = batch_input_shape
        if shape is not None and batch_shape is not None:
            raise ValueError("You cannot pass both `shape` and `batch_shape` at the same "
                             f"time. Received: shape={shape!r}, batch_shape={batch_shape!r}")
        if batch_size is not None and batch_shape is not None:
            raise ValueError("You cannot pass both `batch_size` and `batch_shape` at the "
                             f"same time. Received: batch_size={batch_size!r}, "
                             f"batch_shape={batch_shape!r}")
        if shape is None and batch_shape is None:
            raise ValueError("You must pass a `shape` argument. Received: shape=None")
        if batch_shape is not None:
            full = standardize_shape("Input", "batch_shape", batch_shape)
            if not full:
                raise ValueError("Input: `batch_shape` needs a batch axis. Received: "
                                 f"batch_shape={batch_shape!r}")
            shape, batch_size = full[1:], full[0]
        int_dtype = _int_input_dtype(dtype)
        super().__init__(name=name, dtype=None if int_dtype is not None else dtype,
                         input_shape=shape, batch_size=batch_size,
                         **kwargs)
        if int_dtype is not None:
            self.dtype = int_dtype          # integer inputs (token ids for Embedding)
        self.built = True
        self.batch_shape = self.batch_input_shape
        self.output_shape = self.batch_shape
        graph.Node(self, [], graph.SymbolicTensor(self.batch_shape, self.dtype,
                                                  name=self.name))

    def call(self, x, training=False):
        return x

    def get_config(self):
        return {"shape": list(self.batch_input_shape[1:]), "name": self.name,
                "dtype": self.dtype.name}


def _int_input_dtype(dtype):
    """An integer or bool dtype given to ``Input`` (Keras allows them), else None."""
    try:
        dt = np.dtype(dtype) if dtype is not None else None
    except TypeError:
        return None
    return dt if dt is not None and dt.kind in "iub" else None


def Input(shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None,  # noqa: N802
          name=None, tensor=None, optional=False):
    """``keras.Input``: a symbolic tensor (shape + dtype, no data) to build a functional
    model from; also accepted as the first entry of a Sequential model."""
    for arg, value in (("sparse", sparse), ("tensor", tensor)):
        if value:
            raise ValueError(f"Input: `{arg}` inputs are not supported by tensorlib. "
                             f"Received: {arg}={value!r}")
    if optional:
        raise ValueError("Input: optional inputs are not supported by tensorlib. "
                         f"Received: optional={optional!r}")
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=dtype,
                       batch_shape=batch_shape, name=name)
    return layer.output


class Activated(Layer):
    """A layer ending in an activation (ReLU is fused into the Dense / Conv2D kernels),
    with a kernel and an optional bias, and Keras's regularizer arguments."""

    def _set_activation(self, activation):
        self.activation = activations.get(activation)

    def _set_regularizers(self, kernel_regularizer, bias_regularizer, activity_regularizer):
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)

    def _regularizer_config(self):
        return {k: regularizers.serialize(getattr(self, k)) for k in (
            "kernel_regularizer", "bias_regularizer", "activity_regularizer")}

    def _set_constraints(self, kernel_constraint, bias_constraint):
        for key, value in (("kernel_constraint", kernel_constraint),
                           ("bias_constraint", bias_constraint)):
            try:
                setattr(self, key, constraints.get(value))
            except ValueError as e:
                raise ValueError(f"Layer {type(self).__name__}: invalid `{key}` ({e}). "
                                 f"Received: {key}={value!r}"[:400]) from None

    def _constraint_config(self):
        return {k: constraints.serialize(getattr(self, k)) for k in (
            "kernel_constraint", "bias_constraint")}

    def _activity(self, y):
        """``y``, after adding its activity penalty (divided by the batch size, as Keras
        does) to the pass's losses."""
        if self.activity_regularizer is not None:
            self.add_loss(self.activity_regularizer(y) * (1.0 / max(y.shape[0], 1)))
        return y

    def _inference_fn(self, input_shape):
        if self.activity_regularizer is not None:
            return None           # evaluate needs the penalty: run call
        return self._array_fn(input_shape)

    @property
    def activation_name(self):
        return activations.serialize(self.activation)

    def _array_activation(self, fused_relu):
        """The activation as an array -> array function for planned inference (None: the
        identity, or ReLU fused into the kernel)."""
        act = self.activation
        if act is activations.linear or (fused_relu and act is activations.relu):
            return None
        return lambda a: act(Tensor(a)).data


class Dense(Activated):
    def __init__(self, units, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        self._set_regularizers(kernel_regularizer, bias_regularizer, activity_regularizer)
        self._set_constraints(kernel_constraint, bias_constraint)
        if not isinstance(units, (int, np.integer)) or isinstance(units, bool) \
                or not 1 <= units <= MAX_DIM:
            raise ValueError("Received an invalid value for `units`, expected a positive "
                             f"integer up to {MAX_DIM}. Received: units={units!r}")
        self.units, self.use_bias = int(units), use_bias
        self._set_activation(activation)
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer

    def build(self, input_shape):
        if len(input_shape) < 2 or input_shape[-1] is None:
            raise ValueError(f"Input 0 of layer {self.name!r} is incompatible with the layer: "
                             f"expected min_ndim=2 with a known last axis. Received: input "
                             f"with shape {tuple(input_shape)}")
        self.kernel = self.add_weight((input_shape[-1], self.units), self.kernel_initializer,
                                      name="kernel", regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.bias = self.add_weight((self.units,), self.bias_initializer, name="bias",
                                    regularizer=self.bias_regularizer,
                                    constraint=self.bias_constraint) \
            if self.use_bias else None

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def call(self, x, training=False):
        if x.shape[-1] != self.kernel.shape[0]:
            raise ValueError(f"Input 0 of layer {self.name!r} is incompatible with the layer: "
                             f"expected axis -1 of input shape to have value "
                             f"{self.kernel.shape[0]}, but received input with shape {x.shape}")
        fuse_relu = self.activation is activations.relu
        if x.ndim == 2:
            y = linear(x, self.kernel, self.bias, activation="relu" if fuse_relu else None)
        else:
            y = x @ self.kernel + self.bias if self.use_bias else x @ self.kernel
            if fuse_relu:
                y = y.relu()
        return self._activity(y if fuse_relu else self.activation(y))

    def _array_fn(self, input_shape):
        if len(input_shape) != 2:
            return None
        relu = self.activation is activations.relu
        post = self._array_activation(fused_relu=True)

        def dense(a):
            y = linear_array(a, self.kernel.data, None if self.bias is None else self.bias.data,
                             relu)
            return y if post is None else post(y)
        return dense

    def get_config(self):
        return {**super().get_config(), "units": self.units,
                "activation": self.activation_name, "use_bias": self.use_bias,
                "kernel_initializer": _init_name(self.kernel_initializer),
                "bias_initializer": _init_name(self.bias_initializer),
                **self._regularizer_config(), **self._constraint_config()}


def _init_name(init):
    if not isinstance(init, str):
        raise ValueError(f"Only initializers given by name can be saved. Received: {init!r}")
    return init


class Activation(Activated):
    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self._set_activation(activation)

    def call(self, x, training=False):
        return self.activation(x)

    def _inference_fn(self, input_shape):
        return self._array_activation(fused_relu=False) or (lambda a: a)

    def get_config(self):
        return {**super().get_config(), "activation": self.activation_name}


class Softmax(Layer):
    """Keras's ``Softmax(axis=-1)`` layer (a cross-entropy loss on its output uses its
    input, as after ``Dense(..., activation="softmax")``)."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise ValueError(f"Softmax: `axis` must be an integer. Received: axis={axis!r}")
        self.axis = int(axis)

    def call(self, x, training=False):
        if not -x.ndim <= self.axis < x.ndim:
            raise ValueError(f"Layer {self.name!r}: axis {self.axis} is out of range for an "
                             f"input of rank {x.ndim}. Received: input shape {x.shape}")
        return x.softmax(self.axis)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class Flatten(Layer):
    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        return (input_shape[0], None if None in rest else int(math.prod(rest)))

    def call(self, x, training=False):
        return x.reshape(x.shape[0], -1)

    def _inference_fn(self, input_shape):
        return lambda a: a.reshape(a.shape[0], -1)


class Reshape(Layer):
    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        if isinstance(target_shape, (str, bytes)) or not hasattr(target_shape, "__iter__"):
            raise ValueError("Reshape: `target_shape` must be a tuple of integers. "
                             f"Received: target_shape={target_shape!r}")
        self.target_shape = tuple(target_shape)
        if not all(isinstance(d, (int, np.integer)) and not isinstance(d, (bool, np.bool_))
                   and (d == -1 or 1 <= d <= MAX_DIM) for d in self.target_shape):
            raise ValueError("Reshape: `target_shape` entries must be positive integers or "
                             f"one -1. Received: target_shape={target_shape!r}")
        self.target_shape = tuple(int(d) for d in self.target_shape)
        if sum(d == -1 for d in self.target_shape) > 1:
            raise ValueError("There can only be one -1 in `target_shape`. "
                             f"Received: target_shape={target_shape}")

    def compute_output_shape(self, input_shape):
        if None in input_shape[1:]:
            return (input_shape[0],) + self.target_shape
        size = math.prod(input_shape[1:])
        known = math.prod(d for d in self.target_shape if d != -1)
        shape = tuple(size // known if d == -1 else d for d in self.target_shape)
        if math.prod(shape) != size or (-1 in self.target_shape and size % known):
            raise ValueError(f"Layer {self.name!r}: the input shape {tuple(input_shape)} "
                             f"cannot be reshaped to {self.target_shape}. Received: "
                             f"target_shape={self.target_shape}")
        return (input_shape[0],) + shape

    def call(self, x, training=False):
        return x.reshape((x.shape[0],) + self.target_shape)

    def _inference_fn(self, input_shape):
        return lambda a: a.reshape((a.shape[0],) + self.target_shape)

    def get_config(self):
        return {**super().get_config(), "target_shape": list(self.target_shape)}


class Dropout(Layer):
    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(rate, (bool, np.bool_)) or not isinstance(rate, (int, float, np.integer,
                                                                    np.floating)) \
                or not 0 <= rate < 1:
            raise ValueError("Invalid value received for argument `rate`. Expected a float "
                             f"value between 0 and 1. Received: rate={rate!r}")
        if noise_shape is not None:
            ok = not isinstance(noise_shape, (str, bytes)) and hasattr(noise_shape, "__iter__")
            noise_shape = tuple(noise_shape) if ok else noise_shape
            if not ok or not all(d is None or (isinstance(d, (int, np.integer)) and not
                                               isinstance(d, (bool, np.bool_)) and d >= 1)
                                 for d in noise_shape):
                raise ValueError("Dropout: `noise_shape` must be a tuple of positive integers "
                                 f"or None entries. Received: noise_shape={noise_shape!r}")
            noise_shape = tuple(None if d is None else int(d) for d in noise_shape)
        if seed is not None and (isinstance(seed, (bool, np.bool_))
                                 or not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError("Dropout: `seed` must be a non-negative integer or None. "
                             f"Received: seed={seed!r}")
        self.rate, self.noise_shape, self.seed = float(rate), noise_shape, seed
        from ..random import Generator
        self._gen = Generator(seed) if seed is not None else None

    def _inference_fn(self, input_shape):
        return lambda a: a          # inference: the identity

    def call(self, x, training=False):
        if not training or self.rate == 0:
            return x
        shape = x.shape if self.noise_shape is None else self._noise_shape_for(x.shape)
        keep = get_generator(self._gen).uniform(shape, x.dtype) >= self.rate
        return x * Tensor((keep / (1 - self.rate)).astype(x.dtype))

    def _noise_shape_for(self, x_shape):
        """``noise_shape`` with ``None`` filled from ``x_shape``; it must broadcast to it."""
        ns = self.noise_shape
        shape = tuple(x_shape[i] if d is None else d for i, d in enumerate(ns)) \
            if len(ns) == len(x_shape) else None
        if shape is None or any(d not in (1, n) for d, n in zip(shape, x_shape)):
            raise ValueError(f"Layer {self.name!r}: `noise_shape` must have the input's rank "
                             f"and each entry must be 1, None or the input's size. Received: "
                             f"noise_shape={ns}, input shape {tuple(x_shape)}")
        return shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed,
                "noise_shape": None if self.noise_shape is None else list(self.noise_shape)}
