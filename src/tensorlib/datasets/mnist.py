"""MNIST handwritten digits, Keras-compatible loader.

Lookup order:

1. the cache: ``$TENSORLIB_HOME/datasets/<path>`` (default
   ``~/.tensorlib/datasets/mnist.npz``, the file Keras keeps in
   ``~/.keras/datasets/mnist.npz``), verified by sha256;
2. ``SYSTEM_DIRS``: ``mnist.npz``, or the four original IDX files
   (``train-images-idx3-ubyte.gz`` ...), validated by structure;
3. ``BASE_URL + "mnist.npz"`` (Keras's mirror), downloaded into the cache and
   verified by sha256.
"""
import os
import warnings
import zipfile

import numpy as np

from . import _download
from ._download import DatasetIntegrityError, DatasetUnavailableError

SYSTEM_DIRS = ["/usr/share/datasets/mnist"]
NUM_TRAIN = 60000
NUM_TEST = 10000
IMAGE_SHAPE = (28, 28)
NUM_CLASSES = 10

# sha256 pinned by Keras's keras/datasets/mnist.py for this exact archive.
FILES = {
    "mnist.npz": ("731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1",),
}
IDX_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
             "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
_KEYS = ("x_train", "y_train", "x_test", "y_test")


def _load_npz(path):
    try:
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise ValueError("not an .npz archive")
        with data:
            missing = [k for k in _KEYS if k not in data.files]
            if missing:
                raise DatasetIntegrityError(
                    f"{path}: missing arrays {missing}; an MNIST archive holds "
                    f"{list(_KEYS)}. Received: {sorted(data.files)}. Delete it and "
                    f"call load_data() again.")
            arrays = {k: data[k] for k in _KEYS}
    except DatasetIntegrityError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise DatasetIntegrityError(
            f"{path} is not a readable MNIST .npz archive ({type(e).__name__}: {e}). "
            f"Delete it and call load_data() again.") from e
    _download.check_split(arrays["x_train"], arrays["y_train"], NUM_TRAIN,
                          IMAGE_SHAPE, NUM_CLASSES, f"{path} (train)")
    _download.check_split(arrays["x_test"], arrays["y_test"], NUM_TEST,
                          IMAGE_SHAPE, NUM_CLASSES, f"{path} (test)")
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])


def _load_idx(directory):
    p = {name: os.path.join(directory, name) for name in IDX_FILES}
    train = _download.load_idx_pair(p["train-images-idx3-ubyte.gz"],
                                     p["train-labels-idx1-ubyte.gz"],
                                     NUM_TRAIN, IMAGE_SHAPE, NUM_CLASSES)
    test = _download.load_idx_pair(p["t10k-images-idx3-ubyte.gz"],
                                   p["t10k-labels-idx1-ubyte.gz"],
                                   NUM_TEST, IMAGE_SHAPE, NUM_CLASSES)
    return train, test


def _unavailable(target, exc):
    sysdir = SYSTEM_DIRS[0] if SYSTEM_DIRS else "/usr/share/datasets/mnist"
    return DatasetUnavailableError(
        f"MNIST is not available offline and could not be downloaded from "
        f"{exc.url} ({exc.reason}).\n"
        f"Place this file in {os.path.dirname(target)}:\n"
        f"  {os.path.basename(target)}  (Keras's mnist.npz, from "
        f"{_download.base_url()}mnist.npz, sha256 {FILES['mnist.npz'][0]})\n"
        f"or place these files in {sysdir}:\n"
        + "".join(f"  {name}\n" for name in IDX_FILES)
    )


def load_data(path="mnist.npz"):
    """Loads the MNIST dataset.

    Args:
        path: where to cache the dataset, relative to the cache directory
            ``$TENSORLIB_HOME/datasets`` (``~/.tensorlib/datasets`` by default);
            an absolute path is used as is.

    Returns:
        Tuple of NumPy arrays ``(x_train, y_train), (x_test, y_test)``: uint8
        images of shape ``(60000, 28, 28)`` / ``(10000, 28, 28)`` and uint8
        digit labels (0-9) of shape ``(60000,)`` / ``(10000,)``.

    Raises:
        DatasetUnavailableError: not on disk and the server is unreachable; the
            message lists the files and where to put them.
        DatasetIntegrityError: a file is corrupt, truncated or malformed.

    License: Yann LeCun and Corinna Cortes hold the copyright of MNIST, which is
    made available under the CC BY-SA 3.0 license.
    """
    target = os.path.join(_download.cache_dir(), os.fspath(path))
    expected = FILES.get("mnist.npz")
    corrupt = None
    if os.path.isfile(target):
        corrupt = _download.verify_cached(target, expected)
        if corrupt is None:
            return _load_npz(target)
    for d in SYSTEM_DIRS:
        npz = os.path.join(d, "mnist.npz")
        if os.path.isfile(npz):
            return _load_npz(npz)
        if all(os.path.isfile(os.path.join(d, name)) for name in IDX_FILES):
            return _load_idx(d)
    if corrupt is not None:
        warnings.warn(f"Cached file {target} failed its sha256 check (received "
                      f"{corrupt}); downloading it again.", stacklevel=2)
    try:
        target = _download.download("mnist.npz", os.path.dirname(target), expected,
                                    dest_name=os.path.basename(target))
    except _download._Unreachable as e:
        if corrupt is not None:
            raise _download.corrupt_cache_error(
                target, expected, corrupt,
                f" (Re-downloading it failed: {e.url} is unreachable: {e.reason}.)"
            ) from None
        raise _unavailable(target, e) from None
    return _load_npz(target)


__all__ = ["load_data", "DatasetIntegrityError", "DatasetUnavailableError"]
