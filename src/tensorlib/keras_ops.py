"""``keras.ops``: the NumPy-like ops Keras 3 code commonly calls, on tensorlib Tensors.

Each is a thin mapping onto a differentiable Tensor op (so gradients flow); arrays and
numbers are accepted where Keras accepts them. ``import tensorlib as keras`` reaches
these as ``keras.ops.<name>``: the package publishes them onto ``tensorlib.ops`` (the
module of primitive autograd Functions, whose own names are CamelCase classes and a few
helpers; no name is shared).
"""
import builtins
import functools
import sys

import numpy as np

from . import activations, graph
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
def greater_equal(x1, x2):
    return Tensor(np.greater_equal(convert_to_numpy(x1), convert_to_numpy(x2)))
def less_equal(x1, x2):
    return Tensor(np.less_equal(convert_to_numpy(x1), convert_to_numpy(x2)))
def logical_and(x1, x2):
    return Tensor(np.logical_and(convert_to_numpy(x1), convert_to_numpy(x2)))
def logical_or(x1, x2):
    return Tensor(np.logical_or(convert_to_numpy(x1), convert_to_numpy(x2)))
def logical_not(x): return Tensor(np.logical_not(convert_to_numpy(x)))
def sign(x): return Tensor(np.sign(convert_to_numpy(x)))
def round(x, decimals=0): return Tensor(np.round(convert_to_numpy(x), decimals))  # noqa: A001
def floor(x): return Tensor(np.floor(convert_to_numpy(x)))
def ceil(x): return Tensor(np.ceil(convert_to_numpy(x)))
def any(x, axis=None, keepdims=False):  # noqa: A001 - Keras's name
    return Tensor(np.any(convert_to_numpy(x), axis=axis, keepdims=keepdims))
def all(x, axis=None, keepdims=False):  # noqa: A001 - Keras's name
    return Tensor(np.all(convert_to_numpy(x), axis=axis, keepdims=keepdims))
def count_nonzero(x, axis=None):
    return Tensor(np.asarray(np.count_nonzero(convert_to_numpy(x), axis=axis)))


# ---------------------------------------------------------------- broadcasting, statistics
def broadcast_to(x, shape):
    """``x`` repeated to ``shape`` (differentiable: gradients are summed back)."""
    x = _as_tensor(x)
    return x + Tensor(np.zeros(tuple(shape), x.dtype))
def tile(x, repeats):
    """``x`` repeated ``repeats[i]`` times along each axis, as ``np.tile`` (differentiable:
    the copies' gradients are summed back)."""
    x = _as_tensor(x)
    reps = tuple(int(r) for r in np.atleast_1d(repeats))
    if builtins.any(r < 0 for r in reps):
        raise ValueError(f"tile: `repeats` must be non-negative. Received: repeats={repeats!r}")
    n = builtins.max(len(reps), x.ndim)
    reps = (1,) * (n - len(reps)) + reps
    shape = (1,) * (n - x.ndim) + tuple(x.shape)
    spread = x.reshape(tuple(d for dim in shape for d in (1, dim)))
    full = spread + Tensor(np.zeros(tuple(d for r, dim in zip(reps, shape) for d in (r, dim)),
                                    x.dtype))
    return full.reshape(tuple(r * dim for r, dim in zip(reps, shape)))
