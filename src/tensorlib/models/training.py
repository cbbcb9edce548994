"""``Model``: compile / fit / evaluate / predict on top of ``call`` (Keras semantics).

Every argument is validated before the first weight changes, so a bad call leaves the
model as it was. When the last layer ends in a softmax and the loss is a categorical
cross-entropy, training uses the fused softmax-cross-entropy op on the logits.
"""
import math

import numpy as np

from .. import callbacks as callbacks_mod
from .. import losses as losses_mod
from .. import metrics as metrics_mod
from .. import optimizers as optimizers_mod
from ..autograd import no_grad
from ..random import get_generator
from ..tensor import Tensor
from .progbar import Progbar


class Model:
    def __init__(self, name=None):
        self.name = name
        self.built = False
        self.compiled = False
        self.optimizer = self.loss = None
        self.stop_training = False
        self.history = None

    # ------------------------------------------------------------ weights
    @property
    def weights(self):
        return [w for layer in self.layers for w in layer.weights]

    @property
    def trainable_weights(self):
        return [w for layer in self.layers for w in layer.trainable_weights]

    @property
    def non_trainable_weights(self):
        return [w for layer in self.layers for w in layer.non_trainable_weights]

    def count_params(self):
        return sum(layer.count_params() for layer in self.layers)

    def get_weights(self):
        return [w.data.copy() for w in self.weights]

    def set_weights(self, weights):
        """Assign a list of arrays, one per weight, after checking all of them: count,
        exact shape, a real numeric dtype (bool/int/float; not complex, datetime, string
        or object) and no NaN or infinity once cast to the weight's dtype. On any error
        (ValueError naming the weight; for non-finite values, how many) nothing changes."""
        from .._weights import checked_weight_values
        own = self.weights
        values = checked_weight_values(f"Model {self.name!r}", own, weights)
        for var, value in zip(own, values):
            var.data[...] = value

    # ------------------------------------------------------------ compile
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, **kwargs):
        if optimizer is None:
            raise ValueError("Could not interpret optimizer identifier: None. Received: "
                             "optimizer=None")
        optimizer = optimizers_mod.get(optimizer)
        if loss is None:
            raise ValueError("compile() needs a loss. Received: loss=None")
        loss_obj = losses_mod.get(loss)
        metric_ids = _check_metric_ids(metrics)
        self.optimizer, self.loss = optimizer, loss_obj
        self._metric_ids = metric_ids
        self._metrics = None          # resolved on first use, once shapes are known
        self.compiled = True
        self.compile_config = {
            "optimizer": optimizer if isinstance(optimizer, str)
            else optimizers_mod.serialize(self.optimizer),
            "loss": loss if isinstance(loss, str) else _loss_config(self.loss),
            "metrics": [m for m in self._metric_ids if isinstance(m, str)]}

    def _resolve_metrics(self, y, y_pred_shape):
        if self._metrics is None:
            self._metrics = [metrics_mod.get(m, loss=self.loss, y_true=y,
                                             y_pred=np.empty((0,) + y_pred_shape[1:]))
                             for m in self._metric_ids]
        return self._metrics

    # ------------------------------------------------------------ checks
    def _check_compiled(self):
        if not self.compiled:
            raise ValueError("You must call `compile()` before using the model.")

    def _check_data(self, x, y=None):
        if x is None:
            raise ValueError("Model inputs `x` are missing. Received: x=None")
        x = _numeric_array("x", x).astype(np.float32, copy=False)   # layers compute in f32
        if len(x) == 0:
            raise ValueError("Expected a positive number of samples. Received: x with shape "
                             f"{x.shape}")
        self.ensure_built(x.shape)
        if y is not None:
            y = _numeric_array("y", y)
            if len(x) != len(y):
                raise ValueError("Data cardinality is ambiguous. Make sure all arrays contain "
                                 f"the same number of samples. Received: 'x' sizes: {len(x)}, "
                                 f"'y' sizes: {len(y)}")
            self._check_targets(y)
        return x, y

    def _check_targets(self, y):
        out = self.output_shape
        if isinstance(self.loss, losses_mod.CategoricalCrossentropy) and out[-1] > 1 and \
                (y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1)):
            raise ValueError(
                "categorical_crossentropy expects one-hot targets of shape (n, "
                f"{out[-1]}), but the targets look like integer class labels. Use "
                "loss='sparse_categorical_crossentropy' or tensorlib.utils.to_categorical(y)."
                f" Received: y shape {y.shape}")
        if not isinstance(self.loss, losses_mod.SparseCategoricalCrossentropy) and \
                y.ndim == len(out) and \
                tuple(y.shape[1:]) != tuple(out[1:]):
            raise ValueError(f"Target shape {y.shape} does not match the model's output "
                             f"shape {out}. Received: y shape {y.shape}")

    # ------------------------------------------------------------ steps
    def _fused(self):
        last = self.layers[-1]
        if not getattr(self.loss, "fuses_softmax", False) or not hasattr(last, "activation"):
            return False
        return last.activation_name == "softmax"

    def _loss_and_pred(self, xb, yb, training):
        x = Tensor(xb)
        if self._fused():
            logits = self.call(x, training=training, logits=True)
            loss = self.loss.from_logits_call(yb, logits)
            z = logits.data - logits.data.max(axis=-1, keepdims=True)
            e = np.exp(z)
            return loss, e / e.sum(axis=-1, keepdims=True)
        y_pred = self.call(x, training=training)
        return self.loss(yb, y_pred), y_pred.data

    def _train_batch(self, xb, yb):
        loss, y_pred = self._loss_and_pred(xb, yb, training=True)
        params = self.trainable_weights
        for p in params:
            p.grad = None
        loss.backward()
        self.optimizer.apply_gradients(
            [(p.grad.data if p.grad is not None else None, p) for p in params])
        return float(loss.item()), y_pred

    def _test_batch(self, xb, yb):
        with no_grad():
            loss, y_pred = self._loss_and_pred(xb, yb, training=False)
        return float(loss.item()), y_pred

    # ------------------------------------------------------------ loops
    def _run_epoch(self, x, y, batch_size, step_fn, order=None, on_batch=None,
                   on_batch_begin=None):
        tracker = metrics_mod.Mean(name="loss")
        metrics = self._resolve_metrics(y, self.output_shape)
        for m in metrics:
            m.reset_state()
        n = len(x)
        for step in range(math.ceil(n / batch_size)):
            idx = slice(step * batch_size, min(n, (step + 1) * batch_size))
            if order is not None:
                idx = order[idx]
            xb, yb = x[idx], y[idx]
            if on_batch_begin is not None:
                on_batch_begin(step)
            loss, y_pred = step_fn(xb, yb)
            tracker.update_state(loss, sample_weight=len(xb))
            for m in metrics:
                m.update_state(yb, y_pred)
            if on_batch is not None and on_batch(step, self._logs(tracker, metrics)):
                break
        return self._logs(tracker, metrics)

    @staticmethod
    def _logs(tracker, metrics):
        logs = {m.name: m.result() for m in metrics}
        logs["loss"] = tracker.result()
        return dict(sorted(logs.items()))

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, initial_epoch=0,
            **kwargs):
        self._check_compiled()
        batch_size = _check_batch_size(batch_size)
        verbose = _check_verbose(verbose)
        epochs = _check_int("epochs", epochs, 0)
        initial_epoch = _check_int("initial_epoch", initial_epoch, 0)
        if y is None:
            raise ValueError("fit() needs targets `y`. Received: y=None")
        if isinstance(validation_split, (bool, np.bool_)) or not isinstance(
                validation_split, (int, float, np.integer, np.floating)) \
                or not 0 <= validation_split < 1:
            raise ValueError("validation_split must be a number in [0, 1). Received: "
                             f"validation_split={validation_split!r}")
        x, y = self._check_data(x, y)
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise ValueError("validation_data must be a tuple (x_val, y_val). Received: "
                                 f"validation_data of type {type(validation_data).__name__}"
                                 + (f" and length {len(validation_data)}"
                                    if isinstance(validation_data, (tuple, list)) else ""))
            val = self._check_data(*validation_data)
        elif validation_split:
            split = int(len(x) * (1 - validation_split))   # Keras: the last samples
            if split == 0 or split == len(x):
                raise ValueError("validation_split leaves no training or no validation "
                                 f"samples. Received: validation_split={validation_split} "
                                 f"for {len(x)} samples")
            x, y, val = x[:split], y[:split], (x[split:], y[split:])
        else:
            val = None
        if kwargs:
            raise TypeError(f"fit() got unexpected keyword arguments: {sorted(kwargs)}")
        steps = math.ceil(len(x) / batch_size)
        history = callbacks_mod.History()
        cbs = callbacks_mod.CallbackList(_callback_list(callbacks) + [history], model=self,
                                         params={"epochs": epochs, "steps": steps,
                                                 "verbose": verbose})
        self.stop_training = False
        cbs.on_train_begin()
        logs = {}
        for epoch in range(initial_epoch, epochs):
            cbs.on_epoch_begin(epoch)
            if verbose and epochs > 1:
                print(f"Epoch {epoch + 1}/{epochs}")
            bar = Progbar(steps, verbose=verbose)
            order = get_generator().permutation(len(x)) if shuffle else None

            def on_batch(step, logs):
                cbs.on_train_batch_end(step, logs)
                if step + 1 < steps:     # the last step is drawn with the epoch's logs
                    bar.update(step + 1, logs)
                return self.stop_training

            logs = self._run_epoch(x, y, batch_size, self._train_batch, order, on_batch,
                                   cbs.on_train_batch_begin)
            if val is not None:
                cbs.on_test_begin()
                val_logs = self._run_epoch(val[0], val[1], batch_size, self._test_batch,
                                           on_batch=cbs.on_test_batch_end,
                                           on_batch_begin=cbs.on_test_batch_begin)
                cbs.on_test_end(val_logs)
                logs.update({f"val_{k}": v for k, v in val_logs.items()})
            bar.update(steps, logs)
            cbs.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        cbs.on_train_end(logs)
        self.history = history
        return history

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", return_dict=False,
                 **kwargs):
        self._check_compiled()
        batch_size = _check_batch_size(batch_size)
        verbose = _check_verbose(verbose)
        if y is None:
            raise ValueError("evaluate() needs targets `y`. Received: y=None")
        x, y = self._check_data(x, y)
        steps = math.ceil(len(x) / batch_size)
        bar = Progbar(steps, verbose=verbose)
        logs = self._run_epoch(x, y, batch_size, self._test_batch,
                               on_batch=lambda s, lg: bar.update(s + 1, lg))
        return logs if return_dict else _as_list(logs, self._metrics)

    def predict(self, x, batch_size=None, verbose="auto"):
        batch_size = _check_batch_size(batch_size)
        verbose = _check_verbose(verbose)
        x, _ = self._check_data(x)
        steps = math.ceil(len(x) / batch_size)
        bar = Progbar(steps, verbose=verbose)
        out = []
        with no_grad():
            for step in range(steps):
                out.append(self.call(Tensor(x[step * batch_size:(step + 1) * batch_size])).data)
                bar.update(step + 1)
        return np.concatenate(out) if out else np.zeros((0,) + self.output_shape[1:], x.dtype)

    def __call__(self, x, training=False):
        if not isinstance(x, Tensor):
            try:
                x = np.asarray(x)
            except (TypeError, ValueError) as e:
                raise ValueError(f"Model inputs must be numeric arrays ({e}). Received: "
                                 f"{type(x).__name__}") from None
            if x.dtype.kind not in "biuf" or x.ndim == 0:
                raise ValueError("Model inputs must be real numbers with a batch axis. "
                                 f"Received: dtype={x.dtype}, shape {x.shape}")
            x = Tensor(x.astype(np.float32, copy=False))
        self.ensure_built(x.shape)
        return self.call(x, training=training)

    def train_on_batch(self, x, y=None, return_dict=False):
        self._check_compiled()
        if y is None:
            raise ValueError("train_on_batch() needs targets `y`. Received: y=None")
        x, y = self._check_data(x, y)
        logs = self._run_epoch(x, y, max(len(x), 1), self._train_batch)
        return logs if return_dict else _as_list(logs, self._metrics)

    def test_on_batch(self, x, y=None, return_dict=False):
        self._check_compiled()
        if y is None:
            raise ValueError("test_on_batch() needs targets `y`. Received: y=None")
        x, y = self._check_data(x, y)
        logs = self._run_epoch(x, y, max(len(x), 1), self._test_batch)
        return logs if return_dict else _as_list(logs, self._metrics)

    # ------------------------------------------------------------ saving
    def save_weights(self, filepath):
        from .saving import save_weights
        save_weights(self, filepath)

    def load_weights(self, filepath):
        from .saving import load_weights
        load_weights(self, filepath)

    def save(self, filepath):
        from .saving import save_model
        save_model(self, filepath)


