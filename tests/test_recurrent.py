"""SimpleRNN, LSTM, GRU and Bidirectional against Keras 3 (fixtures written by
``tests/make_recurrent_fixtures.py``: outputs, configs, one SGD step, a ``.keras`` file),
the fast loops (``layers/rnn_ops.py``) against a slow per-step reference written with
Tensor ops, and their gradients against finite differences in float64."""
import json
import os

import numpy as np
import pytest

import tensorlib as tl
from tensorlib import layers, models, optimizers
from tensorlib.layers import rnn_ops

from gradcheck import check_gradients

DATA = os.path.join(os.path.dirname(__file__), "data")
META = json.load(open(os.path.join(DATA, "recurrent.json")))
ARRAYS = dict(np.load(os.path.join(DATA, "recurrent.npz")))
RECURRENT_CASES = sorted(k for k, v in META.items()
                         if v["class"] in ("SimpleRNN", "LSTM", "GRU", "Bidirectional"))


def make_layer(cls, kwargs):
    kwargs = dict(kwargs)
    if cls == "Bidirectional":
        inner_cls, inner_kwargs = kwargs.pop("layer")
        return layers.Bidirectional(getattr(layers, inner_cls)(**inner_kwargs), **kwargs)
    return getattr(layers, cls)(**kwargs)


def split(flat, shapes):
    """A fixture's flat array cut back into arrays of ``shapes``."""
    out, at = [], 0
    for shape in shapes:
        n = int(np.prod(shape))
        out.append(flat[at:at + n].reshape(shape))
        at += n
    assert at == flat.size
    return out


def unpack(name):
    """(input, weights, Keras's outputs) of a forward case."""
    meta = META[name]
    n = len(meta["weight_shapes"])
    arrays = split(ARRAYS[name], [meta["x_shape"]] + meta["weight_shapes"]
                   + meta["output_shapes"])
    return arrays[0], arrays[1:1 + n], arrays[1 + n:]


# ---------------------------------------------------------------- forward vs Keras
@pytest.mark.parametrize("name", RECURRENT_CASES)
def test_forward_matches_keras(name):
    meta = META[name]
    layer = make_layer(meta["class"], meta["kwargs"])
    x, weights, expected = unpack(name)
    layer.build_for((None,) + x.shape[1:])
    assert [list(w.shape) for w in layer.get_weights()] == meta["weight_shapes"]
    layer.set_weights(weights)
    out = layer(x, mask=ARRAYS["mask"]) if meta["masked"] else layer(x)
    outs = out if isinstance(out, list) else [out]
    assert len(outs) == len(expected)
    for i, (y, want) in enumerate(zip(outs, expected)):
        np.testing.assert_allclose(y.numpy(), want, rtol=1e-5, atol=2e-6,
                                   err_msg=f"{name} output {i}")
    shapes = layer.compute_output_shape((None,) + x.shape[1:])
    shapes = shapes if isinstance(shapes, list) else [shapes]
    assert [s[1:] for s in shapes] == [y.shape[1:] for y in outs]


def _plain(config):
    """A config without names, dtypes and initializers; constraint keys tensorlib does not
    write are dropped; wrapped layers the same way."""
    out = {}
    for key, value in config.items():
        if key in ("name", "dtype") or key.endswith(("initializer", "constraint")):
            continue
        if isinstance(value, dict) and "config" in value:
            value = {"class_name": value["class_name"], "config": _plain(value["config"])}
        out[key] = value
    return out


@pytest.mark.parametrize("name", [n for n in RECURRENT_CASES if "config" in META[n]])
def test_config_matches_keras(name):
    meta = META[name]
    layer = make_layer(meta["class"], meta["kwargs"])
    config = layer.get_config()
    assert _plain(config) == _plain(meta["config"])
    again = type(layer).from_config(config)
    assert _plain(again.get_config()) == _plain(config)


# ---------------------------------------------------------------- slow reference
def _act(name):
    return {"tanh": lambda t: t.tanh(), "sigmoid": lambda t: t.sigmoid(),
            "linear": lambda t: t}[name]


