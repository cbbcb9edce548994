"""Fashion-MNIST dataset (Zalando Research), Keras-compatible loader.

Files are looked for, in order, in

1. the cache, ``$TENSORLIB_HOME/datasets/fashion-mnist`` (default
   ``~/.tensorlib/datasets/fashion-mnist``, the same layout as Keras's
   ``~/.keras/datasets/fashion-mnist``); each file is verified by sha256;
2. ``SYSTEM_DIRS`` (Debian's ``dataset-fashion-mnist`` package installs the
   four files in ``/usr/share/datasets/fashion-mnist``); files there are owned
   by the package manager and are validated by gzip CRC and IDX structure;
3. ``BASE_URL`` (Keras's mirror), downloaded into the cache and verified.
"""
import os
import warnings

from . import _download
from ._download import DatasetIntegrityError, DatasetUnavailableError

CACHE_SUBDIR = "fashion-mnist"
SYSTEM_DIRS = ["/usr/share/datasets/fashion-mnist"]
NUM_TRAIN = 60000
NUM_TEST = 10000
IMAGE_SHAPE = (28, 28)
NUM_CLASSES = 10
CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

# Accepted sha256 of each .gz file. The first value is the original Zalando
# archive, which is what Keras serves and pins in its own fashion_mnist.py
# (sizes 29515 / 26421880 / 5148 / 4422102 bytes). The second value is the
# copy shipped by Debian's dataset-fashion-mnist 0.0~git20200523.55506a9-1,
# which was re-gzipped without the embedded file name (24 bytes smaller each)
# but decompresses to byte-identical IDX data; it is accepted so that files
# copied from /usr/share/datasets/fashion-mnist into the cache also verify.
FILES = {
    "train-labels-idx1-ubyte.gz": (
        "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
    ),
    "train-images-idx3-ubyte.gz": (
        "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
    ),
    "t10k-labels-idx1-ubyte.gz": (
        "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
        "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
    ),
    "t10k-images-idx3-ubyte.gz": (
        "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
    ),
}
_ORDER = ("train-labels-idx1-ubyte.gz", "train-images-idx3-ubyte.gz",
          "t10k-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz")


def _unavailable(missing, cache, exc):
    files = "\n".join(f"  {name}" for name in missing)
    return DatasetUnavailableError(
        f"Fashion-MNIST is not available offline and could not be downloaded from "
        f"{exc.url} ({exc.reason}).\n"
        f"Place these files in {cache}:\n{files}\n"
        f"(from {_download.base_url()} or "
        f"https://github.com/zalandoresearch/fashion-mnist), or install Debian's "
        f"package with `apt-get install dataset-fashion-mnist`, which puts them in "
        f"{SYSTEM_DIRS[0] if SYSTEM_DIRS else '/usr/share/datasets/fashion-mnist'}."
    )


def _resolve():
    """Return ``{name: path}`` for the four files, downloading missing ones."""
    cache = _download.cache_dir(CACHE_SUBDIR)
    found, corrupt, missing = {}, {}, []
    for name in _ORDER:
        cached = os.path.join(cache, name)
        if os.path.isfile(cached):
            bad = _download.verify_cached(cached, FILES.get(name))
            if bad is None:
                found[name] = cached
                continue
            corrupt[name] = bad
        for d in SYSTEM_DIRS:
            candidate = os.path.join(d, name)
            if os.path.isfile(candidate):
                found[name] = candidate
                if name in corrupt:
                    warnings.warn(
                        f"Ignoring corrupt cached file {cached} (sha256 {corrupt[name]}); "
                        f"using {candidate} instead. Delete the cached copy.", stacklevel=3)
                break
        else:
            missing.append(name)
    for name in missing:
        if name in corrupt:
            warnings.warn(
                f"Cached file {os.path.join(cache, name)} failed its sha256 check "
                f"(received {corrupt[name]}); downloading it again.", stacklevel=3)
        try:
            found[name] = _download.download(name, cache, FILES.get(name))
        except _download._Unreachable as e:
            if name in corrupt:
                raise _download.corrupt_cache_error(
                    os.path.join(cache, name), FILES.get(name), corrupt[name],
                    " (Re-downloading it failed: "
                    f"{e.url} is unreachable: {e.reason}.)") from None
            raise _unavailable(missing, cache, e) from None
    return found


def load_data():
    """Loads the Fashion-MNIST dataset.

    60,000 28x28 grayscale images of 10 fashion categories, plus a test set of
    10,000 images. Labels: 0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress,
    4 Coat, 5 Sandal, 6 Shirt, 7 Sneaker, 8 Bag, 9 Ankle boot.

    Returns:
        Tuple of NumPy arrays ``(x_train, y_train), (x_test, y_test)``: uint8
        images of shape ``(60000, 28, 28)`` / ``(10000, 28, 28)`` and uint8
        labels of shape ``(60000,)`` / ``(10000,)``.

    Raises:
        DatasetUnavailableError: files absent and the download server is
            unreachable; the message lists the files and where to put them.
        DatasetIntegrityError: a file is corrupt, truncated or malformed.

    License: Fashion-MNIST is copyright Zalando SE, MIT license.
    """
    paths = _resolve()
    x_train, y_train = _download.load_idx_pair(
        paths["train-images-idx3-ubyte.gz"], paths["train-labels-idx1-ubyte.gz"],
        NUM_TRAIN, IMAGE_SHAPE, NUM_CLASSES)
    x_test, y_test = _download.load_idx_pair(
        paths["t10k-images-idx3-ubyte.gz"], paths["t10k-labels-idx1-ubyte.gz"],
        NUM_TEST, IMAGE_SHAPE, NUM_CLASSES)
    return (x_train, y_train), (x_test, y_test)


__all__ = ["load_data", "DatasetIntegrityError", "DatasetUnavailableError"]
