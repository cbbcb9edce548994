"""The Tensor: a NumPy array plus the graph edge that produced it.

Arithmetic and every differentiable method build a ``Function`` (``ops``/``ops_shape``);
``backward`` hands off to the one engine in ``autograd``. dtype rules: a float ndarray
keeps its dtype, Python data becomes float32; mixed operands are promoted the NumPy way
(float32 with float64 gives float64, Python scalars do not promote).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional, Sequence, Union

import numpy as np

from . import ops, ops_shape
from .autograd import register_tensor_class, run_backward
from .random import get_generator

if TYPE_CHECKING:    # names for the annotations only (PEP 563: never evaluated at run time)
    from numpy.typing import ArrayLike, DTypeLike

    from .autograd import Function
    from .random import Generator

    Operand = Union["Tensor", ArrayLike]           # what arithmetic and the ops accept
    ShapeArg = Union[int, Sequence[int]]           # zeros(2, 3) or zeros((2, 3))
    Axis = Union[int, tuple[int, ...], None]
    DTypeArg = Optional[DTypeLike]                 # None: the function's default dtype

float32, float64, int32, int64, bool_ = np.float32, np.float64, np.int32, np.int64, np.bool_


def _shape_arg(shape: tuple[Any, ...]) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def _is_int(v):
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


MAX_BYTES = 2**62       # no array this large can be allocated (NumPy's own limit is 2**63)


def _new_shape(op, shape, allow_minus_one=False, itemsize=1):
    """A shape argument checked: ints >= 0 (one -1 when reshaping), a representable size."""
    if not all(_is_int(d) and (d >= 0 or (allow_minus_one and d == -1)) for d in shape):
        raise ValueError(f"{op}: a shape must be non-negative integers"
                         f"{' (or one -1)' if allow_minus_one else ''}. "
                         f"Received: shape={shape!r}")
    size = 1
    for d in shape:
        size *= max(int(d), 1)
    if size * itemsize > MAX_BYTES:
        raise ValueError(f"{op}: the shape has too many elements ({size}) to allocate. "
                         f"Received: shape={shape!r}")
    return tuple(int(d) for d in shape)


def _dtype_arg(op, dtype, default=None):
    """``dtype`` as a numeric NumPy dtype (``default`` when None)."""
    if dtype is None:
        return default
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{op}: not a data type. Received: dtype={dtype!r}") from None
    if dt.kind not in "biufc":
        raise TypeError(f"{op}: the dtype must be numeric. Received: dtype={dtype!r}")
    return dt


class Tensor:
    __array_ufunc__ = None      # ndarray <op> Tensor defers to Tensor's reflected operator
    __array_priority__ = 1000
    _softmax_of = None          # (input, axis) when made by softmax (see Tensor.softmax)

    def __init__(self, data: ArrayLike, requires_grad: bool = False) -> None:
        self.data: np.ndarray = data if isinstance(data, np.ndarray) else np.asarray(data)
        if self.data.dtype.kind not in "biufc":
            raise TypeError("Tensor: data must be numeric (bool, integer, float or complex). "
                            f"Received: dtype={self.data.dtype}")
        self.grad: Optional[Tensor] = None
        self._ctx: Optional[Function] = None
        self.requires_grad: bool = False
        if requires_grad:
            self.requires_grad_(True)

    # ------------------------------------------------------------ properties
    shape = property(lambda self: self.data.shape)
    dtype = property(lambda self: self.data.dtype)
    ndim = property(lambda self: self.data.ndim)
    size = property(lambda self: self.data.size)
    T = property(lambda self: self.transpose())
    is_leaf = property(lambda self: self._ctx is None)

    def requires_grad_(self, flag: bool = True) -> Tensor:
        if flag and self.data.dtype.kind != "f":
            raise ValueError("Only floating-point tensors can require gradients. "
                             f"Received: dtype={self.data.dtype}")
        self.requires_grad = bool(flag)
        return self

    def numpy(self) -> np.ndarray:
        return self.data

    def __array__(self, dtype: DTypeArg = None, copy: Optional[bool] = None) -> np.ndarray:
        arr = self.data if dtype is None else self.data.astype(dtype, copy=False)
        return arr.copy() if copy and arr is self.data else arr

    def item(self) -> Any:
        if self.data.size != 1:
            raise ValueError("item() needs a tensor with exactly one element. "
                             f"Received: shape {self.shape}")
        return self.data.item()

    def tolist(self) -> Any:
        return self.data.tolist()

    def detach(self) -> Tensor:
        return Tensor(self.data)

    def astype(self, dtype: DTypeLike) -> Tensor:
        """A copy converted to ``dtype``. Only a float result stays in the graph: casting
        to an integer or bool type cuts it (as in PyTorch), so no gradient flows back."""
        if dtype is None:
            raise TypeError("astype: not a data type. Received: dtype=None")
        dtype = _dtype_arg("astype", dtype)
        if dtype.kind != "f":  # type: ignore[union-attr]  # _dtype_arg gave an np.dtype
            return Tensor(self.data.astype(dtype))
        return ops.Cast.apply(self, dtype=dtype)

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise ValueError("The truth value of a tensor with more than one element is "
                             f"ambiguous. Received: shape {self.shape}")
        return bool(self.data.reshape(()))

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        extras = ""
        if self.dtype != np.float32:
            extras += f", dtype={self.dtype}"
        if self.requires_grad:
            extras += ", requires_grad=True"
        return f"tensor({body}{extras})"

    # ------------------------------------------------------------ autograd
    def backward(self, grad: Optional[Operand] = None, retain_graph: bool = False) -> None:
        if not self.requires_grad:
            raise RuntimeError("backward() called on a tensor that does not require grad "
                               "(requires_grad=False and no grad_fn).")
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs: "
                                   f"pass a gradient to backward(). Received: shape {self.shape}")
            grad = np.ones_like(self.data)
        else:
            try:
                grad = np.asarray(grad.data if isinstance(grad, Tensor) else grad, self.dtype)
            except (TypeError, ValueError) as e:
                raise TypeError(f"backward: the gradient must be numeric ({e}). Received: "
                                f"grad={_short_repr(grad)}") from None
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

    def zero_grad(self) -> None:
        self.grad = None

    # ------------------------------------------------------------ arithmetic
    def __add__(self, o: Operand) -> Tensor: return ops.Add.apply(self, _operand(o))
    def __radd__(self, o: Operand) -> Tensor: return ops.Add.apply(_operand(o), self)
    def __sub__(self, o: Operand) -> Tensor: return ops.Sub.apply(self, _operand(o))
    def __rsub__(self, o: Operand) -> Tensor: return ops.Sub.apply(_operand(o), self)
    def __mul__(self, o: Operand) -> Tensor: return ops.Mul.apply(self, _operand(o))
    def __rmul__(self, o: Operand) -> Tensor: return ops.Mul.apply(_operand(o), self)
    def __truediv__(self, o: Operand) -> Tensor: return ops.Div.apply(self, _operand(o))
    def __rtruediv__(self, o: Operand) -> Tensor: return ops.Div.apply(_operand(o), self)
    def __pow__(self, o: Operand) -> Tensor: return ops.Pow.apply(self, _operand(o))
    def __rpow__(self, o: Operand) -> Tensor: return ops.Pow.apply(_operand(o), self)
    def __matmul__(self, o: Operand) -> Tensor: return ops.MatMul.apply(self, _as_tensor(o))
    def __rmatmul__(self, o: Operand) -> Tensor: return ops.MatMul.apply(_as_tensor(o), self)
    def __neg__(self) -> Tensor: return ops.Neg.apply(self)
    def __pos__(self) -> Tensor: return self

    def __lt__(self, o: Operand) -> Tensor: return _compare("lt", np.less, self, o)
    def __le__(self, o: Operand) -> Tensor: return _compare("le", np.less_equal, self, o)
    def __gt__(self, o: Operand) -> Tensor: return _compare("gt", np.greater, self, o)
    def __ge__(self, o: Operand) -> Tensor: return _compare("ge", np.greater_equal, self, o)

    # ``==`` and ``!=`` compare elementwise, as in Keras and PyTorch (a Tensor is still
    # hashed by identity: it can key dicts and sets).
    def __eq__(self, o: object) -> Tensor:  # type: ignore[override]
        if o is None or isinstance(o, (str, bytes)):
            return NotImplemented       # Python's identity answer (False), as NumPy's
        return _compare("eq", np.equal, self, o)

    def __ne__(self, o: object) -> Tensor:  # type: ignore[override]
        if o is None or isinstance(o, (str, bytes)):
            return NotImplemented
        return _compare("ne", np.not_equal, self, o)

    __hash__ = object.__hash__

    # ------------------------------------------------------------ elementwise
    def exp(self) -> Tensor: return ops.Exp.apply(self)
    def log(self) -> Tensor: return ops.Log.apply(self)
    def sqrt(self) -> Tensor: return ops.Sqrt.apply(self)
    def abs(self) -> Tensor: return ops.Abs.apply(self)
    def relu(self) -> Tensor: return ops.ReLU.apply(self)
    def sigmoid(self) -> Tensor: return ops.Sigmoid.apply(self)
    def tanh(self) -> Tensor: return ops.Tanh.apply(self)
    def clip(self, min: Optional[float] = None,  # noqa: A002
             max: Optional[float] = None) -> Tensor:
        for name, v in (("min", min), ("max", max)):
            if v is not None and not isinstance(v, (int, float, np.integer, np.floating)):
                raise TypeError(f"clip: {name} must be a number or None. Received: "
                                f"{name}={_short_repr(v)}")
        return ops.Clip.apply(self, lo=min, hi=max)
    def softmax(self, axis: int = -1) -> Tensor:
        out = ops.Softmax.apply(self, axis=axis)
        # What a cross-entropy on `out` may use instead (Keras's `_keras_logits`): the
        # softmax's input and axis, so the loss runs the fused log-softmax kernel on it.
        out._softmax_of = (self, axis)
        return out
    def log_softmax(self, axis: int = -1) -> Tensor: return ops.LogSoftmax.apply(self, axis=axis)

    # ------------------------------------------------------------ reductions
    def sum(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return ops.Sum.apply(self, axis=axis, keepdims=keepdims)

    def mean(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return ops.Mean.apply(self, axis=axis, keepdims=keepdims)

    def max(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return ops.Max.apply(self, axis=axis, keepdims=keepdims)

    # ------------------------------------------------------------ shape
    def reshape(self, *shape: ShapeArg) -> Tensor:
        shape = _new_shape("reshape", _shape_arg(shape), allow_minus_one=True)
        return ops_shape.Reshape.apply(self, shape=shape)

    def transpose(self, *axes: ShapeArg) -> Tensor:
        axes = _shape_arg(axes) or tuple(reversed(range(self.ndim)))
        return self.permute(axes)  # type: ignore[arg-type]  # a tuple of ints by now

    def permute(self, *dims: ShapeArg) -> Tensor:
        axes = _shape_arg(dims)
        if not all(_is_int(a) for a in axes):
            raise TypeError(f"permute: axes must be integers. Received: axes={axes!r}")
        return ops_shape.Permute.apply(self, axes=axes)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        if self.ndim == 0:
            return self.reshape(1)
        for name, d in (("start_dim", start_dim), ("end_dim", end_dim)):
            if not _is_int(d) or not -self.ndim <= d < self.ndim:
                raise ValueError(f"flatten: {name} is out of range for a tensor of rank "
                                 f"{self.ndim}. Received: {name}={d}")
        s, e = start_dim % self.ndim, end_dim % self.ndim
        if s > e:
            raise ValueError(f"flatten: start_dim must not come after end_dim. "
                             f"Received: start_dim={start_dim}, end_dim={end_dim}")
        return self.reshape(self.shape[:s] + (-1,) + self.shape[e + 1:])

    def __getitem__(self, index: Any) -> Tensor:
        if isinstance(index, Tensor):
            index = index.data
        elif isinstance(index, tuple):
            index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
        return ops_shape.GetItem.apply(self, index=index)


register_tensor_class(Tensor)


def _raw(x):
    return x.data if isinstance(x, Tensor) else x


def _compare(op, fn, a, b):
    other = _raw(b)
    if other is None or isinstance(other, (str, bytes)):
        raise TypeError(f"{op}: cannot compare a tensor with {type(other).__name__}. "
                        f"Received: {_short_repr(other)}")
    try:
        return Tensor(fn(a.data, other))
    except (TypeError, ValueError) as e:
        try:
            got = f"shapes {a.shape} and {np.shape(other)}"
        except ValueError:                       # a ragged nested list has no shape
            got = f"shape {a.shape} and {_short_repr(other)}"
        raise TypeError(f"{op}: {str(e).rstrip('.')}. Received: {got}") from None


def _operand(x):
    """Right-hand operand: Tensors stay, Python scalars stay weak (no dtype promotion)."""
    if isinstance(x, (Tensor, int, float, bool)):
        return x
    return _as_tensor(x)


def _as_tensor(x):
    return x if isinstance(x, Tensor) else tensor(x)


# ---------------------------------------------------------------- creation
def tensor(data: Any, dtype: DTypeArg = None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data``.

    A float ndarray keeps its dtype; Python lists and scalars become float32 unless
    ``dtype`` is given; integer and bool arrays keep theirs.
    """
    if isinstance(data, Tensor):
        data = data.data
    if data is None:
        raise TypeError("tensor: data must be numbers or a numeric array. Received: None")
    dtype = _dtype_arg("tensor", dtype)
    try:
        if dtype is not None:
            arr = np.array(data, dtype=dtype)
        elif isinstance(data, np.ndarray):
            arr = data.copy()
        elif isinstance(data, np.generic):
            arr = np.array(data)
        else:
            arr = np.array(data, dtype=np.float32)
    except OverflowError as e:
        raise ValueError(f"tensor: {e}. Received: {_short_repr(data)}, dtype={dtype}") \
            from None
    except (TypeError, ValueError) as e:
        raise TypeError(f"tensor: data must be numbers or a numeric array ({e}). "
                        f"Received: {_short_repr(data)}, dtype={dtype}") from None
    return Tensor(arr, requires_grad=requires_grad)


