"""Differentiable elementwise, reduction, shape and indexing ops (forward beside backward).

Gradients are returned in the broadcast shape; the engine reduces them to each input's
shape. Inputs that are plain scalars or arrays are constants and get no gradient.
"""
import builtins

import numpy as np

from .autograd import Function
from .backend import get_backend


def broadcast_shape(op, a, b):
    sa, sb = np.shape(a), np.shape(b)
    try:
        return np.broadcast_shapes(sa, sb)
    except ValueError:
        raise ValueError(
            f"{op}: operands could not be broadcast together. "
            f"Received: shapes {sa} and {sb}") from None


# ---------------------------------------------------------------- binary arithmetic
class Add(Function):
    def forward(self, a, b):
        broadcast_shape("add", a, b)
        return np.add(a, b)

    def backward(self, g):
        return g, g


class Sub(Function):
    def forward(self, a, b):
        broadcast_shape("sub", a, b)
        return np.subtract(a, b)

    def backward(self, g):
        return g, -g


class Mul(Function):
    def forward(self, a, b):
        broadcast_shape("mul", a, b)
        self.a, self.b = a, b
        return np.multiply(a, b)

    def backward(self, g):
        ga = g * self.b if self.needs_input_grad[0] else None
        gb = g * self.a if self.needs_input_grad[1] else None
        return ga, gb


class Div(Function):
    def forward(self, a, b):
        broadcast_shape("div", a, b)
        self.a, self.b = a, b
        return np.divide(a, b)

    def backward(self, g):
        ga = g / self.b if self.needs_input_grad[0] else None
        gb = -g * self.a / (self.b * self.b) if self.needs_input_grad[1] else None
        return ga, gb


class Pow(Function):
    def forward(self, a, b):
        broadcast_shape("pow", a, b)
        self.a, self.b = a, b
        self.out = np.power(a, b)
        return self.out

    def backward(self, g):
        a, b = self.a, self.b
        ga = g * b * np.power(a, b - 1) if self.needs_input_grad[0] else None
        gb = g * self.out * np.log(a) if self.needs_input_grad[1] else None
        return ga, gb


class Maximum(Function):
    def forward(self, a, b):
        broadcast_shape("maximum", a, b)
        self.a_wins = np.greater_equal(a, b)
        return np.maximum(a, b)

    def backward(self, g):
        return np.where(self.a_wins, g, 0), np.where(self.a_wins, 0, g)


class MatMul(Function):
    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0 or a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
            raise ValueError(
                "matmul: inner dimensions do not match. "
                f"Received: shapes {a.shape} and {b.shape}")
        try:
            np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        except ValueError:
            raise ValueError("matmul: batch dimensions could not be broadcast together. "
                             f"Received: shapes {a.shape} and {b.shape}") from None
        self.a, self.b = a, b
        return matmul_arrays(a, b)

    def backward(self, g):
        a = self.a[None, :] if self.a.ndim == 1 else self.a
        b = self.b[:, None] if self.b.ndim == 1 else self.b
        if self.b.ndim == 1:
            g = g[..., None]
        if self.a.ndim == 1:
            g = np.expand_dims(g, -2)
        ga = matmul_arrays(g, np.swapaxes(b, -1, -2)) if self.needs_input_grad[0] else None
        gb = matmul_arrays(np.swapaxes(a, -1, -2), g) if self.needs_input_grad[1] else None
        if ga is not None and self.a.ndim == 1:
            ga = ga.reshape(ga.shape[:-2] + ga.shape[-1:])
        if gb is not None and self.b.ndim == 1:
            gb = gb[..., 0]
        return ga, gb


def matmul_arrays(a, b):
    """``a @ b``; 2-D float products of one dtype go to the active backend's GEMM."""
    if a.ndim == 2 and b.ndim == 2 and a.dtype == b.dtype and a.dtype.kind == "f":
        return get_backend().gemm(a, b)
    return np.matmul(a, b)


# ---------------------------------------------------------------- unary elementwise
class Neg(Function):
    def forward(self, a):
        return np.negative(a)

    def backward(self, g):
        return -g


