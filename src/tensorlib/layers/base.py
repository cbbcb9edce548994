"""The Layer contract, as in Keras: ``__init__`` validates and stores arguments,
``build(input_shape)`` creates weights, ``call`` computes, ``compute_output_shape``
answers shapes without running anything. Shapes include the batch axis (``None``).
"""
import re

import numpy as np

from .. import config, constraints, graph, initializers, regularizers
from . import mask_flow, tracking
from ..backend._shapes import MAX_WINDOW, int_tuple
from ..tensor import Tensor

_name_counts = {}


def unique_name(base):
    """Keras-style names: ``dense``, ``dense_1``, ``dense_2``, ..."""
    n = _name_counts.get(base, 0)
    _name_counts[base] = n + 1
    return base if n == 0 else f"{base}_{n}"


def snake_case(name):
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()


class Layer:
    _is_input_layer = False
    _is_op = False              # a keras.ops call recorded in a graph (layers/op_layer.py)
    _takes_structure = False    # merge layers and models take lists/dicts of tensors
    # Set for each subclass: ``_user_defined`` for classes written outside tensorlib
    # (attribute tracking, automatic config), ``_user_call`` when their ``call`` is too
    # (Keras's call convention: any inputs structure, output shapes found by running).
    _user_defined = _user_call = False
    _kind = "Layer"             # how messages name the object
    # Keras's masks (layers/mask_flow.py): a layer that makes a mask (Embedding(mask_zero),
    # Masking) sets ``_produces_mask``; one that passes masks on sets ``supports_masking``.
    supports_masking = False
    _produces_mask = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._user_defined = not cls.__module__.startswith("tensorlib.")
        owner = next(k for k in cls.__mro__ if "call" in vars(k))
        cls._user_call = not owner.__module__.startswith("tensorlib.")
        if cls._user_defined and "compute_mask" in vars(cls):
            cls._produces_mask = True       # Keras calls an overridden compute_mask

    def __new__(cls, *args, **kwargs):
        obj = super().__new__(cls)
        if cls._user_defined:
            obj._auto_config = tracking.capture_init_args(cls, args, kwargs)
        return obj

    def __init__(self, name=None, trainable=True, dtype=None, input_shape=None,
                 input_dim=None, batch_size=None, **kwargs):
        if kwargs:
            raise TypeError(f"Unrecognized keyword arguments passed to "
                            f"{type(self).__name__}: {kwargs}")
        cls = type(self).__name__
        if name is not None and not isinstance(name, str):
            raise TypeError(f"{cls}: name must be a string. Received: name={name!r}")
        self.name = name or unique_name(snake_case(cls))
        self._trainable = bool(trainable)
        self.dtype = float_dtype(cls, dtype)
        self.built = False
        self._weights = []          # the layer's own weights (Tensors), in creation order
        self.output_shape = None
        self._inbound_nodes = []    # graph.Node records of this layer's symbolic calls
        if input_dim is not None and input_shape is None:
            input_shape = (standard_dim(cls, "input_dim", input_dim, input_dim),)
        if batch_size is not None:
            batch_size = standard_dim(cls, "batch_size", batch_size, batch_size)
        self.batch_input_shape = None
        if input_shape is not None:
            self.batch_input_shape = (batch_size,) + standardize_shape(cls, "input_shape",
                                                                       input_shape)

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        """Setting it sets it on every sublayer too, as in Keras."""
        self._trainable = bool(value)
        for layer in self._child_layers():
            layer.trainable = value

    def _child_layers(self):
        """The sublayers whose weights are this layer's too: for user classes, the layers
        held in attributes (tracking.attribute_layers); tensorlib's layers hold none."""
        return tracking.attribute_layers(self, Layer) if self._user_defined else []

    # ------------------------------------------------------------ weights
    def add_weight(self, *args, shape=None, initializer=None, dtype=None, trainable=True,
                   autocast=True, regularizer=None, constraint=None, aggregation="none",
                   overwrite_with_gradient=False, name=None):
        """Keras 3's ``add_weight``: ``shape`` (default ``()``), ``initializer`` (a name,
        an Initializer or a callable ``(shape, dtype)``; default glorot_uniform),
        ``dtype`` (default the layer's); also positionally as ``(shape, initializer,
        dtype)``; ``regularizer`` adds its penalty of the weight to ``losses``;
        ``constraint`` becomes the weight's ``constraint``, applied after each optimizer
        update."""
        where = f"Layer {self.name!r} ({type(self).__name__}): add_weight()"
        shape, initializer, dtype = _weight_positionals(where, args, shape, initializer,
                                                        dtype)
        try:
            constraint = constraints.get(constraint)
            regularizer = regularizers.get(regularizer)
        except ValueError as e:
            raise ValueError(f"{where}: {e}") from None
        if aggregation not in (None, "none", "mean", "sum", "only_first_replica"):
            raise ValueError(f"{where}: invalid `aggregation`. Received: "
                             f"aggregation={aggregation!r}")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"{where}: `name` must be a string. Received: name={name!r}")
        shape = _weight_shape(where, shape)
        dt = self.dtype if dtype is None else np.dtype(dtype)
        if dt.kind not in "biuf" or (trainable and dt.kind != "f"):
            raise ValueError(f"{where}: a {'trainable ' if trainable else ''}weight needs a "
                             f"{'floating-point' if trainable else 'numeric'} dtype. "
                             f"Received: dtype={dtype!r}")
        if initializer is None:
            initializer = "glorot_uniform" if dt.kind == "f" else "zeros"
        value = np.asarray(initializers.get(initializer)(shape, dt), dtype=dt)
        if value.shape != shape:
            raise ValueError(f"{where}: the initializer gave an array of shape "
                             f"{value.shape} for a weight of shape {shape}. Received: "
                             f"initializer={initializer!r}")
        var = Tensor(value.copy(), requires_grad=bool(trainable))
        var.name = f"{self.name}/{name}" if name else self.name
        var.trainable = bool(trainable)
        var.constraint = constraint
        self._weights.append(var)
        if regularizer is not None:
            self.__dict__.setdefault("_weight_regularizers", []).append((var, regularizer))
        return var

    # ------------------------------------------------------------ losses
    def add_loss(self, loss):
        """Add a scalar Tensor (a penalty computed in ``call``) to the loss of the current
        forward pass: ``losses`` lists it until the next pass of the model starts."""
        self.__dict__.setdefault("_added_losses", []).append(loss)

    def _layer_walk(self):
        out, seen = [], set()

        def walk(layer):
            if id(layer) not in seen:
                seen.add(id(layer))
                out.append(layer)
                for child in layer._child_layers():
                    walk(child)
        walk(self)
        return out

    @property
    def losses(self):
        """The weight penalties (``regularizer`` of ``add_weight``, ``kernel_regularizer``
        ...) of this layer and its sublayers, then the losses added in the last pass."""
        return losses_of(self._layer_walk())

    def _weight_walk(self):
        """[(weight, trainable)] for this layer and its sublayers, each weight once, in
        Keras's order: the layer's own trainable weights, its own non-trainable ones,
        then each sublayer's; a weight is frozen when any layer on the way is."""
        out, seen_weights, seen_layers = [], set(), set()

        def walk(layer, frozen):
            if id(layer) in seen_layers:
                return
            seen_layers.add(id(layer))
            frozen = frozen or not layer.trainable
            own = layer._weights
            for w in [w for w in own if w.trainable] + [w for w in own if not w.trainable]:
                if id(w) not in seen_weights:
                    seen_weights.add(id(w))
                    out.append((w, w.trainable and not frozen))
            for child in layer._child_layers():
                walk(child, frozen)
        walk(self, False)
        return out

    @property
    def weights(self):
        return [w for w, _ in self._weight_walk()]

    @property
    def trainable_weights(self):
        return [w for w, train in self._weight_walk() if train]

    @property
    def non_trainable_weights(self):
        return [w for w, train in self._weight_walk() if not train]

    def count_params(self):
        return int(sum(w.size for w in self.weights))

    def get_weights(self):
        return [w.data.copy() for w in self.weights]

    def set_weights(self, weights):
        """Assign a list of arrays, one per weight, after checking all of them: count,
        exact shape, a real numeric dtype (bool/int/float; not complex, datetime, string
        or object) and no NaN or infinity once cast to the weight's dtype. On any error
        (ValueError naming the weight; for non-finite values, how many) nothing changes."""
        from .._weights import checked_weight_values
        own = self.weights
        values = checked_weight_values(f"{self._kind} {self.name!r}", own, weights)
        for var, value in zip(own, values):
            var.data[...] = value

    # ------------------------------------------------------------ the contract
    def build(self, input_shape):
        self.built = True

    def build_for(self, input_shape):
        """Build (once) and record the output shape; returns it."""
        input_shape = _shape_structure(input_shape)
        if not self.built:
            self.build(input_shape)
            self.built = True
            self._build_input_shape = input_shape
        self.output_shape = _shape_structure(self.compute_output_shape(input_shape))
        return self.output_shape

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def compute_mask(self, inputs, mask=None):
        """The mask of the outputs (Keras's default: the input's mask)."""
        return mask

    def call(self, x, training=False):
        raise NotImplementedError

    def _inference_fn(self, input_shape):
        """For a model's planned inference: an ``array -> array`` function that computes
        ``call(x, training=False)`` (the same backend calls, the same result) for inputs of
        ``input_shape`` (batch axis free) in the layer's dtype, without autograd records or
        argument checks (the model checks shapes and dtypes once, when it plans); or None
        when the layer has none, and the model runs its layers as usual."""
        return None

    def __call__(self, *args, **kwargs):
        """Keras's ``layer(inputs, *args, training=None, **kwargs)``. ``training``, when
        not given, is that of the enclosing layer call; ``call`` gets it only if its
        signature names it. Symbolic inputs record a graph node instead."""
        inputs, args, kwargs = tracking.split_call_args(self, args, kwargs)
        training = kwargs.pop("training", None)
        if graph.is_symbolic(inputs):
            return self._call_symbolic(inputs, *args, training=training, **kwargs)
        tracking.check_call_kwargs(self, kwargs)
        if self._user_call:
            x = tracking.input_structure(self, inputs)
        else:
            x = self._input_tensor(inputs)
        if not self.built:
            self._build_on_call(x)
        if "_call_shape" not in vars(self) and not tracking.probing():
            self._call_shape = tracking.batch_shapes(x, keep_batch=True)
        if training is None:
            training = tracking.enclosing_training()
        mask = getattr(inputs, "_keras_mask", None)
        if mask is not None or self._produces_mask:
            return mask_flow.eager_call(self, x, mask, training, args, kwargs)
        return tracking.run_call(self, x, training, args, kwargs)

    def _build_on_call(self, x):
        """Build on the first eager call, for inputs ``x`` (batch axis free)."""
        if not self._user_call:
            self.build_for((None,) + x.shape[1:])
            return
        shape = _shape_structure(tracking.batch_shapes(x))
        self.build(shape)
        self.built = True
        self._build_input_shape = shape

    def _run(self, inputs, training, args=(), kwargs=None):
        """``call`` on ready inputs (a model running its layers): ``training`` given when
        ``call`` takes it, and the enclosing value for the calls made inside. A float input
        of another dtype is cast to the layer's, as Keras does."""
        if isinstance(inputs, Tensor) and inputs.dtype != self.dtype \
                and inputs.dtype.kind == "f" and not self._is_op:
            inputs = inputs.astype(self.dtype)
        return tracking.run_call(self, inputs, training, args, kwargs)

    def _run_node(self, node, args, training, mask=None):
        """Replay the recorded call ``node`` on ``args`` (graph.Graph.run); a flat list of
        outputs when the node has several. ``mask``: the input's mask, for a ``call`` that
        takes one (mask_flow.run_graph)."""
        fixed = getattr(node, "call_kwargs", None) or {}
        kwargs = {k: v for k, v in fixed.items() if k != "training"}
        if mask is not None and tracking.call_spec(type(self)).accepts("mask"):
            kwargs.setdefault("mask", mask)
        call_args = getattr(node, "call_args", ())
        if getattr(node, "packed_call", False):     # symbolic tensors in several arguments
            args, more, given = args
            call_args, kwargs = tuple(more), {**given, **kwargs}
        out = self._run(args, fixed.get("training", training), call_args, kwargs)
        return out if node.single_output else graph.flatten(out)

    # ------------------------------------------------------------ the graph
    def _call_symbolic(self, inputs, *args, training=None, **kwargs):
        """Record a call on symbolic tensors: build (once), check, infer the output
        shape, and link inputs to new symbolic outputs by a ``graph.Node``. A call given
        ``training`` keeps that value when the model runs (Keras's ``training=False`` on
        a frozen base model)."""
        if self._user_call:
            return self._symbolic_mask(
                inputs, tracking.call_symbolic(self, inputs, args, training, kwargs))
        if kwargs or args:
            raise TypeError(f"Layer {self.name!r}: unexpected arguments to __call__. "
                            f"Received: {sorted(kwargs) or list(args)}")
        if not self._takes_structure and isinstance(inputs, (list, tuple, dict)):
            flat = graph.flatten(inputs)
            if len(flat) != 1:
                raise ValueError(f"Layer {self.name!r} expects 1 input, but it received "
                                 f"{len(flat)} input tensors. Received: "
                                 f"inputs={[getattr(t, 'name', t) for t in flat]}")
            inputs = flat[0]
        bad = [t for t in graph.flatten(inputs) if not isinstance(t, graph.SymbolicTensor)]
        if bad:
            raise ValueError(f"Layer {self.name!r}: cannot mix symbolic tensors and data in "
                             f"one call. Received: an input of type {type(bad[0]).__name__}")
        shapes = graph.shapes_of(inputs)
        if self.built and hasattr(self, "_build_input_shape"):
            self.check_input_shape(shapes)
        try:
            out_shape = self.build_for(shapes)
        except ValueError as e:
            msg = str(e)
            if self.name not in msg:
                msg = f"Layer {self.name!r} ({type(self).__name__}) cannot take inputs " \
                      f"of shape {shapes}: {msg}"
            raise ValueError(msg) from None
        if isinstance(out_shape, list):
            outputs = [graph.SymbolicTensor(s, self.dtype) for s in out_shape]
        else:
            outputs = graph.SymbolicTensor(out_shape, self.dtype)
        node = graph.Node(self, inputs, outputs)
        if training is not None:
            node.call_kwargs = {"training": training}
        return self._symbolic_mask(inputs, outputs)

    def _symbolic_mask(self, inputs, outputs):
        """Keras's ``_keras_mask`` on symbolic outputs: a (batch, timesteps) bool
        placeholder when this layer makes a mask or passes its input's on (the values
        come when the model runs, layers/mask_flow.py)."""
        masked = any(getattr(t, "_keras_mask", None) is not None
                     for t in graph.flatten(inputs))
        if self._produces_mask or (masked and self.supports_masking):
            for t in graph.flatten(outputs):
                if isinstance(t, graph.SymbolicTensor) and t.ndim >= 2:
                    t._keras_mask = graph.SymbolicTensor(t.shape[:2], np.bool_,
                                                         name=f"{t.name}_mask")
        return outputs

    def check_input_shape(self, input_shape):
        """A built layer with weights takes inputs of its build rank and last axis."""
        built = self._build_input_shape
        if not self._weights or not isinstance(built, tuple) \
                or not isinstance(input_shape, tuple):
            return
        if len(input_shape) != len(built) or input_shape[-1] != built[-1]:
            raise ValueError(f"Input 0 of layer {self.name!r} is incompatible with the "
                             f"layer: expected ndim={len(built)} and axis -1 of input shape "
                             f"to have value {built[-1]} (the layer was built for "
                             f"{built}). Received: input with shape {input_shape}")

    def _node_attribute(self, what, name):
        if not self._inbound_nodes:
            raise AttributeError(f"Layer {self.name!r} has never been called and thus has "
                                 f"no defined {name}.")
        tensors = getattr(self._inbound_nodes[0], what)
        return tensors[0] if len(tensors) == 1 else list(tensors)

    @property
    def output(self):
        """The symbolic output of this layer's first call (Keras's ``layer.output``)."""
        return self._node_attribute("outputs", "output")

    @property
    def input(self):
        return self._node_attribute("inputs", "input")

    def _input_tensor(self, x):
        """``x`` as a Tensor of the layer's dtype (float inputs are cast, as Keras does),
        with a batch axis."""
        data = x.data if isinstance(x, Tensor) else x
        try:
            arr = np.asarray(data)
        except (TypeError, ValueError) as e:
            raise ValueError(f"Layer {self.name!r}: inputs must be numeric arrays ({e}). "
                             f"Received: {type(x).__name__}") from None
        if arr.dtype.kind not in "biuf":
            raise ValueError(f"Layer {self.name!r}: inputs must be real numbers. Received: "
                             f"dtype={arr.dtype}")
        if arr.ndim == 0:
            raise ValueError(f"Layer {self.name!r}: inputs need a batch axis. Received: "
                             f"a 0-d input")
        if isinstance(x, Tensor):
            return x if x.dtype == self.dtype else x.astype(self.dtype)
        return Tensor(arr.astype(self.dtype, copy=False))

    def get_config(self):
        """``name``, ``trainable``, ``dtype`` (and ``input_shape`` when declared). For a
        user class that does not override ``get_config``, as in Keras, the simple
        constructor arguments captured when it was made (tracking.capture_init_args);
        NotImplementedError when there are others."""
        config = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype.name}
        if self.batch_input_shape is not None:
            config["input_shape"] = list(self.batch_input_shape[1:])
        cls = type(self)
        if not cls._user_defined or cls.get_config is not Layer.get_config:
            return config
        captured, reason = vars(self).get("_auto_config", (None, "non-serializable"))
        if captured is None:
            raise tracking.config_error(cls, reason)
        auto = {"name": self.name, **captured}
        if not tracking.init_takes_name(cls):
            del auto["name"]
        return {**auto, **{k: v for k, v in config.items() if k != "name"}}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


