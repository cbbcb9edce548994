"""Native kernels: Cython + OpenMP (``tensorlib._kernels.conv`` / ``pool`` / ``gemm`` /
``elementwise`` / ``optim``).

The only module above ``tensorlib._kernels`` that imports it (the ``numpy`` backend must
run without the compiled extension).

Same functions and signatures as :mod:`tensorlib.backend.numpy_ref` (see its docstring for
the layout and the meaning of ``argmax``), plus ``conv2d_backward_weight_bias`` (kernel
and bias gradients in one pass). Callers have validated shapes, and ``geometry`` bounds
every size before anything is allocated (see backend/_shapes.py); this module only makes
operands C-contiguous, allocates outputs, picks a kernel per shape and passes
``nthreads=tensorlib._threads.get_num_threads()``.

The conv kernel variant for each problem (direct register tiles, im2col + GEMM, or for
the input gradient the gather / scatter forms) comes from measured data: see
backend/_conv_choice.py and bench/tune_conv.py, which wrote conv_choices.json.
"""
import contextlib

import numpy as np

from .. import _threads
from .._kernels import conv as _conv
from .._kernels import elementwise as _ew
from .._kernels import gemm as _gemm
from .._kernels import memory as _memory
from .._kernels import optim as _optim
from .._kernels import pool as _pool
from . import numpy_ref
from ._conv_choice import choose
from ._shapes import geometry

__all__ = [
    "gemm", "conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight",
    "conv2d_backward_bias", "conv2d_backward_weight_bias",
    "max_pool2d_forward", "max_pool2d_backward", "avg_pool2d_forward", "avg_pool2d_backward",
    "relu_forward", "relu_backward", "sgd_update", "rmsprop_update", "adam_update",
    "memory_scope",
]

# Every variant of each conv kernel, by the names of conv_choices.json (tests run them all).
FORWARD = {"direct": _conv.conv2d_forward_direct, "gemm": _conv.conv2d_forward_gemm}
INPUT_GRAD = {"direct": _conv.conv2d_backward_input_direct,
              "scatter": _conv.conv2d_backward_input_scatter}
WEIGHT_GRAD = {"direct": _conv.conv2d_backward_weight_direct,
               "gemm": _conv.conv2d_backward_weight_gemm}
FORWARD_KERNELS = tuple(FORWARD.values())
INPUT_GRAD_KERNELS = tuple(INPUT_GRAD.values())
WEIGHT_GRAD_KERNELS = tuple(WEIGHT_GRAD.values())
_LEVELS = ("ref", "avx2", "avx512")


def _pick(variants, pass_name, g, cin, cout, dtype):
    """The measured-fastest variant at the active SIMD level and thread count (float64
    runs the portable tiles: it takes the 'ref' rows)."""
    level = _LEVELS[_conv.tile_info()["level"]] if dtype == np.float32 else "ref"
    return variants[choose(pass_name, level, _nt(), g, cin, cout)]


def _nt():
    return _threads.get_num_threads()


def _c(a, dtype=None):
    """C-contiguous and writable (Cython memoryviews refuse read-only broadcast views)."""
    a = np.ascontiguousarray(a, dtype=dtype)
    return a if a.flags.writeable else a.copy()


def gemm(a, b, trans_a=False, trans_b=False):
    """``op(a) @ op(b)`` with ``op`` the identity or the transpose."""
    if a.dtype != b.dtype or a.dtype not in (np.float32, np.float64):
        return np.matmul(a.T if trans_a else a, b.T if trans_b else b)
    f = _gemm.sgemm if a.dtype == np.float32 else _gemm.dgemm
    return f(a, b, trans_a=trans_a, trans_b=trans_b, nthreads=_nt())


def _conv_args(g):
    return (g.sh, g.sw), (g.dh, g.dw), (g.pt, g.pl)


def conv2d_forward(x, w, b, strides, padding, dilation, relu=False):
    """NHWC convolution ``y = conv(x, w) + b``, with ReLU fused when ``relu``."""
    kh, kw, cin, cout = w.shape
    g = geometry(x.shape, (kh, kw), strides, padding, dilation, out_channels=cout)
    x = _c(x)
    w = _c(w, x.dtype)
    b = None if b is None else _c(b, x.dtype)
    y = np.empty((g.N, g.OH, g.OW, cout), dtype=x.dtype)
    _pick(FORWARD, "forward", g, cin, cout, x.dtype)(x, w, b, y, *_conv_args(g), relu=relu,
                                                    nthreads=_nt())
    return y


