"""The simple Keras 3 layers in use: the noise layers' training flag, statistics and
seeding; a Keras-written ``.keras`` file with all of them (``tests/data/keras_files/
simple_layers.keras``, made by ``tests/make_simple_layer_fixtures.py``) loading and
predicting as Keras did; tensorlib's own files of them loading back; training through them.
That Keras loads tensorlib's files: ``tests/check_simple_layers_keras.py``."""
import json
import os
import zipfile

import numpy as np
import pytest

import tensorlib as tl
from tensorlib import layers, models

DATA = os.path.join(os.path.dirname(__file__), "data", "keras_files")


# ---------------------------------------------------------------- GaussianNoise
def test_gaussian_noise_only_when_training_and_its_statistics():
    x = np.random.default_rng(0).normal(size=(400, 50)).astype(np.float32)
    layer = layers.GaussianNoise(0.3)
    np.testing.assert_array_equal(layer(x).numpy(), x)
    np.testing.assert_array_equal(layer(x, training=False).numpy(), x)
    noise = layer(x, training=True).numpy() - x
    assert noise.dtype == np.float32
    assert abs(noise.mean()) < 0.01 and abs(noise.std() - 0.3) < 0.01   # 20000 draws
    assert abs(np.corrcoef(noise[:, 0], noise[:, 1])[0, 1]) < 0.2
    np.testing.assert_array_equal(layers.GaussianNoise(0.0)(x, training=True).numpy(), x)


def test_gaussian_noise_seeding_and_gradient():
    x = np.ones((3, 4), np.float32)
    a, b = layers.GaussianNoise(0.5, seed=7), layers.GaussianNoise(0.5, seed=7)
    first = a(x, training=True).numpy()
    np.testing.assert_array_equal(first, b(x, training=True).numpy())
    assert not np.array_equal(first, a(x, training=True).numpy())     # the stream moves on
    assert not np.array_equal(first, layers.GaussianNoise(0.5, seed=8)(x, training=True)
                              .numpy())
    unseeded = layers.GaussianNoise(0.5)
    tl.manual_seed(3)
    one = unseeded(x, training=True).numpy()
    tl.manual_seed(3)
    np.testing.assert_array_equal(one, unseeded(x, training=True).numpy())
    t = tl.tensor(x, requires_grad=True)
    (a(t, training=True) * 2.0).sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), np.full((3, 4), 2.0, np.float32))


def test_noise_layers_are_active_in_fit_only():
    x = np.random.default_rng(2).normal(size=(8, 4, 4, 3)).astype(np.float32)
    for noise in (layers.GaussianNoise(0.5, seed=1), layers.SpatialDropout2D(0.5, seed=1)):
        model = models.Sequential([layers.Input((4, 4, 3)), noise, layers.Dense(3)])
        model.set_weights([np.eye(3, dtype=np.float32), np.zeros(3, np.float32)])
        model.compile(optimizer=tl.optimizers.SGD(0.0), loss="mse")
        assert model.train_on_batch(x, x) > 0.05
        assert model.evaluate(x, x, verbose=0) == 0.0
        np.testing.assert_array_equal(model.predict(x, verbose=0), x)


# ---------------------------------------------------------------- SpatialDropout2D
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_spatial_dropout_drops_whole_channels(data_format):
    rate = 0.3
    shape = (100, 3, 4, 40) if data_format == "channels_last" else (100, 40, 3, 4)
    x = np.random.default_rng(1).uniform(1.0, 2.0, size=shape).astype(np.float32)
    layer = layers.SpatialDropout2D(rate, data_format=data_format, seed=5)
    np.testing.assert_array_equal(layer(x).numpy(), x)
    t = tl.tensor(x, requires_grad=True)
    y = layer(t, training=True)
    y.sum().backward()
    out = y.numpy()
    maps = out if data_format == "channels_first" else out.transpose(0, 3, 1, 2)
    src = x if data_format == "channels_first" else x.transpose(0, 3, 1, 2)
    dropped = (maps == 0).all(axis=(2, 3))
    kept = ~dropped
    np.testing.assert_allclose(maps[kept], src[kept] / (1 - rate), rtol=1e-6)
    assert abs(dropped.mean() - rate) < 0.03            # 4000 channels: std ~0.007
    grad = t.grad.numpy() if data_format == "channels_first" else \
        t.grad.numpy().transpose(0, 3, 1, 2)
    np.testing.assert_allclose(grad, np.where(dropped[:, :, None, None], 0.0,
                                              1 / (1 - rate)) * np.ones_like(src), rtol=1e-6)
    again = layers.SpatialDropout2D(rate, data_format=data_format, seed=5)
    np.testing.assert_array_equal(again(x, training=True).numpy(), out)