def _short_repr(x, limit=80):
    r = repr(x)
    return r if len(r) <= limit else r[:limit] + "..."


def _filled(op, fill, shape, dtype, requires_grad):
    dtype = _dtype_arg(op, dtype, np.dtype(np.float32))
    shape = _new_shape(op, _shape_arg(shape), itemsize=dtype.itemsize)
    if not isinstance(fill, (int, float, complex, np.number, np.bool_, bool)):
        raise TypeError(f"{op}: the fill value must be a number. Received: "
                        f"fill_value={_short_repr(fill)}")
    try:
        arr = np.full(shape, fill, dtype=dtype)
    except OverflowError as e:
        raise ValueError(f"{op}: {e}. Received: fill_value={fill!r}, dtype={dtype}") from None
    return Tensor(arr, requires_grad=requires_grad)


def zeros(*shape: ShapeArg, dtype: DTypeArg = None, requires_grad: bool = False) -> Tensor:
    return _filled("zeros", 0, shape, dtype, requires_grad)


def ones(*shape: ShapeArg, dtype: DTypeArg = None, requires_grad: bool = False) -> Tensor:
    return _filled("ones", 1, shape, dtype, requires_grad)


def full(shape: ShapeArg, fill_value: Union[complex, np.generic], dtype: DTypeArg = None,
         requires_grad: bool = False) -> Tensor:
    return _filled("full", fill_value, (shape,), dtype, requires_grad)