def _weight_positionals(where, args, shape, initializer, dtype):
    """Keras's positional ``add_weight(shape, initializer, dtype)``."""
    if len(args) > 3:
        raise TypeError(f"{where} takes at most 3 positional arguments (shape, initializer, "
                        f"dtype). Received: {len(args)} positional arguments")
    if args and isinstance(args[0], str):
        raise ValueError(f"{where}: `name` must be passed as a keyword argument. Received: "
                         f"add_weight({args[0]!r}, ...)")
    values = [shape, initializer, dtype]
    for i, (arg, value) in enumerate(zip(("shape", "initializer", "dtype"), args)):
        if values[i] is not None:
            raise ValueError(f"{where}: `{arg}` was passed both positionally and as a "
                             f"keyword argument. Received: {arg}={value!r}")
        values[i] = value
    return values


def _weight_shape(where, shape):
    """A weight's shape: a tuple of known sizes (``None`` means a scalar, ``()``)."""
    if shape is None:
        return ()
    try:
        dims = None if isinstance(shape, (str, bytes)) else tuple(shape)
    except TypeError:
        dims = None
    if dims is None or any(isinstance(d, (bool, np.bool_)) or not isinstance(
            d, (int, np.integer)) or d < 0 for d in dims):
        raise ValueError(f"{where}: `shape` must be a tuple of non-negative integers (no "
                         f"None: a weight's size is known). Received: shape={shape!r}")
    return tuple(int(d) for d in dims)