def conv2d_backward_input(gy, w, x_shape, strides, padding, dilation):
    """Gradient of the convolution with respect to its input."""
    kh, kw, cin, cout = w.shape
    g = geometry(x_shape, (kh, kw), strides, padding, dilation, out_channels=cout)
    gy = _c(gy)
    gx = np.empty(tuple(int(v) for v in x_shape), dtype=gy.dtype)
    _pick(INPUT_GRAD, "input_grad", g, cin, cout, gy.dtype)(gy, _c(w, gy.dtype), gx,
                                                          *_conv_args(g), nthreads=_nt())
    return gx


def conv2d_backward_weight(gy, x, w_shape, strides, padding, dilation):
    """Gradient of the convolution with respect to its kernel."""
    return _weight_grad(gy, x, w_shape, strides, padding, dilation, False)


def conv2d_backward_weight_bias(gy, x, w_shape, strides, padding, dilation):
    """``(gw, gb)``: kernel and bias gradients in one pass over ``gy``."""
    return _weight_grad(gy, x, w_shape, strides, padding, dilation, True)


def _weight_grad(gy, x, w_shape, strides, padding, dilation, with_bias):
    kh, kw, cin, cout = (int(v) for v in w_shape)
    g = geometry(x.shape, (kh, kw), strides, padding, dilation, out_channels=cout)
    x = _c(x)
    gw = np.empty((kh, kw, cin, cout), dtype=x.dtype)
    gb = np.empty(cout, dtype=x.dtype) if with_bias else None
    _pick(WEIGHT_GRAD, "weight_grad", g, cin, cout, x.dtype)(x, _c(gy, x.dtype), gw, gb,
                                                           *_conv_args(g), nthreads=_nt())
    return (gw, gb) if with_bias else gw


def conv2d_backward_bias(gy):
    """Gradient of the convolution with respect to its bias (``gy`` summed over N, H, W)."""
    gy = _c(gy)
    gb = np.empty(gy.shape[-1], dtype=gy.dtype)
    _conv.conv2d_backward_bias(gy.reshape(-1, gy.shape[-1]), gb, nthreads=_nt())
    return gb


def _pool_args(g):
    return g.kh, g.kw, g.sh, g.sw, g.pt, g.pl


def max_pool2d_forward(x, pool_size, strides, padding):
    """``(y, argmax)`` of 2-D max pooling (``argmax``: int32 index ``h * W + w``)."""
    g = geometry(x.shape, pool_size, strides, padding, op="max_pool2d")
    x = _c(x)
    y = np.empty((g.N, g.OH, g.OW, g.C), dtype=x.dtype)
    argmax = np.empty(y.shape, dtype=np.int32)
    _pool.max_pool2d_forward(x, y, argmax, *_pool_args(g), nthreads=_nt())
    return y, argmax


def max_pool2d_backward(gy, argmax, x_shape, pool_size, strides, padding):
    """Each output gradient added to its argmax element (windows may overlap)."""
    g = geometry(x_shape, pool_size, strides, padding, op="max_pool2d")
    gy = _c(gy)
    gx = np.empty((g.N, g.H, g.W, g.C), dtype=gy.dtype)
    _pool.max_pool2d_backward(gy, _c(argmax, np.int32), gx, nthreads=_nt())
    return gx


def avg_pool2d_forward(x, pool_size, strides, padding):
    """2-D average pooling over the in-bounds elements of each window."""
    g = geometry(x.shape, pool_size, strides, padding, op="avg_pool2d")
    x = _c(x)
    y = np.empty((g.N, g.OH, g.OW, g.C), dtype=x.dtype)
    _pool.avg_pool2d_forward(x, y, *_pool_args(g), nthreads=_nt())
    return y


def avg_pool2d_backward(gy, x_shape, pool_size, strides, padding):
    """Gradient of :func:`avg_pool2d_forward`."""
    g = geometry(x_shape, pool_size, strides, padding, op="avg_pool2d")
    gy = _c(gy)
    gx = np.empty((g.N, g.H, g.W, g.C), dtype=gy.dtype)
    _pool.avg_pool2d_backward(gy, gx, *_pool_args(g), nthreads=_nt())
    return gx


