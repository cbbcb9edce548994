"""``keras.saving``: whole-model saving and loading (see ``tensorlib.models.saving``) and the
registry of custom classes a Keras file may name (see ``tensorlib.models.registry``)."""
from .models.registry import (CustomObjectScope, custom_object_scope, get_custom_objects,
                              get_registered_name, get_registered_object,
                              register_keras_serializable)
from .models.saving import load_model, save_model

__all__ = ["load_model", "save_model", "register_keras_serializable", "get_custom_objects",
           "custom_object_scope", "CustomObjectScope", "get_registered_name",
           "get_registered_object"]
