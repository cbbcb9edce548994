"""Saving and loading: weights files, whole-model files, atomic writes and clear errors
for files that are not tensorlib files. Files are pickle-free ``.npz`` archives."""
import json
import os
import zipfile

import numpy as np
import pytest

import tensorlib as tl
import tensorlib.layers.base as layers_base
from tensorlib import layers, models, optimizers
from tensorlib.models import saving
from tensorlib.utils import to_categorical

@pytest.fixture(autouse=True)
def fresh_state():
    layers_base._name_counts.clear()
    tl.manual_seed(0)
    yield
    layers_base._name_counts.clear()


def data(n=32, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, (n, 8, 8, 1)).astype("float32")
    y = to_categorical(rng.integers(0, 3, n), 3).astype("float32")
    return x, y


def convnet():
    """Every saveable layer kind, BatchNormalization's moving statistics included."""
    return models.Sequential([
        layers.Input((8, 8, 1)),
        layers.Conv2D(4, 3, padding="same", activation="relu", strides=1, dilation_rate=1),
        layers.BatchNormalization(momentum=0.9),
        layers.MaxPooling2D(2),
        layers.Conv2D(3, (2, 2), strides=2, activation="tanh", use_bias=False),
        layers.AveragePooling2D(1),
        layers.Dropout(0.2),
        layers.Reshape((-1, 3)),
        layers.Flatten(),
        layers.Dense(5, activation="sigmoid"),
        layers.Activation("linear"),
        layers.Dense(3, activation="softmax"),
    ])


def trained_convnet():
    x, y = data()
    model = convnet()
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    return model


def assert_weights_equal(a, b):
    assert len(a) == len(b)
    for u, v in zip(a, b):
        assert u.dtype == v.dtype
        np.testing.assert_array_equal(u, v)


# ----------------------------------------------------------------- weights
def test_save_weights_load_weights_round_trip(tmp_path):
    model = trained_convnet()
    path = tmp_path / "w.weights.npz"
    model.save_weights(str(path))
    other = convnet()
    assert not all(np.array_equal(a, b) for a, b in zip(other.get_weights(),
                                                        model.get_weights()))
    other.load_weights(str(path))
    assert_weights_equal(other.get_weights(), model.get_weights())
    x, _ = data(5, seed=1)
    np.testing.assert_array_equal(other.predict(x, verbose=0), model.predict(x, verbose=0))


def test_weights_accept_path_objects(tmp_path):
    model = trained_convnet()
    model.save_weights(tmp_path / "w.npz")
    other = convnet()
    other.load_weights(tmp_path / "w.npz")
    assert_weights_equal(other.get_weights(), model.get_weights())


def test_weights_file_is_plain_npz_loadable_without_pickle(tmp_path):
    model = trained_convnet()
    path = tmp_path / "w.npz"
    model.save_weights(str(path))
    with np.load(str(path), allow_pickle=False) as f:
        arrays = [f[k] for k in sorted(f.files)]
    assert len(arrays) == len(model.weights)
    assert_weights_equal(arrays, model.get_weights())


def test_load_weights_count_mismatch_is_a_clear_error(tmp_path):
    model = trained_convnet()
    path = str(tmp_path / "w.npz")
    model.save_weights(path)
    small = models.Sequential([layers.Dense(3, input_shape=(4,))])
    before = small.get_weights()
    with pytest.raises(ValueError, match=r"holds 11 weights.*has 2"):
        small.load_weights(path)
    assert_weights_equal(small.get_weights(), before)


def test_load_weights_shape_mismatch_changes_nothing(tmp_path):
    a = models.Sequential([layers.Dense(3, input_shape=(4,)), layers.Dense(2)])
    b = models.Sequential([layers.Dense(3, input_shape=(5,)), layers.Dense(2)])
    path = str(tmp_path / "a.npz")
    a.save_weights(path)
    before = b.get_weights()
    with pytest.raises(ValueError, match="Received"):
        b.load_weights(path)
    assert_weights_equal(b.get_weights(), before)


def test_save_weights_of_unbuilt_model_is_an_error(tmp_path):
    model = models.Sequential([layers.Dense(3)])
    with pytest.raises(ValueError, match="built"):
        model.save_weights(str(tmp_path / "w.npz"))
    assert not os.listdir(tmp_path)


# ----------------------------------------------------------------- whole models
def test_save_load_model_round_trip(tmp_path):
    model = trained_convnet()
    path = str(tmp_path / "model.npz")
    model.save(path)
    restored = models.load_model(path)
    assert [type(la) for la in restored.layers] == [type(la) for la in model.layers]
    assert [la.name for la in restored.layers] == [la.name for la in model.layers]
    assert [la.output_shape for la in restored.layers] == \
        [la.output_shape for la in model.layers]
    assert restored.name == model.name
    assert_weights_equal(restored.get_weights(), model.get_weights())
    x, _ = data(6, seed=2)
    np.testing.assert_array_equal(restored.predict(x, verbose=0), model.predict(x, verbose=0))
    assert restored.layers[1].momentum == 0.9
    assert restored.layers[3].use_bias is False and restored.layers[3].strides == (2, 2)
    assert restored.layers[5].rate == pytest.approx(0.2)


