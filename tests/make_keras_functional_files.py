"""Generate the functional-model Keras fixtures (a script, not a test): ``.keras`` files,
a ``.weights.h5`` and ``summary()`` text written by real Keras 3 for the graphs of
``keras_file_graphs.py``. The repository's files were made with Keras 3.15.1 on torch:

    KERAS_BACKEND=torch /work/peers/bin/python tests/make_keras_functional_files.py

Written to ``tests/data/keras_files/``: ``fn_<graph>.keras`` for every graph (``convnet``
and ``nested`` compiled with Adam(0.01) after two ``train_on_batch`` steps), ``fn_custom.keras``
(a registered ``my_pkg>Scale`` layer), ``fn_lambda.keras`` (a Lambda layer),
``fn_shared.weights.h5.gz`` (``save_weights`` of ``shared``, gzipped) and
``fn_expected.npz`` (inputs, ``predict`` outputs, and for the compiled graphs the loss and
weights after one more step); to ``tests/data/``: ``summary_fn_<graph>_76.txt`` (an
80-column terminal) and ``summary_fn_shared_108.txt`` (``line_length=108``, 120 columns).
"""
import gzip
import io
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "torch")
os.environ["COLUMNS"], os.environ["LINES"] = "80", "24"
import keras  # noqa: E402
import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import keras_file_graphs as kg  # noqa: E402
from make_keras_files import repack  # noqa: E402

DATA = os.path.join(HERE, "data")
OUT = os.path.join(DATA, "keras_files")


def randomize(model, rng):
    """Random weights everywhere (BatchNormalization's variance kept positive)."""
    for w in model.weights:
        value = rng.normal(size=w.shape).astype("float32") * 0.5
        w.assign(np.abs(value) + 0.5 if "variance" in w.path else value)


def flat(prefix, value, out):
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            out[f"{prefix}:{i}"] = np.asarray(v)
    else:
        out[prefix] = np.asarray(value)


def capture_summary(model, **kwargs):
    lines = []
    model.summary(print_fn=lambda text, line_break=True: lines.append(text), **kwargs)
    return "".join(lines)


def write_text(name, text):
    with open(os.path.join(DATA, name), "w", encoding="utf-8") as f:
        f.write(text)


def main():
    rng = np.random.default_rng(0)
    expected = {}
    for name, build in kg.GRAPHS.items():
        keras.utils.set_random_seed(1)
        write_text(f"summary_fn_{name}_76.txt", capture_summary(build(keras)))
        model = build(keras)
        randomize(model, rng)
        x, y = kg.data(name)
        flat(f"{name}/x", x, expected)
        if name in kg.COMPILED:
            model.compile(optimizer=keras.optimizers.Adam(0.01), loss=kg.COMPILED[name])
            for _ in range(2):
                model.train_on_batch(x, y)
        path = os.path.join(OUT, f"fn_{name}.keras")
        model.save(path)
        repack(path)
        flat(f"{name}/predict", model.predict(x, verbose=0), expected)
        if name in kg.COMPILED:
            expected[f"{name}/y"] = y
            expected[f"{name}/next_loss"] = np.asarray(model.train_on_batch(x, y))
            flat(f"{name}/next_weights", model.get_weights(), expected)
        if name == "shared":
            os.environ["COLUMNS"] = "120"           # rich crops tables wider than the console
            write_text("summary_fn_shared_108.txt", capture_summary(model, line_length=108))
            os.environ["COLUMNS"] = "80"
            h5 = os.path.join(OUT, "fn_shared.weights.h5")
            model.save_weights(h5)
            with open(h5, "rb") as f, gzip.GzipFile(h5 + ".gz", "wb", mtime=0) as g:
                g.write(f.read())
            os.remove(h5)
    model = kg.custom(keras, kg.scale_class(keras))
    randomize(model, rng)
    x, _ = kg.data("custom")
    expected["custom/x"], expected["custom/predict"] = x, model.predict(x, verbose=0)
    model.save(os.path.join(OUT, "fn_custom.keras"))
    repack(os.path.join(OUT, "fn_custom.keras"))
    inp = keras.Input((4,), name="x")
    keras.Model(inp, keras.layers.Lambda(lambda t: t * 2, name="twice")(inp)).save(
        os.path.join(OUT, "fn_lambda.keras"))
    repack(os.path.join(OUT, "fn_lambda.keras"))
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **expected)
    with open(os.path.join(OUT, "fn_expected.npz"), "wb") as f:
        f.write(buffer.getvalue())
    for name in sorted(os.listdir(OUT)):
        if name.startswith("fn_"):
            print(f"{name}: {os.path.getsize(os.path.join(OUT, name))} bytes")


if __name__ == "__main__":
    main()
