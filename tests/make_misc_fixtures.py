"""Generate ``tests/data/misc_keras.json`` (a script, not a test) with real Keras 3:
``keras.utils.pad_sequences`` on ragged sequences, losses whose target broadcasts to the
output (a ``(batch,)`` target against a ``(batch, 10)`` output), and the confusion-count
metrics (``TruePositives`` ...) over three batches.

    KERAS_BACKEND=torch /work/peers/bin/python tests/make_misc_fixtures.py
"""
import json
import os

os.environ.setdefault("KERAS_BACKEND", "torch")
import keras  # noqa: E402
import numpy as np  # noqa: E402

SEQS = [[1, 2, 3], [4, 5], [], [6, 7, 8, 9, 10]]
PAD_CASES = {"default": {}, "post": {"padding": "post"},
             "trunc_post": {"maxlen": 3, "truncating": "post"},
             "maxlen2_value": {"maxlen": 2, "value": -1},
             "float": {"dtype": "float32", "maxlen": 4, "padding": "post", "value": 0.5}}


def main():
    out = {"seqs": SEQS, "pad": {}}
    for name, kwargs in PAD_CASES.items():
        out["pad"][name] = {"kwargs": kwargs,
                            "value": keras.utils.pad_sequences(SEQS, **kwargs).tolist()}
    vec = [np.ones((2, 3)).tolist(), np.zeros((1, 3)).tolist()]
    out["pad_vec"] = {"seqs": vec, "value": keras.utils.pad_sequences(
        [np.array(v) for v in vec], maxlen=3).tolist()}
    rng = np.random.RandomState(0)
    y_true, y_pred = rng.rand(1).astype("float32"), rng.rand(1, 10).astype("float32")
    out["broadcast"] = {"y_true": y_true.tolist(), "y_pred": y_pred.tolist()}
    for name in ("mean_squared_error", "mean_absolute_error"):
        out["broadcast"][name] = np.asarray(
            getattr(keras.losses, name)(y_true, y_pred)).tolist()
    counts = {}
    batches = [(rng.randint(0, 2, (6, 2)).astype("float32"), rng.rand(6, 2).astype("float32"),
                rng.rand(6).astype("float32")) for _ in range(3)]
    out["count_batches"] = [[a.tolist() for a in b] for b in batches]
    for cls in ("TruePositives", "FalsePositives", "TrueNegatives", "FalseNegatives"):
        for tag, kwargs in (("default", {}), ("list", {"thresholds": [0.1, 0.5, 0.9]}),
                            ("one", {"thresholds": [0.3]})):
            for weighted in (False, True):
                m = getattr(keras.metrics, cls)(**kwargs)
                values = []
                for t, p, w in batches:
                    m.update_state(t, p, sample_weight=w if weighted else None)
                    values.append(np.asarray(m.result()).tolist())
                counts[f"{cls}/{tag}/{int(weighted)}"] = {
                    "kwargs": kwargs, "values": values,
                    "config": {k: v for k, v in m.get_config().items() if k != "dtype"}}
    out["counts"] = counts
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "misc_keras.json")
    with open(path, "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
