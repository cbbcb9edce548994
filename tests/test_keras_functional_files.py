"""Functional models in Keras 3 files, both ways, against files real Keras wrote
(``tests/data/keras_files/fn_*``, made by ``tests/make_keras_functional_files.py`` from the
graphs of ``keras_file_graphs.py``): predictions, the optimizer state, the config and HDF5
structure tensorlib writes, custom layers (``custom_objects``, registered names) and
refused files. That real Keras loads tensorlib's files is checked by
``tests/check_keras_functional_roundtrip.py`` (it needs Keras, so it is a script)."""
import gzip
import io
import json
import os
import zipfile

import h5py
import numpy as np
import pytest

import tensorlib as keras
from tensorlib import saving
from tensorlib.models import keras_format
import keras_file_graphs as kg

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "keras_files")
EXPECTED = dict(np.load(os.path.join(DATA, "fn_expected.npz")))
Scale = kg.scale_class(keras)           # registered as "my_pkg>Scale"


def fixture(name):
    return os.path.join(DATA, name)


def inputs(name):
    keys = sorted(k for k in EXPECTED if k.startswith(f"{name}/x"))
    return EXPECTED[keys[0]] if keys == [f"{name}/x"] else [EXPECTED[k] for k in keys]


def expected_outputs(model, name):
    keys = sorted(k for k in EXPECTED if k.startswith(f"{name}/predict"))
    return [EXPECTED[k] for k in keys]


def as_list(value):
    return value if isinstance(value, list) else [value]


def member(path, name):
    with zipfile.ZipFile(path) as z:
        return z.read(name)


def h5_items(data):
    out = {}
    with h5py.File(io.BytesIO(data) if isinstance(data, bytes) else data, "r") as f:
        f.visititems(lambda name, obj: out.__setitem__(
            name, obj.shape if isinstance(obj, h5py.Dataset) else dict(obj.attrs)))
    return out


def graph_structure(record):
    """The parts of a config record that describe the graph (not initializer details)."""
    def layer(entry):
        config = entry["config"]
        inner = graph_structure(entry) if "layers" in config else None
        auto = entry["class_name"] == "InputLayer" and "name" not in entry  # a counter
        return (entry["class_name"], entry.get("module"), entry.get("registered_name"),
                entry.get("name"), None if auto else config.get("name"),
                json.dumps(entry.get("inbound_nodes")),
                json.dumps(entry.get("build_config")), inner)
    config = record["config"]
    return (record["class_name"], [layer(e) for e in config["layers"]],
            json.dumps(config.get("input_layers")), json.dumps(config.get("output_layers")))


# ----------------------------------------------------------------- Keras -> tensorlib
@pytest.mark.parametrize("name", sorted(kg.GRAPHS))
def test_keras_functional_file_loads_and_predicts_as_keras(name):
    model = keras.saving.load_model(fixture(f"fn_{name}.keras"))
    record = json.loads(member(fixture(f"fn_{name}.keras"), "config.json"))
    assert [la.name for la in model.layers] == sorted(
        [e["name"] for e in record["config"]["layers"]],
        key=[la.name for la in model.layers].index)
    got = as_list(model.predict(inputs(name), verbose=0))
    want = expected_outputs(model, name)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["nested"])      # convnet's Dropout draws random masks
def test_keras_functional_optimizer_state_continues_training_as_keras(name):
    """The Adam slots are stored in Keras's layer order (by depth, not the walk's): one
    more step from the file's state gives Keras's loss and weights."""
    model = keras.saving.load_model(fixture(f"fn_{name}.keras"))
    assert model.compiled and model.optimizer.iterations == 2
    loss = model.train_on_batch(inputs(name), EXPECTED[f"{name}/y"])
    np.testing.assert_allclose(loss, EXPECTED[f"{name}/next_loss"], rtol=1e-4, atol=1e-5)
    weights = [w.data for w in keras_format._keras_weights(model)]
    want = [EXPECTED[f"{name}/next_weights:{i}"] for i in range(len(weights))]
    assert f"{name}/next_weights:{len(weights)}" not in EXPECTED
    for g, w in zip(weights, want):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)


def test_keras_weights_h5_loads_into_the_graph_built_in_code(tmp_path):
    path = tmp_path / "shared.weights.h5"
    with gzip.open(fixture("fn_shared.weights.h5.gz")) as f:
        path.write_bytes(f.read())
    model = kg.shared(keras)
    model.load_weights(str(path))
    for g, w in zip(model.predict(inputs("shared"), verbose=0),
                    expected_outputs(model, "shared")):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)
    mine = tmp_path / "mine.weights.h5"
    model.save_weights(str(mine))
    assert h5_items(str(mine)) == h5_items(str(path))


