"""Keras 3 ``config.json`` records <-> tensorlib models, layers and compile settings.

Reading treats the record as untrusted data: layer classes come from ``KERAS_LAYERS`` (a
fixed table, never a module named in the file), every key of a layer's config is either
mapped to a tensorlib constructor argument or must hold the value that means "feature not
used" (no regularizers, constraints, groups, renorm, LoRA, ...), and a key tensorlib does
not know is refused. Any refusal is a ValueError naming the layer. Nothing in the record
is ever executed: a Python lambda stored by Keras (``"__lambda__"``) is refused, in safe
mode with Keras's advice, and always because tensorlib has no ``Lambda`` layer.

Custom layers (classes outside this table) are written with their ``get_config()`` and
their registered name (``registry``); reading finds their class among the ``custom_objects``
given to ``load_model`` and the registered classes, never by importing a module.

Models: ``model_to_keras`` / ``model_from_keras`` dispatch on the model class. Sequential
is here; ``keras_functional`` registers the ``"Functional"`` pair; the layer helpers here
are shared by both, and ``keras_compile`` reads and writes the compile settings.
"""
from .. import activations
from ..layers import LAYER_CLASSES, InputLayer, Layer
from . import registry
from .sequential import Sequential

_UNUSED_CONSTRAINTS = {"kernel_constraint": (None,), "bias_constraint": (None,)}
_REGULARIZERS = ("kernel_regularizer", "bias_regularizer", "activity_regularizer")
_CONSTRAINTS = ("kernel_constraint", "bias_constraint")     # Dense, Conv2D apply them
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
              "activation", "use_bias", "kernel_initializer", "bias_initializer") \
    + _REGULARIZERS
_POOL = LayerSpec(("pool_size", "strides", "padding", "data_format"))
KERAS_LAYERS = {
    "Dense": LayerSpec(("units", "activation", "use_bias", "kernel_initializer",
                        "bias_initializer") + _REGULARIZERS + _CONSTRAINTS,
                       {"quantization_config": (None,),
                        "lora_rank": (None,)},
                       ("lora_alpha",), ("activity_regularizer", "lora_rank")),
    "Conv2D": LayerSpec(("filters",) + _CONV_ARGS + _CONSTRAINTS,
                        {"groups": (1,), "lora_rank": (None,)},
                        ("lora_alpha",), ("lora_rank",)),
    "MaxPooling2D": _POOL,
    "AveragePooling2D": _POOL,
    "GlobalAveragePooling2D": LayerSpec(("data_format", "keepdims")),
    "GlobalMaxPooling2D": LayerSpec(("data_format", "keepdims")),
    "Softmax": LayerSpec(("axis",)),
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
    **{cls: LayerSpec() for cls in ("Add", "Subtract", "Multiply", "Average", "Maximum",
                                    "Minimum")},
    "Concatenate": LayerSpec(("axis",)),
    "Dot": LayerSpec(("axes", "normalize")),
}
_COMMON = ("name", "trainable", "dtype")
# Keras writes no build_config for these
_BUILT_AT_INIT = {"MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D",
                  "GlobalMaxPooling2D", "Softmax", "Dropout", "Activation", "Reshape"}
# the convolution family beyond Conv2D (layers/conv1d.py, conv_transpose.py, depthwise.py)
_DEPTHWISE_ARGS = ("depth_multiplier", "kernel_size", "strides", "padding", "data_format",
                   "dilation_rate", "activation", "use_bias", "depthwise_initializer",
                   "bias_initializer", "depthwise_regularizer", "bias_regularizer",
                   "activity_regularizer")
