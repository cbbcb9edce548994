"""Locating, downloading and verifying dataset files (standard library only).

The layout mirrors Keras: files live in ``$TENSORLIB_HOME/datasets`` (default
``~/.tensorlib/datasets``), optionally in a per-dataset sub-directory, and are
fetched from ``BASE_URL`` (overridable with ``$TENSORLIB_DATASETS_URL``) when
they are not found locally.

Guarantees:

* A download is streamed into a hidden temporary file in the destination
  directory, checked against its Content-Length and sha256, and only then
  moved into place with ``os.replace``. On any failure (checksum mismatch,
  truncated transfer, interrupted connection, Ctrl-C) the temporary file is
  removed, so the cache never holds a partial or corrupt file.
* A file that is already in the cache is verified by sha256 before use.
* An unreachable server raises :class:`DatasetUnavailableError`, whose message
  says which files to put in which directory to work offline.
"""
import gzip
import hashlib
import os
import struct
import tempfile
import zlib

import numpy as np

BASE_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
URL_ENV = "TENSORLIB_DATASETS_URL"
HOME_ENV = "TENSORLIB_HOME"
# Seconds to wait for the server to connect / send the next bytes.
TIMEOUT = 60.0
_CHUNK = 1 << 20

IDX_LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension
IDX_IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions


class DatasetError(OSError):
    """Base class of the errors raised by ``tensorlib.datasets``."""


class DatasetUnavailableError(DatasetError):
    """The dataset is not on disk and could not be downloaded."""


class DatasetIntegrityError(DatasetError, ValueError):
    """A dataset file is corrupt: wrong checksum, truncated, or malformed."""


class _Unreachable(Exception):
    """Internal: the server could not be reached (no response was received)."""

    def __init__(self, url, reason):
        super().__init__(url, reason)
        self.url = url
        self.reason = reason


def cache_dir(subdir=None):
    """The dataset cache directory (not created here).

    ``$TENSORLIB_HOME/datasets`` if ``TENSORLIB_HOME`` is set, else
    ``~/.tensorlib/datasets``; ``subdir`` is appended when given.
    """
    home = os.environ.get(HOME_ENV) or os.path.join(os.path.expanduser("~"), ".tensorlib")
    path = os.path.join(home, "datasets")
    return os.path.join(path, subdir) if subdir else path


def base_url():
    """Where dataset files are downloaded from, always ending in ``/``."""
    url = os.environ.get(URL_ENV) or BASE_URL
    return url if url.endswith("/") else url + "/"


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def _as_hashes(expected):
    if expected is None:
        return ()
    if isinstance(expected, str):
        return (expected.lower(),)
    return tuple(h.lower() for h in expected)


def _matches(hashes, sha256, md5):
    """Keras pins some files by md5 (32 hex digits) instead of sha256 (64)."""
    return any(h == (md5 if len(h) == 32 else sha256) for h in hashes)


def verify_cached(path, expected):
    """Return ``None`` if ``path`` matches one of the ``expected`` sha256 (or md5)
    values (or if no hash is known), else the sha256 actually found."""
    hashes = _as_hashes(expected)
    if not hashes:
        return None
    digest = sha256_file(path)
    md5 = None
    if any(len(h) == 32 for h in hashes):
        with open(path, "rb") as f:
            md5 = hashlib.md5(f.read(), usedforsecurity=False).hexdigest()
    return None if _matches(hashes, digest, md5) else digest


def _reason(exc):
    import urllib.error
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    return f"{type(exc).__name__}: {exc}"


