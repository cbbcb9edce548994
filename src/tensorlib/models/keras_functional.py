"""Keras 3's ``"Functional"`` record <-> tensorlib functional models.

Layers are listed in Keras's order (``keras_order``). A layer's record carries
``inbound_nodes``: per call, its argument structure with each tensor as
``{"class_name": "__keras_tensor__", "config": {shape, dtype, "keras_history": [layer
name, node index, tensor index]}}``. Reading rebuilds the graph by
calling each layer on the tensors its nodes name, in rounds, until every node is made; a
reference to a missing layer or a node that never becomes ready is a ValueError.
"""
from .. import graph
from ..layers import InputLayer
from . import keras_config, keras_op_records
from .functional import Functional
from .keras_config import ConfigError, _entry_parts, _short, model_name_and_layers
from .keras_order import walk
from .training import Model

_MODULE = "keras.src.models.functional"
_INPUT_KEYS = {"batch_shape", "batch_input_shape", "dtype", "sparse", "ragged", "name",
               "optional"}
_CALL_KWARGS = {"Dropout": {"training": False}, "BatchNormalization": {"mask": None},
                "Sequential": {"mask": None}, "Functional": {"mask": None}}


def _node_indices(layers, in_model):
    """{id(node): its index among its layer's nodes that belong to the model}."""
    out = {}
    for layer in layers:
        kept = [n for n in layer._inbound_nodes if id(n) in in_model]
        out.update((id(n), k) for k, n in enumerate(kept))
    return out


# ----------------------------------------------------------------- writing
def functional_to_keras(model):
    layers, depths = walk(model)
    index = _node_indices(layers, depths)

    def history(t):
        return [t.node.layer.name, index[id(t.node)], t.index]

    def tensor(t):
        return {"class_name": "__keras_tensor__",
                "config": {"shape": list(t.shape), "dtype": t.dtype.name,
                           "keras_history": history(t)}}

    def structure(s, leaf):
        if isinstance(s, dict):
            return {k: structure(v, leaf) for k, v in s.items()}
        if isinstance(s, (list, tuple)):
            return [structure(v, leaf) for v in s]
        return leaf(s)

    entries = []
    for layer in layers:
        if layer._is_op:     # a keras.ops call: an op record
            entries.append(keras_op_records.op_to_keras(
                layer, [n for n in layer._inbound_nodes if id(n) in depths], tensor))
            continue
        if layer._is_input_layer:
            entry = _input_to_keras(layer)
        elif isinstance(layer, Model):
            entry = keras_config.model_to_keras(layer, {})
        else:
            entry = keras_config.layer_to_keras(layer, layer._build_input_shape)
        kwargs = _CALL_KWARGS.get(type(layer).__name__, {}) \
            if entry["registered_name"] in (None, "Functional") else {}
        entry["name"] = layer.name
        entry["inbound_nodes"] = [
            _state_node(n, structure, tensor, kwargs) if _is_state_call(n) else
            {"args": [structure(n.args, tensor)], "kwargs": dict(kwargs)}
            for n in layer._inbound_nodes if id(n) in depths and not layer._is_input_layer]
        entries.append(entry)
    config = {"name": model.name, "trainable": bool(model.trainable), "layers": entries,
              "input_layers": structure(model._inputs_struct, history),
              "output_layers": structure(model._outputs_struct, history)}
    return {"module": _MODULE, "class_name": "Functional", "config": config,
            "registered_name": "Functional", "build_config": {"input_shape": None}}


# recurrent layers whose call may take symbolic ``initial_state`` / ``mask`` (their nodes
# are packed: (inputs, [], {"initial_state": [...], "mask": m}), layers/recurrent.py)
_STATE_CALLS = {"SimpleRNN", "LSTM", "GRU", "RNN", "Bidirectional"}


def _is_state_call(node):
    return getattr(node, "packed_call", False) and \
        type(node.layer).__name__ in _STATE_CALLS


