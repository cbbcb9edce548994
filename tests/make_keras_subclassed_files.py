"""Generate the subclassed-model Keras fixtures (a script, not a test) with real Keras 3:

    KERAS_BACKEND=torch /work/peers/bin/python tests/make_keras_subclassed_files.py

For each case of ``keras_subclassed_models.py``: random weights, ``compile(Adam(0.01),
"mse")``, two ``train_on_batch`` steps, then ``sub_<case>.keras`` in
``tests/data/keras_files/``; ``sub_expected.npz`` holds the inputs, targets, ``predict``
outputs, and the loss and weights after one more step.
"""
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "torch")
import keras  # noqa: E402
import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import keras_subclassed_models as ksm  # noqa: E402
from make_keras_files import repack  # noqa: E402

OUT = os.path.join(HERE, "data", "keras_files")


def flat(prefix, value, out):
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            out[f"{prefix}:{i}"] = np.asarray(v)
    else:
        out[prefix] = np.asarray(value)


def main():
    keras.utils.set_random_seed(3)
    classes = ksm.define(keras)
    rng = np.random.RandomState(11)
    expected = {}
    for name, (model, x, y) in ksm.cases(keras, classes).items():
        for w in model.weights:
            value = rng.normal(size=w.shape).astype("float32") * 0.5
            w.assign(np.abs(value) + 0.5 if "variance" in w.path else value)
        model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
        model.train_on_batch(x, y)
        model.train_on_batch(x, y)
        path = os.path.join(OUT, f"sub_{name}.keras")
        model.save(path)
        repack(path)
        flat(f"{name}/x", x, expected)
        expected[f"{name}/y"] = y
        expected[f"{name}/predict"] = model.predict(x, verbose=0)
        expected[f"{name}/loss"] = np.asarray(float(model.train_on_batch(x, y)))
        for i, w in enumerate(model.get_weights()):
            expected[f"{name}/after/{i}"] = w
    np.savez_compressed(os.path.join(OUT, "sub_expected.npz"), **expected)


if __name__ == "__main__":
    main()