class Exp(Function):
    def forward(self, a):
        self.out = np.exp(a)
        return self.out

    def backward(self, g):
        return g * self.out


class Log(Function):
    def forward(self, a):
        self.a = a
        return np.log(a)

    def backward(self, g):
        return g / self.a


class Sqrt(Function):
    def forward(self, a):
        self.out = np.sqrt(a)
        return self.out

    def backward(self, g):
        return g / (2 * self.out)


class Abs(Function):
    def forward(self, a):
        if a.dtype.kind == "b":
            return a.copy()
        self.sign = np.sign(a)
        return np.abs(a)

    def backward(self, g):
        return g * self.sign


class Clip(Function):
    def forward(self, a, lo=None, hi=None):
        out = np.clip(a, lo, hi) if (lo is not None or hi is not None) else a.copy()
        self.inside = np.ones(a.shape, bool)
        if lo is not None:
            self.inside &= a >= lo
        if hi is not None:
            self.inside &= a <= hi
        return out

    def backward(self, g):
        return np.where(self.inside, g, 0)


class ReLU(Function):
    """``max(a, 0)``. ``relu_y`` (the output) and ``premasked`` follow the protocol that
    functional.MaxPool2D uses to apply the ReLU mask on its own, smaller gradient."""

    def forward(self, a):
        if a.dtype.kind == "c":
            raise TypeError(f"relu: complex tensors are not supported. Received: "
                            f"dtype={a.dtype}")
        if a.dtype in (np.float32, np.float64):
            self.out = get_backend().relu_forward(a)
        else:
            self.out = np.maximum(a, 0)
        self.relu_y = self.out
        return self.out

    def backward(self, g):
        return g if g is getattr(self, "premasked", None) else relu_grad(self.out, g)


def relu_grad(y, g):
    """``g`` masked to 0 where the ReLU output ``y <= 0``, in ``y``'s dtype. Where ``y`` is
    NaN the gradient passes, as in PyTorch (threshold_backward(grad, result, 0))."""
    if y.dtype in (np.float32, np.float64):
        return get_backend().relu_backward(y, g)
    return np.where(y <= 0, 0, g).astype(y.dtype, copy=False)


class Sigmoid(Function):
    def forward(self, a):
        a = _as_float("sigmoid", a)
        # Stable for large |a|: exp only ever sees non-positive arguments.
        e = np.exp(-np.abs(a))
        self.out = np.where(a >= 0, 1 / (1 + e), e / (1 + e)).astype(a.dtype, copy=False)
        return self.out

    def backward(self, g):
        return g * self.out * (1 - self.out)


class Tanh(Function):
    def forward(self, a):
        self.out = np.tanh(_as_float("tanh", a))
        return self.out

    def backward(self, g):
        return g * (1 - self.out * self.out)


def _as_float(op, a):
    """Softmax-like ops compute in floating point: integers and bools become the float type
    NumPy's ``exp`` gives them (float16 for 8-bit, float32 for 16-bit, else float64);
    complex input is refused."""
    if a.dtype.kind == "c":
        raise TypeError(f"{op}: complex tensors are not supported. Received: dtype={a.dtype}")
    return a if a.dtype.kind == "f" else a.astype(np.result_type(a.dtype, np.float16))


def _softmax_axis(op, a, axis):
    """The one axis of a softmax, checked; ``None`` when that axis is empty (the result
    is then empty too, as in PyTorch)."""
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{op}: axis must be an int. Received: axis={axis!r}")
    if a.ndim == 0:
        raise ValueError(f"{op}: needs a tensor of rank >= 1. Received: shape {a.shape}")
    (axis,) = normalize_axis(op, axis, a.ndim)
    return None if a.shape[axis] == 0 else axis


class Softmax(Function):
    def forward(self, a, axis=-1):
        a = _as_float("softmax", a)
        self.axis = axis = _softmax_axis("softmax", a, axis)
        if axis is None:
            self.out = a.copy()
            return self.out
        e = np.exp(a - a.max(axis=axis, keepdims=True))
        self.out = e / e.sum(axis=axis, keepdims=True)
        return self.out

    def backward(self, g):
        y = self.out
        if self.axis is None:
            return g.copy()
        return y * (g - (g * y).sum(axis=self.axis, keepdims=True))


