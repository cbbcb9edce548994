"""``Functional``: the model ``Model(inputs, outputs)`` builds from a recorded layer graph.

The graph (``tensorlib.graph.Graph``) is walked once here, at construction, into a
topological list of nodes; every call, ``fit`` step, ``evaluate`` and ``predict`` replays
that list with the layers' own ``call`` (the same kernels as ``Sequential``). Inputs and
outputs may be one tensor, a list or a dict; data for them is given the same way (dicts
keyed by input/output name).
"""
from .. import graph
from ..autograd import is_grad_enabled
from ..layers import mask_flow
from ..layers.base import unique_name
from ..tensor import Tensor
from . import compile_utils, keras_order
from .summary import functional_summary_lines
from .training import Model


def _flat_shapes(shapes):
    """A shape or a nest of shapes (list/dict) as a flat list of shape tuples."""
    if isinstance(shapes, dict):
        return [s for k in sorted(shapes) for s in _flat_shapes(shapes[k])]
    if isinstance(shapes, list) or (isinstance(shapes, tuple) and shapes
                                    and isinstance(shapes[0], (tuple, list, dict))):
        return [s for item in shapes for s in _flat_shapes(item)]
    return [tuple(shapes)]


def _names(structure, tensors, what):
    """Dict keys for dict structures, else the producing layer's name (made unique)."""
    if isinstance(structure, dict):
        return [str(k) for k in sorted(structure)]
    names = []
    for t in tensors:
        base = t.node.layer.name if t.node is not None else t.name
        name, k = base, 1
        while name in names:
            name, k = f"{base}_{k}", k + 1
        names.append(name)
    return names


class Functional(Model):
    def __init__(self, inputs, outputs, name=None, trainable=True, **kwargs):
        if kwargs:
            raise TypeError(f"Model: unrecognized keyword arguments: {sorted(kwargs)}. "
                            f"Received: {kwargs}")
        super().__init__(name=name or unique_name("functional"), trainable=trainable)
        flat_in, flat_out = graph.flatten(inputs), graph.flatten(outputs)
        if not flat_in or not flat_out:
            raise ValueError("Model: `inputs` and `outputs` must each hold at least one "
                             f"symbolic tensor. Received: inputs={inputs!r}, "
                             f"outputs={outputs!r}")
        self._graph = graph.Graph(flat_in, flat_out, where=f"Model {self.name!r}")
        self._inputs_struct, self._outputs_struct = inputs, outputs
        # Keras's order (by depth from the inputs: keras_order.py), which model.layers,
        # get_weights/set_weights, files and summary() share; ops are not layers.
        self._layers = [la for la in keras_order.walk(self)[0]
                        if not la._is_op]
        names = [la.name for la in self._layers]
        for n in names:
            if names.count(n) > 1:
                raise ValueError(f'The name "{n}" is used {names.count(n)} times in the '
                                 f"model. All layer names should be unique. Received: "
                                 f"layer names {names}")
        self._input_names = _names(inputs, flat_in, "input")
        self._output_names = _names(outputs, flat_out, "output")
        self.built = True
        self._build_input_shape = [t.shape for t in flat_in]
        # a layer makes masks: runs pass them on (layers/mask_flow.py), without plans
        self._masked = mask_flow.makes_masks(node.layer for node in self._graph.nodes)

    # ------------------------------------------------------------ structure
    @property
    def layers(self):
        return list(self._layers)

    @property
    def inputs(self):
        return list(self._graph.inputs)

    @property
    def outputs(self):
        return list(self._graph.outputs)

    @property
    def input(self):
        return self._inputs_struct

    @property
    def output(self):
        return self._outputs_struct

    @property
    def input_shape(self):
        shapes = [t.shape for t in self._graph.inputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def output_shape(self):
        shapes = self._output_shapes
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def _output_shapes(self):
        return [t.shape for t in self._graph.outputs]

    @property
    def input_names(self):
        return list(self._input_names)

    @property
    def output_names(self):
        return list(self._output_names)

    # ------------------------------------------------------------ as a layer
    def build_for(self, input_shape):
        self._ensure_built(_flat_shapes(input_shape))
        return self.output_shape

    def compute_output_shape(self, input_shape):
        return self.build_for(input_shape)

    def check_input_shape(self, input_shape):
        self._ensure_built(_flat_shapes(input_shape))

    def _ensure_built(self, shapes):
        expected = [t.shape for t in self._graph.inputs]
        if len(shapes) != len(expected):
            raise ValueError(f"Model {self.name!r} expects {len(expected)} input(s) "
                             f"{self._input_names}, but it received {len(shapes)} input "
                             f"tensors. Received: input shapes {[tuple(s) for s in shapes]}")
        for i, (e, g) in enumerate(zip(expected, shapes)):
            if len(e) != len(g) or any(a is not None and b is not None and a != b
                                       for a, b in zip(e[1:], g[1:])):
                raise ValueError(f'Input {i} ("{self._input_names[i]}") of layer '
                                 f'"{self.name}" is incompatible with the layer: expected '
                                 f"shape={e}, found shape={tuple(g)}. Received: input "
                                 f"shapes {[tuple(s) for s in shapes]}")

    # ------------------------------------------------------------ compute
    def call(self, inputs, training=False):
        """Run the graph on Tensors given like ``inputs`` (a tensor, list or dict);
        returns one Tensor, or a list with one per output."""
        if isinstance(inputs, dict):
            values = compile_utils.standardize("inputs", inputs, self._input_names, "input")
        else:
            values = graph.flatten(inputs)
        outs = self._run_graph(values, training)
        return outs[0] if len(outs) == 1 else outs

    def _run_graph(self, values, training):
        if self._masked:
            return mask_flow.run_graph(self._graph, values, training)
        return self._graph.run(values, training)

    def _forward(self, xs, training):
        if not training and not is_grad_enabled() and not self._masked:
            key = tuple((x.shape[1:], x.dtype) for x in xs)
            plans = self.__dict__.setdefault("_plans", {})
            if key not in plans:
                plans[key] = graph.InferencePlan(self._graph, xs, Tensor)
            return [Tensor(a) for a in plans[key].run([x.data for x in xs])]
        return self._run_graph(xs, training)

    def _pack_outputs(self, values):
        return compile_utils.pack(self._outputs_struct, values, self._output_names)

    def summary(self, line_length=None, positions=None, print_fn=None):
        (print_fn or print)("\n".join(functional_summary_lines(self, line_length, positions)))


Model._functional_class = Functional
