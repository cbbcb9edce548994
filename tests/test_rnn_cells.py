"""layers.RNN with cells (built-in: the fused loop; a user's cell: a loop of Tensor ops),
the cells one step at a time, stateful layers, and ``initial_state`` given as symbolic
tensors in functional models. Compared against Keras-written files and values
(``make_rnn_cell_fixtures.py``), against the recurrent layers, and against float64 NumPy
formulas; gradients by finite differences."""
import json
import os
import zipfile

import numpy as np
import pytest

import tensorlib as tl
from gradcheck import check_gradients
from tensorlib import layers

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
FILES = os.path.join(DATA, "keras_files")
EXPECTED = np.load(os.path.join(FILES, "rnn_cells_expected.npz"))
MASK = np.array([[1, 1, 0, 1], [1, 0, 0, 1], [0, 1, 1, 1]], bool)


class MinimalCell(layers.Layer):
    """The cell of Keras's RNN guide: h_t = x_t W + h_{t-1} U, with a tanh."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units, self.state_size = units, units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units),
                                      initializer="glorot_uniform", name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, self.units),
                                                initializer="glorot_uniform",
                                                name="recurrent_kernel")

    def call(self, inputs, states):
        h = tl.ops.tanh(tl.ops.matmul(inputs, self.kernel)
                        + tl.ops.matmul(states[0], self.recurrent_kernel))
        return h, [h]


def _np(t):
    return np.asarray(t.numpy())


# ---------------------------------------------------------------- Keras files
def test_rnn_cells_file_predicts_as_keras(tmp_path):
    model = tl.saving.load_model(os.path.join(FILES, "rnn_cells.keras"))
    np.testing.assert_allclose(model.predict(EXPECTED["x"], verbose=0), EXPECTED["predict"],
                               rtol=1e-5, atol=1e-6)
    assert [type(layer.cell).__name__ for layer in model.layers] == \
        ["LSTMCell", "GRUCell", "SimpleRNNCell"]
    path = str(tmp_path / "again.keras")
    model.save(path)
    again = tl.saving.load_model(path)
    np.testing.assert_allclose(again.predict(EXPECTED["x"], verbose=0),
                               EXPECTED["predict"], rtol=1e-5, atol=1e-6)
    with zipfile.ZipFile(path) as z:
        config = json.loads(z.read("config.json"))
    rnn = config["config"]["layers"][1]
    assert rnn["class_name"] == "RNN" and rnn["config"]["cell"]["class_name"] == "LSTMCell"
    assert rnn["config"]["cell"]["build_config"] == {"input_shape": [None, 3]}


def test_rnn_weight_paths_are_keras_paths(tmp_path):
    h5py = pytest.importorskip("h5py")
    model = tl.saving.load_model(os.path.join(FILES, "rnn_cells.keras"))
    path = str(tmp_path / "m.keras")
    model.save(path)
    names = []
    for p in (path, os.path.join(FILES, "rnn_cells.keras")):
        with zipfile.ZipFile(p) as z, z.open("model.weights.h5") as raw, \
                h5py.File(raw, "r") as f:
            found = []
            f.visititems(lambda n, o: found.append((n, getattr(o, "shape", None)))
                         if hasattr(o, "shape") else None)
            names.append(sorted(found))
    assert names[0] == names[1]
    assert ("layers/rnn/cell/vars/0", (3, 16)) in names[0]


def test_stacked_cells_file_predicts_as_keras(tmp_path):
    h5py = pytest.importorskip("h5py")
    model = tl.saving.load_model(os.path.join(FILES, "rnn_stacked.keras"))
    np.testing.assert_allclose(model.predict(EXPECTED["x"], verbose=0), EXPECTED["stacked"],
                               rtol=1e-5, atol=1e-6)
    path = str(tmp_path / "again.keras")
    model.save(path)
    np.testing.assert_allclose(tl.saving.load_model(path).predict(EXPECTED["x"], verbose=0),
                               EXPECTED["stacked"], rtol=1e-5, atol=1e-6)
    paths = []
    for p in (path, os.path.join(FILES, "rnn_stacked.keras")):
        with zipfile.ZipFile(p) as z, z.open("model.weights.h5") as raw, \
                h5py.File(raw, "r") as f:
            found = []
            f.visititems(lambda n, o: found.append((n, o.shape))
                         if hasattr(o, "shape") else None)
            paths.append(sorted(found))
    assert paths[0] == paths[1]
    assert ("layers/rnn/cell/cells/lstm_cell_1/vars/1", (3, 12)) in paths[0]


def test_stacked_cells_equal_the_layers_in_turn():
    rng = np.random.default_rng(10)
    x = rng.standard_normal((3, 4, 2)).astype("float32")
    rnn = layers.RNN([layers.LSTMCell(3), layers.SimpleRNNCell(2)], return_sequences=True)
    got = rnn(x, mask=MASK)
    first, second = layers.LSTM(3, return_sequences=True), \
        layers.SimpleRNN(2, return_sequences=True)
    first(x)
    second(first(x))
    weights = rnn.get_weights()
    first.set_weights(weights[:3])
    second.set_weights(weights[3:])
    want = second(first(x, mask=MASK), mask=MASK)
    np.testing.assert_allclose(_np(got), _np(want), rtol=1e-6, atol=1e-7)
    assert rnn.cell.state_size == [[3, 3], 2] and rnn.cell.output_size == 2


def test_initial_state_file_predicts_as_keras(tmp_path):
    model = tl.saving.load_model(os.path.join(FILES, "fn_initial_state.keras"))
    x = [EXPECTED["enc"], EXPECTED["dec"]]
    np.testing.assert_allclose(model.predict(x, verbose=0), EXPECTED["seq2seq"],
                               rtol=1e-5, atol=1e-6)
    path = str(tmp_path / "again.keras")
    model.save(path)
    with zipfile.ZipFile(path) as z:
        config = json.loads(z.read("config.json"))
    dec = next(entry for entry in config["config"]["layers"] if entry["name"] == "decoder")
    (node,) = dec["inbound_nodes"]
    assert len(node["args"]) == 1
    assert [s["config"]["keras_history"] for s in node["kwargs"]["initial_state"]] == \
        [["encoder", 0, 1], ["encoder", 0, 2]]
    again = tl.saving.load_model(path)
    np.testing.assert_allclose(again.predict(x, verbose=0), EXPECTED["seq2seq"],
                               rtol=1e-5, atol=1e-6)


def test_lstm_cell_step_matches_keras():
    cell = layers.LSTMCell(3)
    y, new = cell(EXPECTED["cell_x"], [EXPECTED["cell_h"], EXPECTED["cell_c"]])
    cell.set_weights([EXPECTED[f"cell_w{i}"] for i in range(3)])
    y, new = cell(EXPECTED["cell_x"], [EXPECTED["cell_h"], EXPECTED["cell_c"]])
    np.testing.assert_allclose(_np(y), EXPECTED["cell_y"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(_np(new[0]), EXPECTED["cell_h1"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(_np(new[1]), EXPECTED["cell_c1"], rtol=1e-5, atol=1e-6)
    assert cell.state_size == [3, 3] and layers.GRUCell(2).state_size == 2


def test_cell_configs_match_keras():
    with open(os.path.join(DATA, "rnn_cells_configs.json")) as f:
        expected = json.load(f)
    made = [layers.SimpleRNNCell(5, activation="relu", use_bias=False, dropout=0.25, seed=3),
            layers.LSTMCell(4, recurrent_activation="tanh", unit_forget_bias=False),
            layers.GRUCell(2, reset_after=False, recurrent_dropout=0.5)]
    for cell in made:
        want = dict(expected[type(cell).__name__])
        got = cell.get_config()
        assert set(got) == set(want)
        for key in want:
            if key != "name" and not key.endswith("initializer"):
                assert got[key] == want[key], key


# ---------------------------------------------------------------- RNN against the layers
@pytest.mark.parametrize("cell, layer", [
    (lambda: layers.SimpleRNNCell(3, activation="relu"), lambda: layers.SimpleRNN(3)),
    (lambda: layers.LSTMCell(3), lambda: layers.LSTM(3)),
    (lambda: layers.GRUCell(3, reset_after=False), lambda: layers.GRU(3)),
])
def test_rnn_with_builtin_cell_equals_the_layer(cell, layer):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 4, 2)).astype("float32")
    c = cell()
    rnn = layers.RNN(c, return_sequences=True, return_state=True, go_backwards=True)
    ref = type(layer())(**{**{k: v for k, v in c.get_config().items()
                              if k not in ("name", "seed", "dtype", "trainable")},
                           "return_sequences": True, "return_state": True,
                           "go_backwards": True})
    got = rnn(x, mask=MASK)
    ref(x)
    ref.set_weights(rnn.get_weights())
    want = ref(x, mask=MASK)
    assert len(got) == len(want)
    for a, b in zip(got, want):
        np.testing.assert_array_equal(_np(a), _np(b))
    assert [w.shape for w in rnn.weights] == [w.shape for w in ref.weights]


def test_user_cell_against_numpy():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 4, 2))
    rnn = layers.RNN(MinimalCell(3, dtype="float64"), return_sequences=True,
                     return_state=True, go_backwards=True, zero_output_for_mask=True,
                     dtype="float64")
    seq, h = rnn(x, mask=MASK)
    k, rk = (_np(w) for w in rnn.weights)
    state, outs = np.zeros((3, 3)), []
    for t in (3, 2, 1, 0):
        new = np.tanh(x[:, t] @ k + state @ rk)
        m = MASK[:, t:t + 1]
        state = np.where(m, new, state)
        outs.append(np.where(m, new, 0.0))
    np.testing.assert_allclose(_np(seq), np.stack(outs, axis=1), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(_np(h), state, rtol=1e-12, atol=1e-12)


def test_user_cell_gradients_finite_differences():
    rnn = layers.RNN(MinimalCell(2, dtype="float64"), return_sequences=True,
                     dtype="float64")
    rnn.build_for((None, 4, 3))
    x = np.random.default_rng(3).standard_normal((3, 4, 3))

    def fn(x, k, rk):
        rnn.cell.kernel, rnn.cell.recurrent_kernel = k, rk
        return rnn(x, mask=MASK).reshape(3, -1)
    check_gradients(fn, [x] + [_np(w) for w in rnn.weights])


# ---------------------------------------------------------------- initial_state, stateful
def test_functional_initial_state_equals_eager_calls():
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((2, 5, 3)), rng.standard_normal((2, 4, 2))
    enc_in, dec_in = tl.Input((None, 3)), tl.Input((None, 2))
    encoder = layers.GRU(4, return_state=True)
    decoder = layers.Bidirectional(layers.LSTM(4), merge_mode="sum")
    _, h = encoder(enc_in)
    out = decoder(dec_in, [h, h, h, h])          # initial_state given by position
    model = tl.Model([enc_in, dec_in], out)
    _, h1 = encoder(a.astype("float32"))
    want = decoder(b.astype("float32"), initial_state=[h1] * 4)
    np.testing.assert_allclose(model.predict([a, b], verbose=0), _np(want), rtol=1e-6)
    zero = decoder(b.astype("float32"))
    assert not np.allclose(_np(zero), _np(want), atol=1e-3)


def test_functional_mask_argument_is_passed():
    x, m = tl.Input((None, 3)), tl.Input((None,), dtype="bool")
    layer = layers.LSTM(4, return_sequences=True)
    model = tl.Model([x, m], layer(x, mask=m))
    a = np.random.default_rng(9).standard_normal((3, 4, 3)).astype("float32")
    got = model.predict([a, MASK], verbose=0)
    np.testing.assert_array_equal(got, _np(layer(a, mask=MASK)))
    assert not np.allclose(got, _np(layer(a)), atol=1e-4)


def test_initial_state_gradients_reach_the_encoder():
    layer = layers.SimpleRNN(2, dtype="float64")
    x = np.random.default_rng(6).standard_normal((3, 4, 2))
    layer.build_for((None, 4, 2))
    h0 = np.random.default_rng(7).standard_normal((3, 2))
    check_gradients(lambda x, h: layer(x, initial_state=[h]), [x, h0])


def test_stateful_layers_carry_their_states():
    rng = np.random.default_rng(8)
    a, b = (rng.standard_normal((2, n, 3)).astype("float32") for n in (3, 4))
    for make in (lambda **kw: layers.LSTM(4, **kw),
                 lambda **kw: layers.RNN(layers.GRUCell(4), **kw)):
        stateful, plain = make(stateful=True), make()
        stateful(a)
        plain(a)
        plain.set_weights(stateful.get_weights())
        np.testing.assert_allclose(_np(stateful(b)), _np(plain(np.concatenate([a, b], 1))),
                                   rtol=1e-5, atol=1e-6)
        stateful.reset_states()
        np.testing.assert_array_equal(_np(stateful(a)), _np(plain(a)))
        with pytest.raises(ValueError, match="batch size"):
            stateful(a[:1])


# ---------------------------------------------------------------- bad input
def test_bad_arguments():
    with pytest.raises(TypeError, match="return_sequences"):
        layers.LSTMCell(3, return_sequences=True)
    with pytest.raises(ValueError, match="state_size"):
        layers.RNN(layers.Dense(3))
    with pytest.raises(ValueError, match="return_state"):
        layers.RNN([layers.LSTMCell(3), layers.GRUCell(2)], return_state=True)
    with pytest.raises(TypeError, match="go_backwards"):
        layers.RNN(layers.LSTMCell(3), go_backwards="yes")
    with pytest.raises(ValueError, match="initial state"):
        layers.RNN(MinimalCell(2))(np.zeros((2, 3, 1), "float32"),
                                   initial_state=[np.zeros((2, 3), "float32")])
    x, h = tl.Input((None, 3)), tl.Input((4,))
    with pytest.raises(ValueError, match="initial state"):
        layers.LSTM(4)(x, initial_state=[h])
    with pytest.raises(ValueError, match="initial state"):
        layers.GRU(5)(x, initial_state=[h])
