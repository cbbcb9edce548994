"""Keras-compatible datasets: ``mnist.load_data()`` and ``fashion_mnist.load_data()``.

Files are cached in ``$TENSORLIB_HOME/datasets`` (default ``~/.tensorlib/datasets``),
looked up in system dataset directories (``/usr/share/datasets/...``), and otherwise
downloaded from Keras's mirror (``_download.BASE_URL``; override with
``$TENSORLIB_DATASETS_URL``) with
sha256 verification and atomic writes.
"""
from . import fashion_mnist, mnist
from ._download import (
    DatasetError,
    DatasetIntegrityError,
    DatasetUnavailableError,
    cache_dir,
)

__all__ = [
    "mnist", "fashion_mnist", "cache_dir",
    "DatasetError", "DatasetIntegrityError", "DatasetUnavailableError",
]