def reference(kind, x, kernel, rk, bias, states, mask=None, reverse=False,
              activation="tanh", recurrent_activation="sigmoid", reset_after=True,
              input_masks=None, recurrent_masks=None):
    """Keras's cell equations (its ``implementation=1``: one product per gate, each with
    its own dropout mask), one Tensor op at a time (autograd records every step)."""
    act, ract = _act(activation), _act(recurrent_activation)
    steps, u = x.shape[1], rk.shape[0]
    n = {"rnn": 1, "lstm": 4, "gru": 3}[kind]
    order = range(steps - 1, -1, -1) if reverse else range(steps)
    in_bias = bias[0] if kind == "gru" and reset_after and bias is not None else bias

    def gate_x(xt, g):
        xg = xt if input_masks is None else xt * tl.tensor(input_masks[g])
        out = xg @ kernel[:, g * u:(g + 1) * u]
        return out if in_bias is None else out + in_bias[g * u:(g + 1) * u]

    def gate_h(h, g):
        hg = h if recurrent_masks is None else h * tl.tensor(recurrent_masks[g])
        return hg @ rk[:, g * u:(g + 1) * u]

    h = states[0]
    c = states[1] if kind == "lstm" else None
    outs = []
    for t in order:
        xs = [gate_x(x[:, t], g) for g in range(n)]
        if kind == "rnn":
            h_new = act(xs[0] + gate_h(h, 0))
        elif kind == "lstm":
            i, f = ract(xs[0] + gate_h(h, 0)), ract(xs[1] + gate_h(h, 1))
            cc, o = act(xs[2] + gate_h(h, 2)), ract(xs[3] + gate_h(h, 3))
            c_new = f * c + i * cc
            h_new = o * act(c_new)
        else:
            rb = [bias[1][g * u:(g + 1) * u] if reset_after else 0 for g in range(3)]
            z = ract(xs[0] + gate_h(h, 0) + rb[0])
            r = ract(xs[1] + gate_h(h, 1) + rb[1])
            if reset_after:
                hh = act(xs[2] + r * (gate_h(h, 2) + rb[2]))
            else:
                hd = h if recurrent_masks is None else h * tl.tensor(recurrent_masks[2])
                hh = act(xs[2] + (r * hd) @ rk[:, 2 * u:])
            h_new = z * h + (1 - z) * hh
        if mask is not None:
            m = tl.tensor(mask[:, t:t + 1].astype(np.float64))
            h = m * h_new + (1 - m) * h
            if kind == "lstm":
                c = m * c_new + (1 - m) * c
        else:
            h = h_new
            if kind == "lstm":
                c = c_new
        outs.append(tl.concatenate([h, c], axis=1) if kind == "lstm" else h)
    return tl.stack(outs, axis=1)


LOOPS = {"rnn": (rnn_ops.SimpleRNNLoop, 1, 1), "lstm": (rnn_ops.LSTMLoop, 4, 2),
         "gru": (rnn_ops.GRULoop, 3, 1)}
MASK = np.array([[1, 1, 0, 1], [0, 0, 1, 1], [0, 0, 0, 0]], bool)


def loop_inputs(kind, reset_after=True, seed=0, features=3, units=2):
    rng = np.random.default_rng(seed)
    _, gates, n = LOOPS[kind]
    b_shape = (2, 3 * units) if kind == "gru" and reset_after else (gates * units,)
    shapes = [(3, 4, features), (features, gates * units), (units, gates * units), b_shape] \
        + [(3, units)] * n
    return [rng.uniform(-0.9, 0.9, s) for s in shapes]


def run_loop(kind, arrays, mask, reverse, **opts):
    cls = LOOPS[kind][0]
    return cls.apply(*arrays, mask=mask, reverse=reverse, **opts)


def run_reference(kind, arrays, mask, reverse, **opts):
    x, k, rk, b, *states = arrays
    return reference(kind, x, k, rk, b, states, mask, reverse, **opts)


KINDS = [("rnn", {"activation": "tanh"}), ("lstm", {}), ("gru", {}),
         ("gru", {"reset_after": False}), ("lstm", {"activation": "linear",
                                                    "recurrent_activation": "tanh"})]


def dropout_masks(kind, features=3, units=2, seed=7):
    """Scaled keep-masks per gate, as Keras's recurrent dropout draws them."""
    rng = np.random.default_rng(seed)
    n = LOOPS[kind][1]
    return {"input_masks": (rng.uniform(size=(n, 3, features)) > 0.3) / 0.7,
            "recurrent_masks": (rng.uniform(size=(n, 3, units)) > 0.4) / 0.6}