def arange(start: float, stop: Optional[float] = None, step: float = 1,
           dtype: DTypeArg = None, requires_grad: bool = False) -> Tensor:
    for name, v in (("start", start), ("stop", stop), ("step", step)):
        if v is None and name == "stop":
            continue
        if v is None or isinstance(v, (bool, np.bool_)) or not isinstance(
                v, (int, float, np.integer, np.floating)) or not np.isfinite(v):
            raise ValueError(f"arange: {name} must be a finite number. Received: "
                             f"{name}={v!r}")
    if step == 0:
        raise ValueError("arange: step must not be zero. Received: step=0")
    dtype = _dtype_arg("arange", dtype)
    if dtype is None:
        ints = all(isinstance(v, (int, np.integer)) for v in (start, stop, step) if v is not None)
        dtype = np.int64 if ints else np.float32
    arr = np.arange(start, stop, step, dtype=dtype) if stop is not None \
        else np.arange(start, step=step, dtype=dtype)
    return Tensor(arr, requires_grad=requires_grad)


def _random(op, draw, shape, dtype, generator, requires_grad):
    dtype = _dtype_arg(op, dtype, np.dtype(np.float32))
    shape = _new_shape(op, _shape_arg(shape), itemsize=dtype.itemsize)
    if dtype.kind != "f":
        raise TypeError(f"{op}: the dtype must be a floating-point type. Received: "
                        f"dtype={dtype}")
    arr = getattr(get_generator(generator), draw)(shape, dtype)
    return Tensor(arr, requires_grad=requires_grad)


