"""Check that real Keras 3 loads the ``.keras`` files tensorlib writes for functional
models with ``keras.ops`` calls (a script, not a test: it needs Keras, which tensorlib
never imports).

    python tests/check_keras_op_roundtrip.py --keras-python /work/peers/bin/python

Step 1 (this interpreter, with tensorlib): build every graph of ``keras_op_graphs.py`` in
code, plus a model indexing with a bare slice (``x[1:]``, which tensorlib writes as a
one-item key list), save ``.keras`` files with tensorlib's predictions. Step 2
(``--keras-python``, Keras on torch): Keras loads each file, predicts and compares.
Exit status 0 when everything matches.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import keras_op_graphs as og  # noqa: E402

ATOL = 1e-5


def outputs(value):
    return [np.asarray(v) for v in (value if isinstance(value, list) else [value])]


def sliced(keras):
    x = keras.Input((4, 3), name="x")
    d = keras.layers.Dense(2, name="d")(x)
    return keras.Model(x, [d[1:], d[:, 0, 1], keras.ops.squeeze(d[:, 1:2, :], 1)])


def tensorlib_side(out):
    import tensorlib as keras
    keras.utils.set_random_seed(0)
    builders = {**og.GRAPHS, "sliced": sliced}
    arrays = {}
    for name, build in builders.items():
        keras.backend.clear_session()
        model = build(keras)
        x = og.data(name) if name in og.GRAPHS else np.ones((5, 4, 3), "float32")
        model.save(os.path.join(out, f"{name}.keras"))
        for i, v in enumerate(x if isinstance(x, list) else [x]):
            arrays[f"{name}/x{i}"] = v
        for i, v in enumerate(outputs(model.predict(x, verbose=0))):
            arrays[f"{name}/y{i}"] = v
    np.savez(os.path.join(out, "expected.npz"), **arrays)
    return list(builders)


def keras_side(out):
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras
    expected = dict(np.load(os.path.join(out, "expected.npz")))
    failures = 0
    for name in [*og.GRAPHS, "sliced"]:
        xs = [expected[k] for k in sorted(expected) if k.startswith(f"{name}/x")]
        ys = [expected[f"{name}/y{i}"] for i in range(len(expected))
              if f"{name}/y{i}" in expected]
        model = keras.saving.load_model(os.path.join(out, f"{name}.keras"))
        got = outputs(model.predict(xs[0] if len(xs) == 1 else xs, verbose=0))
        ok = len(got) == len(ys) and all(g.shape == w.shape for g, w in zip(got, ys))
        err = max(float(np.abs(g - w).max()) for g, w in zip(got, ys)) if ok else np.inf
        ok = ok and err <= ATOL
        failures += not ok
        print(f"{name:8s} {len(got)} outputs, max |diff| {err:.2e} {'ok' if ok else 'MISMATCH'}")
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
