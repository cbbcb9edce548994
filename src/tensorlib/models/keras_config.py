"""Keras 3 ``config.json`` records <-> tensorlib models, layers and compile settings.

Reading treats the record as untrusted data: layer classes come from ``KERAS_LAYERS`` (a
fixed table, never a module named in the file), every key of a layer's config is either
mapped to a tensorlib constructor argument or must hold the value that means "feature not
used" (no regularizers, constraints, groups, renorm, LoRA, ...), and a key tensorlib does
not know is refused. Any refusal is a ValueError naming the layer. Nothing in the record
is ever executed: a Python lambda stored by Keras (``"__lambda__"``) is refused, in safe
mode with Keras's advice, and always because tensorlib has no ``Lambda`` layer.

Models: ``model_to_keras`` / ``model_from_keras`` dispatch on the model class. Sequential
is implemented; a functional model's record (``"Functional"``, layers with
``inbound_nodes``) gets its own pair of functions in ``_MODEL_CODECS`` once tensorlib has
functional models; the layer and compile helpers here are shared by both.
"""
import warnings

from .. import activations
from .. import losses as losses_mod
from .. import metrics as metrics_mod
from .. import optimizers as optimizers_mod
from ..layers import LAYER_CLASSES, InputLayer
from .sequential import Sequential

_UNUSED_REG = {"kernel_regularizer": (None,), "bias_regularizer": (None,),
               "activity_regularizer": (None,), "kernel_constraint": (None,),
               "bias_constraint": (None,)}
_CHANNELS_LAST = ("channels_last", None)


class LayerSpec:
    """``args``: Keras config keys passed to the tensorlib constructor; ``fixed``: keys
    whose value must be one of the given ones (the first is what tensorlib writes);
    ``ignored``: keys with no effect once the fixed keys hold; ``unwritten``: fixed keys
    Keras 3.15 leaves out of its own records (read when present, never written)."""

    def __init__(self, args=(), fixed=None, ignored=(), unwritten=()):
        self.args, self.fixed, self.ignored = tuple(args), dict(fixed or {}), set(ignored)
        self.unwritten = set(unwritten)


_CONV_ARGS = ("kernel_size", "strides", "padding", "data_format", "dilation_rate",
              "activation", "use_bias", "kernel_initializer", "bias_initializer")
_POOL = LayerSpec(("pool_size", "strides", "padding", "data_format"))
KERAS_LAYERS = {
    "Dense": LayerSpec(("units", "activation", "use_bias", "kernel_initializer",
                        "bias_initializer"),
                       {**_UNUSED_REG, "quantization_config": (None,), "lora_rank": (None,)},
                       ("lora_alpha",), ("activity_regularizer", "lora_rank")),
    "Conv2D": LayerSpec(("filters",) + _CONV_ARGS,
                        {"groups": (1,), **_UNUSED_REG, "lora_rank": (None,)},
                        ("lora_alpha",), ("lora_rank",)),
    "MaxPooling2D": _POOL,
    "AveragePooling2D": _POOL,
    "GlobalAveragePooling2D": LayerSpec(("data_format", "keepdims")),
    "Flatten": LayerSpec((), {"data_format": _CHANNELS_LAST}),
    "Dropout": LayerSpec(("rate", "seed", "noise_shape")),
    "Activation": LayerSpec(("activation",)),
    "Reshape": LayerSpec(("target_shape",)),
    "BatchNormalization": LayerSpec(
        ("axis", "momentum", "epsilon", "center", "scale", "beta_initializer",
         "gamma_initializer", "moving_mean_initializer", "moving_variance_initializer"),
        {"beta_regularizer": (None,), "gamma_regularizer": (None,),
         "beta_constraint": (None,), "gamma_constraint": (None,), "synchronized": (False,),
         "renorm": (False,), "renorm_clipping": (None,)},
        ("renorm_momentum",)),
}
_COMMON = ("name", "trainable", "dtype")
_INITIALIZERS = {"Zeros": "zeros", "Ones": "ones", "GlorotUniform": "glorot_uniform",
                 "GlorotNormal": "glorot_normal", "HeUniform": "he_uniform",
                 "HeNormal": "he_normal", "LecunNormal": "lecun_normal"}


