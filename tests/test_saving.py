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
        z.writestr("weight_0001.npy", b"\x93NUMPY\x01\x00garbage-header")
    with pytest.raises(ValueError, match="not a tensorlib.*corrupt member 'weight_0000'"):
        models.Sequential([layers.Dense(1, input_shape=(1,))]).load_weights(path)


def test_loading_a_pickled_npz_is_refused(tmp_path):
    path = str(tmp_path / "pickled.npz")
    np.savez(path, weight_0000=np.array([[{"a": 1}]], dtype=object),
             weight_0001=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="not a tensorlib.*dtype object"):
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


# ----------------------------------------------------------------- set_weights validates all
def _perturbed(weights):
    return [w + 1.0 for w in weights]


NON_NUMERIC = {
    "complex": lambda shape: np.ones(shape, np.complex64),
    "datetime": lambda shape: np.zeros(shape, "datetime64[s]"),
    "timedelta": lambda shape: np.zeros(shape, "timedelta64[s]"),
    "string": lambda shape: np.full(shape, "1.5", "<U5"),
    "bytes": lambda shape: np.full(shape, b"1.5", "S5"),
    "object": lambda shape: np.full(shape, 1.5, object),
    "structured": lambda shape: np.zeros(shape, [("a", "f4")]),
    "void": lambda shape: np.zeros(shape, "V4"),
}


@pytest.mark.parametrize("kind", sorted(NON_NUMERIC))
def test_model_set_weights_refuses_non_numeric_in_a_late_slot_and_changes_nothing(kind):
    model = trained_convnet()
    before = model.get_weights()
    new = _perturbed(before)
    new[3] = NON_NUMERIC[kind](before[3].shape)
    with pytest.raises(ValueError, match=rf"{model.layers[1].weights[1].name}.*Received: "
                                         r"dtype="):
        model.set_weights(new)
    assert_weights_equal(model.get_weights(), before)


@pytest.mark.parametrize("kind", sorted(NON_NUMERIC))
def test_layer_set_weights_refuses_non_numeric_and_changes_nothing(kind):
    layer = layers.BatchNormalization()
    layer.build_for((None, 3))
    before = layer.get_weights()
    new = _perturbed(before)
    new[3] = NON_NUMERIC[kind]((3,))
    with pytest.raises(ValueError, match="moving_variance|Received"):
        layer.set_weights(new)
    assert_weights_equal(layer.get_weights(), before)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, 1e300])
def test_set_weights_refuses_non_finite_values_and_counts_them(bad):
    model = models.Sequential([layers.Dense(3, input_shape=(4,)), layers.Dense(2)])
    before = model.get_weights()
    new = _perturbed(before)
    new[2] = new[2].astype("float64")
    new[2][0, :] = bad                     # 1e300 overflows float32: infinite once cast
    with pytest.raises(ValueError, match=r"'dense_1/kernel'.* 2 non-finite"):
        model.set_weights(new)
    assert_weights_equal(model.get_weights(), before)
    layer = model.layers[1]
    with pytest.raises(ValueError, match=r"non-finite"):
        layer.set_weights(new[2:])
    assert_weights_equal(model.get_weights(), before)


def test_set_weights_casts_real_numbers_like_keras():
    model = models.Sequential([layers.Dense(2, input_shape=(2,))])
    model.set_weights([np.array([[True, False], [False, True]]), [3, -4]])
    kernel, bias = model.get_weights()
    assert kernel.dtype == bias.dtype == np.float32
    np.testing.assert_array_equal(kernel, np.eye(2))
    np.testing.assert_array_equal(bias, [3.0, -4.0])
    model.set_weights([np.full((2, 2), 0.5, ">f8"), np.array([1, 2], np.uint8)])
    np.testing.assert_array_equal(model.get_weights()[0], np.full((2, 2), 0.5))


def test_set_weights_refuses_ragged_lists_and_non_iterables():
    model = models.Sequential([layers.Dense(2, input_shape=(2,))])
    before = model.get_weights()
    with pytest.raises(ValueError, match="Received"):
        model.set_weights([[[1.0, 2.0], [3.0]], np.zeros(2)])
    with pytest.raises(TypeError, match="Received"):
        model.set_weights(3)
    assert_weights_equal(model.get_weights(), before)