def _state_node(node, structure, tensor, kwargs):
    """Keras's record of a recurrent call given ``initial_state`` / ``mask``: the
    sequences as the one argument, those tensors as keyword arguments."""
    inputs, _, given = node.args
    return {"args": [structure(inputs, tensor)],
            "kwargs": {**kwargs, **structure(given, tensor)}}


def _state_kwargs(node, name, layers, made):
    """The ``initial_state`` a recorded node passes to a recurrent layer, resolved ({}
    when none; None when one of its tensors is not made yet)."""
    value = node.get("kwargs", {}).get("initial_state")
    if value is None:
        return {}
    states = []
    for s in (value if isinstance(value, list) else [value]):
        cfg = s.get("config") if isinstance(s, dict) and \
            s.get("class_name") == "__keras_tensor__" else None
        if not isinstance(cfg, dict):
            raise ConfigError(f"layer {name!r} has a node whose initial_state is not a list "
                              f"of tensors. Received: initial_state={_short(value)}")
        t = _tensor(cfg.get("keras_history"), layers, made, f"layer {name!r}")
        if t is None:
            return None
        states.append(t)
    return {"initial_state": states}


def _input_to_keras(layer):
    keras_config.check_layer_name(layer.name, "save")
    return {"module": "keras.layers", "class_name": "InputLayer",
            "config": {"batch_shape": list(layer.batch_shape), "dtype": layer.dtype.name,
                       "sparse": False, "ragged": False, "name": layer.name,
                       "optional": False},
            "registered_name": None}


# ----------------------------------------------------------------- reading
def functional_from_keras(config, safe_mode, custom_objects=None, make_layer=None):
    """``make_layer(entry, index)``: a layer to use for a record entry, or None for the
    record's own (``clone_model`` passes its clones; names are the record's)."""
    name, entries = model_name_and_layers(config, "functional")
    layers, pending = {}, {}
    for i, entry in enumerate(entries):
        op = keras_op_records.is_op_entry(entry)      # ops are rebuilt, never cloned
        layer = make_layer(entry, i) if make_layer is not None and not op else None
        if layer is None:
            layer = _layer_from_entry(entry, i, safe_mode, custom_objects)
            if entry.get("name", layer.name) != layer.name:
                raise ConfigError(f"layer {i} is named {_short(entry.get('name'))} but its "
                                  f"config says {layer.name!r}. Received: "
                                  f"name={_short(entry.get('name'))}")
        key = _entry_parts(entry, i)[1].get("name", layer.name) if make_layer else layer.name
        if key in layers:
            raise ConfigError(f"two layers are named {key!r}; layer names must be "
                              f"unique. Received: name={key!r} (layer {i})")
        layers[key] = layer
        nodes = entry.get("inbound_nodes", [])
        if not isinstance(nodes, list):
            raise ConfigError(f"layer {i} ({layer.name!r}) has inbound_nodes that are not a "
                              f"list. Received: inbound_nodes={_short(nodes)}")
        pending[key] = [] if layer._is_input_layer else list(nodes)
    made = {(n, 0): [la.output] for n, la in layers.items() if la._is_input_layer}
    _replay(layers, pending, made)
    try:
        inputs = _structure(config.get("input_layers"), layers, made, "input_layers")
        outputs = _structure(config.get("output_layers"), layers, made, "output_layers")
        model = Functional(inputs, outputs, name=name)
    except ConfigError:
        raise
    except Exception as e:  # noqa: BLE001 - a graph the model constructor refuses
        raise ConfigError(f"the functional graph cannot be built ({type(e).__name__}: "
                          f"{str(e)[:200]}). Received: input_layers="
                          f"{_short(config.get('input_layers'))}, output_layers="
                          f"{_short(config.get('output_layers'))}") from None
    model.trainable = keras_config._bool(config.get("trainable", True), "the model",
                                         "trainable")
    return model


def _layer_from_entry(entry, index, safe_mode, custom_objects):
    cls, config = _entry_parts(entry, index)
    if cls == "InputLayer":
        return _input_from_keras(config, index)
    if keras_op_records.is_op_entry(entry):
        return keras_op_records.op_from_keras(entry, index)
    if cls in keras_config._MODEL_CODECS and not keras_config._is_custom(entry):
        return keras_config.model_from_keras(entry, safe_mode, custom_objects)
    return keras_config.layer_from_keras(entry, index, safe_mode, custom_objects)