class ConfigError(ValueError):
    """A refusal of the record; the caller adds the file name."""


def _short(value, limit=120):
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _policy(name):
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": name},
            "registered_name": None}


# ----------------------------------------------------------------- layers: writing
def layer_to_keras(layer, input_shape):
    """The Keras record of a tensorlib layer whose input shape is ``input_shape``."""
    cls = type(layer).__name__
    spec = KERAS_LAYERS.get(cls)
    if spec is None:
        raise ValueError(f"save: layer {layer.name!r} ({cls}) has no Keras 3 equivalent "
                         f"tensorlib can write. Received: layer of class {cls}")
    check_layer_name(layer.name, "save")
    own = layer.get_config()
    config = {"name": layer.name, "trainable": bool(layer.trainable),
              "dtype": _policy(layer.dtype.name)}
    for key in spec.args:
        if key in own:
            config[key] = own[key]
        elif key == "data_format":
            config[key] = "channels_last"
    config.update({key: allowed[0] for key, allowed in spec.fixed.items()
                   if key not in spec.unwritten})
    if cls == "BatchNormalization":
        g, b, mm, mv = layer.inits
        config.update(gamma_initializer=g, beta_initializer=b, moving_mean_initializer=mm,
                      moving_variance_initializer=mv, renorm_momentum=0.99)
    for key, value in config.items():
        if key.endswith("initializer") and not isinstance(value, str):
            raise ValueError(f"save: layer {layer.name!r} has an initializer given as an "
                             f"object; only initializers given by name can be saved. "
                             f"Received: {key}={value!r}")
    return {"module": "keras.layers", "class_name": cls, "config": config,
            "registered_name": None,
            "build_config": {"input_shape": list(input_shape)}}


def check_layer_name(name, func):
    if not isinstance(name, str) or not name or "/" in name or len(name) > 255 \
            or name in (".", ".."):
        raise ConfigError(f"{func}: a layer name must be a non-empty string of at most 255 "
                          f"characters without '/'. Received: name={_short(name)}")


# ----------------------------------------------------------------- layers: reading
def layer_from_keras(entry, index, safe_mode=True):
    """A tensorlib layer from one entry of a Keras ``layers`` list (InputLayer excluded)."""
    cls, config = _entry_parts(entry, index)
    name = config.get("name")
    where = f"layer {index} ({_short(name)}, class {_short(cls)})"
    if cls == "Lambda":
        if safe_mode:
            raise ConfigError(
                f"{where} is a Lambda layer: its function is Python code stored in the file "
                "and loading it would execute that code, which is refused in safe mode. "
                "Only pass safe_mode=False for files you trust; tensorlib has no Lambda "
                "layer, so such a model cannot be loaded either way. Received: "
                "class_name='Lambda'")
    spec = KERAS_LAYERS.get(cls)
    if spec is None or cls not in LAYER_CLASSES:
        raise ConfigError(f"{where} is of a class tensorlib cannot load; supported: "
                          f"{', '.join(sorted(KERAS_LAYERS))}. Received: class_name={cls!r}")
    check_layer_name(name, "load_model")
    kwargs = {"name": name, "trainable": _bool(config.get("trainable", True), where,
                                                "trainable"),
              "dtype": _dtype_name(config.get("dtype"), where)}
    for key, value in config.items():
        if key in _COMMON or key in spec.ignored:
            continue
        if key in spec.fixed:
            if value not in spec.fixed[key] or isinstance(value, bool) != isinstance(
                    spec.fixed[key][0], bool):
                raise ConfigError(f"{where} uses {key}={_short(value)}, which tensorlib does "
                                  f"not support (only {spec.fixed[key][0]!r}). Received: "
                                  f"{key}={_short(value)}")
        elif key in spec.args:
            kwargs[key] = _arg_value(key, value, where)
        else:
            raise ConfigError(f"{where} has the config key {key!r}, unknown to tensorlib "
                              f"(a newer Keras format?). Received: {key}={_short(value)}")
    kwargs = {k: v for k, v in kwargs.items() if v is not _DEFAULT}
    try:
        return LAYER_CLASSES[cls](**kwargs)
    except Exception as e:  # noqa: BLE001 - constructor validation of file values
        raise ConfigError(f"{where} has a config tensorlib cannot build "
                          f"({type(e).__name__}: {str(e)[:200]}). Received: "
                          f"config={_short(config, 300)}") from None


