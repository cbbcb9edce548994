"""Primitive neural-network ops with their own kernels: conv2d, pooling, linear and the
fused softmax cross-entropy. Each op validates its arguments in Python (a ``ValueError``
naming the op, the argument and the value received) before any kernel runs, then keeps
forward and backward side by side, computing only the gradients that are needed.
"""
import numpy as np

from .autograd import Function
from .backend import get_backend
from .backend._shapes import MAX_WINDOW, geometry, int_tuple, normalize_padding
from .ops import relu_grad
from .tensor import Tensor, _as_tensor


# ---------------------------------------------------------------- argument checks
def _pair(op, name, value):
    """An int or a pair of ints, each in [1, MAX_WINDOW] (bools and floats are refused)."""
    return int_tuple(op, name, value, 2, 1, MAX_WINDOW)


def _float_tensor(op, name, t, ndim=None):
    if t.dtype not in (np.float32, np.float64):
        raise ValueError(f"{op}: {name} must be float32 or float64. Received: {name} with "
                         f"dtype={t.dtype}")
    if ndim is not None and t.ndim != ndim:
        raise ValueError(f"{op}: {name} must have rank {ndim}. Received: {name} with "
                         f"shape {t.shape}")


def _same_dtype(op, **tensors):
    dtypes = {k: v.dtype for k, v in tensors.items() if v is not None}
    if len(set(dtypes.values())) > 1:
        raise ValueError(f"{op}: all inputs must have the same dtype. Received: {dtypes}")


def _check_bias(op, bias, units):
    if bias is not None and bias.shape != (units,):
        raise ValueError(f"{op}: bias must have shape ({units},). Received: bias "
                         f"shape {bias.shape}")


def _check_activation(op, activation):
    if activation not in (None, "relu", "linear"):
        raise ValueError(f"{op}: activation must be None or 'relu'. Received: "
                         f"activation={activation!r}")


def _check_window(op, x_shape, window, strides, padding, dilation, out_channels=None):
    """The window must fit inside the (padded) input, and every size the kernels will
    compute must be representable (backend._shapes.geometry checks them)."""
    h, w = x_shape[1:3]
    eff = [(k - 1) * d + 1 for k, d in zip(window, dilation)]
    if padding == "valid" and (eff[0] > h or eff[1] > w):
        raise ValueError(f"{op}: the window {tuple(window)} (dilated to {tuple(eff)}) is "
                         f"larger than the input's spatial size {(h, w)} with padding "
                         f"'valid'. Received: input shape {tuple(x_shape)}")
    geometry(x_shape, window, strides, padding, dilation, op=op, out_channels=out_channels)


# ---------------------------------------------------------------- conv2d
class Conv2D(Function):
    def forward(self, x, w, b, strides=(1, 1), padding="valid", dilation=(1, 1), relu=False):
        self.args = (strides, padding, dilation)
        self.x, self.w, self.relu = x, w, relu
        self.has_bias = b is not None
        y = get_backend().conv2d_forward(x, w, b, strides, padding, dilation, relu=relu)
        self.relu_y = y if relu else None       # see MaxPool2D: the ReLU-mask protocol
        return y

    def backward(self, g):
        if self.relu and g is not getattr(self, "premasked", None):
            g = relu_grad(self.relu_y, g)
        be = get_backend()
        need_x, need_w, need_b = self.needs_input_grad
        need_b = need_b and self.has_bias
        gx = be.conv2d_backward_input(g, self.w, self.x.shape, *self.args) if need_x else None
        gw = gb = None
        if need_w and need_b:
            gw, gb = be.conv2d_backward_weight_bias(g, self.x, self.w.shape, *self.args)
        else:
            if need_w:
                gw = be.conv2d_backward_weight(g, self.x, self.w.shape, *self.args)
            if need_b:
                gb = be.conv2d_backward_bias(g)
        return gx, gw, gb


