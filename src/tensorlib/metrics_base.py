"""The base of tensorlib's metrics: Keras 3's ``Metric`` (state in ``add_variable``
variables, ``reset_state``, ``result``), ``Mean``, ``Sum`` and ``MeanMetricWrapper``.
``tensorlib.metrics`` publishes them with the metrics themselves."""
import functools

import numpy as np

from . import initializers
from . import losses as losses_module
from .autograd import no_grad
from .tensor import Tensor


def _np(x):
    if isinstance(x, Tensor):
        return x.data
    return np.asarray(x)


def _match_rank(a, b):
    return losses_module._match_rank(a, b)


def _reduce_to_samplewise(values, sample_weight, reduce=np.mean):
    """Keras's reduce_to_samplewise_values: one value (and weight) per sample, the values
    over the non-batch axes reduced with ``reduce`` (the mean, or the sum for ``Sum``)."""
    values = np.asarray(values, dtype=np.float64)
    if sample_weight is not None:
        sw = np.asarray(sample_weight, dtype=np.float64)
        values, sw = _match_rank(values, sw)
        w_ndim, v_ndim = sw.ndim, values.ndim
        if v_ndim > w_ndim:
            values = reduce(values, axis=tuple(range(w_ndim, v_ndim)))
        try:
            sw = np.broadcast_to(sw, values.shape)
        except ValueError:
            raise ValueError("sample_weight cannot be broadcast to the metric values. "
                             f"Received: sample_weight.shape={np.shape(sample_weight)}, "
                             f"values shape {values.shape}") from None
        values = values * sw
        if w_ndim > 1:
            sw = sw.mean(axis=tuple(range(1, w_ndim)))
        sample_weight = sw
    if values.ndim > 1:
        values = reduce(values, axis=tuple(range(1, values.ndim)))
    return values, sample_weight


class MetricResult(float):
    """A scalar ``result()``: a Python float that also has Keras's ``.numpy()``."""

    def numpy(self):
        return np.float64(self)


def _plain(value):
    """A ``result()`` as logs hold it: a scalar as ``MetricResult``, an array as an
    ndarray, a dict of them as a dict."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    arr = np.asarray(value.data if isinstance(value, Tensor) else value)
    return MetricResult(arr) if arr.ndim == 0 else np.array(arr, dtype=np.float64)


class MetricVariable(Tensor):
    """A metric's state (``Metric.add_variable``): a Tensor, so ``keras.ops`` take it,
    with Keras's ``assign``/``assign_add``/``assign_sub`` (each replaces the value)."""

    def __init__(self, value, name=None):
        super().__init__(np.array(value))
        self.name = name
        self.initial_value = self.data.copy()

    def assign(self, value):
        arr = np.asarray(value.data if isinstance(value, Tensor) else value)
        try:
            self.data = np.broadcast_to(arr, self.data.shape).astype(self.data.dtype)
        except ValueError:
            raise ValueError(f"Variable {self.name!r}: a value of shape {arr.shape} cannot be "
                             f"assigned to a variable of shape {self.data.shape}. Received: "
                             f"value.shape={arr.shape}") from None
        return self

    def assign_add(self, value):
        return self.assign(self.data + _np(value))

    def assign_sub(self, value):
        return self.assign(self.data - _np(value))

    @property
    def value(self):
        return Tensor(self.data.copy())

    def __repr__(self):
        return f"<MetricVariable name={self.name!r} shape={self.shape} value={self.data}>"


