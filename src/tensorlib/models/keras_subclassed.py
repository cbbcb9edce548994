"""Keras 3 ``config.json`` records of models defined by their own ``call`` (subclassed
models), both ways.

Keras writes such a model as its class (``class_name``, ``registered_name``), its
``get_config()`` and a ``build_config`` holding the input shape it was first built for
(None for a "functional subclass", whose ``__init__`` builds the graph).
Reading finds the class among ``load_model``'s ``custom_objects`` and the registered
classes (never by importing a module), rebuilds it with ``from_config`` and builds it for
that shape, which creates every weight; ``keras_format`` then reads the weights at the
attribute paths Keras uses (``keras_paths``).
"""
from . import keras_config, keras_paths, registry, subclassing
from .keras_config import ConfigError, _dtype_name, _policy, _shape_list, _short


def _shape_value(record):
    if isinstance(record, dict):
        return {k: _shape_value(v) for k, v in record.items()}
    if isinstance(record, list) and record and isinstance(record[0], list):
        return [_shape_value(s) for s in record]
    return tuple(record)


def subclassed_to_keras(model):
    cls = type(model)
    keras_config.check_layer_name(model.name, "save")
    try:
        config = dict(model.get_config())
    except NotImplementedError as e:
        raise ValueError(f"save: the model {model.name!r} of class {cls.__name__} needs a "
                         f"get_config() returning its constructor arguments ({e}). "
                         f"Received: model of class {cls.__name__}") from None
    if isinstance(config.get("dtype"), str):
        config["dtype"] = _policy(config["dtype"])
    if cls in subclassing._functional_subclasses.values():
        cls = cls.__bases__[0]        # the user's class behind a functional subclass
    record = {"module": None, "class_name": cls.__name__, "config": config,
              "registered_name": registry.get_registered_name(cls)}
    if keras_paths.is_graph_model(model):     # a functional subclass builds in __init__
        record["build_config"] = {"input_shape": None}
        return record
    shape = vars(model).get("_keras_build_shape") or vars(model).get("_build_input_shape")
    if model.built and shape is not None:
        record["build_config"] = {"input_shape": _shape_list(shape)}
    return record


def subclassed_from_keras(record, custom_objects=None):
    from .training import Model
    cls_name, registered = record["class_name"], record.get("registered_name")
    where = f"the model (class {_short(cls_name)})"
    klass = registry.find_class(registered, cls_name, custom_objects)
    if klass is None:
        raise ConfigError(
            f"{where}: could not locate the model class {cls_name!r}. Pass it to "
            f"load_model(custom_objects={{{_short(registered or cls_name)}: cls}}) or "
            "decorate it with @tensorlib.saving.register_keras_serializable(). Received: "
            f"registered_name={_short(registered)}, module={_short(record.get('module'))}")
    if not (isinstance(klass, type) and issubclass(klass, Model)):
        raise ConfigError(f"{where} names {klass!r}, which is not a tensorlib Model class. "
                          f"Received: class_name={_short(cls_name)}")
    config = dict(record["config"])
    if "dtype" in config:
        config["dtype"] = _dtype_name(config["dtype"], where)
    if "name" in config:
        keras_config.check_layer_name(config["name"], "load_model")
    try:
        model = klass.from_config(config)
    except Exception as e:  # noqa: BLE001 - the user's constructor on file values
        raise ConfigError(f"{where} cannot be rebuilt by {klass.__name__}.from_config "
                          f"({type(e).__name__}: {str(e)[:200]}). Received: "
                          f"config={_short(config, 300)}") from None
    if not isinstance(model, Model):
        raise ConfigError(f"{where}: {klass.__name__}.from_config returned "
                          f"{type(model).__name__}, not a Model. Received: {_short(model)}")
    build = record.get("build_config")
    shape = build.get("input_shape") if isinstance(build, dict) else None
    if not model.built:
        if shape is None:
            raise ConfigError(f"{where} has no build_config input shape, so its weights "
                              "cannot be created. Received: "
                              f"build_config={_short(build)}")
        try:
            model.build(_shape_value(shape))
        except Exception as e:  # noqa: BLE001 - the user's build/call on file shapes
            raise ConfigError(f"{where} cannot be built for the input shape "
                              f"{_short(shape)} ({type(e).__name__}: {str(e)[:200]}). "
                              f"Received: build_config={_short(build)}") from None
    return model


keras_config.register_subclassed_codec(subclassed_to_keras, subclassed_from_keras)
