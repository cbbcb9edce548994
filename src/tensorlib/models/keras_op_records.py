"""``keras.ops`` calls in functional models <-> Keras 3 op records (``config.json``).

Keras 3 lists each op called between layers (``x * 0.5``, ``keras.ops.mean(x, axis=1)``,
``x[:, 0]``) among the model's layers as the record of an ``Operation``: ``module``
``keras.src.ops.numpy`` (``.nn``, ``.core``), ``class_name`` and ``registered_name`` the
op class, ``config`` its name and static arguments (``{"name": "mean", "axis": 1,
"keepdims": false}``), and one inbound node whose ``args`` are the call's other
arguments: tensors as ``__keras_tensor__`` records, numbers as numbers, slices as
``__slice__``, ``...`` as ``__ellipsis__``, arrays as ``__numpy__``.

``OPS`` maps each tensorlib ``keras_ops`` function with a Keras op to that op's module,
class and static config keys. Reading treats the record as untrusted data: only ops of
this table are made, every value is type-checked, nothing is imported or evaluated.
"""
import inspect

import numpy as np

from .. import graph, keras_ops
from ..layers import op_layer
from ..tensor import Tensor
from .keras_config import ConfigError, _short, check_layer_name

_NUMPY, _NN, _CORE = "keras.src.ops.numpy", "keras.src.ops.nn", "keras.src.ops.core"


class OpSpec:
    """A Keras op: its module and class; ``static``: {config key: kind} in Keras's order
    (the tensorlib function takes the same argument names); ``fixed``: config keys Keras
    writes that tensorlib has no argument for, with the one value tensorlib supports."""

    def __init__(self, module, cls, static=(), fixed=None):
        self.module, self.cls = module, cls
        self.static, self.fixed = dict(static), dict(fixed or {})


_REDUCE = (("axis", "axes_or_none"), ("keepdims", "bool"))
OPS = {
    **{n: OpSpec(_NUMPY, c) for n, c in (
        ("add", "Add"), ("subtract", "Subtract"), ("multiply", "Multiply"),
        ("divide", "Divide"), ("true_divide", "TrueDivide"), ("power", "Power"),
        ("maximum", "Maximum"), ("minimum", "Minimum"), ("negative", "Negative"),
        ("square", "Square"), ("sqrt", "Sqrt"), ("exp", "Exp"), ("log", "Log"),
        ("abs", "Absolute"), ("absolute", "Absolute"), ("matmul", "Matmul"),
        ("tanh", "Tanh"), ("get_item", "GetItem"), ("where", "Where"),
        ("greater", "Greater"), ("less", "Less"), ("equal", "Equal"),
        ("not_equal", "NotEqual"))},
    "relu": OpSpec(_NN, "Relu"),
    "sigmoid": OpSpec(_NN, "Sigmoid"),
    "softmax": OpSpec(_NN, "Softmax", (("axis", "int"),)),
    "log_softmax": OpSpec(_NN, "LogSoftmax", (("axis", "int"),)),
    "sum": OpSpec(_NUMPY, "Sum", _REDUCE),
    "mean": OpSpec(_NUMPY, "Mean", _REDUCE),
    "max": OpSpec(_NUMPY, "Max", _REDUCE, {"initial": None}),
    "min": OpSpec(_NUMPY, "Min", _REDUCE, {"initial": None}),
    "reshape": OpSpec(_NUMPY, "Reshape", (("newshape", "shape"),)),
    "transpose": OpSpec(_NUMPY, "Transpose", (("axes", "ints_or_none"),)),
    "expand_dims": OpSpec(_NUMPY, "ExpandDims", (("axis", "int"),)),
    "squeeze": OpSpec(_NUMPY, "Squeeze", (("axis", "int_or_none"),)),
    "concatenate": OpSpec(_NUMPY, "Concatenate", (("axis", "int"),)),
    "stack": OpSpec(_NUMPY, "Stack", (("axis", "int"),)),
    "clip": OpSpec(_NUMPY, "Clip", (("x_min", "number"), ("x_max", "number"))),
    "cast": OpSpec(_CORE, "Cast", (("dtype", "dtype"),)),
}
# Keras op class -> the tensorlib function that reads it (Keras's ``Abs`` too)
FROM_KERAS = {(s.module, s.cls): n for n, s in OPS.items() if n != "abs"}
FROM_KERAS[(_NUMPY, "Abs")] = "abs"
_LIST_ARGS = {"concatenate", "stack"}          # their first argument is a list of tensors
_DTYPES = ("float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8",
           "bool")


