"""Boston housing prices, Keras-compatible loader (``boston_housing.npz`` from Keras's
mirror, pinned by sha256)."""
import numpy as np

from . import _download, _fetch
from ._download import DatasetIntegrityError

FILE_HASH = "f553886a1f8d56431e820c5b82552d9d95cfcb96d1e678153f8839538947dff5"


def load_data(path="boston_housing.npz", test_split=0.2, seed=113):
    """``(x_train, y_train), (x_test, y_test)``: 13 features per house and its price
    (k$); the samples shuffled with ``seed`` and the last ``test_split`` kept for test."""
    if not 0 <= test_split < 1:
        raise ValueError(f"Invalid `test_split` argument: {test_split}. It must be between "
                         "0 and 1 (exclusive of 1).")
    target = _fetch.fetch("boston_housing.npz", FILE_HASH,
                          _download.BASE_URL + "boston_housing.npz", "Boston housing",
                          cache_name=path)
    f = _fetch.load_npz(target, ("x", "y"), "Boston housing")
    x, y = f["x"], f["y"]
    if x.dtype == object or y.dtype == object or x.ndim != 2 or y.shape != (len(x),):
        raise DatasetIntegrityError(f"{target}: expected x (samples, features) and y "
                                    f"(samples,). Received: x {x.shape}, y {y.shape}")
    rng = np.random.RandomState(seed)
    indices = np.arange(len(x))
    rng.shuffle(indices)
    x, y = x[indices], y[indices]
    cut = int(len(x) * (1 - test_split))
    return (np.array(x[:cut]), np.array(y[:cut])), (np.array(x[cut:]), np.array(y[cut:]))
