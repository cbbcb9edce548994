"""CIFAR archives: Keras's cache layout, extraction of the known members only, and the
batches read with an unpickler that allows nothing but NumPy arrays.

Keras downloads ``<dirname>_archive`` into the cache and extracts it into ``<dirname>/``;
tensorlib does the same, writing each known member (never a path taken from the archive)
through a temporary file renamed into place.
"""
import os
import tarfile
import tempfile

import numpy as np

from . import _download, _fetch
from ._download import DatasetIntegrityError


def extracted(dirname, inner, members, file_hash, origin, what):
    """The directory ``<cache>/<dirname>/<inner>`` holding ``members``, downloading and
    extracting the archive when any is missing."""
    out_dir = os.path.join(_download.cache_dir(), dirname, inner)
    if all(os.path.isfile(os.path.join(out_dir, m)) for m in members):
        return out_dir
    archive = _fetch.fetch(os.path.basename(origin), file_hash, origin, what,
                           cache_name=f"{dirname}_archive")
    os.makedirs(out_dir, exist_ok=True)
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for m in members:
                info = tar.getmember(f"{inner}/{m}")
                if not info.isfile():
                    raise DatasetIntegrityError(f"{archive}: {inner}/{m} is not a file")
                data = tar.extractfile(info).read()
                fd, tmp = tempfile.mkstemp(prefix=f".{m}.", dir=out_dir)
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                os.replace(tmp, os.path.join(out_dir, m))
    except (tarfile.TarError, KeyError, OSError, EOFError) as e:
        raise DatasetIntegrityError(f"{archive} is not a readable {what} archive "
                                    f"({type(e).__name__}: {e}). Delete it and call "
                                    "load_data() again.") from e
    return out_dir


def load_batch(path, label_key="labels"):
    """(images (n, 3, 32, 32) uint8, labels (n,) uint8) of one pickled batch."""
    try:
        with open(path, "rb") as f:
            d = _fetch.ArrayUnpickler(f, encoding="bytes").load()
        d = {k.decode("utf8") if isinstance(k, bytes) else k: v for k, v in d.items()}
        data, labels = np.asarray(d["data"]), np.asarray(d[label_key])
    except Exception as e:  # noqa: BLE001 - refused globals, corrupt pickles, bad keys
        raise DatasetIntegrityError(f"{path} is not a readable CIFAR batch "
                                    f"({type(e).__name__}: {e}). Delete the dataset's "
                                    "cache directory and call load_data() again.") from e
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072 \
            or labels.shape != (len(data),) or labels.dtype.kind not in "iu" \
            or (labels.size and (labels.min() < 0 or labels.max() > 255)):
        raise DatasetIntegrityError(f"{path}: expected uint8 data (n, 3072) and n integer "
                                    f"labels. Received: data {data.dtype} {data.shape}, "
                                    f"labels {labels.dtype} {labels.shape}")
    return data.reshape(len(data), 3, 32, 32), labels.astype(np.uint8)


def finish(x_train, y_train, x_test, y_test):
    """Keras's layout: (n, 32, 32, 3) images (channels last) and (n, 1) labels."""
    return ((x_train.transpose(0, 2, 3, 1), y_train.reshape(-1, 1)),
            (x_test.transpose(0, 2, 3, 1), y_test.reshape(-1, 1)))
