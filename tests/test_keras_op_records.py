"""``keras.ops`` calls inside functional models in Keras 3 files, both ways, against files
real Keras wrote (``tests/data/keras_files/ops_*``, made by ``tests/make_keras_op_files.py``
from the graphs of ``keras_op_graphs.py``): Keras's files load and predict as Keras did;
the same graphs built in tensorlib write op records equal to Keras's and reload; broken or
unknown op records and ops without a Keras equivalent are refused. That real Keras loads
tensorlib's files is checked by ``tests/check_keras_op_roundtrip.py`` (a script)."""
import io
import json
import os
import zipfile

import h5py
import numpy as np
import pytest

import tensorlib as keras
import keras_op_graphs as og

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "keras_files")
EXPECTED = dict(np.load(os.path.join(DATA, "ops_expected.npz")))
ops = keras.ops


def fixture(name):
    return os.path.join(DATA, f"ops_{name}.keras")


def inputs(name):
    xs = [EXPECTED[f"{name}/x:{i}"] for i in range(2) if f"{name}/x:{i}" in EXPECTED]
    return xs[0] if len(xs) == 1 else xs


def check_predicts_as_keras(model, name):
    got = model.predict(inputs(name), verbose=0)
    got = got if isinstance(got, list) else [got]
    assert f"{name}/predict:{len(got)}" not in EXPECTED
    for i, g in enumerate(got):
        want = EXPECTED[f"{name}/predict:{i}"]
        assert g.shape == want.shape and g.dtype == want.dtype, i
        np.testing.assert_allclose(g, want, rtol=1e-5, atol=1e-5, err_msg=f"output {i}")


def record(path):
    with zipfile.ZipFile(path) as z:
        return json.loads(z.read("config.json"))


def h5_items(path):
    """The weights file's groups and datasets (op calls have none, as in Keras)."""
    out = {}
    with zipfile.ZipFile(path) as z, h5py.File(io.BytesIO(z.read("model.weights.h5"))) as f:
        f.visititems(lambda name, obj: out.__setitem__(name, getattr(obj, "shape", None)))
    return out


def op_entries(rec):
    return [e for e in rec["config"]["layers"] if e["module"].startswith("keras.src.ops.")]


def with_record(source, path, edit):
    """A copy of the ``.keras`` file ``source`` at ``path`` with ``edit(config)`` applied
    to its ``config.json``."""
    rec = record(source)
    edit(rec["config"])
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(path, "w") as z:
        for info in src.infolist():
            z.writestr(info.filename, json.dumps(rec) if info.filename == "config.json"
                       else src.read(info))
    return str(path)


def entry(config, name):
    return next(e for e in config["layers"] if e["name"] == name)


# ----------------------------------------------------------------- Keras -> tensorlib
@pytest.mark.parametrize("name", sorted(og.GRAPHS))
def test_keras_file_with_ops_loads_and_predicts_as_keras(name):
    model = keras.saving.load_model(fixture(name))
    assert not any(getattr(la, "_is_op", False) for la in model.layers)
    check_predicts_as_keras(model, name)


@pytest.mark.parametrize("name", sorted(og.GRAPHS))
def test_loaded_file_saves_the_same_op_records(tmp_path, name):
    model = keras.saving.load_model(fixture(name))
    path = str(tmp_path / "again.keras")
    model.save(path)
    mine, theirs = record(path), record(fixture(name))
    assert [e["name"] for e in mine["config"]["layers"]] == \
        [e["name"] for e in theirs["config"]["layers"]]
    assert op_entries(mine) == op_entries(theirs)
    for key in ("input_layers", "output_layers"):
        assert mine["config"][key] == theirs["config"][key]
    check_predicts_as_keras(keras.saving.load_model(path), name)


