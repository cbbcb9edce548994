"""CIFAR-100 small images (100 fine or 20 coarse classes), Keras-compatible loader:
Keras's origin, sha256 and cache layout (``cifar-100-python-target``)."""
from . import _cifar

ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
FILE_HASH = "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7"


def load_data(label_mode="fine"):
    """``(x_train, y_train), (x_test, y_test)``: uint8 images (50000, 32, 32, 3) and
    (10000, 32, 32, 3), uint8 labels (n, 1): ``fine`` (0-99) or ``coarse`` (0-19)."""
    if label_mode not in ("fine", "coarse"):
        raise ValueError('`label_mode` must be one of `"fine"`, `"coarse"`. '
                         f"Received: label_mode={label_mode}.")
    path = _cifar.extracted("cifar-100-python-target", "cifar-100-python",
                            ("train", "test"), FILE_HASH, ORIGIN, "CIFAR-100")
    key = f"{label_mode}_labels"
    x_train, y_train = _cifar.load_batch(f"{path}/train", key)
    x_test, y_test = _cifar.load_batch(f"{path}/test", key)
    return _cifar.finish(x_train, y_train, x_test, y_test)
