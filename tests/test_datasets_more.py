"""CIFAR-10/100, IMDB, Reuters and Boston housing loaders: synthetic files in the real
formats served by a local HTTP server, and the loaders' results compared with what real
Keras 3's loaders return for the same files (``make_dataset_fixtures.py``)."""
import hashlib
import io
import os
import pickle

import numpy as np
import pytest

from tensorlib.datasets import (DatasetIntegrityError, DatasetUnavailableError,
                                boston_housing, cifar10, cifar100, imdb, reuters)
from test_datasets import Server, closed_port_url

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "datasets")
KERAS = np.load(os.path.join(DATA, "keras_outputs.npz"))
FILES = {name: open(os.path.join(DATA, src), "rb").read() for name, src in (
    ("imdb.npz", "imdb.npz"), ("reuters.npz", "reuters.npz"),
    ("boston_housing.npz", "boston_housing.npz"),
    ("cifar-10-python.tar.gz", "cifar-10-python.tar.gz"),
    ("cifar-100-python.tar.gz", "cifar-100-python.tar.gz"),
    ("imdb_word_index.json", "word_index.json"),
    ("reuters_word_index.json", "word_index.json"))}
MODULES = {"imdb.npz": (imdb, "FILE_HASH"), "reuters.npz": (reuters, "FILE_HASH"),
           "boston_housing.npz": (boston_housing, "FILE_HASH"),
           "cifar-10-python.tar.gz": (cifar10, "FILE_HASH"),
           "cifar-100-python.tar.gz": (cifar100, "FILE_HASH"),
           "imdb_word_index.json": (imdb, "WORD_INDEX_HASH"),
           "reuters_word_index.json": (reuters, "WORD_INDEX_HASH")}


