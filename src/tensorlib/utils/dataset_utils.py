"""``keras.utils.split_dataset`` for in-memory data.

Keras returns ``tf.data`` or ``torch`` datasets; tensorlib has neither and returns the
two parts in the structure it was given (an array, or a list, tuple or dict of arrays of
the same length), which ``fit`` takes directly. The sizes follow Keras: a float is a
fraction of the samples (rounded), an int a count; the left part is the first
``left_size`` samples and the right part the last ``right_size`` (after the optional
shuffle).
"""
import random

import numpy as np


def _sizes(left, right, total):
    for name, value in (("left_size", left), ("right_size", right)):
        if value is not None and type(value) not in (int, float):
            raise TypeError(f"split_dataset: Invalid `{name}` Type. Expected: int or float "
                            f"or None. Received: type({name})={type(value)}")
    if left is None and right is None:
        raise ValueError("At least one of the `left_size` or `right_size` must be "
                         "specified. Received: left_size=None and right_size=None")
    for name, value in (("left_size", left), ("right_size", right)):
        if type(value) is int and not 0 < value < total or \
                type(value) is float and not 0 < value < 1:
            raise ValueError(f"`{name}` should be either a positive integer smaller than "
                             f"{total}, or a float within the range `[0, 1]`. Received: "
                             f"{name}={value}")
    if type(left) is float and type(right) is float and left + right > 1:
        raise ValueError("The sum of `left_size` and `right_size` is greater than 1. It "
                         "must be less than or equal to 1.")
    left = round(left * total) if type(left) is float else left
    right = round(right * total) if type(right) is float else right
    left = total - right if left is None else left
    right = total - left if right is None else right
    if left + right > total:
        raise ValueError(f"The sum of `left_size` and `right_size` should be smaller than "
                         f"the {total}. Received: left_size + right_size = {left + right} "
                         f"and total_length = {total}")
    for split, side in ((left, "left"), (right, "right")):
        if split == 0:
            raise ValueError(f"With `dataset` of length={total}, `left_size`={left} and "
                             f"`right_size`={right}. Resulting {side} side dataset split "
                             "will be empty. Adjust any of the aforementioned parameters")
    return int(left), int(right)


def split_dataset(dataset, left_size=None, right_size=None, shuffle=False, seed=None):
    """Split ``dataset`` (samples on the first axis) into a left and a right part."""
    if isinstance(dataset, dict):
        keys, arrays = list(dataset), [np.asarray(v) for v in dataset.values()]
    elif isinstance(dataset, (list, tuple)):
        keys, arrays = None, [np.asarray(v) for v in dataset]
    else:
        keys, arrays = None, [np.asarray(dataset)]
    if not arrays or any(a.ndim == 0 for a in arrays):
        raise TypeError("split_dataset: `dataset` must be an array or a list, tuple or dict "
                        f"of arrays. Received: dataset of type {type(dataset).__name__}")
    total = len(arrays[0])
    if any(len(a) != total for a in arrays):
        raise ValueError("split_dataset: the arrays of `dataset` must have the same length. "
                         f"Received: lengths {[len(a) for a in arrays]}")
    order = list(range(total))
    if shuffle:
        random.Random(random.randint(0, 10**6) if seed is None else seed).shuffle(order)
    left, right = _sizes(left_size, right_size, total)
    parts = []
    for idx in (order[:left], order[total - right:]):
        taken = [a[idx] for a in arrays]
        if keys is not None:
            parts.append(dict(zip(keys, taken)))
        elif isinstance(dataset, (list, tuple)):
            parts.append(type(dataset)(taken))
        else:
            parts.append(taken[0])
    return parts[0], parts[1]
