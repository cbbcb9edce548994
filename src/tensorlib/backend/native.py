"""Native kernels: Cython + OpenMP (``tensorlib._kernels.conv`` / ``pool`` / ``gemm``).

Same functions and signatures as :mod:`tensorlib.backend.numpy_ref` (see its docstring for
the layout and the meaning of ``argmax``), plus ``conv2d_backward_weight_bias`` (kernel
and bias gradients in one pass). Callers have validated shapes, and ``geometry`` bounds
every size before anything is allocated (see backend/_shapes.py); this module only makes
operands C-contiguous, allocates outputs, picks a kernel per shape and passes
``nthreads=tensorlib._threads.get_num_threads()``.

Kernel choice per shape, from timing every variant (float32, 1 thread, ms, min of 15
interleaved runs on the 2-core EPYC VM; "direct" = implicit-GEMM register tiles,
"gemm" = im2col + GEMM; input gradient: gather (stride 1) / scatter):

    N   HxWxCin->Cout  k s pad    forward         weight grad     input grad
                                  direct  gemm    direct  gemm    gather  scatter
    64  28x28x1->32    3 1 valid    1.39  2.29      1.34  2.02      6.94  6.96
    64  13x13x32->64   3 1 valid    4.46  5.67      4.56  4.76      6.02  5.77
    64  5x5x64->64     3 1 valid    0.58  0.61      0.69  0.63      1.52  0.69
    32  8x8x128->128   3 1 same    11.70  9.14     14.11  9.88      9.20  8.76
    32  14x14x64->256  1 1 valid    4.17  3.20      4.98  3.58      3.36  3.60
    32  32x32x3->16    3 1 same     0.58  1.23      0.65  1.28      2.02  3.63
    64  16x16x16->8    3 1 same     1.00  1.55      0.99  1.64      0.56  1.29
    8   32x32x64->64   5 1 same    24.73 27.13     24.49 25.13     27.07 24.00
    16  16x16x256->256 3 1 same   114.23 80.04     92.66 71.46    115.72 72.00
    32  32x32x32->32   3 2 same     2.25  2.72      2.63  2.97         -  3.02
    16  56x56x64->64   3 1 same    51.64 52.83     58.83 54.72     48.17 55.48

(the seed convnet's conv2/conv3 weight-gradient rows were re-timed right after an input
gradient, as in training; the two methods are within noise there.)
"""
import numpy as np

from .. import _threads
from .._kernels import conv as _conv
from .._kernels import pool as _pool
from ._shapes import geometry

try:  # the GEMM module is optional: without it gemm() falls back to NumPy
    from .._kernels import gemm as _gemm
except ImportError:  # pragma: no cover - only while the gemm kernels are not built
    _gemm = None

__all__ = [
    "gemm", "conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight",
    "conv2d_backward_bias", "conv2d_backward_weight_bias",
    "max_pool2d_forward", "max_pool2d_backward", "avg_pool2d_forward", "avg_pool2d_backward",
]

# Every variant of each conv kernel (the tests run them all); _pick_* choose per shape.
FORWARD_KERNELS = (_conv.conv2d_forward_direct, _conv.conv2d_forward_gemm)
INPUT_GRAD_KERNELS = (_conv.conv2d_backward_input_scatter, _conv.conv2d_backward_input_direct)
WEIGHT_GRAD_KERNELS = (_conv.conv2d_backward_weight_direct, _conv.conv2d_backward_weight_gemm)

# The rules below come from timing every variant on a spread of shapes (1 thread, float32,
# bench/bench_conv.py and the seed convnet); see the module docstring.


def _pointwise(g):
    return g.kh == g.kw == g.sh == g.sw == 1 and not g.padded


def _pick_forward(g, cin, cout):
    # im2col + GEMM only wins for 1x1 convolutions (no im2col at all) and wide inputs.
    if _pointwise(g) or cin >= 128:
        return _conv.conv2d_forward_gemm
    return _conv.conv2d_forward_direct


def _pick_input_grad(g, cin, cout):
    # The gather form (stride 1) computes all H*W gx pixels over kh*kw*cout products, so
    # it wastes the zero border of "valid" convs on small images and slows down past
    # ~1K products per pixel; its tiles use cin lanes better than the scatter form's.
    if g.sh == g.sw == 1 and (cin < 16 or (g.OH * g.OW >= 0.9 * g.H * g.W
                                          and g.kh * g.kw * cout <= 1024)):
        return _conv.conv2d_backward_input_direct
    return _conv.conv2d_backward_input_scatter


def _pick_weight_grad(g, cin, cout):
    # Direct accumulation wins while kh*kw*cin is small (first layers); GEMM beyond.
    if g.kh * g.kw * cin <= 320:
        return _conv.conv2d_backward_weight_direct
    return _conv.conv2d_backward_weight_gemm


def _nt():
    return _threads.get_num_threads()


def _c(a, dtype=None):
    """C-contiguous and writable (Cython memoryviews refuse read-only broadcast views)."""
    a = np.ascontiguousarray(a, dtype=dtype)
    return a if a.flags.writeable else a.copy()


def gemm(a, b, trans_a=False, trans_b=False):
    """``op(a) @ op(b)`` with ``op`` the identity or the transpose."""
    if _gemm is None or a.dtype != b.dtype or a.dtype not in (np.float32, np.float64):
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
    _pick_forward(g, cin, cout)(x, w, b, y, *_conv_args(g), relu=relu, nthreads=_nt())
    return y


def conv2d_backward_input(gy, w, x_shape, strides, padding, dilation):
    """Gradient of the convolution with respect to its input."""
    kh, kw, cin, cout = w.shape
    g = geometry(x_shape, (kh, kw), strides, padding, dilation, out_channels=cout)
    gy = _c(gy)
    gx = np.empty(tuple(int(v) for v in x_shape), dtype=gy.dtype)
    _pick_input_grad(g, cin, cout)(gy, _c(w, gy.dtype), gx, *_conv_args(g), nthreads=_nt())
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
    _pick_weight_grad(g, cin, cout)(x, _c(gy, x.dtype), gw, gb, *_conv_args(g), nthreads=_nt())
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
