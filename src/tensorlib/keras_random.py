"""``keras.random``: seeded random tensors for Keras 3 code (``SeedGenerator``,
``normal``, ``uniform``, ``dropout``, ...). ``import tensorlib`` publishes these names onto
``tensorlib.random`` (whose ``Generator`` feeds initialisers and tensor creation), so
``keras.random.SeedGenerator`` works with ``import tensorlib as keras``.

A ``seed`` is None (the default generator, which ``keras.utils.set_random_seed`` seeds),
an int (the same numbers at every call, as in Keras) or a ``SeedGenerator`` (a state each
call advances)."""
import numpy as np

from .config import floatx
from .random import Generator, default_generator
from .tensor import Tensor


class SeedGenerator:
    """``keras.random.SeedGenerator``: a random state that the random functions given it
    as ``seed=`` advance, so successive calls differ and the sequence is reproducible
    from ``seed``. Without a seed it is seeded from the default generator (which
    ``keras.utils.set_random_seed`` seeds)."""

    def __init__(self, seed=None, name=None, **kwargs):
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)
                                 or seed < 0):
            raise ValueError("SeedGenerator: `seed` must be a non-negative integer or None. "
                             f"Received: seed={seed!r}")
        if seed is None:
            seed = int(default_generator.rng.integers(0, 2**31 - 1))
        self.seed, self.name = seed, name or "seed_generator"
        self.rng = np.random.default_rng(seed)

    def next(self):
        """A fresh integer seed (the state advances)."""
        return int(self.rng.integers(0, 2**31 - 1))

    def get_config(self):
        return {"seed": self.seed}


def _rng(func, seed):
    if seed is None:
        return default_generator.rng
    if isinstance(seed, (SeedGenerator, Generator)):
        return seed.rng
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed >= 0:
        return np.random.default_rng(int(seed))
    raise ValueError(f"{func}: `seed` must be None, a non-negative integer or a "
                     f"SeedGenerator. Received: seed={seed!r}")


def _float(func, dtype):
    dt = np.dtype(dtype or floatx())
    if dt.kind != "f":
        raise ValueError(f"{func}: `dtype` must be a floating-point type. Received: "
                         f"dtype={dtype!r}")
    return dt


def _shape(func, shape):
    try:
        shape = tuple(int(d) for d in (shape if isinstance(shape, (tuple, list)) else
                                        (shape,)))
    except (TypeError, ValueError):
        shape = None
    if shape is None or any(d < 0 for d in shape):
        raise ValueError(f"{func}: `shape` must be a tuple of non-negative integers. "
                         f"Received: shape={shape!r}")
    return shape


def _tensor(a):
    return Tensor(np.ascontiguousarray(a))


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    dt, shape = _float("normal", dtype), _shape("normal", shape)
    return _tensor((_rng("normal", seed).standard_normal(shape) * stddev + mean).astype(dt))


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    dt, shape = _float("uniform", dtype), _shape("uniform", shape)
    return _tensor(_rng("uniform", seed).uniform(minval, maxval, shape).astype(dt))


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Normal values redrawn until within two standard deviations of the mean."""
    dt, shape = _float("truncated_normal", dtype), _shape("truncated_normal", shape)
    rng = _rng("truncated_normal", seed)
    z = rng.standard_normal(shape)
    bad = np.abs(z) > 2
    while bad.any():
        z[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(z) > 2
    return _tensor((z * stddev + mean).astype(dt))


def randint(shape, minval, maxval, dtype="int32", seed=None):
    shape = _shape("randint", shape)
    if np.dtype(dtype).kind not in "iu":
        raise ValueError(f"randint: `dtype` must be an integer type. Received: dtype={dtype!r}")
    if not maxval > minval:
        raise ValueError(f"randint: `maxval` must be greater than `minval`. Received: "
                         f"minval={minval!r}, maxval={maxval!r}")
    return _tensor(_rng("randint", seed).integers(minval, maxval, shape).astype(dtype))


def dropout(inputs, rate, noise_shape=None, seed=None):
    """Zero each value with probability ``rate`` and scale the rest by 1 / (1 - rate);
    differentiable in ``inputs`` (the mask is a constant)."""
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
        raise ValueError(f"dropout: `rate` must be a number in [0, 1). Received: rate={rate!r}")
    x = inputs if isinstance(inputs, Tensor) else Tensor(np.asarray(inputs))
    shape = x.shape if noise_shape is None else tuple(
        x.shape[i] if d is None else d for i, d in enumerate(noise_shape))
    keep = _rng("dropout", seed).random(shape) >= rate
    return x * (keep.astype(x.dtype) / np.asarray(1.0 - rate, x.dtype))


def shuffle(x, axis=0, seed=None):
    """``x`` with its entries permuted along ``axis``."""
    data = x.data if isinstance(x, Tensor) else np.asarray(x)
    perm = _rng("shuffle", seed).permutation(data.shape[axis])
    return _tensor(np.take(data, perm, axis=axis))


def categorical(logits, num_samples, dtype="int32", seed=None):
    """``num_samples`` class indices per row of ``logits`` (batch, classes)."""
    z = np.asarray(logits.data if isinstance(logits, Tensor) else logits, np.float64)
    if z.ndim != 2:
        raise ValueError(f"categorical: `logits` must be 2-D (batch, classes). Received: "
                         f"logits.shape={z.shape}")
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    u = _rng("categorical", seed).random((z.shape[0], num_samples))
    cdf = np.cumsum(p, axis=1)
    idx = (u[:, :, None] > cdf[:, None, :]).sum(axis=2)
    return _tensor(np.minimum(idx, z.shape[1] - 1).astype(dtype))


def gamma(shape, alpha, dtype=None, seed=None):
    dt, shape = _float("gamma", dtype), _shape("gamma", shape)
    return _tensor(_rng("gamma", seed).gamma(alpha, 1.0, shape).astype(dt))


def binomial(shape, counts, probabilities, dtype=None, seed=None):
    dt, shape = _float("binomial", dtype), _shape("binomial", shape)
    return _tensor(_rng("binomial", seed).binomial(counts, probabilities, shape).astype(dt))


def beta(shape, alpha, beta, dtype=None, seed=None):  # noqa: A002 - Keras's name
    dt, shape = _float("beta", dtype), _shape("beta", shape)
    return _tensor(_rng("beta", seed).beta(alpha, beta, shape).astype(dt))


__all__ = ["SeedGenerator", "normal", "uniform", "truncated_normal", "randint", "dropout",
           "shuffle", "categorical", "gamma", "binomial", "beta"]