def split(x, indices_or_sections, axis=0):
    """Sub-tensors of ``x`` along ``axis``, as ``np.split`` (equal sections, or cut at the
    given indices); differentiable."""
    x = _as_tensor(x)
    ax = normalize_axis("split", axis, x.ndim)[0]
    n = x.shape[ax]
    if isinstance(indices_or_sections, (int, np.integer)):
        k = int(indices_or_sections)
        if k < 1 or n % k:
            raise ValueError(f"split: the axis of size {n} cannot be split into {k} equal "
                             f"sections. Received: indices_or_sections={indices_or_sections!r}")
        cuts = [i * n // k for i in range(1, k)]
    else:
        cuts = [int(i) for i in indices_or_sections]
    bounds = [0] + cuts + [n]
    pre = (slice(None),) * ax
    return [x[pre + (slice(a, b),)] for a, b in zip(bounds[:-1], bounds[1:])]
def take(x, indices, axis=None):
    """``np.take``: entries of ``x`` at integer ``indices`` along ``axis`` (the flattened
    ``x`` when None); differentiable in ``x`` (repeated indices add their gradients)."""
    x = _as_tensor(x)
    idx = convert_to_numpy(indices)
    if idx.dtype.kind not in "iu":
        raise ValueError(f"take: `indices` must be integers. Received: indices of dtype "
                         f"{idx.dtype}")
    if axis is None:
        return x.reshape(-1)[idx]
    ax = normalize_axis("take", axis, x.ndim)[0]
    return x[(slice(None),) * ax + (idx,)]
def var(x, axis=None, keepdims=False):
    x = _as_tensor(x)
    centred = x - x.mean(axis, True)
    return (centred * centred).mean(axis, keepdims)
def std(x, axis=None, keepdims=False): return var(x, axis, keepdims).sqrt()


# ---------------------------------------------------------------- more activations
def gelu(x, approximate=True): return activations.gelu(x, approximate)
def silu(x): return activations.silu(x)
def swish(x): return activations.silu(x)
def elu(x, alpha=1.0): return activations.elu(x, alpha)
def selu(x): return activations.selu(x)
def softplus(x): return activations.softplus(x)
def softsign(x): return activations.softsign(x)
def relu6(x): return activations.relu6(x)
def leaky_relu(x, negative_slope=0.2): return activations.leaky_relu(x, negative_slope)
def hard_sigmoid(x): return activations.hard_sigmoid(x)
def mish(x): return activations.mish(x)
def log_sigmoid(x): return -activations.softplus(-_as_tensor(x))


__all__ = [
    "convert_to_tensor", "convert_to_numpy", "cast", "shape", "ndim",
    "add", "subtract", "multiply", "divide", "true_divide", "power", "negative", "square",
    "sqrt", "exp", "log", "abs", "absolute", "matmul", "maximum", "minimum", "clip",
    "relu", "sigmoid", "tanh", "softmax", "log_softmax",
    "sum", "mean", "max", "min", "argmax", "argmin",
    "reshape", "transpose", "expand_dims", "squeeze", "flatten", "get_item", "concatenate",
    "stack",
    "where", "zeros", "ones", "full", "zeros_like", "ones_like", "arange", "one_hot",
    "equal", "not_equal", "greater", "less", "greater_equal", "less_equal", "logical_and",
    "logical_or", "logical_not", "sign", "round", "floor", "ceil", "any", "all",
    "count_nonzero", "broadcast_to", "tile", "split", "take", "var", "std",
    "gelu", "silu", "swish", "elu", "selu", "softplus", "softsign", "relu6", "leaky_relu",
    "hard_sigmoid", "mish", "log_sigmoid",
]


# ---------------------------------------------------------------- symbolic tensors
# Called with symbolic tensors (in a functional model being defined), an op records a
# graph node (layers/op_layer.py) that runs it on data when the model runs.
_NOT_RECORDED = {"convert_to_numpy", "shape", "ndim", "split"}


def _recording(fn):
    @functools.wraps(fn)
    def op(*args, **kwargs):
        if graph.is_symbolic((args, kwargs)):
            from .layers import op_layer    # the layers load with the first model built
            return op_layer.symbolic_call(fn, args, kwargs)
        return fn(*args, **kwargs)
    return op


for _name in __all__:
    if _name not in _NOT_RECORDED:
        globals()[_name] = _recording(globals()[_name])
graph.SymbolicTensor._ops = sys.modules[__name__]
del _name
