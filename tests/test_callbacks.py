"""Callbacks driven through CallbackList with a small fake model (the attributes the real
model exposes), writing real files for CSVLogger and ModelCheckpoint."""
import json
import math
import os
import warnings

import numpy as np
import pytest

from tensorlib import callbacks as cb
from tensorlib import optimizers


class FakeOptimizer:
    def __init__(self, lr=0.1):
        self.learning_rate = lr


class FakeModel:
    def __init__(self):
        self.stop_training = False
        self.weights = [np.zeros((2, 2)), np.zeros(2)]
        self.optimizer = FakeOptimizer()
        self.saved = []

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        self.weights = [np.array(w, copy=True) for w in weights]

    def _write(self, path, kind):
        with open(path, "w") as f:
            json.dump({"kind": kind, "w": float(self.weights[1][0])}, f)
        self.saved.append((kind, path))

    def save_weights(self, path):
        self._write(path, "weights")

    def save(self, path):
        self._write(path, "model")


class Recorder(cb.Callback):
    def __init__(self, log):
        super().__init__()
        self.log = log

    def __getattribute__(self, name):
        attr = object.__getattribute__(self, name)
        if name.startswith("on_") and callable(attr):
            def wrapped(*args, **kwargs):
                self.log.append((id(self), name, args))
                return attr(*args, **kwargs)
            return wrapped
        return attr


def _fit(callbacks, model, val_losses, train_logs=None, batches=2):
    """A fit-like driver: epoch per entry of ``val_losses``; weights track the epoch."""
    cbl = cb.CallbackList(callbacks, model=model, epochs=len(val_losses), verbose=0)
    cbl.on_train_begin()
    logs = {}
    for epoch, val in enumerate(val_losses):
        cbl.on_epoch_begin(epoch)
        for b in range(batches):
            cbl.on_train_batch_begin(b)
            cbl.on_train_batch_end(b, {"loss": np.float32(1.0 / (epoch + 1))})
        model.weights[1][:] = epoch                # "training" changes the weights
        logs = {"loss": 1.0 / (epoch + 1), "val_loss": val}
        logs.update((train_logs or {}).get(epoch, {}))
        cbl.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    cbl.on_train_end(logs)
    return cbl


# ---------------------------------------------------------------- CallbackList
def test_callback_list_forwards_every_hook_in_order():
    log = []
    a, b = Recorder(log), Recorder(log)
    model = FakeModel()
    cbl = cb.CallbackList([a, b], model=model, params={"epochs": 3})
    assert a.model is model and b.model is model and a.params == {"epochs": 3}
    hooks = [("on_train_begin", ()), ("on_epoch_begin", (0,)), ("on_train_batch_begin", (0,)),
             ("on_train_batch_end", (0,)), ("on_epoch_end", (0,)), ("on_test_begin", ()),
             ("on_test_batch_begin", (0,)), ("on_test_batch_end", (0,)), ("on_test_end", ()),
             ("on_predict_begin", ()), ("on_predict_batch_begin", (1,)),
             ("on_predict_batch_end", (1,)), ("on_predict_end", ()), ("on_train_end", ())]
    for hook, args in hooks:
        getattr(cbl, hook)(*args)
    seen = [(who, name) for who, name, _ in log if not name.startswith("on_batch")]
    expected = [(id(x), h) for h, _ in hooks for x in (a, b)]
    assert seen == expected
    # the base class's on_train_batch_* call the on_batch_* aliases
    assert sum(1 for _, n, _ in log if n == "on_batch_end") == 2


def test_callback_list_params_as_keywords_and_logs_made_python():
    got = {}

    class Grab(cb.Callback):
        def on_train_batch_end(self, batch, logs=None):
            got.update(logs)

    c = Grab()
    cbl = cb.CallbackList([c], model=FakeModel(), epochs=2, steps=5)
    assert c.params == {"epochs": 2, "steps": 5}
    cbl.on_train_batch_end(0, {"loss": np.float32(0.5), "acc": np.array(0.25)})
    assert got == {"acc": 0.25, "loss": 0.5} and type(got["loss"]) is float


def test_history_records_logs():
    model = FakeModel()
    h = cb.History()
    _fit([h], model, [0.5, 0.4, 0.3])
    assert h.epoch == [0, 1, 2]
    assert h.history["val_loss"] == [0.5, 0.4, 0.3]
    assert h.history["loss"] == pytest.approx([1.0, 0.5, 1 / 3])
    assert model.history is h and h.model is model


def test_callback_list_adds_history():
    model = FakeModel()
    cbl = cb.CallbackList([], add_history=True, model=model)
    assert isinstance(cbl.callbacks[-1], cb.History) and model.history is cbl.callbacks[-1]


