"""Keras 3's training-time noise layers: GaussianNoise (additive N(0, stddev^2) noise) and
SpatialDropout2D (whole channels dropped, the rest scaled by 1/(1-rate)). Both are the
identity unless called with ``training=True``; random numbers come from ``tensorlib.random``
(a layer with a ``seed`` has its own generator, as Dropout does)."""
import numpy as np

from ..random import Generator, get_generator
from ..tensor import Tensor
from .base import Layer, check_rank
from .core import Dropout
from .reshaping import data_format_of


def _seed(layer, seed):
    if seed is not None and (isinstance(seed, (bool, np.bool_))
                             or not isinstance(seed, (int, np.integer)) or seed < 0):
        raise ValueError(f"{layer}: `seed` must be a non-negative integer or None. "
                         f"Received: seed={seed!r}")
    return None if seed is None else int(seed)


class GaussianNoise(Layer):
    """``GaussianNoise(stddev, seed=None)``: adds zero-centred Gaussian noise of standard
    deviation ``stddev`` (in [0, 1], as Keras requires) when training."""

    supports_masking = True

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(stddev, (bool, np.bool_)) or not isinstance(
                stddev, (int, float, np.integer, np.floating)) or not 0 <= stddev <= 1:
            raise ValueError("GaussianNoise: invalid value received for argument `stddev`. "
                             f"Expected a float value between 0 and 1. Received: "
                             f"stddev={stddev!r}")
        self.stddev, self.seed = float(stddev), _seed("GaussianNoise", seed)
        self._gen = Generator(self.seed) if self.seed is not None else None

    def _inference_fn(self, input_shape):
        return lambda a: a

    def call(self, x, training=False):
        if not training or self.stddev == 0:
            return x
        noise = get_generator(self._gen).normal(x.shape, x.dtype, std=self.stddev)
        return x + Tensor(noise)

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}


class SpatialDropout2D(Dropout):
    """``SpatialDropout2D(rate, data_format=None, seed=None)``: when training, each
    (sample, channel) feature map is zeroed with probability ``rate``; the kept ones are
    scaled by ``1 / (1 - rate)``."""

    def __init__(self, rate, data_format=None, seed=None, name=None, dtype=None, **kwargs):
        super().__init__(rate, seed=_seed("SpatialDropout2D", seed), name=name, dtype=dtype,
                         **kwargs)
        self.data_format = data_format_of("SpatialDropout2D", data_format)

    def compute_output_shape(self, input_shape):
        check_rank(self, input_shape, 4, "a batch of images")
        return tuple(input_shape)

    def call(self, x, training=False):
        check_rank(self, x.shape, 4, "a batch of images")
        if not training or self.rate == 0:
            return x
        n, a, b, c = x.shape
        shape = (n, 1, 1, c) if self.data_format == "channels_last" else (n, a, 1, 1)
        keep = get_generator(self._gen).uniform(shape, x.dtype) >= self.rate
        return x * Tensor((keep / (1 - self.rate)).astype(x.dtype))

    def get_config(self):
        """Keras's keys: no ``trainable`` and no ``noise_shape``."""
        return {"rate": self.rate, "seed": self.seed, "name": self.name,
                "dtype": self.dtype.name, "data_format": self.data_format}
