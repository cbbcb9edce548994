"""Keras 3's random image augmentation layers (NHWC; batched 4-D or unbatched 3-D images).

Each layer is active only when called with ``training=True`` (in ``fit``, and when called
directly outside a model, as in Keras) and is the identity otherwise. Its work is split in
two, as in Keras: ``get_random_transformation`` draws the random parameters from the
layer's seeded generator (``seed``; without one, tensorlib's default generator, which
``tensorlib.utils.set_random_seed`` seeds), and ``transform_images`` applies them
deterministically (image_transform.py). Gradients flow to the images, never to the
parameters. The layers have no weights.
"""
import numbers

import numpy as np

from ..random import Generator, get_generator
from ..tensor import Tensor
from . import image_transform as it
from .base import Layer


class UnknownOptionError(NotImplementedError, ValueError):
    """An unknown ``fill_mode`` or ``interpolation``: Keras raises NotImplementedError;
    this is also a ValueError, as tensorlib's argument errors are."""


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _check_seed(cls, seed):
    if seed is not None and (not isinstance(seed, (int, np.integer))
                             or isinstance(seed, (bool, np.bool_)) or seed < 0):
        raise ValueError(f"{cls}: argument `seed` must be a non-negative integer or None. "
                         f"Received: seed={seed!r}")
    return None if seed is None else int(seed)


def _check_rank(layer, shape):
    if len(shape) not in (3, 4):
        raise ValueError(f"Layer {layer.name!r} ({type(layer).__name__}): expected image "
                         "tensor to have rank 3 (single image) or 4 (batch of images). "
                         f"Received: data.shape={tuple(shape)}")


class _ImageAugmentation(Layer):
    """The shared contract: seed, data_format, rank checks, training switch, batching."""

    def __init__(self, seed=None, data_format=None, **kwargs):
        super().__init__(**kwargs)
        cls = type(self).__name__
        if data_format not in (None, "channels_last"):
            raise ValueError(f"{cls}: tensorlib images are channels_last (NHWC). "
                             f"Received: data_format={data_format!r}")
        self.data_format = "channels_last"
        self.seed = _check_seed(cls, seed)
        self._gen = Generator(self.seed) if self.seed is not None else None

    def build(self, input_shape):
        _check_rank(self, input_shape)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def _inference_fn(self, input_shape):
        return lambda a: a          # inference: the identity

    def call(self, inputs, training=True):
        _check_rank(self, inputs.shape)
        if not training:
            return inputs
        return self.transform_images(inputs, self.get_random_transformation(inputs))

    def get_random_transformation(self, data, training=True, seed=None):
        """The random parameters for the images ``data`` (3-D or 4-D; one set per image,
        a batch of one for a 3-D image), drawn from ``seed`` (an int or a
        tensorlib.random.Generator) or else the layer's generator; None if not training."""
        if not training:
            return None
        shape = tuple(np.shape(data.data if isinstance(data, Tensor) else data))
        _check_rank(self, shape)
        if seed is None:
            gen = get_generator(self._gen)
        else:
            gen = seed if isinstance(seed, Generator) else Generator(_check_seed(
                type(self).__name__, seed))
        batch = 1 if len(shape) == 3 else shape[0]
        return self._draw(gen, batch, shape[-3], shape[-2])

    def transform_images(self, images, transformation, training=True):
        """``images`` (3-D or 4-D Tensor or array) transformed by the parameters
        ``transformation`` (Keras's keys); a Tensor of the layer's dtype."""
        x = images if isinstance(images, Tensor) else Tensor(np.asarray(images))
        if x.dtype != self.dtype:
            x = x.astype(self.dtype)
        _check_rank(self, x.shape)
        if not training or transformation is None:
            return x
        unbatched = x.ndim == 3
        if unbatched:
            x = x.reshape((1,) + x.shape)
        out = self._transform(x, transformation)
        return out.reshape(out.shape[1:]) if unbatched else out

    def _uniform(self, gen, shape, low, high):
        return gen.uniform(shape, np.float64, low, high).astype(self.dtype)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


