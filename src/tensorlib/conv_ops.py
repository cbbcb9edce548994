"""Differentiable ops of the convolution family beyond conv2d (NWC / NHWC, Keras layouts).

* ``conv1d``, ``max_pool1d``, ``avg_pool1d``: the 2-D ops of :mod:`tensorlib.functional`
  on ``(N, 1, W, C)`` views with ``(1, k)`` windows, so they run the same kernels;
  ``"causal"`` padding is ``dilation * (k - 1)`` zeros on the left, then ``"valid"``.
* ``conv2d_transpose``: the input gradient of a conv2d, whose kernel layout
  ``(kh, kw, filters, in)`` is Keras's conv-transpose layout. The backend computes the
  "full" output ``(H - 1) * s + e`` (``e`` the dilated kernel extent, "valid" geometry);
  Keras's padding rules then keep a window of it (cropped on the left, zeros appended on
  the right where the requested size is larger). Its backward is a conv2d forward (input
  gradient) and a conv2d weight gradient, on the zero-extended output gradient.
* ``depthwise_conv2d``: a per-channel conv in NumPy, one vectorised step per kernel tap
  (kernel ``(kh, kw, C, m)``; output channel ``c * m + k`` as in Keras).

Arguments are checked here (a ValueError naming the op, the argument and the value) before
any kernel runs; forward and backward of each Function sit side by side.
"""
import numpy as np

from .autograd import Function
from .backend import get_backend
from .backend._shapes import MAX_WINDOW, geometry, int_tuple, normalize_padding
from .functional import avg_pool2d, conv2d, max_pool2d
from .tensor import Tensor, _as_tensor, concatenate


# ---------------------------------------------------------------- argument checks
def _ints(op, name, value, n, lo=1):
    return int_tuple(op, name, value, n, lo, MAX_WINDOW)


def _check_float(op, name, t, ndim):
    if t.dtype not in (np.float32, np.float64):
        raise ValueError(f"{op}: {name} must be float32 or float64. Received: {name} with "
                         f"dtype={t.dtype}")
    if t.ndim != ndim:
        raise ValueError(f"{op}: {name} must have rank {ndim}. Received: {name} with "
                         f"shape {t.shape}")
    if min(t.shape) < 1:
        raise ValueError(f"{op}: {name} must not be empty. Received: {name} with shape "
                         f"{t.shape}")


def _check_common(op, x, kernel, bias, x_ndim, channels_axis, units):
    """Float input and kernel of rank ``x_ndim`` and one dtype; the kernel's ``channels_axis``
    matches the input's channels; ``bias`` is ``(units,)``."""
    _check_float(op, "input", x, x_ndim)
    _check_float(op, "kernel", kernel, x_ndim)
    dtypes = {x.dtype, kernel.dtype} | ({bias.dtype} if bias is not None else set())
    if len(dtypes) > 1:
        raise ValueError(f"{op}: all inputs must have the same dtype. Received: "
                         f"dtypes {sorted(str(d) for d in dtypes)}")
    if x.shape[-1] != kernel.shape[channels_axis]:
        raise ValueError(f"{op}: the input has {x.shape[-1]} channels but the kernel "
                         f"expects {kernel.shape[channels_axis]}. Received: input shape "
                         f"{x.shape}, kernel shape {kernel.shape}")
    if bias is not None and bias.shape != (units,):
        raise ValueError(f"{op}: bias must have shape ({units},). Received: bias shape "
                         f"{bias.shape}")


def _bias(bias):
    return None if bias is None else _as_tensor(bias)


# ---------------------------------------------------------------- 1-D: the 2-D ops, H = 1
def causal_left_pad(kernel_size, dilation_rate):
    """Zeros added before the sequence by ``padding="causal"``."""
    return dilation_rate * (kernel_size - 1)


