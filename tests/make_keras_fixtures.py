"""Generate the Keras reference fixtures in ``tests/data/`` (a script, not a test).

The tests compare tensorlib against these files and never import Keras. To regenerate
(needs real Keras 3 with any backend; the files in the repository were made with Keras
3.15.1 on the torch 2.13 CPU backend):

    KERAS_BACKEND=torch /opt/kerasenv/bin/python tests/make_keras_fixtures.py

Everything random comes from seeded NumPy generators and is stored in the fixtures, so
tensorlib loads exactly the weights and inputs Keras used.

Files written:

* ``summary_*.txt``  -- ``model.summary()`` text exactly as Keras prints it to a
  non-terminal stdout (width 76 with ``COLUMNS=80``), and with ``line_length=60``.
* ``small_convnet.npz`` -- Conv2D(4, 3x3, relu) -> MaxPooling2D -> Flatten ->
  Dense(3, softmax) on 8x8x1 inputs: starting weights, inputs, one-hot targets,
  ``predict``, ``evaluate`` (categorical_crossentropy + accuracy), two ``train_on_batch``
  steps with each of SGD(0.1, momentum=0.9), RMSprop(), Adam() (returned [loss, acc] and
  weights after each step), and a ``fit`` run (SGD, batch 4, 2 epochs, shuffle=False,
  validation_split=0.25) with its history and final weights.
* ``batchnorm.npz`` -- BatchNormalization forward in inference and training mode on fixed
  2-D and 4-D inputs with non-trivial gamma/beta/moving statistics, and the moving
  statistics after the training-mode call; plus a Dense -> BN -> Dense(softmax) model after
  one SGD ``train_on_batch``.
* ``shapes.json`` + ``shapes.npz`` -- ``compute_output_shape`` and the forward output of
  Conv2D / pooling / reshaping layers for awkward configurations (strides 2, padding
  same with odd and even totals, dilation 2, pool 3 stride 2), with the weights and inputs.
* ``weights_layout.json`` -- ``get_weights()`` order, names, shapes and trainability of
  Conv2D, Dense and BatchNormalization variants.
* ``progbar.json`` -- the exact text ``keras.utils.Progbar`` writes (verbose 1 on a
  terminal, verbose 2) for scripted updates under a fake clock, as Keras's fit drives it
  (metrics shown as given, not averaged).
"""
import contextlib
import io
import json
import os
import sys

os.environ["COLUMNS"] = "80"          # rich (Keras's table renderer) then draws 76 wide
os.environ.setdefault("KERAS_BACKEND", "torch")

import keras
import numpy as np
from keras import layers, models, optimizers

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "data")


