"""Check that real Keras 3 loads the functional ``.keras`` and ``.weights.h5`` files
tensorlib writes (a script, not a test: it needs Keras, which tensorlib never imports).

    python tests/check_keras_functional_roundtrip.py --keras-python /work/peers/bin/python

Step 1 (this interpreter, with tensorlib): build every graph of ``keras_file_graphs.py``
and the custom-layer model in code, save ``.keras`` and ``.weights.h5`` files with
tensorlib's predictions. Step 2 (``--keras-python``, Keras on torch): Keras loads each
``.keras`` (and each ``.weights.h5`` into the same graph built by Keras), predicts and
compares. Exit status 0 when everything matches.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import keras_file_graphs as kg  # noqa: E402

ATOL = 1e-5


def outputs(value):
    return [np.asarray(v) for v in (value if isinstance(value, list) else [value])]


def tensorlib_side(out):
    import tensorlib as keras
    keras.utils.set_random_seed(0)
    scale = kg.scale_class(keras)
    builders = {**kg.GRAPHS, "custom": lambda k: kg.custom(k, scale)}
    arrays = {}
    for name, build in builders.items():
        model = build(keras)
        x, _ = kg.data(name)
        model.save(os.path.join(out, f"{name}.keras"))
        model.save_weights(os.path.join(out, f"{name}.weights.h5"))
        for i, v in enumerate(x if isinstance(x, list) else [x]):
            arrays[f"{name}/x{i}"] = v
        for i, v in enumerate(outputs(model.predict(x, verbose=0))):
            arrays[f"{name}/y{i}"] = v
    np.savez(os.path.join(out, "expected.npz"), **arrays)


def keras_side(out):
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras
    scale = kg.scale_class(keras)
    builders = {**kg.GRAPHS, "custom": lambda k: kg.custom(k, scale)}
    expected = dict(np.load(os.path.join(out, "expected.npz")))
    failures = 0
    for name, build in builders.items():
        xs = [expected[k] for k in sorted(expected) if k.startswith(f"{name}/x")]
        ys = [expected[k] for k in sorted(expected) if k.startswith(f"{name}/y")]
        x = xs[0] if len(xs) == 1 else xs
        loaded = keras.saving.load_model(os.path.join(out, f"{name}.keras"))
        rebuilt = build(keras)
        rebuilt.load_weights(os.path.join(out, f"{name}.weights.h5"))
        for how, model in (("load_model", loaded), ("load_weights", rebuilt)):
            got = outputs(model.predict(x, verbose=0))
            err = max(float(np.abs(g - w).max()) for g, w in zip(got, ys))
            ok = len(got) == len(ys) and err <= ATOL
            failures += not ok
            print(f"{name:12s} {how:12s} max |diff| {err:.2e} {'ok' if ok else 'MISMATCH'}")
    return failures


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--keras-python")
    parser.add_argument("--keras-side")
    args = parser.parse_args()
    if args.keras_side:
        sys.exit(1 if keras_side(args.keras_side) else 0)
    with tempfile.TemporaryDirectory() as out:
        tensorlib_side(out)
        env = {**os.environ, "KERAS_BACKEND": "torch"}
        sys.exit(subprocess.call([args.keras_python, __file__, "--keras-side", out], env=env))


if __name__ == "__main__":
    main()
