"""Deterministic image transforms behind the augmentation layers (NumPy, NHWC).

``affine_transform`` follows ``keras.ops.image.affine_transform``: the 8-entry transform
``[a0, a1, a2, b0, b1, b2, c0, c1]`` maps each output pixel ``(x, y)`` to the input point
``(a0 x + a1 y + a2, b0 x + b1 y + b2)`` (``c0 = c1 = 0``: no projective part), sampled by
``nearest`` (round half to even) or ``bilinear`` interpolation. Points outside the image
take their value from ``fill_mode``: ``reflect`` (d c b a | a b c d | d c b a), ``wrap``
(a b c d | a b c d), ``nearest`` (a a a a | a b c d | d d d d) or ``constant``
(``fill_value``, blended per corner as Keras does).

A transform is a gather: every output pixel is a weighted sum of at most four input
pixels plus a constant, so the backward pass (w.r.t. the images, never the parameters)
scatters the output gradient back with the same weights.
"""
import math

import numpy as np

from ..autograd import Function
from ..tensor import Tensor

FILL_MODES = ("reflect", "wrap", "constant", "nearest")
INTERPOLATIONS = ("nearest", "bilinear")


def fix_index(index, size, fill_mode):
    """Integer indices (any range) folded into ``[0, size)`` as ``fill_mode`` says
    (``constant`` clips; its out-of-range points are masked separately)."""
    if fill_mode == "reflect":
        period = index % (2 * size)
        return np.where(period < size, period, 2 * size - 1 - period)
    if fill_mode == "wrap":
        return index % size
    return np.clip(index, 0, size - 1)


def _axis_nodes(coord, size, interpolation, fill_mode):
    """[(index, weight, valid)] along one axis: one node (nearest) or two (bilinear)."""
    if interpolation == "nearest":
        nodes = [(np.round(coord).astype(np.int64), np.ones_like(coord))]
    else:
        low = np.floor(coord)
        upper = coord - low
        low = low.astype(np.int64)
        nodes = [(low, 1.0 - upper), (low + 1, upper)]
    return [(fix_index(i, size, fill_mode), w, (i >= 0) & (i < size)) for i, w in nodes]


def _check_transform(transform, batch):
    """``transform`` as (batch, 8), in its own float dtype: Keras computes the sampling
    points in the transform's dtype (float32 in the layers), which decides the ties of
    ``nearest`` interpolation."""
    t = np.asarray(transform)
    t = t if t.dtype in (np.float32, np.float64) else t.astype(np.float64)
    if t.ndim == 1:
        t = t[None]
    if t.ndim != 2 or t.shape[1] != 8 or t.shape[0] not in (1, batch):
        raise ValueError("affine_transform: `transform` must have shape (8,) or (batch, 8). "
                         f"Received: transform.shape={np.shape(transform)}")
    if np.any(t[:, 6:] != 0):
        raise ValueError("affine_transform: projective transforms (c0, c1 != 0) are not "
                         f"supported. Received: transform={np.asarray(transform).tolist()}")
    return np.broadcast_to(t, (batch, 8))


def sampling_plan(shape, transform, interpolation="bilinear", fill_mode="constant"):
    """For images of ``shape`` (N, H, W, C): a list of ``(flat, weight, valid)`` per
    interpolation corner, each of shape (N, H, W); ``flat`` indexes the (N*H*W) pixels."""
    n, h, w = shape[:3]
    t = _check_transform(transform, n)[:, :, None, None]
    y, x = np.meshgrid(np.arange(h, dtype=t.dtype), np.arange(w, dtype=t.dtype),
                       indexing="ij")
    x_in = (t[:, 0] * x + t[:, 1] * y + t[:, 2]).astype(np.float64)
    y_in = (t[:, 3] * x + t[:, 4] * y + t[:, 5]).astype(np.float64)
    base = (np.arange(n) * (h * w))[:, None, None]
    plan = []
    for yi, wy, vy in _axis_nodes(y_in, h, interpolation, fill_mode):
        for xi, wx, vx in _axis_nodes(x_in, w, interpolation, fill_mode):
            plan.append((base + yi * w + xi, wy * wx, vy & vx))
    return plan