def test_spatial_dropout_rate_zero_and_config():
    x = np.ones((2, 2, 2, 3), np.float32)
    np.testing.assert_array_equal(layers.SpatialDropout2D(0.0)(x, training=True).numpy(), x)
    layer = layers.SpatialDropout2D(0.25, seed=2, name="sd")
    assert layer.get_config() == {"rate": 0.25, "seed": 2, "name": "sd", "dtype": "float32",
                                  "data_format": "channels_last"}


# ---------------------------------------------------------------- Keras files
def test_keras_file_loads_and_predicts_as_keras():
    expected = np.load(os.path.join(DATA, "simple_layers_expected.npz"))
    model = models.load_model(os.path.join(DATA, "simple_layers.keras"))
    assert [type(la).__name__ for la in model.layers] == [
        "Rescaling", "Normalization", "ZeroPadding2D", "Cropping2D", "UpSampling2D", "PReLU",
        "LayerNormalization", "SpatialDropout2D", "GaussianNoise", "UpSampling2D", "ReLU",
        "Permute", "LeakyReLU", "ELU", "Flatten", "Dense", "RepeatVector", "Normalization"]
    norm = model.layers[1]
    assert [w.dtype.name for w in norm.weights] == ["float32", "float32", "int32"]
    assert model.layers[4].interpolation == "bilinear"
    assert model.layers[-1].invert and model.layers[-1].axis == ()
    np.testing.assert_allclose(model.predict(expected["x"], verbose=0), expected["pred"],
                               rtol=1e-5, atol=1e-5)


def all_layers_model():
    norm = layers.Normalization(axis=(-1,))
    norm.adapt(np.random.default_rng(2).normal(size=(40, 2)).astype(np.float32) * 3 + 1)
    return models.Sequential([
        layers.Input((5, 4, 2)), layers.Rescaling([0.5, 2.0], offset=0.25), norm,
        layers.ZeroPadding2D((1, 2)), layers.Cropping2D(((1, 0), (0, 2))),
        layers.UpSampling2D((1, 2), interpolation="bilinear"),
        layers.PReLU(alpha_initializer="ones", shared_axes=[1]),
        layers.LayerNormalization(axis=[1, 3], epsilon=1e-4),
        layers.SpatialDropout2D(0.2, seed=1), layers.GaussianNoise(0.1, seed=2),
        layers.UpSampling2D(2, data_format="channels_first"),
        layers.ReLU(max_value=3.0, negative_slope=0.05, threshold=0.1),
        layers.Permute((2, 1, 3)), layers.LeakyReLU(0.1), layers.ELU(0.5), layers.Flatten(),
        layers.Dense(4), layers.RepeatVector(3),
        layers.Normalization(mean=[1.0, 0.0, -1.0, 2.0], variance=[1.0, 4.0, 0.25, 9.0],
                             invert=True)])