# ---------------------------------------------------------------- EarlyStopping
def test_early_stopping_patience():
    model = FakeModel()
    es = cb.EarlyStopping(monitor="val_loss", patience=2)
    h = cb.History()
    _fit([es, h], model, [1.0, 0.9, 0.95, 0.97, 0.5, 0.4])
    # best at epoch 1; epochs 2 and 3 do not improve -> wait reaches 2 at epoch 3
    assert model.stop_training is True
    assert es.stopped_epoch == 3 and h.epoch == [0, 1, 2, 3]
    assert es.best == 0.9 and es.best_epoch == 1


def test_early_stopping_patience_zero_stops_at_first_non_improvement():
    model = FakeModel()
    es = cb.EarlyStopping(patience=0)
    _fit([es], model, [1.0, 0.8, 0.8, 0.1])
    assert es.stopped_epoch == 2       # equal is not an improvement


def test_early_stopping_restores_best_weights(capsys):
    model = FakeModel()
    es = cb.EarlyStopping(patience=1, restore_best_weights=True, verbose=1)
    _fit([es], model, [1.0, 0.3, 0.6, 0.7])
    assert es.stopped_epoch == 2
    np.testing.assert_array_equal(model.weights[1], [1.0, 1.0])   # weights of epoch 1
    out = capsys.readouterr().out
    assert "Epoch 3: early stopping" in out
    assert "Restoring model weights from the end of the best epoch: 2." in out


def test_early_stopping_min_delta_and_max_mode():
    model = FakeModel()
    es = cb.EarlyStopping(monitor="val_accuracy", min_delta=0.05, patience=2, mode="auto")
    logs = {0: {"val_accuracy": 0.5}, 1: {"val_accuracy": 0.53}, 2: {"val_accuracy": 0.6},
            3: {"val_accuracy": 0.62}, 4: {"val_accuracy": 0.64}, 5: {"val_accuracy": 0.9}}
    _fit([es], model, [1.0] * 6, train_logs=logs)
    # 0.53 is not > 0.5 + 0.05 (wait 1); 0.6 is (wait 0); 0.62, 0.64 are not -> stop at 4
    assert es.monitor_op is np.greater and es.stopped_epoch == 4 and es.best == 0.6


def test_early_stopping_min_delta_in_min_mode():
    model = FakeModel()
    es = cb.EarlyStopping(min_delta=0.1, patience=1)
    _fit([es], model, [1.0, 0.95, 0.92, 0.5])
    # 0.95 is not below 1.0 - 0.1 -> wait reaches 1 at epoch 1 -> stop, best still 1.0
    assert es.stopped_epoch == 1 and es.best == 1.0
    es = cb.EarlyStopping(patience=1)
    _fit([es], FakeModel(), [1.0, 0.95, 0.92, 0.5])
    assert es.stopped_epoch == 0 and es.best == 0.5


def test_early_stopping_baseline_and_start_from_epoch():
    model = FakeModel()
    # improvements that do not beat the baseline do not reset the wait
    es = cb.EarlyStopping(patience=2, baseline=0.5)
    _fit([es], model, [0.9, 0.8, 0.85, 0.7])
    assert es.stopped_epoch == 2
    es = cb.EarlyStopping(patience=2)
    _fit([es], FakeModel(), [0.9, 0.8, 0.85, 0.7])
    assert es.stopped_epoch == 0
    model = FakeModel()
    es = cb.EarlyStopping(patience=0, start_from_epoch=2)
    _fit([es], model, [0.1, 0.5, 0.9, 0.95, 0.2])
    assert es.stopped_epoch == 3       # epochs 0 and 1 are ignored


def test_early_stopping_missing_monitor_warns_and_unknown_direction_raises():
    model = FakeModel()
    es = cb.EarlyStopping(monitor="val_loss")
    es.set_model(model)
    with pytest.warns(UserWarning, match="Early stopping conditioned on metric `val_loss` "
                                         "which is not available. Available metrics are: "
                                         "loss"):
        es.on_epoch_end(0, {"loss": 1.0})
    es = cb.EarlyStopping(monitor="val_f1")
    es.set_model(model)
    with pytest.raises(ValueError, match="Received: monitor='val_f1'"):
        es.on_epoch_end(0, {"val_f1": 0.3})


def test_early_stopping_reads_metric_direction_from_model_metrics():
    class Custom:
        name = "score"
        _direction = "up"
    model = FakeModel()
    model.metrics = [Custom()]
    es = cb.EarlyStopping(monitor="val_score")
    es.set_model(model)
    es.on_epoch_end(0, {"val_score": 1.0})
    assert es.monitor_op is np.greater


