"""``keras.ops`` calls and Python operators on symbolic tensors, recorded in the graph.

In a functional model Keras 3 code writes ``x = keras.ops.add(a, b)``, ``x * 0.5`` or
``x[:, 0]`` between layer calls. Each such call on symbolic tensors becomes a node whose
layer is an ``OpLayer``: it keeps the op (a function on Tensors) and the call's other
arguments (numbers, axes, arrays), and replays the op on data when the model runs.

The output shape is found by running the op on small data: every unknown axis (the batch
axis, or any ``None``) is given size 2 in one run and 3 in another; an output axis that
differs between the runs is unknown. Ops that cannot run on such data (wrong axes,
mismatched shapes) fail here, when the model is built, with the op's own message.
"""
import numpy as np

from .. import graph
from ..autograd import no_grad
from ..tensor import Tensor
from .base import Layer, unique_name


class OpLayer(Layer):
    """One op call in a model graph (not a layer of ``model.layers``, as in Keras)."""

    _is_op = True
    _takes_structure = True

    def __init__(self, fn, name=None):
        super().__init__(name=name or unique_name(fn.__name__))
        self.fn = fn
        self.built = True

    def call(self, args, training=False):
        positional, keywords = args
        return self.fn(*positional, **keywords)

    def get_config(self):
        raise NotImplementedError(
            f"OpLayer.get_config: the op {self.fn.__name__!r} applied to symbolic tensors "
            f"cannot be saved in a model config; wrap it in a Layer subclass with "
            f"get_config. Received: op={self.fn.__name__!r}")


def _sample(t, size):
    shape = tuple(size if d is None else d for d in t.shape)
    return Tensor(np.ones(shape, dtype=t.dtype))


def _run_on_samples(fn, args, kwargs, size):
    leaves = graph.flatten((args, kwargs))
    data = [_sample(t, size) if isinstance(t, graph.SymbolicTensor) else t for t in leaves]
    positional, keywords = graph.pack_like((args, kwargs), data)
    with no_grad(), np.errstate(all="ignore"):
        return fn(*positional, **keywords)


def _output_spec(fn, a, b):
    """The symbolic shape and dtype of an op's output from two sample runs."""
    if not isinstance(a, Tensor):
        raise TypeError(f"keras.ops.{fn.__name__}: on symbolic tensors the op must give one "
                        f"tensor. Received: a result of type {type(a).__name__}")
    if a.ndim != b.ndim:
        shape = None
    else:
        shape = tuple(x if x == y else None for x, y in zip(a.shape, b.shape))
    if shape is None:
        raise ValueError(f"keras.ops.{fn.__name__}: the output rank depends on the batch "
                         f"size. Received: output shapes {a.shape} and {b.shape}")
    return shape, a.dtype


def symbolic_call(fn, args, kwargs):
    """Record ``fn(*args, **kwargs)``, whose arguments hold symbolic tensors, as a graph
    node; returns the symbolic output."""
    a = _run_on_samples(fn, args, kwargs, 2)
    b = _run_on_samples(fn, args, kwargs, 3)
    shape, dtype = _output_spec(fn, a, b)
    layer = OpLayer(fn)
    layer.output_shape = shape
    out = graph.SymbolicTensor(shape, dtype)
    graph.Node(layer, (tuple(args), dict(kwargs)), out)
    return out
