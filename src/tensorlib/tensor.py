"""The Tensor: a NumPy array plus the graph edge that produced it.

Arithmetic and every differentiable method build a ``Function`` (``ops``/``ops_shape``);
``backward`` hands off to the one engine in ``autograd``. dtype rules: a float ndarray
keeps its dtype, Python data becomes float32; mixed operands are promoted the NumPy way
(float32 with float64 gives float64, Python scalars do not promote).
"""
import numpy as np

from . import ops, ops_shape
from .autograd import run_backward
from .random import get_generator

float32, float64, int32, int64, bool_ = np.float32, np.float64, np.int32, np.int64, np.bool_


def _shape_arg(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


class Tensor:
    __array_ufunc__ = None      # ndarray <op> Tensor defers to Tensor's reflected operator
    __array_priority__ = 1000

    def __init__(self, data, requires_grad=False):
        self.data = data if isinstance(data, np.ndarray) else np.asarray(data)
        self.grad = None
        self._ctx = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    # ------------------------------------------------------------ properties
    shape = property(lambda self: self.data.shape)
    dtype = property(lambda self: self.data.dtype)
    ndim = property(lambda self: self.data.ndim)
    size = property(lambda self: self.data.size)
    T = property(lambda self: self.transpose())
    is_leaf = property(lambda self: self._ctx is None)

    def requires_grad_(self, flag=True):
        if flag and self.data.dtype.kind != "f":
            raise ValueError("Only floating-point tensors can require gradients. "
                             f"Received: dtype={self.data.dtype}")
        self.requires_grad = bool(flag)
        return self

    def numpy(self):
        return self.data

    def __array__(self, dtype=None, copy=None):
        arr = self.data if dtype is None else self.data.astype(dtype, copy=False)
        return arr.copy() if copy and arr is self.data else arr

    def item(self):
        if self.data.size != 1:
            raise ValueError("item() needs a tensor with exactly one element. "
                             f"Received: shape {self.shape}")
        return self.data.item()

    def tolist(self):
        return self.data.tolist()

    def detach(self):
        return Tensor(self.data)

    def astype(self, dtype):
        return ops.Cast.apply(self, dtype=np.dtype(dtype))

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __repr__(self):
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        extras = ""
        if self.dtype != np.float32:
            extras += f", dtype={self.dtype}"
        if self.requires_grad:
            extras += ", requires_grad=True"
        return f"tensor({body}{extras})"

    # ------------------------------------------------------------ autograd
    def backward(self, grad=None, retain_graph=False):
        if not self.requires_grad:
            raise RuntimeError("backward() called on a tensor that does not require grad "
                               "(requires_grad=False and no grad_fn).")
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs: "
                                   f"pass a gradient to backward(). Received: shape {self.shape}")
            grad = np.ones_like(self.data)
        else:
            grad = np.asarray(grad.data if isinstance(grad, Tensor) else grad, self.dtype)
            if grad.shape != self.shape:
                raise ValueError("backward: gradient shape must match the tensor's. "
                                 f"Received: {grad.shape} for a tensor of shape {self.shape}")
        if self._ctx is None:
            self._accumulate(grad)
        else:
            run_backward(self, grad, retain_graph)

    def _accumulate(self, g):
        if self.grad is None:
            self.grad = Tensor(np.array(g, dtype=self.dtype, copy=True))
        else:
            self.grad.data = self.grad.data + g

    def zero_grad(self):
        self.grad = None

    # ------------------------------------------------------------ arithmetic
    def __add__(self, o): return ops.Add.apply(self, _operand(o))
    def __radd__(self, o): return ops.Add.apply(_operand(o), self)
    def __sub__(self, o): return ops.Sub.apply(self, _operand(o))
    def __rsub__(self, o): return ops.Sub.apply(_operand(o), self)
    def __mul__(self, o): return ops.Mul.apply(self, _operand(o))
    def __rmul__(self, o): return ops.Mul.apply(_operand(o), self)
    def __truediv__(self, o): return ops.Div.apply(self, _operand(o))
    def __rtruediv__(self, o): return ops.Div.apply(_operand(o), self)
    def __pow__(self, o): return ops.Pow.apply(self, _operand(o))
    def __rpow__(self, o): return ops.Pow.apply(_operand(o), self)
    def __matmul__(self, o): return ops.MatMul.apply(self, _as_tensor(o))
    def __rmatmul__(self, o): return ops.MatMul.apply(_as_tensor(o), self)
    def __neg__(self): return ops.Neg.apply(self)
    def __pos__(self): return self

    def __lt__(self, o): return Tensor(self.data < _raw(o))
    def __le__(self, o): return Tensor(self.data <= _raw(o))
    def __gt__(self, o): return Tensor(self.data > _raw(o))
    def __ge__(self, o): return Tensor(self.data >= _raw(o))

    # ------------------------------------------------------------ elementwise
    def exp(self): return ops.Exp.apply(self)
    def log(self): return ops.Log.apply(self)
    def sqrt(self): return ops.Sqrt.apply(self)
    def abs(self): return ops.Abs.apply(self)
    def relu(self): return ops.ReLU.apply(self)
    def sigmoid(self): return ops.Sigmoid.apply(self)
    def tanh(self): return ops.Tanh.apply(self)
    def clip(self, min=None, max=None): return ops.Clip.apply(self, lo=min, hi=max)  # noqa: A002
    def softmax(self, axis=-1): return ops.Softmax.apply(self, axis=axis)
    def log_softmax(self, axis=-1): return ops.LogSoftmax.apply(self, axis=axis)

    # ------------------------------------------------------------ reductions
    def sum(self, axis=None, keepdims=False):
        return ops.Sum.apply(self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims=False):
        return ops.Mean.apply(self, axis=axis, keepdims=keepdims)

    def max(self, axis=None, keepdims=False):
        return ops.Max.apply(self, axis=axis, keepdims=keepdims)

    # ------------------------------------------------------------ shape
    def reshape(self, *shape):
        return ops_shape.Reshape.apply(self, shape=_shape_arg(shape))

    def transpose(self, *axes):
        axes = _shape_arg(axes) or tuple(reversed(range(self.ndim)))
        return ops_shape.Permute.apply(self, axes=axes)

    def permute(self, *dims):
        return ops_shape.Permute.apply(self, axes=_shape_arg(dims))

    def flatten(self, start_dim=0, end_dim=-1):
        if self.ndim == 0:
            return self.reshape(1)
        for name, d in (("start_dim", start_dim), ("end_dim", end_dim)):
            if not -self.ndim <= d < self.ndim:
                raise ValueError(f"flatten: {name} is out of range for a tensor of rank "
                                 f"{self.ndim}. Received: {name}={d}")
        s, e = start_dim % self.ndim, end_dim % self.ndim
        if s > e:
            raise ValueError(f"flatten: start_dim must not come after end_dim. "
                             f"Received: start_dim={start_dim}, end_dim={end_dim}")
        return self.reshape(self.shape[:s] + (-1,) + self.shape[e + 1:])

    def __getitem__(self, index):
        if isinstance(index, Tensor):
            index = index.data
        elif isinstance(index, tuple):
            index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
        return ops_shape.GetItem.apply(self, index=index)