def _weights_file(path, arrays):
    np.savez(path, **{f"weight_{i:04d}": a for i, a in enumerate(arrays)})
    return str(path)


@pytest.mark.parametrize("kind", ["string", "nan"])
def test_load_weights_with_a_bad_late_array_changes_nothing(tmp_path, kind):
    model = trained_convnet()
    before = model.get_weights()
    arrays = _perturbed(before)
    if kind == "string":
        arrays[3] = np.full(before[3].shape, "1.0", "<U5")
    else:
        arrays[3][0] = np.nan
    path = _weights_file(tmp_path / "bad.npz", arrays)
    with pytest.raises(ValueError, match="bad.npz"):
        model.load_weights(path)
    assert_weights_equal(model.get_weights(), before)


# ----------------------------------------------------------------- load_model: real floats only
@pytest.mark.parametrize("dtype", ["complex64", "complex128", "datetime64[s]",
                                   "timedelta64[s]", "<U5", "S4", "int32", "uint8", "bool",
                                   "longdouble"])
def test_load_model_loads_only_real_float_weights(tmp_path, dtype):
    model = models.Sequential([layers.Dense(2, input_shape=(3,)), layers.Dense(1)])
    path = str(tmp_path / "m.npz")
    model.save(path)
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    arrays["weight_0002"] = np.zeros((2, 1), dtype)
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=r"m\.npz.*'weight_0002'.*dense_1/kernel"):
        models.load_model(path)
    with pytest.raises(ValueError, match=r"m\.npz.*'weight_0002'"):
        model.load_weights(path)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", ">f4", ">f8"])
def test_load_model_converts_real_float_weights(tmp_path, dtype):
    model = models.Sequential([layers.Dense(2, input_shape=(3,))])
    path = str(tmp_path / "m.npz")
    model.save(path)
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    arrays["weight_0000"] = np.full((3, 2), 0.5, dtype)
    np.savez(path, **arrays)
    restored = models.load_model(path)
    assert restored.get_weights()[0].dtype == np.float32
    np.testing.assert_array_equal(restored.get_weights()[0], np.full((3, 2), 0.5))


def test_fortran_ordered_and_compressed_files_load(tmp_path):
    model = models.Sequential([layers.Dense(2, input_shape=(3,))])
    path = str(tmp_path / "m.npz")
    model.save(path)
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    arrays["weight_0000"] = np.asfortranarray(np.arange(6, dtype="float32").reshape(3, 2))
    np.savez_compressed(path, **arrays)
    np.testing.assert_array_equal(models.load_model(path).get_weights()[0],
                                  np.arange(6).reshape(3, 2))


# ----------------------------------------------------------------- only what is needed is read
def _zero_member(z, name, header_shape, nbytes, dtype="<f4", chunk=2**20):
    """Stream a member whose .npy header claims ``header_shape`` followed by ``nbytes``
    zero bytes, without holding them in memory."""
    import io
    head = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        head, {"descr": dtype, "fortran_order": False, "shape": header_shape})
    info = zipfile.ZipInfo(name)
    info.compress_type = zipfile.ZIP_DEFLATED
    with z.open(info, "w", force_zip64=True) as out:
        out.write(head.getvalue())
        zeros = bytes(chunk)
        for start in range(0, nbytes, chunk):
            out.write(zeros[: min(chunk, nbytes - start)])