def test_tensorlib_file_round_trip(tmp_path):
    tl.manual_seed(0)
    model = all_layers_model()
    rng = np.random.default_rng(3)
    model.set_weights([w + rng.normal(size=w.shape).astype(w.dtype) * 0.2
                       if w.dtype.kind == "f" else w for w in model.get_weights()])
    path = str(tmp_path / "simple.keras")
    model.save(path)
    loaded = models.load_model(path)
    x = rng.normal(size=(3, 5, 4, 2)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    for a, b in zip(model.layers, loaded.layers):
        assert a.get_config() == b.get_config()
        for wa, wb in zip(a.get_weights(), b.get_weights()):
            np.testing.assert_array_equal(wa, wb)
            assert wa.dtype == wb.dtype
    with zipfile.ZipFile(path) as z:
        records = {r["class_name"]: r for r in json.loads(z.read("config.json"))
                   ["config"]["layers"]}
    assert "trainable" not in records["SpatialDropout2D"]["config"]       # as Keras writes
    for cls in ("ReLU", "LeakyReLU", "ELU", "GaussianNoise", "SpatialDropout2D"):
        assert "build_config" not in records[cls]
    assert records["LayerNormalization"]["config"]["rms_scaling"] is False
    assert records["PReLU"]["config"]["alpha_constraint"] is None


def test_training_through_the_layers_changes_only_trainable_weights():
    tl.manual_seed(1)
    model = all_layers_model()
    model.compile(optimizer="adam", loss="mse")
    x = np.random.default_rng(4).normal(size=(8, 5, 4, 2)).astype(np.float32)
    y = np.random.default_rng(5).normal(size=(8, 3, 4)).astype(np.float32)
    before = model.get_weights()
    model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    after = model.get_weights()
    trainable = {id(w) for w in model.trainable_weights}
    for w, a, b in zip(model.weights, before, after):
        assert (id(w) in trainable) != np.array_equal(a, b), w.name
    assert np.isfinite(model.evaluate(x, y, verbose=0))


def test_functional_model_and_keras_file_record_refusals(tmp_path):
    inputs = layers.Input((6,))
    h = layers.RepeatVector(2)(layers.PReLU()(inputs))
    out = layers.LayerNormalization()(layers.Permute((2, 1))(h))
    model = models.Model(inputs, out)
    assert model.output_shape == (None, 6, 2)
    path = str(tmp_path / "fn.keras")
    model.save(path)
    x = np.random.default_rng(6).normal(size=(2, 6)).astype(np.float32)
    np.testing.assert_array_equal(models.load_model(path).predict(x, verbose=0),
                                  model.predict(x, verbose=0))
    from tensorlib.models.keras_config import ConfigError, layer_from_keras
    bad = {"module": "keras.layers", "class_name": "LayerNormalization",
           "config": {"name": "ln", "rms_scaling": True}}
    with pytest.raises(ConfigError, match="rms_scaling"):
        layer_from_keras(bad, 1)
    bad = {"module": "keras.layers", "class_name": "PReLU",
           "config": {"name": "p", "alpha_constraint": {"class_name": "Clip"}}}
    with pytest.raises(ConfigError, match="alpha_constraint"):
        layer_from_keras(bad, 1)


def test_constraints_hold_after_each_update_and_are_saved(tmp_path):
    model = models.Sequential([
        layers.Input((3, 4)), layers.PReLU(alpha_constraint="non_neg"),
        layers.LayerNormalization(gamma_constraint=tl.constraints.NonNeg(),
                                  beta_constraint={"class_name": "MaxNorm",
                                                   "config": {"max_value": 0.5, "axis": 0}})])
    model.set_weights([-np.ones((3, 4), np.float32), -np.ones(4, np.float32),
                       np.full(4, 2.0, np.float32)])
    model.compile(optimizer=tl.optimizers.SGD(0.01), loss="mse")
    x = np.random.default_rng(7).normal(size=(6, 3, 4)).astype(np.float32)
    model.train_on_batch(x, x)
    alpha, gamma, beta = model.get_weights()
    assert (alpha >= 0).all() and (gamma >= 0).all()
    assert np.linalg.norm(beta) <= 0.5 + 1e-6
    path = str(tmp_path / "c.keras")
    model.save(path)
    loaded = models.load_model(path)
    for a, b in zip(model.layers, loaded.layers):
        assert a.get_config() == b.get_config()
    assert type(loaded.layers[0].alpha_constraint).__name__ == "NonNeg"
