"""Keras 3's reshaping layers: ZeroPadding2D, Cropping2D, UpSampling2D (nearest or
bilinear, with Keras's half-pixel sampling), Permute and RepeatVector."""
import numpy as np

from ..autograd import Function
from ..tensor import Tensor
from .base import MAX_DIM, Layer, check_rank


def data_format_of(layer, value):
    if value is None:
        return "channels_last"
    if value not in ("channels_last", "channels_first"):
        raise ValueError(f"{layer}: `data_format` must be 'channels_last' or "
                         f"'channels_first'. Received: data_format={value!r}")
    return value


def _int(value, low):
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)) \
        and low <= value <= MAX_DIM


def pair_of_pairs(layer, arg, value):
    """Keras's ``int | (sym_h, sym_w) | ((top, bottom), (left, right))`` of non-negative
    ints, as ``((top, bottom), (left, right))``."""
    def bad():
        return ValueError(f"{layer}: `{arg}` must be an int, a tuple of 2 ints or a tuple of "
                          f"2 tuples of 2 ints, all >= 0. Received: {arg}={value!r}")
    if _int(value, 0):
        return ((int(value),) * 2,) * 2
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise bad()
    out = []
    for entry in value:
        if _int(entry, 0):
            out.append((int(entry),) * 2)
        elif isinstance(entry, (list, tuple)) and len(entry) == 2 \
                and all(_int(v, 0) for v in entry):
            out.append(tuple(int(v) for v in entry))
        else:
            raise bad()
    return tuple(out)


def _spatial(data_format):
    return (1, 2) if data_format == "channels_last" else (2, 3)


class Pad(Function):
    """Zero padding by ``np.pad``'s ``((before, after), ...)``; backward slices it off."""

    def forward(self, a, pads=None):
        self.index = tuple(slice(lo, lo + n) for (lo, _), n in zip(pads, a.shape))
        return np.pad(a, pads)

    def backward(self, g):
        return g[self.index]


class ZeroPadding2D(Layer):
    """``ZeroPadding2D(padding=(1, 1), data_format=None)``."""

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.padding = pair_of_pairs("ZeroPadding2D", "padding", padding)
        self.data_format = data_format_of("ZeroPadding2D", data_format)

    def compute_output_shape(self, input_shape):
        check_rank(self, input_shape, 4, "a batch of images")
        out = list(input_shape)
        for axis, (lo, hi) in zip(_spatial(self.data_format), self.padding):
            out[axis] = None if out[axis] is None else out[axis] + lo + hi
        return tuple(out)

    def call(self, x, training=False):
        check_rank(self, x.shape, 4, "a batch of images")
        pads = [(0, 0)] * 4
        for axis, pair in zip(_spatial(self.data_format), self.padding):
            pads[axis] = pair
        return Pad.apply(x, pads=tuple(pads))

    def get_config(self):
        return {**super().get_config(), "padding": [list(p) for p in self.padding],
                "data_format": self.data_format}


class Cropping2D(Layer):
    """``Cropping2D(cropping=((0, 0), (0, 0)), data_format=None)``."""

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.cropping = pair_of_pairs("Cropping2D", "cropping", cropping)
        self.data_format = data_format_of("Cropping2D", data_format)

    def compute_output_shape(self, input_shape):
        check_rank(self, input_shape, 4, "a batch of images")
        out = list(input_shape)
        for axis, (lo, hi) in zip(_spatial(self.data_format), self.cropping):
            if out[axis] is not None:
                if lo + hi >= out[axis]:
                    raise ValueError(f"Layer {self.name!r}: values in `cropping` must be "
                                     f"smaller than the spatial sizes of the input. Received: "
                                     f"input_shape={tuple(input_shape)}, "
                                     f"cropping={self.cropping}")
                out[axis] -= lo + hi
        return tuple(out)

    def call(self, x, training=False):
        self.compute_output_shape(x.shape)
        index = [slice(None)] * 4
        for axis, (lo, hi) in zip(_spatial(self.data_format), self.cropping):
            index[axis] = slice(lo, x.shape[axis] - hi)
        return x[tuple(index)]

    def get_config(self):
        return {**super().get_config(), "cropping": [list(c) for c in self.cropping],
                "data_format": self.data_format}