# ----------------------------------------------------------------- tensorlib -> Keras
@pytest.mark.parametrize("name", sorted(kg.GRAPHS))
def test_written_functional_file_has_keras_structure_and_round_trips(tmp_path, name):
    source = fixture(f"fn_{name}.keras")
    model = keras.saving.load_model(source)
    path = str(tmp_path / f"{name}.keras")
    model.save(path)
    mine, theirs = (json.loads(member(p, "config.json")) for p in (path, source))
    assert graph_structure(mine) == graph_structure(theirs)
    assert h5_items(member(path, "model.weights.h5")) == \
        h5_items(member(source, "model.weights.h5"))
    again = keras.saving.load_model(path)
    for g, w in zip(as_list(again.predict(inputs(name), verbose=0)),
                    expected_outputs(again, name)):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)


def test_graph_built_in_code_writes_keras_layer_order(tmp_path):
    """A model built in tensorlib (not loaded) lists layers and keys weights as Keras."""
    model = kg.nested(keras)
    path = str(tmp_path / "n.keras")
    model.save(path)
    record = json.loads(member(path, "config.json"))
    theirs = json.loads(member(fixture("fn_nested.keras"), "config.json"))
    assert [e["name"] for e in record["config"]["layers"]] == \
        [e["name"] for e in theirs["config"]["layers"]]
    theirs = h5_items(member(fixture("fn_nested.keras"), "model.weights.h5"))
    assert h5_items(member(path, "model.weights.h5")) == \
        {k: v for k, v in theirs.items() if not k.startswith("optimizer")}


# ----------------------------------------------------------------- custom layers
def test_keras_file_with_registered_custom_layer_loads():
    model = keras.saving.load_model(fixture("fn_custom.keras"))
    assert type(model.get_layer("scale")) is Scale and model.get_layer("scale").offset == 0.5
    np.testing.assert_allclose(model.predict(EXPECTED["custom/x"], verbose=0),
                               EXPECTED["custom/predict"], rtol=1e-5, atol=1e-5)


def test_custom_objects_take_precedence_and_unknown_class_is_named(tmp_path):
    Other = type("Scale", (Scale,), {})     # same class name: same weight group
    model = keras.saving.load_model(fixture("fn_custom.keras"), custom_objects={"Scale": Other})
    assert type(model.get_layer("scale")) is Other
    record = json.loads(member(fixture("fn_custom.keras"), "config.json"))
    record["config"]["layers"][2]["registered_name"] = "other_pkg>Missing"
    record["config"]["layers"][2]["class_name"] = "Missing"
    path = tmp_path / "missing.keras"
    with zipfile.ZipFile(fixture("fn_custom.keras")) as src, zipfile.ZipFile(path, "w") as z:
        for info in src.infolist():
            z.writestr(info.filename, json.dumps(record) if info.filename == "config.json"
                       else src.read(info))
    with pytest.raises(ValueError, match=r"'scale'.*custom class 'Missing'.*custom_objects"
                                         r".*Received: registered_name='other_pkg>Missing'"):
        keras.saving.load_model(str(path))


def test_custom_layer_round_trips_with_custom_objects(tmp_path):
    class Shift(keras.layers.Layer):
        def __init__(self, amount=1.0, **kwargs):
            super().__init__(**kwargs)
            self.amount = amount

        def build(self, input_shape):
            self.b = self.add_weight(shape=(input_shape[-1],), initializer="zeros",
                                     trainable=True, name="b")

        def call(self, x):
            return x + self.b + self.amount

        def get_config(self):
            return {**super().get_config(), "amount": self.amount}
    x = keras.Input((3,), name="x")
    model = keras.Model(x, keras.layers.Dense(2, name="d")(Shift(2.5, name="shift")(x)))
    model.get_layer("shift").set_weights([np.array([0.1, -0.2, 0.3], "float32")])
    path = str(tmp_path / "c.keras")
    model.save(path)
    entry = json.loads(member(path, "config.json"))["config"]["layers"][1]
    assert (entry["class_name"], entry["registered_name"], entry["config"]["amount"]) == \
        ("Shift", "Shift", 2.5)
    with pytest.raises(ValueError, match="could not locate the custom class 'Shift'"):
        keras.saving.load_model(path)
    again = keras.saving.load_model(path, custom_objects={"Shift": Shift})
    data = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
    np.testing.assert_allclose(again.predict(data, verbose=0), model.predict(data, verbose=0),
                               rtol=1e-6, atol=1e-6)
    with saving.custom_object_scope({"Shift": Shift}):
        assert type(keras.saving.load_model(path).get_layer("shift")) is Shift


