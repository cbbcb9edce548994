"""``keras.ops``: the NumPy-like ops Keras 3 code commonly calls, on tensorlib Tensors.

Each is a thin mapping onto a differentiable Tensor op (so gradients flow); arrays and
numbers are accepted where Keras accepts them. ``import tensorlib as keras`` reaches
these as ``keras.ops.<name>``: the package publishes them onto ``tensorlib.ops`` (the
module of primitive autograd Functions, whose own names are CamelCase classes and a few
helpers; no name is shared).
"""
import functools
import sys

import numpy as np

from . import graph
from .layers import op_layer
from .ops import normalize_axis
from .tensor import Tensor, _as_tensor, concatenate, stack, where  # noqa: F401
from .tensor import maximum as _maximum


def convert_to_tensor(x, dtype=None):
    t = x if isinstance(x, Tensor) else Tensor(np.asarray(x))
    return t if dtype is None else cast(t, dtype)


def convert_to_numpy(x):
    if isinstance(x, graph.SymbolicTensor):
        raise ValueError(f"convert_to_numpy: a symbolic tensor has no value until the model "
                         f"runs. Received: x={x!r}")
    return np.asarray(x.data if isinstance(x, Tensor) else x)


def cast(x, dtype):
    return _as_tensor(x).astype(np.dtype(dtype))


def shape(x):
    if isinstance(x, graph.SymbolicTensor):
        return x.shape
    return tuple(np.shape(x.data if isinstance(x, Tensor) else x))


def ndim(x):
    return len(shape(x))


# ---------------------------------------------------------------- arithmetic
def add(x1, x2): return _as_tensor(x1) + x2
def subtract(x1, x2): return _as_tensor(x1) - x2
def multiply(x1, x2): return _as_tensor(x1) * x2
def divide(x1, x2): return _as_tensor(x1) / x2
def true_divide(x1, x2): return divide(x1, x2)
def power(x1, x2): return _as_tensor(x1) ** x2
def negative(x): return -_as_tensor(x)
def square(x): return _as_tensor(x) * x
def sqrt(x): return _as_tensor(x).sqrt()
def exp(x): return _as_tensor(x).exp()
def log(x): return _as_tensor(x).log()
def abs(x): return _as_tensor(x).abs()  # noqa: A001 - Keras's name
def absolute(x): return abs(x)
def matmul(x1, x2): return _as_tensor(x1) @ x2
def maximum(x1, x2): return _maximum(x1, x2)
def minimum(x1, x2): return -_maximum(-_as_tensor(x1), -_as_tensor(x2))
def clip(x, x_min, x_max): return _as_tensor(x).clip(x_min, x_max)


# ---------------------------------------------------------------- activations
def relu(x): return _as_tensor(x).relu()
def sigmoid(x): return _as_tensor(x).sigmoid()
def tanh(x): return _as_tensor(x).tanh()
def softmax(x, axis=-1): return _as_tensor(x).softmax(axis)
def log_softmax(x, axis=-1): return _as_tensor(x).log_softmax(axis)


# ---------------------------------------------------------------- reductions
def sum(x, axis=None, keepdims=False): return _as_tensor(x).sum(axis, keepdims)  # noqa: A001
def mean(x, axis=None, keepdims=False): return _as_tensor(x).mean(axis, keepdims)
def max(x, axis=None, keepdims=False): return _as_tensor(x).max(axis, keepdims)  # noqa: A001
def min(x, axis=None, keepdims=False): return -(-_as_tensor(x)).max(axis, keepdims)  # noqa: A001


def argmax(x, axis=None, keepdims=False):
    return Tensor(np.argmax(convert_to_numpy(x), axis=axis, keepdims=keepdims))


def argmin(x, axis=None, keepdims=False):
    return Tensor(np.argmin(convert_to_numpy(x), axis=axis, keepdims=keepdims))


