"""Generate the RNN-cell and initial-state fixtures (a script, not a test), with real
Keras 3:

    KERAS_BACKEND=torch /work/peers/bin/python tests/make_rnn_cell_fixtures.py

``rnn_cells.keras``: a Sequential of ``RNN(LSTMCell)``, ``RNN(GRUCell, go_backwards)``,
``RNN(SimpleRNNCell)``; ``rnn_stacked.keras``: an RNN of a list of cells
(StackedRNNCells). ``fn_initial_state.keras``: a functional encoder-decoder whose
decoder LSTM gets the encoder's states as ``initial_state``. ``rnn_cells_expected.npz``:
inputs and Keras's predictions, and one ``LSTMCell`` step (weights, inputs, states,
output and new states). ``rnn_cells_configs.json``: Keras's ``get_config()`` of cells
with non-default arguments.
"""
import json
import os

os.environ.setdefault("KERAS_BACKEND", "torch")
import keras  # noqa: E402
import numpy as np  # noqa: E402

from make_keras_files import repack  # noqa: E402

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
OUT = os.path.join(DATA, "keras_files")


def _plain(config):
    """A config with Keras's DTypePolicy and initializer records as tensorlib writes
    them in get_config (the dtype name; initializers as given)."""
    config = dict(config)
    config["dtype"] = config["dtype"]["config"]["name"]
    return config


def main():
    keras.utils.set_random_seed(7)
    rng = np.random.default_rng(7)
    out = {}
    cells = keras.Sequential([
        keras.Input((None, 3)),
        keras.layers.RNN(keras.layers.LSTMCell(4), return_sequences=True),
        keras.layers.RNN(keras.layers.GRUCell(3), return_sequences=True, go_backwards=True),
        keras.layers.RNN(keras.layers.SimpleRNNCell(2)),
    ])
    out["x"] = rng.normal(size=(2, 5, 3)).astype("float32")
    out["predict"] = cells.predict(out["x"], verbose=0)
    cells.save(os.path.join(OUT, "rnn_cells.keras"))

    stacked = keras.Sequential([
        keras.Input((None, 3)),
        keras.layers.RNN([keras.layers.LSTMCell(4), keras.layers.GRUCell(2),
                          keras.layers.LSTMCell(3)], go_backwards=True),
    ])
    out["stacked"] = stacked.predict(out["x"], verbose=0)
    stacked.save(os.path.join(OUT, "rnn_stacked.keras"))

    enc_in = keras.Input((None, 3), name="enc")
    _, h, c = keras.layers.LSTM(4, return_state=True, name="encoder")(enc_in)
    dec_in = keras.Input((None, 2), name="dec")
    dec = keras.layers.LSTM(4, name="decoder")(dec_in, initial_state=[h, c])
    seq2seq = keras.Model([enc_in, dec_in], keras.layers.Dense(1)(dec))
    out["enc"] = rng.normal(size=(2, 4, 3)).astype("float32")
    out["dec"] = rng.normal(size=(2, 3, 2)).astype("float32")
    out["seq2seq"] = seq2seq.predict([out["enc"], out["dec"]], verbose=0)
    seq2seq.save(os.path.join(OUT, "fn_initial_state.keras"))
    for name in ("rnn_cells.keras", "rnn_stacked.keras", "fn_initial_state.keras"):
        repack(os.path.join(OUT, name))

    cell = keras.layers.LSTMCell(3)
    xt = rng.normal(size=(2, 4)).astype("float32")
    states = [rng.normal(size=(2, 3)).astype("float32") for _ in range(2)]
    y, new = cell(xt, states)
    for i, w in enumerate(cell.get_weights()):
        out[f"cell_w{i}"] = w
    out.update(cell_x=xt, cell_h=states[0], cell_c=states[1],
               cell_y=keras.ops.convert_to_numpy(y),
               cell_h1=keras.ops.convert_to_numpy(new[0]),
               cell_c1=keras.ops.convert_to_numpy(new[1]))
    np.savez(os.path.join(OUT, "rnn_cells_expected.npz"), **out)

    configs = {type(c).__name__: _plain(c.get_config()) for c in (
        keras.layers.SimpleRNNCell(5, activation="relu", use_bias=False, dropout=0.25,
                                   seed=3),
        keras.layers.LSTMCell(4, recurrent_activation="tanh", unit_forget_bias=False),
        keras.layers.GRUCell(2, reset_after=False, recurrent_dropout=0.5))}
    for config in configs.values():
        for key, value in config.items():
            if key.endswith("initializer"):       # compared by class name
                config[key] = value["class_name"]
    with open(os.path.join(DATA, "rnn_cells_configs.json"), "w") as f:
        json.dump(configs, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
