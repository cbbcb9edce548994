"""``Sequential``: a plain stack of layers, built as soon as its input shape is known."""
from .. import graph
from ..autograd import is_grad_enabled
from ..layers.base import Layer, unique_name
from ..layers.core import InputLayer
from ..layers import LAYER_CLASSES, mask_flow
from .summary import summary_lines
from .training import Model
from ..tensor import Tensor


class Sequential(Model):
    """A stack of layers. Once its input shape is known the model is built and its graph
    recorded (an ``InputLayer`` and one node per layer), so ``model.inputs``,
    ``model.outputs`` and ``layer.output`` work as in Keras; ``call`` runs the stack
    directly."""

    _masked = False     # a layer makes masks: call passes them on (layers/mask_flow.py)

    def __init__(self, layers=None, name=None, trainable=True):
        if name is not None and not isinstance(name, str):
            raise TypeError(f"Sequential: name must be a string. Received: name={name!r}")
        if layers is not None and not isinstance(layers, (list, tuple)):
            raise TypeError("Sequential: layers must be a list of layers. Received: "
                            f"layers={layers!r}")
        super().__init__(name=name or unique_name("sequential"), trainable=trainable)
        self._layers = []
        self.input_shape = None
        self._input_layer = None
        self._nodes = []              # the graph.Node records made by this model's build
        for layer in layers or []:
            self.add(layer)

    # ------------------------------------------------------------ structure
    @property
    def layers(self):
        return list(self._layers)

    def add(self, layer):
        if isinstance(layer, graph.SymbolicTensor) and layer.node is not None \
                and layer.node.layer._is_input_layer:
            layer = layer.node.layer                  # keras.Input(...) as the first entry
        if isinstance(layer, InputLayer):
            if self._layers or self.input_shape is not None:
                raise ValueError("An Input can only be the first layer of a Sequential "
                                 f"model. Received: {layer!r}")
            self.input_shape = layer.batch_input_shape
            self._input_layer = layer
            return
        if not isinstance(layer, Layer):
            raise ValueError("Only instances of `tensorlib.layers.Layer` can be added to a "
                             f"Sequential model. Received: {layer!r} (of type {type(layer)})")
        if any(existing.name == layer.name for existing in self._layers):
            raise ValueError(f"All layers added to a Sequential model should have unique "
                             f"names. Name {layer.name!r} is already the name of a layer in "
                             "this model. Update the `name` argument to pass a unique name.")
        input_shape = self.input_shape
        if not self._layers and input_shape is None and layer.batch_input_shape:
            self.input_shape = layer.batch_input_shape
        self._layers.append(layer)
        if self.input_shape is not None:
            try:
                self.build(self.input_shape)
            except BaseException:       # an incompatible layer leaves the model as it was
                self._layers.pop()
                self.input_shape = input_shape
                if self._layers and input_shape is not None:
                    self.build(input_shape)
                raise

    def pop(self):
        if not self._layers:
            raise IndexError("There are no layers in the model.")
        layer = self._layers.pop()
        self._forget_graph()
        if self._layers and self.input_shape is not None:
            self.build(self.input_shape)
        return layer

    def build(self, input_shape=None):
        shape = tuple(input_shape if input_shape is not None else self.input_shape)
        self.input_shape = (None,) + shape[1:]
        if self._input_layer is None or self._input_layer.batch_shape[1:] != shape[1:]:
            self._input_layer = InputLayer(batch_shape=self.input_shape)
        self._forget_graph()
        x = self._input_layer.output
        for layer in self._layers:
            x = layer(x)
            self._nodes.append(layer._inbound_nodes[-1])
        self._masked = mask_flow.makes_masks(self._layers)
        self.built = True
        self._build_input_shape = self.input_shape
        return x.shape

    def _forget_graph(self):
        """Drop the nodes of this model's previous build from its layers (and the plans
        made for those layers)."""
        self._plans = {}
        for node in self._nodes:
            if node in node.layer._inbound_nodes:
                node.layer._inbound_nodes.remove(node)
        self._nodes = []

    def build_for(self, input_shape):
        input_shape = tuple(input_shape)
        if not self.built or self.input_shape[1:] != input_shape[1:]:
            self.build(input_shape)
        return self.output_shape

    def compute_output_shape(self, input_shape):
        return self.build_for(input_shape)

    def check_input_shape(self, input_shape):
        self.ensure_built(input_shape)

    @property
    def output_shape(self):
        return self._layers[-1].output_shape if self._layers else None

    @property
    def inputs(self):
        return [self._input_layer.output] if self.built else None

    @property
    def outputs(self):
        return [self._nodes[-1].outputs[0]] if self.built and self._nodes else None

    @property
    def input(self):
        return self.inputs[0] if self.built else None

    @property
    def output(self):
        return self.outputs[0] if self.built and self._nodes else None

    # the per-output hooks of Model: one input, one output
    @property
    def _input_names(self):
        return [self._input_layer.name if self._input_layer is not None else "input"]

    @property
    def _output_names(self):
        return [self._layers[-1].name if self._layers else "output"]

    @property
    def _output_shapes(self):
        return [self.output_shape]

    def _forward(self, xs, training):
        if not training and not is_grad_enabled():
            plan = self._inference_plan(xs[0])
            if plan is not None:
                a = xs[0].data
                for fn in plan:
                    a = fn(a)
                return [Tensor(a)]
        return [self.call(xs[0], training=training)]

    # ------------------------------------------------------------ planned inference
    def _inference_plan(self, x):
        """Inference without autograd records or per-call argument checks: each layer's
        array function (Layer._inference_fn), planned once per input shape and dtype (batch
        axis free) and reused; None when a layer has none or its dtype is not the input's
        (the layers then run as usual). Planned or not, the results are the same."""
        key = (x.shape[1:], x.dtype)
        plans = self.__dict__.setdefault("_plans", {})
        if key not in plans:
            plans[key] = self._make_plan((None,) + tuple(x.shape[1:]), x.dtype)
        return plans[key]

    def _make_plan(self, shape, dtype):
        fns = []
        for layer in self._layers:
            fn = layer._inference_fn(shape) if layer.dtype == dtype else None
            if fn is None:
                return None
            fns.append(fn)
            shape = layer.compute_output_shape(shape)
        return fns

    def _ensure_built(self, shapes):
        self.ensure_built(shapes[0])

    # ------------------------------------------------------------ compute
    def call(self, x, training=False):
        if self._masked:
            return mask_flow.sequential_call(self, x, training)
        for layer in self._layers:
            x = layer._run(x, training)
        return x

    def ensure_built(self, x_shape):
        if not self._layers:
            raise ValueError("The Sequential model has no layers: add layers before using it.")
        if not self.built:
            self.build((None,) + tuple(x_shape[1:]))
        expected = self.input_shape
        if len(x_shape) != len(expected) or any(
                e is not None and e != g for e, g in zip(expected[1:], x_shape[1:])):
            raise ValueError(f'Input 0 of layer "{self.name}" is incompatible with the layer: '
                             f"expected shape={expected}, found shape={tuple(x_shape)}")

    def summary(self, line_length=None, positions=None, print_fn=None):
        text = "\n".join(summary_lines(self, line_length))
        (print_fn or print)(text)

    def get_config(self):
        layers = []
        if self.input_shape is not None:
            layers.append({"class_name": "InputLayer",
                           "config": {"shape": list(self.input_shape[1:])}})
        layers += [{"class_name": type(la).__name__, "config": la.get_config()}
                   for la in self._layers]
        return {"name": self.name, "layers": layers}

    @classmethod
    def from_config(cls, config):
        model = cls(name=config["name"])
        for entry in config["layers"]:
            layer_cls = LAYER_CLASSES.get(entry["class_name"])
            if layer_cls is None:
                raise ValueError(f"Unknown layer class in saved model: "
                                 f"{entry['class_name']!r}")
            model.add(layer_cls.from_config(dict(entry["config"])))
        return model

