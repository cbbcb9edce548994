"""ReduceLROnPlateau (its schedule and messages against Keras, tests/make_fit_fixtures.py),
LambdaCallback, and BackupAndRestore (an interrupted fit resumed from the backup ends
with the weights of an uninterrupted one)."""
import contextlib
import io
import json
import os

import numpy as np
import pytest

import tensorlib as keras

DATA = os.path.join(os.path.dirname(__file__), "data")
with open(os.path.join(DATA, "fit_options.json"), encoding="utf-8") as _f:
    FIX = json.load(_f)


# ---------------------------------------------------------------- ReduceLROnPlateau
@pytest.mark.parametrize("index", range(len(FIX["reduce_lr"])))
def test_reduce_lr_on_plateau_follows_keras_schedule_and_messages(index):
    case = FIX["reduce_lr"][index]
    m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    m.compile(keras.optimizers.SGD(0.1), "mse")
    cb = keras.callbacks.ReduceLROnPlateau(**case["kwargs"])
    cb.set_model(m)
    cb.on_train_begin()
    lrs, logged, text = [], [], io.StringIO()
    with contextlib.redirect_stdout(text):
        for epoch, value in enumerate(case["values"]):
            logs = {case["kwargs"]["monitor"]: value}
            cb.on_epoch_end(epoch, logs)
            logged.append(logs["learning_rate"])
            lrs.append(float(np.float32(m.optimizer.learning_rate)))
    assert lrs == case["lr"]
    assert logged == case["logged_lr"]
    assert text.getvalue() == case["printed"]


def test_reduce_lr_on_plateau_in_fit_logs_the_rate_and_lowers_it():
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    m.compile(keras.optimizers.SGD(0.2), "mse")
    x = np.ones((8, 2), np.float32)
    # mode "max" on a falling loss: no epoch after the first improves
    cb = keras.callbacks.ReduceLROnPlateau(monitor="loss", mode="max", factor=0.5,
                                           patience=1)
    h = m.fit(x, x[:, :1] * 3, epochs=4, verbose=0, callbacks=[cb])
    assert np.all(np.diff(h.history["loss"]) < 0)
    lr = float(np.float32(0.2))
    assert h.history["learning_rate"] == [lr, lr, lr * 0.5,
                                          float(np.float32(lr * 0.5)) * 0.5]
    assert m.optimizer.learning_rate == pytest.approx(0.025)


def test_reduce_lr_on_plateau_bad_arguments():
    with pytest.raises(ValueError, match="does not support a factor >= 1.0. Received "
                                         "factor=1.5"):
        keras.callbacks.ReduceLROnPlateau(factor=1.5)
    m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    m.compile("sgd", "mse")
    cb = keras.callbacks.ReduceLROnPlateau(monitor="val_acc", mode="max")
    cb.set_model(m)
    with pytest.warns(UserWarning, match="`val_acc` which is not available. Available "
                                         "metrics are: loss,learning_rate."):
        cb.on_epoch_end(0, {"loss": 1.0})


# ---------------------------------------------------------------- LambdaCallback
def test_lambda_callback_calls_the_given_functions():
    calls = []
    cb = keras.callbacks.LambdaCallback(
        on_train_begin=lambda logs: calls.append("train_begin"),
        on_epoch_begin=lambda epoch, logs: calls.append(("epoch_begin", epoch)),
        on_train_batch_end=lambda batch, logs: calls.append(("batch_end", batch,
                                                             sorted(logs))),
        on_epoch_end=lambda epoch, logs: calls.append(("epoch_end", epoch, sorted(logs))),
        on_train_end=lambda logs: calls.append("train_end"),
        on_test_end=lambda logs: calls.append(("test_end", sorted(logs))))
    m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    m.compile("sgd", "mse")
    x = np.ones((4, 2), np.float32)
    m.fit(x, x[:, :1], batch_size=2, epochs=2, verbose=0, callbacks=[cb],
          validation_data=(x, x[:, :1]))
    epoch = [("batch_end", 0, ["loss"]), ("batch_end", 1, ["loss"]),
             ("test_end", ["loss"])]
    assert calls == ["train_begin", ("epoch_begin", 0), *epoch,
                     ("epoch_end", 0, ["loss", "val_loss"]), ("epoch_begin", 1), *epoch,
                     ("epoch_end", 1, ["loss", "val_loss"]), "train_end"]
    with pytest.raises(TypeError, match="Received: on_epoch_end=3"):
        keras.callbacks.LambdaCallback(on_epoch_end=3)