_DEPTHWISE_FIXED = {"depthwise_constraint": (None,), "bias_constraint": (None,)}
KERAS_LAYERS.update({
    "Conv1D": LayerSpec(("filters",) + _CONV_ARGS,
                        {"groups": (1,), **_UNUSED_CONSTRAINTS, "lora_rank": (None,)},
                        ("lora_alpha",), ("lora_rank",)),
    "MaxPooling1D": _POOL,
    "AveragePooling1D": _POOL,
    "GlobalAveragePooling1D": LayerSpec(("data_format", "keepdims")),
    "GlobalMaxPooling1D": LayerSpec(("data_format", "keepdims")),
    "Conv2DTranspose": LayerSpec(("filters", "output_padding") + _CONV_ARGS,
                                 _UNUSED_CONSTRAINTS),
    "DepthwiseConv2D": LayerSpec(_DEPTHWISE_ARGS, _DEPTHWISE_FIXED),
    "SeparableConv2D": LayerSpec(
        ("filters", "pointwise_initializer", "pointwise_regularizer") + _DEPTHWISE_ARGS,
        {**_DEPTHWISE_FIXED, "pointwise_constraint": (None,)}),
})
_BUILT_AT_INIT |= {"MaxPooling1D", "AveragePooling1D", "GlobalAveragePooling1D",
                   "GlobalMaxPooling1D"}
# the image augmentation layers (layers/augmentation.py)
_AFFINE_AUG = ("fill_mode", "interpolation", "seed", "fill_value")
_NO_BOXES = {"bounding_box_format": (None,)}
KERAS_LAYERS.update({
    "RandomFlip": LayerSpec(("data_format", "seed", "mode"), _NO_BOXES,
                            unwritten=("bounding_box_format",)),
    "RandomRotation": LayerSpec(("data_format", "factor") + _AFFINE_AUG, _NO_BOXES,
                                unwritten=("bounding_box_format",)),
    "RandomZoom": LayerSpec(("data_format", "height_factor", "width_factor") + _AFFINE_AUG,
                            _NO_BOXES, unwritten=("bounding_box_format",)),
    "RandomTranslation": LayerSpec(("data_format", "height_factor", "width_factor")
                                   + _AFFINE_AUG, _NO_BOXES,
                                   unwritten=("bounding_box_format",)),
    "RandomContrast": LayerSpec(("data_format", "factor", "value_range", "seed"), _NO_BOXES,
                                unwritten=("bounding_box_format",)),
})
# activation, reshaping, noise and normalisation layers (layers/activation_layers.py,
# reshaping.py, noise.py, layer_normalization.py, preprocessing.py)
KERAS_LAYERS.update({
    "ReLU": LayerSpec(("max_value", "negative_slope", "threshold")),
    "LeakyReLU": LayerSpec(("negative_slope",)),
    "ELU": LayerSpec(("alpha",)),
    "PReLU": LayerSpec(("alpha_initializer", "alpha_regularizer", "alpha_constraint",
                        "shared_axes")),
    "ZeroPadding2D": LayerSpec(("padding", "data_format")),
    "Cropping2D": LayerSpec(("cropping", "data_format")),
    "UpSampling2D": LayerSpec(("size", "data_format", "interpolation")),
    "Permute": LayerSpec(("dims",)),
    "RepeatVector": LayerSpec(("n",)),
    "GaussianNoise": LayerSpec(("stddev", "seed")),
    # Keras's SpatialDropout2D takes no `trainable` (its record has none)
    "SpatialDropout2D": LayerSpec(("rate", "seed", "data_format"), unwritten=("trainable",)),
    "LayerNormalization": LayerSpec(
        ("axis", "epsilon", "center", "scale", "beta_initializer", "gamma_initializer",
         "beta_regularizer", "gamma_regularizer", "beta_constraint", "gamma_constraint"),
        {"rms_scaling": (False,)}),
    "Rescaling": LayerSpec(("scale", "offset")),
    "Normalization": LayerSpec(("axis", "mean", "variance", "invert")),
})
_BUILT_AT_INIT |= {"ReLU", "LeakyReLU", "ELU", "GaussianNoise", "SpatialDropout2D"}
# the embedding, masking and recurrent layers (layers/embedding.py, masking.py,
# recurrent.py); Bidirectional's wrapped layers are records of their own (_arg_value)
_RNN_ARGS = ("units", "activation", "use_bias", "kernel_initializer",
             "recurrent_initializer", "bias_initializer", "kernel_regularizer",
             "recurrent_regularizer", "bias_regularizer", "activity_regularizer",
             "kernel_constraint", "recurrent_constraint", "bias_constraint", "dropout",
             "recurrent_dropout", "return_sequences", "return_state", "go_backwards",
             "stateful", "unroll", "zero_output_for_mask", "seed")
