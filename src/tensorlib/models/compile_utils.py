"""Per-output structure of ``compile`` arguments and of ``fit``/``evaluate``/``predict``
data, as Keras reads them: one entry per model output (inputs for ``x``), given as a
single value, a list in output order, or a dict keyed by output (input) name."""
import numpy as np

from .. import losses as losses_mod
from ..tensor import Tensor


def _check_keys(what, value, names):
    unknown = [k for k in value if k not in names]
    if unknown:
        raise ValueError(f"Unknown entries in the {what} dictionary: {unknown}. Only expected "
                         f"the following keys: {names}. Received: {what}={value!r}")


def per_output_losses(loss, names):
    """A ``Loss`` (or ``None``: no loss for that output) per output. A single loss applies
    to every output, as in Keras. A dict with a ``class_name`` (not an output name) is
    one serialised loss."""
    if isinstance(loss, dict) and not is_config(loss, names):
        _check_keys("loss", loss, names)
        resolved = [losses_mod.get(loss.get(n)) for n in names]
    elif isinstance(loss, (list, tuple)):
        if len(loss) != len(names):
            raise ValueError(f"`loss` should have one entry per model output ({len(names)}: "
                             f"{names}). Received: loss={loss!r} of length {len(loss)}")
        resolved = [losses_mod.get(x) for x in loss]
    else:
        resolved = [losses_mod.get(loss) for _ in names]
    if all(x is None for x in resolved):
        raise ValueError(f"compile() needs a loss for at least one output. Received: "
                         f"loss={loss!r}")
    return resolved


def is_config(value, names):
    return "class_name" in value and "class_name" not in names


def per_output_weights(loss_weights, names):
    if loss_weights is None:
        return [1.0] * len(names)
    if isinstance(loss_weights, dict):
        _check_keys("loss_weights", loss_weights, names)
        values = [loss_weights.get(n, 1.0) for n in names]
    elif isinstance(loss_weights, (list, tuple)):
        if len(loss_weights) != len(names):
            raise ValueError(f"`loss_weights` should have one entry per model output "
                             f"({len(names)}: {names}). Received: "
                             f"loss_weights={loss_weights!r}")
        values = list(loss_weights)
    else:
        values = [loss_weights] * len(names)
    for v in values:
        if isinstance(v, (bool, np.bool_)) or not isinstance(
                v, (int, float, np.integer, np.floating)) or not np.isfinite(v):
            raise ValueError("`loss_weights` must be finite numbers. Received: "
                             f"loss_weights={loss_weights!r}")
    return [float(v) for v in values]


def per_output_metrics(metrics, names, check):
    """A list of metric identifiers per output; ``check`` validates one output's list."""
    n = len(names)
    if metrics is None:
        return [[] for _ in names]
    if isinstance(metrics, dict) and is_config(metrics, names):
        metrics = [metrics]
    if isinstance(metrics, dict):
        _check_keys("metrics", metrics, names)
        return [check(_as_id_list(metrics.get(name))) for name in names]
    if not isinstance(metrics, (list, tuple)):
        raise ValueError("Expected `metrics` argument to be a list, tuple, or dict. "
                         f"Received instead: metrics={metrics} of type {type(metrics)}")
    if n == 1:
        if len(metrics) == 1 and isinstance(metrics[0], (list, tuple)):
            return [check(list(metrics[0]))]
        return [check(metrics)]
    if len(metrics) != n:
        raise ValueError(f"Invalid `metrics`: with several outputs, `metrics` should be a "
                         f"dict keyed by output name or a list with one entry (a metric or "
                         f"a list of metrics) per output: {names}. Received: "
                         f"metrics={metrics!r}")
    return [check(_as_id_list(m)) for m in metrics]


def _as_id_list(m):
    if m is None:
        return []
    return list(m) if isinstance(m, (list, tuple)) else [m]


def is_array_like(v):
    return isinstance(v, (np.ndarray, Tensor)) or hasattr(v, "__array__")


def standardize(what, data, names, kind):
    """``data`` as a list with one entry per model input/output (``kind``), in order."""
    if isinstance(data, dict):
        for name in names:
            if name not in data:
                raise ValueError(f'Missing data for {kind} "{name}". You passed a data '
                                 f"dictionary with keys {sorted(map(str, data))}. Expected "
                                 f"the following keys: {names}. Received: {what} with keys "
                                 f"{sorted(map(str, data))}")
        _check_keys(f"`{what}`", data, names)
        return [data[name] for name in names]
    if len(names) == 1:
        if isinstance(data, (list, tuple)) and len(data) == 1 and is_array_like(data[0]):
            return [data[0]]
        return [data]
    if not isinstance(data, (list, tuple)) or len(data) != len(names):
        got = f"of length {len(data)}" if isinstance(data, (list, tuple)) else \
            f"of type {type(data).__name__}"
        raise ValueError(f"The model has {len(names)} {kind}s {names}: `{what}` should be a "
                         f"list of {len(names)} arrays or a dict keyed by {kind} name. "
                         f"Received: {what} {got}")
    return list(data)


def pack(structure, values, names):
    """``values`` (one per output) shaped like the model's ``outputs`` structure."""
    if isinstance(structure, dict):
        return dict(zip(names, values))
    if isinstance(structure, (list, tuple)):
        return list(values)
    return values[0]