def conv1d(x, kernel, bias=None, strides=1, padding="valid", dilation_rate=1,
           activation=None):
    """1-D convolution of NWC ``x`` with a ``(k, c_in, c_out)`` kernel (Keras layout);
    ``padding`` is "valid", "same" or "causal"; ``activation`` None or "relu" (fused)."""
    op = "conv1d"
    x, kernel, bias = _as_tensor(x), _as_tensor(kernel), _bias(bias)
    _check_common(op, x, kernel, bias, 3, 1, kernel.shape[-1])
    (s,), (d,) = _ints(op, "strides", strides, 1), _ints(op, "dilation_rate", dilation_rate, 1)
    pad = str(padding).lower()
    if pad == "causal":
        left = causal_left_pad(kernel.shape[0], d)
        if left:
            x = concatenate([Tensor(np.zeros((x.shape[0], left, x.shape[2]), x.dtype)), x], 1)
        pad = "valid"
    elif pad not in ("valid", "same"):
        raise ValueError(f'{op}: padding must be "valid", "same" or "causal". Received: '
                         f"padding={padding!r}")
    k, cin, cout = kernel.shape
    y = conv2d(x.reshape(x.shape[0], 1, x.shape[1], cin), kernel.reshape(1, k, cin, cout),
               bias, (1, s), pad, (1, d), activation)
    return y.reshape(y.shape[0], y.shape[2], cout)


def _pool1d(op, fn, x, pool_size, strides, padding):
    x = _as_tensor(x)
    _check_float(op, "input", x, 3)
    (p,) = _ints(op, "pool_size", pool_size, 1)
    (s,) = (p,) if strides is None else _ints(op, "strides", strides, 1)
    y = fn(x.reshape(x.shape[0], 1, x.shape[1], x.shape[2]), (1, p), (1, s), padding)
    return y.reshape(y.shape[0], y.shape[2], y.shape[3])


def max_pool1d(x, pool_size=2, strides=None, padding="valid"):
    """Max pooling over the steps of NWC ``x`` (``strides`` defaults to ``pool_size``)."""
    return _pool1d("max_pool1d", max_pool2d, x, pool_size, strides, padding)


def avg_pool1d(x, pool_size=2, strides=None, padding="valid"):
    """Average pooling over the steps of NWC ``x``; "same" counts only real elements."""
    return _pool1d("avg_pool1d", avg_pool2d, x, pool_size, strides, padding)