KERAS_LAYERS.update({
    "Embedding": LayerSpec(("input_dim", "output_dim", "embeddings_initializer",
                            "embeddings_regularizer", "activity_regularizer",
                            "embeddings_constraint", "mask_zero"),
                           {"quantization_config": (None,), "lora_rank": (None,)},
                           ("lora_alpha",), ("lora_rank",)),
    "Masking": LayerSpec(("mask_value",)),
    "SimpleRNN": LayerSpec(_RNN_ARGS),
    "LSTM": LayerSpec(_RNN_ARGS + ("recurrent_activation", "unit_forget_bias")),
    "GRU": LayerSpec(_RNN_ARGS + ("recurrent_activation", "reset_after")),
    "Bidirectional": LayerSpec(("merge_mode", "layer", "backward_layer")),
})
# RNN and its built-in cells (layers/rnn_cells.py); the cell is a record of its own
_CELL_ARGS = tuple(k for k in _RNN_ARGS if k not in (
    "activity_regularizer", "return_sequences", "return_state", "go_backwards", "stateful",
    "unroll", "zero_output_for_mask"))
KERAS_LAYERS.update({
    "RNN": LayerSpec(("cell", "return_sequences", "return_state", "go_backwards",
                      "stateful", "unroll", "zero_output_for_mask")),
    "SimpleRNNCell": LayerSpec(_CELL_ARGS),
    "LSTMCell": LayerSpec(_CELL_ARGS + ("recurrent_activation", "unit_forget_bias")),
    "GRUCell": LayerSpec(_CELL_ARGS + ("recurrent_activation", "reset_after")),
    "StackedRNNCells": LayerSpec(("cells",)),
})
_CELL_RECORDS = ("SimpleRNNCell", "LSTMCell", "GRUCell")
_BUILT_AT_INIT |= {"Masking"}
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
    if LAYER_CLASSES.get(cls) is not type(layer):
        return _custom_to_keras(layer, input_shape)
    if spec is None:
        raise ValueError(f"save: layer {layer.name!r} ({cls}) has no Keras 3 equivalent "
                         f"tensorlib can write. Received: layer of class {cls}")
    check_layer_name(layer.name, "save")
    own = layer.get_config()
    config = {"name": layer.name, "trainable": bool(layer.trainable),
              "dtype": _policy(layer.dtype.name)}
    for key in spec.args:
        if key in own and not (key in spec.unwritten and own[key] is None):
            config[key] = own[key]
        elif key == "data_format":
            config[key] = "channels_last"
    config.update({key: allowed[0] for key, allowed in spec.fixed.items()
                   if key not in spec.unwritten})
    for key in spec.unwritten.intersection(_COMMON):
        del config[key]
    if cls == "Bidirectional":         # the wrapped layers as Keras records
        config["layer"] = layer_to_keras(layer.forward_layer, input_shape)
        config["backward_layer"] = layer_to_keras(layer.backward_layer, input_shape)
    if cls == "RNN":                   # the cell as a Keras record, built for one step
        step = None if input_shape is None else (input_shape[0], input_shape[-1])
        config["cell"] = layer_to_keras(layer.cell, step)
    if cls == "StackedRNNCells":       # each cell built for the previous one's output
        config["cells"] = [layer_to_keras(c, getattr(c, "_build_input_shape", None))
                           for c in layer.cells]
    if cls == "BatchNormalization":
        g, b, mm, mv = layer.inits
        config.update(gamma_initializer=g, beta_initializer=b, moving_mean_initializer=mm,
                      moving_variance_initializer=mv, renorm_momentum=0.99)
    for key, value in config.items():
        if key.endswith("initializer") and not isinstance(value, str):
            raise ValueError(f"save: layer {layer.name!r} has an initializer given as an "
                             f"object; only initializers given by name can be saved. "
                             f"Received: {key}={value!r}")
    record = {"module": "keras.layers", "class_name": cls, "config": config,
              "registered_name": None}
    if cls not in _BUILT_AT_INIT:
        record["build_config"] = {"input_shape": _shape_list(input_shape)}
    return record


