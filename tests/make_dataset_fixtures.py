"""Generate the dataset fixtures (a script, not a test): small synthetic files in the
real formats (``imdb.npz``, ``reuters.npz``, ``boston_housing.npz``, the CIFAR-10 and
CIFAR-100 ``.tar.gz`` archives of pickled batches, a word index) and what real Keras 3's
loaders return for them, with ``get_file`` pointed at these files (for CIFAR-10, whose
``load_data`` assumes 10000 images per batch, what its batch reader returns):

    KERAS_BACKEND=torch /work/peers/bin/python tests/make_dataset_fixtures.py

Written to ``tests/data/datasets/``: the synthetic files and ``keras_outputs.npz``
(ragged sequences stored as ``<case>/<split>/flat`` + ``/lengths``).
"""
import io
import json
import os
import pickle
import tarfile

os.environ.setdefault("KERAS_BACKEND", "torch")
import numpy as np  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "datasets")
rng = np.random.RandomState(5)


def ragged(n, vocab, lo=2, hi=12):
    out = np.empty(n, dtype=object)
    out[:] = [list(int(w) for w in rng.randint(1, vocab, rng.randint(lo, hi)))
              for _ in range(n)]
    return out


def ints(values):
    return [int(v) for v in values]


def batch(n, labels):
    return {b"batch_label": b"synthetic", b"data": rng.randint(0, 256, (n, 3072))
            .astype(np.uint8), b"filenames": [b"f%d.png" % i for i in range(n)], **labels}


def tarball(path, members):
    with tarfile.open(path, "w:gz") as tar:
        for name, obj in members.items():
            data = pickle.dumps(obj, protocol=3)
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def write_files():
    os.makedirs(OUT, exist_ok=True)
    np.savez(os.path.join(OUT, "imdb.npz"), x_train=ragged(30, 60), y_train=rng.randint(
        0, 2, 30), x_test=ragged(20, 60), y_test=rng.randint(0, 2, 20))
    np.savez(os.path.join(OUT, "reuters.npz"), x=ragged(40, 50), y=rng.randint(0, 46, 40))
    np.savez(os.path.join(OUT, "boston_housing.npz"), x=rng.rand(25, 13) * 100,
             y=rng.rand(25) * 50)
    members = {f"cifar-10-batches-py/data_batch_{i}": batch(2, {b"labels": ints(
        rng.randint(0, 10, 2))}) for i in range(1, 6)}
    members["cifar-10-batches-py/test_batch"] = batch(3, {b"labels": ints(
        rng.randint(0, 10, 3))})
    tarball(os.path.join(OUT, "cifar-10-python.tar.gz"), members)
    tarball(os.path.join(OUT, "cifar-100-python.tar.gz"), {
        f"cifar-100-python/{split}": batch(n, {b"fine_labels": ints(rng.randint(0, 100, n)),
                                               b"coarse_labels": ints(rng.randint(0, 20, n))})
        for split, n in (("train", 4), ("test", 2))})
    with open(os.path.join(OUT, "word_index.json"), "w") as f:
        json.dump({"the": 1, "and": 2, "movie": 3}, f)


def keras_outputs():
    import keras
    from keras.src.datasets import boston_housing, cifar100, imdb, reuters
    extracted = os.path.join(OUT, "_extracted")
    for archive in ("cifar-10-python.tar.gz", "cifar-100-python.tar.gz"):
        with tarfile.open(os.path.join(OUT, archive)) as tar:
            tar.extractall(extracted, filter="data")
    for module, name in ((imdb, "imdb.npz"), (reuters, "reuters.npz"),
                         (boston_housing, "boston_housing.npz"),
                         (cifar100, "_extracted")):
        module.get_file = (lambda target: lambda *a, **k: os.path.join(OUT, target))(name)
    out = {}

    def put(case, result):
        for split, (x, y) in zip(("train", "test"), result):
            if x.dtype == object:
                out[f"{case}/{split}/flat"] = np.array([w for s in x for w in s], np.int64)
                out[f"{case}/{split}/lengths"] = np.array([len(s) for s in x], np.int64)
            else:
                out[f"{case}/{split}/x"] = x
            out[f"{case}/{split}/y"] = y
    put("imdb_default", imdb.load_data())
    put("imdb_words", imdb.load_data(num_words=20, skip_top=3, maxlen=9, seed=7))
    put("imdb_nostart", imdb.load_data(start_char=None, oov_char=None, index_from=0,
                                       num_words=30))
    put("reuters_default", reuters.load_data())
    put("reuters_split", reuters.load_data(num_words=25, test_split=0.3, seed=1, maxlen=8))
    put("boston_default", boston_housing.load_data())
    put("boston_split", boston_housing.load_data(test_split=0.4, seed=3))
    # Keras's cifar10.load_data assumes 10000 images per batch: its batch reader instead
    from keras.src.datasets.cifar import load_batch
    for member in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        x, y = load_batch(os.path.join(extracted, "cifar-10-batches-py", member))
        out[f"cifar10/{member}/x"], out[f"cifar10/{member}/y"] = x, np.asarray(y)
    put("cifar100_fine", cifar100.load_data())
    (_, y_train), (_, y_test) = cifar100.load_data(label_mode="coarse")
    out["cifar100_coarse/train/y"], out["cifar100_coarse/test/y"] = y_train, y_test
    np.savez_compressed(os.path.join(OUT, "keras_outputs.npz"), **out)
    import shutil
    shutil.rmtree(extracted)
    print("keras", keras.__version__, "cases", sorted({k.split("/")[0] for k in out}))


if __name__ == "__main__":
    write_files()
    keras_outputs()
