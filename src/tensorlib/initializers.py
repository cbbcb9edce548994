"""Weight initializers with Keras's names, defaults and fan computation."""
import math

import numpy as np

from .random import get_generator


def compute_fans(shape):
    """Keras's (fan_in, fan_out): dense (in, out); conv (kh, kw, ..., in, out)."""
    shape = tuple(shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


class Initializer:
    def __call__(self, shape, dtype=np.float32):
        raise NotImplementedError

    def get_config(self):
        return {}


class Zeros(Initializer):
    def __call__(self, shape, dtype=np.float32):
        return np.zeros(shape, dtype)


class Ones(Initializer):
    def __call__(self, shape, dtype=np.float32):
        return np.ones(shape, dtype)


class Constant(Initializer):
    def __init__(self, value=0.0):
        self.value = value

    def __call__(self, shape, dtype=np.float32):
        return np.full(shape, self.value, dtype)


class RandomNormal(Initializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev, self.seed = mean, stddev, seed

    def __call__(self, shape, dtype=np.float32):
        return _gen(self.seed).normal(shape, dtype, self.mean, self.stddev)


class RandomUniform(Initializer):
    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval, self.maxval, self.seed = minval, maxval, seed

    def __call__(self, shape, dtype=np.float32):
        return _gen(self.seed).uniform(shape, dtype, self.minval, self.maxval)


class VarianceScaling(Initializer):
    """Keras's VarianceScaling: scale / fan, normal (truncated at 2 std) or uniform."""

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"Invalid `mode` argument. Received: mode={mode!r}")
        if distribution not in ("truncated_normal", "untruncated_normal", "uniform"):
            raise ValueError(f"Invalid `distribution` argument. Received: {distribution!r}")
        self.scale, self.mode, self.distribution, self.seed = scale, mode, distribution, seed

    def __call__(self, shape, dtype=np.float32):
        fan_in, fan_out = compute_fans(shape)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}
        scale = self.scale / max(1.0, fan[self.mode])
        gen = _gen(self.seed)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * scale)
            return gen.uniform(shape, dtype, -limit, limit)
        if self.distribution == "untruncated_normal":
            return gen.normal(shape, dtype, 0.0, math.sqrt(scale))
        std = math.sqrt(scale) / 0.87962566103423978  # std of a unit normal cut at +-2
        out = gen.rng.standard_normal(shape)
        bad = np.abs(out) > 2
        while bad.any():
            out[bad] = gen.rng.standard_normal(int(bad.sum()))
            bad = np.abs(out) > 2
        return (out * std).astype(dtype)

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution,
                "seed": self.seed}


def _gen(seed):
    from .random import Generator
    return get_generator(None) if seed is None else Generator(seed)


def GlorotUniform(seed=None):  # noqa: N802 - Keras class-like name
    return VarianceScaling(1.0, "fan_avg", "uniform", seed)


def GlorotNormal(seed=None):  # noqa: N802
    return VarianceScaling(1.0, "fan_avg", "truncated_normal", seed)


def HeUniform(seed=None):  # noqa: N802
    return VarianceScaling(2.0, "fan_in", "uniform", seed)


def HeNormal(seed=None):  # noqa: N802
    return VarianceScaling(2.0, "fan_in", "truncated_normal", seed)


def LecunNormal(seed=None):  # noqa: N802
    return VarianceScaling(1.0, "fan_in", "truncated_normal", seed)


def LecunUniform(seed=None):  # noqa: N802
    return VarianceScaling(1.0, "fan_in", "uniform", seed)


_REGISTRY = {
    "zeros": Zeros, "ones": Ones, "constant": Constant,
    "random_normal": RandomNormal, "random_uniform": RandomUniform,
    "glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal,
    "he_uniform": HeUniform, "he_normal": HeNormal, "lecun_normal": LecunNormal,
    "lecun_uniform": LecunUniform,
    "uniform": RandomUniform, "normal": RandomNormal,     # Keras's short aliases
}


def get(identifier):
    """An initializer from a Keras name, an instance or a callable."""
    if isinstance(identifier, str):
        key = identifier.lower()
        if key in _REGISTRY:
            return _REGISTRY[key]()
    elif callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret initializer identifier: {identifier!r}")
