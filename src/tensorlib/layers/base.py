"""The Layer contract, as in Keras: ``__init__`` validates and stores arguments,
``build(input_shape)`` creates weights, ``call`` computes, ``compute_output_shape``
answers shapes without running anything. Shapes include the batch axis (``None``).
"""
import re

import numpy as np

from .. import graph, initializers
from ..backend._shapes import MAX_WINDOW, int_tuple
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
    _is_input_layer = False
    _takes_structure = False    # merge layers and models take lists/dicts of tensors

    def __init__(self, name=None, trainable=True, dtype=None, input_shape=None,
                 input_dim=None, batch_size=None, **kwargs):
        if kwargs:
            raise TypeError(f"Unrecognized keyword arguments passed to "
                            f"{type(self).__name__}: {kwargs}")
        cls = type(self).__name__
        if name is not None and not isinstance(name, str):
            raise TypeError(f"{cls}: name must be a string. Received: name={name!r}")
        self.name = name or unique_name(snake_case(cls))
        self.trainable = bool(trainable)
        self.dtype = float_dtype(cls, dtype)
        self.built = False
        self._weights = []          # list of (tensor, trainable)
        self.output_shape = None
        self._inbound_nodes = []    # graph.Node records of this layer's symbolic calls
        if input_dim is not None and input_shape is None:
            input_shape = (standard_dim(cls, "input_dim", input_dim, input_dim),)
        if batch_size is not None:
            batch_size = standard_dim(cls, "batch_size", batch_size, batch_size)
        self.batch_input_shape = None
        if input_shape is not None:
            self.batch_input_shape = (batch_size,) + standardize_shape(cls, "input_shape",
                                                                       input_shape)

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
        """Assign a list of arrays, one per weight, after checking all of them: count,
        exact shape, a real numeric dtype (bool/int/float; not complex, datetime, string
        or object) and no NaN or infinity once cast to the weight's dtype. On any error
        (ValueError naming the weight; for non-finite values, how many) nothing changes."""
        from .._weights import checked_weight_values
        values = checked_weight_values(f"Layer {self.name!r}", self._weights, weights)
        for var, value in zip(self._weights, values):
            var.data[...] = value

    # ------------------------------------------------------------ the contract
    def build(self, input_shape):
        self.built = True

    def build_for(self, input_shape):
        """Build (once) and record the output shape; returns it."""
        input_shape = _shape_structure(input_shape)
        if not self.built:
            self.build(input_shape)
            self.built = True
            self._build_input_shape = input_shape
        self.output_shape = _shape_structure(self.compute_output_shape(input_shape))
        return self.output_shape

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def call(self, x, training=False):
        raise NotImplementedError

    def _inference_fn(self, input_shape):
        """For a model's planned inference: an ``array -> array`` function that computes
        ``call(x, training=False)`` (the same backend calls, the same result) for inputs of
        ``input_shape`` (batch axis free) in the layer's dtype, without autograd records or
        argument checks (the model checks shapes and dtypes once, when it plans); or None
        when the layer has none, and the model runs its layers as usual."""
        return None

    def __call__(self, x, training=False, **kwargs):
        if graph.is_symbolic(x):
            return self._call_symbolic(x, **kwargs)
        if kwargs:
            raise TypeError(f"Layer {self.name!r}: unexpected arguments to __call__. "
                            f"Received: {sorted(kwargs)}")
        x = self._input_tensor(x)
        if not self.built:
            self.build_for((None,) + x.shape[1:])
        return self.call(x, training=training)

    # ------------------------------------------------------------ the graph
    def _call_symbolic(self, inputs, **kwargs):
        """Record a call on symbolic tensors: build (once), check, infer the output
        shape, and link inputs to new symbolic outputs by a ``graph.Node``."""
        if kwargs:
            raise TypeError(f"Layer {self.name!r}: unexpected arguments to __call__. "
                            f"Received: {sorted(kwargs)}")
        if not self._takes_structure and isinstance(inputs, (list, tuple, dict)):
            flat = graph.flatten(inputs)
            if len(flat) != 1:
                raise ValueError(f"Layer {self.name!r} expects 1 input, but it received "
                                 f"{len(flat)} input tensors. Received: "
                                 f"inputs={[getattr(t, 'name', t) for t in flat]}")
            inputs = flat[0]
        bad = [t for t in graph.flatten(inputs) if not isinstance(t, graph.SymbolicTensor)]
        if bad:
            raise ValueError(f"Layer {self.name!r}: cannot mix symbolic tensors and data in "
                             f"one call. Received: an input of type {type(bad[0]).__name__}")
        shapes = graph.shapes_of(inputs)
        if self.built and hasattr(self, "_build_input_shape"):
            self.check_input_shape(shapes)
        try:
            out_shape = self.build_for(shapes)
        except ValueError as e:
            msg = str(e)
            if self.name not in msg:
                msg = f"Layer {self.name!r} ({type(self).__name__}) cannot take inputs " \
                      f"of shape {shapes}: {msg}"
            raise ValueError(msg) from None
        if isinstance(out_shape, list):
            outputs = [graph.SymbolicTensor(s, self.dtype) for s in out_shape]
        else:
            outputs = graph.SymbolicTensor(out_shape, self.dtype)
        graph.Node(self, inputs, outputs)
        return outputs

    def check_input_shape(self, input_shape):
        """A built layer with weights takes inputs of its build rank and last axis."""
        built = self._build_input_shape
        if not self._weights or not isinstance(built, tuple) \
                or not isinstance(input_shape, tuple):
            return
        if len(input_shape) != len(built) or input_shape[-1] != built[-1]:
            raise ValueError(f"Input 0 of layer {self.name!r} is incompatible with the "
                             f"layer: expected ndim={len(built)} and axis -1 of input shape "
                             f"to have value {built[-1]} (the layer was built for "
                             f"{built}). Received: input with shape {input_shape}")

    def _node_attribute(self, what, name):
        if not self._inbound_nodes:
            raise AttributeError(f"Layer {self.name!r} has never been called and thus has "
                                 f"no defined {name}.")
        tensors = getattr(self._inbound_nodes[0], what)
        return tensors[0] if len(tensors) == 1 else list(tensors)

    @property
    def output(self):
        """The symbolic output of this layer's first call (Keras's ``layer.output``)."""
        return self._node_attribute("outputs", "output")

    @property
    def input(self):
        return self._node_attribute("inputs", "input")

    def _input_tensor(self, x):
        """``x`` as a Tensor of the layer's dtype (float inputs are cast, as Keras does),
        with a batch axis."""
        data = x.data if isinstance(x, Tensor) else x
        try:
            arr = np.asarray(data)
        except (TypeError, ValueError) as e:
            raise ValueError(f"Layer {self.name!r}: inputs must be numeric arrays ({e}). "
                             f"Received: {type(x).__name__}") from None
        if arr.dtype.kind not in "biuf":
            raise ValueError(f"Layer {self.name!r}: inputs must be real numbers. Received: "
                             f"dtype={arr.dtype}")
        if arr.ndim == 0:
            raise ValueError(f"Layer {self.name!r}: inputs need a batch axis. Received: "
                             f"a 0-d input")
        if isinstance(x, Tensor):
            return x if x.dtype == self.dtype else x.astype(self.dtype)
        return Tensor(arr.astype(self.dtype, copy=False))

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


