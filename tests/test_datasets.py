"""tensorlib.datasets against a real HTTP server on 127.0.0.1 and the real
Fashion-MNIST files installed by Debian's dataset-fashion-mnist package."""
import collections
import gzip
import hashlib
import http.server
import io
import os
import shutil
import socket
import struct
import threading

import numpy as np
import pytest

from tensorlib.datasets import (
    DatasetError,
    DatasetIntegrityError,
    DatasetUnavailableError,
    _download,
    cache_dir,
    fashion_mnist,
    mnist,
)

N_TRAIN, N_TEST = 12, 5
FASHION_NAMES = ("train-labels-idx1-ubyte.gz", "train-images-idx3-ubyte.gz",
                 "t10k-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz")
SYSTEM_FASHION = "/usr/share/datasets/fashion-mnist"


# --------------------------------------------------------------------------- helpers

def idx_bytes(array, magic):
    array = np.ascontiguousarray(array, dtype=np.uint8)
    return struct.pack(f">I{array.ndim}I", magic, *array.shape) + array.tobytes()


def gz(data):
    return gzip.compress(data, mtime=0)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


class Synthetic:
    """Small but valid MNIST-like data, as IDX .gz files and as mnist.npz."""

    def __init__(self, seed=0):
        rng = np.random.default_rng(seed)
        self.x_train = rng.integers(0, 256, (N_TRAIN, 28, 28), dtype=np.uint8)
        self.y_train = rng.integers(0, 10, N_TRAIN).astype(np.uint8)
        self.x_test = rng.integers(0, 256, (N_TEST, 28, 28), dtype=np.uint8)
        self.y_test = rng.integers(0, 10, N_TEST).astype(np.uint8)
        self.gz = {
            "train-labels-idx1-ubyte.gz": gz(idx_bytes(self.y_train, 2049)),
            "train-images-idx3-ubyte.gz": gz(idx_bytes(self.x_train, 2051)),
            "t10k-labels-idx1-ubyte.gz": gz(idx_bytes(self.y_test, 2049)),
            "t10k-images-idx3-ubyte.gz": gz(idx_bytes(self.x_test, 2051)),
        }
        buf = io.BytesIO()
        np.savez(buf, x_train=self.x_train, y_train=self.y_train,
                 x_test=self.x_test, y_test=self.y_test)
        self.npz = buf.getvalue()

    def check(self, result):
        (x_train, y_train), (x_test, y_test) = result
        np.testing.assert_array_equal(x_train, self.x_train)
        np.testing.assert_array_equal(y_train, self.y_train)
        np.testing.assert_array_equal(x_test, self.x_test)
        np.testing.assert_array_equal(y_test, self.y_test)
        for a in (x_train, y_train, x_test, y_test):
            assert a.dtype == np.uint8


class Server:
    """ThreadingHTTPServer on 127.0.0.1:<free port> serving ``files``.

    Paths in ``truncate`` get a Content-Length larger than the body, then the
    connection is closed mid-transfer. Every request is counted in ``hits``.
    """

    def __init__(self, files):
        self.files = dict(files)
        self.truncate = set()
        self.hits = collections.Counter()
        lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                name = self.path.lstrip("/")
                with lock:
                    outer.hits[name] += 1
                body = outer.files.get(name)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                if name in outer.truncate:
                    self.send_header("Content-Length", str(len(body) + 4096))
                    self.end_headers()
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def total_hits(self):
        return sum(self.hits.values())

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


