"""``models.clone_model``, ``Model.to_json`` and ``models.model_from_json``, as Keras 3.

A clone has the same architecture and new weights: each layer is made again by
``clone_function`` (default: ``layer.__class__.from_config(layer.get_config())``, so
names are kept, as in Keras). A functional model's graph is rebuilt from its Keras record
(``keras_functional``) with the cloned layers put in place of the originals, so shared
layers stay shared. A model defined by ``call`` is made again from its own config.

``Model.to_json`` (``saving.model_to_json``) is the model's Keras record (what
``config.json`` of a ``.keras`` file holds); ``model_from_json`` reads it back as
untrusted data, like ``load_model``.
"""
import json

from . import keras_compile, keras_config, keras_functional
from .functional import Functional
from .keras_order import keras_layer_order
from .saving import META_MAX_BYTES, _too_deep
from .sequential import Sequential


def _default_clone(layer):
    return layer.__class__.from_config(layer.get_config())


def clone_model(model, input_tensors=None, clone_function=None, call_function=None,
                recursive=False, **kwargs):
    """A new model with ``model``'s architecture and freshly initialised weights."""
    from .training import Model
    if kwargs:
        raise ValueError(f"clone_model: unexpected arguments {sorted(kwargs)}. Received: "
                         f"{kwargs!r}")
    if not isinstance(model, Model):
        raise ValueError("clone_model: `model` must be a Keras Model. Received: "
                         f"model={model!r}")
    for name, value in (("input_tensors", input_tensors), ("call_function", call_function)):
        if value is not None:
            raise ValueError(f"clone_model: `{name}` is not supported by tensorlib; clone "
                             f"the model, then call it on new inputs. Received: "
                             f"{name}={value!r}")
    if clone_function is not None and not callable(clone_function):
        raise ValueError("clone_model: `clone_function` must be callable. Received: "
                         f"clone_function={clone_function!r}")

    def clone(layer):
        if recursive and isinstance(layer, (Sequential, Functional)):
            return clone_model(layer, clone_function=clone_function, recursive=True)
        return (clone_function or _default_clone)(layer)

    if isinstance(model, Sequential):
        new = Sequential(name=model.name)
        if model.built and model.input_shape is not None:
            from ..layers import Input
            new.add(Input(batch_shape=tuple(model.input_shape)))
        for layer in model.layers:
            new.add(clone(layer))
        return new
    if isinstance(model, Functional):
        record = keras_functional.functional_to_keras(model)["config"]
        originals = {layer.name: layer for layer in keras_layer_order(model)}

        def make_layer(entry, index):
            layer = originals.get(entry.get("config", {}).get("name"))
            if layer is None or layer._is_input_layer:
                return None
            return clone(layer)
        return keras_functional.functional_from_keras(record, True, None,
                                                      make_layer=make_layer)
    if clone_function is not None:
        raise ValueError("clone_model: `clone_function` is only supported for Sequential "
                         "and functional models; a subclassed model is cloned from its "
                         f"config. Received: a model of class {type(model).__name__}")
    return model.__class__.from_config(model.get_config())


def model_from_json(json_string, custom_objects=None):
    """A model (new weights) from ``to_json`` text, compiled when the record says so."""
    if not isinstance(json_string, (str, bytes)):
        raise ValueError("model_from_json: `json_string` must be a string. Received: "
                         f"{type(json_string).__name__}")
    if len(json_string) > META_MAX_BYTES:
        raise ValueError(f"model_from_json: the text is larger than {META_MAX_BYTES} bytes. "
                         f"Received: {len(json_string)} bytes")
    try:
        record = json.loads(json_string)
    except (ValueError, RecursionError) as e:
        raise ValueError(f"model_from_json: not valid JSON ({str(e)[:200]}). Received: "
                         f"{str(json_string)[:80]!r}") from None
    if _too_deep(record):
        raise ValueError("model_from_json: the record is nested too deeply. Received: "
                         f"{str(json_string)[:80]!r}")
    try:
        model = keras_config.model_from_keras(record, True, custom_objects)
        keras_compile.compile_from_keras(model, record.get("compile_config"))
    except keras_config.ConfigError as e:
        raise ValueError(f"model_from_json: the record describes a model tensorlib cannot "
                         f"build: {e}") from None
    return model
