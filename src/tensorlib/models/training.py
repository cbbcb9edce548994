"""``Model``: compile / fit / evaluate / predict on top of ``call`` (Keras semantics).

Every argument is validated before the first weight changes, so a bad call leaves the
model as it was. Models have one or several inputs and outputs; data, losses, loss weights
and metrics are given per output as Keras reads them (``compile_utils``). A categorical
cross-entropy on a softmax output uses the fused softmax-cross-entropy op on the softmax's
input by itself (losses.py), as Keras does: no layer needs to know. Data-parallel training
over several processes lives in ``tensorlib.distribution``: the loops consult its active
distribution (``dist``) at a few points, and run exactly as alone when there is none.
"""
import numpy as np

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
from ..tensor import Tensor
from . import compile_utils, data_adapters, loops, subclassing


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

    @property
    def metrics_names(self):
        """Keras 3's: [] before compile, "loss", then "compile_metrics" when compile was
        given metrics (the per-metric names are the keys of the logs)."""
        if not getattr(self, "compiled", False):
            return []
        ids = getattr(self, "_metric_ids", None) or []
        return ["loss"] + (["compile_metrics"] if any(ids) else [])

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
                weighted_metrics=None, **kwargs):
        """As Keras's; ``loss`` may be None when the model's loss comes from
        ``add_loss`` (then ``fit(x)`` needs no targets). ``weighted_metrics`` are
        weighted by ``sample_weight`` / ``class_weight``; ``metrics`` are not."""
        if optimizer is None:
            raise ValueError("Could not interpret optimizer identifier: None. Received: "
                             "optimizer=None")
        optimizer = optimizers_mod.get(optimizer)
        if weighted_metrics is not None and not isinstance(weighted_metrics,
                                                           (list, tuple, dict)):
            raise ValueError("Expected `weighted_metrics` argument to be a list, tuple, or "
                             f"dict. Received instead: weighted_metrics={weighted_metrics!r} "
                             f"of type {type(weighted_metrics)}")
        args = (loss, metrics, loss_weights, weighted_metrics)
        if self._output_names is not None:
            self._resolve_compile(optimizer, args)     # checks everything, then assigns
        else:           # a model defined by call, not built yet: per-output parts later
            self._losses = None
        self.optimizer, self._compile_args, self.compiled = optimizer, args, True
        if self._losses is None:
            self.loss = loss

    def _resolve_compile(self, optimizer, args):
        loss, metrics, loss_weights, weighted_metrics = args
        names = self._output_names
        losses = [None] * len(names) if loss is None else \
            compile_utils.per_output_losses(loss, names)
        weights = compile_utils.per_output_weights(loss_weights, names)
        metric_ids = compile_utils.per_output_metrics(metrics, names, _check_metric_ids)
        weighted_ids = compile_utils.per_output_metrics(weighted_metrics, names,
                                                        _check_metric_ids)
        self.loss = losses[0] if len(losses) == 1 else losses
        if loss is None:
            self.loss = None
        self._losses, self._loss_weights = losses, weights
        self._weighted = loss_weights is not None
        self._metric_ids, self._weighted_ids = metric_ids, weighted_ids
        self._metrics = None          # resolved on first use, once shapes are known
        self.compile_config = {
            "optimizer": optimizers_mod.serialize(optimizer),
            "loss": loss if isinstance(loss, str) or loss is None else
            _loss_config(self.loss) if len(losses) == 1 else _structure_config(loss),
            "metrics": [m for m in metric_ids[0] if isinstance(m, str)]
            if len(names) == 1 and not isinstance(metrics, dict)
            else _structure_config(metrics)}
        if loss_weights is not None:
            self.compile_config["loss_weights"] = loss_weights
        if weighted_metrics is not None:
            self.compile_config["weighted_metrics"] = _structure_config(weighted_metrics)

    def _resolve_metrics(self, ys):
        """The metric objects per output: the ``metrics``, then the ``weighted_metrics``
        (``_n_plain[i]`` of output ``i`` are unweighted)."""
        if self._metrics is None:
            ys = ys if ys is not None else [None] * len(self._output_names)
            ids = [a + b for a, b in zip(self._metric_ids, self._weighted_ids)]
            self._n_plain = [len(a) for a in self._metric_ids]
            self._metrics = [
                [metrics_mod.get(m, loss=loss, y_true=y, y_pred=np.empty((0,) + shape[1:]))
                 for m in per_output]
                for per_output, loss, y, shape in zip(ids, self._losses, ys,
                                                      self._output_shapes)]
        return self._metrics

    def _log_names(self):
        """(loss keys per output, metric keys per output) in Keras's naming: with several
        outputs, ``<output>_loss`` and ``<output>_<metric>``; a weighted metric whose name
        is taken is ``weighted_<metric>``."""
        multi = len(self._output_names) > 1
        loss_keys = [f"{n}_loss" if multi and loss is not None else None
                     for n, loss in zip(self._output_names, self._losses)]
        metric_keys, seen = [], set()
        for n, ms, plain in zip(self._output_names, self._metrics, self._n_plain):
            keys = []
            for j, m in enumerate(ms):
                key = f"{n}_{m.name}" if multi else m.name
                if j >= plain and key in seen:
                    key = f"{n}_weighted_{m.name}" if multi else f"weighted_{m.name}"
                elif key in seen:              # a name taken twice: "auc", "auc_1", ...
                    key = next(f"{key}_{i}" for i in range(1, len(seen) + 2)
                               if f"{key}_{i}" not in seen)
                seen.add(key)
                keys.append(key)
            metric_keys.append(keys)
        return loss_keys, metric_keys

    def _needs_targets(self):
        """Whether fit/evaluate need ``y``: not when no output has a compiled loss."""
        losses = self._losses if self._losses is not None else \
            [self._compile_args[0]]
        return any(loss is not None for loss in losses)

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
    def _loss_and_pred(self, xb, yb, training, sw=None):
        layers = self._layer_walk()          # one walk per step, for the penalties
        clear_added_losses(layers)
        outs = self._forward([Tensor(a) for a in xb], training)
        total, per_output, preds = None, [], []
        for i, (out, loss) in enumerate(zip(outs, self._losses)):
            if loss is None:
                value = None
            elif sw is not None and sw[i] is not None:   # Keras: sum(w * l) / batch size
                value = loss(yb[i], out, sample_weight=sw[i])
            else:
                value = loss(yb[i], out)
            preds.append(out.data)
            per_output.append(value)
            if value is not None:
                term = value * self._loss_weights[i] if self._weighted else value
                total = term if total is None else total + term
        for penalty in losses_of(layers):     # regularizers and add_loss, as Keras adds
            total = penalty if total is None else total + penalty
        if total is None:
            raise ValueError("No loss to compute. Provide a `loss` argument in `compile()`. "
                             f"Received: loss=None for model {self.name!r}, whose layers "
                             "added no losses (add_loss) or regularization penalties")
        return total, per_output, preds

    def _train_batch(self, xb, yb, sw=None):
        loss, per_output, y_pred = self._loss_and_pred(xb, yb, True, sw)
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

    def _test_batch(self, xb, yb, sw=None):
        with no_grad():
            loss, per_output, y_pred = self._loss_and_pred(xb, yb, False, sw)
        return float(loss.item()), _floats(per_output), y_pred

    # ------------------------------------------------------------ loops
    def _run_epoch(self, batches, step_fn, on_batch=None, on_batch_begin=None):
        """One pass over ``batches`` (``(xs, ys, sample_weights)`` lists); ``on_batch(step,
        logs)`` may return True to stop. Returns the epoch's logs."""
        with memory_scope():
            return self._run_steps(batches, step_fn, on_batch, on_batch_begin)

    def _run_steps(self, batches, step_fn, on_batch, on_batch_begin):
        dist = distribution_mod.active()
        logs = None
        for step, (xb, yb, sw) in enumerate(batches):
            if logs is None:
                logs = loops.EpochLogs(self, yb)
            if on_batch_begin is not None:
                on_batch_begin(step)
            loss, per_output, y_pred = step_fn(xb, yb, sw) if len(xb[0]) else \
                dist.empty_step(self, step_fn)
            logs.update(len(xb[0]), loss, per_output, yb, y_pred, sw)
            if on_batch is not None and on_batch(step, logs.result()):
                break
        return {} if logs is None else logs.result()

    def _as_list(self, logs):
        """``evaluate``'s list: the loss, per-output losses, then metrics by output."""
        loss_keys, metric_keys = self._log_names()
        keys = ["loss"] + [k for k in loss_keys if k] + [k for ks in metric_keys for k in ks]
        values = [logs[k] for k in keys]
        return values[0] if len(values) == 1 else values

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1, **kwargs):
        return loops.fit(self, x, y, batch_size, epochs, verbose, callbacks,
                         validation_split, validation_data, shuffle, class_weight,
                         sample_weight, initial_epoch, steps_per_epoch, validation_steps,
                         validation_batch_size, validation_freq, kwargs)

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, callbacks=None, return_dict=False, **kwargs):
        return loops.evaluate(self, x, y, batch_size, verbose, sample_weight, steps,
                              callbacks, return_dict, kwargs)

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        return loops.predict(self, x, batch_size, verbose, steps, callbacks)

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

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None,
                       return_dict=False):
        return self._on_batch("train_on_batch", self._train_batch, x, y, sample_weight,
                              class_weight, return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        return self._on_batch("test_on_batch", self._test_batch, x, y, sample_weight, None,
                              return_dict)

    def _on_batch(self, call, step_fn, x, y, sample_weight, class_weight, return_dict):
        self._check_compiled()
        class_weight = data_adapters.check_class_weight(class_weight)
        need_y = self._needs_targets()
        if y is None and need_y:
            raise ValueError(f"{call}() needs targets `y`. Received: y=None")
        data = data_adapters.source(self, x, y, sample_weight, call, None,
                                    class_weight=class_weight, need_y=need_y or None)
        if not isinstance(data, data_adapters.Arrays):
            raise ValueError(f"{call}() takes arrays. Received: x of type "
                             f"{type(x).__name__}")
        if distribution_mod.active() is not None:
            distribution_mod.active().begin(self, call, data.xs, data.ys)
        data.batch_size = max(len(data.xs[0]), 1)
        data.num_batches = 1
        logs = self._run_epoch(data.batches(), step_fn)
        return logs if return_dict else self._as_list(logs)

    # ------------------------------------------------------------ saving
    def save_weights(self, filepath):
        _saving.save_weights(self, filepath)

    def load_weights(self, filepath):
        _saving.load_weights(self, filepath)

    def save(self, filepath):
        _saving.save_model(self, filepath)

    def to_json(self, **kwargs):
        """The model's Keras record as JSON (``models.model_from_json`` reads it)."""
        return _saving.model_to_json(self, **kwargs)


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
