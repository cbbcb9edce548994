"""More Keras 3 callbacks: ``ReduceLROnPlateau``, ``LambdaCallback`` and
``BackupAndRestore`` (re-exported by ``tensorlib.callbacks``).

``BackupAndRestore`` writes tensorlib's own npz format: one archive with the model's
weights, the optimizer's variables (iterations, learning rate, slots) and a JSON record
of the epoch reached and of tensorlib's random generator, so that a resumed ``fit``
continues as the interrupted one would have, shuffles included.
"""
import json
import os
import shutil
import warnings

import numpy as np

from .callback_base import Callback, _MonitorCallback
from .random import get_generator

__all__ = ["ReduceLROnPlateau", "LambdaCallback", "BackupAndRestore"]


class ReduceLROnPlateau(_MonitorCallback):
    """Multiply the optimizer's learning rate by ``factor`` once ``monitor`` has not
    improved by ``min_delta`` for ``patience`` epochs, then wait ``cooldown`` epochs; never
    below ``min_lr``. Logs ``learning_rate`` at each epoch end."""

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0, **kwargs):
        super().__init__(monitor, mode, min_delta=min_delta)
        if factor >= 1.0:
            raise ValueError("ReduceLROnPlateau does not support a factor >= 1.0. Received "
                             f"factor={factor}")
        self.factor, self.min_lr, self.patience = factor, min_lr, patience
        self.verbose, self.cooldown = verbose, cooldown
        self.cooldown_counter = self.wait = 0

    def on_train_begin(self, logs=None):
        self.best, self.cooldown_counter, self.wait = None, 0, 0

    def in_cooldown(self):
        return self.cooldown_counter > 0

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
            self.best = None             # Keras: the first value is the first best
        logs = logs if logs is not None else {}
        optimizer = self.model.optimizer
        logs["learning_rate"] = _lr(optimizer)
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn("Learning rate reduction is conditioned on metric "
                          f"`{self.monitor}` which is not available. Available metrics are: "
                          f"{','.join(list(logs.keys()))}.", stacklevel=2)
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best, self.wait = current, 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience and self._reduce(optimizer, epoch):
                self.cooldown_counter, self.wait = self.cooldown, 0

    def _reduce(self, optimizer, epoch):
        old_lr = _lr(optimizer)
        if not old_lr > np.float32(self.min_lr):
            return False
        new_lr = max(old_lr * self.factor, self.min_lr)
        optimizer.learning_rate = new_lr
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to "
                  f"{new_lr}.")
        return True


def _lr(optimizer):
    """The learning rate as Keras reads it: from a float32 variable."""
    return float(np.float32(np.asarray(optimizer.learning_rate)))


class LambdaCallback(Callback):
    """A callback made of functions: ``on_epoch_begin(epoch, logs)``,
    ``on_epoch_end(epoch, logs)``, ``on_train_begin(logs)``, ``on_train_end(logs)``,
    ``on_train_batch_begin(batch, logs)``, ``on_train_batch_end(batch, logs)``; other
    hooks may be given as keyword arguments."""

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None,
                 on_train_end=None, on_train_batch_begin=None, on_train_batch_end=None,
                 **kwargs):
        super().__init__()
        self.__dict__.update(kwargs)
        given = {"on_epoch_begin": on_epoch_begin, "on_epoch_end": on_epoch_end,
                 "on_train_begin": on_train_begin, "on_train_end": on_train_end,
                 "on_train_batch_begin": on_train_batch_begin,
                 "on_train_batch_end": on_train_batch_end}
        for hook, fn in given.items():
            if fn is not None:
                if not callable(fn):
                    raise TypeError(f"LambdaCallback: `{hook}` must be callable. Received: "
                                    f"{hook}={fn!r}")
                setattr(self, hook, fn)


