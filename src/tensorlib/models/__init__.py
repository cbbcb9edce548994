"""Keras-compatible models."""
from .training import Model
from .sequential import Sequential
from .saving import load_model

__all__ = ["Model", "Sequential", "load_model"]
