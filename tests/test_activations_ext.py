"""keras.activations beyond relu/sigmoid/tanh: values against Keras 3 (tests/data/
activations.npz, made by tests/make_loss_metric_fixtures.py), erf against math.erf,
gradients by finite differences, and names in layers and .keras files."""
import math
import os

import numpy as np
import pytest
from gradcheck import check_gradients

import tensorlib as tl
from tensorlib import activations, layers, models
from tensorlib.activation_ops import erf

DATA = np.load(os.path.join(os.path.dirname(__file__), "data", "activations.npz"))
X = DATA["x"]

NAMED = ["gelu", "elu", "selu", "leaky_relu", "relu6", "silu", "swish", "softplus",
         "softsign", "hard_sigmoid", "hard_silu", "hard_swish", "exponential", "mish",
         "relu", "sigmoid", "tanh"]


@pytest.mark.parametrize("name", NAMED)
def test_named_activation_matches_keras(name):
    x = np.clip(X, -30, 20) if name == "exponential" else X
    out = activations.get(name)(tl.tensor(x))
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.numpy(), DATA[name], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("key,fn", [
    ("gelu_approx", lambda t: activations.gelu(t, approximate=True)),
    ("elu_a0.5", lambda t: activations.elu(t, alpha=0.5)),
    ("leaky_relu_0.1", lambda t: activations.leaky_relu(t, negative_slope=0.1)),
    ("relu_0", lambda t: activations.relu(t, negative_slope=0.1)),
    ("relu_1", lambda t: activations.relu(t, max_value=2.5)),
    ("relu_2", lambda t: activations.relu(t, threshold=1.0)),
    ("relu_3", lambda t: activations.relu(t, negative_slope=0.3, max_value=4.0,
                                          threshold=-0.5)),
    ("relu_4", lambda t: activations.relu(t, negative_slope=0.2, threshold=0.5)),
    ("relu_5", lambda t: activations.relu(t, max_value=6.0)),
])
def test_activation_arguments_match_keras(key, fn):
    np.testing.assert_allclose(fn(tl.tensor(X)).numpy(), DATA[key], rtol=1e-12, atol=1e-14)


def test_log_softmax_matches_keras():
    m = tl.tensor(DATA["log_softmax_in"])
    np.testing.assert_allclose(activations.log_softmax(m).numpy(), DATA["log_softmax"],
                               rtol=1e-12)
    np.testing.assert_allclose(activations.log_softmax(m, axis=0).numpy(),
                               DATA["log_softmax_ax0"], rtol=1e-12)


def test_erf_against_math_erf():
    x = np.concatenate([np.linspace(-7, 7, 4001), [0.0, -0.0, 1e-300, -1e-12, 2.5, -2.5,
                                                   2.4999999, 40.0, -40.0]])
    ref = np.array([math.erf(v) for v in x])
    np.testing.assert_allclose(erf(x), ref, rtol=1e-14, atol=1e-15)
    assert erf(np.array([np.inf, -np.inf])).tolist() == [1.0, -1.0]
    assert np.isnan(erf(np.array([np.nan])))[0]


# points away from every kink (0, +-3, 6, the relu thresholds) for finite differences
GRID = np.array([-4.1, -2.7, -1.3, -0.45, -0.2, 0.15, 0.7, 1.6, 2.2, 3.4, 5.2, 6.8])


@pytest.mark.parametrize("fn", [
    activations.gelu, lambda t: activations.gelu(t, approximate=True), activations.elu,
    lambda t: activations.elu(t, alpha=0.3), activations.selu, activations.leaky_relu,
    activations.relu6, activations.silu, activations.softplus, activations.softsign,
    activations.hard_sigmoid, activations.hard_silu, activations.exponential,
    activations.mish, lambda t: activations.log_softmax(t.reshape(3, 4), axis=0),
    lambda t: activations.relu(t, negative_slope=0.3, max_value=4.0, threshold=-0.5),
    lambda t: activations.relu(t, negative_slope=0.2, threshold=0.5),
], ids=["gelu", "gelu_tanh", "elu", "elu_a", "selu", "leaky", "relu6", "silu", "softplus",
        "softsign", "hard_sigmoid", "hard_silu", "exponential", "mish", "log_softmax",
        "relu_args", "relu_thr"])
def test_activation_gradients(fn):
    check_gradients(fn, [GRID.copy()])


def test_float32_stays_float32_and_gradients_flow():
    x = tl.tensor(GRID.astype(np.float32), requires_grad=True)
    y = activations.gelu(x)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32
    ref = 0.5 * (1 + erf(GRID / math.sqrt(2))) + GRID * np.exp(-GRID ** 2 / 2) / math.sqrt(
        2 * math.pi)
    np.testing.assert_allclose(x.grad.numpy(), ref, rtol=1e-6)


def test_aliases_and_names():
    assert activations.get("swish") is activations.silu
    assert activations.get("hard_swish") is activations.hard_silu
    assert activations.serialize(activations.swish) == "silu"
    assert layers.Dense(2, activation="swish").get_config()["activation"] == "silu"
    assert layers.Activation("gelu").get_config()["activation"] == "gelu"
    with pytest.raises(ValueError, match="Could not interpret activation"):
        activations.get("nope")
    with pytest.raises(ValueError, match="Received: negative_slope=-1"):
        activations.relu(tl.tensor(GRID), negative_slope=-1)


def test_keras_file_round_trip_keeps_activation(tmp_path):
    model = models.Sequential([layers.Input((4,)), layers.Dense(5, activation="gelu"),
                               layers.Dense(3, activation="mish"),
                               layers.Activation("hard_swish")])
    x = np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32)
    want = model.predict(x, verbose=0)
    path = str(tmp_path / "m.keras")
    model.save(path)
    back = models.load_model(path)
    assert [lyr.get_config().get("activation") for lyr in back.layers] == \
        ["gelu", "mish", "hard_silu"]
    np.testing.assert_allclose(back.predict(x, verbose=0), want, rtol=1e-6)


def test_activation_on_symbolic_tensor_in_functional_model():
    inp = layers.Input((4,))
    h = layers.Dense(3)(inp)
    out = activations.gelu(h, approximate=True)
    model = models.Model(inp, out)
    x = np.random.default_rng(1).normal(size=(5, 4)).astype(np.float32)
    dense = model.layers[1]
    pre = x @ dense.kernel.numpy() + dense.bias.numpy()
    want = activations.gelu(tl.tensor(pre), approximate=True).numpy()
    np.testing.assert_allclose(model.predict(x, verbose=0), want, rtol=1e-5, atol=1e-6)


def test_erf_scalars_and_gelu_on_a_scalar():
    assert float(erf(0.3)) == pytest.approx(math.erf(0.3), abs=1e-16)
    assert float(erf(np.float64(-7.0))) == -1.0
    y = activations.gelu(tl.tensor(np.float64(1.5)))
    assert y.item() == pytest.approx(0.75 * (1 + math.erf(1.5 / math.sqrt(2))), abs=1e-15)
