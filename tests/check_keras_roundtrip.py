"""Check that real Keras 3 loads the ``.keras`` and ``.weights.h5`` files tensorlib writes
(a script, not a test: it needs Keras, which tensorlib never imports).

    python tests/check_keras_roundtrip.py --keras-python /work/peers/bin/python

Step 1 (this interpreter, with tensorlib): train small Sequential models covering every
layer tensorlib writes, save each as ``.keras`` and ``.weights.h5`` with tensorlib's
predictions, evaluation and next training step. Step 2 (``--keras-python``, with Keras
and ``KERAS_BACKEND=torch``): Keras loads every file, predicts, evaluates, takes the same
training step (which uses the optimizer state from the file) and compares. Exit status 0
when everything matches.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

RTOL, ATOL = 1e-4, 1e-5


def tensorlib_side(out):
    from tensorlib import layers, manual_seed, metrics, models, optimizers
    manual_seed(0)
    rng = np.random.default_rng(0)
    cases = {
        "convnet": ([layers.Input((8, 8, 1)),
                     layers.Conv2D(4, 3, padding="same", activation="relu"),
                     layers.BatchNormalization(), layers.MaxPooling2D(),
                     layers.AveragePooling2D(2), layers.Dropout(0.0), layers.Flatten(),
                     layers.Dense(3, activation="softmax")],
                    optimizers.RMSprop(0.01, momentum=0.5, centered=True),
                    "sparse_categorical_crossentropy",
                    [metrics.SparseCategoricalAccuracy()], (6, 8, 8, 1), "sparse"),
        "dense": ([layers.Input((4, 4, 2)), layers.GlobalAveragePooling2D(),
                   layers.Dense(8, activation="relu"), layers.Reshape((2, 4)),
                   layers.Flatten(), layers.Activation("tanh"),
                   layers.Dense(3, activation="softmax")],
                  optimizers.Adam(0.01, amsgrad=True), "categorical_crossentropy",
                  ["accuracy"], (5, 4, 4, 2), "onehot"),
        "sgd_mse": ([layers.Input((5,)), layers.Dense(4, activation="tanh", use_bias=False),
                     layers.Dense(2)],
                    optimizers.SGD(0.05, momentum=0.9), "mse", [], (7, 5), "regression"),
    }
    report = {}
    for name, (stack, opt, loss, mets, shape, kind) in cases.items():
        model = models.Sequential(stack)
        model.compile(optimizer=opt, loss=loss, metrics=mets)
        x = rng.normal(size=shape).astype(np.float32)
        n, classes = shape[0], model.output_shape[-1]
        y = {"sparse": np.arange(n) % classes,
             "onehot": np.eye(classes, dtype=np.float32)[np.arange(n) % classes],
             "regression": rng.normal(size=(n, classes)).astype(np.float32)}[kind]
        for _ in range(3):
            model.train_on_batch(x, y)
        model.save(os.path.join(out, f"{name}.keras"))
        model.save_weights(os.path.join(out, f"{name}.weights.h5"))
        pred = model.predict(x, verbose=0)
        ev = model.evaluate(x, y, verbose=0)
        nxt = model.train_on_batch(x, y)
        np.savez(os.path.join(out, f"{name}.npz"), x=x, y=y, pred=pred,
                 eval=np.atleast_1d(ev), next=np.atleast_1d(nxt),
                 **{f"w{i}": w for i, w in enumerate(model.get_weights())})
        report[name] = len(model.get_weights())
    with open(os.path.join(out, "cases.json"), "w") as f:
        json.dump(report, f)


def keras_side(out):
    import warnings
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras
    failures = []
    with open(os.path.join(out, "cases.json")) as f:
        cases = json.load(f)

    def close(what, a, b):
        if np.shape(a) != np.shape(b) or not np.allclose(a, b, rtol=RTOL, atol=ATOL):
            failures.append(f"{what}: keras {np.ravel(a)[:4]} vs tensorlib {np.ravel(b)[:4]}")

    for name, n_weights in cases.items():
        ref = np.load(os.path.join(out, f"{name}.npz"))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = keras.models.load_model(os.path.join(out, f"{name}.keras"))
        noisy = [str(w.message)[:120] for w in caught
                 if "Skipping" in str(w.message) or "not built" in str(w.message)
                 or "compile" in str(w.message)]
        if noisy:
            failures.append(f"{name}.keras: Keras warned {noisy}")
        close(f"{name}.keras predict", model.predict(ref["x"], verbose=0), ref["pred"])
        close(f"{name}.keras evaluate", np.atleast_1d(model.evaluate(ref["x"], ref["y"],
                                                                     verbose=0)), ref["eval"])
        close(f"{name}.keras next train_on_batch",
              np.atleast_1d(model.train_on_batch(ref["x"], ref["y"])), ref["next"])
        for i, w in enumerate(model.get_weights()):
            close(f"{name}.keras weight {i} after the next step", w, ref[f"w{i}"])
        if len(model.get_weights()) != n_weights:
            failures.append(f"{name}: {len(model.get_weights())} weights, not {n_weights}")
        fresh = keras.models.load_model(os.path.join(out, f"{name}.keras"))
        fresh.set_weights([np.zeros_like(w) for w in fresh.get_weights()])
        fresh.load_weights(os.path.join(out, f"{name}.weights.h5"))
        close(f"{name}.weights.h5 predict", fresh.predict(ref["x"], verbose=0), ref["pred"])
        print(f"{name}: checked .keras (predict, evaluate, next step with the saved optimizer "
              f"state) and .weights.h5")
    for f in failures:
        print("MISMATCH", f)
    print("OK: Keras", keras.__version__, "loads every file" if not failures else "FAILED")
    return 1 if failures else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keras-python", help="a Python interpreter with Keras 3 and h5py")
    parser.add_argument("--keras-side", metavar="DIR", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.keras_side:
        return keras_side(args.keras_side)
    if not args.keras_python:
        parser.error("--keras-python is required")
    with tempfile.TemporaryDirectory() as out:
        tensorlib_side(out)
        env = dict(os.environ, KERAS_BACKEND="torch")
        return subprocess.call([args.keras_python, os.path.abspath(__file__),
                                "--keras-side", out], env=env)


if __name__ == "__main__":
    sys.exit(main())
