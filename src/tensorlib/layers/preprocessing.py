"""Keras 3's numeric preprocessing layers: Rescaling (``x * scale + offset``) and
Normalization (``(x - mean) / sqrt(variance)`` with statistics given or learned by
``adapt``; ``invert=True`` undoes it)."""
import math

import numpy as np

from ..tensor import Tensor
from .base import Layer

EPSILON = 1e-7      # Keras's backend.epsilon(): the smallest standard deviation used


def _numbers(layer, arg, value):
    """A number or a (nested) list/array of numbers, checked; returned as given."""
    arr = None if isinstance(value, (str, bytes, bool, np.bool_)) else value
    try:
        arr = np.asarray(arr)
    except (TypeError, ValueError):
        arr = None
    if arr is None or arr.dtype.kind not in "iuf" or not np.all(np.isfinite(arr)):
        raise ValueError(f"{layer}: `{arg}` must be a finite number or an array of finite "
                         f"numbers. Received: {arg}={value!r}")
    return value.tolist() if isinstance(value, np.ndarray) else value


class Rescaling(Layer):
    """``Rescaling(scale, offset=0.0)``: ``x * scale + offset`` (either may be per-channel,
    broadcast against the input's last axes)."""

    supports_masking = True

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = _numbers("Rescaling", "scale", scale)
        self.offset = _numbers("Rescaling", "offset", offset)

    def call(self, x, training=False):
        scale = np.asarray(self.scale, dtype=x.dtype)
        offset = np.asarray(self.offset, dtype=x.dtype)
        return x * Tensor(scale) + Tensor(offset)

    def _inference_fn(self, input_shape):
        dt = self.dtype
        scale, offset = np.asarray(self.scale, dtype=dt), np.asarray(self.offset, dtype=dt)
        return lambda a: a * scale + offset

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}


def _axis_tuple(axis):
    if axis is None:
        return ()
    items = axis if isinstance(axis, (list, tuple)) else (axis,)
    if not all(isinstance(a, (int, np.integer)) and not isinstance(a, (bool, np.bool_))
               for a in items):
        raise ValueError("Normalization: `axis` must be an int, a tuple of ints or None. "
                         f"Received: axis={axis!r}")
    return tuple(int(a) for a in items)