def _raw(x):
    return x.data if isinstance(x, Tensor) else x


def _operand(x):
    """Right-hand operand: Tensors stay, Python scalars stay weak (no dtype promotion)."""
    if isinstance(x, (Tensor, int, float, bool)):
        return x
    return _as_tensor(x)


def _as_tensor(x):
    return x if isinstance(x, Tensor) else tensor(x)


# ---------------------------------------------------------------- creation
def tensor(data, dtype=None, requires_grad=False):
    """A new tensor holding a copy of ``data``.

    A float ndarray keeps its dtype; Python lists and scalars become float32 unless
    ``dtype`` is given; integer and bool arrays keep theirs.
    """
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        arr = np.array(data, dtype=dtype)
    elif isinstance(data, np.ndarray):
        arr = data.copy()
    elif isinstance(data, np.generic):
        arr = np.array(data)
    else:
        arr = np.array(data, dtype=np.float32)
    return Tensor(arr, requires_grad=requires_grad)


def _filled(fill, shape, dtype, requires_grad):
    dtype = np.float32 if dtype is None else dtype
    return Tensor(np.full(_shape_arg(shape), fill, dtype=dtype), requires_grad=requires_grad)


def zeros(*shape, dtype=None, requires_grad=False):
    return _filled(0, shape, dtype, requires_grad)


def ones(*shape, dtype=None, requires_grad=False):
    return _filled(1, shape, dtype, requires_grad)


def full(shape, fill_value, dtype=None, requires_grad=False):
    return _filled(fill_value, (shape,), dtype, requires_grad)


def arange(start, stop=None, step=1, dtype=None, requires_grad=False):
    if dtype is None:
        ints = all(isinstance(v, (int, np.integer)) for v in (start, stop, step) if v is not None)
        dtype = np.int64 if ints else np.float32
    arr = np.arange(start, stop, step, dtype=dtype) if stop is not None \
        else np.arange(start, step=step, dtype=dtype)
    return Tensor(arr, requires_grad=requires_grad)


def randn(*shape, dtype=None, generator=None, requires_grad=False):
    arr = get_generator(generator).normal(_shape_arg(shape), dtype or np.float32)
    return Tensor(arr, requires_grad=requires_grad)


def rand(*shape, dtype=None, generator=None, requires_grad=False):
    arr = get_generator(generator).uniform(_shape_arg(shape), dtype or np.float32)
    return Tensor(arr, requires_grad=requires_grad)


# ---------------------------------------------------------------- function forms
def exp(t): return _as_tensor(t).exp()
def log(t): return _as_tensor(t).log()
def sqrt(t): return _as_tensor(t).sqrt()
def abs(t): return _as_tensor(t).abs()  # noqa: A001
def relu(t): return _as_tensor(t).relu()
def sigmoid(t): return _as_tensor(t).sigmoid()
def tanh(t): return _as_tensor(t).tanh()
def clip(t, min=None, max=None): return _as_tensor(t).clip(min, max)  # noqa: A002
def softmax(t, axis=-1): return _as_tensor(t).softmax(axis)
def log_softmax(t, axis=-1): return _as_tensor(t).log_softmax(axis)
def matmul(a, b): return _as_tensor(a) @ b


def maximum(a, b):
    return ops.Maximum.apply(_operand(a), _operand(b))


def concatenate(tensors, axis=0):
    return ops_shape.Concatenate.apply(*[_as_tensor(t) for t in tensors], axis=axis)


def stack(tensors, axis=0):
    return ops_shape.Stack.apply(*[_as_tensor(t) for t in tensors], axis=axis)


def where(cond, a, b):
    return ops_shape.Where.apply(_operand(a), _operand(b), cond=np.asarray(_raw(cond), bool))