def _shape_structure(shape):
    """A shape as a tuple, or a list (or dict) of shapes for layers with several inputs."""
    if isinstance(shape, dict):
        return {k: _shape_structure(v) for k, v in shape.items()}
    if isinstance(shape, (list, tuple)) and shape and \
            all(isinstance(d, (list, tuple, dict)) for d in shape):
        return [_shape_structure(d) for d in shape]
    return tuple(shape)


MAX_DIM = MAX_WINDOW     # the largest size, stride, dilation or pool size a layer accepts


def float_dtype(where, dtype):
    """A layer's compute dtype: a floating-point NumPy dtype (float32 when ``None``)."""
    try:
        dt = np.dtype(dtype or "float32")
    except TypeError:
        raise TypeError(f"{where}: not a data type. Received: dtype={dtype!r}") from None
    if dt.kind != "f":
        raise ValueError(f"{where}: the layer dtype must be a floating-point type. "
                         f"Received: dtype={dtype!r}")
    return dt


def standard_dim(where, name, value, whole, allow_none=False):
    """One entry of a shape: an int in [0, MAX_DIM] (``None`` when ``allow_none``)."""
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{where}: cannot convert {whole!r} to a shape: {value!r} is not an "
                         f"integer. Received: {name}={whole!r}")
    if not 0 <= value <= MAX_DIM:
        raise ValueError(f"{where}: cannot convert {whole!r} to a shape: dimensions must lie "
                         f"in [0, {MAX_DIM}]. Received: {name}={whole!r}")
    return int(value)


def standardize_shape(where, name, shape):
    """Keras's ``standardize_shape``: a tuple of non-negative ints or ``None`` (unknown)."""
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__iter__"):
        raise ValueError(f"{where}: cannot convert {shape!r} to a shape; expected a tuple "
                         f"of integers. Received: {name}={shape!r}")
    shape = tuple(shape)
    return tuple(standard_dim(where, name, d, shape, allow_none=True) for d in shape)


def check_rank(layer, input_shape, ndim, what):
    if len(input_shape) != ndim:
        raise ValueError(f"Input 0 of layer {layer.name!r} is incompatible with the layer: "
                         f"expected ndim={ndim} ({what}), found ndim={len(input_shape)}. "
                         f"Received: input with shape {tuple(input_shape)}")


def conv_tuple(value, n, name, layer="Layer"):
    """Keras's normalisation of an int-or-tuple argument of ``layer`` (its class name), by
    the same rule the kernels' geometry applies: ints in [1, MAX_DIM]."""
    return int_tuple(layer, name, value, n, 1, MAX_DIM)