_INT_INPUTS = ("int32", "int64", "uint8", "bool")


def _input_from_keras(config, index):
    where = f"layer {index} ({_short(config.get('name'))}, class 'InputLayer')"
    unknown = sorted(set(config) - _INPUT_KEYS)
    if unknown:
        raise ConfigError(f"{where} has the config key {unknown[0]!r}, unknown to tensorlib "
                          f"(a newer Keras format?). Received: {unknown[0]}="
                          f"{_short(config[unknown[0]])}")
    for key in ("sparse", "ragged", "optional"):
        if config.get(key, False) is not False:
            raise ConfigError(f"{where} uses {key}={_short(config[key])}, which tensorlib "
                              f"does not support. Received: {key}={_short(config[key])}")
    keras_config.check_layer_name(config.get("name"), "load_model")
    shape = config.get("batch_shape", config.get("batch_input_shape"))
    try:
        if not isinstance(shape, list) or not shape:
            raise ValueError("expected a list [batch, ...]")
        dtype = config.get("dtype")
        if dtype not in _INT_INPUTS:          # token ids: Keras writes the plain name
            dtype = keras_config._dtype_name(dtype, where)
        return InputLayer(batch_shape=tuple(shape), name=config["name"], dtype=dtype)
    except ConfigError:
        raise
    except Exception as e:  # noqa: BLE001
        raise ConfigError(f"{where} has an invalid input shape ({str(e)[:200]}). "
                          f"Received: batch_shape={_short(shape)}") from None


def _replay(layers, pending, made):
    """Call each layer on the tensors its recorded nodes name, in rounds, until all are
    made; node k of a layer is its k-th call."""
    calls = {n: 0 for n in layers}
    while any(pending.values()):
        progressed = False
        for name, layer in layers.items():
            queue = pending[name]
            while queue:
                if isinstance(layer, keras_op_records.OpRecord):
                    args = layer.resolve(queue[0], lambda h, n=name: _tensor(
                        h, layers, made, f"layer {n!r}"))
                    more = {}
                else:
                    args = _node_args(queue[0], name, layers, made)
                    more = _state_kwargs(queue[0], name, layers, made)
                if args is None or more is None:
                    break
                try:
                    out = layer(args, **more)
                except Exception as e:  # noqa: BLE001 - shapes the layer refuses
                    raise ConfigError(f"layer {name!r} cannot be called on the inputs its "
                                      f"node {calls[name]} names ({type(e).__name__}: "
                                      f"{str(e)[:200]}). Received: "
                                      f"{_short(queue[0], 300)}") from None
                made[(name, calls[name])] = graph.flatten(out)
                calls[name] += 1
                queue.pop(0)
                progressed = True
        if not progressed:
            stuck = next(n for n, q in pending.items() if q)
            raise ConfigError(f"the graph cannot be rebuilt: node {calls[stuck]} of layer "
                              f"{stuck!r} needs tensors no other node makes (a cycle or a "
                              f"missing node). Received: {_short(pending[stuck][0], 300)}")


