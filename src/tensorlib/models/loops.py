"""The ``fit`` / ``evaluate`` / ``predict`` loops of ``Model`` (models/training.py),
run as Keras 3 runs them.

Data comes as arrays, a ``PyDataset`` or a Python generator (data_adapters.py), with
optional per-sample weights (``sample_weight``, a third tuple item, or ``class_weight``).
Steps follow Keras: ``steps_per_epoch`` / ``validation_steps`` / ``steps`` bound each pass
and the next pass goes on where the last stopped. Callbacks are called as Keras calls
them; the epoch's progress line is drawn after the callbacks' ``on_epoch_end`` (Keras's
ProgbarLogger is the last callback), so their messages come before it and the logs it
shows include what they added (``learning_rate``).
"""
import math

import numpy as np

from .. import callbacks as callbacks_mod
from .. import distribution as distribution_mod
from .. import metrics as metrics_mod
from ..autograd import no_grad
from ..functional import memory_scope
from ..tensor import Tensor
from . import data_adapters
from .progbar import Progbar


def fit(model, x, y, batch_size, epochs, verbose, callbacks, validation_split,
        validation_data, shuffle, class_weight, sample_weight, initial_epoch, steps_per_epoch,
        validation_steps, validation_batch_size, validation_freq, kwargs):
    model._check_compiled()
    batch_size = _check_batch_size(batch_size, None)
    verbose = _check_verbose(verbose)
    epochs = _check_int("epochs", epochs, 0)
    initial_epoch = _check_int("initial_epoch", initial_epoch, 0)
    steps_per_epoch = _check_steps("steps_per_epoch", steps_per_epoch)
    validation_steps = _check_steps("validation_steps", validation_steps)
    validation_batch_size = _check_batch_size(validation_batch_size, None)
    _should_eval(0, validation_freq)
    class_weight = data_adapters.check_class_weight(class_weight)
    if isinstance(validation_split, (bool, np.bool_)) or not isinstance(
            validation_split, (int, float, np.integer, np.floating)) \
            or not 0 <= validation_split < 1:
        raise ValueError("validation_split must be a number in [0, 1). Received: "
                         f"validation_split={validation_split!r}")
    streamed = data_adapters.is_dataset(x) or data_adapters.is_generator(x)
    if validation_split and streamed and validation_data is None:
        raise ValueError("fit: validation_split cannot split a dataset or a generator; pass "
                         f"validation_data. Received: validation_split={validation_split}")
    if kwargs:
        raise TypeError(f"fit() got unexpected keyword arguments: {sorted(kwargs)}")
    need_y = model._needs_targets() or None
    data = data_adapters.source(model, x, y, sample_weight, "fit", batch_size, shuffle,
                                class_weight, need_y, steps_per_epoch)
    val_batch_size = validation_batch_size or batch_size
    if validation_data is not None:
        val = _validation_source(model, validation_data, val_batch_size, need_y,
                                 validation_steps)
    elif validation_split:
        data, val = _split(model, data, validation_split, class_weight is not None,
                           val_batch_size, need_y, validation_steps)
    else:
        val = None
    callbacks = _callback_list(callbacks)
    dist = distribution_mod.active()
    if dist is not None:     # the same call everywhere, process 0's weights; it prints
        verbose, callbacks = dist.begin(
            model, "fit", data.xs, data.ys, verbose, callbacks, batch_size=data.batch_size,
            epochs=epochs, initial_epoch=initial_epoch, shuffle=shuffle,
            validation=None if val is None else len(val.xs[0]))
    train_it = data_adapters.EpochIterator(data, steps_per_epoch)
    val_it = None if val is None else data_adapters.EpochIterator(val, validation_steps)
    history = callbacks_mod.History()
    cbs = callbacks_mod.CallbackList(callbacks + [history], model=model,
                                     params={"epochs": epochs, "verbose": verbose,
                                             "steps": train_it.num_batches})
    model.stop_training = False
    model._initial_epoch = None                  # BackupAndRestore sets it when resuming
    cbs.on_train_begin()
    initial_epoch = getattr(model, "_initial_epoch", None) or initial_epoch
    logs = {}
    for epoch in range(initial_epoch, epochs):
        cbs.on_epoch_begin(epoch)
        if verbose and epochs > 1:
            print(f"Epoch {epoch + 1}/{epochs}")
        bar = Progbar(train_it.num_batches, verbose=verbose)
        seen = [0]

        def on_batch(step, batch_logs):
            cbs.on_train_batch_end(step, batch_logs)
            seen[0] = step + 1
            if bar.target is None or step + 1 < bar.target:
                bar.update(step + 1, batch_logs)    # the last step: after on_epoch_end
            if dist is not None:     # a stop on any process stops every process
                model.stop_training = dist.agree(model.stop_training)
            return model.stop_training

        epoch_logs = model._run_epoch(train_it, model._train_batch, on_batch,
                                      cbs.on_train_batch_begin)
        data.on_epoch_end()
        if not seen[0]:              # a generator had nothing left: training ends
            break
        logs = epoch_logs
        if val_it is not None and _should_eval(epoch, validation_freq):
            val_logs = _validate(model, val_it, cbs)
            logs.update({f"val_{k}": v for k, v in val_logs.items()})
        cbs.on_epoch_end(epoch, logs)
        bar.update(bar.target or seen[0], logs, finalize=True)
        if dist is not None:
            model.stop_training = dist.agree(model.stop_training)
        if model.stop_training or train_it.exhausted:
            break
    if epochs > 0 and model.optimizer.built:    # Keras: with use_ema, the averages win
        model.optimizer.finalize_variable_values(model.trainable_weights)
    cbs.on_train_end(logs)
    model.history = history
    return history


