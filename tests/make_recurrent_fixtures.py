"""Generate the Keras 3 fixtures of the recurrent, embedding and masking layers (a script,
not a test; needs Keras):

    KERAS_BACKEND=torch /work/peers/bin/python tests/make_recurrent_fixtures.py

Writes ``tests/data/recurrent.json`` (per case: the layer's class and constructor
arguments (a Bidirectional's wrapped layer under ``layer``), whether the mask ``mask`` is
passed, the shapes of the input, weights and outputs, and for unmasked cases Keras's
``get_config()`` without initializer records and dtype policies),
``tests/data/recurrent.npz``
(per case ``<case>``: the input, the weights set before the call and Keras's outputs,
flattened into one float32 array in that order; Embedding and Masking cases as separate
arrays; per training case ``train_<kind>/*``: the input, target, loss and the weights
before and after one ``train_on_batch`` with SGD(0.5), each set flattened),
and ``tests/data/keras_files/recurrent.keras`` (a Sequential model:
Embedding(mask_zero) -> Bidirectional(LSTM) -> GRU -> Dense, random weights) with its
inputs and Keras's predictions in ``recurrent_expected.npz``.
"""
import io
import json
import os
import zipfile

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")

# timestep masks: row 0 all real, row 1 right-padded, row 2 holes, row 3 all masked
MASK = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [0, 1, 0, 1, 1], [0, 0, 0, 0, 0]], bool)

# name: (class, kwargs, masked); inputs (4, 5, 3)
CASES = {
    "rnn_last": ("SimpleRNN", {"units": 3}, False),
    "rnn_seq_state": ("SimpleRNN", {"units": 3, "return_sequences": True,
                                    "return_state": True}, False),
    "rnn_back_relu": ("SimpleRNN", {"units": 2, "activation": "relu", "go_backwards": True,
                                    "return_sequences": True}, False),
    "rnn_masked": ("SimpleRNN", {"units": 3, "return_sequences": True,
                                 "return_state": True}, True),
    "rnn_nobias": ("SimpleRNN", {"units": 3, "use_bias": False}, False),
    "lstm_last": ("LSTM", {"units": 4}, False),
    "lstm_seq_state": ("LSTM", {"units": 3, "return_sequences": True,
                                "return_state": True}, False),
    "lstm_back": ("LSTM", {"units": 3, "go_backwards": True, "return_sequences": True,
                           "return_state": True}, False),
    "lstm_masked": ("LSTM", {"units": 3, "return_sequences": True, "return_state": True},
                    True),
    "lstm_masked_back": ("LSTM", {"units": 3, "go_backwards": True, "return_sequences": True,
                                  "return_state": True}, True),
    "lstm_masked_zero": ("LSTM", {"units": 2, "return_sequences": True,
                                  "zero_output_for_mask": True}, True),
    "lstm_acts": ("LSTM", {"units": 3, "activation": "relu",
                           "recurrent_activation": "tanh", "unit_forget_bias": False,
                           "return_sequences": True}, False),
    "gru_last": ("GRU", {"units": 4}, False),
    "gru_seq_state": ("GRU", {"units": 3, "return_sequences": True, "return_state": True},
                      False),
    "gru_before": ("GRU", {"units": 3, "reset_after": False, "return_sequences": True},
                   False),
    "gru_masked": ("GRU", {"units": 3, "return_sequences": True, "return_state": True}, True),
    "gru_masked_before_back": ("GRU", {"units": 2, "reset_after": False,
                                       "go_backwards": True, "return_sequences": True},
                               True),
    "gru_nobias": ("GRU", {"units": 3, "use_bias": False}, False),
    "bi_lstm_concat": ("Bidirectional", {"layer": ("LSTM", {"units": 3})}, False),
    "bi_lstm_seq_sum": ("Bidirectional", {"layer": ("LSTM", {"units": 3,
                                                             "return_sequences": True}),
                                          "merge_mode": "sum"}, False),
    "bi_gru_seq_mul": ("Bidirectional", {"layer": ("GRU", {"units": 2,
                                                           "return_sequences": True}),
                                         "merge_mode": "mul"}, True),
    "bi_rnn_ave": ("Bidirectional", {"layer": ("SimpleRNN", {"units": 3}),
                                     "merge_mode": "ave"}, True),
    "bi_lstm_none_state": ("Bidirectional", {"layer": ("LSTM", {"units": 2,
                                                                "return_sequences": True,
                                                                "return_state": True}),
                                             "merge_mode": None}, True),
    "bi_lstm_seq_masked": ("Bidirectional", {"layer": ("LSTM", {"units": 3,
                                                                "return_sequences": True})},
                           True),
}