def download(fname, dest_dir, expected=None, url=None, dest_name=None):
    """Download ``fname`` from ``url`` (default ``base_url() + fname``) into
    ``dest_dir/dest_name`` atomically, verifying its size and sha256.

    Returns the final path. Raises ``_Unreachable`` if no response could be
    obtained, :class:`DatasetIntegrityError` if the transfer was truncated or
    the checksum does not match. Nothing is left in ``dest_dir`` on failure.
    """
    import http.client     # the network modules (ssl among them) load when first needed
    import socket
    import urllib.error
    import urllib.request
    url = url or base_url() + fname
    final = os.path.join(dest_dir, dest_name or fname)
    hashes = _as_hashes(expected)
    os.makedirs(dest_dir, exist_ok=True)
    try:
        resp = urllib.request.urlopen(url, timeout=TIMEOUT)
    except (urllib.error.URLError, http.client.HTTPException, socket.timeout, OSError) as e:
        raise _Unreachable(url, _reason(e)) from e
    print(f"Downloading data from {url}")
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(final)}.", suffix=".part",
                               dir=dest_dir)
    try:
        h, h_md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
        received = 0
        length = resp.headers.get("Content-Length")
        length = int(length) if length and length.strip().isdigit() else None
        with resp, os.fdopen(fd, "wb") as out:
            try:
                for chunk in iter(lambda: resp.read(_CHUNK), b""):
                    out.write(chunk)
                    h.update(chunk)
                    h_md5.update(chunk)
                    received += len(chunk)
            except (http.client.HTTPException, OSError) as e:
                raise DatasetIntegrityError(
                    f"Download of {fname} from {url} was interrupted after {received} "
                    f"bytes{'' if length is None else f' of {length}'} ({_reason(e)}). "
                    f"Nothing was written to {dest_dir}; call load_data() again to retry."
                ) from e
        if length is not None and received != length:
            raise DatasetIntegrityError(
                f"Download of {fname} from {url} was truncated: the server announced "
                f"{length} bytes (Content-Length) but sent {received}. Nothing was "
                f"written to {dest_dir}; call load_data() again to retry."
            )
        digest = h.hexdigest()
        if hashes and not _matches(hashes, digest, h_md5.hexdigest()):
            raise DatasetIntegrityError(
                f"Checksum mismatch for {fname} downloaded from {url}: expected sha256 "
                f"{' or '.join(hashes)}, received sha256 {digest} ({received} bytes). "
                f"The file was discarded and nothing was written to {dest_dir}."
            )
        os.replace(tmp, final)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return final


def corrupt_cache_error(path, expected, received, extra=""):
    return DatasetIntegrityError(
        f"The cached file {path} is corrupt: expected sha256 "
        f"{' or '.join(_as_hashes(expected))}, received sha256 {received}. "
        f"Delete it (rm {path!s}) and call load_data() again to re-download it." + extra
    )


# ---------------------------------------------------------------------------
# IDX format (http://yann.lecun.com/exdb/mnist/ file format)
# ---------------------------------------------------------------------------

def read_gzip(path):
    """Decompress a whole .gz file; a damaged file raises DatasetIntegrityError."""
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except (OSError, EOFError, zlib.error) as e:
        raise DatasetIntegrityError(
            f"{path} is not a valid gzip file or is truncated ({type(e).__name__}: {e}). "
            f"Delete it and obtain it again."
        ) from e


def parse_idx(data, magic, name="<bytes>"):
    """Parse an IDX buffer of unsigned bytes: big-endian magic number
    (``2049`` labels, ``2051`` images), then one big-endian uint32 per dimension,
    then exactly ``prod(dims)`` bytes. Returns a writable uint8 array."""
    if len(data) < 4:
        raise DatasetIntegrityError(
            f"{name}: too short to be an IDX file. Received: {len(data)} bytes."
        )
    found = struct.unpack(">I", data[:4])[0]
    if found != magic:
        raise DatasetIntegrityError(
            f"{name}: bad IDX magic number, expected {magic}. Received: {found}."
        )
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DatasetIntegrityError(
            f"{name}: IDX header truncated, need {header} bytes. Received: {len(data)} bytes."
        )
    dims = struct.unpack(f">{ndim}I", data[4:header])
    size = header + int(np.prod(dims, dtype=np.int64))
    if len(data) != size:
        raise DatasetIntegrityError(
            f"{name}: IDX size mismatch, header declares dims {dims} so the file "
            f"should hold {size} bytes. Received: {len(data)} bytes."
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims).copy()


def check_split(x, y, n, image_shape, num_classes, source):
    """Validate one (x, y) split: uint8, ``x.shape == (n,) + image_shape``,
    ``y.shape == (n,)`` and labels in ``[0, num_classes)``."""
    if x.dtype != np.uint8 or y.dtype != np.uint8:
        raise DatasetIntegrityError(
            f"{source}: expected uint8 arrays. Received: x dtype {x.dtype}, y dtype {y.dtype}."
        )
    if x.shape != (n,) + tuple(image_shape) or y.shape != (n,):
        raise DatasetIntegrityError(
            f"{source}: expected x of shape {(n,) + tuple(image_shape)} and y of shape "
            f"{(n,)}. Received: x {x.shape}, y {y.shape}."
        )
    if y.size and int(y.max()) >= num_classes:
        raise DatasetIntegrityError(
            f"{source}: labels must be in [0, {num_classes}). Received: max label {int(y.max())}."
        )


def load_idx_pair(images_path, labels_path, n, image_shape, num_classes):
    """Read one split from an images/labels pair of IDX .gz files."""
    y = parse_idx(read_gzip(labels_path), IDX_LABELS_MAGIC, labels_path)
    x = parse_idx(read_gzip(images_path), IDX_IMAGES_MAGIC, images_path)
    check_split(x, y, n, image_shape, num_classes, f"{images_path} + {labels_path}")
    return x, y