# ----------------------------------------------------------------- tensorlib -> Keras
@pytest.mark.parametrize("name", sorted(og.GRAPHS))
def test_graph_built_in_code_writes_keras_op_records(tmp_path, name):
    """Built with tensorlib's ``keras.ops`` and operators, the graph's record lists the
    same layers and ops in the same order as Keras's, each op entry equal to Keras's."""
    keras.backend.clear_session()
    model = og.GRAPHS[name](keras)
    source = keras.saving.load_model(fixture(name))
    for layer in model.layers:
        layer.set_weights(source.get_layer(layer.name).get_weights())
    check_predicts_as_keras(model, name)
    path = str(tmp_path / f"{name}.keras")
    model.save(path)
    mine, theirs = record(path), record(fixture(name))
    assert [(e["name"], e["class_name"]) for e in mine["config"]["layers"]] == \
        [(e["name"], e["class_name"]) for e in theirs["config"]["layers"]]
    assert op_entries(mine) and op_entries(mine) == op_entries(theirs)
    for key in ("input_layers", "output_layers"):
        assert mine["config"][key] == theirs["config"][key]
    assert h5_items(path) == h5_items(fixture(name))
    check_predicts_as_keras(keras.saving.load_model(path), name)


def test_to_json_and_clone_model_keep_the_ops():
    model = keras.saving.load_model(fixture("mixed"))
    again = keras.models.model_from_json(model.to_json())
    clone = keras.models.clone_model(model)
    for other in (again, clone):
        assert [la.name for la in other.layers] == [la.name for la in model.layers]
        other.set_weights(model.get_weights())
        check_predicts_as_keras(other, "mixed")
    assert json.loads(clone.to_json())["config"]["layers"] == \
        json.loads(model.to_json())["config"]["layers"]


def test_op_record_with_two_nodes_loads_and_saves(tmp_path):
    """A Keras op called twice (``op = Negative(); op(a); op(op(a))``) is one record with
    two nodes; its second output is named [op, 1, 0]."""
    def edit(config):
        neg = entry(config, "negative")
        second = json.loads(json.dumps(neg["inbound_nodes"][0]))
        second["args"][0]["config"]["keras_history"] = ["negative", 0, 0]
        neg["inbound_nodes"].append(second)
        config["output_layers"].append(["negative", 1, 0])
    model = keras.saving.load_model(with_record(fixture("arith"), tmp_path / "n.keras", edit))
    outs = model.predict(inputs("arith"), verbose=0)
    minus_d = EXPECTED["arith/predict:11"]          # output 11 is -d, the first call
    np.testing.assert_allclose(outs[11], minus_d, rtol=1e-6)
    np.testing.assert_allclose(outs[-1], -minus_d, rtol=1e-6)
    path = str(tmp_path / "again.keras")
    model.save(path)
    assert len(entry(record(path)["config"], "negative")["inbound_nodes"]) == 2


def test_array_and_tensor_constants_round_trip(tmp_path):
    """Constant arrays are written as Keras writes them (``__numpy__``, ``__tensor__``
    for a backend tensor) and read back with their dtype."""
    x = keras.Input((3,), name="x")
    w = np.array([[1.0, 2.0], [0.5, -1.0], [0.0, 3.0]])
    out = ops.matmul(x, w) + ops.convert_to_tensor(np.array([1.0, -2.0], "float32"))
    model = keras.Model(x, out)
    path = str(tmp_path / "c.keras")
    model.save(path)
    records = op_entries(record(path))
    assert [e["inbound_nodes"][0]["args"][1] for e in records] == [
        {"class_name": "__numpy__", "config": {"value": w.tolist(), "dtype": "float64"}},
        {"class_name": "__tensor__", "config": {"value": [1.0, -2.0], "dtype": "float32"}}]
    data = np.random.default_rng(3).normal(size=(4, 3)).astype("float32")
    got = keras.saving.load_model(path).predict(data, verbose=0)
    np.testing.assert_allclose(got, data.astype("float64") @ w + [1.0, -2.0], rtol=1e-6)


