"""Models defined by their own ``call`` (Keras's subclassed models), and Keras's
"functional subclass" form.

A model class that writes ``call`` learns its input structure (one tensor, a list or
tuple of tensors, or a dict) from the first data it is given, or from
``model.build(input_shape)``. It builds by running ``call`` on probe samples
(``layers.tracking.probe_outputs``): that builds every sublayer and gives the output
structure and shapes that ``compile``, ``fit`` and ``predict`` need. Outputs are named by
their dict keys, else ``output_1``, ``output_2``, ... (a single output: ``output``); data,
losses and metrics are then given per output as for functional models. Its layers are the
layers held in its attributes (``layers.tracking.attribute_layers``).

A model subclass whose ``__init__`` calls ``super().__init__(inputs=..., outputs=...)``
becomes a functional model: its object takes a class derived from both its own class and
``Functional`` (its own methods first), as Keras 3 does.
"""
from .. import graph
from ..layers import tracking
from ..layers.base import Layer
from ..tensor import Tensor
from .summary import format_shape, summary_lines


class CallIO:
    """The input and output structure of a model defined by its ``call``: ``kind`` is
    ``single``, ``list``, ``tuple`` or ``dict``; names are dict keys or made up."""

    def __init__(self, kind, names):
        self.in_kind, self.in_names = kind, names
        self.out_kind = self.out_names = self.out_shapes = None


def io(model):
    return vars(model).get("_call_io")


def _set_io(model, cio):
    model._call_io = cio
    model._input_names, model._output_names = cio.in_names, cio.out_names


def _kind_and_names(structure, prefix):
    if isinstance(structure, dict):
        return "dict", list(structure)
    if isinstance(structure, (list, tuple)):
        return type(structure).__name__, [f"{prefix}_{i + 1}" for i in range(len(structure))]
    return "single", [prefix]


def _pack(kind, names, values):
    if kind == "single":
        return values[0]
    if kind == "dict":
        return dict(zip(names, values))
    return tuple(values) if kind == "tuple" else list(values)


def note_inputs(model, x):
    """Before the model is built: take its input structure from data ``x``."""
    if not model.built and io(model) is None:
        _set_io(model, CallIO(*_kind_and_names(x if tracking.is_structure(x) else None,
                                               "input")))


def _is_shape(value):
    return isinstance(value, (tuple, list)) and not any(isinstance(d, (tuple, list, dict))
                                                        for d in value)


def _flat_shapes(model, cio, input_shape):
    """``input_shape`` (a shape, or a list/tuple/dict of shapes) as one shape per input."""
    if cio.in_kind == "single":
        shapes = [input_shape]
    elif cio.in_kind == "dict":
        if not isinstance(input_shape, dict) or set(input_shape) != set(cio.in_names):
            raise ValueError(f"Model {model.name!r} takes a dict of inputs "
                             f"{cio.in_names}; `input_shape` should be a dict with those "
                             f"keys. Received: input_shape={input_shape!r}")
        shapes = [input_shape[k] for k in cio.in_names]
    else:
        shapes = list(input_shape) if isinstance(input_shape, (list, tuple)) else []
        if len(shapes) != len(cio.in_names):
            raise ValueError(f"Model {model.name!r} takes {len(cio.in_names)} inputs; "
                             f"`input_shape` should hold one shape for each. Received: "
                             f"input_shape={input_shape!r}")
    for s in shapes:
        if not _is_shape(s) or not s:
            raise ValueError(f"Model {model.name!r}: cannot read {s!r} as an input shape "
                             f"(a tuple with the batch axis first). Received: "
                             f"input_shape={input_shape!r}")
    return [(None,) + tuple(s)[1:] for s in shapes]


def build_by_probe(model, input_shape):
    """``Model.build`` for models defined by ``call``: run ``call`` on probe samples of
    ``input_shape`` (batch axis first), building every sublayer, and record the output
    structure and shapes."""
    cio = io(model)
    if cio is None or cio.out_shapes is not None:     # not noted from data: from shapes
        is_shapes = isinstance(input_shape, dict) or (
            isinstance(input_shape, (list, tuple)) and input_shape
            and all(isinstance(s, (list, tuple)) for s in input_shape))
        cio = CallIO(*_kind_and_names(input_shape if is_shapes else None, "input"))
    shapes = _flat_shapes(model, cio, input_shape)
    inputs = _pack(cio.in_kind, cio.in_names, [graph.SymbolicTensor(s) for s in shapes])
    template, specs = tracking.probe_outputs(
        model, lambda x: tracking.run_call(model, x, False), inputs)
    kind, names = _kind_and_names(template if not isinstance(template, Tensor) else None,
                                  "output")
    if kind != "single" and any(not isinstance(v, Tensor) for v in
                                (template.values() if kind == "dict" else template)):
        raise TypeError(f"{type(model).__name__}.call() must return a tensor or a flat "
                        f"list, tuple or dict of tensors. Received: a nested "
                        f"{type(template).__name__} from model {model.name!r}")
    cio.out_kind, cio.out_names = kind, names
    cio.out_shapes = [s for s, _ in specs]
    _set_io(model, cio)
    model.built = True
    model._build_input_shape = _pack(cio.in_kind, cio.in_names, shapes)


