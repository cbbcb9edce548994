"""Check that real Keras 3 loads the subclassed-model ``.keras`` and ``.weights.h5`` files
tensorlib writes (a script, not a test: it needs Keras, which tensorlib never imports).

    python tests/check_keras_subclassed_roundtrip.py --keras-python /work/peers/bin/python

Step 1 (this interpreter, with tensorlib): build each case of
``keras_subclassed_models.py``, train it one step with Adam, save ``.keras`` and
``.weights.h5`` files and the predictions. Step 2 (``--keras-python``): Keras loads each
``.keras`` file (and each ``.weights.h5`` into the same case built by Keras), predicts,
compares, and checks the optimizer's iteration count. Exit status 0 when all match.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import keras_subclassed_models as ksm  # noqa: E402


def write(out):
    import tensorlib as keras
    classes = ksm.define(keras)
    saved = {}
    for name, (model, x, y) in ksm.cases(keras, classes).items():
        model.compile(optimizer="adam", loss="mse")
        model.train_on_batch(x, y)
        model.save(os.path.join(out, f"{name}.keras"))
        model.save_weights(os.path.join(out, f"{name}.weights.h5"))
        saved[f"{name}/predict"] = model.predict(x, verbose=0)
    np.savez(os.path.join(out, "expected.npz"), **saved)


def check(out):
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras
    classes = ksm.define(keras)
    expected = np.load(os.path.join(out, "expected.npz"))
    failed = 0
    for name, (model, x, _) in ksm.cases(keras, classes).items():
        loaded = keras.saving.load_model(os.path.join(out, f"{name}.keras"))
        model.load_weights(os.path.join(out, f"{name}.weights.h5"))
        want = expected[f"{name}/predict"]
        for what, m in (("keras", loaded), ("weights.h5", model)):
            err = float(np.abs(np.asarray(m.predict(x, verbose=0)) - want).max())
            ok = err < 1e-5
            failed += not ok
            print(f"{name:12s} {what:10s} max|diff| {err:.2e} {'ok' if ok else 'FAILED'}")
        if int(loaded.optimizer.iterations.numpy()) != 1:
            failed += 1
            print(f"{name:12s} optimizer iterations {loaded.optimizer.iterations} FAILED")
    return failed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--keras-python")
    parser.add_argument("--check", metavar="DIR")
    args = parser.parse_args()
    if args.check:
        sys.exit(1 if check(args.check) else 0)
    with tempfile.TemporaryDirectory() as out:
        write(out)
        code = subprocess.call([args.keras_python, os.path.abspath(__file__), "--check", out])
    sys.exit(code)


if __name__ == "__main__":
    main()
