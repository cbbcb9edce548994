"""``keras.ops`` calls and Python operators on symbolic tensors inside functional models:
recorded as graph nodes, replayed on data, differentiated through, and their shapes
inferred (unknown batch axis kept unknown)."""
import numpy as np
import pytest

import tensorlib as keras
from tensorlib import layers, ops


def _dense_model_weights(model):
    return {la.name: [w.copy() for w in la.get_weights()] for la in model.layers}


def test_shapes_of_recorded_ops():
    inp = keras.Input(shape=(6,))
    x = layers.Dense(4)(inp)
    assert (x + x).shape == (None, 4)
    assert (2.0 * x - 1).shape == (None, 4)
    assert ops.concatenate([x, inp], axis=-1).shape == (None, 10)
    assert ops.mean(x, axis=-1).shape == (None,)
    assert ops.sum(x, axis=0).shape == (4,)
    assert x[:, 1:3].shape == (None, 2)
    assert ops.reshape(x, (-1, 2, 2)).shape == (None, 2, 2)
    assert ops.expand_dims(x, 1).shape == (None, 1, 4)
    assert (x @ np.ones((4, 3), "float32")).shape == (None, 3)
    assert ops.shape(x) == (None, 4)


def test_ops_are_not_layers_and_replay_on_data():
    inp = keras.Input(shape=(5,), name="x")
    h = layers.Dense(3, name="d1")(inp)
    out = ops.relu(h) * 2.0 + ops.sigmoid(h)[:, :1]
    model = keras.Model(inp, out)
    assert [la.name for la in model.layers] == ["x", "d1"]
    x = np.random.default_rng(0).normal(size=(7, 5)).astype("float32")
    w, b = model.get_layer("d1").get_weights()
    hv = x @ w + b
    want = np.maximum(hv, 0) * 2.0 + 1 / (1 + np.exp(-hv[:, :1]))
    np.testing.assert_allclose(model.predict(x, verbose=0), want, rtol=1e-5, atol=1e-6)


def test_gradients_flow_through_recorded_ops():
    """A residual model written with ``+`` and ``ops.multiply`` trains exactly as the
    same computation written by hand with Tensor ops."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(16, 4)).astype("float32")
    y = rng.normal(size=(16, 4)).astype("float32")

    inp = keras.Input(shape=(4,))
    d = layers.Dense(4, name="inner")
    out = inp + ops.multiply(d(inp), 0.5)
    model = keras.Model(inp, out)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    w0, b0 = [a.copy() for a in d.get_weights()]
    model.train_on_batch(x, y)
    w1, b1 = d.get_weights()

    # by hand: pred = x + 0.5 (x W + b); L = mean((pred - y)^2)
    pred = x + 0.5 * (x @ w0 + b0)
    g = 2 * (pred - y) / pred.size
    np.testing.assert_allclose(w1, w0 - 0.1 * (x.T @ (0.5 * g)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(b1, b0 - 0.1 * (0.5 * g).sum(0), rtol=1e-5, atol=1e-6)


def test_two_inputs_combined_by_ops():
    a, b = keras.Input(shape=(3,), name="a"), keras.Input(shape=(3,), name="b")
    out = ops.maximum(a, b) - ops.minimum(a, b)
    model = keras.Model([a, b], out)
    xa = np.array([[1, -2, 3]], "float32")
    xb = np.array([[0, 5, 3]], "float32")
    np.testing.assert_allclose(model.predict([xa, xb], verbose=0), np.abs(xa - xb))


def test_op_on_incompatible_shapes_fails_when_the_model_is_defined():
    a, b = keras.Input(shape=(3,)), keras.Input(shape=(4,))
    with pytest.raises(ValueError):
        ops.add(a, b)


def test_symbolic_tensor_has_no_value():
    x = keras.Input(shape=(3,))
    with pytest.raises(ValueError, match="convert_to_numpy"):
        ops.convert_to_numpy(x)
    with pytest.raises(TypeError, match="bool"):
        bool(x)
