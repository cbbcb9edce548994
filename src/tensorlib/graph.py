"""The layer graph of functional models: symbolic tensors, nodes and the ordered walk.

``Input`` makes a ``SymbolicTensor`` (shape + dtype, no data). Calling a layer on symbolic
tensors records a ``Node`` (the layer, the call's argument structure, its input and output
tensors); each output tensor remembers the node that made it (``tensor.node``). Nodes are
the one record of the graph. ``Graph(inputs, outputs)`` walks back from the outputs once,
into ``graph.nodes``, a topological order (deterministic: depth-first post-order in the
order outputs and node inputs are given), and ``graph.run`` replays that list on data.

This module sits below ``layers`` and ``models``: it never imports them.
"""
import numpy as np


class SymbolicTensor:
    """A placeholder for a tensor in a model graph: its shape (batch axis ``None``) and
    dtype, and the node that produces it (``None`` for a free tensor)."""

    _count = 0

    def __init__(self, shape, dtype="float32", name=None, node=None, index=0):
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        if name is None:
            SymbolicTensor._count += 1
            name = f"keras_tensor_{SymbolicTensor._count - 1 or ''}".rstrip("_")
        self.name = name
        self.node, self.index = node, index

    ndim = property(lambda self: len(self.shape))

    @property
    def _keras_history(self):
        """Keras's ``(layer, node_index, tensor_index)`` triple."""
        layer = self.node.layer
        return layer, layer._inbound_nodes.index(self.node), self.index

    def __repr__(self):
        return (f"<SymbolicTensor shape={self.shape}, dtype={self.dtype.name}, "
                f"name={self.name}>")

    # Python operators on symbolic tensors record ``keras.ops`` calls: the ``keras_ops``
    # module, above this one, installs itself here when it is imported.
    _ops = None

    def _op(self, name, *args):
        return getattr(SymbolicTensor._ops, name)(*args)

    def __add__(self, o): return self._op("add", self, o)
    def __radd__(self, o): return self._op("add", o, self)
    def __sub__(self, o): return self._op("subtract", self, o)
    def __rsub__(self, o): return self._op("subtract", o, self)
    def __mul__(self, o): return self._op("multiply", self, o)
    def __rmul__(self, o): return self._op("multiply", o, self)
    def __truediv__(self, o): return self._op("true_divide", self, o)
    def __rtruediv__(self, o): return self._op("true_divide", o, self)
    def __matmul__(self, o): return self._op("matmul", self, o)
    def __rmatmul__(self, o): return self._op("matmul", o, self)
    def __pow__(self, o): return self._op("power", self, o)
    def __neg__(self): return self._op("negative", self)
    def __abs__(self): return self._op("abs", self)
    def __getitem__(self, key): return self._op("get_item", self, key)

    def __bool__(self):
        raise TypeError("A symbolic tensor has no value: it cannot be used as a Python bool. "
                        f"Received: {self!r}")


KerasTensor = SymbolicTensor


def flatten(structure):
    """The leaves of a nest of lists, tuples and dicts (dict values in key order)."""
    if isinstance(structure, dict):
        return [leaf for k in sorted(structure) for leaf in flatten(structure[k])]
    if isinstance(structure, (list, tuple)):
        return [leaf for item in structure for leaf in flatten(item)]
    return [structure]


def pack_like(structure, leaves):
    """``structure`` with its leaves replaced, in ``flatten`` order, by ``leaves``."""
    it = iter(leaves)

    def rebuild(s):
        if isinstance(s, dict):
            out = {k: rebuild(s[k]) for k in sorted(s)}
            return {k: out[k] for k in s}
        if isinstance(s, (list, tuple)):
            return type(s)(rebuild(item) for item in s)
        return next(it)
    return rebuild(structure)


def is_symbolic(structure):
    return any(isinstance(t, SymbolicTensor) for t in flatten(structure))


def shapes_of(structure):
    """The structure with each symbolic tensor replaced by its shape."""
    return pack_like(structure, [t.shape for t in flatten(structure)])


class Node:
    """One call of ``layer``: ``args`` is the call's input structure (a tensor, a list or
    a dict of tensors), ``inputs``/``outputs`` the flat tensor lists. Registering the node
    appends it to ``layer._inbound_nodes`` and points each output at it."""

    def __init__(self, layer, args, outputs):
        self.layer, self.args = layer, args
        self.inputs = [t for t in flatten(args) if isinstance(t, SymbolicTensor)]
        self.single_output = not isinstance(outputs, (list, tuple))
        self.outputs = [outputs] if self.single_output else list(outputs)
        for i, t in enumerate(self.outputs):
            t.node, t.index = self, i
        layer._inbound_nodes.append(self)

    @property
    def parents(self):
        return [t.node for t in self.inputs if t.node is not None]

    def __repr__(self):
        return (f"<Node {self.layer.name}: {[t.name for t in self.inputs]} -> "
                f"{[t.name for t in self.outputs]}>")


def _describe(t):
    layer = t.node.layer.name if t.node is not None else "no layer"
    return f"{t.name} (shape={t.shape}, from {layer!r})"


