"""Keras-compatible datasets: ``mnist``, ``fashion_mnist``, ``cifar10``, ``cifar100``,
``imdb``, ``reuters`` and ``boston_housing``, each with ``load_data()``.

Files are cached in ``$TENSORLIB_HOME/datasets`` (default ``~/.tensorlib/datasets``),
looked up in system dataset directories (``/usr/share/datasets/...``), and otherwise
downloaded from Keras's mirror (``_download.BASE_URL``; override with
``$TENSORLIB_DATASETS_URL``) with
sha256 verification and atomic writes.
"""
from . import boston_housing, cifar10, cifar100, fashion_mnist, imdb, mnist, reuters
from ._download import (
    DatasetError,
    DatasetIntegrityError,
    DatasetUnavailableError,
    cache_dir,
)

__all__ = [
    "mnist", "fashion_mnist", "cifar10", "cifar100", "imdb", "reuters", "boston_housing",
    "cache_dir",
    "DatasetError", "DatasetIntegrityError", "DatasetUnavailableError",
]