def test_register_keras_serializable_names_like_keras():
    @saving.register_keras_serializable(package="pkg_t", name="Renamed")
    class Thing(keras.layers.Layer):
        pass
    assert saving.get_registered_name(Thing) == "pkg_t>Renamed"
    assert saving.get_custom_objects()["pkg_t>Renamed"] is Thing
    assert saving.get_registered_object("pkg_t>Renamed") is Thing
    with pytest.raises(ValueError, match="already been registered"):
        saving.register_keras_serializable(package="pkg_t", name="Renamed")(Scale)
    assert keras.utils.register_keras_serializable is saving.register_keras_serializable


# ----------------------------------------------------------------- refused files
def test_functional_lambda_is_refused_in_safe_mode_and_unsupported_anyway():
    with pytest.raises(ValueError, match=r"'twice'.*Lambda.*safe mode.*Received"):
        keras.saving.load_model(fixture("fn_lambda.keras"))
    with pytest.raises(ValueError, match=r"'twice'.*class 'Lambda'.*Received"):
        keras.saving.load_model(fixture("fn_lambda.keras"), safe_mode=False)


def edited(tmp_path, edit, source="fn_two_inputs.keras", metadata=None):
    record = json.loads(member(fixture(source), "config.json"))
    edit(record)
    path = tmp_path / "edited.keras"
    with zipfile.ZipFile(fixture(source)) as src, zipfile.ZipFile(path, "w") as z:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "config.json":
                data = json.dumps(record)
            elif info.filename == "metadata.json" and metadata:
                data = json.dumps(metadata)
            z.writestr(info.filename, data)
    return str(path)


def _layer(record, name):
    return next(e for e in record["config"]["layers"] if e["name"] == name)


def _set(record, name, key, value):
    _layer(record, name)[key] = value


@pytest.mark.parametrize("edit, message", [
    (lambda r: _set(r, "joined", "class_name", "Conv1D"), r"'joined'.*Conv1D"),
    (lambda r: _layer(r, "out")["inbound_nodes"][0]["args"][0]["config"].__setitem__(
        "keras_history", ["nowhere", 0, 0]), r"'out'.*names the layer 'nowhere'"),
    (lambda r: _layer(r, "left_dense")["inbound_nodes"][0]["args"][0]["config"].__setitem__(
        "keras_history", ["out", 0, 0]), r"cannot be rebuilt.*needs tensors"),
    (lambda r: _layer(r, "out")["inbound_nodes"][0].__setitem__("kwargs", {"scale": 2}),
     r"'out'.*called with scale=2"),
    (lambda r: r["config"].__setitem__("output_layers", [["out", 3, 0]]),
     r"output_layers names node 3 of layer 'out'"),
    (lambda r: r["config"].pop("input_layers"), r"input_layers must be"),
    (lambda r: _layer(r, "left")["config"].__setitem__("sparse", True), r"'left'.*sparse"),
])
def test_bad_functional_records_are_value_errors_naming_the_part(tmp_path, edit, message):
    with pytest.raises(ValueError, match=rf"edited.keras.*{message}.*Received"):
        keras.saving.load_model(edited(tmp_path, edit))


def test_newer_keras_version_is_refused(tmp_path):
    path = edited(tmp_path, lambda r: None, metadata={"keras_version": "4.1.0"})
    with pytest.raises(ValueError, match=r"edited.keras.*Keras '4.1.0'.*Received"):
        keras.saving.load_model(path)


@pytest.mark.parametrize("name", sorted(kg.GRAPHS))
def test_model_layers_and_weights_follow_keras_order(name):
    """``model.layers`` and ``get_weights()`` of a graph built in code list layers in the
    order Keras lists them (its config.json), so weights move between the two by
    ``get_weights``/``set_weights``."""
    model = kg.GRAPHS[name](keras)
    theirs = json.loads(member(fixture(f"fn_{name}.keras"), "config.json"))
    assert [la.name for la in model.layers] == \
        [e["config"]["name"] for e in theirs["config"]["layers"]]
    shapes = [w.shape for la in model.layers for w in la.get_weights()]
    assert [w.shape for w in model.get_weights()] == shapes
