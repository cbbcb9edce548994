"""``Model``: compile / fit / evaluate / predict on top of ``call`` (Keras semantics).

Every argument is validated before the first weight changes, so a bad call leaves the
model as it was. Models have one or several inputs and outputs; data, losses, loss weights
and metrics are given per output as Keras reads them (``compile_utils``). A categorical
cross-entropy on a softmax output uses the fused softmax-cross-entropy op on the softmax's
input by itself (losses.py), as Keras does: no layer needs to know. Data-parallel training
over several processes lives in ``tensorlib.distribution``: the loops consult its active
distribution (``dist``) at a few points, and run exactly as alone when there is none.
"""
import math

import numpy as np

from .. import callbacks as callbacks_mod
from .. import distribution as distribution_mod
from .. import graph
from .. import losses as losses_mod
from .. import metrics as metrics_mod
from .. import optimizers as optimizers_mod
from ..autograd import no_grad
from ..functional import memory_scope
from ..layers import tracking
from ..layers.base import (Layer, clear_added_losses, float_dtype, losses_of, snake_case,
                           unique_name)
from ..random import get_generator
from ..tensor import Tensor
from . import compile_utils, data_adapters, subclassing
from .progbar import Progbar


class Model(subclassing.ModelDefinedByCall, Layer):
    """Base of ``Sequential``, ``Functional`` and the models users define by writing
    ``call`` (models/subclassing.py). ``Model(inputs, outputs)`` makes a functional model.
    Sequential and Functional override ``layers``, ``_input_names``, ``_output_names``,
    ``_output_shapes``, ``_forward(xs, training)`` (a list of Tensors, one per output) and
    ``_ensure_built(shapes)``; the versions in ``subclassing.ModelDefinedByCall`` serve
    models defined by ``call``. Weights come from Layer: the model's own, then its
    layers' (``_child_layers``)."""

    _takes_structure = True
    _kind = "Model"
    _input_names = _output_names = None     # set by build for models defined by call
    # Model(inputs, outputs) makes a functional model: models/functional.py, which
    # subclasses Model, registers its class here (imports go one way).
    _functional_class = None

    def __new__(cls, *args, **kwargs):
        if cls is Model and (args or "inputs" in kwargs or "outputs" in kwargs):
            return super().__new__(Model._functional_class)
        return super().__new__(cls, *args, **kwargs)

    def __init__(self, *args, **kwargs):
        if args or "inputs" in kwargs or "outputs" in kwargs:
            # Keras's functional subclass: super().__init__(inputs=..., outputs=...)
            subclassing.become_functional(self, Model._functional_class)
            Model._functional_class.__init__(self, *args, **kwargs)
            return
        self._init_model(**kwargs)

    def _init_model(self, name=None, trainable=True, dtype=None):
        if name is not None and not isinstance(name, str):
            raise TypeError(f"{type(self).__name__}: name must be a string. Received: "
                            f"name={name!r}")
        # The fields of a Layer (Layer.__init__ takes layer arguments a model has not).
        self.name = name or unique_name(snake_case(type(self).__name__))
        self._trainable = bool(trainable)
        self.dtype = float_dtype(type(self).__name__, dtype)
        self.built = False
        self._weights = []
        self._inbound_nodes = []
        self.batch_input_shape = None
        self.compiled = False
        self.optimizer = self.loss = None
        self.stop_training = False
        self.history = None

    @property
    def metrics(self):
        """The compiled metric objects (resolved by the first fit / evaluate / train step),
        which callbacks consult (EarlyStopping's mode 'auto' reads their direction)."""
        return [m for per_output in (getattr(self, "_metrics", None) or []) for m in per_output]

    def get_layer(self, name=None, index=None):
        """A layer by ``name`` or by ``index`` in ``model.layers`` (Keras semantics)."""
        layers = self.layers
        if index is not None and name is not None:
            raise ValueError("Provide only a layer name or a layer index at `get_layer`. "
                             f"Received: name={name!r}, index={index!r}")
        if index is not None:
            if isinstance(index, bool) or not isinstance(index, (int, np.integer)) \
                    or not -len(layers) <= index < len(layers):
                raise ValueError(f"Was asked to retrieve layer at index {index} but model "
                                 f"only has {len(layers)} layers. Received: index={index!r}")
            return layers[index]
        if name is not None:
            for layer in layers:
                if layer.name == name:
                    return layer
            raise ValueError(f"No such layer: {name}. Existing layers are: "
                             f"{[la.name for la in layers]}. Received: name={name!r}")
        raise ValueError("Provide either a layer name or layer index at `get_layer`. "
                         "Received: name=None, index=None")

    # ------------------------------------------------------------ compile
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None,
                **kwargs):
        if optimizer is None:
            raise ValueError("Could not interpret optimizer identifier: None. Received: "
                             "optimizer=None")
        optimizer = optimizers_mod.get(optimizer)
        if loss is None:
            raise ValueError("compile() needs a loss. Received: loss=None")
        args = (loss, metrics, loss_weights)
        if self._output_names is not None:
            self._resolve_compile(optimizer, args)     # checks everything, then assigns
        else:           # a model defined by call, not built yet: per-output parts later
            self._losses = None
        self.optimizer, self._compile_args, self.compiled = optimizer, args, True
        if self._losses is None:
            self.loss = loss

    def _resolve_compile(self, optimizer, args):
        loss, metrics, loss_weights = args
        names = self._output_names
        losses = compile_utils.per_output_losses(loss, names)
        weights = compile_utils.per_output_weights(loss_weights, names)
        metric_ids = compile_utils.per_output_metrics(metrics, names, _check_metric_ids)
        self.loss = losses[0] if len(losses) == 1 else losses
        self._losses, self._loss_weights = losses, weights
        self._weighted = loss_weights is not None
        self._metric_ids = metric_ids
        self._metrics = None          # resolved on first use, once shapes are known
        self.compile_config = {
            "optimizer": optimizers_mod.serialize(optimizer),
            "loss": loss if isinstance(loss, str) else _loss_config(self.loss)
            if len(losses) == 1 else _structure_config(loss),
            "metrics": [m for m in metric_ids[0] if isinstance(m, str)]
            if len(names) == 1 and not isinstance(metrics, dict)
            else _structure_config(metrics)}
        if loss_weights is not None:
            self.compile_config["loss_weights"] = loss_weights

    def _resolve_metrics(self, ys):
        if self._metrics is None:
            self._metrics = [
                [metrics_mod.get(m, loss=loss, y_true=y, y_pred=np.empty((0,) + shape[1:]))
                 for m in ids]
                for ids, loss, y, shape in zip(self._metric_ids, self._losses, ys,
                                               self._output_shapes)]
        return self._metrics

    def _log_names(self):
        """(loss keys per output, metric keys per output) in Keras's naming: with several
        outputs, ``<output>_loss`` and ``<output>_<metric>``."""
        multi = len(self._output_names) > 1
        loss_keys = [f"{n}_loss" if multi and loss is not None else None
                     for n, loss in zip(self._output_names, self._losses)]
        metric_keys = [[f"{n}_{m.name}" if multi else m.name for m in ms]
                       for n, ms in zip(self._output_names, self._metrics)]
        return loss_keys, metric_keys

    # ------------------------------------------------------------ checks
    def _check_compiled(self):
        if not self.compiled:
            raise ValueError("You must call `compile()` before using the model.")

    def _check_data(self, x, y=None):
        """``x`` and ``y`` as lists of arrays (one per input, one per output), checked."""
        if x is None:
            raise ValueError("Model inputs `x` are missing. Received: x=None")
        if self._user_call:
            subclassing.note_inputs(self, x)
        xs = [_numeric_array("x", a).astype(np.float32, copy=False)   # layers compute in f32
              for a in compile_utils.standardize("x", x, self._input_names, "input")]
        empty = [a.shape for a in xs if len(a) == 0]
        if empty:
            raise ValueError("Expected a positive number of samples. Received: x with shape "
                             f"{empty[0]}")
        self._ensure_built([a.shape for a in xs])
        if self.compiled and self._losses is None:
            self._resolve_compile(self.optimizer, self._compile_args)
        if y is None:
            _check_cardinality(xs, [])
            return xs, None
        ys = [_numeric_array("y", a)
              for a in compile_utils.standardize("y", y, self._output_names, "output")]
        _check_cardinality(xs, ys)
        for i, yi in enumerate(ys):
            self._check_targets(i, yi)
        return xs, ys

    def _check_targets(self, i, y):
        out, loss = self._output_shapes[i], self._losses[i]
        if isinstance(loss, losses_mod.CategoricalCrossentropy) and out[-1] > 1 and \
                (y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1)):
            raise ValueError(
                "categorical_crossentropy expects one-hot targets of shape (n, "
                f"{out[-1]}), but the targets look like integer class labels. Use "
                "loss='sparse_categorical_crossentropy' or tensorlib.utils.to_categorical(y)."
                f" Received: y shape {y.shape}")
        if loss is not None and not isinstance(loss, losses_mod.SparseCategoricalCrossentropy) \
                and y.ndim == len(out) and tuple(y.shape[1:]) != tuple(out[1:]):
            where = "" if len(self._output_names) == 1 else \
                f" {self._output_names[i]!r}"
            raise ValueError(f"Target shape {y.shape} does not match the model's output"
                             f"{where} shape {out}. Received: y shape {y.shape}")

    # ------------------------------------------------------------ steps
    def _loss_and_pred(self, xb, yb, training):
        layers = self._layer_walk()          # one walk per step, for the penalties
        clear_added_losses(layers)
        outs = self._forward([Tensor(a) for a in xb], training)
        total, per_output, preds = None, [], []
        for i, (out, loss) in enumerate(zip(outs, self._losses)):
            value = loss(yb[i], out) if loss is not None else None
            preds.append(out.data)
            per_output.append(value)
            if value is not None:
                term = value * self._loss_weights[i] if self._weighted else value
                total = term if total is None else total + term
        for penalty in losses_of(layers):     # regularizers and add_loss, as Keras adds
            total = penalty if total is None else total + penalty
        return total, per_output, preds

    def _train_batch(self, xb, yb):
        loss, per_output, y_pred = self._loss_and_pred(xb, yb, training=True)
        params = self.trainable_weights
        for p in params:
            p.grad = None
        loss.backward()
        grads = [p.grad.data if p.grad is not None else None for p in params]
        dist = distribution_mod.active()
        if dist is not None:        # the mean gradient of the global batch, everywhere
            grads = dist.reduce_gradients(grads, params)
        self.optimizer.apply_gradients(zip(grads, params))
        return float(loss.item()), _floats(per_output), y_pred

    def _test_batch(self, xb, yb):
        with no_grad():
            loss, per_output, y_pred = self._loss_and_pred(xb, yb, training=False)
        return float(loss.item()), _floats(per_output), y_pred

    # ------------------------------------------------------------ loops
    def _run_epoch(self, x, y, batch_size, step_fn, order=None, on_batch=None,
                   on_batch_begin=None, batches=None):
        """One pass: over ``x``/``y`` (lists of arrays) in ``batch_size`` slices, in
        ``order`` if given, or over ``batches`` (``(xs, ys)`` lists, from a dataset; ``y``
        is then a sample batch's targets, for resolving the metrics)."""
        tracker = metrics_mod.Mean(name="loss")
        metrics = self._resolve_metrics(y)
        loss_keys, metric_keys = self._log_names()
        trackers = [metrics_mod.Mean(name=k) if k else None for k in loss_keys]
        for ms in metrics:
            for m in ms:
                m.reset_state()

        def logs():
            named = [(k, m) for keys, ms in zip(metric_keys, metrics) for k, m in zip(keys, ms)]
            named += [(t.name, t) for t in trackers if t is not None] + [("loss", tracker)]
            dist = distribution_mod.active()      # under one: results over all processes
            values = dist.results([m for _, m in named]) if dist is not None \
                else [m.result() for _, m in named]
            out = dict(zip((k for k, _ in named), values))
            return dict(sorted(out.items()))

        if batches is None:
            batches = _array_batches(x, y, batch_size, order)
        with memory_scope():
            return self._run_steps(batches, step_fn, on_batch, on_batch_begin, tracker,
                                   trackers, metrics, logs)

    def _run_steps(self, batches, step_fn, on_batch, on_batch_begin, tracker, trackers,
                   metrics, logs):
        dist = distribution_mod.active()
        for step, (xb, yb) in enumerate(batches):
            if on_batch_begin is not None:
                on_batch_begin(step)
            loss, per_output, y_pred = step_fn(xb, yb) if len(xb[0]) else \
                dist.empty_step(self, step_fn)
            count = len(xb[0])
            tracker.update_state(loss, sample_weight=count)
            for t, value in zip(trackers, per_output):
                if t is not None:
                    t.update_state(value, sample_weight=count)
            for ms, yi, pi in zip(metrics, yb, y_pred):
                for m in ms:
                    m.update_state(yi, pi)
            if on_batch is not None and on_batch(step, logs()):
                break
        return logs()

    def _as_list(self, logs):
        """``evaluate``'s list: the loss, per-output losses, then metrics by output."""
        loss_keys, metric_keys = self._log_names()
        keys = ["loss"] + [k for k in loss_keys if k] + [k for ks in metric_keys for k in ks]
        values = [logs[k] for k in keys]
        return values[0] if len(values) == 1 else values

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, initial_epoch=0,
            **kwargs):
        self._check_compiled()
        batch_size = _check_batch_size(batch_size)
        verbose = _check_verbose(verbose)
        epochs = _check_int("epochs", epochs, 0)
        initial_epoch = _check_int("initial_epoch", initial_epoch, 0)
        ds = x if data_adapters.is_dataset(x) else None
        if y is None and ds is None:
            raise ValueError("fit() needs targets `y`. Received: y=None")
        if isinstance(validation_split, (bool, np.bool_)) or not isinstance(
                validation_split, (int, float, np.integer, np.floating)) \
                or not 0 <= validation_split < 1:
            raise ValueError("validation_split must be a number in [0, 1). Received: "
                             f"validation_split={validation_split!r}")
        x, y = data_adapters.first_batch(self, ds, y, "fit", validation_split) \
            if ds is not None else self._check_data(x, y)
        val_ds = validation_data if data_adapters.is_dataset(validation_data) else None
        if val_ds is not None:
            val = data_adapters.first_batch(self, val_ds, None, "fit validation_data")
        elif validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise ValueError("validation_data must be a tuple (x_val, y_val). Received: "
                                 f"validation_data of type {type(validation_data).__name__}"
                                 + (f" and length {len(validation_data)}"
                                    if isinstance(validation_data, (tuple, list)) else ""))
            val = self._check_data(*validation_data)
        elif validation_split:
            n = len(x[0])
            split = int(n * (1 - validation_split))   # Keras: the last samples
            if split == 0 or split == n:
                raise ValueError("validation_split leaves no training or no validation "
                                 f"samples. Received: validation_split={validation_split} "
                                 f"for {n} samples")
            val = ([a[split:] for a in x], [a[split:] for a in y])
            x, y = [a[:split] for a in x], [a[:split] for a in y]
        else:
            val = None
        if kwargs:
            raise TypeError(f"fit() got unexpected keyword arguments: {sorted(kwargs)}")
        callbacks = _callback_list(callbacks)
        dist = distribution_mod.active()
        if dist is not None:     # the same call everywhere, process 0's weights; it prints
            verbose, callbacks = dist.begin(
                self, "fit", x, y, verbose, callbacks, batch_size=batch_size, epochs=epochs,
                initial_epoch=initial_epoch, shuffle=shuffle,
                validation=None if val is None else len(val[0][0]))
        steps = data_adapters.steps(ds, "fit") if ds is not None \
            else math.ceil(len(x[0]) / batch_size)
        history = callbacks_mod.History()
        cbs = callbacks_mod.CallbackList(callbacks + [history], model=self,
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
            order = get_generator().permutation(len(x[0])) if shuffle else None
            if dist is not None and order is not None:
                order = dist.epoch_order(order)

            def on_batch(step, logs):
                cbs.on_train_batch_end(step, logs)
                if step + 1 < steps:     # the last step is drawn with the epoch's logs
                    bar.update(step + 1, logs)
                if dist is not None:     # a stop on any process stops every process
                    self.stop_training = dist.agree(self.stop_training)
                return self.stop_training

            batches = None if ds is None else \
                data_adapters.epoch_batches(self, ds, shuffle, "fit")
            logs = self._run_epoch(x, y, batch_size, self._train_batch, order, on_batch,
                                   cbs.on_train_batch_begin, batches=batches)
            if ds is not None:
                ds.on_epoch_end()
            if val is not None:
                cbs.on_test_begin()
                val_logs = self._run_epoch(
                    val[0], val[1], batch_size, self._test_batch,
                    on_batch=cbs.on_test_batch_end, on_batch_begin=cbs.on_test_batch_begin,
                    batches=None if val_ds is None else data_adapters.epoch_batches(
                        self, val_ds, False, "fit validation_data"))
                cbs.on_test_end(val_logs)
                logs.update({f"val_{k}": v for k, v in val_logs.items()})
            bar.update(steps, logs)
            cbs.on_epoch_end(epoch, logs)
            if dist is not None:
                self.stop_training = dist.agree(self.stop_training)
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
        if data_adapters.is_dataset(x):
            ds, (x, y) = x, data_adapters.first_batch(self, x, y, "evaluate")
            steps = data_adapters.steps(ds, "evaluate")
            batches = data_adapters.epoch_batches(self, ds, False, "evaluate")
        else:
            if y is None:
                raise ValueError("evaluate() needs targets `y`. Received: y=None")
            x, y = self._check_data(x, y)
            dist = distribution_mod.active()
            if dist is not None:
                verbose, _ = dist.begin(self, "evaluate", x, y, verbose,
                                        batch_size=batch_size)
            steps, batches = math.ceil(len(x[0]) / batch_size), None
        bar = Progbar(steps, verbose=verbose)
        logs = self._run_epoch(x, y, batch_size, self._test_batch,
                               on_batch=lambda s, lg: bar.update(s + 1, lg), batches=batches)
        return logs if return_dict else self._as_list(logs)

    def predict(self, x, batch_size=None, verbose="auto"):
        batch_size = _check_batch_size(batch_size)
        verbose = _check_verbose(verbose)
        if data_adapters.is_dataset(x):
            data_adapters.first_batch(self, x, None, "predict", need_y=False)
            x = [np.concatenate(parts) for parts in zip(*(
                xs for xs, _ in data_adapters.epoch_batches(self, x, False, "predict",
                                                            need_y=False)))]
        x, _ = self._check_data(x)
        dist = distribution_mod.active()
        if dist is not None:     # this process's part; every part is gathered below
            verbose, _ = dist.begin(self, "predict", x, None, verbose, batch_size=batch_size)
            x, batch_size = dist.predict_share(x, batch_size)
        n = len(x[0])
        steps = math.ceil(n / batch_size)
        bar = Progbar(steps, verbose=verbose)
        outs = [[] for _ in self._output_names]
        with no_grad(), memory_scope():
            for step in range(steps):
                sl = slice(step * batch_size, (step + 1) * batch_size)
                for acc, out in zip(outs, self._forward([Tensor(a[sl]) for a in x], False)):
                    acc.append(out.data)
                bar.update(step + 1)
        values = [np.concatenate(acc) if acc else
                  np.zeros((0,) + tuple(shape[1:]), np.float32)
                  for acc, shape in zip(outs, self._output_shapes)]
        if dist is not None:
            values = dist.gather(values)
        return self._pack_outputs(values)

    def __call__(self, *args, **kwargs):
        if self._user_call:
            return super().__call__(*args, **kwargs)
        return self._call_graph(*args, **kwargs)

    def _call_graph(self, x, training=None, **kwargs):
        """A call of a Sequential or Functional model."""
        if graph.is_symbolic(x):
            return self._call_symbolic(x, training=training, **kwargs)
        if training is None:
            training = bool(tracking.enclosing_training())
        if kwargs:
            raise TypeError(f"Model {self.name!r}: unexpected arguments to __call__. "
                            f"Received: {sorted(kwargs)}")
        xs = [_model_input(a) for a in
              compile_utils.standardize("x", x, self._input_names, "input")]
        self._ensure_built([t.shape for t in xs])
        return self._pack_outputs(self._forward(xs, training))

    def train_on_batch(self, x, y=None, return_dict=False):
        self._check_compiled()
        if y is None:
            raise ValueError("train_on_batch() needs targets `y`. Received: y=None")
        x, y = self._check_data(x, y)
        if distribution_mod.active() is not None:
            distribution_mod.active().begin(self, "train_on_batch", x, y)
        logs = self._run_epoch(x, y, max(len(x[0]), 1), self._train_batch)
        return logs if return_dict else self._as_list(logs)

    def test_on_batch(self, x, y=None, return_dict=False):
        self._check_compiled()
        if y is None:
            raise ValueError("test_on_batch() needs targets `y`. Received: y=None")
        x, y = self._check_data(x, y)
        if distribution_mod.active() is not None:
            distribution_mod.active().begin(self, "test_on_batch", x, y)
        logs = self._run_epoch(x, y, max(len(x[0]), 1), self._test_batch)
        return logs if return_dict else self._as_list(logs)

    # ------------------------------------------------------------ saving
    def save_weights(self, filepath):
        _saving.save_weights(self, filepath)

    def load_weights(self, filepath):
        _saving.load_weights(self, filepath)

    def save(self, filepath):
        _saving.save_model(self, filepath)


# models/saving.py sits above this module (it builds Sequential models from files); it
# registers itself here, so that Model.save / save_weights / load_weights reach it without
# an import cycle (imports go one way: training <- sequential <- saving).
_saving = None


def register_saving(module):
    global _saving
    _saving = module


def _loss_config(loss):
    try:
        return losses_mod.serialize(loss)
    except Exception:  # noqa: BLE001 - a custom loss that cannot be described
        return None


def _structure_config(value):
    """A per-output compile argument as JSON data: names kept, objects serialised."""
    if isinstance(value, dict):
        return {k: _structure_config(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_structure_config(v) for v in value]
    if value is None or isinstance(value, (str, int, float)):
        return value
    return _loss_config(value) if isinstance(value, losses_mod.Loss) else None


def _array_batches(x, y, batch_size, order):
    """``(xs, ys)`` slices of ``batch_size`` samples, in ``order`` if given; under a
    distribution, this process's part of each global batch."""
    n = len(x[0])
    dist = distribution_mod.active()
    for step in range(math.ceil(n / batch_size)):
        idx = slice(step * batch_size, min(n, (step + 1) * batch_size))
        if order is not None:
            idx = order[idx]
        if dist is not None:
            idx = dist.shard(idx)       # this process's part of the global batch
        yield [a[idx] for a in x], [a[idx] for a in y]


def _floats(values):
    return [None if v is None else float(v.item()) for v in values]


def _check_cardinality(xs, ys):
    sizes = {len(a) for a in xs + ys}
    if len(sizes) > 1:
        def fmt(arrays):
            return ", ".join(str(len(a)) for a in arrays)
        raise ValueError("Data cardinality is ambiguous. Make sure all arrays contain the "
                         f"same number of samples. Received: 'x' sizes: {fmt(xs)}"
                         + (f", 'y' sizes: {fmt(ys)}" if ys else ""))


def _model_input(x):
    """One eager model input as a float32 Tensor with a batch axis."""
    if isinstance(x, Tensor):
        return x
    try:
        x = np.asarray(x)
    except (TypeError, ValueError) as e:
        raise ValueError(f"Model inputs must be numeric arrays ({e}). Received: "
                         f"{type(x).__name__}") from None
    if x.dtype.kind not in "biuf" or x.ndim == 0:
        raise ValueError("Model inputs must be real numbers with a batch axis. "
                         f"Received: dtype={x.dtype}, shape {x.shape}")
    return Tensor(x.astype(np.float32, copy=False))


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
