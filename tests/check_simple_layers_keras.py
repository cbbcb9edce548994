"""Check that real Keras 3 loads tensorlib's ``.keras`` / ``.weights.h5`` files holding the
simple layers (activation, reshaping, noise, LayerNormalization, Rescaling, Normalization)
and predicts what tensorlib predicted (a script, not a test: it needs Keras).

    python tests/check_simple_layers_keras.py --keras-python /work/peers/bin/python

Step 1 (this interpreter): the model of ``test_layers_simple_io.all_layers_model`` with
random weights, and a small functional model, saved with their predictions. Step 2
(``--keras-python``, ``KERAS_BACKEND=torch``): Keras loads each file, predicts, compares
predictions, weights and layer configs. Exit status 0 when everything matches.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

RTOL, ATOL = 1e-5, 1e-5


def tensorlib_side(out):
    import tensorlib as tl
    from tensorlib import layers, models
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from test_layers_simple_io import all_layers_model
    tl.manual_seed(0)
    rng = np.random.default_rng(0)
    inputs = layers.Input((6,))
    h = layers.RepeatVector(3)(layers.PReLU()(inputs))
    functional = models.Model(inputs, layers.LayerNormalization()(layers.Permute((2, 1))(h)))
    cases = {"sequential": (all_layers_model(), (3, 5, 4, 2)),
             "functional": (functional, (4, 6))}
    for name, (model, shape) in cases.items():
        model.set_weights([w + rng.normal(size=w.shape).astype(w.dtype) * 0.3
                           if w.dtype.kind == "f" else w for w in model.get_weights()])
        x = rng.normal(size=shape).astype(np.float32)
        model.save(os.path.join(out, f"{name}.keras"))
        model.save_weights(os.path.join(out, f"{name}.weights.h5"))
        np.savez(os.path.join(out, f"{name}.npz"), x=x, pred=model.predict(x, verbose=0),
                 **{f"w{i}": w for i, w in enumerate(model.get_weights())})
        configs = {la.name: la.get_config() for la in model.layers}
        with open(os.path.join(out, f"{name}.json"), "w") as f:
            json.dump(configs, f)


def keras_side(out):
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras
    failures = []

    def close(what, a, b):
        if np.shape(a) != np.shape(b) or not np.allclose(a, b, rtol=RTOL, atol=ATOL):
            failures.append(f"{what}: keras {np.ravel(a)[:4]} vs tensorlib {np.ravel(b)[:4]}")

    for name in ("sequential", "functional"):
        ref = np.load(os.path.join(out, f"{name}.npz"))
        model = keras.models.load_model(os.path.join(out, f"{name}.keras"))
        close(f"{name}.keras predict", model.predict(ref["x"], verbose=0), ref["pred"])
        weights = model.get_weights()
        if len(weights) != len([k for k in ref.files if k.startswith("w")]):
            failures.append(f"{name}: Keras has {len(weights)} weights")
        for i, w in enumerate(weights):
            close(f"{name} weight {i}", w, ref[f"w{i}"])
        with open(os.path.join(out, f"{name}.json")) as f:
            ours = json.load(f)
        for layer in model.layers:
            theirs = json.loads(json.dumps(layer.get_config(), default=str))
            mine = ours.get(layer.name, {})
            for key in {k for k in mine if not k.endswith("initializer")} - {"dtype", "name"}:
                if mine[key] != theirs.get(key, mine[key]):
                    failures.append(f"{name}/{layer.name}: {key}={theirs.get(key)!r} in "
                                    f"Keras, {mine[key]!r} in tensorlib")
        fresh = keras.models.load_model(os.path.join(out, f"{name}.keras"))
        fresh.set_weights([np.zeros_like(w) for w in fresh.get_weights()])
        fresh.load_weights(os.path.join(out, f"{name}.weights.h5"))
        close(f"{name}.weights.h5 predict", fresh.predict(ref["x"], verbose=0), ref["pred"])
        print(f"{name}: {len(model.layers)} layers, predictions, weights and configs checked")
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