def _shape_structure(shape):
    """A shape as a tuple, or a list (or dict) of shapes for layers with several inputs."""
    if isinstance(shape, dict):
        return {k: _shape_structure(v) for k, v in shape.items()}
    if isinstance(shape, (list, tuple)) and shape and \
            all(isinstance(d, (list, tuple, dict)) for d in shape):
        return [_shape_structure(d) for d in shape]
    return tuple(shape)


MAX_DIM = MAX_WINDOW     # the largest size, stride, dilation or pool size a layer accepts


def float_dtype(where, dtype):
    """A layer's compute dtype: a floating-point NumPy dtype (``config.floatx()``, float32
    unless set, when ``None``)."""
    try:
        dt = np.dtype(dtype or config.floatx())
    except TypeError:
        raise TypeError(f"{where}: not a data type. Received: dtype={dtype!r}") from None
    if dt.kind != "f":
        raise ValueError(f"{where}: the layer dtype must be a floating-point type. "
                         f"Received: dtype={dtype!r}")
    return dt


def standard_dim(where, name, value, whole, allow_none=False):
    """One entry of a shape: an int in [0, MAX_DIM] (``None`` when ``allow_none``)."""
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{where}: cannot convert {whole!r} to a shape: {value!r} is not an "
                         f"integer. Received: {name}={whole!r}")
    if not 0 <= value <= MAX_DIM:
        raise ValueError(f"{where}: cannot convert {whole!r} to a shape: dimensions must lie "
                         f"in [0, {MAX_DIM}]. Received: {name}={whole!r}")
    return int(value)


