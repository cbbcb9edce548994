"""Keras 3 file formats: ``.keras`` and ``.weights.h5`` against files written by real Keras
(``tests/data/keras_files/``, made by ``tests/make_keras_files.py``), the structure of
files tensorlib writes against Keras's, and hostile or unsupported files.

That real Keras loads tensorlib's files is checked by ``tests/check_keras_roundtrip.py``
(it needs Keras, so it is a script, not a test)."""
import gzip
import io
import json
import os
import sys
import zipfile

import h5py
import numpy as np
import pytest

from tensorlib import layers, metrics, models, optimizers
from tensorlib.models import keras_format

DATA = os.path.join(os.path.dirname(__file__), "data", "keras_files")
EXPECTED = dict(np.load(os.path.join(DATA, "expected.npz")))


def fixture(name):
    return os.path.join(DATA, name)


def convnet_h5(tmp_path):
    path = tmp_path / "convnet.weights.h5"
    with gzip.open(fixture("convnet.weights.h5.gz")) as f:
        path.write_bytes(f.read())
    return str(path)


def convnet_from_code():
    """The fixture's convnet, built with tensorlib under Keras's layer names."""
    model = models.Sequential([
        layers.Input((8, 8, 1)),
        layers.Conv2D(4, 3, padding="same", activation="relu", name="conv2d"),
        layers.BatchNormalization(name="batch_normalization"),
        layers.MaxPooling2D(name="max_pooling2d"),
        layers.AveragePooling2D(2, name="average_pooling2d"),
        layers.Dropout(0.25, name="dropout"),
        layers.Flatten(name="flatten"),
        layers.Dense(3, activation="softmax", name="dense")], name="sequential")
    model.compile(optimizers.RMSprop(0.01, momentum=0.5, centered=True),
                  "sparse_categorical_crossentropy", [metrics.SparseCategoricalAccuracy()])
    return model


def rezip(src, dst, replace=None, drop=()):
    with zipfile.ZipFile(src) as z:
        members = {i.filename: z.read(i) for i in z.infolist() if i.filename not in drop}
    members.update(replace or {})
    with zipfile.ZipFile(dst, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return str(dst)


def member(path, name):
    with zipfile.ZipFile(path) as z:
        return z.read(name)


def h5_items(data):
    """{path: (shape, dtype kind)} of every dataset in HDF5 bytes or a path."""
    out = {}
    src = io.BytesIO(data) if isinstance(data, bytes) else data
    with h5py.File(src, "r") as f:
        f.visititems(lambda name, obj: out.__setitem__(name, (obj.shape, obj.dtype.kind))
                     if isinstance(obj, h5py.Dataset) else None)
    return out


# ----------------------------------------------------------------- Keras -> tensorlib
def test_keras_convnet_loads_and_predicts_as_keras():
    model = models.load_model(fixture("convnet.keras"))
    assert [type(la).__name__ for la in model.layers] == [
        "Conv2D", "BatchNormalization", "MaxPooling2D", "AveragePooling2D", "Dropout",
        "Flatten", "Dense"]
    x, y = EXPECTED["convnet_x"], EXPECTED["convnet_y"]
    np.testing.assert_allclose(model.predict(x, verbose=0), EXPECTED["convnet_pred"],
                               rtol=1e-5, atol=1e-6)
    # the metric object survives: evaluate gives [loss, sparse_categorical_accuracy]
    assert isinstance(model._metric_ids[0][0], metrics.SparseCategoricalAccuracy)
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0), EXPECTED["convnet_eval"],
                               rtol=1e-5)


