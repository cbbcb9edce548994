"""Keras-compatible utilities (``keras.utils``)."""
from .numerical_utils import to_categorical

__all__ = ["to_categorical"]