def randn(*shape: ShapeArg, dtype: DTypeArg = None, generator: Optional[Generator] = None,
          requires_grad: bool = False) -> Tensor:
    return _random("randn", "normal", shape, dtype, generator, requires_grad)


def rand(*shape: ShapeArg, dtype: DTypeArg = None, generator: Optional[Generator] = None,
         requires_grad: bool = False) -> Tensor:
    return _random("rand", "uniform", shape, dtype, generator, requires_grad)


# ---------------------------------------------------------------- function forms
def exp(t: Operand) -> Tensor: return _as_tensor(t).exp()
def log(t: Operand) -> Tensor: return _as_tensor(t).log()
def sqrt(t: Operand) -> Tensor: return _as_tensor(t).sqrt()
def abs(t: Operand) -> Tensor: return _as_tensor(t).abs()  # noqa: A001
def relu(t: Operand) -> Tensor: return _as_tensor(t).relu()
def sigmoid(t: Operand) -> Tensor: return _as_tensor(t).sigmoid()
def tanh(t: Operand) -> Tensor: return _as_tensor(t).tanh()
def clip(t: Operand, min: Optional[float] = None,  # noqa: A002
         max: Optional[float] = None) -> Tensor:
    return _as_tensor(t).clip(min, max)
def softmax(t: Operand, axis: int = -1) -> Tensor: return _as_tensor(t).softmax(axis)
def log_softmax(t: Operand, axis: int = -1) -> Tensor: return _as_tensor(t).log_softmax(axis)
def matmul(a: Operand, b: Operand) -> Tensor: return _as_tensor(a) @ b


