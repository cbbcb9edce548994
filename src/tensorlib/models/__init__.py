"""Keras-compatible models."""
from .training import Model
from .sequential import Sequential
from .functional import Functional
from .saving import load_model

__all__ = ["Model", "Sequential", "Functional", "load_model"]
