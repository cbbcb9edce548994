"""``keras.regularizers`` and ``Layer.add_loss``: penalties with Keras 3's formulas (the
activity penalty divided by the batch size, as Keras 3.15 computes: L1(0.5) on a Dense
output of ones(4, 3) @ ones(3, 2) gives 3.0), added to the training and evaluation loss,
differentiated, listed by ``model.losses`` and kept in ``.keras`` files."""
import numpy as np
import pytest

import tensorlib as keras
from tensorlib import regularizers


def test_penalty_values():
    x = keras.tensor(np.array([[1.0, -2.0], [3.0, -4.0]], np.float32))
    assert float(regularizers.L1(0.1)(x).item()) == pytest.approx(1.0)
    assert float(regularizers.L2(0.1)(x).item()) == pytest.approx(3.0)
    assert float(regularizers.L1L2(0.1, 0.1)(x).item()) == pytest.approx(4.0)
    assert float(regularizers.l1_l2()(x).item()) == 0.0
    assert regularizers.get("l2").l2 == 0.01 and regularizers.get("L1").l1 == 0.01


def test_activity_penalty_is_divided_by_the_batch_as_keras():
    layer = keras.layers.Dense(2, activity_regularizer=regularizers.L1(0.5),
                               kernel_initializer="ones", bias_initializer="zeros")
    layer(np.ones((4, 3), np.float32))
    assert [float(v.item()) for v in layer.losses] == [3.0]


def test_sgd_step_follows_loss_plus_penalties():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 3)).astype(np.float32)
    y = rng.normal(size=(6, 2)).astype(np.float32)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(
        2, kernel_regularizer=regularizers.L2(0.1), bias_regularizer=regularizers.L1(0.05),
        activity_regularizer=regularizers.L1(0.5))])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    w, b = [a.astype(np.float64) for a in model.get_weights()]
    out = x @ w + b
    penalty = 0.1 * (w ** 2).sum() + 0.05 * np.abs(b).sum() + 0.5 * np.abs(out).sum() / 6
    want_loss = ((out - y) ** 2).mean() + penalty
    assert model.evaluate(x, y, verbose=0) == pytest.approx(want_loss, rel=1e-5)
    loss = model.train_on_batch(x, y)
    assert loss == pytest.approx(want_loss, rel=1e-5)
    g_out = 2 * (out - y) / out.size + 0.5 * np.sign(out) / 6
    gw = x.T @ g_out + 0.2 * w
    gb = g_out.sum(0) + 0.05 * np.sign(b)
    got_w, got_b = model.get_weights()
    np.testing.assert_allclose(got_w, w - 0.1 * gw, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got_b, b - 0.1 * gb, rtol=1e-5, atol=1e-6)
    assert len(model.losses) == 3


def test_add_loss_in_a_custom_layer_counts_once_per_pass():
    class Penalty(keras.layers.Layer):
        def call(self, x):
            self.add_loss(keras.ops.sum(x * x) * 0.01)
            return x

    inp = keras.Input((3,))
    model = keras.Model(inp, keras.layers.Dense(1)(Penalty()(inp)))
    model.compile("sgd", "mse")
    x, y = np.ones((2, 3), np.float32), np.zeros((2, 1), np.float32)
    base = float(((model.predict(x, verbose=0) - y) ** 2).mean())
    assert model.evaluate(x, y, verbose=0) == pytest.approx(base + 0.06, rel=1e-5)
    assert model.evaluate(x, y, verbose=0) == pytest.approx(base + 0.06, rel=1e-5)
    assert len(model.losses) == 1


def test_regularizers_survive_a_keras_file(tmp_path):
    pytest.importorskip("h5py")
    model = keras.Sequential([
        keras.Input((5, 5, 1)),
        keras.layers.Conv2D(2, 3, kernel_regularizer=regularizers.L2(0.02),
                            activity_regularizer=regularizers.L1L2(0.01, 0.02)),
        keras.layers.Flatten(),
        keras.layers.Dense(1, bias_regularizer="l1")])
    path = str(tmp_path / "r.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    for a, b in zip(model.layers, loaded.layers):
        assert a.get_config() == b.get_config()
    x = np.random.default_rng(1).normal(size=(3, 5, 5, 1)).astype(np.float32)
    for m in (model, loaded):
        m(x)
    assert [float(v.item()) for v in loaded.losses] == \
        pytest.approx([float(v.item()) for v in model.losses])


@pytest.mark.parametrize("make, message", [
    (lambda: regularizers.get("bogus"), "regularizer"),
    (lambda: regularizers.L2(-1.0), "l2"),
    (lambda: keras.layers.Dense(2, kernel_regularizer=3), "regularizer"),
])
def test_bad_regularizers_are_named(make, message):
    with pytest.raises(ValueError, match=message):
        make()