_DEFAULT = object()     # "leave this argument at the constructor's default"


def _entry_parts(entry, index):
    if not isinstance(entry, dict) or not isinstance(entry.get("class_name"), str) \
            or not isinstance(entry.get("config"), dict):
        raise ConfigError(f"layer {index} is not an object with a class_name string and a "
                          f"config object. Received: {_short(entry)}")
    cls = entry["class_name"]
    module, registered = entry.get("module"), entry.get("registered_name")
    custom = (module is not None and not (isinstance(module, str) and
                                          (module == "keras" or module.startswith("keras."))))
    if custom or registered not in (None, cls):
        raise ConfigError(f"layer {index} ({_short(entry['config'].get('name'))}) is a custom "
                          f"class registered outside Keras; tensorlib loads built-in layers "
                          f"only. Received: module={_short(module)}, "
                          f"registered_name={_short(registered)}")
    return cls, entry["config"]


def _bool(value, where, key):
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: {key} must be true or false. Received: "
                          f"{key}={_short(value)}")
    return value


def _dtype_name(value, where):
    if value is None:
        return None
    if isinstance(value, dict) and value.get("class_name") == "DTypePolicy" \
            and isinstance(value.get("config"), dict):
        value = value["config"].get("name")
    if not isinstance(value, str) or value not in ("float16", "float32", "float64"):
        raise ConfigError(f"{where} has a dtype policy tensorlib does not support (float16, "
                          f"float32 or float64 only). Received: dtype={_short(value)}")
    return value


def _arg_value(key, value, where):
    if key.endswith("initializer"):
        return _initializer(value)
    if key == "activation":
        return _activation(value, where)
    return value


def _initializer(value):
    """A built-in initializer name; any other initializer leaves the constructor's default
    (the weights are loaded from the file right after, so it never shows in the values)."""
    if isinstance(value, str):
        return value if value.lower() in _INITIALIZERS.values() else _DEFAULT
    if isinstance(value, dict) and value.get("class_name") in _INITIALIZERS:
        return _INITIALIZERS[value["class_name"]]
    return _DEFAULT


def _activation(value, where):
    if isinstance(value, dict) and isinstance(value.get("config"), str) \
            and value.get("module") in ("keras.activations", "keras.src.activations"):
        value = value["config"]
    if value is None:
        return None
    try:
        activations.get(value if isinstance(value, str) else object())
    except ValueError:
        raise ConfigError(f"{where} uses an activation tensorlib does not have. Received: "
                          f"activation={_short(value)}") from None
    return value


# ----------------------------------------------------------------- models
def model_to_keras(model, compile_config):
    codec = _MODEL_CODECS.get(type(model).__name__)
    if codec is None:
        raise ValueError(f"save: tensorlib writes Sequential models in the Keras format. "
                         f"Received: a model of class {type(model).__name__}")
    record = codec[0](model)
    record["compile_config"] = compile_config or {}
    return record


def model_from_keras(record, safe_mode=True):
    """An uncompiled tensorlib model from a Keras ``config.json`` record."""
    if not isinstance(record, dict) or not isinstance(record.get("config"), dict) \
            or not isinstance(record.get("class_name"), str):
        raise ConfigError("the record is not an object with a class_name string and a "
                          f"config object. Received: {_short(record)}")
    if safe_mode:
        _refuse_lambdas(record)
    codec = _MODEL_CODECS.get(record["class_name"])
    if codec is None:
        raise ConfigError(f"the model is a {_short(record['class_name'])}; tensorlib loads "
                          f"{' and '.join(_MODEL_CODECS)} models from Keras files. Received: "
                          f"class_name={_short(record['class_name'])}")
    return codec[1](record["config"], safe_mode)