def sha256(data):
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("TENSORLIB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    for name, (module, attr) in MODULES.items():
        digest = hashlib.md5(FILES[name]).hexdigest() if "word_index" in name \
            else sha256(FILES[name])
        monkeypatch.setattr(module, attr, digest)
    return tmp_path


@pytest.fixture
def server(env, monkeypatch):
    srv = Server(FILES)
    monkeypatch.setenv("TENSORLIB_DATASETS_URL", srv.url)
    yield srv
    srv.close()


def ragged_equal(x, case, split):
    flat, lengths = KERAS[f"{case}/{split}/flat"], KERAS[f"{case}/{split}/lengths"]
    assert x.dtype == object and [len(s) for s in x] == lengths.tolist()
    assert [w for s in x for w in s] == flat.tolist()


@pytest.mark.parametrize("case, kwargs", [
    ("imdb_default", {}),
    ("imdb_words", {"num_words": 20, "skip_top": 3, "maxlen": 9, "seed": 7}),
    ("imdb_nostart", {"start_char": None, "oov_char": None, "index_from": 0,
                      "num_words": 30}),
])
def test_imdb_matches_keras(server, case, kwargs):
    result = imdb.load_data(**kwargs)
    for split, (x, y) in zip(("train", "test"), result):
        ragged_equal(x, case, split)
        np.testing.assert_array_equal(y, KERAS[f"{case}/{split}/y"])


@pytest.mark.parametrize("case, kwargs", [
    ("reuters_default", {}),
    ("reuters_split", {"num_words": 25, "test_split": 0.3, "seed": 1, "maxlen": 8}),
])
def test_reuters_matches_keras(server, case, kwargs):
    for split, (x, y) in zip(("train", "test"), reuters.load_data(**kwargs)):
        ragged_equal(x, case, split)
        np.testing.assert_array_equal(y, KERAS[f"{case}/{split}/y"])
    assert len(reuters.get_label_names()) == 46


@pytest.mark.parametrize("case, kwargs", [("boston_default", {}),
                                          ("boston_split", {"test_split": 0.4, "seed": 3})])
def test_boston_housing_matches_keras(server, case, kwargs):
    for split, (x, y) in zip(("train", "test"), boston_housing.load_data(**kwargs)):
        np.testing.assert_array_equal(x, KERAS[f"{case}/{split}/x"])
        np.testing.assert_array_equal(y, KERAS[f"{case}/{split}/y"])


def test_cifar10_matches_keras_batches_and_layout(server, env):
    (x_train, y_train), (x_test, y_test) = cifar10.load_data()
    want = [(KERAS[f"cifar10/data_batch_{i}/x"], KERAS[f"cifar10/data_batch_{i}/y"])
            for i in range(1, 6)]
    np.testing.assert_array_equal(x_train, np.concatenate([x for x, _ in want])
                                  .transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(y_train[:, 0], np.concatenate([y for _, y in want]))
    np.testing.assert_array_equal(x_test, KERAS["cifar10/test_batch/x"].transpose(0, 2, 3, 1))
    assert x_train.dtype == np.uint8 and y_train.dtype == np.uint8 and y_test.shape == (3, 1)
    # Keras's cache layout: the archive, then the extracted batches
    home = env / "home" / "datasets"
    assert (home / "cifar-10-batches-py-target_archive").is_file()
    assert (home / "cifar-10-batches-py-target" / "cifar-10-batches-py" / "test_batch").is_file()
    hits = server.total_hits()
    cifar10.load_data()
    assert server.total_hits() == hits        # from the extracted cache


@pytest.mark.parametrize("mode", ["fine", "coarse"])
def test_cifar100_matches_keras(server, mode):
    (x_train, y_train), (x_test, y_test) = cifar100.load_data(label_mode=mode)
    np.testing.assert_array_equal(y_train, KERAS[f"cifar100_{mode}/train/y"])
    np.testing.assert_array_equal(y_test, KERAS[f"cifar100_{mode}/test/y"])
    np.testing.assert_array_equal(x_train, KERAS["cifar100_fine/train/x"])
    np.testing.assert_array_equal(x_test, KERAS["cifar100_fine/test/x"])


def test_word_index_verified_by_md5_and_cached(server):
    assert imdb.get_word_index() == {"the": 1, "and": 2, "movie": 3}
    assert reuters.get_word_index()["movie"] == 3
    hits = server.total_hits()
    imdb.get_word_index()
    assert server.total_hits() == hits


def test_download_once_then_cache(server, env):
    imdb.load_data()
    assert server.hits["imdb.npz"] == 1
    imdb.load_data(num_words=10)
    assert server.hits["imdb.npz"] == 1
    assert (env / "home" / "datasets" / "imdb.npz").is_file()


def test_corrupt_download_is_refused_and_nothing_kept(server, env, monkeypatch):
    monkeypatch.setattr(boston_housing, "FILE_HASH", "0" * 64)
    with pytest.raises(DatasetIntegrityError, match="Checksum mismatch"):
        boston_housing.load_data()
    assert not (env / "home" / "datasets" / "boston_housing.npz").exists()


def test_offline_says_where_to_put_the_file(env, monkeypatch):
    monkeypatch.setenv("TENSORLIB_DATASETS_URL", closed_port_url())
    with pytest.raises(DatasetUnavailableError, match=r"(?s)CIFAR-100 is not available "
                       r"offline.*cifar-100-python-target_archive.*cs.toronto.edu"):
        cifar100.load_data()
    with pytest.raises(DatasetUnavailableError, match=r"(?s)IMDB.*imdb.npz"):
        imdb.load_data()


def test_pickled_code_is_refused(server, env, monkeypatch):
    """An npz whose object array pickle names another global (here os.system) is
    refused before anything runs."""
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))
    evil = np.empty(1, dtype=object)
    evil[0] = Evil()
    buf = io.BytesIO()
    np.savez(buf, x=evil, y=np.zeros(1))
    server.files["reuters.npz"] = buf.getvalue()
    monkeypatch.setattr(reuters, "FILE_HASH", sha256(buf.getvalue()))
    with pytest.raises(DatasetIntegrityError, match=r"refusing to load posix.system"):
        reuters.load_data()


def test_cifar_batch_with_foreign_global_is_refused(server, env, monkeypatch):
    import tarfile
    payload = pickle.dumps({b"data": np.zeros((1, 3072), np.uint8),
                            b"labels": [print]}, protocol=3)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name in ("train", "test"):
            info = tarfile.TarInfo(f"cifar-100-python/{name}")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    server.files["cifar-100-python.tar.gz"] = buf.getvalue()
    monkeypatch.setattr(cifar100, "FILE_HASH", sha256(buf.getvalue()))
    with pytest.raises(DatasetIntegrityError, match=r"refusing to load builtins.print"):
        cifar100.load_data()


@pytest.mark.parametrize("call, match", [
    (lambda: cifar100.load_data(label_mode="medium"), r"label_mode=medium"),
    (lambda: boston_housing.load_data(test_split=1.0), r"Invalid `test_split` argument"),
])
def test_argument_errors(env, call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_npz_missing_array_is_named(server, env, monkeypatch):
    buf = io.BytesIO()
    np.savez(buf, x=np.zeros((3, 13)))
    server.files["boston_housing.npz"] = buf.getvalue()
    monkeypatch.setattr(boston_housing, "FILE_HASH", sha256(buf.getvalue()))
    with pytest.raises(DatasetIntegrityError, match=r"missing the array 'y'"):
        boston_housing.load_data()
