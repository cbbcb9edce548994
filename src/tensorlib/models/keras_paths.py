"""Where Keras 3 puts each layer's weights in a ``.weights.h5`` file.

Keras walks the object tree from the model: an object's own variables go to
``<path>/vars/<i>`` (trainable first, then non-trainable), then it visits the object's
attributes in sorted order (names starting with ``_`` last), each at ``<path>/<attr>``.
Sequential and functional models list their layers first, as the attribute ``layers``; a
model defined by ``call`` has a ``layers`` attribute too (its tracked layers), visited in
its sorted place. Lists, tuples and dicts of layers are containers: each layer in them is
named after its class in snake case, numbered within the container (``dense``,
``dense_1``), nested containers ``container``, ``container_1``. An object reached twice
keeps its first path. This module computes those paths for a tensorlib model; reading and
writing the file is ``keras_format``'s.
"""
from ..layers.base import Layer, snake_case
from .keras_order import keras_layer_order

# Attributes tensorlib's own classes keep (never a user's sublayers)
_INTERNAL = {"_layers", "_input_layer", "_nodes", "_inbound_nodes", "_graph", "_weights",
             "_metrics", "_losses", "_call_io", "_plan", "optimizer", "history",
             "_keras_build_shape", "_build_input_shape", "_auto_config"}


def is_graph_model(obj):
    from .functional import Functional
    from .sequential import Sequential
    return isinstance(obj, (Functional, Sequential))


def _name_key(name):
    return "~" + name if name.startswith("_") else name


def _children(obj):
    """(attribute name, value) pairs Keras visits after ``obj``'s own variables."""
    from .training import Model
    if isinstance(obj, Model) and is_graph_model(obj):
        return [("layers", keras_layer_order(obj))]
    if not obj._user_defined:
        return []
    attrs = {k: v for k, v in vars(obj).items() if k not in _INTERNAL}
    if isinstance(obj, Model):
        attrs["layers"] = obj.layers
    return [(k, attrs[k]) for k in sorted(attrs, key=_name_key)]


def own_weights(layer):
    """The variables Keras writes at the layer's own ``vars``."""
    from .training import Model
    if hasattr(layer, "_keras_var_groups"):     # kept in sublayer groups (_WeightGroup)
        return []
    if not (layer._user_defined or isinstance(layer, Model)):
        return list(layer.weights)
    own = layer._weights
    return [w for w in own if w.trainable] + [w for w in own if not w.trainable]


def weight_groups(model):
    """[(path, layer)]: every layer and model Keras's walk reaches, in its order, the
    model itself first at path ``""``."""
    out, visited = [], set()

    def visit(obj, path):
        if id(obj) in visited:
            return
        visited.add(id(obj))
        out.append((path, obj))
        if hasattr(obj, "_keras_var_groups"):
            out.extend((f"{path}/{sub}", _WeightGroup(obj, weights))
                       for sub, weights in obj._keras_var_groups())
        for attr, child in _children(obj):
            where = f"{path}/{attr}" if path else attr
            if isinstance(child, Layer):
                visit(child, where)
            elif isinstance(child, (list, tuple, dict)):
                container(child, where, set())

    def container(items, path, seen):
        if id(items) in seen:
            return
        seen.add(id(items))
        used = {}
        for item in (list(items.values()) if isinstance(items, dict) else items):
            if isinstance(item, Layer):
                visit(item, f"{path}/{_unique(snake_case(type(item).__name__), used)}")
            elif isinstance(item, (list, tuple, dict)):
                container(item, f"{path}/{_unique('container', used)}", seen)

    visit(model, "")
    return out


class _WeightGroup:
    """Weights of ``layer`` that Keras keeps in a sublayer of its own (a recurrent
    layer's ``cell``; a Bidirectional's ``forward_layer/cell``, ...: the layer's
    ``_keras_var_groups()``, [(path below the layer, weights)])."""

    _user_defined = False

    def __init__(self, layer, weights):
        self.name, self.weights = layer.name, list(weights)


def _unique(name, used):
    if name in used:
        used[name] += 1
        return f"{name}_{used[name]}"
    used[name] = 0
    return name