def bilinear_matrix(n_in, scale):
    """The (n_in * scale, n_in) matrix of half-pixel bilinear upsampling along one axis:
    output ``i`` samples input position ``(i + 0.5) / scale - 0.5`` (clamped to the edges)."""
    n_out = n_in * scale
    src = np.maximum((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0.0)
    lo = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = src - lo
    m = np.zeros((n_out, n_in))
    np.add.at(m, (np.arange(n_out), lo), 1.0 - frac)
    np.add.at(m, (np.arange(n_out), hi), frac)
    return m


class Upsample(Function):
    """Upsampling of axes 1 and 2 of an NHWC array: nearest (each pixel repeated) or
    bilinear (``y = Mh x Mw^T`` per channel, so backward is ``Mh^T g Mw``)."""

    def forward(self, a, size=None, bilinear=False):
        (self.sh, self.sw), self.shape = size, a.shape
        if not bilinear:
            self.mats = None
            return np.repeat(np.repeat(a, self.sh, axis=1), self.sw, axis=2)
        mh = bilinear_matrix(a.shape[1], self.sh).astype(a.dtype)
        mw = bilinear_matrix(a.shape[2], self.sw).astype(a.dtype)
        self.mats = mh, mw
        return np.einsum("oh,nhwc,pw->nopc", mh, a, mw, optimize=True)

    def backward(self, g):
        if self.mats is None:
            n, h, w, c = self.shape
            return g.reshape(n, h, self.sh, w, self.sw, c).sum(axis=(2, 4))
        mh, mw = self.mats
        return np.einsum("oh,nopc,pw->nhwc", mh, g, mw, optimize=True)


class UpSampling2D(Layer):
    """``UpSampling2D(size=(2, 2), data_format=None, interpolation="nearest")``;
    ``interpolation`` is ``"nearest"`` or ``"bilinear"``."""

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(**kwargs)
        sizes = (size, size) if _int(size, 1) else size
        if not isinstance(sizes, (list, tuple)) or len(sizes) != 2 \
                or not all(_int(s, 1) for s in sizes):
            raise ValueError("UpSampling2D: `size` must be a positive int or a tuple of 2 "
                             f"positive ints. Received: size={size!r}")
        self.size = tuple(int(s) for s in sizes)
        self.data_format = data_format_of("UpSampling2D", data_format)
        if not isinstance(interpolation, str) or \
                interpolation.lower() not in ("nearest", "bilinear"):
            raise ValueError("UpSampling2D: tensorlib supports `interpolation` 'nearest' and "
                             f"'bilinear'. Received: interpolation={interpolation!r}")
        self.interpolation = interpolation.lower()

    def compute_output_shape(self, input_shape):
        check_rank(self, input_shape, 4, "a batch of images")
        out = list(input_shape)
        for axis, s in zip(_spatial(self.data_format), self.size):
            out[axis] = None if out[axis] is None else out[axis] * s
        return tuple(out)

    def call(self, x, training=False):
        check_rank(self, x.shape, 4, "a batch of images")
        first = self.data_format == "channels_first"
        if first:
            x = x.permute(0, 2, 3, 1)
        y = Upsample.apply(x, size=self.size, bilinear=self.interpolation == "bilinear")
        return y.permute(0, 3, 1, 2) if first else y

    def get_config(self):
        return {**super().get_config(), "size": list(self.size),
                "data_format": self.data_format, "interpolation": self.interpolation}


class Permute(Layer):
    """``Permute(dims)``: ``dims`` permutes the axes after the batch (numbered from 1)."""

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        ok = isinstance(dims, (list, tuple)) and all(_int(d, 1) for d in dims)
        if not ok or sorted(dims) != list(range(1, len(dims) + 1)):
            raise ValueError("Permute: `dims` must be a permutation of 1..n (the axes after "
                             f"the batch axis). Received: dims={dims!r}")
        self.dims = tuple(int(d) for d in dims)

    def compute_output_shape(self, input_shape):
        check_rank(self, input_shape, len(self.dims) + 1, f"dims={self.dims}")
        return (input_shape[0],) + tuple(input_shape[d] for d in self.dims)

    def call(self, x, training=False):
        check_rank(self, x.shape, len(self.dims) + 1, f"dims={self.dims}")
        return x.permute(0, *self.dims)

    def get_config(self):
        return {**super().get_config(), "dims": list(self.dims)}


class RepeatVector(Layer):
    """``RepeatVector(n)``: ``(batch, features)`` -> ``(batch, n, features)``."""

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(n, (int, np.integer)) or isinstance(n, (bool, np.bool_)):
            raise TypeError(f"RepeatVector: `n` must be an integer. Received: n={n!r}")
        if not 1 <= n <= MAX_DIM:
            raise ValueError(f"RepeatVector: `n` must be a positive integer. Received: n={n}")
        self.n = int(n)

    def compute_output_shape(self, input_shape):
        check_rank(self, input_shape, 2, "(batch, features)")
        return (input_shape[0], self.n, input_shape[1])

    def call(self, x, training=False):
        check_rank(self, x.shape, 2, "(batch, features)")
        ones = Tensor(np.ones((1, self.n, 1), dtype=x.dtype))
        return x.reshape(x.shape[0], 1, x.shape[1]) * ones

    def get_config(self):
        return {**super().get_config(), "n": self.n}