def make_layer(cls, kwargs):
    kwargs = dict(kwargs)
    if cls == "Bidirectional":
        inner_cls, inner_kwargs = kwargs.pop("layer")
        return layers.Bidirectional(getattr(layers, inner_cls)(**inner_kwargs), **kwargs)
    return getattr(layers, cls)(**kwargs)


def plain_config(config):
    """get_config() without the initializer records and dtype policies (tensorlib writes
    names), recursing into a wrapped layer's config."""
    out = {}
    for key, value in config.items():
        if key.endswith("initializer") or key == "dtype":
            continue
        if isinstance(value, dict) and "config" in value and "class_name" in value:
            value = {"class_name": value["class_name"], "config": plain_config(value["config"])}
        out[key] = value
    return out


def pack(parts):
    """One flat float32 array (the tests split it again by the shapes in the JSON)."""
    return np.concatenate([np.asarray(p, np.float32).ravel() for p in parts])


def forward_cases(arrays, rng):
    meta = {}
    for name, (cls, kwargs, masked) in CASES.items():
        keras.utils.set_random_seed(0)
        layer = make_layer(cls, kwargs)
        x = rng.standard_normal((4, 5, 3)).astype(np.float32)
        layer.build(x.shape)
        weights = [rng.uniform(-0.8, 0.8, w.shape).astype(np.float32)
                   for w in layer.get_weights()]
        layer.set_weights(weights)
        out = layer(x, mask=MASK) if masked else layer(x)
        outs = [keras.ops.convert_to_numpy(y) for y in
                (list(out) if isinstance(out, (list, tuple)) else [out])]
        arrays[name] = pack([x] + weights + outs)
        kw = dict(kwargs)
        if cls == "Bidirectional":
            kw["layer"] = list(kw["layer"])
        meta[name] = {"class": cls, "kwargs": kw, "masked": masked,
                      "x_shape": list(x.shape),
                      "weight_shapes": [list(w.shape) for w in weights],
                      "output_shapes": [list(y.shape) for y in outs]}
        if not masked:
            meta[name]["config"] = plain_config(layer.get_config())
    arrays["mask"] = MASK
    return meta


def embedding_cases(arrays, rng, meta):
    for name, kwargs in {"emb": {"input_dim": 7, "output_dim": 3},
                         "emb_mask": {"input_dim": 7, "output_dim": 2, "mask_zero": True}}.items():
        layer = layers.Embedding(**kwargs)
        ids = rng.integers(0, 7, (3, 4))
        ids[1, 2:] = 0
        layer.build(ids.shape)
        w = rng.uniform(-1, 1, (kwargs["input_dim"], kwargs["output_dim"])).astype(np.float32)
        layer.set_weights([w])
        arrays[f"{name}/x"], arrays[f"{name}/w0"] = ids, w
        arrays[f"{name}/y0"] = keras.ops.convert_to_numpy(layer(ids))
        mask = layer.compute_mask(ids, None)
        if mask is not None:
            arrays[f"{name}/mask_out"] = keras.ops.convert_to_numpy(mask)
        meta[name] = {"class": "Embedding", "kwargs": kwargs, "masked": False,
                      "config": plain_config(layer.get_config()), "outputs": 1}
    layer = layers.Masking(mask_value=0.5)
    x = rng.standard_normal((2, 4, 3)).astype(np.float32)
    x[0, 1] = 0.5
    x[1, 3] = 0.5
    arrays["masking/x"] = x
    arrays["masking/y0"] = keras.ops.convert_to_numpy(layer(x))
    arrays["masking/mask_out"] = keras.ops.convert_to_numpy(layer.compute_mask(x, None))
    meta["masking"] = {"class": "Masking", "kwargs": {"mask_value": 0.5}, "masked": False,
                       "config": plain_config(layer.get_config()), "outputs": 1}


