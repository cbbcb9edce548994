"""Numerical helpers with Keras-compatible signatures."""
import numbers
from typing import Optional

import numpy as np
from numpy.typing import ArrayLike


def to_categorical(x: ArrayLike, num_classes: Optional[int] = None) -> np.ndarray:
    """Converts a class vector (integers) to a binary class matrix.

    Same contract as ``keras.utils.to_categorical``: the class axis is appended
    last, and a trailing axis of size 1 is dropped first, so inputs of shape
    ``(n,)`` and ``(n, 1)`` both give ``(n, num_classes)``.

    Args:
        x: array-like of class indices, integers in ``[0, num_classes)``.
            Floats are accepted only when they hold whole numbers.
        num_classes: total number of classes. ``None`` infers ``max(x) + 1``.

    Returns:
        A float32 NumPy array of shape ``x.shape + (num_classes,)`` (after the
        trailing size-1 axis is dropped).

    Raises:
        ValueError: for labels that are negative, not whole numbers, or not
            smaller than ``num_classes``, and for an invalid ``num_classes``.

    Example:

    >>> to_categorical([0, 1, 2, 3], num_classes=4)
    array([[1., 0., 0., 0.],
           [0., 1., 0., 0.],
           [0., 0., 1., 0.],
           [0., 0., 0., 1.]], dtype=float32)
    """
    if num_classes is not None:
        if (isinstance(num_classes, (bool, np.bool_))
                or not isinstance(num_classes, numbers.Integral) or num_classes < 1):
            raise ValueError(
                "`num_classes` must be a positive integer or None. "
                f"Received: num_classes={num_classes!r}"
            )
        num_classes = int(num_classes)

    x = np.asarray(x)
    if x.dtype == object or not (np.issubdtype(x.dtype, np.integer)
                                 or np.issubdtype(x.dtype, np.floating)
                                 or x.dtype == np.bool_):
        raise ValueError(
            f"`to_categorical` expects integer class indices. Received: dtype={x.dtype}"
        )
    if np.issubdtype(x.dtype, np.floating):
        if not np.all(np.isfinite(x)) or np.any(x != np.floor(x)):
            bad = x[~np.isfinite(x) | (x != np.floor(x))].ravel()[:5]
            raise ValueError(
                "`to_categorical` expects whole-number class indices. "
                f"Received: non-integer values {bad.tolist()}"
            )
    input_shape = x.shape
    # Like Keras: drop a trailing axis of size 1, e.g. (n, 1) -> (n,).
    if len(input_shape) > 1 and input_shape[-1] == 1:
        input_shape = input_shape[:-1]
    x = x.reshape(-1).astype(np.int64)

    if x.size and x.min() < 0:
        raise ValueError(
            "Class indices must be non-negative integers. "
            f"Received: negative values {np.unique(x[x < 0])[:5].tolist()}"
        )
    if num_classes is None:
        if not x.size:
            raise ValueError(
                "Cannot infer `num_classes` from an empty input; pass num_classes. "
                f"Received: x with shape {input_shape}"
            )
        num_classes = int(x.max()) + 1
    elif x.size and x.max() >= num_classes:
        raise ValueError(
            f"Class indices must be smaller than num_classes={num_classes}. "
            f"Received: values {np.unique(x[x >= num_classes])[:5].tolist()}"
        )

    categorical = np.zeros((x.shape[0], num_classes), dtype=np.float32)
    categorical[np.arange(x.shape[0]), x] = 1.0
    return categorical.reshape(tuple(input_shape) + (num_classes,))


def normalize(x, axis=-1, order=2):
    """Keras's ``normalize``: ``x`` divided by its ``order``-norm along ``axis`` (a zero
    norm divides by 1). A Tensor gives a Tensor (differentiable), an array an array."""
    from ..tensor import Tensor
    if isinstance(x, Tensor):
        if order != 2:
            raise ValueError(f"normalize: tensors are normalized by their L2 norm only. "
                             f"Received: order={order!r}")
        norm = (x * x).sum(axis=axis, keepdims=True).sqrt()
        safe = Tensor(np.where(norm.data == 0, 1.0, 0.0).astype(x.dtype))
        return x / (norm + safe)
    x = np.asarray(x)
    if x.dtype.kind not in "fiu":
        raise ValueError(f"normalize: `x` must hold numbers. Received: x.dtype={x.dtype}")
    norm = np.atleast_1d(np.linalg.norm(x, order, axis))
    norm[norm == 0] = 1
    return x / np.expand_dims(norm, axis if axis is not None else -1)