def is_op_entry(entry):
    """A record of a Keras op (not a layer): its module is one of ``keras.src.ops``."""
    module = entry.get("module") if isinstance(entry, dict) else None
    return isinstance(module, str) and module.startswith("keras.src.ops.")


def _function(name):
    """The plain (unrecorded) tensorlib function ``keras_ops.<name>``."""
    return getattr(keras_ops, name).__wrapped__


def _name_of(fn):
    name = getattr(fn, "__name__", None)
    return name if name in OPS and _function(name) is fn else None


# ----------------------------------------------------------------- writing
def op_to_keras(layer, nodes, tensor):
    """The Keras record of an ``OpLayer`` whose calls in the model are ``nodes``;
    ``tensor(t)`` is the ``__keras_tensor__`` record of a symbolic tensor."""
    name = _name_of(layer.fn)
    if name is None:
        raise ValueError(f"save: the op {layer.name!r} ({layer.fn.__name__}) has no Keras 3 "
                         f"op class tensorlib can write; supported ops: "
                         f"{', '.join(sorted(OPS))}. Received: op={layer.fn.__name__!r}")
    check_layer_name(layer.name, "save")
    spec, config, records = OPS[name], None, []
    for node in nodes:
        positional, keywords = node.args
        bound = inspect.signature(layer.fn).bind(*positional, **keywords)
        bound.apply_defaults()
        static = {k: _static_value(bound.arguments[k], k, layer) for k in spec.static}
        static.update(spec.fixed)
        if config is not None and static != config:
            raise ValueError(f"save: the op {layer.name!r} is called with different "
                             f"arguments in its calls; a Keras op has one config. Received: "
                             f"{config} and {static}")
        config = static
        args = [v for k, v in bound.arguments.items() if k not in spec.static]
        if name == "get_item":
            args[1] = _key_to_keras(args[1], layer)
        records.append({"args": [_value(v, tensor, layer) for v in args], "kwargs": {}})
    return {"module": spec.module, "class_name": spec.cls,
            "config": {"name": layer.name, **config}, "registered_name": spec.cls,
            "name": layer.name, "inbound_nodes": records}


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _static_value(value, key, layer):
    if key == "dtype":
        return np.dtype(value).name
    value = _plain(value)
    ok = value is None or isinstance(value, (bool, int, float)) or (
        isinstance(value, list) and all(isinstance(v, int) for v in value))
    if not ok:
        raise ValueError(f"save: the op {layer.name!r} ({layer.fn.__name__}) has an argument "
                         f"{key} that a Keras op config cannot hold (a number, a list of "
                         f"ints or None). Received: {key}={value!r}")
    return value


def _key_to_keras(key, layer):
    """An index key as Keras reads it: an int, or a list of ints, slices, ``...`` and
    None (Keras turns the list into a tuple); array (advanced) indexing is refused."""
    items = list(key) if isinstance(key, tuple) else [key]
    for item in items:
        if not (item is None or item is Ellipsis or isinstance(item, slice) or (
                isinstance(item, (int, np.integer)) and not isinstance(item, bool))):
            raise ValueError(f"save: the op {layer.name!r} indexes with {item!r}; a Keras "
                             f"file holds index keys of ints, slices, ... and None only. "
                             f"Received: key={key!r}")
    return key if isinstance(key, (int, np.integer)) else items


