"""Pure-NumPy reference kernels: the test oracle and the "numpy" benchmark baseline.

Layout is Keras's: NHWC activations, ``(kh, kw, c_in, c_out)`` conv kernels. Every
function works for float32 and float64 and returns a new C-contiguous array of the input
dtype. Written to be as fast as NumPy allows:

* conv forward / weight gradient: im2col as a strided *view* of the (padded) input
  (``as_strided``, shape ``(N, OH, OW, kh, kw, C)``), one reshape copy and ONE matmul;
* conv input gradient: one matmul to the column gradient, then col2im as ``kh * kw``
  strided-slice additions (no ``np.add.at``);
* pooling: a loop over the ``ph * pw`` window offsets on strided slices.

``max_pool2d_forward`` returns ``argmax`` (int32, shape of ``y``): for each output element,
the flat index ``h * W + w`` into the ``(H, W)`` plane of its own sample and channel of the
element that holds the max, i.e. ``y[n, i, j, c] == x[n, h, w, c]``. Ties go to the FIRST
max in row-major window order; padding (which acts as -inf) is never selected. NaN
propagates (as in ``np.max`` and torch): a window holding a NaN gives NaN, with ``argmax``
at its first NaN.

ReLU keeps PyTorch's NaN rules: ``relu(NaN) = NaN``, ``relu(-0.0) = -0.0``, and the
gradient is masked where the output ``y <= 0`` only, so it passes where ``y`` is NaN
(torch's ``threshold_backward(grad, result, 0)``).

The optimizer updates (``sgd_update``, ``rmsprop_update``, ``adam_update``) change lists
of same-dtype arrays in place, one variable after the other, with the operations of
Keras 3's update rules in Keras's order; the scalars are first rounded to the arrays'
dtype. The native kernels reproduce them bit for bit.
"""
import contextlib

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ._shapes import geometry

__all__ = [
    "gemm", "conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight",
    "conv2d_backward_bias", "conv2d_backward_weight_bias",
    "max_pool2d_forward", "max_pool2d_backward", "avg_pool2d_forward", "avg_pool2d_backward",
    "relu_forward", "relu_backward", "sgd_update", "rmsprop_update", "adam_update",
    "memory_scope",
]


def gemm(a, b, trans_a=False, trans_b=False):
    """``op(a) @ op(b)`` with ``op`` the identity or the transpose."""
    return np.matmul(a.T if trans_a else a, b.T if trans_b else b)


# ------------------------------------------------------------------------ helpers --

def _pad(x, g, value=0.0):
    """``x`` with ``g``'s padding added (``x`` itself when there is none)."""
    if not g.padded:
        return x
    xp = np.full((g.N, g.H + g.pt + g.pb, g.W + g.pl + g.pr, g.C), value, dtype=x.dtype)
    xp[:, g.pt:g.pt + g.H, g.pl:g.pl + g.W, :] = x
    return xp


def _windows(xp, g):
    """Read-only view ``(N, OH, OW, kh, kw, C)`` of the windows of padded input ``xp``."""
    sn, sh, sw, sc = xp.strides
    return as_strided(
        xp, shape=(g.N, g.OH, g.OW, g.kh, g.kw, g.C),
        strides=(sn, sh * g.sh, sw * g.sw, sh * g.dh, sw * g.dw, sc), writeable=False)


def _im2col(x, g):
    """``(N * OH * OW, kh * kw * C)`` patch matrix (zero padding), column order (i, j, c)."""
    return _windows(_pad(x, g), g).reshape(g.N * g.OH * g.OW, g.kh * g.kw * g.C)


def _tap(g, i, j):
    """Index of the (padded-input) slice hit by kernel offset ``(i, j)`` at every output."""
    h0, w0 = i * g.dh, j * g.dw
    h1 = h0 + (g.OH - 1) * g.sh + 1 if g.OH else h0   # empty output: empty slice
    w1 = w0 + (g.OW - 1) * g.sw + 1 if g.OW else w0
    return slice(None), slice(h0, h1, g.sh), slice(w0, w1, g.sw), slice(None)


def _crop(xp, g):
    """Remove ``g``'s padding from ``xp`` (a contiguous copy if anything was removed)."""
    if not g.padded:
        return xp
    return np.ascontiguousarray(xp[:, g.pt:g.pt + g.H, g.pl:g.pl + g.W, :])


# ----------------------------------------------------------------------- conv 2-D --

def conv2d_forward(x, w, b, strides, padding, dilation, relu=False):
    """``y[n,p,q,o] = b[o] + sum_{i,j,c} xpad[n, p*sh + i*dh, q*sw + j*dw, c] w[i,j,c,o]``."""
    kh, kw, cin, cout = w.shape
    g = geometry(x.shape, (kh, kw), strides, padding, dilation, out_channels=cout)
    y = np.matmul(_im2col(x, g), w.reshape(kh * kw * cin, cout))
    if b is not None:
        y += b
    if relu:
        np.maximum(y, 0, out=y)
    return y.reshape(g.N, g.OH, g.OW, cout)