# ---------------------------------------------------------------- conv2d_transpose
def transpose_axis(n, k, s, d, padding, output_padding):
    """``(out, crop)`` of one axis of Keras's conv transpose: the output size and where
    its window starts in the full output of size ``(n - 1) * s + e`` (Keras's padding
    rules: "valid" pads ``e - 1`` on both sides of the stride-dilated input plus
    ``output_padding`` (default ``max(e, s) - e``) on the right; "same" pads
    ``s + e - 2`` in all (``e + e % 2 - 2 + output_padding`` when it is given), the
    larger half on the left but at most ``e - 1``)."""
    e = (k - 1) * d + 1
    if padding == "valid":
        extra = max(e, s) - e if output_padding is None else output_padding
        left, right = e - 1, e - 1 + extra
    else:
        total = s + e - 2 if output_padding is None else e + e % 2 - 2 + output_padding
        left = min(total // 2 + total % 2, e - 1)
        right = total - left
    return (n - 1) * s + left + right - e + 2, e - 1 - left


def _window(src, crop, out_hw):
    """``out[:, h, w] = src[:, h + ct, w + cl]``, zero outside ``src`` (``crop >= 0``)."""
    (ct, cl), (oh, ow) = crop, out_hw
    if (ct, cl) == (0, 0) and src.shape[1:3] == (oh, ow):
        return src
    out = np.zeros((src.shape[0], oh, ow, src.shape[3]), dtype=src.dtype)
    h, w = min(oh, src.shape[1] - ct), min(ow, src.shape[2] - cl)
    out[:, :h, :w] = src[:, ct:ct + h, cl:cl + w]
    return out


def _unwindow(g, crop, full_hw):
    """The adjoint of :func:`_window`: ``g`` placed into zeros of the full size."""
    (ct, cl), (fh, fw) = crop, full_hw
    if (ct, cl) == (0, 0) and g.shape[1:3] == (fh, fw):
        return g
    out = np.zeros((g.shape[0], fh, fw, g.shape[3]), dtype=g.dtype)
    h, w = min(g.shape[1], fh - ct), min(g.shape[2], fw - cl)
    out[:, ct:ct + h, cl:cl + w] = g[:, :h, :w]
    return out


class Conv2DTranspose(Function):
    def forward(self, x, w, b, strides=(1, 1), dilation=(1, 1), crop=(0, 0),
                out_hw=(1, 1)):
        kh, kw, filters, _ = w.shape
        self.full = tuple((n - 1) * s + (k - 1) * d + 1 for n, k, s, d in zip(
            x.shape[1:3], (kh, kw), strides, dilation))
        self.args = (strides, "valid", dilation)
        self.x, self.w, self.crop, self.has_bias = x, w, crop, b is not None
        full = get_backend().conv2d_backward_input(x, w, (x.shape[0],) + self.full
                                                   + (filters,), *self.args)
        y = _window(full, crop, out_hw)
        if b is not None:
            y += b
        return y

    def backward(self, g):
        be = get_backend()
        need_x, need_w, need_b = self.needs_input_grad
        g_full = _unwindow(np.ascontiguousarray(g), self.crop, self.full)
        gx = be.conv2d_forward(g_full, self.w, None, *self.args) if need_x else None
        gw = be.conv2d_backward_weight(self.x, g_full, self.w.shape, *self.args) \
            if need_w else None
        gb = g.sum(axis=(0, 1, 2)) if need_b and self.has_bias else None
        return gx, gw, gb


def conv2d_transpose(x, kernel, bias=None, strides=1, padding="valid", output_padding=None,
                     dilation_rate=1):
    """Transposed 2-D convolution of NHWC ``x`` with a ``(kh, kw, filters, c_in)`` kernel
    (Keras's layout and output sizes, :func:`transpose_axis`)."""
    op = "conv2d_transpose"
    x, kernel, bias = _as_tensor(x), _as_tensor(kernel), _bias(bias)
    _check_common(op, x, kernel, bias, 4, 3, kernel.shape[2])
    strides = _ints(op, "strides", strides, 2)
    dilation = _ints(op, "dilation_rate", dilation_rate, 2)
    padding = normalize_padding(padding)
    if output_padding is not None:
        output_padding = _ints(op, "output_padding", output_padding, 2, lo=0)
        if any(p >= s for p, s in zip(output_padding, strides)):
            raise ValueError(f"{op}: output_padding must be less than strides on each "
                             f"axis. Received: output_padding={output_padding}, "
                             f"strides={strides}")
    axes = [transpose_axis(n, k, s, d, padding, None if output_padding is None else p)
            for n, k, s, d, p in zip(x.shape[1:3], kernel.shape[:2], strides, dilation,
                                     output_padding or (0, 0))]
    out_hw, crop = tuple(a[0] for a in axes), tuple(a[1] for a in axes)
    if min(out_hw) < 1:
        raise ValueError(f"{op}: the output would be empty. Received: input shape "
                         f"{x.shape}, kernel shape {kernel.shape}, padding={padding!r}, "
                         f"output_padding={output_padding}")
    # the conv whose input gradient this is: checks and bounds every size
    geometry((x.shape[0],) + tuple((n - 1) * s + (k - 1) * d + 1 for n, k, s, d in zip(
        x.shape[1:3], kernel.shape[:2], strides, dilation)) + (kernel.shape[2],),
        kernel.shape[:2], strides, "valid", dilation, out_channels=kernel.shape[3])
    return Conv2DTranspose.apply(x, kernel, bias, strides=strides, dilation=dilation,
                                 crop=crop, out_hw=out_hw)


# ---------------------------------------------------------------- depthwise_conv2d
def _padded(x, g):
    if not g.padded:
        return x
    xp = np.zeros((g.N, g.H + g.pt + g.pb, g.W + g.pl + g.pr, g.C), dtype=x.dtype)
    xp[:, g.pt:g.pt + g.H, g.pl:g.pl + g.W] = x
    return xp


def _tap(g, i, j):
    """The strided slice of the padded input that kernel tap ``(i, j)`` reads."""
    h0, w0 = i * g.dh, j * g.dw
    return (slice(None), slice(h0, h0 + (g.OH - 1) * g.sh + 1, g.sh),
            slice(w0, w0 + (g.OW - 1) * g.sw + 1, g.sw))


class DepthwiseConv2D(Function):
    """``y[n,p,q,c,k] = b + sum_{i,j} xpad[n, p*sh + i*dh, q*sw + j*dw, c] w[i,j,c,k]``,
    as ``(N, OH, OW, C * m)``."""

    def forward(self, x, w, b, strides=(1, 1), padding="valid", dilation=(1, 1)):
        kh, kw, c, m = w.shape
        g = geometry(x.shape, (kh, kw), strides, padding, dilation, out_channels=c * m)
        self.g, self.w, self.has_bias = g, w, b is not None
        self.xp = xp = _padded(x, g)
        y = np.zeros((g.N, g.OH, g.OW, c, m), dtype=x.dtype)
        for i in range(kh):
            for j in range(kw):
                y += xp[_tap(g, i, j)][..., None] * w[i, j]
        y = y.reshape(g.N, g.OH, g.OW, c * m)
        if b is not None:
            y += b
        return y

    def backward(self, gy):
        g, w, xp = self.g, self.w, self.xp
        kh, kw, c, m = w.shape
        need_x, need_w, need_b = self.needs_input_grad
        g5 = gy.reshape(g.N, g.OH, g.OW, c, m)
        gx = gw = gb = None
        if need_x:
            gxp = np.zeros(xp.shape, dtype=gy.dtype)
            for i in range(kh):
                for j in range(kw):
                    gxp[_tap(g, i, j)] += np.einsum("npqck,ck->npqc", g5, w[i, j])
            gx = gxp[:, g.pt:g.pt + g.H, g.pl:g.pl + g.W] if g.padded else gxp
        if need_w:
            gw = np.empty(w.shape, dtype=gy.dtype)
            for i in range(kh):
                for j in range(kw):
                    gw[i, j] = np.einsum("npqc,npqck->ck", xp[_tap(g, i, j)], g5)
        if need_b and self.has_bias:
            gb = gy.sum(axis=(0, 1, 2))
        return gx, gw, gb


def depthwise_conv2d(x, kernel, bias=None, strides=1, padding="valid", dilation_rate=1):
    """Depthwise 2-D convolution of NHWC ``x`` with a ``(kh, kw, C, m)`` kernel: each
    channel convolved with its own ``m`` filters; output channels ``C * m``."""
    op = "depthwise_conv2d"
    x, kernel, bias = _as_tensor(x), _as_tensor(kernel), _bias(bias)
    _check_common(op, x, kernel, bias, 4, 2, kernel.shape[2] * kernel.shape[3])
    strides = _ints(op, "strides", strides, 2)
    dilation = _ints(op, "dilation_rate", dilation_rate, 2)
    padding = normalize_padding(padding)
    eff = [(k - 1) * d + 1 for k, d in zip(kernel.shape[:2], dilation)]
    if padding == "valid" and (eff[0] > x.shape[1] or eff[1] > x.shape[2]):
        raise ValueError(f"{op}: the window {kernel.shape[:2]} (dilated to {tuple(eff)}) is "
                         f"larger than the input's spatial size {x.shape[1:3]} with padding "
                         f"'valid'. Received: input shape {x.shape}")
    geometry(x.shape, kernel.shape[:2], strides, padding, dilation,
             out_channels=kernel.shape[2] * kernel.shape[3])
    return DepthwiseConv2D.apply(x, kernel, bias, strides=strides, padding=padding,
                                 dilation=dilation)