def _custom_to_keras(layer, input_shape):
    """A layer of a user's class: its ``get_config()``, class and registered names."""
    check_layer_name(layer.name, "save")
    cls = type(layer)
    try:
        config = dict(layer.get_config())
    except NotImplementedError:
        raise ValueError(f"save: layer {layer.name!r} of the custom class {cls.__name__} "
                         "needs a get_config() returning its constructor arguments. "
                         f"Received: layer of class {cls.__name__}") from None
    if isinstance(config.get("dtype"), str):
        config["dtype"] = _policy(config["dtype"])
    return {"module": None, "class_name": cls.__name__, "config": config,
            "registered_name": registry.get_registered_name(cls),
            "build_config": {"input_shape": _shape_list(input_shape)}}


def _shape_list(shape):
    """A shape, or a list/tuple/dict of shapes, as JSON lists."""
    if isinstance(shape, dict):
        return {k: _shape_list(v) for k, v in shape.items()}
    if isinstance(shape, (list, tuple)) and shape and isinstance(shape[0], (list, tuple)):
        return [list(s) for s in shape]
    return list(shape) if shape is not None else None


def check_layer_name(name, func):
    if not isinstance(name, str) or not name or "/" in name or len(name) > 255 \
            or name in (".", ".."):
        raise ConfigError(f"{func}: a layer name must be a non-empty string of at most 255 "
                          f"characters without '/'. Received: name={_short(name)}")


# ----------------------------------------------------------------- layers: reading
def layer_from_keras(entry, index, safe_mode=True, custom_objects=None):
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
    if _is_custom(entry) or cls not in KERAS_LAYERS:
        found = registry.find_class(entry.get("registered_name"), cls, custom_objects)
        if found is not None:
            return _custom_from_keras(found, config, where)
        if _is_custom(entry):
            raise ConfigError(
                f"{where}: could not locate the custom class {cls!r}. Pass it to "
                f"load_model(custom_objects={{{_short(entry.get('registered_name') or cls)}: "
                "cls}) or decorate it with @tensorlib.saving.register_keras_serializable(). "
                f"Received: registered_name={_short(entry.get('registered_name'))}, "
                f"module={_short(entry.get('module'))}")
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
    return entry["class_name"], entry["config"]


def _is_custom(entry):
    """A class from outside Keras: no ``keras`` module, or a registered name of its own."""
    module, registered = entry.get("module"), entry.get("registered_name")
    builtin = isinstance(module, str) and (module == "keras" or module.startswith("keras."))
    return not builtin or registered not in (None, entry["class_name"])


