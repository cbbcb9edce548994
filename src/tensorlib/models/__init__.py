"""Keras-compatible models."""
from .training import Model
from .sequential import Sequential
from .functional import Functional
from .saving import load_model
from .cloning import clone_model, model_from_json

__all__ = ["Model", "Sequential", "Functional", "load_model", "clone_model",
           "model_from_json"]
