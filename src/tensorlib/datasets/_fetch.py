"""What the CIFAR, IMDB, Reuters and Boston housing loaders share: a verified file from
the cache or a download, object arrays read without running code, and Keras's sequence
post-processing.

A file is looked up at Keras's cache name under ``$TENSORLIB_HOME/datasets`` and verified
by its pinned hash; otherwise it is downloaded from Keras's origin (or from
``$TENSORLIB_DATASETS_URL`` when set, for every dataset) with the guarantees of
``_download.download``. IMDB and Reuters keep ragged sequences as ``dtype=object``
arrays, which NumPy stores as pickles: they are read with an unpickler that only allows
the three globals that rebuild a NumPy array, so a tampered file cannot run code.
"""
import io
import os
import pickle
import warnings
import zipfile

import numpy as np

from . import _download
from ._download import DatasetIntegrityError, DatasetUnavailableError

_ARRAY_GLOBALS = frozenset({("numpy", "ndarray"), ("numpy", "dtype"),
                            ("numpy.core.multiarray", "_reconstruct"),
                            ("numpy._core.multiarray", "_reconstruct")})


def fetch(fname, file_hash, origin, what, cache_name=None):
    """The path of a verified ``fname`` in the cache (as ``cache_name``, a path relative
    to the cache directory or absolute), downloading it when missing or corrupt."""
    target = os.path.join(_download.cache_dir(), os.fspath(cache_name or fname))
    corrupt = None
    if os.path.isfile(target):
        corrupt = _download.verify_cached(target, file_hash)
        if corrupt is None:
            return target
        warnings.warn(f"Cached file {target} failed its hash check (received sha256 "
                      f"{corrupt}); downloading it again.", stacklevel=3)
    url = _download.base_url() + fname if os.environ.get(_download.URL_ENV) else origin
    try:
        return _download.download(fname, os.path.dirname(target), file_hash, url=url,
                                  dest_name=os.path.basename(target))
    except _download._Unreachable as e:
        if corrupt is not None:
            raise _download.corrupt_cache_error(
                target, file_hash, corrupt,
                f" (Re-downloading it failed: {e.url} is unreachable: {e.reason}.)") from None
        raise DatasetUnavailableError(
            f"{what} is not available offline and could not be downloaded from {e.url} "
            f"({e.reason}).\nPlace this file in {os.path.dirname(target)}:\n"
            f"  {os.path.basename(target)}  ({fname} from {origin}, hash {file_hash})\n"
        ) from None


class ArrayUnpickler(pickle.Unpickler):
    """Unpickles NumPy arrays (and plain containers) only."""

    def find_class(self, module, name):
        if (module, name) in _ARRAY_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: a dataset file "
                                     "holds arrays only")


def _read_npy(buffer):
    try:
        return np.lib.format.read_array(buffer, allow_pickle=False)
    except ValueError:
        buffer.seek(0)
        major, _ = np.lib.format.read_magic(buffer)
        if major == 1:
            np.lib.format.read_array_header_1_0(buffer)
        elif major in (2, 3):
            np.lib.format.read_array_header_2_0(buffer)
        else:
            raise ValueError(f"unsupported .npy version {major}") from None
        return ArrayUnpickler(buffer).load()


def load_npz(path, keys, what):
    """{key: array} for ``keys`` of the ``.npz`` at ``path``; object arrays through
    ``ArrayUnpickler``. Any problem is a DatasetIntegrityError naming the file."""
    try:
        out = {}
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
            for key in keys:
                if f"{key}.npy" not in names:
                    raise DatasetIntegrityError(
                        f"{path}: missing the array {key!r}; a {what} archive holds "
                        f"{list(keys)}. Received: {sorted(names)}. Delete it and call "
                        "load_data() again.")
                out[key] = _read_npy(io.BytesIO(z.read(f"{key}.npy")))
        return out
    except DatasetIntegrityError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, pickle.UnpicklingError,
            AttributeError, TypeError) as e:
        raise DatasetIntegrityError(
            f"{path} is not a readable {what} .npz archive ({type(e).__name__}: {e}). "
            "Delete it and call load_data() again.") from e


def check_sequences(xs, labels, path):
    """Ragged integer sequences and one label each."""
    if len(xs) != len(labels) or any(
            not isinstance(x, (list, np.ndarray)) or not all(
                isinstance(w, (int, np.integer)) and w >= 0 for w in x) for x in xs):
        raise DatasetIntegrityError(f"{path}: expected lists of non-negative word indices "
                                    f"with one label each. Received: {len(xs)} sequences, "
                                    f"{len(labels)} labels")


def remove_long_seq(maxlen, seq, label):
    """Keep the sequences shorter than ``maxlen`` (Keras's rule) and their labels."""
    new_seq, new_label = [], []
    for x, y in zip(seq, label):
        if len(x) < maxlen:
            new_seq.append(x)
            new_label.append(y)
    return new_seq, new_label


def index_words(xs, start_char, index_from):
    if start_char is not None:
        return [[start_char] + [w + index_from for w in x] for x in xs]
    return [[w + index_from for w in x] for x in xs]


def limit_words(xs, num_words, skip_top, oov_char):
    """Words outside [skip_top, num_words) become ``oov_char`` (or are dropped)."""
    if not num_words:
        num_words = max(max(x) for x in xs if len(x))
    if oov_char is not None:
        return [[w if skip_top <= w < num_words else oov_char for w in x] for x in xs]
    return [[w for w in x if skip_top <= w < num_words] for x in xs]


def object_array(seqs):
    out = np.empty(len(seqs), dtype=object)
    out[:] = seqs
    return out


def word_index(fname, file_hash, what):
    import json
    path = fetch(fname, file_hash, _download.BASE_URL + fname, what)
    try:
        with open(path, encoding="utf-8") as f:
            index = json.load(f)
    except (OSError, ValueError) as e:
        raise DatasetIntegrityError(f"{path} is not a readable JSON word index "
                                    f"({type(e).__name__}: {e})") from e
    if not isinstance(index, dict) or not all(
            isinstance(k, str) and isinstance(v, int) for k, v in index.items()):
        raise DatasetIntegrityError(f"{path}: a word index maps words to integers")
    return index