def test_unused_members_are_never_decompressed(tmp_path, monkeypatch):
    model = models.Sequential([layers.Dense(2, input_shape=(3,))])
    path = str(tmp_path / "m.npz")
    model.save(path)
    with zipfile.ZipFile(path, "a") as z:
        _zero_member(z, "extra_blob.npy", (2**24,), 2**26)       # 64 MiB unpacked
    opened = []
    real_open = zipfile.ZipFile.open

    def spy(self, name, *args, **kwargs):
        opened.append(getattr(name, "filename", name))
        return real_open(self, name, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", spy)
    restored = models.load_model(path)
    assert_weights_equal(restored.get_weights(), model.get_weights())
    assert sorted(opened) == ["__meta__.npy", "weight_0000.npy", "weight_0001.npy"]
    opened.clear()
    model.load_weights(path)
    assert sorted(opened) == ["weight_0000.npy", "weight_0001.npy"]


@pytest.mark.parametrize("member,header_shape,nbytes,dtype", [
    ("weight_0000.npy", (2**28,), 2**24, "<f4"),      # header: 1 GiB, shape mismatch
    ("weight_0000.npy", (3, 2), 2**24, "<f4"),        # right header, 16 MiB of data
    ("__meta__.npy", (2**30,), 2**24, "|u1"),         # a 1 GiB architecture record
], ids=["weight_shape", "weight_size", "meta"])
def test_oversized_members_are_refused_before_their_data_is_read(tmp_path, member,
                                                                 header_shape, nbytes, dtype):
    model = models.Sequential([layers.Dense(2, input_shape=(3,))])
    good = str(tmp_path / "good.npz")
    model.save(good)
    path = str(tmp_path / "big.npz")
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(path, "w") as dst:
        for info in src.infolist():
            if info.filename != member:
                dst.writestr(info, src.read(info))
        _zero_member(dst, member, header_shape, nbytes, dtype)
    read = []
    real_read = zipfile.ZipExtFile.read
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setattr(zipfile.ZipExtFile, "read",
                        lambda self, n=-1: read.append(n) or real_read(self, n))
    try:
        with pytest.raises(ValueError, match=r"big\.npz.*" + member[:-4]):
            models.load_model(path)
    finally:
        monkeypatch.undo()
    assert max(read, default=0) < 2**16     # headers only, never the data


# ----------------------------------------------------------------- malformed records
def _model_file(tmp_path, name, meta=None, arrays=None, raw_meta=None):
    path = str(tmp_path / f"{name}.npz")
    members = dict(arrays or {})
    text = raw_meta if raw_meta is not None else json.dumps(meta).encode()
    members["__meta__"] = np.frombuffer(text, np.uint8)
    np.savez(path, **members)
    return path


def _meta(layers_config, compile_config=None, name="m"):
    return {"format": saving.FORMAT, "class_name": "Sequential",
            "compile_config": compile_config,
            "config": {"name": name, "layers": layers_config}}


DENSE = [{"class_name": "InputLayer", "config": {"shape": [3]}},
         {"class_name": "Dense", "config": {"units": 2}}]
DENSE_WEIGHTS = {"weight_0000": np.zeros((3, 2), "f4"), "weight_0001": np.zeros(2, "f4")}


def test_deeply_nested_json_is_a_value_error(tmp_path):
    for depth in (40, 100_000):
        text = b'{"format": ' + b"[" * depth + b"]" * depth + b"}"
        path = _model_file(tmp_path, f"deep{depth}", raw_meta=text)
        with pytest.raises(ValueError, match=rf"deep{depth}.*nested"):
            models.load_model(path)


@pytest.mark.parametrize("name,layers_config", [
    ("layers_dict", {"a": 1}),
    ("layers_string", "Dense"),
    ("entry_list", [["Dense", {"units": 2}]]),
    ("entry_no_config", [{"class_name": "Dense"}]),
    ("config_list", [{"class_name": "Dense", "config": [2]}]),
    ("class_int", [{"class_name": 3, "config": {}}]),
    ("class_unknown", [{"class_name": "Lambda", "config": {}}]),
    ("class_builtin", [{"class_name": "__class__", "config": {}}]),
    ("reshape_zero", [{"class_name": "InputLayer", "config": {"shape": [4]}},
                      {"class_name": "Reshape", "config": {"target_shape": [0, -1]}}]),
    ("reshape_inf", [{"class_name": "InputLayer", "config": {"shape": [4]}},
                     {"class_name": "Reshape", "config": {"target_shape": [1e400]}}]),
    ("units_dict", [{"class_name": "InputLayer", "config": {"shape": [4]}},
                    {"class_name": "Dense", "config": {"units": {"a": 1}}}]),
    ("shape_string", [{"class_name": "InputLayer", "config": {"shape": "abc"}}]),
    ("name_dict", [{"class_name": "InputLayer", "config": {"shape": [3]}},
                   {"class_name": "Dense", "config": {"units": 2, "name": {"x": 1}}}]),
    ("dtype_complex", [{"class_name": "InputLayer", "config": {"shape": [3]}},
                       {"class_name": "Dense", "config": {"units": 2, "dtype": "complex64"}}]),
    ("huge_dense", [{"class_name": "InputLayer", "config": {"shape": [2**30]}},
                    {"class_name": "Dense", "config": {"units": 2**30}}]),
])
def test_bad_architecture_configs_are_value_errors_naming_the_file(tmp_path, name,
                                                                   layers_config):
    path = _model_file(tmp_path, name, _meta(layers_config), DENSE_WEIGHTS)
    with pytest.raises(ValueError, match=name):
        models.load_model(path)


@pytest.mark.parametrize("name,config", [
    ("model_name_int", {"name": 3, "layers": DENSE}),
    ("model_no_layers", {"name": "m"}),
    ("model_no_name", {"layers": DENSE}),
])
def test_bad_model_configs_are_value_errors(tmp_path, name, config):
    meta = {"format": saving.FORMAT, "class_name": "Sequential", "config": config}
    path = _model_file(tmp_path, name, meta, DENSE_WEIGHTS)
    with pytest.raises(ValueError, match=name):
        models.load_model(path)


def test_huge_integers_in_the_record_are_a_value_error(tmp_path):
    text = json.dumps(_meta(DENSE)).replace('"units": 2', '"units": ' + "9" * 5000)
    path = _model_file(tmp_path, "bigint", raw_meta=text.encode())
    with pytest.raises(ValueError, match="bigint"):
        models.load_model(path)


@pytest.mark.parametrize("name,cc", [
    ("cc_string", "adam"),
    ("cc_list", ["adam", "mse"]),
    ("cc_metrics_string", {"optimizer": "adam", "loss": "mse", "metrics": "accuracy"}),
    ("cc_metrics_ints", {"optimizer": "adam", "loss": "mse", "metrics": [1]}),
    ("cc_optimizer_int", {"optimizer": 3, "loss": "mse", "metrics": []}),
    ("cc_unknown_optimizer", {"optimizer": "bogus", "loss": "mse", "metrics": []}),
    ("cc_unknown_loss", {"optimizer": "adam", "loss": "bogus", "metrics": []}),
    ("cc_optimizer_config", {"optimizer": {"class_name": "Adam",
                                           "config": {"learning_rate": "x"}},
                             "loss": "mse", "metrics": []}),
])
def test_bad_compile_configs_are_value_errors_naming_the_file(tmp_path, name, cc):
    path = _model_file(tmp_path, name, _meta(DENSE, cc), DENSE_WEIGHTS)
    with pytest.raises(ValueError, match=name):
        models.load_model(path)
    assert not models.load_model(path, compile=False).compiled


def test_compile_config_without_metrics_or_loss_loads(tmp_path):
    path = _model_file(tmp_path, "nometrics", _meta(DENSE, {"optimizer": "sgd",
                                                            "loss": "mse"}), DENSE_WEIGHTS)
    model = models.load_model(path)
    assert model.compiled and isinstance(model.optimizer, optimizers.SGD)
    path = _model_file(tmp_path, "noloss", _meta(DENSE, {"optimizer": "sgd", "loss": None,
                                                         "metrics": []}), DENSE_WEIGHTS)
    assert not models.load_model(path).compiled


def test_duplicate_and_missing_weight_members_are_refused(tmp_path):
    path = str(tmp_path / "dup.npz")
    with zipfile.ZipFile(path, "w") as z, pytest.warns(UserWarning, match="Duplicate"):
        for name in ("weight_0000.npy", "weight_0000.npy"):
            with z.open(name, "w") as f:
                np.save(f, np.zeros(2, "f4"))
    model = models.Sequential([layers.Dense(2, input_shape=(3,))])
    with pytest.raises(ValueError, match="dup.npz.*twice"):
        model.load_weights(path)
    path = _weights_file(tmp_path / "gap.npz", [np.zeros((3, 2), "f4")])
    with zipfile.ZipFile(path, "a") as z:
        with z.open("weight_0002.npy", "w") as f:
            np.save(f, np.zeros(2, "f4"))
    with pytest.raises(ValueError, match="gap.npz.*lacks member 'weight_0001'"):
        model.load_weights(path)


# ----------------------------------------------------------------- file modes and symlinks
@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_new_files_respect_the_umask(tmp_path, umask):
    model = models.Sequential([layers.Dense(2, input_shape=(3,))])
    old = os.umask(umask)
    try:
        model.save(str(tmp_path / "m.npz"))
        model.save_weights(str(tmp_path / "w.npz"))
    finally:
        os.umask(old)
    for name in ("m.npz", "w.npz"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~umask


def test_an_existing_file_keeps_its_mode(tmp_path):
    model = models.Sequential([layers.Dense(2, input_shape=(3,))])
    path = tmp_path / "m.npz"
    model.save(str(path))
    os.chmod(path, 0o640)
    model.save(str(path))
    assert path.stat().st_mode & 0o777 == 0o640


def test_saving_through_a_symlink_writes_the_target(tmp_path):
    model = models.Sequential([layers.Dense(2, input_shape=(3,))])
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "m.npz"
    model.save(str(target))
    link = tmp_path / "link.npz"
    link.symlink_to(os.path.join("real", "m.npz"))
    model.layers[0].kernel.data[...] = 7.0
    model.save(str(link))
    assert link.is_symlink() and os.readlink(link) == os.path.join("real", "m.npz")
    np.testing.assert_array_equal(models.load_model(str(target)).get_weights()[0],
                                  np.full((3, 2), 7.0))
    assert sorted(os.listdir(tmp_path)) == ["link.npz", "real"]
    assert os.listdir(tmp_path / "real") == ["m.npz"]
    dangling = tmp_path / "dangling.npz"
    dangling.symlink_to(tmp_path / "real" / "new.npz")
    model.save_weights(str(dangling))
    assert dangling.is_symlink() and (tmp_path / "real" / "new.npz").is_file()


# ----------------------------------------------------------------- killed saves
KILLED_SAVE = """
import sys, time
import numpy as np
from tensorlib import layers, models

model = models.Sequential([layers.Dense(2, input_shape=(3,))])

def slow_savez(file, **arrays):
    file.write(b"PK\\x03\\x04 the first bytes of a big archive")
    file.flush()
    print("WRITING", flush=True)
    time.sleep(60)

np.savez = slow_savez
model.save(sys.argv[1])
"""


def test_a_killed_save_leaves_the_old_file_and_the_next_save_cleans_up(tmp_path):
    import signal
    import subprocess
    import sys
    model = trained_convnet()
    path = tmp_path / "m.npz"
    model.save(str(path))
    good = path.read_bytes()
    child = subprocess.Popen([sys.executable, "-c", KILLED_SAVE, str(path)],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "WRITING"
        temps = [n for n in os.listdir(tmp_path) if n != "m.npz"]
        assert len(temps) == 1 and temps[0].startswith(f".m.npz.tmp-{child.pid}-")
        # a save while the child is alive leaves its temp file alone
        model.save_weights(str(path))
        assert temps[0] in os.listdir(tmp_path)
        model.save(str(path))
        good = path.read_bytes()
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    assert path.read_bytes() == good                       # the old file is intact
    assert sorted(os.listdir(tmp_path)) == sorted(["m.npz", temps[0]])
    models.load_model(str(path))
    other = tmp_path / "other.npz"                         # a save elsewhere leaves it
    model.save(str(other))
    assert temps[0] in os.listdir(tmp_path)
    model.save(str(path))                                  # the next save of m.npz cleans
    assert sorted(os.listdir(tmp_path)) == ["m.npz", "other.npz"]


def test_temp_files_that_are_not_ours_are_left_alone(tmp_path):
    model = models.Sequential([layers.Dense(2, input_shape=(3,))])
    keep = [".m.npz.tmp-notapid-0123456789abcdef", ".m.npz.tmp-0-0123456789abcdef",
            f".m.npz.tmp-{os.getpid()}-0123456789abcdef", ".other.npz.tmp-999999999-0123",
            "m.npz.tmp-999999999-0123456789abcdef"]
    for name in keep:
        (tmp_path / name).write_bytes(b"x")
    model.save(str(tmp_path / "m.npz"))
    assert sorted(os.listdir(tmp_path)) == sorted(keep + ["m.npz"])