def conv2d(x, kernel, bias=None, strides=1, padding="valid", dilation_rate=1,
           activation=None):
    """2-D convolution of NHWC ``x`` with a ``(kh, kw, c_in, c_out)`` kernel (Keras layout).

    ``activation`` may be ``None`` or ``"relu"`` (fused into the kernel's epilogue).
    """
    op = "conv2d"
    x, kernel = _as_tensor(x), _as_tensor(kernel)
    bias = None if bias is None else _as_tensor(bias)
    _float_tensor(op, "input", x, 4)
    _float_tensor(op, "kernel", kernel, 4)
    _same_dtype(op, input=x, kernel=kernel, bias=bias)
    if x.shape[3] != kernel.shape[2]:
        raise ValueError(f"{op}: the input has {x.shape[3]} channels but the kernel expects "
                         f"{kernel.shape[2]}. Received: input shape {x.shape}, kernel shape "
                         f"{kernel.shape}")
    if min(kernel.shape) < 1 or min(x.shape) < 1:
        raise ValueError(f"{op}: empty input or kernel. Received: input shape {x.shape}, "
                         f"kernel shape {kernel.shape}")
    _check_bias(op, bias, kernel.shape[3])
    strides = _pair(op, "strides", strides)
    dilation = _pair(op, "dilation_rate", dilation_rate)
    padding = normalize_padding(padding)
    _check_activation(op, activation)
    _check_window(op, x.shape, kernel.shape[:2], strides, padding, dilation, kernel.shape[3])
    return Conv2D.apply(x, kernel, bias, strides=strides, padding=padding,
                        dilation=dilation, relu=activation == "relu")


# ---------------------------------------------------------------- pooling
class MaxPool2D(Function):
    """Max pooling. When its input is a ReLU output (``relu_src``: the Function that made
    it, which keeps that output as ``relu_y``), backward applies the ReLU's mask here, to
    the pooled gradient (a quarter of the size for 2x2 windows): an input element gets a
    gradient only if it is a window's argmax, and then it equals the pooled value, so
    ``y_input <= 0`` there iff ``y_pooled <= 0``. The result is handed to the ReLU's
    Function as ``premasked``; if the engine passes that very array on (no other reader
    added to it), the ReLU skips its own mask pass over the full-size gradient, otherwise
    it masks the sum again (masking twice changes nothing)."""

    @staticmethod
    def extra_params(x):
        """The ReLU Function that made ``x``, when one did (see the class docstring)."""
        return {"relu_src": x._ctx} if getattr(x._ctx, "relu_y", None) is not None else {}

    def forward(self, x, pool_size=(2, 2), strides=(2, 2), padding="valid", relu_src=None):
        self.args, self.x_shape = (pool_size, strides, padding), x.shape
        y, self.argmax = get_backend().max_pool2d_forward(x, pool_size, strides, padding)
        self.relu_src, self.y = (relu_src, y) if relu_src is not None else (None, None)
        return y

    def backward(self, g):
        src = self.relu_src
        if src is not None and not src.released:
            g = relu_grad(self.y, g)      # the ReLU's own mask rule (NaN passes), pooled size
        gx = get_backend().max_pool2d_backward(g, self.argmax, self.x_shape, *self.args)
        if src is not None and not src.released:
            src.premasked = gx
        return gx


class AvgPool2D(Function):
    @staticmethod
    def extra_params(x):
        return {}

    def forward(self, x, pool_size=(2, 2), strides=(2, 2), padding="valid"):
        self.args, self.x_shape = (pool_size, strides, padding), x.shape
        return get_backend().avg_pool2d_forward(x, pool_size, strides, padding)

    def backward(self, g):
        return get_backend().avg_pool2d_backward(g, self.x_shape, *self.args)


def _pool(op, cls, x, pool_size, strides, padding):
    x = _as_tensor(x)
    _float_tensor(op, "input", x, 4)
    pool_size = _pair(op, "pool_size", pool_size)
    strides = pool_size if strides is None else _pair(op, "strides", strides)
    padding = normalize_padding(padding)
    _check_window(op, x.shape, pool_size, strides, padding, (1, 1))
    return cls.apply(x, pool_size=pool_size, strides=strides, padding=padding,
                     **cls.extra_params(x))


def max_pool2d(x, pool_size=(2, 2), strides=None, padding="valid"):
    """Max pooling over NHWC ``x`` (``strides`` defaults to ``pool_size``, as in Keras)."""
    return _pool("max_pool2d", MaxPool2D, x, pool_size, strides, padding)


def avg_pool2d(x, pool_size=(2, 2), strides=None, padding="valid"):
    """Average pooling over NHWC ``x``; with "same" padding only valid elements count."""
    return _pool("avg_pool2d", AvgPool2D, x, pool_size, strides, padding)


# ---------------------------------------------------------------- linear
class Linear(Function):
    def forward(self, x, w, b, relu=False):
        self.x, self.w, self.relu, self.has_bias = x, w, relu, b is not None
        y = linear_array(x, w, b, relu)
        self.y = y if relu else None
        return y

    def backward(self, g):
        if self.relu:
            g = relu_grad(self.y, g)
        be = get_backend()
        need_x, need_w, need_b = self.needs_input_grad
        gx = be.gemm(g, self.w, trans_b=True) if need_x else None
        gw = be.gemm(self.x, g, trans_a=True) if need_w else None
        gb = g.sum(axis=0) if (need_b and self.has_bias) else None
        return gx, gw, gb


