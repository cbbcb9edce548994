"""CIFAR-10 small images (10 classes), Keras-compatible loader: Keras's origin, sha256
and cache layout (``cifar-10-batches-py-target_archive`` extracted into
``cifar-10-batches-py-target/``)."""
import numpy as np

from . import _cifar

ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
FILE_HASH = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)


def load_data():
    """``(x_train, y_train), (x_test, y_test)``: uint8 images (50000, 32, 32, 3) and
    (10000, 32, 32, 3), uint8 labels (n, 1) in 0-9."""
    path = _cifar.extracted("cifar-10-batches-py-target", "cifar-10-batches-py", BATCHES,
                            FILE_HASH, ORIGIN, "CIFAR-10")
    train = [_cifar.load_batch(f"{path}/{b}") for b in BATCHES[:5]]
    x_test, y_test = _cifar.load_batch(f"{path}/test_batch")
    return _cifar.finish(np.concatenate([x for x, _ in train]),
                         np.concatenate([y for _, y in train]), x_test, y_test)