@pytest.mark.parametrize("kind,opts", KINDS)
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("dropped", [False, True])
def test_fast_loop_matches_slow_reference(kind, opts, masked, reverse, dropped):
    arrays = loop_inputs(kind, opts.get("reset_after", True))
    mask = MASK if masked else None
    if dropped:
        opts = {**opts, **dropout_masks(kind)}
    tensors = [tl.tensor(a, requires_grad=True) for a in arrays]
    fast = run_loop(kind, tensors, mask, reverse, **opts)
    w = tl.tensor(np.random.default_rng(1).standard_normal(fast.shape))
    (fast * w).sum().backward()
    fast_grads = [t.grad.numpy().copy() for t in tensors]
    tensors = [tl.tensor(a, requires_grad=True) for a in arrays]
    slow = run_reference(kind, tensors, mask, reverse, **opts)
    (slow * w).sum().backward()
    np.testing.assert_allclose(fast.numpy(), slow.numpy(), rtol=1e-12, atol=1e-12)
    for i, (g, t) in enumerate(zip(fast_grads, tensors)):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-10, atol=1e-12,
                                   err_msg=f"input {i}")


@pytest.mark.parametrize("kind,opts", KINDS)
@pytest.mark.parametrize("masked,reverse,dropped", [(False, False, False),
                                                    (True, True, False), (True, False, True)])
def test_loop_gradients_finite_differences(kind, opts, masked, reverse, dropped):
    arrays = loop_inputs(kind, opts.get("reset_after", True), seed=3, features=2)
    mask = MASK if masked else None
    if dropped:
        opts = {**opts, **dropout_masks(kind, features=2)}
    check_gradients(lambda *ts: run_loop(kind, ts, mask, reverse, **opts), arrays)


def test_layer_gradients_finite_differences():
    """Through a layer: zero_output_for_mask, the last step and the states."""
    layer = layers.LSTM(2, return_sequences=True, return_state=True,
                        zero_output_for_mask=True, go_backwards=True, dtype="float64")
    layer.build_for((None, 4, 3))
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 4, 3))

    def fn(x, k, rk, b):
        layer.kernel, layer.recurrent_kernel, layer.bias = k, rk, b
        seq, h, c = layer(x, mask=MASK)
        return tl.concatenate([seq.reshape(3, -1), h, c], axis=1)
    check_gradients(fn, [x] + [w.numpy().astype(np.float64) for w in layer.weights])


# ---------------------------------------------------------------- training vs Keras
def text_model(kind):
    inner = {"lstm": lambda: [layers.LSTM(4)],
             "bigru": lambda: [layers.Bidirectional(layers.GRU(3))],
             "rnn_seq": lambda: [layers.SimpleRNN(3, return_sequences=True), layers.LSTM(2)]}
    return models.Sequential([layers.Input((6,)), layers.Embedding(9, 4, mask_zero=True)]
                             + inner[kind]() + [layers.Dense(2)])


@pytest.mark.parametrize("kind", ["lstm", "bigru", "rnn_seq"])
def test_one_sgd_step_matches_keras(kind):
    key = f"train_{kind}"
    model = text_model(kind)
    shapes = [w.shape for w in model.get_weights()]
    model.set_weights(split(ARRAYS[f"{key}/before"], shapes))
    model.compile(optimizers.SGD(0.5), "mse")
    loss = model.train_on_batch(ARRAYS[f"{key}/x"], ARRAYS[f"{key}/y"])
    np.testing.assert_allclose(loss, ARRAYS[f"{key}/loss"], rtol=1e-5)
    after = split(ARRAYS[f"{key}/after"], shapes)
    for i, (w, want) in enumerate(zip(model.get_weights(), after)):
        np.testing.assert_allclose(w, want, rtol=1e-5, atol=1e-6, err_msg=f"weight {i}")