def _value(v, tensor, layer):
    if isinstance(v, graph.SymbolicTensor):
        return tensor(v)
    if v is None or isinstance(v, (bool, int, float)):
        return v
    if isinstance(v, np.generic) or (isinstance(v, np.ndarray) and v.ndim == 0):
        return v.item()
    if isinstance(v, (np.ndarray, Tensor)):
        data = v.data if isinstance(v, Tensor) else v
        return {"class_name": "__tensor__" if isinstance(v, Tensor) else "__numpy__",
                "config": {"value": data.tolist(), "dtype": data.dtype.name}}
    if isinstance(v, (list, tuple)):
        return [_value(x, tensor, layer) for x in v]
    if isinstance(v, slice):
        return {"class_name": "__slice__", "config": {
            k: _value(getattr(v, k), tensor, layer) for k in ("start", "stop", "step")}}
    if v is Ellipsis:
        return {"class_name": "__ellipsis__", "config": {}}
    raise ValueError(f"save: the op {layer.name!r} ({layer.fn.__name__}) has an argument "
                     f"of type {type(v).__name__}, which a Keras file cannot hold. Received: "
                     f"{_short(v)}")


# ----------------------------------------------------------------- reading
class OpRecord:
    """A Keras op record being read: each of its nodes becomes a call of the tensorlib
    function (all on one ``OpLayer`` named as the record) when ``_replay`` reaches it."""

    _is_input_layer = False

    def __init__(self, name, fn_name, static, where):
        self.name, self.fn_name, self.static, self.where = name, fn_name, static, where
        self.layer = None

    def resolve(self, node, tensor_of):
        """The node's positional arguments, checked, with tensors from ``tensor_of(keras
        history)``; None while one of its tensors is not made yet."""
        if not isinstance(node, dict) or not isinstance(node.get("args"), list) \
                or node.get("kwargs", {}) != {}:
            raise ConfigError(f"{self.where} has a node that is not {{'args': [...], "
                              f"'kwargs': {{}}}}. Received: {_short(node)}")
        params = [p for p in inspect.signature(_function(self.fn_name)).parameters
                  if p not in OPS[self.fn_name].static]
        args = node["args"]
        if len(args) != len(params):
            raise ConfigError(f"{self.where} has a node with {len(args)} arguments; the op "
                              f"takes {len(params)}. Received: args={_short(args)}")
        reader = _Reader(self.where, tensor_of)
        out = [reader.key(a) if self.fn_name == "get_item" and i == 1
               else reader.tensors(a) if self.fn_name in _LIST_ARGS and i == 0
               else reader.operand(a) for i, a in enumerate(args)]
        if not reader.found:
            raise ConfigError(f"{self.where} has a node that names no tensor. Received: "
                              f"args={_short(args)}")
        return None if reader.missing else out

    def __call__(self, args):
        fn = _function(self.fn_name)
        out = op_layer.symbolic_call(fn, args, dict(self.static), name=self.name,
                                     layer=self.layer)
        self.layer = out.node.layer
        return out