class Normalization(Layer):
    """``Normalization(axis=-1, mean=None, variance=None, invert=False)``: the statistics
    are kept per position of the ``axis`` axes (``None``: one of each). Without ``mean`` and
    ``variance`` the layer has Keras's non-trainable weights ``mean``, ``variance`` and
    ``count`` (int32; like Keras 3.15, ``adapt`` leaves it at 0)."""

    supports_masking = True

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        self.axis = _axis_tuple(axis)
        if (mean is None) != (variance is None):
            raise ValueError("Normalization: when setting values directly, both `mean` and "
                             f"`variance` must be set. Received: mean={mean!r} and "
                             f"variance={variance!r}")
        if mean is not None:
            mean = _numbers("Normalization", "mean", mean)
            variance = _numbers("Normalization", "variance", variance)
            if np.shape(mean) != np.shape(variance):
                raise ValueError("Normalization: `mean` and `variance` must have the same "
                                 f"shape. Received: mean shape {np.shape(mean)} and "
                                 f"variance shape {np.shape(variance)}")
            if np.ndim(mean) > len(self.axis):
                raise ValueError("Normalization: the rank of `mean` must be at most the "
                                 f"number of axes ({len(self.axis)}). Received: mean shape "
                                 f"{np.shape(mean)} for axis={self.axis}")
            if np.any(np.asarray(variance) < 0):
                raise ValueError("Normalization: `variance` must be non-negative. "
                                 f"Received: variance={variance!r}")
        if not isinstance(invert, (bool, np.bool_)):
            raise ValueError(f"Normalization: `invert` must be True or False. Received: "
                             f"invert={invert!r}")
        self.input_mean, self.input_variance, self.invert = mean, variance, bool(invert)

    def build(self, input_shape):
        ndim = len(input_shape)
        if any(not -ndim <= a < ndim for a in self.axis):
            raise ValueError(f"Layer {self.name!r}: all `axis` values must be in the range "
                             f"[-ndim, ndim). Received: inputs with ndim={ndim}, "
                             f"axis={self.axis}")
        keep = tuple(sorted({a % ndim for a in self.axis}))
        if any(input_shape[d] is None for d in keep):
            raise ValueError(f"Layer {self.name!r}: the kept axes must have known sizes. "
                             f"Received: axis={self.axis}, input shape {tuple(input_shape)}")
        self._keep, self._reduce = keep, tuple(d for d in range(ndim) if d not in keep)
        self._broadcast_shape = tuple(input_shape[d] if d in keep else 1
                                      for d in range(ndim))
        stats_shape = tuple(input_shape[d] for d in keep)
        if self.input_mean is None:
            self.adapt_mean = self.add_weight(stats_shape, "zeros", trainable=False,
                                              name="mean")
            self.adapt_variance = self.add_weight(stats_shape, "ones", trainable=False,
                                                  name="variance")
            self.count = self.add_weight((), "zeros", dtype="int32", trainable=False,
                                         name="count")
            return
        expanded = [1] * ndim
        for i, size in enumerate(reversed(np.shape(self.input_mean))):
            expanded[keep[-1 - i]] = size
        try:
            self._given = [np.broadcast_to(np.reshape(np.asarray(v, np.float64), expanded),
                                           self._broadcast_shape).astype(self.dtype)
                           for v in (self.input_mean, self.input_variance)]
        except ValueError:
            raise ValueError(f"Layer {self.name!r}: `mean` of shape "
                             f"{np.shape(self.input_mean)} does not fit the kept axes "
                             f"{keep} of inputs of shape {tuple(input_shape)}. Received: "
                             f"mean={self.input_mean!r}") from None

    def check_input_shape(self, input_shape):
        """Inputs must broadcast against the statistics (as in Keras, a layer adapted on
        ``(n, c)`` data takes ``(batch, h, w, c)`` inputs)."""
        want = self._broadcast_shape
        if len(input_shape) < len(want) or any(
                w != 1 and d is not None and d != w
                for d, w in zip(input_shape[::-1], want[::-1])):
            raise ValueError(f"Input 0 of layer {self.name!r} is incompatible with the "
                             f"layer: its statistics have shape {want}. Received: input "
                             f"with shape {tuple(input_shape)}")

    def _stats(self):
        if self.input_mean is not None:
            return self._given
        shape = self._broadcast_shape
        return (self.adapt_mean.data.reshape(shape).astype(self.dtype, copy=False),
                self.adapt_variance.data.reshape(shape).astype(self.dtype, copy=False))

    def call(self, x, training=False):
        self.check_input_shape(x.shape)
        mean, variance = self._stats()
        std = np.maximum(np.sqrt(variance), self.dtype.type(EPSILON)).astype(x.dtype)
        mean = mean.astype(x.dtype, copy=False)
        if self.invert:
            return Tensor(mean) + x * Tensor(std)
        return (x - Tensor(mean)) / Tensor(std)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def adapt(self, data):
        """Set ``mean`` and ``variance`` to the statistics of ``data`` over all axes but
        ``axis``: one array, or batches (arrays, or ``(x, y)`` tuples whose ``x`` is used)
        from an iterable or a ``PyDataset``, combined exactly."""
        if isinstance(data, Tensor):
            data = data.data
        if isinstance(data, np.ndarray):        # one array: NumPy's statistics, as Keras
            batch = self._adapt_batch(data)
            if batch.size == 0:
                raise ValueError(f"Layer {self.name!r}: adapt() received no data. "
                                 f"Received: data.shape={batch.shape}")
            self.adapt_mean.data[...] = np.mean(batch, self._reduce)
            self.adapt_variance.data[...] = np.var(batch, self._reduce)
            return
        from ..models.data_adapters import PyDataset
        if isinstance(data, PyDataset):
            data = map(data.__getitem__, range(len(data)))
        if not hasattr(data, "__iter__") or isinstance(data, (str, bytes, dict)):
            raise TypeError(f"Layer {self.name!r}: adapt() takes a NumPy array or an "
                            f"iterable of batches. Received: {type(data).__name__}")
        total, mean, m2 = 0, 0.0, 0.0
        for batch in data:      # Chan et al.'s pairwise update, in float64
            batch = self._adapt_batch(batch).astype(np.float64)
            n = math.prod(batch.shape[d] for d in self._reduce)
            if n == 0:
                continue
            b_mean, b_var = np.mean(batch, self._reduce), np.var(batch, self._reduce)
            delta, new_total = b_mean - mean, total + n
            mean = mean + delta * (n / new_total)
            m2 = m2 + b_var * n + delta ** 2 * (total * n / new_total)
            total = new_total
        if total == 0:
            raise ValueError(f"Layer {self.name!r}: adapt() received no data (no batches, "
                             f"or only empty ones). Received: {type(data).__name__}")
        self.adapt_mean.data[...] = mean
        self.adapt_variance.data[...] = m2 / total

    def _adapt_batch(self, batch):
        if isinstance(batch, tuple):        # (x, y) or (x, y, sample_weight): x
            batch = batch[0]
        if isinstance(batch, Tensor):
            batch = batch.data
        batch = np.asarray(batch)
        if batch.dtype.kind not in "biuf":
            raise ValueError(f"Layer {self.name!r}: adapt() needs numeric arrays. Received: "
                             f"an array of dtype {batch.dtype}")
        if not self.built:
            self.build_for(batch.shape)
        if self.input_mean is not None:
            raise ValueError(f"Layer {self.name!r}: adapt() cannot change a `mean` and "
                             f"`variance` given to the constructor. Received: mean="
                             f"{self.input_mean!r}")
        built = self._build_input_shape
        if batch.ndim != len(built) or any(batch.shape[d] != built[d] for d in self._keep):
            raise ValueError(f"Layer {self.name!r} was built with input_shape={built}, but "
                             f"adapt() is being called with data with an incompatible "
                             f"shape. Received: data.shape={batch.shape}")
        return batch

    def get_config(self):
        def plain(v):
            return np.asarray(v).tolist() if v is not None else None
        return {**super().get_config(), "axis": list(self.axis), "invert": self.invert,
                "mean": plain(self.input_mean), "variance": plain(self.input_variance)}