def test_text_classifier_trains():
    rng = np.random.default_rng(0)
    n, steps = 64, 8
    lengths = rng.integers(2, steps + 1, n)
    x = rng.integers(1, 20, (n, steps))
    x[np.arange(steps)[None, :] >= lengths[:, None]] = 0
    y = (np.where(x > 0, x, 0) >= 10).sum(axis=1) * 2 > lengths     # mostly large tokens
    model = models.Sequential([layers.Input((steps,)), layers.Embedding(20, 8, mask_zero=True),
                               layers.LSTM(8), layers.Dense(1, activation="sigmoid")])
    model.compile(optimizers.Adam(0.02), "binary_crossentropy", ["accuracy"])
    history = model.fit(x, y.astype(np.float32), epochs=15, batch_size=16, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.6 * losses[0]


# ---------------------------------------------------------------- Keras files
def test_keras_file_loads_and_predicts():
    files = os.path.join(DATA, "keras_files")
    expected = dict(np.load(os.path.join(files, "recurrent_expected.npz")))
    model = models.load_model(os.path.join(files, "recurrent.keras"))
    assert [type(la).__name__ for la in model.layers] == ["Embedding", "Bidirectional", "GRU",
                                                          "Dense"]
    for i, w in enumerate(model.get_weights()):
        np.testing.assert_array_equal(w, expected[f"w{i}"])
    np.testing.assert_allclose(model.predict(expected["x"], verbose=0), expected["pred"],
                               rtol=1e-5, atol=1e-6)


def test_keras_file_round_trip(tmp_path):
    files = os.path.join(DATA, "keras_files")
    expected = dict(np.load(os.path.join(files, "recurrent_expected.npz")))
    model = models.load_model(os.path.join(files, "recurrent.keras"))
    path = str(tmp_path / "again.keras")
    model.save(path)
    again = models.load_model(path)
    np.testing.assert_allclose(again.predict(expected["x"], verbose=0), expected["pred"],
                               rtol=1e-5, atol=1e-6)
    import h5py
    import io
    import zipfile
    with zipfile.ZipFile(path) as z:
        f = h5py.File(io.BytesIO(z.read("model.weights.h5")), "r")
        assert f["layers/bidirectional/forward_layer/cell/vars/1"].shape == (3, 12)
        assert len(f["layers/bidirectional/vars"]) == 0
        assert f["layers/gru/cell/vars/2"].shape == (2, 12)


# ---------------------------------------------------------------- arguments
@pytest.mark.parametrize("make,match", [
    (lambda: layers.LSTM(0), "units"),
    (lambda: layers.GRU(2.5), "units"),
    (lambda: layers.SimpleRNN(3, activation="softmax"), "activation"),
    (lambda: layers.LSTM(3, dropout="0.2"), "dropout"),
    (lambda: layers.LSTM(3, recurrent_dropout=None), "recurrent_dropout"),
    (lambda: layers.GRU(3, seed=-1), "seed"),
    (lambda: layers.LSTM(3, use_cudnn="yes"), "use_cudnn"),
    (lambda: layers.LSTM(3, kernel_initializer="nope"), "kernel_initializer"),
    (lambda: layers.Bidirectional(layers.Dense(3)), "layer"),
    (lambda: layers.Bidirectional(layers.LSTM(3), merge_mode="max"), "merge mode"),
    (lambda: layers.Bidirectional(layers.LSTM(3), backward_layer=layers.LSTM(3)),
     "go_backwards"),
])
def test_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match) as info:
        make()
    assert "Received" in str(info.value)


def test_bad_inputs():
    layer = layers.LSTM(3)
    with pytest.raises(ValueError, match="ndim=3"):
        layer(np.zeros((2, 4), np.float32))
    layer = layers.GRU(2)
    layer(np.zeros((2, 4, 3), np.float32))
    with pytest.raises(ValueError, match="Received"):
        layer(np.zeros((2, 4, 5), np.float32))
    with pytest.raises(ValueError, match="mask"):
        layer(np.zeros((2, 4, 3), np.float32), mask=np.ones((2, 3), bool))
    with pytest.raises(ValueError, match="initial state"):
        layer(np.zeros((2, 4, 3), np.float32), initial_state=[np.zeros((2, 3))])