class Graph:
    """The nodes between ``inputs`` and ``outputs`` (flat lists of symbolic tensors),
    ordered once so that every node comes after the nodes producing its inputs."""

    def __init__(self, inputs, outputs, where="Model"):
        self.inputs, self.outputs = list(inputs), list(outputs)
        for kind, ts in (("inputs", self.inputs), ("outputs", self.outputs)):
            bad = [t for t in ts if not isinstance(t, SymbolicTensor)]
            if bad:
                raise ValueError(f"{where}: all {kind} must be symbolic tensors (from "
                                 f"keras.Input or a layer called on one). Received: "
                                 f"{kind} containing {type(bad[0]).__name__} {bad[0]!r}")
        ids = [id(t) for t in self.inputs]
        if len(set(ids)) != len(ids):
            raise ValueError(f"{where}: the same tensor is passed twice in `inputs`. "
                             f"Received: inputs={[t.name for t in self.inputs]}")
        self.nodes = self._ordered_nodes(where)
        self._release = self._release_lists()
        self.layers = []
        for node in self.nodes:
            if not node.layer._is_op \
                    and not any(node.layer is la for la in self.layers):
                self.layers.append(node.layer)

    def _ordered_nodes(self, where):
        input_ids = {id(t) for t in self.inputs}
        order, state = [], {}          # state: 1 = on the stack, 2 = placed
        for out in self.outputs:
            if id(out) in input_ids:
                continue
            stack = [(out, False)]
            while stack:
                t, expanded = stack.pop()
                node = t.node
                if node is None or id(t) in input_ids:
                    continue
                if node.layer._is_input_layer and id(t) not in input_ids:
                    raise ValueError(
                        f"{where}: the graph is disconnected: output "
                        f"{_describe(out)} depends on the input {t.name!r} "
                        f"(from {node.layer.name!r}), which is not among the model's "
                        f"inputs. Received: inputs={[x.name for x in self.inputs]}")
                if expanded:
                    if state.get(id(node)) != 2:
                        state[id(node)] = 2
                        order.append(node)
                    continue
                if state.get(id(node)):
                    continue
                state[id(node)] = 1
                stack.append((t, True))
                for parent in reversed(node.inputs):
                    if id(parent) not in input_ids and parent.node is not None \
                            and not state.get(id(parent.node)):
                        stack.append((parent, False))
                    elif parent.node is None and id(parent) not in input_ids:
                        raise ValueError(
                            f"{where}: output {_describe(out)} is not connected to the "
                            f"inputs: {parent.name!r} has no producing layer. Received: "
                            f"inputs={[x.name for x in self.inputs]}")
        return order

    def _release_lists(self):
        """For each node, the tensors whose last use it is (not the graph's outputs): a
        run drops its reference to them as soon as that node has run."""
        last = {}
        for i, node in enumerate(self.nodes):
            for t in node.inputs:
                last[id(t)] = i
        keep = {id(t) for t in self.outputs}
        release = [[] for _ in self.nodes]
        for key, i in last.items():
            if key not in keep:
                release[i].append(key)
        return release

    def walk(self, values, compute):
        """Run the nodes in order on ``values`` (one per input): ``compute(node, env)``
        gives a node's outputs (a list) from ``env`` ({id(tensor): value}); each
        intermediate value is dropped once the last node that takes it has run."""
        env = {id(t): v for t, v in zip(self.inputs, values)}
        for node, release in zip(self.nodes, self._release):
            outs = compute(node, env)
            for key in release:
                del env[key]
            for t, v in zip(node.outputs, outs):
                env[id(t)] = v
        return [env[id(t)] for t in self.outputs]

    def run(self, values, training=False):
        """Replay the graph on ``values`` (Tensors, one per input)."""
        def compute(node, env):
            out = node.layer._run_node(node, node_args(node, env), training)
            return [out] if node.single_output else out
        return self.walk(values, compute)


def node_args(node, env, wrap=None):
    """The argument structure of ``node``'s call with each symbolic tensor replaced by
    its value in ``env`` (passed through ``wrap`` if given)."""
    def value(t):
        return env[id(t)] if wrap is None else wrap(env[id(t)])
    if isinstance(node.args, SymbolicTensor):
        return value(node.args)
    return pack_like(node.args, [value(t) if isinstance(t, SymbolicTensor) else t
                                 for t in flatten(node.args)])


class InferencePlan:
    """A graph's inference on arrays, planned once for the inputs' shapes (batch axis
    free) and dtypes: each node runs its layer's array function (``_inference_fn``: the
    same backend calls as ``call(x, training=False)``, without autograd records or
    argument checks) when the layer has one for its input, the input has the layer's dtype
    (checked at every run) and the recorded call fixed no argument (such as
    ``training=True``); else the layer's ``call`` on Tensors made from the arrays.
    Intermediate arrays are dropped after their last use, as in ``Graph.run``."""

    def __init__(self, g, values, tensor_cls):
        self.graph, self.tensor_cls = g, tensor_cls
        dtypes = {id(t): v.dtype for t, v in zip(g.inputs, values)}
        self.steps = []
        for node in g.nodes:
            fn = None
            fixed = getattr(node, "call_kwargs", None) or getattr(node, "call_args", None)
            if isinstance(node.args, SymbolicTensor) and node.single_output and not fixed \
                    and None not in node.args.shape[1:] \
                    and dtypes.get(id(node.args)) == node.layer.dtype:
                fn = node.layer._inference_fn(node.args.shape)
            for t in node.outputs:       # a layer's call gives its dtype (checked in run)
                dtypes[id(t)] = t.dtype
            self.steps.append(fn)

    def run(self, arrays):
        """``arrays``: one per graph input; returns one array per graph output."""
        steps = iter(self.steps)

        def compute(node, env):
            fn = next(steps)
            if fn is not None and env[id(node.args)].dtype == node.layer.dtype:
                return [fn(env[id(node.args)])]
            out = node.layer._run_node(node, node_args(node, env, self.tensor_cls), False)
            return [o.data for o in ([out] if node.single_output else out)]
        return self.graph.walk(arrays, compute)