def test_load_model_restores_the_compile_config(tmp_path):
    model = trained_convnet()
    path = str(tmp_path / "model.npz")
    model.save(path)
    restored = models.load_model(path)
    assert restored.compiled
    assert isinstance(restored.optimizer, optimizers.Adam)
    x, y = data(6, seed=2)
    np.testing.assert_allclose(restored.evaluate(x, y, verbose=0),
                               model.evaluate(x, y, verbose=0), rtol=1e-6)
    history = restored.fit(x, y, epochs=1, verbose=0)
    assert list(history.history) == ["accuracy", "loss"]
    not_compiled = models.load_model(path, compile=False)
    assert not not_compiled.compiled
    np.testing.assert_array_equal(not_compiled.predict(x, verbose=0),
                                  model.predict(x, verbose=0))


def test_load_model_restores_a_compile_given_as_objects(tmp_path):
    """Keras's load_model re-compiles with the saved optimizer/loss configs, whether
    compile() got strings or objects."""
    x, y = data()
    model = convnet()
    model.compile(optimizer=optimizers.Adam(learning_rate=0.01),
                  loss=tl.losses.CategoricalCrossentropy(), metrics=["accuracy"])
    model.fit(x, y, epochs=1, verbose=0)
    path = str(tmp_path / "model.npz")
    model.save(path)
    restored = models.load_model(path)
    assert restored.compiled
    assert isinstance(restored.optimizer, optimizers.Adam)
    assert restored.optimizer.learning_rate == pytest.approx(0.01)
    np.testing.assert_allclose(restored.evaluate(x, y, verbose=0),
                               model.evaluate(x, y, verbose=0), rtol=1e-6)


def test_uncompiled_model_round_trip(tmp_path):
    model = models.Sequential([layers.Dense(4, activation="relu", input_shape=(3,)),
                               layers.Dense(2)])
    path = str(tmp_path / "m.npz")
    model.save(path)
    restored = models.load_model(path)
    assert not restored.compiled
    assert_weights_equal(restored.get_weights(), model.get_weights())


def test_model_file_is_pickle_free_with_json_architecture(tmp_path):
    model = trained_convnet()
    path = str(tmp_path / "model.npz")
    model.save(path)
    with np.load(path, allow_pickle=False) as f:
        files = sorted(f.files)
        meta = json.loads(f["__meta__"].tobytes().decode())
        assert f["__meta__"].dtype == np.uint8
    assert len([k for k in files if k != "__meta__"]) == len(model.weights)
    assert meta["class_name"] == "Sequential"
    assert meta["compile_config"]["loss"] == "categorical_crossentropy"
    assert [entry["class_name"] for entry in meta["config"]["layers"]][:3] == \
        ["InputLayer", "Conv2D", "BatchNormalization"]


def test_save_of_unbuilt_model_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="built"):
        models.Sequential([layers.Dense(3)]).save(str(tmp_path / "m.npz"))


def test_load_model_of_weights_only_file_says_so(tmp_path):
    model = trained_convnet()
    path = str(tmp_path / "w.npz")
    model.save_weights(path)
    with pytest.raises(ValueError, match="weights only"):
        models.load_model(path)


def test_load_weights_from_a_model_file_works(tmp_path):
    model = trained_convnet()
    path = str(tmp_path / "m.npz")
    model.save(path)
    other = convnet()
    other.load_weights(path)
    assert_weights_equal(other.get_weights(), model.get_weights())


def test_unknown_layer_class_in_a_model_file_is_rejected(tmp_path):
    meta = {"format": saving.FORMAT, "class_name": "Sequential", "compile_config": None,
            "config": {"name": "m", "layers": [
                {"class_name": "InputLayer", "config": {"shape": [3]}},
                {"class_name": "os.system", "config": {"command": "echo hi"}}]}}
    path = str(tmp_path / "evil.npz")
    np.savez(path, __meta__=np.frombuffer(json.dumps(meta).encode(), np.uint8))
    with pytest.raises(ValueError, match="os.system"):
        models.load_model(path)


def _meta_file(tmp_path, name, meta_bytes):
    path = str(tmp_path / f"{name}.npz")
    np.savez(path, __meta__=np.frombuffer(meta_bytes, np.uint8))
    return path


@pytest.mark.parametrize("name,meta_bytes", [
    ("not_utf8", b"\xff\xfe{"),
    ("not_json", b"{model"),
    ("json_list", b"[]"),
    ("no_config", json.dumps({"format": saving.FORMAT, "class_name": "Sequential"}).encode()),
    ("bad_layer_config", json.dumps({
        "format": saving.FORMAT, "class_name": "Sequential", "config": {
            "name": "m", "layers": [{"class_name": "Dense",
                                     "config": {"units": 3, "bogus": 1}}]}}).encode()),
], ids=lambda v: v if isinstance(v, str) else "")
def test_corrupt_model_metadata_is_a_clear_value_error(tmp_path, name, meta_bytes):
    path = _meta_file(tmp_path, name, meta_bytes)
    with pytest.raises(ValueError, match=name):      # the message names the file
        models.load_model(path)