def _node_args(node, name, layers, made):
    """The node's input structure with tensors resolved, or None if one is not made yet."""
    if not isinstance(node, dict) or not isinstance(node.get("args"), list) \
            or len(node["args"]) != 1 or not isinstance(node.get("kwargs", {}), dict):
        raise ConfigError(f"layer {name!r} has a node that is not {{'args': [inputs], "
                          f"'kwargs': {{...}}}}. Received: {_short(node)}")
    for key, value in node.get("kwargs", {}).items():
        if key == "mask" and isinstance(value, dict):
            derived = _embedding_mask(node, value, layers, made)
            if derived is None:
                return None             # its op node is not made yet
            if derived:
                continue
        if key == "initial_state" and isinstance(value, list):
            continue                    # a recurrent layer's states (_state_kwargs)
        if not (key == "mask" and value is None) and not (key == "training" and
                                                          isinstance(value, bool)):
            raise ConfigError(f"layer {name!r} has a node called with {key}={_short(value)}, "
                              f"which tensorlib does not support. Received: {key}="
                              f"{_short(value)}")
    missing = []

    def resolve(s):
        if isinstance(s, dict) and s.get("class_name") == "__keras_tensor__":
            cfg = s.get("config")
            hist = cfg.get("keras_history") if isinstance(cfg, dict) else None
            t = _tensor(hist, layers, made, f"layer {name!r}")
            if t is None:
                missing.append(hist)
            return t
        if isinstance(s, dict):
            return {k: resolve(v) for k, v in s.items()}
        if isinstance(s, list):
            return [resolve(v) for v in s]
        raise ConfigError(f"layer {name!r} has a node argument that is not a tensor or a "
                          f"list/dict of tensors. Received: {_short(s)}")
    args = resolve(node["args"][0])
    return None if missing else args


def _embedding_mask(node, value, layers, made):
    """Whether a node's ``mask`` argument is the mask of an ``Embedding(mask_zero=True)``
    feeding the node: Keras writes it as ``not_equal(ids, 0)`` of the embedding's input,
    which tensorlib's mask flow computes by itself (None: not made yet)."""
    cfg = value.get("config") if value.get("class_name") == "__keras_tensor__" else None
    hist = cfg.get("keras_history") if isinstance(cfg, dict) else None
    if not isinstance(hist, list) or not hist or hist[0] not in layers:
        return False
    mask = _tensor(hist, layers, made, "a mask argument")
    arg = node["args"][0]
    arg_hist = arg.get("config", {}).get("keras_history") if isinstance(arg, dict) else None
    if mask is None or not isinstance(arg_hist, list) or not arg_hist \
            or arg_hist[0] not in layers:
        return None if mask is None else False
    source = _tensor(arg_hist, layers, made, "a masked input")
    if source is None:
        return None
    op, emb = mask.node, source.node
    if not (op.layer._is_op and op.layer.fn.__name__ == "not_equal"
            and getattr(emb.layer, "mask_zero", False)):
        return False
    (ids, zero), _ = op.args
    return ids is emb.args and not isinstance(zero, graph.SymbolicTensor) and zero == 0


def _tensor(hist, layers, made, where):
    """The tensor a ``keras_history`` triple names, None when its node is not made yet."""
    if not (isinstance(hist, list) and len(hist) == 3 and isinstance(hist[0], str)
            and all(isinstance(i, int) and not isinstance(i, bool) and i >= 0
                    for i in hist[1:])):
        raise ConfigError(f"{where} names a tensor by {_short(hist)}, not [layer name, node "
                          f"index, tensor index]. Received: keras_history={_short(hist)}")
    if hist[0] not in layers:
        raise ConfigError(f"{where} names the layer {_short(hist[0])}, which the model does "
                          f"not have. Received: keras_history={_short(hist)}")
    outs = made.get((hist[0], hist[1]))
    if outs is None:
        return None
    if hist[2] >= len(outs):
        raise ConfigError(f"{where} names output {hist[2]} of layer {hist[0]!r}, which has "
                          f"{len(outs)}. Received: keras_history={_short(hist)}")
    return outs[hist[2]]


def _structure(s, layers, made, what):
    if isinstance(s, list) and len(s) == 3 and isinstance(s[0], str):
        t = _tensor(s, layers, made, what)
        if t is None:
            raise ConfigError(f"{what} names node {s[1]} of layer {s[0]!r}, which the graph "
                              f"does not make. Received: {what}={_short(s)}")
        return t
    if isinstance(s, list) and s:
        return [_structure(v, layers, made, what) for v in s]
    if isinstance(s, dict) and s:
        return {str(k): _structure(v, layers, made, what) for k, v in s.items()}
    raise ConfigError(f"{what} must be [layer name, node index, tensor index], or a "
                      f"non-empty list or dict of them. Received: {what}={_short(s)}")


keras_config.register_model_codec("Functional", functional_to_keras, functional_from_keras)