class BackupAndRestore(Callback):
    """Back up the training state to ``backup_dir`` at each epoch end (or every
    ``save_freq`` batches); a ``fit`` started with a backup present resumes from it: the
    weights, the optimizer state, the epoch (and the random generator). The backup is
    deleted when training finishes (``delete_checkpoint=True``)."""

    def __init__(self, backup_dir, save_freq="epoch", double_checkpoint=False,
                 delete_checkpoint=True):
        super().__init__()
        if not backup_dir:
            raise ValueError("Empty `backup_dir` argument passed")
        if save_freq != "epoch" and (isinstance(save_freq, bool) or
                                     not isinstance(save_freq, int) or save_freq < 1):
            raise ValueError("Invalid value for argument `save_freq`. Received: "
                             f"save_freq={save_freq}. Expected either 'epoch' or an integer "
                             "value.")
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq, self.double_checkpoint = save_freq, double_checkpoint
        self.delete_checkpoint = delete_checkpoint
        self._path = os.path.join(self.backup_dir, "latest.backup.npz")
        self._prev_path = self._path + ".bkp"
        self._batches_seen_since_last_saving = self._last_batch_seen = 0
        self._current_epoch = 0

    def on_train_begin(self, logs=None):
        if not self.model.built:
            raise ValueError("To use the BackupAndRestore callback, you model must be built "
                             f"before you call `fit()`. Model {self.model.name} is unbuilt. "
                             "You can build it beforehand by calling it on a batch of data.")
        for path in (self._path, self._prev_path):
            if os.path.exists(path):
                try:
                    return self._load(path)
                except (OSError, ValueError, KeyError) as e:
                    if path == self._prev_path or not os.path.exists(self._prev_path):
                        raise ValueError(f"BackupAndRestore: cannot resume from {path} "
                                         f"({e}). Received: backup_dir={self.backup_dir!r}"
                                         ) from None

    def _load(self, path):
        model, opt = self.model, self.model.optimizer
        with np.load(path, allow_pickle=False) as f:
            meta = json.loads(bytes(f["__meta__"]).decode())
            weights = [f[f"weight_{i:04d}"] for i in range(meta["weights"])]
            opt_vars = [f[f"optimizer_{i:04d}"] for i in range(meta["optimizer"])]
        own = model.weights       # as saved: non-finite values too (a diverged run)
        if len(weights) != len(own) or any(a.shape != w.data.shape or a.dtype != w.data.dtype
                                           for a, w in zip(weights, own)):
            raise ValueError(f"the backup's {len(weights)} weights do not fit the model's "
                             f"{len(own)}")
        if opt is not None and opt_vars:
            opt.build(model.trainable_weights)
            current = opt.variables
            if len(current) != len(opt_vars) or any(
                    np.shape(a) != np.shape(c) for a, c in zip(opt_vars, current)):
                raise ValueError(f"the backup's {len(opt_vars)} optimizer variables do not "
                                 f"fit the optimizer's {len(current)}")
        for w, a in zip(own, weights):      # everything checked: assign
            w.data[...] = a
        if opt is not None and opt_vars:
            opt.set_weights(opt_vars)
        if meta.get("rng") is not None:
            get_generator().rng.bit_generator.state = meta["rng"]
        self._current_epoch = model._initial_epoch = int(meta["epoch"])

    def on_epoch_end(self, epoch, logs=None):
        self._current_epoch = epoch + 1
        self._last_batch_seen = 0
        if self.save_freq == "epoch":
            self._save()

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        self._batches_seen_since_last_saving += \
            batch + 1 if batch <= self._last_batch_seen else batch - self._last_batch_seen
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            self._save()

    def _save(self):
        model, opt = self.model, self.model.optimizer
        os.makedirs(self.backup_dir, exist_ok=True)
        if self.double_checkpoint and os.path.exists(self._path):
            shutil.copyfile(self._path, self._prev_path)
        opt_vars = []
        if opt is not None and getattr(opt, "built", False):
            opt_vars = opt.variables
        weights = [w.data for w in model.weights]
        meta = {"epoch": self._current_epoch, "batch": self._last_batch_seen,
                "weights": len(weights), "optimizer": len(opt_vars),
                "rng": get_generator().rng.bit_generator.state}
        arrays = {f"weight_{i:04d}": w for i, w in enumerate(weights)}
        arrays.update({f"optimizer_{i:04d}": np.asarray(v) for i, v in enumerate(opt_vars)})
        arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        tmp = self._path + ".tmp"
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, self._path)           # a crash mid-save keeps the last backup

    def on_train_end(self, logs=None):
        if self.delete_checkpoint and os.path.exists(self.backup_dir):
            shutil.rmtree(self.backup_dir)