def _loss_config(loss):
    try:
        return losses_mod.serialize(loss)
    except Exception:  # noqa: BLE001 - a custom loss that cannot be described
        return None


def _as_list(logs, metrics):
    values = [logs["loss"]] + [logs[m.name] for m in metrics]
    return values[0] if len(values) == 1 else values


def _numeric_array(name, value):
    """``value`` as an ndarray of at least one dimension with finite numbers only."""
    try:
        a = np.asarray(value.data if isinstance(value, Tensor) else value)
    except (TypeError, ValueError) as e:
        what = "inputs" if name == "x" else "targets"
        raise ValueError(f"Model {what} must be numeric arrays ({e}). Received: {name} of "
                         f"type {type(value).__name__}") from None
    if a.dtype.kind not in "fiub":
        raise ValueError(f"Model {'inputs' if name == 'x' else 'targets'} must be numeric. "
                         f"Received: {name} with dtype={a.dtype}")
    if a.ndim == 0:
        raise ValueError(f"`{name}` must have a batch axis (at least one dimension). "
                         f"Received: {name} with shape {a.shape}")
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        raise ValueError(f"`{name}` contains NaN or infinite values. Received: "
                         f"{int((~np.isfinite(a)).sum())} non-finite entries in {name} of "
                         f"shape {a.shape}")
    return a