def conv2d_backward_input(gy, w, x_shape, strides, padding, dilation):
    """Gradient of the conv with respect to ``x`` (col2im of ``gy @ w^T``)."""
    kh, kw, cin, cout = w.shape
    g = geometry(x_shape, (kh, kw), strides, padding, dilation, out_channels=cout)
    m = g.N * g.OH * g.OW
    gcol = np.matmul(gy.reshape(m, cout), w.reshape(kh * kw * cin, cout).T)
    gcol = gcol.reshape(g.N, g.OH, g.OW, kh, kw, cin)
    gxp = np.zeros((g.N, g.H + g.pt + g.pb, g.W + g.pl + g.pr, cin), dtype=gcol.dtype)
    for i in range(kh):
        for j in range(kw):
            gxp[_tap(g, i, j)] += gcol[:, :, :, i, j, :]
    return _crop(gxp, g)


def conv2d_backward_weight(gy, x, w_shape, strides, padding, dilation):
    """Gradient of the conv with respect to ``w`` (``im2col(x)^T @ gy``)."""
    kh, kw, cin, cout = (int(v) for v in w_shape)
    g = geometry(x.shape, (kh, kw), strides, padding, dilation, out_channels=cout)
    gw = np.matmul(_im2col(x, g).T, gy.reshape(g.N * g.OH * g.OW, cout))
    return gw.reshape(kh, kw, cin, cout)


def conv2d_backward_bias(gy):
    """Gradient of the conv with respect to its bias: ``gy`` summed over N, H, W."""
    return gy.reshape(-1, gy.shape[-1]).sum(axis=0)


def conv2d_backward_weight_bias(gy, x, w_shape, strides, padding, dilation):
    """``(gw, gb)``: the kernel and bias gradients together."""
    return (conv2d_backward_weight(gy, x, w_shape, strides, padding, dilation),
            conv2d_backward_bias(gy))


# -------------------------------------------------------------------- pooling 2-D --

def _valid_counts(n, out, k, s, pad):
    """Per output position of one axis: how many window elements are inside the input."""
    start = np.arange(out) * s - pad
    return np.minimum(start + k, n) - np.maximum(start, 0)


def max_pool2d_forward(x, pool_size, strides, padding):
    """``(y, argmax)``; see the module docstring for the meaning of ``argmax``."""
    g = geometry(x.shape, pool_size, strides, padding, op="max_pool2d")
    xp = _pad(x, g, value=-np.inf)
    best = np.full((g.N, g.OH, g.OW, g.C), -np.inf, dtype=x.dtype)
    # Plane index of each window's top-left corner (possibly in the padding), and of its
    # first in-bounds element: the answer when no value beats -inf (all -inf).
    top = (np.arange(g.OH) * g.sh - g.pt)[:, None]
    left = np.arange(g.OW) * g.sw - g.pl
    # int32 sums below may wrap for windows reaching far into the padding; such
    # candidates are never selected, and a selected index is < H * W < 2**31, which the
    # wrap-around preserves (geometry bounds H * W for max pooling).
    corner = (top * g.W + left).astype(np.int32)[None, :, :, None]
    first = (np.maximum(top, 0) * g.W + np.maximum(left, 0)).astype(np.int32)
    argmax = np.broadcast_to(first[None, :, :, None], best.shape)
    upd = np.empty(best.shape, dtype=bool)
    for i in range(g.kh):
        for j in range(g.kw):
            v = xp[_tap(g, i, j)]
            # strict: the first max wins ties and padding (-inf) never wins; the first
            # NaN does. (np.where beats a masked copyto.)
            np.greater(v, best, out=upd)
            upd |= np.isnan(v) & ~np.isnan(best)
            best = np.where(upd, v, best)
            tap = np.int64(i * g.W + j).astype(np.int32)
            argmax = np.where(upd, corner + tap, argmax)
    return best, np.ascontiguousarray(argmax, dtype=np.int32)


def max_pool2d_backward(gy, argmax, x_shape, pool_size, strides, padding):
    """Scatter each ``gy`` element to its argmax (overlapping windows accumulate)."""
    g = geometry(x_shape, pool_size, strides, padding, op="max_pool2d")
    plane = g.H * g.W
    flat = ((np.arange(g.N, dtype=np.int64)[:, None, None, None] * plane + argmax) * g.C
            + np.arange(g.C, dtype=np.int64))
    size = g.N * plane * g.C
    if g.sh >= g.kh and g.sw >= g.kw:          # windows are disjoint: no index repeats
        gx = np.zeros(size, dtype=gy.dtype)
        gx[flat.ravel()] = gy.ravel()
    else:
        gx = np.bincount(flat.ravel(), weights=gy.ravel(), minlength=size).astype(gy.dtype)
    return gx.reshape(g.N, g.H, g.W, g.C)


