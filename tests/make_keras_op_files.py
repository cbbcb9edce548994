"""Generate the Keras fixtures of functional models with ``keras.ops`` calls (a script, not
a test): ``.keras`` files written by real Keras 3 for the graphs of ``keras_op_graphs.py``.
The repository's files were made with Keras 3.15.1 on torch:

    KERAS_BACKEND=torch /work/peers/bin/python tests/make_keras_op_files.py

Written to ``tests/data/keras_files/``: ``ops_<graph>.keras`` for every graph (random
weights, built after ``clear_session`` so the ops have Keras's first automatic names) and
``ops_expected.npz`` (the inputs and Keras's ``predict`` outputs).
"""
import io
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "torch")
import keras  # noqa: E402
import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import keras_op_graphs as og  # noqa: E402
from make_keras_files import repack  # noqa: E402

OUT = os.path.join(HERE, "data", "keras_files")


def flat(prefix, value, out):
    for i, v in enumerate(value if isinstance(value, (list, tuple)) else [value]):
        out[f"{prefix}:{i}"] = np.asarray(v)


def main():
    rng = np.random.default_rng(0)
    expected = {}
    for name, build in og.GRAPHS.items():
        keras.backend.clear_session()
        model = build(keras)
        for w in model.weights:
            w.assign(rng.normal(size=w.shape).astype("float32") * 0.5)
        x = og.data(name)
        flat(f"{name}/x", x, expected)
        flat(f"{name}/predict", model.predict(x, verbose=0), expected)
        path = os.path.join(OUT, f"ops_{name}.keras")
        model.save(path)
        repack(path)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **expected)
    with open(os.path.join(OUT, "ops_expected.npz"), "wb") as f:
        f.write(buffer.getvalue())
    for name in sorted(os.listdir(OUT)):
        if name.startswith("ops_"):
            print(f"{name}: {os.path.getsize(os.path.join(OUT, name))} bytes")


if __name__ == "__main__":
    main()
