"""Seedable random number generation for tensor creation and weight initialisation."""
import numpy as np


class Generator:
    """A seedable source of random numbers (wraps ``numpy.random.Generator``)."""

    def __init__(self, seed=None):
        self.manual_seed(seed)

    def manual_seed(self, seed):
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        return self

    def normal(self, shape, dtype=np.float32, mean=0.0, std=1.0):
        return (self.rng.standard_normal(shape) * std + mean).astype(dtype, copy=False)

    def uniform(self, shape, dtype=np.float32, low=0.0, high=1.0):
        dtype = np.dtype(dtype)
        if low == 0.0 and high == 1.0 and dtype in (np.float32, np.float64):
            return self.rng.random(shape, dtype=dtype)      # never rounds up to 1.0
        return self.rng.uniform(low, high, shape).astype(dtype, copy=False)

    def permutation(self, n):
        return self.rng.permutation(n)


default_generator = Generator()


def manual_seed(seed):
    """Seed the default generator so ``randn``/``rand`` and initializers are reproducible."""
    default_generator.manual_seed(seed)
    return default_generator


def get_generator(generator=None):
    return default_generator if generator is None else generator