class Metric:
    """Base class as Keras 3's: subclasses create state in ``__init__`` with
    ``add_variable``/``add_weight`` and define ``update_state`` and ``result``;
    ``reset_state`` by default resets every variable to its initial value. ``result()``
    comes back as a ``MetricResult`` float (an array for vector results), and
    ``update_state`` runs without recording gradients."""

    def __init__(self, name=None, dtype=None):
        self.name = name or losses_module._snake(type(self).__name__)
        self.dtype = dtype
        self._variables = []

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        own = cls.__dict__
        if "result" in own and not getattr(own["result"], "_plain", False):
            cls.result = _plain_result(own["result"])
        if "update_state" in own and not getattr(own["update_state"], "_plain", False):
            cls.update_state = _no_grad_update(own["update_state"])

    def add_variable(self, shape=(), initializer="zeros", dtype=None, aggregation="sum",
                     name=None):
        """A ``MetricVariable`` of ``shape`` set by ``initializer`` (a name, an
        Initializer or a callable ``(shape, dtype)``), reset to it by ``reset_state``."""
        where = f"Metric {self.name!r}: add_variable()"
        if aggregation not in ("none", "mean", "sum", "only_first_replica", None):
            raise ValueError(f"{where}: invalid `aggregation`. Received: "
                             f"aggregation={aggregation!r}")
        try:
            shape = tuple(int(d) for d in (shape if isinstance(shape, (tuple, list))
                                           else (shape,)))
            init = initializers.get(initializer)
            value = init(shape, np.dtype(dtype or self.dtype or "float32"))
        except (TypeError, ValueError) as e:
            raise ValueError(f"{where}: {e}. Received: shape={shape!r}, "
                             f"initializer={initializer!r}, dtype={dtype!r}") from None
        var = MetricVariable(value, name=name)
        self._variables.append(var)
        return var

    def add_weight(self, shape=(), initializer=None, dtype=None, name=None):
        return self.add_variable(shape, initializer or "zeros", dtype, name=name)

    @property
    def variables(self):
        return list(getattr(self, "_variables", []))

    def update_state(self, *args, **kwargs):
        raise NotImplementedError

    def result(self):
        raise NotImplementedError

    def reset_state(self):
        for v in self.variables:
            v.assign(v.initial_value)

    def __call__(self, *args, **kwargs):
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r}>"


def _plain_result(fn):
    @functools.wraps(fn)
    def result(self):
        return _plain(fn(self))
    result._plain = True
    return result


def _no_grad_update(fn):
    @functools.wraps(fn)
    def update_state(self, *args, **kwargs):
        with no_grad():
            return fn(self, *args, **kwargs)
    update_state._plain = True
    return update_state


class Mean(Metric):
    """Weighted running mean of the values passed to ``update_state``."""

    def __init__(self, name="mean", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.reset_state()

    def update_state(self, values, sample_weight=None):
        values = _np(values)
        sample_weight = None if sample_weight is None else _np(sample_weight)
        values, sample_weight = _reduce_to_samplewise(values, sample_weight)
        self.total += float(np.sum(values))
        if sample_weight is not None:
            self.count += float(np.sum(sample_weight))
        else:
            self.count += float(values.shape[0]) if values.ndim >= 1 else 1.0

    def reset_state(self):
        self.total = 0.0
        self.count = 0.0

    def result(self):
        return self.total / self.count if self.count else 0.0


class Sum(Metric):
    """Weighted running sum of the values passed to ``update_state`` (Keras's ``Sum``)."""

    def __init__(self, name="sum", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.reset_state()

    def update_state(self, values, sample_weight=None):
        sample_weight = None if sample_weight is None else _np(sample_weight)
        values, _ = _reduce_to_samplewise(_np(values), sample_weight, reduce=np.sum)
        self.total += float(np.sum(values))

    def reset_state(self):
        self.total = 0.0

    def result(self):
        return self.total


class MeanMetricWrapper(Mean):
    """The running mean of ``fn(y_true, y_pred, **kwargs)`` (per-sample values)."""

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        super().__init__(name=name or getattr(fn, "__name__", None) or "mean_metric_wrapper",
                         dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs
        if fn in losses_module.ALL_OBJECTS or isinstance(fn, losses_module.Loss):
            self._direction = "down"

    def update_state(self, y_true, y_pred, sample_weight=None):
        with no_grad():
            values = self._fn(y_true, y_pred, **self._fn_kwargs)
        super().update_state(_np(values), sample_weight=sample_weight)

    def get_config(self):
        return {**super().get_config(), "fn": getattr(self._fn, "__name__", self._fn),
                **self._fn_kwargs}
