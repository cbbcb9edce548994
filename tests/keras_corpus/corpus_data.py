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


def cifar100_like(n_train=200, n_test=50):
    """Like ``keras.datasets.cifar100.load_data()``: uint8 (n, 32, 32, 3), int64 (n, 1)."""
    def part(n):
        return (_rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8),
                _rng.integers(0, 100, (n, 1), dtype=np.int64))
    return part(n_train), part(n_test)


def _sequences(n, num_words, min_len, max_len):
    # keras.datasets.imdb/reuters: object arrays of int lists that start with 1 (start
    # character), word indices from 4 (0 pad, 2 out-of-vocabulary) below num_words.
    out = np.empty(n, dtype=object)
    for i in range(n):
        length = int(_rng.integers(min_len, max_len + 1))
        out[i] = [1] + [int(v) for v in _rng.integers(4, num_words, length - 1)]
    return out


def imdb_like(num_words=10000, n_train=200, n_test=100):
    """Like ``keras.datasets.imdb.load_data(num_words=...)``: sequences, int64 0/1 labels."""
    def part(n):
        return (_sequences(n, num_words, 20, 300), _rng.integers(0, 2, n).astype(np.int64))
    return part(n_train), part(n_test)


def reuters_like(num_words=10000, n_train=200, n_test=100):
    """Like ``keras.datasets.reuters.load_data(num_words=...)``: sequences, int64 0..45."""
    def part(n):
        labels = np.concatenate([np.arange(46), _rng.integers(0, 46, max(n - 46, 0))])[:n]
        return _sequences(n, num_words, 20, 200), _rng.permutation(labels).astype(np.int64)
    return part(n_train), part(n_test)


def word_index_like(num_words=10000):
    """Like ``imdb.get_word_index()`` / ``reuters.get_word_index()``: word -> rank."""
    return {f"word{i}": i for i in range(1, num_words)}


def california_housing_like(n_train=160, n_test=40):
    """Like ``california_housing.load_data(version="small")``: float32 (n, 8), prices."""
    def part(n):
        x = _rng.normal(0, 1, (n, 8)).astype(np.float32) * 10 + 30
        y = (x[:, 0] * 5000 + _rng.normal(0, 20000, n) + 150000).astype(np.float32)
        return x, y
    return part(n_train), part(n_test)


def creditcard_csv_like(n=3000, fraud_rate=0.02, path="creditcard.csv"):
    """Write a stand-in for Kaggle's creditcard.csv (30 quoted-header float columns and a
    quoted 0/1 "Class") into the working directory and return its path."""
    x = _rng.normal(0, 1, (n, 30))
    x[:, 0] = np.sort(_rng.uniform(0, 172792, n))
    x[:, 29] = np.abs(_rng.normal(88, 250, n))
    y = (_rng.random(n) < fraud_rate).astype(int)
    x[y == 1, 1:5] += 2.0
    header = ['"Time"'] + [f'"V{i}"' for i in range(1, 29)] + ['"Amount"', '"Class"']
    with open(path, "w") as f:
        f.write(",".join(header) + "\n")
        for row, label in zip(x, y):
            f.write(",".join(repr(float(v)) for v in row) + f',"{label}"\n')
    return path