def text_model(kind):
    inner = {"lstm": lambda: layers.LSTM(4),
             "bigru": lambda: layers.Bidirectional(layers.GRU(3)),
             "rnn_seq": lambda: layers.SimpleRNN(3, return_sequences=True)}[kind]
    stack = [keras.Input((6,)), layers.Embedding(9, 4, mask_zero=True), inner()]
    if kind == "rnn_seq":
        stack.append(layers.LSTM(2))
    stack.append(layers.Dense(2))
    return keras.Sequential(stack)


def training_cases(arrays, rng):
    for kind in ("lstm", "bigru", "rnn_seq"):
        keras.utils.set_random_seed(0)
        model = text_model(kind)
        weights = [rng.uniform(-0.5, 0.5, w.shape).astype(np.float32)
                   for w in model.get_weights()]
        model.set_weights(weights)
        model.compile(keras.optimizers.SGD(0.5), "mse")
        x = rng.integers(1, 9, (5, 6)).astype(np.float32)
        x[1, 4:] = 0
        x[2, :3] = 0
        x[3, 2] = 0
        y = rng.standard_normal((5, 2)).astype(np.float32)
        loss = model.train_on_batch(x, y)
        arrays[f"train_{kind}/x"], arrays[f"train_{kind}/y"] = x, y
        arrays[f"train_{kind}/loss"] = np.array(loss)
        arrays[f"train_{kind}/before"] = pack(weights)
        arrays[f"train_{kind}/after"] = pack(model.get_weights())


def repack(path):
    with zipfile.ZipFile(path) as z:
        members = [(info.filename, z.read(info)) for info in z.infolist()]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for name, data in members:
            z.writestr(name, data)
    with open(path, "wb") as f:
        f.write(buffer.getvalue())


def keras_file(rng):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((7,), dtype="int32"),
        layers.Embedding(12, 5, mask_zero=True),
        layers.Bidirectional(layers.LSTM(3, return_sequences=True)),
        layers.GRU(4),
        layers.Dense(2, activation="softmax")])
    model.set_weights([rng.uniform(-0.6, 0.6, w.shape).astype(np.float32)
                       for w in model.get_weights()])
    model.compile("adam", "sparse_categorical_crossentropy")
    path = os.path.join(DATA, "keras_files", "recurrent.keras")
    model.save(path)
    repack(path)
    x = rng.integers(1, 12, (4, 7)).astype(np.int32)
    x[1, 5:] = 0
    x[2, :2] = 0
    x[3] = 0
    np.savez_compressed(os.path.join(DATA, "keras_files", "recurrent_expected.npz"), x=x,
                        pred=model.predict(x, verbose=0),
                        weights=np.array(len(model.get_weights())),
                        **{f"w{i}": w for i, w in enumerate(model.get_weights())})


def main():
    rng = np.random.default_rng(2026)
    arrays = {}
    meta = forward_cases(arrays, rng)
    embedding_cases(arrays, rng, meta)
    training_cases(arrays, rng)
    with open(os.path.join(DATA, "recurrent.json"), "w") as f:
        json.dump(meta, f, sort_keys=True, separators=(",", ":"))
    np.savez_compressed(os.path.join(DATA, "recurrent.npz"), **arrays)
    keras_file(rng)


if __name__ == "__main__":
    main()