class LogSoftmax(Function):
    def forward(self, a, axis=-1):
        a = _as_float("log_softmax", a)
        self.axis = axis = _softmax_axis("log_softmax", a, axis)
        if axis is None:
            self.out = a.copy()
            return self.out
        shifted = a - a.max(axis=axis, keepdims=True)
        self.out = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
        return self.out

    def backward(self, g):
        if self.axis is None:
            return g.copy()
        return g - np.exp(self.out) * g.sum(axis=self.axis, keepdims=True)


class Cast(Function):
    def forward(self, a, dtype=None):
        self.src = a.dtype
        return a.astype(dtype)

    def backward(self, g):
        return g.astype(self.src)


# ---------------------------------------------------------------- reductions
def normalize_axis(op, axis, ndim):
    """Axis argument as a sorted tuple of non-negative ints (None -> all axes)."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else axis
    if not isinstance(axes, (tuple, list)) or not builtins.all(
            isinstance(ax, (int, np.integer)) and not isinstance(ax, (bool, np.bool_))
            for ax in axes):
        raise TypeError(f"{op}: axis must be None, an int or a tuple of ints. "
                        f"Received: axis={axis!r}")
    if ndim == 0:      # a 0-d tensor has one axis-free element: axis 0 / -1 reduce nothing
        if builtins.any(ax not in (0, -1) for ax in axes):
            raise ValueError(f"{op}: axis {axes} is out of bounds for a 0-d tensor. "
                             f"Received: axis={axis!r}")
        return ()
    out = []
    for ax in axes:
        if not -ndim <= ax < ndim:
            raise ValueError(f"{op}: axis {ax} is out of bounds for a tensor of rank {ndim}. "
                             f"Received: axis={axis!r}")
        out.append(int(ax) % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis. Received: axis={axis!r}")
    return tuple(sorted(out))


def check_keepdims(op, keepdims):
    if not isinstance(keepdims, (bool, np.bool_)):
        raise TypeError(f"{op}: keepdims must be True or False. Received: "
                        f"keepdims={keepdims!r}")
    return bool(keepdims)


def _expand(g, shape, axes, keepdims):
    if not keepdims:
        g = np.expand_dims(g, axes)
    return np.broadcast_to(g, shape)


class Sum(Function):
    def forward(self, a, axis=None, keepdims=False):
        self.shape = a.shape
        self.axes = normalize_axis("sum", axis, a.ndim)
        self.keepdims = keepdims = check_keepdims("sum", keepdims)
        return np.asarray(a.sum(axis=self.axes, keepdims=keepdims))

    def backward(self, g):
        return _expand(g, self.shape, self.axes, self.keepdims)


class Mean(Function):
    def forward(self, a, axis=None, keepdims=False):
        self.shape = a.shape
        self.axes = normalize_axis("mean", axis, a.ndim)
        self.keepdims = keepdims = check_keepdims("mean", keepdims)
        self.count = int(np.prod([a.shape[i] for i in self.axes]))
        return np.asarray(a.mean(axis=self.axes, keepdims=keepdims))

    def backward(self, g):
        return _expand(g / self.count, self.shape, self.axes, self.keepdims)


class Max(Function):
    def forward(self, a, axis=None, keepdims=False):
        self.a = a
        self.axes = normalize_axis("max", axis, a.ndim)
        self.keepdims = keepdims = check_keepdims("max", keepdims)
        if a.size == 0:
            raise ValueError(f"max: cannot reduce an empty tensor. Received: shape {a.shape}")
        self.out = np.asarray(a.max(axis=self.axes, keepdims=True))
        return self.out if keepdims else np.squeeze(self.out, self.axes)

    def backward(self, g):
        # Ties share the gradient equally, so the result is the gradient of the max value.
        mask = self.a == self.out
        g = g if self.keepdims else np.expand_dims(g, self.axes)
        return mask * (g / mask.sum(axis=self.axes, keepdims=True))