# ---------------------------------------------------------------- ModelCheckpoint
def test_model_checkpoint_every_epoch_writes_real_files(tmp_path):
    model = FakeModel()
    path = str(tmp_path / "ckpt" / "w-{epoch:02d}-{val_loss:.2f}.weights.h5")
    mc = cb.ModelCheckpoint(path, save_weights_only=True)
    _fit([mc], model, [0.5, 0.25, 0.75])
    names = sorted(os.listdir(tmp_path / "ckpt"))
    assert names == ["w-01-0.50.weights.h5", "w-02-0.25.weights.h5", "w-03-0.75.weights.h5"]
    with open(tmp_path / "ckpt" / "w-02-0.25.weights.h5") as f:
        assert json.load(f) == {"kind": "weights", "w": 1.0}


def test_model_checkpoint_save_best_only(tmp_path, capsys):
    model = FakeModel()
    mc = cb.ModelCheckpoint(str(tmp_path / "best.keras"), save_best_only=True, verbose=1)
    _fit([mc], model, [0.5, 0.7, 0.2, 0.3])
    assert [k for k, _ in model.saved] == ["model", "model"]     # epochs 1 and 3 only
    with open(tmp_path / "best.keras") as f:
        assert json.load(f)["w"] == 2.0
    out = capsys.readouterr().out
    assert "Epoch 3: val_loss improved from 0.50000 to 0.20000" in out
    assert "Epoch 2: val_loss did not improve from 0.50000" in out


def test_model_checkpoint_initial_value_threshold_and_max_mode(tmp_path):
    model = FakeModel()
    mc = cb.ModelCheckpoint(str(tmp_path / "m-{epoch}.keras"), monitor="acc",
                            save_best_only=True, mode="max", initial_value_threshold=0.6)
    logs = {0: {"acc": 0.5}, 1: {"acc": 0.7}, 2: {"acc": 0.65}}
    _fit([mc], model, [1.0, 1.0, 1.0], train_logs=logs)
    assert os.listdir(tmp_path) == ["m-2.keras"]


def test_model_checkpoint_batch_frequency(tmp_path):
    model = FakeModel()
    mc = cb.ModelCheckpoint(str(tmp_path / "e{epoch}-b{batch}.weights.h5"),
                            save_weights_only=True, save_freq=3)
    _fit([mc], model, [1.0, 1.0], batches=4)
    # batches seen: 1..4 in epoch 1, 5..8 in epoch 2 -> saves after the 3rd and 6th
    assert sorted(os.listdir(tmp_path)) == ["e1-b3.weights.h5", "e2-b2.weights.h5"]


def test_model_checkpoint_counts_skipped_batches(tmp_path):
    # with steps_per_execution=2 the hook sees batches 1, 3, 5: Keras counts 1 + 2 + 2
    model = FakeModel()
    mc = cb.ModelCheckpoint(str(tmp_path / "b{batch}.keras"), save_freq=4)
    mc.set_model(model)
    mc.on_epoch_begin(0)
    for batch in (1, 3, 5):
        mc.on_train_batch_end(batch, {"loss": 0.1})
    assert os.listdir(tmp_path) == ["b6.keras"]


def test_model_checkpoint_errors(tmp_path):
    with pytest.raises(ValueError, match="Received: save_freq='batch'"):
        cb.ModelCheckpoint(str(tmp_path / "x.keras"), save_freq="batch")
    mc = cb.ModelCheckpoint(str(tmp_path / "{missing}.keras"))
    mc.set_model(FakeModel())
    with pytest.raises(KeyError, match="Failed to format this callback filepath"):
        mc.on_epoch_end(0, {"val_loss": 1.0})


# ---------------------------------------------------------------- LearningRateScheduler
def test_learning_rate_scheduler_sets_optimizer_lr(capsys):
    model = FakeModel()
    seen = []

    def schedule(epoch, lr):
        seen.append((epoch, lr))
        return lr * 0.5 if epoch > 0 else lr

    h = cb.History()
    _fit([cb.LearningRateScheduler(schedule, verbose=1), h], model, [1.0, 1.0, 1.0])
    assert seen == [(0, 0.1), (1, 0.1), (2, 0.05)]
    assert model.optimizer.learning_rate == pytest.approx(0.025)
    assert h.history["learning_rate"] == pytest.approx([0.1, 0.05, 0.025])
    assert "Epoch 2: LearningRateScheduler setting learning rate to 0.05." in \
        capsys.readouterr().out


