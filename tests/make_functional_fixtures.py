"""Generate ``tests/data/functional_oracle.npz`` + ``.json`` with real Keras 3 (a script,
not a test): the functional graphs of ``functional_graphs.py``, their starting weights,
``predict`` outputs, and, for SGD / RMSprop / Adam, the ``train_on_batch`` logs and the
weights after one step. The repository's files were made with Keras 3.15 on torch 2.13:

    KERAS_BACKEND=torch /work/peers/bin/python tests/make_functional_fixtures.py
"""
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "torch")
import keras  # noqa: E402
import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import functional_graphs as fg  # noqa: E402


def flat(prefix, value, out):
    if isinstance(value, dict):
        for k in sorted(value):
            out[f"{prefix}:{k}"] = np.asarray(value[k])
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            out[f"{prefix}:{i}"] = np.asarray(v)
    else:
        out[prefix] = np.asarray(value)


def main():
    arrays, logs = {}, {}
    for name, build in fg.GRAPHS.items():
        keras.utils.set_random_seed(1)
        model, compile_args = build(keras)
        start = fg.weights_by_layer(model)
        for k, v in start.items():
            arrays[f"{name}/start/{k}"] = v
        x, y = fg.data(name)
        flat(f"{name}/predict", model.predict(x, verbose=0), arrays)
        for opt in ("sgd", "rmsprop", "adam"):
            fg.set_weights_by_layer(model, start)
            model.compile(optimizer=fg.optimizer(keras, opt), **compile_args)
            result = model.train_on_batch(x, y, return_dict=True)
            logs[f"{name}/{opt}"] = {k: float(v) for k, v in result.items()}
            for k, v in fg.weights_by_layer(model).items():
                arrays[f"{name}/{opt}/{k}"] = v
    np.savez(os.path.join(HERE, "data", "functional_oracle.npz"), **arrays)
    with open(os.path.join(HERE, "data", "functional_oracle.json"), "w") as f:
        json.dump(logs, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