def test_other_format_in_meta_is_rejected(tmp_path):
    meta = {"format": "something-else", "class_name": "Sequential", "config": {}}
    path = str(tmp_path / "other.npz")
    np.savez(path, __meta__=np.frombuffer(json.dumps(meta).encode(), np.uint8))
    with pytest.raises(ValueError, match="Unsupported model file"):
        models.load_model(path)


# ----------------------------------------------------------------- crash safety
def test_crash_mid_save_leaves_the_old_file_intact_and_no_temp_file(tmp_path, monkeypatch):
    model = trained_convnet()
    path = tmp_path / "model.npz"
    model.save(str(path))
    good_bytes = path.read_bytes()
    real_savez = np.savez

    def exploding_savez(file, **arrays):
        # write part of an archive to the target stream, then die
        first = dict(list(arrays.items())[:1])
        real_savez(file, **first)
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(np, "savez", exploding_savez)
    model.layers[-1].kernel.data[...] += 1.0     # the new save would differ
    with pytest.raises(OSError, match="simulated"):
        model.save(str(path))
    with pytest.raises(OSError, match="simulated"):
        model.save_weights(str(path))
    monkeypatch.undo()
    assert path.read_bytes() == good_bytes
    assert sorted(os.listdir(tmp_path)) == ["model.npz"]
    models.load_model(str(path))                   # still a valid file


def test_keyboard_interrupt_mid_save_cleans_up(tmp_path, monkeypatch):
    model = trained_convnet()
    path = tmp_path / "w.npz"

    def interrupted(file, **arrays):
        file.write(b"PK\x03\x04 partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", interrupted)
    with pytest.raises(KeyboardInterrupt):
        model.save_weights(str(path))
    assert os.listdir(tmp_path) == []


def test_saving_creates_missing_directories(tmp_path):
    model = trained_convnet()
    path = tmp_path / "a" / "b" / "w.npz"
    model.save_weights(str(path))
    assert path.exists()


# ----------------------------------------------------------------- bad files
def _write(path, content):
    path.write_bytes(content)
    return str(path)


@pytest.mark.parametrize("content", [
    b"",
    b"this is not a tensorlib file",
    b"PK\x03\x04 truncated zip",
    b"\x93NUMPY garbage",
], ids=["empty", "text", "truncated_zip", "npy_magic"])
def test_loading_garbage_is_a_clear_value_error(tmp_path, content):
    path = _write(tmp_path / "bad.npz", content)
    model = convnet()
    before = model.get_weights()
    with pytest.raises(ValueError, match="not a tensorlib"):
        model.load_weights(path)
    with pytest.raises(ValueError, match="not a tensorlib"):
        models.load_model(path)
    assert_weights_equal(model.get_weights(), before)


def test_loading_a_truncated_model_file_is_a_clear_value_error(tmp_path):
    model = trained_convnet()
    good = tmp_path / "m.npz"
    model.save(str(good))
    data_bytes = good.read_bytes()
    path = _write(tmp_path / "cut.npz", data_bytes[: len(data_bytes) // 2])
    with pytest.raises(ValueError, match="not a tensorlib"):
        models.load_model(path)
    with pytest.raises(ValueError, match="not a tensorlib"):
        convnet().load_weights(path)


def test_loading_a_corrupted_member_is_a_clear_value_error(tmp_path):
    """A zip whose entry is not a valid .npy array (e.g. bit rot inside the archive)."""
    path = str(tmp_path / "rot.npz")
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("weight_0000.npy", b"\x93NUMPY\x01\x00garbage-header")
    with pytest.raises(ValueError, match="not a tensorlib"):
        models.Sequential([layers.Dense(1, input_shape=(1,))]).load_weights(path)


def test_loading_a_pickled_npz_is_refused(tmp_path):
    path = str(tmp_path / "pickled.npz")
    np.savez(path, weight_0000=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="not a tensorlib"):
        models.Sequential([layers.Dense(1, input_shape=(1,))]).load_weights(path)


def test_loading_a_plain_npy_file_is_a_clear_value_error(tmp_path):
    path = str(tmp_path / "x.npy")
    np.save(path, np.zeros(3))
    with pytest.raises(ValueError, match="not a tensorlib"):
        models.load_model(path)
    with pytest.raises(ValueError, match="not a tensorlib"):
        convnet().load_weights(path)


def test_loading_a_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        models.load_model(str(tmp_path / "missing.npz"))
    with pytest.raises(FileNotFoundError):
        convnet().load_weights(str(tmp_path / "missing.npz"))


def test_loading_a_directory_is_an_error(tmp_path):
    with pytest.raises((ValueError, IsADirectoryError)):
        models.load_model(str(tmp_path))
