"""The base of tensorlib's callbacks (``tensorlib.callbacks`` re-exports them): the
``Callback`` class with Keras 3's hooks, and the "is this an improvement" logic shared by
EarlyStopping, ModelCheckpoint and ReduceLROnPlateau."""
import warnings

import numpy as np

_HOOKS = ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
          "on_train_batch_begin", "on_train_batch_end", "on_test_begin", "on_test_end",
          "on_test_batch_begin", "on_test_batch_end", "on_predict_begin", "on_predict_end",
          "on_predict_batch_begin", "on_predict_batch_end")


class Callback:
    """Base class: every hook is a no-op; ``on_train_batch_*`` call the ``on_batch_*``
    backwards-compatibility aliases, as in Keras."""

    def __init__(self):
        self.params = None
        self._model = None

    def set_params(self, params):
        self.params = params

    def set_model(self, model):
        self._model = model

    @property
    def model(self):
        return self._model

    # every hook is a no-op by default
    def on_batch_begin(self, batch, logs=None): """Alias of on_train_batch_begin."""
    def on_batch_end(self, batch, logs=None): """Alias of on_train_batch_end."""
    def on_epoch_begin(self, epoch, logs=None): pass
    def on_epoch_end(self, epoch, logs=None): pass
    def on_train_batch_begin(self, batch, logs=None): self.on_batch_begin(batch, logs=logs)
    def on_train_batch_end(self, batch, logs=None): self.on_batch_end(batch, logs=logs)
    def on_test_batch_begin(self, batch, logs=None): pass
    def on_test_batch_end(self, batch, logs=None): pass
    def on_predict_batch_begin(self, batch, logs=None): pass
    def on_predict_batch_end(self, batch, logs=None): pass
    def on_train_begin(self, logs=None): pass
    def on_train_end(self, logs=None): pass
    def on_test_begin(self, logs=None): pass
    def on_test_end(self, logs=None): pass
    def on_predict_begin(self, logs=None): pass
    def on_predict_end(self, logs=None): pass


# ---------------------------------------------------------------- monitoring
class _MonitorCallback(Callback):
    """Shared "is this an improvement" logic of EarlyStopping and ModelCheckpoint."""

    def __init__(self, monitor="val_loss", mode="auto", baseline=None, min_delta=0):
        super().__init__()
        if mode not in ("auto", "min", "max"):
            warnings.warn(f"{type(self).__name__} mode '{mode}' is unknown, fallback to auto "
                          "mode.", stacklevel=3)
            mode = "auto"
        self.monitor = monitor
        self.mode = mode
        self.best = baseline
        self.min_delta = abs(min_delta)
        self.monitor_op = None

    def _metric_direction(self, name):
        """"up"/"down" from the model's metric objects (their ``_direction``, looking inside
        containers' ``metrics`` too), else from the name: accuracies up, loss names down."""
        todo = list(getattr(self.model, "metrics", None) or [])
        while todo:
            m = todo.pop(0)
            if getattr(m, "name", None) == name and hasattr(m, "_direction"):
                return m._direction
            todo.extend(getattr(m, "metrics", None) or [])
        low = name.lower()
        if low in ("acc", "accuracy", "auc", "precision", "recall") or \
                low.endswith(("_accuracy", "_acc")):
            return "up"
        from .losses import ALL_OBJECTS_DICT
        return "down" if low in ALL_OBJECTS_DICT else None

    def _set_monitor_op(self):
        if self.mode == "min":
            self.monitor_op = np.less
        elif self.mode == "max":
            self.monitor_op = np.greater
        else:
            name = self.monitor[4:] if self.monitor.startswith("val_") else self.monitor
            direction = "down" if name == "loss" else self._metric_direction(name)
            if direction is None:
                raise ValueError(
                    f"{type(self).__name__} callback received monitor={self.monitor}, but "
                    "tensorlib isn't able to automatically determine whether that metric "
                    "should be maximized or minimized. Pass `mode='max'` in order to monitor "
                    "based on the highest metric value, or pass `mode='min'` in order to use "
                    f"the lowest value. Received: monitor={self.monitor!r}, mode='auto'")
            self.monitor_op = np.greater if direction == "up" else np.less
        if self.monitor_op is np.less:
            self.min_delta *= -1
        if self.best is None:
            self.best = np.inf if self.monitor_op is np.less else -np.inf

    def _is_improvement(self, monitor_value, reference_value):
        if reference_value is None:
            return True
        return bool(self.monitor_op(monitor_value - self.min_delta, reference_value))
