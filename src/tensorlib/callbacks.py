"""Keras 3 compatible training callbacks.

The model a callback sees needs: ``stop_training`` (bool attribute), ``get_weights()``,
``set_weights(list)``, ``save(path)``, ``save_weights(path)`` and ``optimizer`` (with a
settable ``learning_rate``). ``CallbackList`` forwards every hook to its callbacks, in
order, synchronously.
"""
import collections
import csv
import inspect
import math
import os
import warnings

import numpy as np

from .callback_base import _HOOKS, Callback, _MonitorCallback
from .callbacks_more import BackupAndRestore, LambdaCallback, ReduceLROnPlateau
from .tensorboard import TensorBoard

__all__ = ["Callback", "CallbackList", "History", "EarlyStopping", "ModelCheckpoint",
           "LearningRateScheduler", "CSVLogger", "TerminateOnNaN", "ReduceLROnPlateau",
           "LambdaCallback", "BackupAndRestore", "TensorBoard", "get"]


def _pythonify_logs(logs):
    """Batch-end logs as Keras hands them on: sorted keys, values as Python floats."""
    out = {}
    for key, value in sorted((logs or {}).items()):
        if isinstance(value, dict):
            out.update(_pythonify_logs(value))
            continue
        try:
            value = float(value)
        except (TypeError, ValueError):
            pass
        out[key] = value
    return out


class CallbackList(Callback):
    """Calls each hook on every callback in order. ``params`` may be passed as a dict or
    as keyword arguments (Keras's ``**params``). ``add_history`` appends a ``History``
    (and sets ``model.history``); ``add_progbar`` is accepted for Keras compatibility and
    ignored (there is no ProgbarLogger here: the model prints its own progress)."""

    def __init__(self, callbacks=None, add_history=False, add_progbar=False, model=None,
                 params=None, **kwargs):
        super().__init__()
        self.callbacks = list(_flatten(callbacks)) if callbacks else []
        for cb in self.callbacks:
            if not isinstance(cb, Callback) and not all(hasattr(cb, h) for h in _HOOKS):
                raise ValueError("Every callback must be a Callback instance. Received: "
                                 f"{cb!r}")
        self._history = next((cb for cb in self.callbacks if isinstance(cb, History)), None)
        if self._history is None and add_history:
            self._history = History()
            self.callbacks.append(self._history)
        self.set_model(model)
        self.set_params({**(params or {}), **kwargs})

    def append(self, callback):
        self.callbacks.append(callback)

    def set_params(self, params):
        self.params = params
        if params:
            for cb in self.callbacks:
                cb.set_params(params)

    def set_model(self, model):
        if model is None:
            return
        super().set_model(model)
        if self._history is not None:
            model.history = self._history
        for cb in self.callbacks:
            cb.set_model(model)

    def _call(self, hook, *args):
        for cb in self.callbacks:
            getattr(cb, hook)(*args)

    def __iter__(self):
        return iter(self.callbacks)


def _forwarder(hook):
    """A CallbackList method calling ``hook`` on every callback; train/test batch-end logs
    are handed on as Python floats with sorted keys, as Keras does."""
    pythonify = hook in ("on_batch_end", "on_train_batch_end", "on_test_batch_end")
    if "batch" in hook or "epoch" in hook:
        def forward(self, index, logs=None):
            self._call(hook, index,
                       _pythonify_logs(logs) if pythonify else ({} if logs is None else logs))
    else:
        def forward(self, logs=None):
            self._call(hook, {} if logs is None else logs)
    forward.__name__ = forward.__qualname__ = hook
    return forward


for _hook in _HOOKS + ("on_batch_begin", "on_batch_end"):
    setattr(CallbackList, _hook, _forwarder(_hook))


def _flatten(items):
    if isinstance(items, CallbackList):
        yield from items.callbacks
    elif isinstance(items, (list, tuple)):
        for item in items:
            yield from _flatten(item)
    else:
        yield items


class History(Callback):
    """Records every epoch's logs: ``history[key]`` lists, ``epoch`` the epoch indices."""

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        if self.model is not None:
            self.model.history = self