def avg_pool2d_forward(x, pool_size, strides, padding):
    """Mean over each window's in-bounds elements (padding is not counted, as in Keras)."""
    g = geometry(x.shape, pool_size, strides, padding, op="avg_pool2d")
    xp = _pad(x, g)
    acc = np.zeros((g.N, g.OH, g.OW, g.C), dtype=x.dtype)
    for i in range(g.kh):
        for j in range(g.kw):
            acc += xp[_tap(g, i, j)]
    cnt = np.outer(_valid_counts(g.H, g.OH, g.kh, g.sh, g.pt),
                   _valid_counts(g.W, g.OW, g.kw, g.sw, g.pl)).astype(x.dtype)
    acc /= cnt[:, :, None]
    return acc


def avg_pool2d_backward(gy, x_shape, pool_size, strides, padding):
    """Each window's gradient spread evenly over its in-bounds elements."""
    g = geometry(x_shape, pool_size, strides, padding, op="avg_pool2d")
    cnt = np.outer(_valid_counts(g.H, g.OH, g.kh, g.sh, g.pt),
                   _valid_counts(g.W, g.OW, g.kw, g.sw, g.pl)).astype(gy.dtype)
    gs = gy / cnt[:, :, None]
    gxp = np.zeros((g.N, g.H + g.pt + g.pb, g.W + g.pl + g.pr, g.C), dtype=gy.dtype)
    for i in range(g.kh):
        for j in range(g.kw):
            gxp[_tap(g, i, j)] += gs
    return _crop(gxp, g)


# -------------------------------------------------------------------- elementwise --

def relu_forward(x):
    """``y = 0 if x < 0 else x`` (keeps NaN and -0.0), a new array of ``x``'s shape."""
    return np.asarray(np.where(x < 0, x.dtype.type(0), x), order="C")


def relu_backward(y, grad):
    """``grad`` masked to 0 where the ReLU output ``y <= 0`` (passes where ``y`` is NaN),
    in ``y``'s dtype."""
    return np.asarray(np.where(y <= 0, y.dtype.type(0), grad.astype(y.dtype, copy=False)),
                      order="C")


# --------------------------------------------------------------------- optimizers --

def _scalars(variables, *values):
    dt = variables[0].dtype.type if variables else np.float64
    return [dt(v) for v in values]


def sgd_update(variables, grads, momentums, learning_rate, momentum, nesterov):
    """Per variable, in place: ``m = m*momentum - g*lr`` then ``w += m*momentum - g*lr``
    (nesterov) or ``w += m``; plain ``w -= g*lr`` when ``momentums`` is None."""
    lr, mom = _scalars(variables, learning_rate, momentum)
    for j, (w, g) in enumerate(zip(variables, grads)):
        if momentums is None:
            w -= g * lr
            continue
        m = momentums[j]
        m[...] = m * mom - g * lr
        if nesterov:
            w += m * mom - g * lr
        else:
            w += m


def rmsprop_update(variables, grads, velocities, average_gradients, momentums,
                   learning_rate, rho, one_minus_rho, momentum, epsilon):
    """Per variable, in place: ``v = rho*v + (1-rho)*g^2``; centered (with
    ``average_gradients``) ``mg = rho*mg + (1-rho)*g``, ``den = v - mg^2 + eps``, else
    ``den = v + eps``; ``inc = lr*g / sqrt(den)``; ``m = momentum*m + inc; w -= m`` with
    ``momentums``, else ``w -= inc``."""
    lr, rho, omr, mom, eps = _scalars(variables, learning_rate, rho, one_minus_rho,
                                      momentum, epsilon)
    for j, (w, g) in enumerate(zip(variables, grads)):
        v = velocities[j]
        v[...] = rho * v + omr * np.square(g)
        if average_gradients is not None:
            mg = average_gradients[j]
            mg[...] = rho * mg + omr * g
            denominator = v - np.square(mg) + eps
        else:
            denominator = v + eps
        increment = lr * g / np.sqrt(denominator)
        if momentums is not None:
            m = momentums[j]
            m[...] = mom * m + increment
            w -= m
        else:
            w -= increment


def adam_update(variables, grads, momentums, velocities, velocity_hats, alpha,
                one_minus_beta_1, one_minus_beta_2, epsilon):
    """Per variable, in place: ``m += (g-m)*(1-b1)``; ``v += (g^2-v)*(1-b2)``; amsgrad
    (with ``velocity_hats``) ``vh = max(vh, v)`` replaces ``v`` below;
    ``w -= (m*alpha) / (sqrt(v) + eps)``."""
    alpha, c1, c2, eps = _scalars(variables, alpha, one_minus_beta_1, one_minus_beta_2,
                                  epsilon)
    for j, (w, g) in enumerate(zip(variables, grads)):
        m, v = momentums[j], velocities[j]
        m += (g - m) * c1
        v += (np.square(g) - v) * c2
        if velocity_hats is not None:
            np.maximum(velocity_hats[j], v, out=velocity_hats[j])
            v = velocity_hats[j]
        w -= (m * alpha) / (np.sqrt(v) + eps)


def memory_scope():
    """NumPy's own allocator: the numpy backend runs no compiled code of ours."""
    return contextlib.nullcontext()