def relu_forward(x):
    """``y = 0 if x < 0 else x`` (keeps NaN and -0.0), a new array of ``x``'s shape;
    ``x`` is float32 or float64."""
    x = np.asarray(x, order="C")       # (ascontiguousarray would make 0-d 1-d)
    y = np.empty_like(x)
    _ew.relu_forward(x.reshape(-1), y.reshape(-1), _nt())
    return y


def relu_backward(y, grad):
    """``grad`` masked to 0 where the ReLU output ``y <= 0`` (passes where ``y`` is NaN),
    in ``y``'s dtype (float32 or float64)."""
    y = np.asarray(y, order="C")
    gx = np.empty_like(y)
    _ew.relu_backward(y.reshape(-1), np.asarray(grad, y.dtype, order="C").reshape(-1),
                      gx.reshape(-1), _nt())
    return gx


# ------------------------------------------------------------------- optimizers --
# One kernel call updates every variable. The kernel checks all arrays before it writes
# anything, so when it refuses one (not C-contiguous, read-only...) the step is split: the
# variables it takes go to the kernel, the others to the NumPy reference (same bits).

def _fusable(a, dtype):
    return a.dtype == dtype and a.flags.c_contiguous and a.flags.writeable


def _fused_update(kernel, reference, lists, scalars):
    """Run ``kernel(*lists, *scalars)`` (lists: variables, gradients, slot lists or None)
    on as many variables as it takes and ``reference`` on the rest."""
    variables = lists[0]
    dtype = variables[0].dtype if len(variables) else None
    if dtype not in (np.float32, np.float64):
        return reference(*lists, *scalars)
    lists = (list(variables), [np.asarray(g, dtype, order="C") for g in lists[1]]) + tuple(
        None if s is None else list(s) for s in lists[2:])
    args = [float(v) for v in scalars]
    try:
        return kernel(*lists, *args, nthreads=_nt())
    except ValueError as e:
        error = e
    slots = lists[2:]
    fast = [j for j, w in enumerate(lists[0]) if _fusable(w, dtype)
            and all(s is None or _fusable(s[j], dtype) for s in slots)]
    slow = sorted(set(range(len(variables))) - set(fast))
    if not slow:
        raise error     # not a layout problem (a shape, a thread count...): report it

    def pick(idx):
        return tuple(None if a is None else [a[j] for j in idx] for a in lists)
    if fast:
        kernel(*pick(fast), *args, nthreads=_nt())
    reference(*pick(slow), *scalars)


def sgd_update(variables, grads, momentums, learning_rate, momentum, nesterov):
    """See :func:`tensorlib.backend.numpy_ref.sgd_update`."""
    _fused_update(_optim.sgd_update, numpy_ref.sgd_update, (variables, grads, momentums),
                  (learning_rate, momentum, nesterov))


def rmsprop_update(variables, grads, velocities, average_gradients, momentums,
                   learning_rate, rho, one_minus_rho, momentum, epsilon):
    """See :func:`tensorlib.backend.numpy_ref.rmsprop_update`."""
    _fused_update(_optim.rmsprop_update, numpy_ref.rmsprop_update,
                  (variables, grads, velocities, average_gradients, momentums),
                  (learning_rate, rho, one_minus_rho, momentum, epsilon))


def adam_update(variables, grads, momentums, velocities, velocity_hats, alpha,
                one_minus_beta_1, one_minus_beta_2, epsilon):
    """See :func:`tensorlib.backend.numpy_ref.adam_update`."""
    _fused_update(_optim.adam_update, numpy_ref.adam_update,
                  (variables, grads, momentums, velocities, velocity_hats),
                  (alpha, one_minus_beta_1, one_minus_beta_2, epsilon))


@contextlib.contextmanager
def memory_scope():
    """NumPy arrays allocated inside reuse the large blocks freed inside (a caching
    allocator, _kernels/memory.pyx): a training or predict loop's per-step temporaries
    stop going back to the system and being faulted in again. Nested scopes share one
    cache, freed when the outermost closes; arrays made inside stay valid after it."""
    token = _memory.enter()
    try:
        yield
    finally:
        _memory.leave(token)