class AffineSample(Function):
    """Images (N, H, W, C) resampled by a ``sampling_plan``; differentiable w.r.t. the
    images (the plan and ``fill_value`` are constants)."""

    def forward(self, images, plan, constant, fill_value):
        flat = images.reshape(-1, images.shape[-1])
        self.shape, self.plan, self.constant = images.shape, plan, constant
        out = np.zeros(images.shape, dtype=np.result_type(images.dtype, np.float32))
        for idx, weight, valid in plan:
            values = flat[idx]
            if constant:
                values = np.where(valid[..., None], values, fill_value)
            out += weight[..., None] * values
        return out.astype(images.dtype, copy=False)

    def backward(self, g):
        grad = np.zeros((math.prod(self.shape[:3]), self.shape[-1]), dtype=g.dtype)
        for idx, weight, valid in self.plan:
            w = weight * valid if self.constant else weight
            np.add.at(grad, idx.ravel(), (w[..., None] * g).reshape(-1, g.shape[-1]))
        return (grad.reshape(self.shape),)


def affine_transform(images, transform, interpolation="bilinear", fill_mode="constant",
                     fill_value=0.0):
    """Keras's ``ops.image.affine_transform`` (channels_last) on a Tensor or array of rank
    4 (N, H, W, C) or 3 (H, W, C); ``transform`` of shape (8,) or (N, 8). Returns a Tensor."""
    if interpolation not in INTERPOLATIONS:
        raise ValueError("affine_transform: invalid value for argument `interpolation`. "
                         f"Expected one of {INTERPOLATIONS}. Received: "
                         f"interpolation={interpolation!r}")
    if fill_mode not in FILL_MODES:
        raise ValueError("affine_transform: invalid value for argument `fill_mode`. "
                         f"Expected one of {FILL_MODES}. Received: fill_mode={fill_mode!r}")
    x = images if isinstance(images, Tensor) else Tensor(np.asarray(images))
    if x.ndim not in (3, 4):
        raise ValueError("affine_transform: invalid images rank: expected rank 3 (single "
                         "image) or rank 4 (batch of images). Received: "
                         f"images.shape={x.shape}")
    unbatched = x.ndim == 3
    if unbatched:
        x = x.reshape((1,) + x.shape)
    plan = sampling_plan(x.shape, transform, interpolation, fill_mode)
    out = AffineSample.apply(x, plan=plan, constant=fill_mode == "constant",
                             fill_value=float(fill_value))
    return out.reshape(out.shape[1:]) if unbatched else out


class Flip(Function):
    """Reverse the height and/or width axis of the images (N, H, W, C) where ``mask``
    (N,) is true; its own inverse, so the gradient is flipped back the same way."""

    def forward(self, images, mask, horizontal, vertical):
        self.args = mask, horizontal, vertical
        return _flip(images, *self.args)

    def backward(self, g):
        return (_flip(g, *self.args),)


def _flip(a, mask, horizontal, vertical):
    out = a.copy()
    sel = np.asarray(mask, dtype=bool).reshape(-1)
    part = a[sel]
    if horizontal:
        part = part[:, :, ::-1]
    if vertical:
        part = part[:, ::-1]
    out[sel] = part
    return out


def rotation_matrix(angles, height, width):
    """Transforms (N, 8) rotating images of ``height`` x ``width`` by ``angles`` degrees
    (counter-clockwise in the usual picture, y down) about the image centre."""
    theta = np.deg2rad(np.asarray(angles, dtype=np.float64).reshape(-1))
    cos, sin = np.cos(theta), np.sin(theta)
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    zeros = np.zeros_like(theta)
    # output (x, y) -> centre + R (x - cx, y - cy), R = [[cos, -sin], [sin, cos]]
    return np.stack([cos, -sin, cx - cos * cx + sin * cy,
                     sin, cos, cy - sin * cx - cos * cy, zeros, zeros], axis=1)


def zoom_matrix(width_zoom, height_zoom, height, width):
    """Transforms (N, 8) scaling the sampling grid by ``width_zoom``/``height_zoom`` about
    the image centre (a zoom above 1 shows more of the image: it zooms out)."""
    zx = np.asarray(width_zoom, dtype=np.float64).reshape(-1)
    zy = np.asarray(height_zoom, dtype=np.float64).reshape(-1)
    zeros = np.zeros_like(zx)
    return np.stack([zx, zeros, (width - 1) / 2.0 * (1.0 - zx),
                     zeros, zy, (height - 1) / 2.0 * (1.0 - zy), zeros, zeros], axis=1)


def translation_matrix(translations):
    """Transforms (N, 8) shifting images by ``translations`` (N, 2) = (dx, dy) pixels
    (positive: right / down)."""
    t = np.asarray(translations, dtype=np.float64).reshape(-1, 2)
    ones, zeros = np.ones(len(t)), np.zeros(len(t))
    return np.stack([ones, zeros, -t[:, 0], zeros, ones, -t[:, 1], zeros, zeros], axis=1)