def _refuse_lambdas(record):
    stack = [record]
    while stack:
        obj = stack.pop()
        if isinstance(obj, dict):
            if obj.get("class_name") == "__lambda__":
                raise ConfigError("the file holds a Python lambda (class_name '__lambda__'), "
                                  "which is code; tensorlib never runs code from a file in "
                                  "safe mode. Received: class_name='__lambda__'")
            if obj.get("class_name") == "Lambda" and isinstance(obj.get("config"), dict):
                continue            # layer_from_keras names the layer
            stack.extend(obj.values())
        elif isinstance(obj, list):
            stack.extend(obj)


def _sequential_to_keras(model):
    shape = list(model.input_shape)
    first = model.layers[0] if model.layers else None
    dtype = first.dtype.name if first is not None else "float32"
    layers = [{"module": "keras.layers", "class_name": "InputLayer",
               "config": {"batch_shape": shape, "dtype": dtype, "sparse": False,
                          "ragged": False, "name": "input_layer", "optional": False},
               "registered_name": None}]
    current = tuple(model.input_shape)
    for layer in model.layers:
        layers.append(layer_to_keras(layer, current))
        current = layer.output_shape
    return {"module": "keras", "class_name": "Sequential",
            "config": {"name": model.name, "trainable": True, "dtype": _policy("float32"),
                       "layers": layers, "build_input_shape": shape},
            "registered_name": None, "build_config": {"input_shape": shape}}


def _sequential_from_keras(config, safe_mode):
    name = config.get("name", "sequential")
    if not isinstance(name, str) or not 0 < len(name) <= 255:
        raise ConfigError(f"the model name must be a non-empty string. Received: "
                          f"name={_short(name)}")
    entries = config.get("layers")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"config.layers must be a non-empty list. Received: "
                          f"{_short(entries)}")
    model = Sequential(name=name)
    shape = config.get("build_input_shape")
    start = 0
    cls, first = _entry_parts(entries[0], 0)
    if cls == "InputLayer":
        shape = first.get("batch_shape", first.get("batch_input_shape"))
        start = 1
    if shape is not None:
        try:
            if not isinstance(shape, list) or not shape:
                raise ValueError("expected a list [batch, ...]")
            model.add(InputLayer(shape=tuple(shape[1:]), batch_size=shape[0]))
        except Exception as e:  # noqa: BLE001
            raise ConfigError(f"the input shape is not a valid shape ({str(e)[:200]}). "
                              f"Received: batch_shape={_short(shape)}") from None
    for index in range(start, len(entries)):
        layer = layer_from_keras(entries[index], index, safe_mode)
        try:
            model.add(layer)
        except Exception as e:  # noqa: BLE001 - incompatible shapes, duplicate names
            raise ConfigError(f"layer {index} ({layer.name!r}) cannot follow the layers "
                              f"before it ({type(e).__name__}: {str(e)[:200]}). Received: "
                              f"class_name={type(layer).__name__}") from None
    if not model.built:
        raise ConfigError("the record gives no input shape, so the model's weights cannot be "
                          "created. Received: no InputLayer and no build_input_shape")
    return model


_MODEL_CODECS = {"Sequential": (_sequential_to_keras, _sequential_from_keras)}


# ----------------------------------------------------------------- compile
def _keras_object(module, obj):
    config = {k: v for k, v in obj.get_config().items() if k != "dtype" or v is not None}
    return {"module": module, "class_name": type(obj).__name__, "config": config,
            "registered_name": None}


