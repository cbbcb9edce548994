"""Subclassed models and custom layers with sublayers in Keras 3 files: files written by
real Keras 3 (``make_keras_subclassed_files.py``) load, predict and train on as Keras
does, and tensorlib writes the same records and weight layout."""
import io
import json
import os
import zipfile

import numpy as np
import pytest

import tensorlib as keras
from keras_subclassed_models import cases, define

h5py = pytest.importorskip("h5py")
HERE = os.path.dirname(os.path.abspath(__file__))
FILES = os.path.join(HERE, "data", "keras_files")
EXPECTED = np.load(os.path.join(FILES, "sub_expected.npz"))
CLASSES = define(keras)
CASES = ["net", "private", "two_inputs", "fn_block", "seq_block", "fn_sub"]


def fixture(name):
    return os.path.join(FILES, f"sub_{name}.keras")


def inputs(name, what="x"):
    if f"{name}/{what}" in EXPECTED:
        return EXPECTED[f"{name}/{what}"]
    return [EXPECTED[f"{name}/{what}:{i}"] for i in range(2)]


def layout(path):
    """{dataset path: shape} of a .keras file's model.weights.h5."""
    with zipfile.ZipFile(path) as z:
        data = z.read("model.weights.h5")
    out = {}
    with h5py.File(io.BytesIO(data), "r") as f:
        f.visititems(lambda n, o: out.__setitem__(n, o.shape)
                     if isinstance(o, h5py.Dataset) else None)
    return out


def record(path):
    with zipfile.ZipFile(path) as z:
        return json.loads(z.read("config.json"))


@pytest.mark.parametrize("name", CASES)
def test_keras_file_loads_predicts_and_trains_as_keras(name):
    model = keras.saving.load_model(fixture(name))
    x, y = inputs(name), EXPECTED[f"{name}/y"]
    np.testing.assert_allclose(model.predict(x, verbose=0), EXPECTED[f"{name}/predict"],
                               rtol=1e-5, atol=1e-5)
    loss = model.train_on_batch(x, y)       # Adam state from the file: same next step
    np.testing.assert_allclose(loss, EXPECTED[f"{name}/loss"], rtol=1e-5)
    after = model.get_weights()
    assert len(after) == sum(1 for k in EXPECTED.files if k.startswith(f"{name}/after/"))
    for i, w in enumerate(after):
        np.testing.assert_allclose(w, EXPECTED[f"{name}/after/{i}"], rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("name", CASES)
def test_tensorlib_writes_keras_record_and_weight_layout(tmp_path, name):
    model = keras.saving.load_model(fixture(name))
    out = tmp_path / f"{name}.keras"
    model.save(str(out))
    assert layout(str(out)) == layout(fixture(name))
    mine, theirs = record(str(out)), record(fixture(name))
    for key in ("class_name", "registered_name", "build_config"):
        assert mine.get(key) == theirs.get(key), key
    if name in ("net", "private", "two_inputs", "fn_sub"):
        assert mine["config"] == theirs["config"]
    again = keras.saving.load_model(str(out))
    np.testing.assert_array_equal(again.predict(inputs(name), verbose=0),
                                  model.predict(inputs(name), verbose=0))


def test_paths_follow_keras_walk():
    paths = layout(fixture("net"))
    # the BatchNormalization is first reached through the model's `layers`, before `norm`
    assert "layers/batch_normalization/vars/3" in paths and not any(
        p.startswith("norm/") for p in paths)
    assert paths["block/vars/0"] == (8,) and "block/extra/dense_1/vars/0" in paths
    assert "blocks/dense/vars/1" in paths
    # `layers` sorts before `shared`, `stack`, `z_out` and the private `_inner`: every
    # layer of this model is reached through it, nested lists flattened, shared once
    private = layout(fixture("private"))
    assert {p.split("/")[0] for p in private} == {"layers", "optimizer"}
    assert private["layers/dense/vars/0"] == (5, 5) and private["layers/dense_3/vars/0"] \
        == (4, 3) and "layers/dense_4/vars/0" not in private


def test_fresh_model_round_trip_and_weights_h5(tmp_path):
    model, x, y = cases(keras, CLASSES)["net"]
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y, epochs=1, verbose=0)
    model.save(str(tmp_path / "m.keras"))
    loaded = keras.saving.load_model(str(tmp_path / "m.keras"))
    assert type(loaded) is CLASSES["Net"] and loaded.hidden == 8
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    model.save_weights(str(tmp_path / "w.weights.h5"))
    fresh, _, _ = cases(keras, CLASSES)["net"]
    fresh.load_weights(str(tmp_path / "w.weights.h5"))
    np.testing.assert_array_equal(fresh.predict(x, verbose=0), model.predict(x, verbose=0))


def test_unknown_model_class_is_named(tmp_path):
    rec = record(fixture("net"))
    rec["class_name"], rec["registered_name"] = "Gone", "other>Gone"
    path = tmp_path / "gone.keras"
    with zipfile.ZipFile(fixture("net")) as src, zipfile.ZipFile(path, "w") as z:
        for info in src.infolist():
            z.writestr(info.filename, json.dumps(rec) if info.filename == "config.json"
                       else src.read(info))
    with pytest.raises(ValueError, match=r"model class 'Gone'.*custom_objects.*Received: "
                                         r"registered_name='other>Gone'"):
        keras.saving.load_model(str(path))


def test_model_without_config_cannot_be_saved(tmp_path):
    class Opaque(keras.Model):
        def __init__(self, layer):
            super().__init__()
            self.layer = layer

        def call(self, x):
            return self.layer(x)
    model = Opaque(keras.layers.Dense(2))
    model(np.zeros((1, 3), "float32"))
    with pytest.raises(ValueError, match=r"save: .*Opaque.*get_config"):
        model.save(str(tmp_path / "o.keras"))
    assert not (tmp_path / "o.keras").exists()