def closed_port_url():
    """A URL on 127.0.0.1 where nothing listens (connection refused)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}/"


def cache_files(path):
    return sorted(os.listdir(path)) if os.path.isdir(path) else []


# --------------------------------------------------------------------------- fixtures

@pytest.fixture
def data():
    return Synthetic()


@pytest.fixture
def env(tmp_path, monkeypatch, data):
    """Isolated cache dir and empty system dirs; hashes of the synthetic files."""
    monkeypatch.setenv("TENSORLIB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    empty = tmp_path / "no-system-data"
    monkeypatch.setattr(mnist, "SYSTEM_DIRS", [str(empty / "mnist")])
    monkeypatch.setattr(fashion_mnist, "SYSTEM_DIRS", [str(empty / "fashion-mnist")])
    for module in (mnist, fashion_mnist):
        monkeypatch.setattr(module, "NUM_TRAIN", N_TRAIN)
        monkeypatch.setattr(module, "NUM_TEST", N_TEST)
    monkeypatch.setattr(fashion_mnist, "FILES",
                        {name: (sha256(body),) for name, body in data.gz.items()})
    monkeypatch.setattr(mnist, "FILES", {"mnist.npz": (sha256(data.npz),)})
    return tmp_path


@pytest.fixture
def server(env, data, monkeypatch):
    srv = Server({**data.gz, "mnist.npz": data.npz})
    monkeypatch.setenv("TENSORLIB_DATASETS_URL", srv.url)
    yield srv
    srv.close()


@pytest.fixture
def offline(env, monkeypatch):
    monkeypatch.setenv("TENSORLIB_DATASETS_URL", closed_port_url())


# --------------------------------------------------------------------------- cache dir / URL

def test_cache_dir_follows_tensorlib_home(monkeypatch, tmp_path):
    monkeypatch.setenv("TENSORLIB_HOME", str(tmp_path))
    assert cache_dir() == os.path.join(str(tmp_path), "datasets")
    assert cache_dir("fashion-mnist") == os.path.join(str(tmp_path), "datasets", "fashion-mnist")
    monkeypatch.delenv("TENSORLIB_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert cache_dir() == os.path.join(str(tmp_path / "user"), ".tensorlib", "datasets")


def test_base_url_default_and_override(monkeypatch):
    monkeypatch.delenv("TENSORLIB_DATASETS_URL", raising=False)
    assert _download.base_url() == "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
    monkeypatch.setenv("TENSORLIB_DATASETS_URL", "http://127.0.0.1:9/data")
    assert _download.base_url() == "http://127.0.0.1:9/data/"


# --------------------------------------------------------------------------- downloads

def test_fashion_download_then_cache_hit(server, data):
    data.check(fashion_mnist.load_data())
    cache = cache_dir("fashion-mnist")
    assert cache_files(cache) == sorted(FASHION_NAMES)  # no .part leftovers
    for name in FASHION_NAMES:
        with open(os.path.join(cache, name), "rb") as f:
            assert f.read() == data.gz[name]
        assert server.hits[name] == 1
    # Second call is served from the cache: the server sees no new request.
    data.check(fashion_mnist.load_data())
    assert server.total_hits() == 4


def test_mnist_download_then_cache_hit(server, data):
    data.check(mnist.load_data())
    assert cache_files(cache_dir()) == ["mnist.npz"]
    assert server.hits["mnist.npz"] == 1
    data.check(mnist.load_data())
    assert server.total_hits() == 1


def test_mnist_custom_path(server, data, tmp_path):
    data.check(mnist.load_data(path="sub/my-mnist.npz"))
    assert cache_files(os.path.join(cache_dir(), "sub")) == ["my-mnist.npz"]
    absolute = tmp_path / "elsewhere" / "m.npz"
    data.check(mnist.load_data(path=str(absolute)))
    assert absolute.read_bytes() == data.npz
    assert server.hits["mnist.npz"] == 2


def test_mnist_checksum_mismatch_leaves_no_file(server, monkeypatch):
    real = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
    monkeypatch.setattr(mnist, "FILES", {"mnist.npz": (real,)})
    with pytest.raises(DatasetIntegrityError) as info:
        mnist.load_data()
    msg = str(info.value)
    assert "mnist.npz" in msg and "Checksum mismatch" in msg
    assert real in msg and sha256(server.files["mnist.npz"]) in msg
    assert cache_files(cache_dir()) == []
    assert isinstance(info.value, ValueError) and isinstance(info.value, OSError)


def test_fashion_checksum_mismatch_leaves_no_file(server, data, monkeypatch):
    server.files["train-images-idx3-ubyte.gz"] = data.gz["t10k-images-idx3-ubyte.gz"]
    with pytest.raises(DatasetIntegrityError) as info:
        fashion_mnist.load_data()
    msg = str(info.value)
    assert "train-images-idx3-ubyte.gz" in msg
    assert fashion_mnist.FILES["train-images-idx3-ubyte.gz"][0] in msg
    assert sha256(data.gz["t10k-images-idx3-ubyte.gz"]) in msg
    # The good file fetched before the bad one stays; the bad one never lands.
    assert cache_files(cache_dir("fashion-mnist")) == ["train-labels-idx1-ubyte.gz"]
    # Once the server is fixed the next call completes the cache.
    server.files["train-images-idx3-ubyte.gz"] = data.gz["train-images-idx3-ubyte.gz"]
    data.check(fashion_mnist.load_data())
    assert server.hits["train-labels-idx1-ubyte.gz"] == 1


@pytest.mark.parametrize("name", ["mnist.npz", "t10k-images-idx3-ubyte.gz"])
def test_truncated_transfer_leaves_cache_clean(server, name):
    server.truncate.add(name)
    loader = mnist.load_data if name == "mnist.npz" else fashion_mnist.load_data
    with pytest.raises(DatasetIntegrityError) as info:
        loader()
    msg = str(info.value)
    assert name in msg and ("truncated" in msg or "interrupted" in msg)
    assert server.hits[name] == 1
    cache = cache_dir() if name == "mnist.npz" else cache_dir("fashion-mnist")
    assert name not in cache_files(cache)
    assert not [f for f in cache_files(cache) if f.endswith(".part")]


def test_http_404_is_reported_as_unavailable(server):
    del server.files["mnist.npz"]
    with pytest.raises(DatasetUnavailableError, match="HTTP 404"):
        mnist.load_data()
    assert cache_files(cache_dir()) == []


# --------------------------------------------------------------------------- offline

def test_fashion_offline_says_where_to_put_files(offline):
    with pytest.raises(DatasetUnavailableError) as info:
        fashion_mnist.load_data()
    msg = str(info.value)
    assert isinstance(info.value, OSError) and isinstance(info.value, DatasetError)
    assert f"Place these files in {cache_dir('fashion-mnist')}" in msg
    for name in FASHION_NAMES:
        assert name in msg
    assert "apt-get install dataset-fashion-mnist" in msg
    assert "Connection refused" in msg or "Errno" in msg
    assert cache_files(cache_dir("fashion-mnist")) == []


def test_mnist_offline_says_where_to_put_files(offline):
    with pytest.raises(DatasetUnavailableError) as info:
        mnist.load_data()
    msg = str(info.value)
    assert f"Place this file in {cache_dir()}" in msg and "mnist.npz" in msg
    assert mnist.SYSTEM_DIRS[0] in msg and "train-images-idx3-ubyte.gz" in msg
    assert cache_files(cache_dir()) == []


def test_server_that_never_answers_times_out(env, monkeypatch):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts the TCP handshake, never replies
    try:
        monkeypatch.setenv("TENSORLIB_DATASETS_URL",
                           f"http://127.0.0.1:{listener.getsockname()[1]}/")
        monkeypatch.setattr(_download, "TIMEOUT", 0.5)
        with pytest.raises(DatasetUnavailableError, match="timed out"):
            mnist.load_data()
    finally:
        listener.close()
    assert cache_files(cache_dir()) == []


# --------------------------------------------------------------------------- corrupt cache

def test_corrupt_cached_file_is_redownloaded(server, data):
    os.makedirs(cache_dir())
    path = os.path.join(cache_dir(), "mnist.npz")
    with open(path, "wb") as f:
        f.write(data.npz[:100])  # truncated archive
    with pytest.warns(UserWarning, match="failed its sha256 check"):
        data.check(mnist.load_data())
    assert server.hits["mnist.npz"] == 1
    with open(path, "rb") as f:
        assert f.read() == data.npz


def test_corrupt_cached_file_offline_is_an_error(offline, data):
    cache = cache_dir("fashion-mnist")
    os.makedirs(cache)
    for name, body in data.gz.items():
        with open(os.path.join(cache, name), "wb") as f:
            f.write(body)
    bad = os.path.join(cache, "train-images-idx3-ubyte.gz")
    with open(bad, "r+b") as f:
        f.seek(40)
        f.write(b"\xff" * 8)  # flip bytes inside the compressed stream
    with pytest.warns(UserWarning), pytest.raises(DatasetIntegrityError) as info:
        fashion_mnist.load_data()
    msg = str(info.value)
    assert bad in msg and "corrupt" in msg and "Delete it" in msg
    assert fashion_mnist.FILES["train-images-idx3-ubyte.gz"][0] in msg


def test_corrupt_file_without_known_hash_fails_structurally(offline, data, monkeypatch):
    """With no hash to compare, gzip CRC / IDX header checks still catch damage."""
    monkeypatch.setattr(fashion_mnist, "FILES", {})
    cache = cache_dir("fashion-mnist")
    os.makedirs(cache)
    for name, body in data.gz.items():
        with open(os.path.join(cache, name), "wb") as f:
            f.write(body[: len(body) - 10] if name.startswith("t10k-images") else body)
    with pytest.raises(DatasetIntegrityError, match="t10k-images-idx3-ubyte.gz"):
        fashion_mnist.load_data()


# --------------------------------------------------------------------------- system dirs

def test_fashion_from_system_dir_without_network(offline, data, tmp_path, monkeypatch):
    system = tmp_path / "usr-share-datasets" / "fashion-mnist"
    system.mkdir(parents=True)
    for name, body in data.gz.items():
        (system / name).write_bytes(body)
    monkeypatch.setattr(fashion_mnist, "SYSTEM_DIRS", [str(system)])
    data.check(fashion_mnist.load_data())
    assert cache_files(cache_dir("fashion-mnist")) == []  # nothing copied


def test_mnist_from_system_idx_files(offline, data, tmp_path, monkeypatch):
    system = tmp_path / "usr-share-datasets" / "mnist"
    system.mkdir(parents=True)
    for name, body in data.gz.items():
        (system / name).write_bytes(body)
    monkeypatch.setattr(mnist, "SYSTEM_DIRS", [str(system)])
    data.check(mnist.load_data())


def test_system_dir_with_bad_labels_is_rejected(offline, data, tmp_path, monkeypatch):
    system = tmp_path / "mnist"
    system.mkdir()
    for name, body in data.gz.items():
        (system / name).write_bytes(body)
    labels = data.y_train.copy()
    labels[3] = 200
    (system / "train-labels-idx1-ubyte.gz").write_bytes(gz(idx_bytes(labels, 2049)))
    monkeypatch.setattr(mnist, "SYSTEM_DIRS", [str(system)])
    with pytest.raises(DatasetIntegrityError, match=r"Received: max label 200"):
        mnist.load_data()


# --------------------------------------------------------------------------- IDX parsing

def test_parse_idx_roundtrip_and_errors(tmp_path):
    x = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    raw = idx_bytes(x, 2051)
    out = _download.parse_idx(raw, 2051)
    np.testing.assert_array_equal(out, x)
    assert out.flags.writeable
    assert raw[:4] == b"\x00\x00\x08\x03"  # big-endian 2051
    with pytest.raises(DatasetIntegrityError, match="expected 2049. Received: 2051"):
        _download.parse_idx(raw, 2049, "labels.idx")
    with pytest.raises(DatasetIntegrityError, match="size mismatch"):
        _download.parse_idx(raw[:-1], 2051)
    with pytest.raises(DatasetIntegrityError, match="size mismatch"):
        _download.parse_idx(raw + b"\0", 2051)
    with pytest.raises(DatasetIntegrityError, match="header truncated"):
        _download.parse_idx(raw[:9], 2051)
    with pytest.raises(DatasetIntegrityError, match="too short"):
        _download.parse_idx(b"\0\0", 2051)
    bad_gz = tmp_path / "cut.gz"
    bad_gz.write_bytes(gz(raw)[:-6])
    with pytest.raises(DatasetIntegrityError, match="cut.gz"):
        _download.read_gzip(str(bad_gz))


def test_images_labels_count_mismatch(offline, data, tmp_path, monkeypatch):
    system = tmp_path / "fm"
    system.mkdir()
    for name, body in data.gz.items():
        (system / name).write_bytes(body)
    (system / "t10k-labels-idx1-ubyte.gz").write_bytes(gz(idx_bytes(data.y_test[:-1], 2049)))
    monkeypatch.setattr(fashion_mnist, "SYSTEM_DIRS", [str(system)])
    with pytest.raises(DatasetIntegrityError, match=r"Received: x \(5, 28, 28\), y \(4,\)"):
        fashion_mnist.load_data()


# --------------------------------------------------------------------------- real data

needs_real_fashion = pytest.mark.skipif(
    not all(os.path.isfile(os.path.join(SYSTEM_FASHION, n)) for n in FASHION_NAMES),
    reason=f"real Fashion-MNIST not installed in {SYSTEM_FASHION} "
           "(apt-get install dataset-fashion-mnist)",
)


def _check_real_fashion(result):
    (x_train, y_train), (x_test, y_test) = result
    assert x_train.shape == (60000, 28, 28) and y_train.shape == (60000,)
    assert x_test.shape == (10000, 28, 28) and y_test.shape == (10000,)
    for a in (x_train, y_train, x_test, y_test):
        assert a.dtype == np.uint8
    assert y_train.min() == 0 and y_train.max() == 9
    np.testing.assert_array_equal(np.bincount(y_train), [6000] * 10)
    np.testing.assert_array_equal(np.bincount(y_test), [1000] * 10)
    # Well-known facts about the dataset: first labels (9 = Ankle boot) and the
    # per-pixel mean / std of the training set (0.2860 / 0.3530 after /255).
    np.testing.assert_array_equal(y_train[:10], [9, 0, 0, 3, 0, 2, 7, 2, 5, 5])
    np.testing.assert_array_equal(y_test[:5], [9, 2, 1, 1, 6])
    assert abs(x_train.mean() / 255 - 0.2860) < 5e-4
    assert abs(x_train.std() / 255 - 0.3530) < 5e-4
    assert x_train.min() == 0 and x_train.max() == 255


@needs_real_fashion
def test_real_fashion_mnist_from_debian_package(tmp_path, monkeypatch):
    monkeypatch.setenv("TENSORLIB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TENSORLIB_DATASETS_URL", closed_port_url())  # must not download
    monkeypatch.setattr(fashion_mnist, "SYSTEM_DIRS", [SYSTEM_FASHION])
    _check_real_fashion(fashion_mnist.load_data())
    assert cache_files(cache_dir("fashion-mnist")) == []


@needs_real_fashion
def test_real_fashion_mnist_files_pass_sha256_in_cache(tmp_path, monkeypatch):
    """The Debian files are accepted hashes, so a copy in the cache verifies."""
    monkeypatch.setenv("TENSORLIB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TENSORLIB_DATASETS_URL", closed_port_url())
    monkeypatch.setattr(fashion_mnist, "SYSTEM_DIRS", [])
    cache = cache_dir("fashion-mnist")
    os.makedirs(cache)
    for name in FASHION_NAMES:
        shutil.copy(os.path.join(SYSTEM_FASHION, name), cache)
        assert _download.sha256_file(os.path.join(cache, name)) in fashion_mnist.FILES[name]
    _check_real_fashion(fashion_mnist.load_data())


@needs_real_fashion
def test_real_fashion_decompressed_bytes_match_upstream():
    """Debian re-gzipped the files; the IDX payload is the upstream one (md5 of
    the decompressed files as published alongside the original archives)."""
    upstream_raw_md5 = {
        "train-images-idx3-ubyte.gz": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
        "train-labels-idx1-ubyte.gz": "9018921c3c673c538a1fc5bad174d6f9",
        "t10k-images-idx3-ubyte.gz": "8181f5470baa50b63fa0f6fddb340f0a",
        "t10k-labels-idx1-ubyte.gz": "15d484375f8d13e6eb1aabb0c3f46965",
    }
    for name, md5 in upstream_raw_md5.items():
        with gzip.open(os.path.join(SYSTEM_FASHION, name), "rb") as f:
            assert hashlib.md5(f.read()).hexdigest() == md5, name