class EarlyStopping(_MonitorCallback):
    """Stop training (``model.stop_training = True``) once ``monitor`` has not improved for
    ``patience`` epochs; optionally restore the best epoch's weights at the end."""

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__(monitor, mode, None, min_delta)
        self.patience = patience
        self.verbose = verbose
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = start_from_epoch
        self.on_train_begin()

    def on_train_begin(self, logs=None):
        self.wait, self.stopped_epoch, self.best_weights, self.best_epoch = 0, 0, None, 0
        if self.monitor_op is not None:     # re-used instance: start the race afresh
            self.best = np.inf if self.monitor_op is np.less else -np.inf

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        current = self.get_monitor_value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print("Restoring model weights from the end of the best epoch: "
                      f"{self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)

    def get_monitor_value(self, logs):
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is None:
            warnings.warn(f"Early stopping conditioned on metric `{self.monitor}` which is not "
                          f"available. Available metrics are: {','.join(list(logs.keys()))}",
                          stacklevel=2)
        return value


def _call_save(fn, path):
    """``fn(path, overwrite=True)`` when ``fn`` accepts ``overwrite`` (Keras's call)."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        params = {}
    takes = "overwrite" in params or any(p.kind == p.VAR_KEYWORD for p in params.values())
    return fn(path, overwrite=True) if takes else fn(path)


class ModelCheckpoint(_MonitorCallback):
    """Save the model (``model.save``) or its weights (``model.save_weights``) after each
    epoch or every ``save_freq`` batches; ``filepath`` is formatted with
    ``epoch=epoch + 1`` and the logs."""

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch",
                 initial_value_threshold=None):
        super().__init__(monitor, mode, initial_value_threshold)
        self.filepath = os.fspath(filepath)
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        if save_freq != "epoch" and (isinstance(save_freq, bool) or
                                     not isinstance(save_freq, int) or save_freq < 1):
            raise ValueError(f"Unrecognized save_freq: {save_freq}. Expected save_freq are "
                             f"'epoch' or positive integer values. Received: "
                             f"save_freq={save_freq!r}")
        self.save_freq = save_freq
        self._batches_seen_since_last_saving = self._last_batch_seen = self._current_epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self._should_save_on_batch(batch):
            self._save_model(self._current_epoch, batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        if self.save_freq == "epoch":
            self._save_model(epoch, None, logs)

    def _should_save_on_batch(self, batch):
        if self.save_freq == "epoch":
            return False
        # a batch index not above the last one seen means a new epoch started
        self._batches_seen_since_last_saving += \
            batch + 1 if batch <= self._last_batch_seen else batch - self._last_batch_seen
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            return True
        return False

    def _should_save_model(self, epoch, logs, filepath):
        if not self.save_best_only:
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: saving model to {filepath}")
            return True
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(f"Can save best model only with {self.monitor} available.",
                          stacklevel=3)
            return True
        if isinstance(current, np.ndarray) and current.ndim > 0:
            warnings.warn("Can save best model only when `monitor` is a scalar value. "
                          f"Received: {current}. Falling back to `save_best_only=False`.")
            return True
        if self.monitor_op is None:
            self._set_monitor_op()
        best_str = "None" if self.best is None else f"{self.best:.5f}"
        if self._is_improvement(current, self.best):
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {best_str} to "
                      f"{current:.5f}, saving model to {filepath}")
            self.best = current
            return True
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best_str}")
        return False

    def _get_file_path(self, epoch, batch, logs):
        try:
            if batch is None or "batch" in logs:
                return self.filepath.format(epoch=epoch + 1, **logs)
            return self.filepath.format(epoch=epoch + 1, batch=batch + 1, **logs)
        except KeyError as e:
            raise KeyError(f'Failed to format this callback filepath: "{self.filepath}". '
                           f"Reason: {e}. Received: logs keys {sorted(logs)}") from None

    def _save_model(self, epoch, batch, logs):
        logs = logs or {}
        filepath = self._get_file_path(epoch, batch, logs)
        if os.path.isdir(filepath):
            raise IOError("Please specify a non-directory filepath for ModelCheckpoint. "
                          f"Filepath used is an existing directory. Received: {filepath}")
        if not self._should_save_model(epoch, logs, filepath):
            return
        dirname = os.path.dirname(filepath)
        if dirname:
            os.makedirs(dirname, exist_ok=True)
        _call_save(self.model.save_weights if self.save_weights_only else self.model.save,
                   filepath)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: finished saving model to {filepath}")


# ---------------------------------------------------------------- others
class LearningRateScheduler(Callback):
    """At each epoch start sets ``model.optimizer.learning_rate = schedule(epoch, lr)``
    (``schedule(epoch)`` for one-argument schedules); logs ``learning_rate`` at epoch end."""

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise ValueError("`schedule` must be a callable taking (epoch, lr). Received: "
                             f"schedule={schedule!r}")
        self.schedule = schedule
        self.verbose = verbose

    def _takes_lr(self):
        try:
            params = list(inspect.signature(self.schedule).parameters.values())
        except (TypeError, ValueError):
            return True
        positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY,
                                                      p.POSITIONAL_OR_KEYWORD)]
        return len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in params)

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is None or not hasattr(optimizer, "learning_rate"):
            raise ValueError('Optimizer must have a "learning_rate" attribute. Received: '
                             f"optimizer={optimizer!r}")
        lr = float(np.asarray(optimizer.learning_rate))
        lr = self.schedule(epoch, lr) if self._takes_lr() else self.schedule(epoch)
        if isinstance(lr, np.ndarray) and lr.ndim == 0:
            lr = lr[()]
        if not isinstance(lr, (float, np.floating)):
            raise ValueError("The output of the `schedule` function should be a float. "
                             f"Received: {lr!r}")
        optimizer.learning_rate = float(lr)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to "
                  f"{float(lr)}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(np.asarray(self.model.optimizer.learning_rate))


def _csv_value(v):
    """Strings and scalars as they are; 1-D iterables as a quoted "[a, b]" list."""
    if isinstance(v, str) or not isinstance(v, collections.abc.Iterable) or \
            (isinstance(v, np.ndarray) and v.ndim == 0):
        return v
    return f'"[{", ".join(map(str, v))}]"'


class CSVLogger(Callback):
    """Streams epoch logs to a CSV file: header ``epoch,<sorted keys>``, one row per epoch,
    flushed after every row."""

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.sep, self.filename, self.append = separator, os.fspath(filename), append
        self.writer = self.keys = self.csv_file = None
        self.append_header = True

    def on_train_begin(self, logs=None):
        if self.append and os.path.exists(self.filename):
            with open(self.filename, "r", newline="") as f:
                self.append_header = not f.readline()
        self.on_train_end()
        self.csv_file = open(self.filename, "a" if self.append else "w", newline="")
        self.writer = None
        self.keys = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.csv_file is None or self.csv_file.closed:
            self.on_train_begin()

        if self.keys is None:
            self.keys = sorted(logs.keys())
        if self.writer is None:
            class _Dialect(csv.excel):
                delimiter = self.sep

            self.writer = csv.DictWriter(self.csv_file, fieldnames=["epoch"] + self.keys,
                                         dialect=_Dialect)
            if self.append_header:
                self.writer.writeheader()
        row = {"epoch": epoch}
        row.update((key, _csv_value(logs.get(key, "NA"))) for key in self.keys)
        self.writer.writerow(row)
        self.csv_file.flush()

    def on_train_end(self, logs=None):
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.writer = None


class TerminateOnNaN(Callback):
    """Sets ``model.stop_training`` when a train batch reports a NaN or infinite loss
    (or raises ``RuntimeError`` with ``raise_error=True``)."""

    def __init__(self, raise_error=False):
        super().__init__()
        self.raise_error = raise_error

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(np.asarray(loss))):
            if self.raise_error:
                raise RuntimeError(f"NaN or Inf loss encountered at batch {batch}. Loss value: "
                                   f"{loss}. Terminating training immediately.")
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True


ALL_OBJECTS = (Callback, CallbackList, History, EarlyStopping, ModelCheckpoint,
               LearningRateScheduler, CSVLogger, TerminateOnNaN, ReduceLROnPlateau,
               LambdaCallback)
ALL_OBJECTS_DICT = {cls.__name__.lower(): cls for cls in ALL_OBJECTS}


def get(identifier):
    """A callback instance from an instance (returned as is), a class, or the name of a
    callback that needs no arguments ("History", "TerminateOnNaN", "EarlyStopping")."""
    if isinstance(identifier, Callback):
        return identifier
    cls = ALL_OBJECTS_DICT.get(identifier.lower()) if isinstance(identifier, str) else \
        identifier if inspect.isclass(identifier) and issubclass(identifier, Callback) else None
    if cls is not None and cls not in (ModelCheckpoint, LearningRateScheduler, CSVLogger,
                                       BackupAndRestore, TensorBoard):
        return cls()
    raise ValueError(f"Could not interpret callback identifier: {identifier!r}")

