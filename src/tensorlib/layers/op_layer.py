"""``keras.ops`` calls and Python operators on symbolic tensors, recorded in the graph.

In a functional model Keras 3 code writes ``x = keras.ops.add(a, b)``, ``x * 0.5`` or
``x[:, 0]`` between layer calls. Each such call on symbolic tensors becomes a node whose
layer is an ``OpLayer``: it keeps the op (a function on Tensors) and the call's other
arguments (numbers, axes, arrays), and replays the op on data when the model runs.

The output shape is found as for a user layer without ``compute_output_shape``
(``tracking.probe_outputs``: two runs on small samples). Ops that cannot run on such data
(wrong axes, mismatched shapes) fail here, when the model is built, with the op's own
message.

In a Keras 3 ``.keras`` file each op is a record of its own among the model's layers
(``models/keras_op_records.py`` writes and reads them); the op's name follows Keras's
(``keras.ops.abs`` makes "absolute").
"""
from .. import graph
from ..tensor import Tensor
from . import tracking
from .base import Layer, unique_name


# Keras names an op after its class (``keras.ops.abs`` makes an ``Absolute`` op,
# "absolute"); every other tensorlib op name is already its Keras op's name.
_KERAS_NAMES = {"abs": "absolute"}


class OpLayer(Layer):
    """One op call in a model graph (not a layer of ``model.layers``, as in Keras)."""

    _is_op = True
    _takes_structure = True

    def __init__(self, fn, name=None):
        super().__init__(name=name or unique_name(_KERAS_NAMES.get(fn.__name__,
                                                                     fn.__name__)))
        self.fn = fn
        self.built = True

    def call(self, args, training=False):
        positional, keywords = args
        return self.fn(*positional, **keywords)

    def get_config(self):
        raise NotImplementedError(
            f"OpLayer.get_config: the op {self.fn.__name__!r} is not a layer; a model "
            f"saves it as a Keras op record (models/keras_op_records.py), and a layer "
            f"config cannot hold it. Received: op={self.fn.__name__!r}")


def symbolic_call(fn, args, kwargs, name=None, layer=None):
    """Record ``fn(*args, **kwargs)``, whose arguments hold symbolic tensors, as a graph
    node; returns the symbolic output (its shape from ``tracking.probe_outputs``). The
    node belongs to a new ``OpLayer`` (named ``name`` if given), or to ``layer``, an
    ``OpLayer`` of ``fn`` called again (a Keras file may record several calls of one op)."""
    if layer is None:
        layer = OpLayer(fn, name=name)
    template, specs = tracking.probe_outputs(layer, lambda xs, **kw: fn(*xs, **kw),
                                             list(args), (), kwargs)
    if not isinstance(template, Tensor):
        raise TypeError(f"keras.ops.{fn.__name__}: on symbolic tensors the op must give one "
                        f"tensor. Received: a result of type {type(template).__name__}")
    layer.output_shape, dtype = specs[0]
    out = graph.SymbolicTensor(layer.output_shape, dtype)
    graph.Node(layer, (tuple(args), dict(kwargs)), out)
    return out