def test_learning_rate_scheduler_with_real_optimizer_and_one_arg_schedule():
    model = FakeModel()
    model.optimizer = optimizers.Adam()
    _fit([cb.LearningRateScheduler(lambda epoch: 0.01 / (epoch + 1))], model, [1.0, 1.0])
    assert model.optimizer.learning_rate == pytest.approx(0.005)


def test_learning_rate_scheduler_rejects_non_float():
    model = FakeModel()
    sched = cb.LearningRateScheduler(lambda epoch, lr: 1)
    sched.set_model(model)
    with pytest.raises(ValueError, match="should be a float. Received: 1"):
        sched.on_epoch_begin(0)
    assert model.optimizer.learning_rate == 0.1


# ---------------------------------------------------------------- CSVLogger
def test_csv_logger_writes_and_flushes_each_epoch(tmp_path):
    model = FakeModel()
    path = tmp_path / "log.csv"
    logger = cb.CSVLogger(str(path))
    cbl = cb.CallbackList([logger], model=model)
    cbl.on_train_begin()
    cbl.on_epoch_end(0, {"val_loss": 0.5, "loss": 1.0, "acc": 0.25})
    assert path.read_bytes() == b"epoch,acc,loss,val_loss\r\n0,0.25,1.0,0.5\r\n"  # flushed
    cbl.on_epoch_end(1, {"val_loss": 0.4, "loss": 0.75, "acc": 0.5})
    cbl.on_train_end()
    assert path.read_text().splitlines() == ["epoch,acc,loss,val_loss", "0,0.25,1.0,0.5",
                                             "1,0.5,0.75,0.4"]


def test_csv_logger_append_and_separator(tmp_path):
    path = tmp_path / "log.tsv"
    for _ in range(2):
        logger = cb.CSVLogger(str(path), separator="\t", append=True)
        _fit([logger], FakeModel(), [0.5, 0.25])
        assert logger.csv_file.closed
    lines = path.read_text().splitlines()
    assert lines[0] == "epoch\tloss\tval_loss"
    assert len(lines) == 5 and lines.count(lines[0]) == 1
    assert lines[2] == "1\t0.5\t0.25"


def test_csv_logger_overwrites_without_append(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("old contents\n")
    _fit([cb.CSVLogger(str(path))], FakeModel(), [0.5])
    assert path.read_text().splitlines() == ["epoch,loss,val_loss", "0,1.0,0.5"]


# ---------------------------------------------------------------- TerminateOnNaN
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), np.float32("-inf")])
def test_terminate_on_nan(bad, capsys):
    model = FakeModel()
    cbl = cb.CallbackList([cb.TerminateOnNaN()], model=model)
    cbl.on_train_batch_end(0, {"loss": 0.3})
    assert model.stop_training is False
    cbl.on_train_batch_end(7, {"loss": bad})
    assert model.stop_training is True
    assert "Batch 7: Invalid loss, terminating training" in capsys.readouterr().out


def test_terminate_on_nan_raise_error():
    t = cb.TerminateOnNaN(raise_error=True)
    t.set_model(FakeModel())
    with pytest.raises(RuntimeError, match="NaN or Inf loss encountered at batch 2"):
        t.on_train_batch_end(2, {"loss": math.nan})


def test_callbacks_get():
    h = cb.History()
    assert cb.get(h) is h
    assert type(cb.get("TerminateOnNaN")) is cb.TerminateOnNaN
    assert type(cb.get(cb.History)) is cb.History
    with pytest.raises(ValueError, match="Could not interpret callback identifier: 'csvlogger'"):
        cb.get("csvlogger")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cb.EarlyStopping(mode="min")
    with pytest.warns(UserWarning, match="mode 'down' is unknown"):
        cb.EarlyStopping(mode="down")


def test_early_stopping_mode_auto_reads_a_real_models_metric_objects():
    """A metric the name rules do not know ('hits') gets its direction from the compiled
    metric object, which Model.metrics exposes once the first fit resolved it."""
    import tensorlib as tl
    rng = np.random.default_rng(0)
    model = tl.Sequential([tl.Input((4,)), tl.layers.Dense(3, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy",
                  metrics=[tl.metrics.SparseCategoricalAccuracy(name="hits")])
    assert model.metrics == []
    x, y = rng.normal(size=(16, 4)).astype("f4"), rng.integers(0, 3, 16)
    es = cb.EarlyStopping(monitor="val_hits", patience=5)
    model.fit(x, y, validation_data=(x, y), epochs=1, verbose=0, callbacks=[es])
    assert [m.name for m in model.metrics] == ["hits"]
    assert es.monitor_op is np.greater