# ---------------------------------------------------------------- BackupAndRestore
class Interrupt(keras.callbacks.Callback):
    def __init__(self, epoch, batch=None):
        super().__init__()
        self.epoch, self.batch, self.current = epoch, batch, None

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.batch is not None and self.current == self.epoch and batch == self.batch:
            raise RuntimeError("interrupted")

    def on_epoch_end(self, epoch, logs=None):
        if self.batch is None and epoch == self.epoch:
            raise RuntimeError("interrupted")


def _model():
    keras.utils.set_random_seed(5)
    m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="relu"),
                          keras.layers.Dropout(0.2), keras.layers.Dense(1)])
    m.compile(keras.optimizers.Adam(0.01), "mse")
    return m


def _data():
    rng = np.random.default_rng(1)
    return rng.normal(size=(40, 3)).astype(np.float32), rng.normal(size=(40, 1))


@pytest.mark.parametrize("interrupt", [dict(epoch=2), dict(epoch=3, batch=1)])
def test_backup_and_restore_resumes_to_the_uninterrupted_result(tmp_path, interrupt):
    x, y = _data()
    ref = _model()
    href = ref.fit(x, y, batch_size=8, epochs=5, verbose=0)
    want = ref.get_weights()

    m = _model()
    backup = keras.callbacks.BackupAndRestore(tmp_path / "backup")
    with pytest.raises(RuntimeError, match="interrupted"):
        m.fit(x, y, batch_size=8, epochs=5, verbose=0,
              callbacks=[backup, Interrupt(**interrupt)])
    assert os.path.exists(tmp_path / "backup" / "latest.backup.npz")
    keras.utils.set_random_seed(99)           # the backup restores the generator too
    resumed = _model()
    seen = []
    h = resumed.fit(x, y, batch_size=8, epochs=5, verbose=0, callbacks=[
        keras.callbacks.BackupAndRestore(tmp_path / "backup"),
        keras.callbacks.LambdaCallback(on_epoch_begin=lambda e, logs: seen.append(e))])
    done = interrupt["epoch"] + (1 if "batch" not in interrupt else 0)
    assert seen == list(range(done, 5))
    for a, b in zip(resumed.get_weights(), want):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(h.history["loss"], href.history["loss"][done:])
    assert resumed.optimizer.iterations == ref.optimizer.iterations
    assert not os.path.exists(tmp_path / "backup")         # delete_checkpoint=True


def test_backup_every_n_batches_and_kept_when_asked(tmp_path):
    x, y = _data()
    m = _model()
    cb = keras.callbacks.BackupAndRestore(tmp_path / "b", save_freq=3,
                                          delete_checkpoint=False)
    m.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[cb])
    with np.load(tmp_path / "b" / "latest.backup.npz") as f:
        meta = json.loads(bytes(f["__meta__"]).decode())
    assert meta["batch"] == 2 and meta["epoch"] == 0        # 5 batches: saved after 3


def test_backup_and_restore_bad_arguments():
    with pytest.raises(ValueError, match="Empty `backup_dir` argument passed"):
        keras.callbacks.BackupAndRestore("")
    with pytest.raises(ValueError, match="Received: save_freq=often"):
        keras.callbacks.BackupAndRestore("d", save_freq="often")


def test_a_backup_of_another_model_is_refused_and_changes_nothing(tmp_path):
    x, y = _data()
    other = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2), keras.layers.Dense(1)])
    other.compile("adam", "mse")
    keep = keras.callbacks.BackupAndRestore(tmp_path / "b", delete_checkpoint=False)
    other.fit(x, y, epochs=1, verbose=0, callbacks=[keep])
    m = _model()
    before = m.get_weights()
    with pytest.raises(ValueError, match="BackupAndRestore: cannot resume from"):
        m.fit(x, y, epochs=1, verbose=0,
              callbacks=[keras.callbacks.BackupAndRestore(tmp_path / "b")])
    for a, b in zip(before, m.get_weights()):
        np.testing.assert_array_equal(a, b)