def _validate(model, val_it, cbs):
    cbs.on_test_begin()
    val_logs = model._run_epoch(val_it, model._test_batch, on_batch=cbs.on_test_batch_end,
                                on_batch_begin=cbs.on_test_batch_begin)
    cbs.on_test_end(val_logs)
    return val_logs


def _validation_source(model, validation_data, batch_size, need_y, steps):
    where = "fit validation_data"
    if data_adapters.is_dataset(validation_data) or \
            data_adapters.is_generator(validation_data):
        return data_adapters.source(model, validation_data, None, None, where, batch_size,
                                    need_y=need_y, steps=steps)
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
        raise ValueError("validation_data must be a tuple (x_val, y_val) or (x_val, y_val, "
                         "val_sample_weight). Received: validation_data of type "
                         f"{type(validation_data).__name__}"
                         + (f" and length {len(validation_data)}"
                            if isinstance(validation_data, (tuple, list)) else ""))
    vx, vy, vsw = (tuple(validation_data) + (None,))[:3]
    return data_adapters.source(model, vx, vy, vsw, where, batch_size, need_y=need_y,
                                steps=steps)


def _split(model, data, fraction, drop_weights, batch_size, need_y, steps):
    """Keras's validation_split: the last samples validate (without class weights)."""
    n = len(data.xs[0])
    split = int(n * (1 - fraction))
    if split == 0 or split == n:
        raise ValueError("validation_split leaves no training or no validation samples. "
                         f"Received: validation_split={fraction} for {n} samples")

    def part(arrays, sl):
        return None if arrays is None else [None if a is None else a[sl] for a in arrays]

    head, tail = slice(None, split), slice(split, None)
    train = data_adapters.Arrays(part(data.xs, head), part(data.ys, head),
                                 part(data.sws, head), data.batch_size, data.shuffle)
    val = data_adapters.source(model, part(data.xs, tail), part(data.ys, tail),
                               None if drop_weights else part(data.sws, tail),
                               "fit validation_split", batch_size, need_y=need_y,
                               steps=steps)
    return train, val


def evaluate(model, x, y, batch_size, verbose, sample_weight, steps, callbacks, return_dict,
             kwargs):
    model._check_compiled()
    if kwargs:
        raise ValueError(f"Arguments not recognized: {kwargs}")
    batch_size = _check_batch_size(batch_size, None)
    verbose = _check_verbose(verbose)
    steps = _check_steps("steps", steps)
    callbacks = _callback_list(callbacks)
    data = data_adapters.source(model, x, y, sample_weight, "evaluate", batch_size,
                                need_y=model._needs_targets() or None, steps=steps)
    dist = distribution_mod.active()
    if dist is not None:
        verbose, callbacks = dist.begin(model, "evaluate", data.xs, data.ys, verbose,
                                        callbacks, batch_size=data.batch_size)
    it = data_adapters.EpochIterator(data, steps)
    cbs = callbacks_mod.CallbackList(callbacks, model=model, params={
        "epochs": 1, "steps": it.num_batches, "verbose": verbose})
    bar = Progbar(it.num_batches, verbose=verbose)
    seen = [0]

    def on_batch(step, batch_logs):
        cbs.on_test_batch_end(step, batch_logs)
        seen[0] = step + 1
        if bar.target is None or step + 1 < bar.target:
            bar.update(step + 1, batch_logs)

    model.stop_evaluating = False
    cbs.on_test_begin()
    logs = model._run_epoch(it, model._test_batch, lambda s, lg: on_batch(s, lg) or
                            model.stop_evaluating, cbs.on_test_batch_begin)
    cbs.on_test_end(logs)
    bar.update(bar.target or seen[0], logs, finalize=True)
    return logs if return_dict else model._as_list(logs)