def maximum(a: Operand, b: Operand) -> Tensor:
    return ops.Maximum.apply(_operand(a), _operand(b))


def _join_args(op, tensors, axis, extra):
    """The tensors of a concatenate/stack and the axis, checked (``extra`` = 1 for stack)."""
    if isinstance(tensors, (Tensor, np.ndarray, str, bytes)) or not hasattr(tensors, "__iter__"):
        raise TypeError(f"{op}: expects a sequence of tensors. Received: "
                        f"{type(tensors).__name__}")
    tensors = [_as_tensor(t) for t in tensors]
    if not tensors:
        raise ValueError(f"{op}: needs at least one tensor. Received: an empty sequence")
    ndim = tensors[0].ndim + extra
    if not _is_int(axis):
        raise TypeError(f"{op}: axis must be an int. Received: axis={axis!r}")
    if not -ndim <= axis < ndim or ndim == 0:
        raise ValueError(f"{op}: axis {axis} is out of bounds for rank {ndim}. "
                         f"Received: axis={axis!r}")
    return tensors, int(axis) % ndim


def concatenate(tensors: Sequence[Operand], axis: int = 0) -> Tensor:
    tensors, axis = _join_args("concatenate", tensors, axis, 0)
    return ops_shape.Concatenate.apply(*tensors, axis=axis)


def stack(tensors: Sequence[Operand], axis: int = 0) -> Tensor:
    tensors, axis = _join_args("stack", tensors, axis, 1)
    return ops_shape.Stack.apply(*tensors, axis=axis)


def where(cond: Operand, a: Operand, b: Operand) -> Tensor:
    return ops_shape.Where.apply(_operand(a), _operand(b), cond=np.asarray(_raw(cond), bool))