def fresh():
    """Reset Keras's global name counters (first model is "sequential" again)."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)


def capture_summary(model, **kwargs):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        model.summary(**kwargs)
    text = buf.getvalue()
    assert "\x1b" not in text, "summary contains terminal escapes"
    return text


def write_text(name, text):
    with open(os.path.join(DATA, name), "w", encoding="utf-8") as f:
        f.write(text)


# ----------------------------------------------------------------- summaries
def seed_convnet():
    model = models.Sequential()
    model.add(layers.Conv2D(32, (3, 3), activation='relu', input_shape=(28, 28, 1)))
    model.add(layers.MaxPooling2D((2, 2)))
    model.add(layers.Conv2D(64, (3, 3), activation='relu'))
    model.add(layers.MaxPooling2D((2, 2)))
    model.add(layers.Conv2D(64, (3, 3), activation='relu'))
    model.add(layers.Flatten())
    model.add(layers.Dense(64, activation='relu'))
    model.add(layers.Dense(10, activation='softmax'))
    return model


def seed_dense():
    model = models.Sequential()
    model.add(layers.Dense(512, activation='relu', input_shape=(784,)))
    model.add(layers.Dense(10, activation='softmax'))
    return model


def mixed_model():
    """Every layer kind, BatchNormalization giving non-trainable parameters."""
    return models.Sequential([
        layers.Conv2D(8, 3, strides=2, padding="same", input_shape=(16, 16, 3)),
        layers.BatchNormalization(),
        layers.Activation("relu"),
        layers.AveragePooling2D(2),
        layers.Dropout(0.25),
        layers.Conv2D(6, 3, padding="same", dilation_rate=2, activation="tanh"),
        layers.GlobalAveragePooling2D(),
        layers.Reshape((3, -1)),
        layers.Flatten(),
        layers.Dense(5, activation="sigmoid"),
    ])


def make_summaries():
    out = {}
    for key, builder in [("seed_convnet", seed_convnet), ("seed_dense", seed_dense),
                         ("mixed", mixed_model)]:
        fresh()
        model = builder()
        text = capture_summary(model)
        width = max(len(line) for line in text.splitlines())
        assert width == 76, (key, width)
        write_text(f"summary_{key}_76.txt", text)
        write_text(f"summary_{key}_60.txt", capture_summary(model, line_length=60))
        out[key] = text
    # A model whose input shape is not known yet: "?" shapes and "0 (unbuilt)".
    fresh()
    model = models.Sequential([layers.Dense(4, activation="relu"), layers.Dense(2)])
    write_text("summary_unbuilt_76.txt", capture_summary(model))
    return out


# ----------------------------------------------------------------- small convnet
def small_convnet():
    return models.Sequential([
        keras.Input((8, 8, 1)),
        layers.Conv2D(4, (3, 3), activation="relu"),
        layers.MaxPooling2D((2, 2)),
        layers.Flatten(),
        layers.Dense(3, activation="softmax"),
    ])


def make_small_convnet():
    rng = np.random.default_rng(1234)
    fresh()
    model = small_convnet()
    shapes = [tuple(w.shape) for w in model.get_weights()]
    assert shapes == [(3, 3, 1, 4), (4,), (36, 3), (3,)], shapes
    init = [rng.uniform(-0.5, 0.5, s).astype("float32") for s in shapes]
    x = rng.uniform(0, 1, (8, 8, 8, 1)).astype("float32")
    labels = np.array([0, 1, 2, 0, 1, 2, 1, 0])
    y = np.eye(3, dtype="float32")[labels]
    arrays = {f"init_{i}": w for i, w in enumerate(init)}
    arrays.update(x=x, y=y)

    model.set_weights(init)
    model.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=["accuracy"])
    arrays["predict"] = model.predict(x, verbose=0)
    arrays["evaluate"] = np.array(model.evaluate(x, y, verbose=0), dtype="float64")

    opts = {"sgd": lambda: optimizers.SGD(0.1, momentum=0.9),
            "rmsprop": lambda: optimizers.RMSprop(),
            "adam": lambda: optimizers.Adam()}
    for name, make in opts.items():
        model.set_weights(init)
        model.compile(optimizer=make(), loss="categorical_crossentropy",
                      metrics=["accuracy"])
        for step in (1, 2):
            result = model.train_on_batch(x, y)
            arrays[f"{name}_step{step}_result"] = np.array(result, dtype="float64")
            for i, w in enumerate(model.get_weights()):
                arrays[f"{name}_step{step}_w{i}"] = w

    model.set_weights(init)
    model.compile(optimizer=optimizers.SGD(0.1, momentum=0.9),
                  loss="categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=4, epochs=2, shuffle=False, validation_split=0.25,
                        verbose=0)
    for key, values in history.history.items():
        arrays[f"fit_history_{key}"] = np.array(values, dtype="float64")
    arrays["fit_history_keys"] = np.array(sorted(history.history))
    for i, w in enumerate(model.get_weights()):
        arrays[f"fit_w{i}"] = w
    np.savez(os.path.join(DATA, "small_convnet.npz"), **arrays)


# ----------------------------------------------------------------- batch norm
def make_batchnorm():
    rng = np.random.default_rng(99)
    arrays = {}
    for key, shape in [("2d", (6, 5)), ("4d", (4, 3, 3, 2))]:
        fresh()
        c = shape[-1]
        x = (rng.normal(0, 2, shape) + 1.5).astype("float32")
        weights = [rng.uniform(0.5, 1.5, c), rng.normal(0, 1, c), rng.normal(0, 1, c),
                   rng.uniform(0.5, 2.0, c)]
        weights = [w.astype("float32") for w in weights]
        bn = layers.BatchNormalization()
        bn.build((None,) + shape[1:])
        bn.set_weights(weights)
        arrays[f"{key}_x"] = x
        for i, w in enumerate(weights):
            arrays[f"{key}_w{i}"] = w
        arrays[f"{key}_infer"] = keras.ops.convert_to_numpy(bn(x, training=False))
        arrays[f"{key}_train"] = keras.ops.convert_to_numpy(bn(x, training=True))
        after = bn.get_weights()
        arrays[f"{key}_moving_mean_after"] = after[2]
        arrays[f"{key}_moving_variance_after"] = after[3]

    # Dense -> BN -> Dense(softmax): gradients through training-mode BN.
    fresh()
    model = models.Sequential([keras.Input((4,)), layers.Dense(5),
                               layers.BatchNormalization(),
                               layers.Dense(3, activation="softmax")])
    init = [rng.uniform(-0.7, 0.7, w.shape).astype("float32") for w in model.get_weights()]
    init[4] = rng.uniform(0.5, 1.5, init[4].shape).astype("float32")   # moving mean
    init[5] = rng.uniform(0.5, 1.5, init[5].shape).astype("float32")   # moving variance
    x = rng.normal(0, 1, (10, 4)).astype("float32")
    y = np.eye(3, dtype="float32")[rng.integers(0, 3, 10)]
    model.set_weights(init)
    model.compile(optimizer=optimizers.SGD(0.1), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    arrays["model_predict_before"] = model.predict(x, verbose=0)
    arrays["model_result"] = np.array(model.train_on_batch(x, y), dtype="float64")
    arrays["model_x"], arrays["model_y"] = x, y
    for i, w in enumerate(init):
        arrays[f"model_init_{i}"] = w
    for i, w in enumerate(model.get_weights()):
        arrays[f"model_after_{i}"] = w
    arrays["model_predict_after"] = model.predict(x, verbose=0)
    np.savez(os.path.join(DATA, "batchnorm.npz"), **arrays)


# ----------------------------------------------------------------- shapes and values
SHAPE_CASES = [
    # (class name, config, input shape without the batch axis)
    ("Conv2D", {"filters": 2, "kernel_size": 3, "strides": 2}, (9, 9, 3)),
    ("Conv2D", {"filters": 2, "kernel_size": 3, "strides": 2}, (8, 8, 3)),
    ("Conv2D", {"filters": 2, "kernel_size": 3, "strides": 2, "padding": "same"}, (8, 8, 3)),
    ("Conv2D", {"filters": 2, "kernel_size": 3, "strides": 2, "padding": "same"}, (9, 7, 2)),
    ("Conv2D", {"filters": 3, "kernel_size": 4, "padding": "same"}, (6, 5, 2)),
    ("Conv2D", {"filters": 2, "kernel_size": 2, "strides": 2, "padding": "same"}, (5, 5, 1)),
    ("Conv2D", {"filters": 2, "kernel_size": 3, "dilation_rate": 2}, (9, 8, 2)),
    ("Conv2D", {"filters": 2, "kernel_size": 3, "dilation_rate": 2, "padding": "same"},
     (7, 6, 2)),
    ("Conv2D", {"filters": 3, "kernel_size": (3, 2), "strides": (2, 3), "padding": "same"},
     (7, 10, 2)),
    ("Conv2D", {"filters": 2, "kernel_size": (1, 4), "strides": (3, 1)}, (10, 6, 2)),
    ("MaxPooling2D", {"pool_size": 3, "strides": 2, "padding": "same"}, (7, 8, 2)),
    ("MaxPooling2D", {"pool_size": 3, "strides": 2}, (7, 8, 2)),
    ("MaxPooling2D", {"pool_size": 2, "padding": "same"}, (5, 7, 3)),
    ("MaxPooling2D", {"pool_size": 2}, (5, 7, 3)),
    ("MaxPooling2D", {"pool_size": (2, 3), "strides": (1, 2)}, (6, 9, 1)),
    ("AveragePooling2D", {"pool_size": 3, "strides": 2, "padding": "same"}, (7, 8, 2)),
    ("AveragePooling2D", {"pool_size": 3, "strides": 2}, (7, 8, 2)),
    ("AveragePooling2D", {"pool_size": 3, "strides": 2, "padding": "same"}, (7, 7, 2)),
    ("AveragePooling2D", {"pool_size": 3, "strides": 1, "padding": "same"}, (5, 6, 2)),
    ("AveragePooling2D", {"pool_size": 2, "padding": "same"}, (5, 7, 3)),
    ("AveragePooling2D", {"pool_size": 2}, (5, 7, 3)),
    ("GlobalAveragePooling2D", {}, (5, 4, 3)),
    ("GlobalAveragePooling2D", {"keepdims": True}, (5, 4, 3)),
    ("Flatten", {}, (3, 4, 2)),
    ("Reshape", {"target_shape": (-1, 4)}, (3, 4, 2)),
    ("Reshape", {"target_shape": (2, -1, 3)}, (3, 4, 2)),
    ("Dense", {"units": 3}, (2, 5)),
    ("Dense", {"units": 3, "activation": "tanh"}, (4,)),
]


def _asymmetric_same_padding(config, in_shape):
    """True when "same" pooling pads one side more than the other on some axis."""
    def pair(v):
        return (v, v) if isinstance(v, int) else tuple(v)
    k = pair(config.get("pool_size", 2))
    s = pair(config.get("strides") or k)
    for n, kk, ss in zip(in_shape[:2], k, s):
        total = max((-(-n // ss) - 1) * ss + kk - n, 0)
        if total % 2:
            return True
    return False


def make_shapes():
    rng = np.random.default_rng(7)
    cases, arrays = [], {}
    for i, (cls_name, config, in_shape) in enumerate(SHAPE_CASES):
        fresh()
        layer = getattr(layers, cls_name)(**config)
        out_shape = layer.compute_output_shape((None,) + in_shape)
        x = rng.normal(0, 1, (2,) + in_shape).astype("float32")
        layer.build((None,) + in_shape)
        weights = [rng.normal(0, 0.5, w.shape).astype("float32") for w in layer.get_weights()]
        if weights:
            layer.set_weights(weights)
        y = keras.ops.convert_to_numpy(layer(x))
        assert tuple(y.shape[1:]) == tuple(out_shape[1:]), (cls_name, config, y.shape)
        # Keras's torch backend pads asymmetric "same" pooling with *replicated* edge
        # values, which changes averages (TF and JAX average over the real inputs only);
        # those outputs are backend artefacts, so only their shape is a reference.
        values = not (cls_name == "AveragePooling2D" and config.get("padding") == "same"
                      and _asymmetric_same_padding(config, in_shape))
        cases.append({"class_name": cls_name, "config": config, "input_shape": in_shape,
                      "output_shape": list(out_shape), "n_weights": len(weights),
                      "compare_values": values})
        arrays[f"case{i}_x"], arrays[f"case{i}_y"] = x, y
        for j, w in enumerate(weights):
            arrays[f"case{i}_w{j}"] = w
    with open(os.path.join(DATA, "shapes.json"), "w") as f:
        json.dump({"keras_version": keras.__version__, "cases": cases}, f, indent=1)
    np.savez(os.path.join(DATA, "shapes.npz"), **arrays)


# ----------------------------------------------------------------- weight layout
LAYOUT_CASES = [
    ("Conv2D", {"filters": 5, "kernel_size": (3, 2)}, (7, 6, 3)),
    ("Conv2D", {"filters": 5, "kernel_size": 3, "use_bias": False}, (7, 6, 3)),
    ("Dense", {"units": 4}, (6,)),
    ("Dense", {"units": 4, "use_bias": False}, (6,)),
    ("BatchNormalization", {}, (4, 4, 3)),
    ("BatchNormalization", {}, (6,)),
    ("BatchNormalization", {"center": False}, (6,)),
    ("BatchNormalization", {"scale": False}, (6,)),
    ("MaxPooling2D", {}, (4, 4, 3)),
    ("Flatten", {}, (4, 4, 3)),
]


def make_layout():
    out = []
    for cls_name, config, in_shape in LAYOUT_CASES:
        fresh()
        layer = getattr(layers, cls_name)(**config)
        layer.build((None,) + in_shape)
        out.append({"class_name": cls_name, "config": config, "input_shape": in_shape,
                    "weights": [{"name": w.name, "shape": list(w.shape),
                                 "trainable": bool(w.trainable)} for w in layer.weights],
                    "count_params": int(layer.count_params())})
    with open(os.path.join(DATA, "weights_layout.json"), "w") as f:
        json.dump({"keras_version": keras.__version__, "layers": out}, f, indent=1)


# ----------------------------------------------------------------- progress bar
# Each scenario: (target, [(seconds since start, current, logs), ...]); the last update
# is the final one. Times are binary fractions so both sides round identically.
PROGBAR_SCENARIOS = [
    (5, [(0.75, 1, {"accuracy": 0.5, "loss": 1.25}),
         (0.78125, 2, {"accuracy": 0.5625, "loss": 1.0625}),
         (0.796875, 3, {"accuracy": 0.625, "loss": 0.9}),     # < 0.05 s later: skipped
         (0.875, 4, {"accuracy": 0.6875, "loss": 0.00042}),
         (1.5, 5, {"accuracy": 0.75, "loss": 0.000375})]),
    (10000, [(2.0, 1, {"loss": 3.5}),
             (2.5, 2, {"loss": 2.25}),
             (64.5, 250, {"loss": 1.125}),
             (5000.25, 10000, {"loss": 0.0625})]),
    (3, [(0.0009765625, 1, {}), (0.00146484375, 2, {}), (0.001953125, 3, {})]),
    (12, [(0.5, 3, {"loss": 123.456}), (1.0, 11, {"loss": 0.5}), (1.25, 12, {"loss": 0.25})]),
]


class _FakeTTY(io.StringIO):
    def isatty(self):
        return True


def make_progbar():
    from keras.src.utils import progbar as kprogbar

    clock = {"now": 0.0}

    class FakeTime:
        @staticmethod
        def time():
            return clock["now"]

    real_time = kprogbar.time
    kprogbar.time = FakeTime
    out = []
    try:
        for verbose in (1, 2):
            for target, updates in PROGBAR_SCENARIOS:
                start = 1000.0
                clock["now"] = start
                stream = _FakeTTY()
                with contextlib.redirect_stdout(stream):
                    bar = kprogbar.Progbar(target, verbose=verbose, unit_name="step",
                                           stateless_metrics=set())
                    for t, current, logs in updates:
                        clock["now"] = start + t
                        bar.update(current, list(logs.items()), finalize=current >= target)
                out.append({"verbose": verbose, "target": target, "start": start,
                            "updates": [[t, c, logs] for t, c, logs in updates],
                            "output": stream.getvalue()})
    finally:
        kprogbar.time = real_time
    with open(os.path.join(DATA, "progbar.json"), "w", encoding="utf-8") as f:
        json.dump({"keras_version": keras.__version__, "scenarios": out}, f, indent=1,
                  ensure_ascii=False)


def main():
    os.makedirs(DATA, exist_ok=True)
    print("Keras", keras.__version__, "backend", keras.backend.backend(), file=sys.stderr)
    make_summaries()
    make_small_convnet()
    make_batchnorm()
    make_shapes()
    make_layout()
    make_progbar()
    total = sum(os.path.getsize(os.path.join(DATA, f)) for f in os.listdir(DATA))
    print(f"wrote {len(os.listdir(DATA))} files, {total} bytes, to {DATA}", file=sys.stderr)


if __name__ == "__main__":
    main()
