"""``keras.saving``: whole-model saving and loading (see ``tensorlib.models.saving``)."""
from .models.saving import load_model, save_model

__all__ = ["load_model", "save_model"]