def test_keras_optimizer_state_loads_in_keras_order():
    model = models.load_model(fixture("convnet.keras"))
    opt = model.optimizer
    assert isinstance(opt, optimizers.RMSprop) and opt.centered and opt.momentum == 0.5
    assert opt.iterations == 3
    ours = keras_format._optimizer_arrays(model)
    theirs = [EXPECTED[f"convnet_opt_{i}"] for i in range(len(ours))]
    assert f"convnet_opt_{len(ours)}" not in EXPECTED
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_keras_dense_model_continues_training_as_keras():
    model = models.load_model(fixture("dense.keras"))
    x, y = EXPECTED["dense_x"], EXPECTED["dense_y"]
    np.testing.assert_allclose(model.predict(x, verbose=0), EXPECTED["dense_pred"],
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0), EXPECTED["dense_eval"],
                               rtol=1e-5)
    result = model.train_on_batch(x, y)         # Adam's moments and step count came along
    np.testing.assert_allclose(result, EXPECTED["dense_next_result"], rtol=1e-5)
    for i, w in enumerate(model.get_weights()):
        np.testing.assert_allclose(w, EXPECTED[f"dense_next_w{i}"], rtol=1e-4, atol=1e-6)


def test_keras_weights_h5_and_keras_file_load_into_a_model_built_in_code(tmp_path):
    x = EXPECTED["convnet_x"]
    for path in (convnet_h5(tmp_path), fixture("convnet.keras")):
        model = convnet_from_code()
        model.load_weights(path)
        np.testing.assert_allclose(model.predict(x, verbose=0), EXPECTED["convnet_pred"],
                                   rtol=1e-5, atol=1e-6)
        assert model.optimizer.iterations == 3


# ----------------------------------------------------------------- tensorlib -> Keras
def _layer_keys(record):
    return [(e["class_name"], sorted(set(e["config"]))) for e in record["config"]["layers"]]


def test_written_keras_file_has_the_structure_keras_writes(tmp_path):
    model = models.load_model(fixture("convnet.keras"))
    path = str(tmp_path / "ours.keras")
    model.save(path)
    with zipfile.ZipFile(path) as z:
        assert sorted(z.namelist()) == ["config.json", "metadata.json", "model.weights.h5"]
    ours = json.loads(member(path, "config.json"))
    theirs = json.loads(member(fixture("convnet.keras"), "config.json"))
    assert sorted(ours) == sorted(theirs)
    assert sorted(ours["config"]) == sorted(theirs["config"])
    assert _layer_keys(ours) == _layer_keys(theirs)
    assert [e["config"].get("name") for e in ours["config"]["layers"][1:]] == \
        [e["config"].get("name") for e in theirs["config"]["layers"][1:]]
    assert ours["config"]["build_input_shape"] == theirs["config"]["build_input_shape"]
    occ, tcc = ours["compile_config"], theirs["compile_config"]
    assert sorted(occ) == sorted(tcc)
    assert occ["optimizer"]["class_name"] == tcc["optimizer"]["class_name"]
    assert sorted(occ["optimizer"]["config"]) == sorted(tcc["optimizer"]["config"])
    assert occ["loss"]["class_name"] == tcc["loss"]["class_name"]
    assert sorted(occ["loss"]["config"]) == sorted(tcc["loss"]["config"])
    assert [m["class_name"] for m in occ["metrics"]] == \
        [m["class_name"] for m in tcc["metrics"]]
    meta = json.loads(member(path, "metadata.json"))
    assert meta["keras_version"].split(".")[0] == "3"
    ours_h5 = h5_items(member(path, "model.weights.h5"))
    theirs_h5 = h5_items(member(fixture("convnet.keras"), "model.weights.h5"))
    assert sorted(ours_h5) == sorted(theirs_h5)
    for key, (shape, kind) in theirs_h5.items():
        assert ours_h5[key][0] == shape, key
        assert ours_h5[key][1] == kind or key == "optimizer/vars/0", key