# ---------------------------------------------------------------- shapes
def reshape(x, newshape): return _as_tensor(x).reshape(tuple(np.atleast_1d(newshape)))
def transpose(x, axes=None): return _as_tensor(x).transpose(*(axes or ()))


def expand_dims(x, axis):
    x = _as_tensor(x)
    axis = normalize_axis("expand_dims", axis, x.ndim + 1)[0]
    return x.reshape(x.shape[:axis] + (1,) + x.shape[axis:])


def squeeze(x, axis=None):
    x = _as_tensor(x)
    if axis is None:
        return x.reshape(tuple(d for d in x.shape if d != 1))
    axis = normalize_axis("squeeze", axis, x.ndim)[0]
    if x.shape[axis] != 1:
        raise ValueError(f"squeeze: axis {axis} has size {x.shape[axis]}, not 1. Received: "
                         f"axis={axis} for shape {x.shape}")
    return x.reshape(x.shape[:axis] + x.shape[axis + 1:])


def flatten(x): return _as_tensor(x).reshape(-1)
def get_item(x, key): return _as_tensor(x)[key]


# ---------------------------------------------------------------- creation, comparison
def zeros(shape, dtype="float32"): return Tensor(np.zeros(shape, dtype))
def ones(shape, dtype="float32"): return Tensor(np.ones(shape, dtype))
def full(shape, fill_value, dtype="float32"): return Tensor(np.full(shape, fill_value, dtype))
def zeros_like(x, dtype=None): return Tensor(np.zeros_like(convert_to_numpy(x), dtype))
def ones_like(x, dtype=None): return Tensor(np.ones_like(convert_to_numpy(x), dtype))
def arange(start, stop=None, step=1, dtype=None):
    return Tensor(np.arange(start, stop, step, dtype))


def one_hot(x, num_classes, axis=-1, dtype="float32"):
    labels = convert_to_numpy(x).astype(np.int64)
    out = (labels[..., None] == np.arange(num_classes)).astype(dtype)
    return Tensor(np.moveaxis(out, -1, axis))


def equal(x1, x2): return Tensor(np.equal(convert_to_numpy(x1), convert_to_numpy(x2)))
def not_equal(x1, x2): return Tensor(np.not_equal(convert_to_numpy(x1), convert_to_numpy(x2)))
def greater(x1, x2): return Tensor(np.greater(convert_to_numpy(x1), convert_to_numpy(x2)))
def less(x1, x2): return Tensor(np.less(convert_to_numpy(x1), convert_to_numpy(x2)))


__all__ = [
    "convert_to_tensor", "convert_to_numpy", "cast", "shape", "ndim",
    "add", "subtract", "multiply", "divide", "true_divide", "power", "negative", "square",
    "sqrt", "exp", "log", "abs", "absolute", "matmul", "maximum", "minimum", "clip",
    "relu", "sigmoid", "tanh", "softmax", "log_softmax",
    "sum", "mean", "max", "min", "argmax", "argmin",
    "reshape", "transpose", "expand_dims", "squeeze", "flatten", "get_item", "concatenate",
    "stack",
    "where", "zeros", "ones", "full", "zeros_like", "ones_like", "arange", "one_hot",
    "equal", "not_equal", "greater", "less",
]


# ---------------------------------------------------------------- symbolic tensors
# Called with symbolic tensors (in a functional model being defined), an op records a
# graph node (layers/op_layer.py) that runs it on data when the model runs.
_NOT_RECORDED = {"convert_to_numpy", "shape", "ndim"}


def _recording(fn):
    @functools.wraps(fn)
    def op(*args, **kwargs):
        if graph.is_symbolic((args, kwargs)):
            return op_layer.symbolic_call(fn, args, kwargs)
        return fn(*args, **kwargs)
    return op


for _name in __all__:
    if _name not in _NOT_RECORDED:
        globals()[_name] = _recording(globals()[_name])
graph.SymbolicTensor._ops = sys.modules[__name__]
del _name