class RandomFlip(_ImageAugmentation):
    """Flip each image left-right (``"horizontal"``), top-bottom (``"vertical"``) or both
    (``"horizontal_and_vertical"``: as in Keras, both or neither), with probability 1/2."""

    _MODES = ("horizontal", "vertical", "horizontal_and_vertical")

    def __init__(self, mode="horizontal_and_vertical", seed=None, data_format=None,
                 **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        if mode not in self._MODES:
            raise ValueError(f"RandomFlip: `mode` must be one of {self._MODES}. Received: "
                             f"mode={mode!r}")
        self.mode = mode

    def _draw(self, gen, batch, height, width):
        return {"flips": (gen.uniform((batch, 1, 1, 1), np.float64) <= 0.5)}

    def _transform(self, x, transformation):
        flips = np.asarray(transformation["flips"], dtype=bool).reshape(-1)
        return it.Flip.apply(x, mask=np.broadcast_to(flips, (x.shape[0],)),
                             horizontal=self.mode != "vertical",
                             vertical=self.mode != "horizontal")

    def get_config(self):
        return {**super().get_config(), "seed": self.seed, "mode": self.mode}


class _AffineAugmentation(_ImageAugmentation):
    """A layer resampling the images through an affine transform, with Keras's
    ``fill_mode``, ``interpolation`` and ``fill_value``."""

    def _set_sampling(self, fill_mode, interpolation, fill_value):
        cls = type(self).__name__
        if fill_mode not in it.FILL_MODES:
            raise UnknownOptionError(f"{cls}: unknown `fill_mode` {fill_mode!r}. Expected "
                                     f"one of {it.FILL_MODES}. Received: "
                                     f"fill_mode={fill_mode!r}")
        if interpolation not in it.INTERPOLATIONS:
            raise UnknownOptionError(f"{cls}: unknown `interpolation` {interpolation!r}. "
                                     f"Expected one of {it.INTERPOLATIONS}. Received: "
                                     f"interpolation={interpolation!r}")
        if not _is_number(fill_value):
            raise ValueError(f"{cls}: `fill_value` must be a number. Received: "
                             f"fill_value={fill_value!r}")
        self.fill_mode, self.interpolation = fill_mode, interpolation
        self.fill_value = float(fill_value)

    @property
    def _matrix_dtype(self):
        """Keras computes the transform and sampling points in float32 (here float64 for
        float64 layers)."""
        return np.float64 if self.dtype == np.float64 else np.float32

    def _resample(self, x, matrix):
        return it.affine_transform(x, np.asarray(matrix, dtype=self._matrix_dtype),
                                   self.interpolation, self.fill_mode, self.fill_value)

    def _sampling_config(self):
        return {"fill_mode": self.fill_mode, "fill_value": self.fill_value,
                "interpolation": self.interpolation, "seed": self.seed}


def _symmetric_factor(cls, value, lo, hi):
    """Keras's base-layer ``factor``: a number f -> (max(-|f|, lo), |f|); a pair ->
    sorted (Keras checks only factor[0] <= hi and factor[1] >= lo)."""
    msg = (f"{cls}: the `factor` argument should be a number (or a list of two numbers) in "
           f"the range [{lo}, {hi}]. Received: factor={value!r}")
    if isinstance(value, (tuple, list)):
        if len(value) != 2 or not all(_is_number(v) for v in value) \
                or value[0] > hi or value[1] < lo:
            raise ValueError(msg)
        return tuple(sorted(value))
    if not _is_number(value) or not lo <= value <= hi:
        raise ValueError(msg)
    return max(-abs(value), lo), abs(value)


def _range_factor(cls, name, value, open_low):
    """RandomZoom/RandomTranslation's factors: a number f -> (-|f|, |f|), a pair ->
    sorted; every number in (-1, 1] (zoom) or [-1, 1] (translation)."""
    rng = "(-1.0, 1.0]" if open_low else "[-1.0, 1.0]"
    msg = (f"{cls}: the `{name}` argument should be a number (or a list of two numbers) "
           f"in the range {rng}. Received: {name}={value!r}")
    pair = isinstance(value, (tuple, list))
    values = list(value) if pair else [value]
    if pair and len(values) != 2:
        raise ValueError(msg)
    for v in values:
        if not _is_number(v) or v > 1.0 or v < -1.0 or (open_low and v == -1.0):
            raise ValueError(msg)
    return tuple(sorted(values)) if pair else (-abs(value), abs(value))


class RandomRotation(_AffineAugmentation):
    """Rotate each image about its centre by an angle drawn uniformly from
    ``factor * 360`` degrees (``factor`` a number f: [-f, f]; or a pair (low, high))."""

    def __init__(self, factor, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = _symmetric_factor("RandomRotation", factor, -1, 1)
        self._set_sampling(fill_mode, interpolation, fill_value)

    def _draw(self, gen, batch, height, width):
        angle = self._uniform(gen, (batch,), self.factor[0] * 360.0, self.factor[1] * 360.0)
        return {"angle": angle,
                "rotation_matrix": it.rotation_matrix(angle, height, width).astype(
                    self._matrix_dtype)}

    def _transform(self, x, transformation):
        matrix = transformation.get("rotation_matrix")
        if matrix is None:
            matrix = it.rotation_matrix(transformation["angle"], x.shape[1], x.shape[2])
        return self._resample(x, matrix)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, **self._sampling_config()}


class RandomZoom(_AffineAugmentation):
    """Zoom each image about its centre: the height scale is 1 + a draw from
    ``height_factor`` (negative: zoom in, positive: zoom out), the width one from
    ``width_factor``, or the same as the height when it is None."""

    def __init__(self, height_factor, width_factor=None, fill_mode="reflect",
                 interpolation="bilinear", seed=None, fill_value=0.0, data_format=None,
                 **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.height_factor, self.width_factor = height_factor, width_factor
        self.height_lower, self.height_upper = _range_factor(
            "RandomZoom", "height_factor", height_factor, open_low=True)
        if width_factor is not None:
            self.width_lower, self.width_upper = _range_factor(
                "RandomZoom", "width_factor", width_factor, open_low=True)
        self._set_sampling(fill_mode, interpolation, fill_value)

    def _draw(self, gen, batch, height, width):
        height_zoom = self._uniform(gen, (batch, 1), 1.0 + self.height_lower,
                                    1.0 + self.height_upper)
        width_zoom = height_zoom if self.width_factor is None else self._uniform(
            gen, (batch, 1), 1.0 + self.width_lower, 1.0 + self.width_upper)
        return {"height_zoom": height_zoom, "width_zoom": width_zoom}

    def _transform(self, x, transformation):
        return self._resample(x, it.zoom_matrix(transformation["width_zoom"],
                                                transformation["height_zoom"],
                                                x.shape[1], x.shape[2]))

    def get_config(self):
        return {**super().get_config(), "height_factor": self.height_factor,
                "width_factor": self.width_factor, **self._sampling_config()}


class RandomTranslation(_AffineAugmentation):
    """Shift each image by a fraction of its height drawn from ``height_factor`` (positive:
    down) and of its width drawn from ``width_factor`` (positive: right)."""

    def __init__(self, height_factor, width_factor, fill_mode="reflect",
                 interpolation="bilinear", seed=None, fill_value=0.0, data_format=None,
                 **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.height_factor, self.width_factor = height_factor, width_factor
        self.height_lower, self.height_upper = _range_factor(
            "RandomTranslation", "height_factor", height_factor, open_low=False)
        self.width_lower, self.width_upper = _range_factor(
            "RandomTranslation", "width_factor", width_factor, open_low=False)
        self._set_sampling(fill_mode, interpolation, fill_value)

    def _draw(self, gen, batch, height, width):
        dy = self._uniform(gen, (batch, 1), self.height_lower, self.height_upper) * height
        dx = self._uniform(gen, (batch, 1), self.width_lower, self.width_upper) * width
        return {"translations": np.concatenate([dx, dy], axis=1).astype(self._matrix_dtype)}

    def _transform(self, x, transformation):
        return self._resample(x, it.translation_matrix(transformation["translations"]))

    def get_config(self):
        return {**super().get_config(), "height_factor": self.height_factor,
                "width_factor": self.width_factor, **self._sampling_config()}


class RandomContrast(_ImageAugmentation):
    """Scale each channel of each image about its mean: ``(x - mean) * c + mean``, with c
    drawn from [1 - factor[0], 1 + factor[1]], then clip to ``value_range``. As in Keras
    3, a single number f means (0, f): contrast is then only increased."""

    def __init__(self, factor, value_range=(0, 255), seed=None, data_format=None,
                 **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = _symmetric_factor("RandomContrast", factor, 0, 1)
        if not isinstance(value_range, (tuple, list)) or len(value_range) != 2 \
                or not all(_is_number(v) for v in value_range):
            raise ValueError("RandomContrast: `value_range` must be a pair of numbers "
                             f"[low, high]. Received: value_range={value_range!r}")
        self.value_range = tuple(value_range)

    def _draw(self, gen, batch, height, width):
        return {"contrast_factor": self._uniform(gen, (batch, 1, 1, 1), 1.0 - self.factor[0],
                                                 1.0 + self.factor[1])}

    def _transform(self, x, transformation):
        c = np.asarray(transformation["contrast_factor"], dtype=self.dtype)
        mean = x.mean(axis=1, keepdims=True).mean(axis=2, keepdims=True)
        out = (x - mean) * Tensor(c.reshape(-1, 1, 1, 1)) + mean
        return out.clip(self.value_range[0], self.value_range[1])

    def get_config(self):
        return {**super().get_config(), "factor": self.factor,
                "value_range": self.value_range, "seed": self.seed}