def test_written_weights_h5_has_keras_paths_and_round_trips(tmp_path):
    model = models.load_model(fixture("convnet.keras"))
    path = str(tmp_path / "w.weights.h5")
    model.save_weights(path)
    theirs = h5_items(convnet_h5(tmp_path))
    ours = h5_items(path)
    assert {k: v[0] for k, v in ours.items()} == {k: v[0] for k, v in theirs.items()}
    other = convnet_from_code()
    other.load_weights(path)
    for a, b in zip(other.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(keras_format._optimizer_arrays(other),
                    keras_format._optimizer_arrays(model)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("suffix", [".keras", ".npz"])
def test_metric_objects_survive_save_and_load(tmp_path, suffix):
    model = models.Sequential([layers.Input((4,)), layers.Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy",
                  [metrics.SparseCategoricalAccuracy()])
    x = np.random.default_rng(0).random((8, 4), dtype=np.float32)
    y = np.arange(8) % 3
    model.fit(x, y, epochs=1, verbose=0)
    before = model.evaluate(x, y, verbose=0)
    path = str(tmp_path / f"m{suffix}")
    model.save(path)
    loaded = models.load_model(path)
    after = loaded.evaluate(x, y, verbose=0)
    assert isinstance(after, list) and len(after) == 2
    np.testing.assert_allclose(after, before, rtol=1e-6)
    assert loaded.evaluate(x, y, verbose=0, return_dict=True).keys() == \
        {"loss", "sparse_categorical_accuracy"}


def test_uncompiled_model_round_trips(tmp_path):
    model = models.Sequential([layers.Input((3,)), layers.Dense(2, name="d")])
    path = str(tmp_path / "u.keras")
    model.save(path)
    assert json.loads(member(path, "config.json"))["compile_config"] == {}
    assert "optimizer" not in h5_items(member(path, "model.weights.h5"))
    loaded = models.load_model(path)
    assert not loaded.compiled
    np.testing.assert_array_equal(loaded.get_weights()[0], model.get_weights()[0])


def test_old_tensorlib_npz_named_keras_still_loads(tmp_path):
    model = models.Sequential([layers.Input((3,)), layers.Dense(2)])
    model.save(str(tmp_path / "m.npz"))
    os.rename(tmp_path / "m.npz", tmp_path / "old.keras")
    loaded = models.load_model(str(tmp_path / "old.keras"))
    np.testing.assert_array_equal(loaded.get_weights()[0], model.get_weights()[0])


def test_h5_names_mean_keras_formats_only(tmp_path):
    model = models.Sequential([layers.Input((3,)), layers.Dense(2)])
    with pytest.raises(ValueError, match=r"save_weights: .*\.weights\.h5.*Received"):
        model.save_weights(str(tmp_path / "w.h5"))
    with pytest.raises(ValueError, match=r"save: the legacy Keras 2 HDF5.*Received"):
        model.save(str(tmp_path / "m.h5"))
    model.save_weights(str(tmp_path / "w.weights.h5"))
    with pytest.raises(ValueError, match="is an HDF5 file.*load_weights"):
        models.load_model(str(tmp_path / "w.weights.h5"))
    assert sorted(os.listdir(tmp_path)) == ["w.weights.h5"]


def test_missing_h5py_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "h5py", None)
    model = models.Sequential([layers.Input((3,)), layers.Dense(2)])
    with pytest.raises(ImportError, match=r'pip install "tensorlib\[keras\]".*Received'):
        model.save(str(tmp_path / "m.keras"))
    with pytest.raises(ImportError, match="h5py"):
        models.load_model(fixture("dense.keras"))
    assert os.listdir(tmp_path) == []


def test_failed_save_keeps_the_old_file(tmp_path, monkeypatch):
    model = models.Sequential([layers.Input((3,)), layers.Dense(2)])
    path = tmp_path / "m.keras"
    model.save(str(path))
    old = path.read_bytes()

    def broken(self, name, *args, **kwargs):
        raise OSError("simulated disk full")
    monkeypatch.setattr(zipfile.ZipFile, "writestr", broken)
    with pytest.raises(OSError, match="simulated"):
        model.save(str(path))
    assert path.read_bytes() == old
    assert os.listdir(tmp_path) == ["m.keras"]


def test_layer_name_with_slash_is_refused_on_save(tmp_path):
    model = models.Sequential([layers.Input((3,)), layers.Dense(2, name="a/b")])
    with pytest.raises(ValueError, match="without '/'.*Received"):
        model.save(str(tmp_path / "m.keras"))


# ----------------------------------------------------------------- refused files
def test_lambda_layer_is_refused_in_safe_mode_and_unsupported_anyway():
    with pytest.raises(ValueError, match=r"lambda.keras.*'lambda'.*safe mode.*safe_mode=False"):
        models.load_model(fixture("lambda.keras"))
    with pytest.raises(ValueError, match=r"lambda.keras.*'lambda'.*class 'Lambda'"):
        models.load_model(fixture("lambda.keras"), safe_mode=False)


def test_unsupported_layer_is_named(tmp_path):
    # tensorlib has Conv1D now: relabel the file's layer as a class it does not have
    record = json.loads(member(fixture("conv1d.keras"), "config.json"))
    record["config"]["layers"][1]["class_name"] = "Conv3D"
    path = rezip(fixture("conv1d.keras"), tmp_path / "conv3d.keras",
                 {"config.json": json.dumps(record)})
    with pytest.raises(ValueError, match=r"conv3d.keras.*'conv1d'.*Conv3D.*Received"):
        models.load_model(path)


def test_newer_keras_version_is_refused(tmp_path):
    path = rezip(fixture("dense.keras"), tmp_path / "new.keras",
                 {"metadata.json": json.dumps({"keras_version": "4.0.0"})})
    with pytest.raises(ValueError, match=r"new.keras.*Keras '4.0.0'.*Received"):
        models.load_model(path)


def _edit_config(tmp_path, edit, name="edited.keras"):
    record = json.loads(member(fixture("dense.keras"), "config.json"))
    edit(record)
    return rezip(fixture("dense.keras"), tmp_path / name, {"config.json": json.dumps(record)})


@pytest.mark.parametrize("key, value, message", [
    ("kernel_constraint", {"class_name": "NoSuchNorm", "config": {"max_value": 2}},
     "kernel_constraint"),
    ("future_option", True, "unknown to tensorlib"),
    ("activation", "no_such_activation", "activation"),
    ("units", -3, "cannot build"),
])
def test_unsupported_layer_config_names_the_layer(tmp_path, key, value, message):
    def edit(record):
        record["config"]["layers"][2]["config"][key] = value
    path = _edit_config(tmp_path, edit)
    with pytest.raises(ValueError, match=rf"edited.keras.*'dense'.*{message}.*Received"):
        models.load_model(path)


def test_custom_registered_layer_and_module_are_refused(tmp_path):
    def edit(record):
        record["config"]["layers"][2]["module"] = "os"
    with pytest.raises(ValueError, match=r"'dense'.*custom.*Received"):
        models.load_model(_edit_config(tmp_path, edit))


def test_sequential_record_relabelled_functional_is_refused(tmp_path):
    def edit(record):
        record["class_name"] = "Functional"
    with pytest.raises(ValueError, match=r"input_layers must be.*Received"):
        models.load_model(_edit_config(tmp_path, edit))


def test_deep_or_huge_config_is_refused_unparsed(tmp_path, monkeypatch):
    path = rezip(fixture("dense.keras"), tmp_path / "deep.keras",
                 {"config.json": "[" * 100 + "]" * 100})
    with pytest.raises(ValueError, match="deep.keras.*nested too deeply"):
        models.load_model(path)
    from tensorlib.models import saving
    monkeypatch.setattr(saving, "META_MAX_BYTES", 100)
    with pytest.raises(ValueError, match="dense.keras.*declares .* bytes for member "
                                         "'config.json'"):
        models.load_model(fixture("dense.keras"))


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04" + b"\x00" * 40, os.urandom(300),
                                     b"\x89HDF\r\n\x1a\n" + b"\x00" * 100])
