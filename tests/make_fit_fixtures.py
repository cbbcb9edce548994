"""Writes tests/data/fit_options.json with real Keras 3 (run with the peers environment:
KERAS_BACKEND=torch python tests/make_fit_fixtures.py):

* ``weighted`` -- one epoch of SGD on fixed data and initial weights with ``class_weight``
  or ``sample_weight`` (sparse / categorical cross-entropy on a softmax, MSE), batch 4,
  no shuffling: the weights after it, the history (``accuracy`` unweighted,
  ``weighted_accuracy`` weighted) and ``evaluate(sample_weight=)``;
* ``reduce_lr`` -- ReduceLROnPlateau driven by a fixed sequence of monitored values: the
  learning rate after each epoch and what it printed;
* ``steps`` -- the callback events (epoch starts, train batches, test batches) and the
  number of "ran out of data" warnings of fits with steps and validation options;
* ``progbar_unknown`` -- what ``keras.utils.Progbar`` writes on a terminal for a bar of
  unknown length (a generator without steps) finalized as Keras's ProgbarLogger does;
* ``messages`` -- the stdout of a ``fit(verbose=2)`` with EarlyStopping, ModelCheckpoint
  and ReduceLROnPlateau at verbose=1 (step times replaced by ``T``), for their order.
"""
import contextlib
import io
import json
import os
import re
import tempfile

import numpy as np

os.environ["KERAS_BACKEND"] = "torch"
import keras  # noqa: E402

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def data():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(10, 4)).astype("float32")
    labels = rng.integers(0, 3, 10)
    y_reg = rng.normal(size=(10, 2)).astype("float32")
    sw = rng.uniform(0.2, 2.0, 10).astype("float32")
    k1 = rng.normal(size=(4, 5)).astype("float32") * 0.5
    b1 = rng.normal(size=(5,)).astype("float32") * 0.1
    k2 = rng.normal(size=(5, 3)).astype("float32") * 0.5
    b2 = rng.normal(size=(3,)).astype("float32") * 0.1
    return x, labels, y_reg, sw, [k1, b1, k2, b2]


def model(kind, weights):
    out = 3 if kind != "mse" else 2
    act = "softmax" if kind != "mse" else None
    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(5, activation="relu"),
                          keras.layers.Dense(out, activation=act)])
    w = weights if kind != "mse" else weights[:2] + [weights[2][:, :2], weights[3][:2]]
    m.set_weights(w)
    loss = {"sparse": "sparse_categorical_crossentropy",
            "categorical": "categorical_crossentropy", "mse": "mse"}[kind]
    metrics = ["accuracy"] if kind != "mse" else ["mae"]
    m.compile(keras.optimizers.SGD(0.1), loss, metrics=metrics, weighted_metrics=metrics)
    return m


def weighted():
    x, labels, y_reg, sw, weights = data()
    cases = {}
    targets = {"sparse": labels, "categorical": np.eye(3, dtype="float32")[labels],
               "mse": y_reg}
    for kind in ("sparse", "categorical", "mse"):
        for how in ("class_weight", "sample_weight", "none"):
            if kind == "mse" and how == "class_weight":
                continue
            m = model(kind, weights)
            extra = {"class_weight": {"class_weight": {0: 1.0, 1: 2.5, 2: 0.5}},
                     "sample_weight": {"sample_weight": sw}, "none": {}}[how]
            h = m.fit(x, targets[kind], batch_size=4, epochs=1, shuffle=False, verbose=0,
                      **extra)
            ev = m.evaluate(x, targets[kind], sample_weight=sw, batch_size=4, verbose=0,
                            return_dict=True)
            cases[f"{kind}_{how}"] = {
                "history": {k: [float(v) for v in vs] for k, vs in h.history.items()},
                "weights": [w.tolist() for w in m.get_weights()],
                "evaluate_weighted": {k: float(v) for k, v in ev.items()}}
    return {"x": x.tolist(), "labels": labels.tolist(), "y_reg": y_reg.tolist(),
            "sample_weight": sw.tolist(), "initial_weights": [w.tolist() for w in weights],
            "cases": cases}


def reduce_lr():
    values = [1.0, 0.9, 0.95, 0.9, 0.89995, 0.92, 0.93, 0.94, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95,
              0.97, 0.99]
    scenarios = [
        {"monitor": "val_loss", "factor": 0.5, "patience": 2, "verbose": 1},
        {"monitor": "val_loss", "factor": 0.1, "patience": 1, "cooldown": 2, "min_lr": 0.004,
         "verbose": 1},
        {"monitor": "val_loss", "factor": 0.5, "patience": 1, "min_delta": 0.05},
        {"monitor": "val_acc", "factor": 0.5, "patience": 2, "mode": "max", "verbose": 1},
        {"monitor": "val_loss", "factor": 0.2, "patience": 0, "min_lr": 0.01, "verbose": 1},
    ]
    out = []
    for kw in scenarios:
        m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        m.compile(keras.optimizers.SGD(0.1), "mse")
        cb = keras.callbacks.ReduceLROnPlateau(**kw)
        cb.set_model(m)
        cb.on_train_begin()
        lrs, logs_lr, text = [], [], io.StringIO()
        with contextlib.redirect_stdout(text):
            for epoch, v in enumerate(values):
                logs = {kw["monitor"]: v}
                cb.on_epoch_end(epoch, logs)
                logs_lr.append(logs["learning_rate"])
                lrs.append(float(m.optimizer.learning_rate))
        out.append({"kwargs": kw, "values": values, "lr": lrs, "logged_lr": logs_lr,
                    "printed": text.getvalue()})
    return out