@pytest.mark.parametrize("cls", [layers.SimpleRNN, layers.LSTM, layers.GRU])
def test_input_dropout_is_one_mask_for_all_steps(cls):
    """Keras's ``dropout`` (without recurrent dropout): one inverted-dropout mask of shape
    (batch, features) drawn per call from the layer's ``seed``, applied to every step's
    input in training only; rates are clipped into [0, 1] as Keras does."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((5, 4, 6)).astype(np.float32)
    layer = cls(3, dropout=0.4, seed=11, return_sequences=True)
    plain = layer(x).numpy()
    np.testing.assert_array_equal(layer(x, training=False).numpy(), plain)
    got = layer(x, training=True).numpy()
    keep = tl.Generator(11).uniform((5, 6), np.float32) >= 0.4
    want = layer(x * (keep / np.float32(0.6))[:, None, :].astype(np.float32)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-6)
    assert not np.allclose(got, plain)
    assert cls(3, dropout=1.7).dropout == 1.0 and cls(3, dropout=-1).dropout == 0.0
    assert cls(3, dropout=0.25).get_config()["dropout"] == 0.25


@pytest.mark.parametrize("cls,gates", [(layers.SimpleRNN, 1), (layers.LSTM, 4),
                                       (layers.GRU, 3)])
def test_recurrent_dropout_masks_per_gate(cls, gates):
    """With ``recurrent_dropout``, Keras's ``implementation=1``: per call, one mask per
    gate for the state (drawn first here) and for the inputs, in training only."""
    rng = np.random.default_rng(6)
    x = rng.standard_normal((4, 5, 3)).astype(np.float32)
    layer = cls(2, dropout=0.3, recurrent_dropout=0.5, seed=5, return_sequences=True)
    plain = layer(x).numpy()
    got = layer(x, training=True).numpy()
    gen = tl.Generator(5)
    rec = (gen.uniform((gates, 4, 2), np.float32) >= 0.5) / np.float32(0.5)
    inp = (gen.uniform((gates, 4, 3), np.float32) >= 0.3) / np.float32(0.7)
    loop = {layers.SimpleRNN: "rnn", layers.LSTM: "lstm", layers.GRU: "gru"}[cls]
    opts = {} if cls is layers.SimpleRNN else {"recurrent_activation": "sigmoid"}
    states = [tl.tensor(np.zeros((4, 2), np.float32))] * LOOPS[loop][2]
    want = reference(loop, tl.tensor(x), *layer.weights, states, input_masks=inp,
                     recurrent_masks=rec, **opts).numpy()[:, :, :2]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert not np.allclose(got, plain)
    np.testing.assert_array_equal(layer(x, training=False).numpy(), plain)
    assert layer.get_config()["recurrent_dropout"] == 0.5


def test_bidirectional_with_a_given_backward_layer():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((3, 5, 2)).astype(np.float32)
    backward = layers.GRU(3, go_backwards=True, name="back")
    bi = layers.Bidirectional(layers.LSTM(2, use_cudnn=False, implementation=1),
                              backward_layer=backward)
    out = bi(x).numpy()
    assert bi.backward_layer is backward and bi.forward_layer.name.startswith("forward_")
    np.testing.assert_allclose(out[:, :2], bi.forward_layer(x).numpy(), rtol=1e-6)
    np.testing.assert_allclose(out[:, 2:], backward(x).numpy(), rtol=1e-6)
    assert [w.shape for w in bi.weights] == [(2, 8), (2, 8), (8,), (2, 9), (3, 9), (2, 9)]
    again = layers.Bidirectional.from_config(bi.get_config())
    assert type(again.backward_layer) is layers.GRU and again.backward_layer.go_backwards


def test_weight_constraints_apply_after_each_update():
    layer = layers.GRU(3, kernel_constraint=tl.constraints.NonNeg(),
                       recurrent_constraint="unit_norm")
    model = models.Sequential([layers.Input((4, 2)), layer, layers.Dense(1)])
    model.compile(optimizers.SGD(0.5), "mse")
    rng = np.random.default_rng(0)
    model.train_on_batch(rng.standard_normal((6, 4, 2)), rng.standard_normal((6, 1)))
    kernel, recurrent, _ = layer.get_weights()
    assert (kernel >= 0).all()
    np.testing.assert_allclose(np.linalg.norm(recurrent, axis=0), 1, rtol=1e-5)
    config = layer.get_config()
    assert config["kernel_constraint"]["class_name"] == "NonNeg"
    assert config["bias_constraint"] is None
    assert type(layers.GRU.from_config(config).recurrent_constraint).__name__ == "UnitNorm"


def test_initial_state_and_weights_order():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    h0, c0 = rng.standard_normal((2, 5)), rng.standard_normal((2, 5))
    layer = layers.LSTM(5, return_state=True)
    out, h, c = layer(x, initial_state=[h0, c0])
    names = [w.name.split("/")[-1] for w in layer.weights]
    assert names == ["kernel", "recurrent_kernel", "bias"]
    bias = layer.get_weights()[2]
    np.testing.assert_array_equal(bias, np.r_[np.zeros(5), np.ones(5), np.zeros(10)])
    ref = reference("lstm", tl.tensor(x), *layer.weights, [tl.tensor(h0.astype(np.float32)),
                                                            tl.tensor(c0.astype(np.float32))])
    np.testing.assert_allclose(h.numpy(), ref.numpy()[:, -1, :5], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(c.numpy(), ref.numpy()[:, -1, 5:], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(out.numpy(), h.numpy())