def test_garbage_files_are_value_errors(tmp_path, content):
    path = tmp_path / "bad.keras"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="bad.keras"):
        models.load_model(str(path))
    model = models.load_model(fixture("dense.keras"))
    before = model.get_weights()
    with pytest.raises(ValueError, match="bad.keras"):
        model.load_weights(str(path))
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def _with_h5(tmp_path, edit):
    """dense.keras with its model.weights.h5 changed by ``edit(h5py.File)``."""
    buffer = io.BytesIO(member(fixture("dense.keras"), "model.weights.h5"))
    with h5py.File(buffer, "a") as f:
        edit(f)
    return rezip(fixture("dense.keras"), tmp_path / "edited.keras",
                 {"model.weights.h5": buffer.getvalue()})


def _replace(path, value):
    def edit(f):
        del f[path]
        f[path] = value
    return edit


def _link(path, link):
    def edit(f):
        del f[path]
        f[path] = link
    return edit


@pytest.mark.parametrize("edit, message", [
    (_replace("layers/dense/vars/0", np.zeros((3, 8), "f4")), r"shape \(3, 8\).*kernel"),
    (_replace("layers/dense/vars/0", np.zeros((2, 8), "i4")), "dtype int32"),
    (_replace("layers/dense/vars/1", np.full(8, np.nan, "f4")), "non-finite"),
    (_replace("optimizer/vars/3", np.zeros(5, "f4")), r"shape \(5,\).*optimizer slot"),
    (_replace("optimizer/vars/3", np.full((2, 8), np.inf, "f4")), "optimizer.*non-finite"),
    (_replace("optimizer/vars/1", np.float32(-1)), "learning rate"),
    (_link("layers/dense_1/vars/0", h5py.SoftLink("/layers/dense_1/vars/0")), "SoftLink"),
    (_link("layers/dense_1/vars/1", h5py.ExternalLink("/etc/passwd", "/x")), "ExternalLink"),
    (lambda f: f["layers/dense/vars"].create_dataset("2", data=np.zeros(1)), "3 weights"),
    (lambda f: f.__delitem__("layers"), "'layers' group"),
])
def test_bad_h5_datasets_are_refused_and_nothing_changes(tmp_path, edit, message):
    path = _with_h5(tmp_path, edit)
    with pytest.raises(ValueError, match=rf"edited.keras.*{message}"):
        models.load_model(path)
    model = models.load_model(fixture("dense.keras"))
    model.train_on_batch(EXPECTED["dense_x"], EXPECTED["dense_y"])
    weights = model.get_weights()
    state = [a.copy() for a in keras_format._optimizer_arrays(model)]
    with pytest.raises(ValueError, match=rf"load_weights: .*edited.keras.*{message}"):
        model.load_weights(path)
    for a, b in zip(model.get_weights(), weights):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(keras_format._optimizer_arrays(model), state):
        np.testing.assert_array_equal(a, b)