# ----------------------------------------------------------------- refusals
def test_op_without_keras_equivalent_is_refused_at_save(tmp_path):
    x = keras.Input((3, 4), name="x")
    d = keras.layers.Dense(2, name="d")(x)
    model = keras.Model(x, ops.flatten(d))
    with pytest.raises(ValueError, match=r"op 'flatten.*' \(flatten\) has no Keras 3 op "
                                         r"class.*Received: op='flatten'"):
        model.save(str(tmp_path / "f.keras"))
    model = keras.Model(x, d[:, np.array([0, 2])])
    with pytest.raises(ValueError, match=r"indexes with array.*ints, slices, \.\.\. and None"):
        model.save(str(tmp_path / "g.keras"))


def _set(name, key, value):
    def edit(config):
        entry(config, name)[key] = value
    return edit


def _config(name, **changes):
    def edit(config):
        entry(config, name)["config"].update(changes)
    return edit


def _arg(name, index, value):
    def edit(config):
        entry(config, name)["inbound_nodes"][0]["args"][index] = value
    return edit


@pytest.mark.parametrize("graph, edit, message", [
    ("shapes", _set("mean", "class_name", "Median"),
     r"layer \d+ \('mean', op class 'Median'\) is a Keras op tensorlib cannot load.*"
     r"Received: class_name='Median'"),
    ("arith", _set("relu", "module", "keras.src.ops.numpy"),
     r"'relu', op class 'Relu'.*cannot load.*module='keras.src.ops.numpy'"),
    ("shapes", _config("mean", axis="1"), r"'mean'.*invalid axis. Received: axis='1'"),
    ("shapes", _config("mean", keepdims=0), r"invalid keepdims. Received: keepdims=0"),
    ("shapes", _config("max", initial=0.0), r"'max'.*initial=0.0.*only None"),
    ("shapes", _config("mean", where=None), r"config key 'where', unknown"),
    ("shapes", _config("cast", dtype="object"), r"invalid dtype. Received: dtype='object'"),
    ("shapes", _config("reshape", newshape=[-1, "6"]), r"invalid newshape"),
    ("arith", _arg("multiply", 1, "__import__('os')"),
     r"'multiply'.*not a tensor, a number or an array. Received: \"__import__\('os'\)\""),
    ("arith", _arg("multiply", 1, {"class_name": "__numpy__",
                                   "config": {"value": [1], "dtype": "object"}}),
     r"'multiply'.*not an array record"),
    ("arith", _arg("multiply", 1, {"class_name": "__numpy__",
                                   "config": {"value": [[1], [2, 3]], "dtype": "float32"}}),
     r"'multiply'.*not an array of numbers"),
    ("shapes", _arg("get_item", 1, [{"class_name": "__slice__",
                                     "config": {"start": "a", "stop": None, "step": None}}]),
     r"'get_item'.*not an int, a slice, \.\.\. or None"),
    ("shapes", _arg("concatenate", 0, {"class_name": "__keras_tensor__", "config": {}}),
     r"'concatenate'.*not a non-empty list of tensors"),
    ("arith", _set("multiply", "inbound_nodes", [{"args": [2.0, 3.0], "kwargs": {}}]),
     r"'multiply'.*names no tensor"),
    ("arith", _set("negative", "inbound_nodes", [{"args": [], "kwargs": {}}]),
     r"'negative'.*0 arguments; the op takes 1"),
    ("arith", _set("negative", "inbound_nodes", [{"args": [1.0], "kwargs": {"x": 1}}]),
     r"'negative'.*not \{'args'"),
    ("shapes", _config("mean", axis=7), r"layer 'mean' cannot be called"),
])
def test_broken_op_records_are_refused(tmp_path, graph, edit, message):
    path = with_record(fixture(graph), tmp_path / "bad.keras", edit)
    with pytest.raises(ValueError, match=message):
        keras.saving.load_model(path)


def test_lambda_in_an_op_argument_is_refused(tmp_path):
    lam = {"class_name": "__lambda__", "config": {"value": "code"}}
    path = with_record(fixture("arith"), tmp_path / "lam.keras", _arg("multiply", 1, lam))
    for safe_mode in (True, False):
        with pytest.raises(ValueError, match="__lambda__"):
            keras.saving.load_model(path, safe_mode=safe_mode)