def standardize_shape(where, name, shape):
    """Keras's ``standardize_shape``: a tuple of non-negative ints or ``None`` (unknown)."""
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__iter__"):
        raise ValueError(f"{where}: cannot convert {shape!r} to a shape; expected a tuple "
                         f"of integers. Received: {name}={shape!r}")
    shape = tuple(shape)
    return tuple(standard_dim(where, name, d, shape, allow_none=True) for d in shape)


def check_rank(layer, input_shape, ndim, what):
    if len(input_shape) != ndim:
        raise ValueError(f"Input 0 of layer {layer.name!r} is incompatible with the layer: "
                         f"expected ndim={ndim} ({what}), found ndim={len(input_shape)}. "
                         f"Received: input with shape {tuple(input_shape)}")


def conv_tuple(value, n, name, layer="Layer"):
    """Keras's normalisation of an int-or-tuple argument of ``layer`` (its class name), by
    the same rule the kernels' geometry applies: ints in [1, MAX_DIM]."""
    return int_tuple(layer, name, value, n, 1, MAX_DIM)


def losses_of(layers):
    """``Layer.losses`` of the walk ``layers`` (``Layer._layer_walk``)."""
    out = [reg(var) for la in layers
           for var, reg in la.__dict__.get("_weight_regularizers", ())]
    return out + [v for la in layers for v in la.__dict__.get("_added_losses", ())]


def clear_added_losses(layers):
    """Start a forward pass: forget the losses ``add_loss`` gave in the previous one."""
    for layer in layers:
        layer.__dict__.pop("_added_losses", None)