def test_external_and_compressed_storage(tmp_path):
    (tmp_path / "raw.bin").write_bytes(np.zeros(8, "f4").tobytes())

    def external(f):
        del f["layers/dense/vars/1"]
        f["layers/dense/vars"].create_dataset("1", shape=(8,), dtype="f4",
                                              external=[(str(tmp_path / "raw.bin"), 0, 32)])
    with pytest.raises(ValueError, match="outside this file"):
        models.load_model(_with_h5(tmp_path, external))

    def gzipped(f):
        value = f["layers/dense/vars/0"][()]
        del f["layers/dense/vars/0"]
        f["layers/dense/vars"].create_dataset("0", data=value, compression="gzip",
                                              shuffle=True, fletcher32=True)
    model = models.load_model(_with_h5(tmp_path, gzipped))
    np.testing.assert_allclose(model.predict(EXPECTED["dense_x"], verbose=0),
                               EXPECTED["dense_pred"], rtol=1e-5, atol=1e-6)


def test_weights_member_larger_than_the_model_needs_is_refused_unread(tmp_path):
    big = member(fixture("dense.keras"), "model.weights.h5") + b"\x00" * (8 * 2**20)
    path = rezip(fixture("dense.keras"), tmp_path / "big.keras", {"model.weights.h5": big})
    with pytest.raises(ValueError, match="big.keras.*declares .* bytes for member "
                                         "'model.weights.h5'"):
        models.load_model(path)


def test_optimizer_state_of_another_size_is_skipped_with_keras_warning(tmp_path):
    model = models.load_model(fixture("dense.keras"))
    model.compile(optimizers.SGD(0.1, momentum=0.9), "categorical_crossentropy")
    with pytest.warns(UserWarning, match="Skipping variable loading for optimizer"):
        model.load_weights(fixture("dense.keras"))
    assert model.optimizer.iterations == 0