def predict(model, x, batch_size, verbose, steps, callbacks):
    batch_size = _check_batch_size(batch_size, None)
    verbose = _check_verbose(verbose)
    steps = _check_steps("steps", steps)
    callbacks = _callback_list(callbacks)
    data = data_adapters.source(model, x, None, None, "predict", batch_size, need_y=False,
                                steps=steps)
    dist = distribution_mod.active()
    if dist is not None:     # this process's part; every part is gathered below
        verbose, callbacks = dist.begin(model, "predict", data.xs, None, verbose, callbacks,
                                        batch_size=data.batch_size)
        data.xs, data.batch_size = dist.predict_share(data.xs, data.batch_size)
        data.num_batches, data.shard = math.ceil(len(data.xs[0]) / data.batch_size), False
    it = data_adapters.EpochIterator(data, steps)
    cbs = callbacks_mod.CallbackList(callbacks, model=model, params={
        "epochs": 1, "steps": it.num_batches, "verbose": verbose})
    bar = Progbar(it.num_batches, verbose=verbose)
    outs = [[] for _ in model._output_names]
    model.stop_predicting = False
    seen = 0
    cbs.on_predict_begin()
    with no_grad(), memory_scope():
        for step, (xb, _, _) in enumerate(it):
            cbs.on_predict_batch_begin(step)
            batch = [out.data for out in model._forward([Tensor(a) for a in xb], False)]
            for acc, out in zip(outs, batch):
                acc.append(out)
            cbs.on_predict_batch_end(step, {"outputs": model._pack_outputs(batch)})
            seen = step + 1
            if bar.target is None or seen < bar.target:
                bar.update(seen)
            if model.stop_predicting:
                break
    cbs.on_predict_end()
    bar.update(bar.target or seen, finalize=True)
    values = [np.concatenate(acc) if acc else
              np.zeros((0,) + tuple(shape[1:]), np.float32)
              for acc, shape in zip(outs, model._output_shapes)]
    if dist is not None:
        values = dist.gather(values)
    return model._pack_outputs(values)


class EpochLogs:
    """The running means of one pass: the loss, per-output losses and the metrics
    (weighted metrics by the batch's sample weights), as sorted logs."""

    def __init__(self, model, ys):
        self.metrics, self.n_plain = model._resolve_metrics(ys), model._n_plain
        loss_keys, metric_keys = model._log_names()
        self.tracker = metrics_mod.Mean(name="loss")
        self.trackers = [metrics_mod.Mean(name=k) if k else None for k in loss_keys]
        for ms in self.metrics:
            for m in ms:
                m.reset_state()
        self.named = [(k, m) for keys, ms in zip(metric_keys, self.metrics)
                      for k, m in zip(keys, ms)]
        self.named += [(t.name, t) for t in self.trackers if t is not None]
        self.named.append(("loss", self.tracker))

    def update(self, count, loss, per_output, ys, preds, sws):
        self.tracker.update_state(loss, sample_weight=count)
        for t, value in zip(self.trackers, per_output):
            if t is not None:
                t.update_state(value, sample_weight=count)
        if ys is None:
            return
        for i, (ms, yi, pi) in enumerate(zip(self.metrics, ys, preds)):
            for j, m in enumerate(ms):
                if j < self.n_plain[i] or sws is None or sws[i] is None:
                    m.update_state(yi, pi)
                else:
                    m.update_state(yi, pi, sample_weight=sws[i])

    def result(self):
        dist = distribution_mod.active()      # under one: results over all processes
        values = dist.results([m for _, m in self.named]) if dist is not None \
            else [m.result() for _, m in self.named]
        return dict(sorted(zip((k for k, _ in self.named), values)))


def _should_eval(epoch, validation_freq):
    """Keras: validate after epochs that ``validation_freq`` (an int: every that many
    epochs; a list: those 1-based epochs) names."""
    if isinstance(validation_freq, (int, np.integer)) and not isinstance(validation_freq,
                                                                          bool):
        if validation_freq < 1:
            raise ValueError("`validation_freq` must be a positive integer. Received: "
                             f"validation_freq={validation_freq}")
        return (epoch + 1) % int(validation_freq) == 0
    if isinstance(validation_freq, list):
        return epoch + 1 in validation_freq
    raise ValueError("Expected `validation_freq` to be a list or int. Received: "
                     f"validation_freq={validation_freq} of the type "
                     f"{type(validation_freq)}.")


def _check_steps(name, value):
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) \
            or value < 1:
        raise ValueError(f"`{name}` must be a positive integer or None. Received: "
                         f"{name}={value!r}")
    return int(value)


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


def _check_int(name, value, minimum):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) \
            or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}. Received: "
                         f"{name}={value!r}")
    return int(value)


def _check_batch_size(batch_size, default=32):
    if batch_size is None:
        return default
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