def linear(x, kernel, bias=None, activation=None):
    """``x @ kernel + bias`` with a Keras-layout ``(in, units)`` kernel, optional fused ReLU."""
    op = "linear"
    x, kernel = _as_tensor(x), _as_tensor(kernel)
    bias = None if bias is None else _as_tensor(bias)
    _float_tensor(op, "input", x, 2)
    _float_tensor(op, "kernel", kernel, 2)
    _same_dtype(op, input=x, kernel=kernel, bias=bias)
    if x.shape[1] != kernel.shape[0]:
        raise ValueError(f"{op}: the input has {x.shape[1]} features but the kernel expects "
                         f"{kernel.shape[0]}. Received: input shape {x.shape}, kernel shape "
                         f"{kernel.shape}")
    _check_bias(op, bias, kernel.shape[1])
    _check_activation(op, activation)
    return Linear.apply(x, kernel, bias, relu=activation == "relu")


# ---------------------------------------------------------------- planned inference
# Array in, array out: the forward passes of the ops above for a model's planned inference
# (models/sequential.py), which checks shapes and dtypes once when it builds the plan.
# No autograd record and no argument checks; the same backend calls as the Functions
# above, so the same results bit for bit.
def conv2d_array(x, w, b, strides, padding, dilation, relu):
    return get_backend().conv2d_forward(x, w, b, strides, padding, dilation, relu=relu)


def max_pool2d_array(x, pool_size, strides, padding):
    return get_backend().max_pool2d_forward(x, pool_size, strides, padding)[0]


def avg_pool2d_array(x, pool_size, strides, padding):
    return get_backend().avg_pool2d_forward(x, pool_size, strides, padding)


def linear_array(x, w, b, relu):
    """``x @ w + b``, ReLU applied in place when ``relu`` (max(y, 0): NaN kept)."""
    y = get_backend().gemm(x, w)
    if b is not None:
        y += b
    if relu:
        np.maximum(y, 0, out=y)
    return y


# ---------------------------------------------------------------- softmax cross-entropy
class SoftmaxCrossEntropy(Function):
    def forward(self, logits, target=None):
        shifted = logits - logits.max(axis=-1, keepdims=True)
        logp = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
        n = logits.shape[0]
        if target.ndim == 1:    # class indices
            self.target = np.zeros_like(logits)
            self.target[np.arange(n), target] = 1
        else:
            self.target = target.astype(logits.dtype, copy=False)
        self.probs, self.n = np.exp(logp), n
        return np.asarray(-(self.target * logp).sum() / n, dtype=logits.dtype)

    def backward(self, g):
        return g * (self.probs - self.target) / self.n


def softmax_cross_entropy(logits, target):
    """Mean cross-entropy of ``softmax(logits)`` against one-hot/probability targets of the
    same shape, or integer class indices of shape ``(N,)``. Fused and numerically stable."""
    op = "softmax_cross_entropy"
    logits = _as_tensor(logits)
    _float_tensor(op, "logits", logits, 2)
    if logits.shape[1] == 0:
        raise ValueError(f"{op}: logits need at least one class. Received: logits shape "
                         f"{logits.shape}")
    t = target.data if isinstance(target, Tensor) else np.asarray(target)
    if t.dtype.kind not in "biuf":
        raise ValueError(f"{op}: targets must be real numbers. Received: target with "
                         f"dtype={t.dtype}")
    if t.ndim == 1:
        if t.dtype.kind not in "iu":
            raise ValueError(f"{op}: 1-D targets must be integer class indices. Received: "
                             f"dtype={t.dtype}")
        if t.shape[0] != logits.shape[0]:
            raise ValueError(f"{op}: logits and targets disagree on the batch size. "
                             f"Received: logits shape {logits.shape}, target shape {t.shape}")
        if t.size and (t.min() < 0 or t.max() >= logits.shape[1]):
            raise ValueError(f"{op}: class indices must lie in [0, {logits.shape[1]}). "
                             f"Received: min {t.min()}, max {t.max()}")
    elif t.shape != logits.shape:
        raise ValueError(f"{op}: targets must have the logits' shape or be class indices. "
                         f"Received: logits shape {logits.shape}, target shape {t.shape}")
    return SoftmaxCrossEntropy.apply(logits, target=t)


def memory_scope():
    """The active backend's memory context for a loop of steps (native: large NumPy
    temporaries freed inside are reused inside instead of returned to the system)."""
    return get_backend().memory_scope()