def compile_to_keras(model):
    """Keras's ``compile_config`` for ``model`` ({} when uncompiled). Parts Keras could not
    rebuild (a custom loss, a schedule, a custom metric) are left out with a warning."""
    if not getattr(model, "compiled", False):
        return {}
    opt, loss = model.optimizer, model.loss
    if callable(opt._learning_rate):
        warnings.warn(f"save: the optimizer's learning rate is a schedule, which the Keras "
                      f"format cannot hold; the model is saved without its compile "
                      f"settings. Received: learning_rate={opt._learning_rate!r}")
        return {}
    given = (getattr(model, "compile_config", None) or {}).get("loss")
    if isinstance(given, str):
        loss_record = given
    elif type(loss) in losses_mod.ALL_OBJECTS:
        loss_record = _keras_object("keras.losses", loss)
    else:
        warnings.warn(f"save: the loss {loss!r} is not a built-in Keras loss; the model is "
                      f"saved without its compile settings. Received: loss={loss!r}")
        return {}
    return {"optimizer": _keras_object("keras.optimizers", opt), "loss": loss_record,
            "loss_weights": None, "metrics": metric_records(model),
            "weighted_metrics": None, "run_eagerly": False, "steps_per_execution": 1,
            "jit_compile": False}


def metric_records(model, module="keras.metrics"):
    """The compiled metrics as names and built-in metric objects (dicts)."""
    ids = getattr(model, "_metric_ids", None)
    if isinstance(ids, list) and ids and all(isinstance(i, list) for i in ids):
        ids = ids[0] if len(ids) == 1 else None         # per output; one output here
    if ids is None:
        ids = (getattr(model, "compile_config", None) or {}).get("metrics") or []
    out = []
    for m in ids:
        if isinstance(m, str):
            out.append(m)
        elif isinstance(m, dict):
            out.append(m)
        elif type(m) in metrics_mod.ALL_OBJECTS:
            out.append(_keras_object(module, m))
        else:
            warnings.warn(f"save: the metric {m!r} is not a built-in metric and is not "
                          f"saved. Received: metric={m!r}")
    return out


def compile_from_keras(model, cc):
    """Compile ``model`` as Keras's ``compile_config`` says ({} or None: leave it)."""
    if cc is None or cc == {}:
        return
    if not isinstance(cc, dict):
        raise ConfigError(f"compile_config must be an object. Received: {_short(cc)}")
    for key in ("loss_weights", "weighted_metrics"):
        if cc.get(key) is not None:
            raise ConfigError(f"compile_config uses {key}, which tensorlib does not support; "
                              f"load with compile=False. Received: {key}={_short(cc[key])}")
    metrics = cc.get("metrics")
    if metrics is not None and not (isinstance(metrics, list) and all(
            isinstance(m, (str, dict)) for m in metrics)):
        raise ConfigError("compile_config.metrics must be a list of names and objects. "
                          f"Received: metrics={_short(metrics)}")
    optimizer, loss = cc.get("optimizer"), cc.get("loss")
    try:
        optimizer = optimizers_mod.get(_plain(optimizer, "optimizer"))
        loss = _plain(loss, "loss")
        metrics = [metrics_mod.get(_plain(m, "metric")) if isinstance(m, dict) else m
                   for m in metrics or []]
        model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
    except ConfigError:
        raise
    except Exception as e:  # noqa: BLE001 - unknown names, bad configs
        raise ConfigError(f"compile_config cannot be applied ({type(e).__name__}: "
                          f"{str(e)[:200]}); load with compile=False to skip it. Received: "
                          f"compile_config={_short(cc, 300)}") from None


def _plain(value, what):
    """A Keras ``{"module", "class_name", "config", "registered_name"}`` record as the
    ``{"class_name", "config"}`` dict tensorlib's registries take; names pass through."""
    if isinstance(value, str):
        return value
    if not isinstance(value, dict) or not isinstance(value.get("class_name"), str):
        raise ConfigError(f"compile_config has a {what} that is neither a name nor an object "
                          f"with a class_name. Received: {what}={_short(value)}")
    if value.get("registered_name") not in (None, value["class_name"]):
        raise ConfigError(f"compile_config has a custom {what}; tensorlib loads built-in "
                          f"ones only. Received: registered_name="
                          f"{_short(value['registered_name'])}")
    config = value.get("config") or {}
    if not isinstance(config, dict):
        raise ConfigError(f"compile_config has a {what} whose config is not an object. "
                          f"Received: config={_short(config)}")
    return {"class_name": value["class_name"], "config": dict(config)}