def _callback_list(callbacks):
    """``callbacks`` as a list: None, one Callback, or a list/tuple of Callbacks."""
    if callbacks is None:
        return []
    if isinstance(callbacks, callbacks_mod.Callback):
        return [callbacks]
    if not isinstance(callbacks, (list, tuple)) or not all(
            isinstance(c, callbacks_mod.Callback) for c in callbacks):
        raise ValueError("callbacks must be a list of tensorlib.callbacks.Callback objects. "
                         f"Received: callbacks={callbacks!r}")
    return list(callbacks)


def _check_metric_ids(metrics):
    """The ``metrics`` argument of ``compile``: a list or tuple whose entries can be
    resolved (names other than accuracy are resolved now, so a typo fails at compile)."""
    if metrics is None:
        return []
    if not isinstance(metrics, (list, tuple)):
        raise ValueError("Expected `metrics` argument to be a list or tuple. Received: "
                         f"metrics={metrics!r}")
    for m in metrics:
        if m is None or not (isinstance(m, (str, dict, metrics_mod.Metric)) or callable(m)):
            raise ValueError(f"Could not interpret metric identifier: {m!r}. Received: "
                             f"metrics={list(metrics)!r}")
        if isinstance(m, str) and m.lower() not in ("accuracy", "acc"):
            metrics_mod.get(m)
    return list(metrics)


def _check_int(name, value, minimum):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) \
            or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}. Received: "
                         f"{name}={value!r}")
    return int(value)


def _check_batch_size(batch_size):
    if batch_size is None:
        return 32
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
            or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer. Received: "
                         f"batch_size={batch_size!r}")
    return int(batch_size)


def _check_verbose(verbose):
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 'auto', 0, 1 or 2. Received: verbose={verbose!r}")
    return verbose