def _custom_from_keras(klass, config, where):
    if not (isinstance(klass, type) and issubclass(klass, Layer)):
        raise ConfigError(f"{where} names {klass!r}, which is not a tensorlib Layer class. "
                          f"Received: {klass!r}")
    check_layer_name(config.get("name"), "load_model")
    config = dict(config)
    if "dtype" in config:
        config["dtype"] = _dtype_name(config["dtype"], where)
    try:
        layer = klass.from_config(config)
    except Exception as e:  # noqa: BLE001 - the user's constructor on file values
        raise ConfigError(f"{where} cannot be rebuilt by {klass.__name__}.from_config "
                          f"({type(e).__name__}: {str(e)[:200]}). Received: "
                          f"config={_short(config, 300)}") from None
    if not isinstance(layer, Layer):
        raise ConfigError(f"{where}: {klass.__name__}.from_config returned "
                          f"{type(layer).__name__}, not a Layer. Received: {_short(layer)}")
    return layer


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
    if key in ("layer", "backward_layer"):     # Bidirectional's wrapped layers
        if value is None and key == "backward_layer":
            return None
        if not isinstance(value, dict) or value.get("class_name") not in (
                "SimpleRNN", "LSTM", "GRU"):
            raise ConfigError(f"{where}: `{key}` must be the record of a SimpleRNN, LSTM or "
                              f"GRU layer. Received: {key}={_short(value)}")
        return layer_from_keras(value, f"{key} of {where}")
    if key == "cell":                           # RNN's cell
        if not isinstance(value, dict) or value.get("class_name") not in \
                _CELL_RECORDS + ("StackedRNNCells",):
            raise ConfigError(f"{where}: `cell` must be the record of a SimpleRNNCell, "
                              f"LSTMCell, GRUCell or StackedRNNCells. Received: "
                              f"cell={_short(value)}")
        return layer_from_keras(value, f"cell of {where}")
    if key == "cells":                          # StackedRNNCells' cells
        if not isinstance(value, list) or not all(
                isinstance(v, dict) and v.get("class_name") in _CELL_RECORDS for v in value):
            raise ConfigError(f"{where}: `cells` must be a list of SimpleRNNCell, LSTMCell "
                              f"or GRUCell records. Received: cells={_short(value)}")
        return [layer_from_keras(v, f"cell {i} of {where}") for i, v in enumerate(value)]
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
    if codec is None and type(model)._user_defined:      # subclassed, functional or not
        record = _SUBCLASSED[0](model)
        record["compile_config"] = compile_config or {}
        return record
    if codec is None:
        raise ValueError(f"save: tensorlib writes {' and '.join(_MODEL_CODECS)} models in "
                         f"the Keras format. Received: a model of class "
                         f"{type(model).__name__}")
    record = codec[0](model)
    record["compile_config"] = compile_config or {}
    return record


def model_from_keras(record, safe_mode=True, custom_objects=None):
    """An uncompiled tensorlib model from a Keras ``config.json`` record."""
    if not isinstance(record, dict) or not isinstance(record.get("config"), dict) \
            or not isinstance(record.get("class_name"), str):
        raise ConfigError("the record is not an object with a class_name string and a "
                          f"config object. Received: {_short(record)}")
    if safe_mode:
        _refuse_lambdas(record)
    codec = _MODEL_CODECS.get(record["class_name"])
    if codec is None and _is_custom(record):
        return _SUBCLASSED[1](record, custom_objects)
    if codec is None:
        raise ConfigError(f"the model is a {_short(record['class_name'])}; tensorlib loads "
                          f"{' and '.join(_MODEL_CODECS)} models from Keras files. Received: "
                          f"class_name={_short(record['class_name'])}")
    return codec[1](record["config"], safe_mode, custom_objects)


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


def model_name_and_layers(config, default):
    """A model config's checked ``name`` and non-empty ``layers`` list."""
    name = config.get("name", default)
    if not isinstance(name, str) or not 0 < len(name) <= 255:
        raise ConfigError(f"the model name must be a non-empty string. Received: "
                          f"name={_short(name)}")
    entries = config.get("layers")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"config.layers must be a non-empty list. Received: "
                          f"{_short(entries)}")
    return name, entries


def _sequential_from_keras(config, safe_mode, custom_objects=None):
    name, entries = model_name_and_layers(config, "sequential")
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
        layer = layer_from_keras(entries[index], index, safe_mode, custom_objects)
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


_SUBCLASSED = [None, None]      # models defined by call: set by keras_subclassed


def register_subclassed_codec(to_keras, from_keras):
    """The record writer and reader of models of users' classes (``keras_subclassed``)."""
    _SUBCLASSED[:] = [to_keras, from_keras]


def register_model_codec(class_name, to_keras, from_keras):
    """Add the record writer and reader of a model class (``keras_functional`` does)."""
    _MODEL_CODECS[class_name] = (to_keras, from_keras)