def ensure_built(model, input_shape):
    """Build once: the class's own ``build`` (which may create weights and call
    ``super().build``), then the probe if that did not run it. The shape is kept as given
    (batch size included), as Keras records it in ``.keras`` files."""
    if not model.built:
        model._keras_build_shape = input_shape
        model.build(input_shape)
        model.built = True
    if io(model) is None or io(model).out_shapes is None:
        build_by_probe(model, input_shape)


def build_from_data_shapes(model, shapes):
    """Build from the shapes of the arrays given to fit/evaluate/predict (one per
    input, in the order of ``_input_names``)."""
    cio = io(model)
    ensure_built(model, _pack(cio.in_kind, cio.in_names,
                              [(None,) + tuple(s)[1:] for s in shapes]))


def build_on_call(model, x):
    """The first call of the model on data or symbolic tensors ``x``."""
    note_inputs(model, x)
    ensure_built(model, tracking.batch_shapes(x))


def forward(model, xs, training):
    """``call`` on Tensors ``xs`` (one per input): a list of Tensors, one per output."""
    cio = io(model)
    out = tracking.run_call(model, _pack(cio.in_kind, cio.in_names, xs), training)
    if cio.out_kind == "single":
        flat = [out]
    elif cio.out_kind == "dict":
        if not isinstance(out, dict) or set(out) != set(cio.out_names):
            raise ValueError(f"{type(model).__name__}.call() returned outputs unlike those "
                             f"it returned when the model was built ({cio.out_names}). "
                             f"Received: {type(out).__name__}"
                             + (f" with keys {list(out)}" if isinstance(out, dict) else ""))
        flat = [out[k] for k in cio.out_names]
    else:
        flat = list(out) if isinstance(out, (list, tuple)) else [out]
        if len(flat) != len(cio.out_names):
            raise ValueError(f"{type(model).__name__}.call() returned {len(flat)} outputs, "
                             f"but {len(cio.out_names)} when the model was built. Received: "
                             f"{type(out).__name__}")
    tracking.check_outputs(model, out, flat)
    return flat


def pack_outputs(model, values):
    cio = io(model)
    return _pack(cio.out_kind, cio.out_names, values) if cio else values[0]


def model_layers(model):
    return tracking.attribute_layers(model, Layer)


class ModelDefinedByCall:
    """What ``Model`` does for a model defined by its ``call`` (a base of ``Model``;
    Sequential and Functional override these)."""

    def _child_layers(self):
        return self.layers

    @property
    def layers(self):
        """The layers held in the model's attributes, in assignment order."""
        return model_layers(self)

    @property
    def _output_shapes(self):
        return io(self).out_shapes

    def _ensure_built(self, shapes):
        build_from_data_shapes(self, shapes)

    def _build_on_call(self, x):
        build_on_call(self, x)

    def build(self, input_shape=None):
        """Build for inputs of ``input_shape`` (a shape, or a list/tuple/dict of shapes,
        batch axis first): runs ``call`` on samples, which builds every layer."""
        vars(self).setdefault("_keras_build_shape", input_shape)
        if self._user_call:
            build_by_probe(self, input_shape)
        self.built = True

    def _forward(self, xs, training):
        return forward(self, xs, training)

    def _pack_outputs(self, values):
        return pack_outputs(self, values)

    def summary(self, line_length=None, positions=None, print_fn=None):
        lines = summary_lines(self, line_length, shape_text=layer_shape_text)
        (print_fn or print)("\n".join(lines))


# ---------------------------------------------------------------- functional subclass
_functional_subclasses = {}


def become_functional(model, functional_cls):
    """Give ``model`` a class derived from its own and from ``functional_cls``."""
    cls = type(model)
    if isinstance(model, functional_cls):
        return
    derived = _functional_subclasses.get(cls)
    if derived is None:
        derived = _functional_subclasses[cls] = type(cls.__name__, (cls, functional_cls), {
            "__module__": cls.__module__, "__qualname__": cls.__qualname__,
            "__doc__": cls.__doc__})
    model.__class__ = derived


# ---------------------------------------------------------------- summary
def layer_shape_text(layer):
    """The Output Shape cell of a layer in a model defined by ``call``, as Keras shows
    it: the shape computed from the layer's first call (batch size included) when the
    layer's class can compute shapes, else "?"."""
    if not layer.built:
        return "?"
    if layer._inbound_nodes:
        shape = layer.output_shape
    else:
        shape = vars(layer).get("_call_shape") or vars(layer).get("_build_input_shape")
        if shape is None or (layer._user_call
                             and not tracking.defines_output_shape(type(layer))):
            return "?"
        try:
            shape = layer.compute_output_shape(shape)
        except (NotImplementedError, ValueError, TypeError):
            return "?"
    if isinstance(shape, (list, tuple)) and shape and not _is_shape(shape):
        return "[" + ", ".join(format_shape(s) for s in shape) + "]"
    return format_shape(shape)