def messages():
    x, labels, y_reg, sw, weights = data()
    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    m.set_weights([weights[0][:, :2], weights[1][:2]])
    m.compile(keras.optimizers.SGD(1e-12), "mse", metrics=["mae"])   # weights stay put
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "ckpt.weights.h5")
        cbs = [keras.callbacks.EarlyStopping(monitor="loss", patience=1, min_delta=1e-6,
                                             verbose=1),
               keras.callbacks.ModelCheckpoint(path, monitor="loss", save_weights_only=True,
                                               verbose=1),
               keras.callbacks.ReduceLROnPlateau(monitor="loss", patience=0, factor=0.5,
                                                 min_lr=0.0, verbose=1)]
        text = io.StringIO()
        with contextlib.redirect_stdout(text):
            m.fit(x, y_reg, batch_size=4, epochs=4, verbose=2, callbacks=cbs,
                  validation_data=(x, y_reg))
        printed = text.getvalue().replace(d, "<DIR>")
    return re.sub(r"\d+s - \d+(ms|us|s)/step", "T", printed)


class Record(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.events = []

    def on_epoch_begin(self, epoch, logs=None):
        self.events.append(["epoch", epoch])

    def on_train_batch_begin(self, batch, logs=None):
        self.events.append(["batch", batch])

    def on_test_batch_end(self, batch, logs=None):
        self.events.append(["test", batch])


def steps():
    import warnings
    x, labels, y_reg, sw, weights = data()

    def forever():
        while True:
            yield x[:4], y_reg[:4]

    def val_forever():
        while True:
            yield x[:3], y_reg[:3], sw[:3]

    scenarios = {
        "arrays_steps_per_epoch": dict(x=x, y=y_reg, batch_size=2, epochs=4,
                                       steps_per_epoch=3),
        "infinite_generator": dict(x=forever(), epochs=3, steps_per_epoch=4, shuffle=False),
        "validation_freq_batch_size": dict(x=x, y=y_reg, batch_size=5, epochs=4,
                                           validation_data=(x, y_reg), validation_freq=2,
                                           validation_batch_size=3),
        "validation_steps_list_freq": dict(x=x, y=y_reg, batch_size=5, epochs=2,
                                           validation_data=(x, y_reg, sw),
                                           validation_steps=1, validation_freq=[2]),
        "validation_generator": dict(x=x, y=y_reg, batch_size=5, epochs=2,
                                     validation_data=val_forever(), validation_steps=2),
        "initial_epoch_no_batch_size": dict(x=x, y=y_reg, epochs=3, initial_epoch=1,
                                            steps_per_epoch=2),
    }
    out = {}
    for name, kw in scenarios.items():
        m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
        m.compile(keras.optimizers.SGD(0.05), "mse")
        rec = Record()
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            h = m.fit(verbose=0, callbacks=[rec], **kw)
        out[name] = {"events": rec.events, "history_keys": sorted(h.history),
                     "epochs": len(h.history["loss"]),
                     "ran_out": sum("ran out of data" in str(i.message) for i in w)}
    return out


class _FakeTTY(io.StringIO):
    def isatty(self):
        return True


def progbar_unknown():
    from keras.src.utils import progbar as kprogbar
    clock = {"now": 0.0}

    class FakeTime:
        @staticmethod
        def time():
            return clock["now"]

    real_time, kprogbar.time = kprogbar.time, FakeTime
    updates = [[0.25, 1, {"loss": 2.5}], [0.375, 2, {"loss": 1.25}],
               [0.5, 3, {"loss": 0.0005}]]
    out = []
    try:
        for verbose in (1, 2):
            clock["now"] = 1000.0
            stream = _FakeTTY()
            with contextlib.redirect_stdout(stream):
                bar = kprogbar.Progbar(None, verbose=verbose, stateless_metrics=set())
                for t, current, logs in updates:
                    clock["now"] = 1000.0 + t
                    bar.update(current, list(logs.items()), finalize=False)
                clock["now"] = 1000.75
                bar.target = 3                       # ProgbarLogger._finalize_progbar
                bar.update(3, list(updates[-1][2].items()), finalize=True)
            out.append({"verbose": verbose, "updates": updates, "output": stream.getvalue()})
    finally:
        kprogbar.time = real_time
    return out


out = {"keras_version": keras.__version__, "weighted": weighted(), "reduce_lr": reduce_lr(),
       "steps": steps(), "progbar_unknown": progbar_unknown(), "messages": messages()}
def short(value):
    """Floats with the 9 significant digits that identify a float32 (a smaller file)."""
    if isinstance(value, float):
        return float(f"{value:.9g}")
    if isinstance(value, list):
        return [short(v) for v in value]
    if isinstance(value, dict):
        return {k: short(v) for k, v in value.items()}
    return value


out["weighted"] = short(out["weighted"])
with open(os.path.join(DATA, "fit_options.json"), "w") as f:
    json.dump(out, f, separators=(",", ":"))