class _Reader:
    def __init__(self, where, tensor_of):
        self.where, self.tensor_of = where, tensor_of
        self.found = self.missing = False

    def refuse(self, what, value):
        raise ConfigError(f"{self.where} has a node argument that is not {what}. Received: "
                          f"{_short(value)}")

    def operand(self, v):
        """A tensor, a number or an array (``__numpy__`` / ``__tensor__``)."""
        if isinstance(v, (bool, int, float)):
            return v
        if isinstance(v, dict) and v.get("class_name") == "__keras_tensor__":
            cfg = v.get("config")
            t = self.tensor_of(cfg.get("keras_history") if isinstance(cfg, dict) else None)
            self.found, self.missing = True, self.missing or t is None
            return t
        if isinstance(v, dict) and v.get("class_name") in ("__numpy__", "__tensor__"):
            return self.array(v)
        return self.refuse("a tensor, a number or an array", v)

    def tensors(self, v):
        if not isinstance(v, list) or not v:
            self.refuse("a non-empty list of tensors", v)
        return [self.operand(x) for x in v]

    def array(self, v):
        cfg = v.get("config")
        if not isinstance(cfg, dict) or cfg.get("dtype") not in _DTYPES \
                or not isinstance(cfg.get("value"), list):
            self.refuse("an array record {value: [...], dtype: a numeric dtype}", v)
        try:
            value = np.asarray(cfg["value"], dtype=cfg["dtype"])
        except (ValueError, TypeError, OverflowError):
            self.refuse("an array of numbers", v)
        return value

    def key(self, v):
        """An index key: an int, or a list of ints, slices, ``...`` and None."""
        if _is_int(v):
            return v
        if not isinstance(v, list):
            self.refuse("an index key (an int or a list)", v)
        return tuple(self.key_item(x) for x in v)

    def key_item(self, v):
        if v is None or _is_int(v):
            return v
        if isinstance(v, dict) and v.get("class_name") == "__ellipsis__":
            return Ellipsis
        if isinstance(v, dict) and v.get("class_name") == "__slice__" \
                and isinstance(v.get("config"), dict):
            parts = [v["config"].get(k) for k in ("start", "stop", "step")]
            if all(p is None or _is_int(p) for p in parts) \
                    and set(v["config"]) <= {"start", "stop", "step"}:
                return slice(*parts)
        return self.refuse("an int, a slice, ... or None", v)


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _static_from_keras(kind, value, key, where):
    ints = isinstance(value, list) and all(_is_int(v) for v in value)
    ok = {"int": _is_int(value),
          "int_or_none": value is None or _is_int(value),
          "axes_or_none": value is None or _is_int(value) or (ints and value),
          "ints_or_none": value is None or ints,
          "shape": _is_int(value) or ints,
          "bool": isinstance(value, bool),
          "number": isinstance(value, (int, float)) and not isinstance(value, bool),
          "dtype": value in _DTYPES}[kind]
    if not ok:
        raise ConfigError(f"{where} has an invalid {key}. Received: {key}={_short(value)}")
    return tuple(value) if isinstance(value, list) else value


def op_from_keras(entry, index):
    """An ``OpRecord`` for a Keras op record (``is_op_entry``); an op class outside
    ``OPS`` or a config tensorlib does not know is a ConfigError naming the layer."""
    module, cls, config = entry.get("module"), entry.get("class_name"), entry.get("config")
    name = config.get("name") if isinstance(config, dict) else None
    where = f"layer {index} ({_short(name)}, op class {_short(cls)})"
    fn_name = FROM_KERAS.get((module, cls))
    if fn_name is None:
        raise ConfigError(f"{where} is a Keras op tensorlib cannot load; supported: "
                          f"{', '.join(sorted({s.cls for s in OPS.values()}))}. Received: "
                          f"class_name={_short(cls)}, module={_short(module)}")
    if not isinstance(config, dict) or entry.get("registered_name", cls) not in (cls, None):
        raise ConfigError(f"{where} is not a Keras op record. Received: {_short(entry)}")
    check_layer_name(name, "load_model")
    spec = OPS[fn_name]
    unknown = sorted(set(config) - {"name"} - set(spec.static) - set(spec.fixed))
    if unknown:
        raise ConfigError(f"{where} has the config key {unknown[0]!r}, unknown to tensorlib. "
                          f"Received: {unknown[0]}={_short(config[unknown[0]])}")
    for key, value in spec.fixed.items():
        if config.get(key, value) is not value:
            raise ConfigError(f"{where} uses {key}={_short(config[key])}, which tensorlib "
                              f"does not support (only {value!r}). Received: "
                              f"{key}={_short(config[key])}")
    params = inspect.signature(_function(fn_name)).parameters
    static = {}
    for key, kind in spec.static.items():
        if key in config:
            static[key] = _static_from_keras(kind, config[key], key, where)
        elif params[key].default is inspect.Parameter.empty:
            raise ConfigError(f"{where} has no {key!r} in its config. Received: "
                              f"config={_short(config)}")
    return OpRecord(name, fn_name, static, where)
