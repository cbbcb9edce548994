"""Keras-compatible utilities (``keras.utils``)."""
import random as _random

import numpy as _np

from ..models.data_adapters import PyDataset, Sequence
from ..models.registry import (custom_object_scope, get_custom_objects,
                               get_registered_name, register_keras_serializable)
from .dataset_utils import split_dataset
from .numerical_utils import normalize, to_categorical
from .sequence_utils import pad_sequences
from .plot import model_to_dot, plot_model


def set_random_seed(seed):
    """Keras's ``set_random_seed``: seed Python's ``random``, NumPy's global generator and
    tensorlib's default generator (weight initialisers, dropout, shuffling)."""
    from ..random import manual_seed
    if isinstance(seed, bool) or not isinstance(seed, (int, _np.integer)) or seed < 0:
        raise ValueError("Expected `seed` argument to be a non-negative integer. Received: "
                         f"seed={seed!r}")
    _random.seed(int(seed))
    _np.random.seed(int(seed) % 2**32)
    manual_seed(int(seed))


__all__ = ["to_categorical", "normalize", "split_dataset", "pad_sequences", "set_random_seed",
           "PyDataset", "Sequence", "plot_model", "model_to_dot",
           "register_keras_serializable", "get_custom_objects", "custom_object_scope",
           "get_registered_name"]
