"""Validation shared by ``Layer.set_weights`` and ``Model.set_weights``: every value is
checked (count, shape, dtype, finiteness) and converted before the first weight changes,
so a bad value anywhere in the list leaves every weight as it was.
"""
import numpy as np

# Real numbers convert to a float weight as Keras converts them (bool, int, uint, float);
# complex, datetime/timedelta, strings, bytes, objects and records do not.
_NUMERIC_KINDS = "biuf"


def checked_weight_values(owner, variables, values):
    """``values`` cast to the dtypes of ``variables`` (new arrays), or ValueError/TypeError.

    ``owner`` names the caller in messages, e.g. ``"Layer 'dense'"``. Each value must have
    the variable's exact shape, a real numeric dtype, and no NaN or infinity once cast to
    the variable's dtype (a float64 1e300 going into a float32 weight counts as infinite).
    """
    try:
        values = list(values)
    except TypeError:
        raise TypeError(f"{owner}: set_weights() expects a list of arrays. Received: "
                        f"weights of type {type(values).__name__}") from None
    if len(values) != len(variables):
        raise ValueError(f"{owner} expects {len(variables)} weights, but the weight list has "
                         f"{len(values)} elements. Received: "
                         f"{[np.shape(v) for v in values]}")
    return [_checked_value(owner, var, value) for var, value in zip(variables, values)]


def _checked_value(owner, var, value):
    try:
        array = np.asarray(value)
    except Exception as e:  # noqa: BLE001 - ragged lists and objects numpy cannot read
        raise ValueError(f"{owner}: weight {var.name!r} must be an array of shape {var.shape}. "
                         f"Received: a value NumPy cannot convert ({e})") from None
    if array.shape != var.shape:
        raise ValueError(f"{owner}: weight {var.name!r} has shape {var.shape}. Received: "
                         f"shape {array.shape}")
    if array.dtype.kind not in _NUMERIC_KINDS:
        raise ValueError(f"{owner}: weight {var.name!r} needs real numbers convertible to "
                         f"{var.dtype}. Received: dtype={array.dtype}")
    with np.errstate(over="ignore", invalid="ignore"):
        converted = array.astype(var.dtype, copy=True)
    bad = converted.size - int(np.count_nonzero(np.isfinite(converted)))
    if bad:
        raise ValueError(f"{owner}: weight {var.name!r} would hold {bad} non-finite value(s) "
                         f"(NaN or infinity) as {var.dtype}. Received: {bad} of "
                         f"{converted.size} entries non-finite")
    return converted
