"""``GlobalMaxPooling2D`` and ``Softmax`` (Keras 3 names, arguments and configs): values
and gradients against NumPy, the softmax + cross-entropy fusion through the layer, and
their records in ``.keras`` files."""
import numpy as np
import pytest

import tensorlib as keras
from tensorlib import layers


@pytest.mark.parametrize("data_format, keepdims", [("channels_last", False),
                                                   ("channels_last", True),
                                                   ("channels_first", False)])
def test_global_max_pooling_values_and_gradient(data_format, keepdims):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 5, 4, 6)).astype(np.float32)
    layer = layers.GlobalMaxPooling2D(data_format=data_format, keepdims=keepdims)
    axes = (1, 2) if data_format == "channels_last" else (2, 3)
    t = keras.tensor(x, requires_grad=True)
    y = layer(t)
    np.testing.assert_array_equal(y.numpy(), x.max(axis=axes, keepdims=keepdims))
    assert y.shape == layer.compute_output_shape(x.shape)
    y.sum().backward()
    want = (x == x.max(axis=axes, keepdims=True)).astype(np.float32)   # distinct values
    np.testing.assert_array_equal(t.grad.numpy(), want)
    assert layers.GlobalMaxPool2D is layers.GlobalMaxPooling2D


def test_softmax_layer_values_axis_and_fused_loss():
    rng = np.random.default_rng(1)
    z = rng.normal(size=(4, 3, 5)).astype(np.float32)
    for axis in (-1, 1):
        got = layers.Softmax(axis=axis)(z).numpy()
        e = np.exp(z - z.max(axis=axis, keepdims=True))
        np.testing.assert_allclose(got, e / e.sum(axis=axis, keepdims=True), rtol=1e-6)
    logits = keras.tensor(rng.normal(size=(6, 4)).astype(np.float32), requires_grad=True)
    y = np.eye(4, dtype=np.float32)[[0, 1, 2, 3, 0, 1]]
    loss = keras.losses.CategoricalCrossentropy()(y, layers.Softmax()(logits))
    loss.backward()
    p = np.exp(logits.numpy()) / np.exp(logits.numpy()).sum(1, keepdims=True)
    np.testing.assert_allclose(logits.grad.numpy(), (p - y) / 6, rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="axis"):
        layers.Softmax(axis=3)(z)
    with pytest.raises(ValueError, match="axis"):
        layers.Softmax(axis="last")


def test_keras_records_round_trip(tmp_path):
    pytest.importorskip("h5py")
    model = keras.Sequential([keras.Input((4, 4, 3)), layers.GlobalMaxPooling2D(),
                              layers.Dense(3), layers.Softmax()])
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert [type(la).__name__ for la in loaded.layers] == \
        ["GlobalMaxPooling2D", "Dense", "Softmax"]
    x = np.random.default_rng(2).normal(size=(2, 4, 4, 3)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
