"""Stand-in data for the corpus scripts (no downloads: the test machines are offline).

Each function returns arrays with the shapes and dtypes of the Keras dataset it replaces,
only fewer samples. MNIST-shaped data is a slice of the real Fashion-MNIST files that
Debian's ``dataset-fashion-mnist`` package installs; everything else is seeded random data.
Only NumPy is used, so the same scripts run under tensorlib and under real Keras.
"""
import gzip
import os

import numpy as np

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
_rng = np.random.default_rng(0)


def _idx(name, count, offset, shape):
    with gzip.open(os.path.join(FASHION_MNIST_DIR, name), "rb") as f:
        data = f.read()
    return np.frombuffer(data, np.uint8, count * int(np.prod(shape)), offset).reshape(
        (count,) + shape)


def mnist_like(n_train=1000, n_test=200):
    """Like ``keras.datasets.mnist.load_data()``: uint8 (n, 28, 28) images, uint8 labels."""
    x_train = _idx("train-images-idx3-ubyte.gz", n_train, 16, (28, 28))
    y_train = _idx("train-labels-idx1-ubyte.gz", n_train, 8, ())
    x_test = _idx("t10k-images-idx3-ubyte.gz", n_test, 16, (28, 28))
    y_test = _idx("t10k-labels-idx1-ubyte.gz", n_test, 8, ())
    return (x_train.copy(), y_train.copy()), (x_test.copy(), y_test.copy())


def cifar10_like(n_train=200, n_test=50):
    """Like ``keras.datasets.cifar10.load_data()``: uint8 (n, 32, 32, 3), uint8 (n, 1)."""
    def part(n):
        return (_rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8),
                _rng.integers(0, 10, (n, 1), dtype=np.uint8))
    return part(n_train), part(n_test)


def forda_like(n, length=500):
    """Like the FordA TSV files read by ``readucr``: float64 (n, length), int labels +-1."""
    y = _rng.choice(np.array([-1, 1]), n)
    t = np.linspace(0.0, 1.0, length)
    x = np.sin(2 * np.pi * (3 + 2 * (y[:, None] > 0)) * t) + _rng.normal(0, 1, (n, length))
    return x, y.astype(int)
