"""What ``Layer`` does for the layers and models users write, as Keras 3 does.

- Sublayers: layers held in attributes, or in lists, tuples and dicts held in attributes,
  are the layer's sublayers, in attribute order (Keras's auto-tracking). They are found
  when asked for, so a list filled after it was assigned is seen too.
- The call convention: ``call`` gets ``training`` only when its signature names it; a
  call that is not given ``training`` takes the value of the enclosing layer call (a
  ``Dropout`` inside a model's ``call`` trains during ``fit``).
- The automatic config: simple constructor arguments (strings, numbers, booleans, None,
  and lists/tuples/dicts of them) are captured when the object is made, so a class that
  does not override ``get_config`` still serialises.
- Shape probing: an output shape that ``compute_output_shape`` does not give is found by
  running ``call`` on small samples with gradients off; each unknown axis gets size 2 in
  one run and 3 in another, and an output axis that differs between the runs is unknown.

This module sits below ``layers.base``: it never imports it.
"""
import inspect

import numpy as np

from .. import graph
from ..autograd import no_grad
from ..tensor import Tensor

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
_NAMED = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


# ---------------------------------------------------------------- sublayers
def attribute_layers(obj, layer_cls):
    """The instances of ``layer_cls`` held by ``obj``'s attributes (directly or in
    lists, tuples and dicts), in attribute order, each once, ``obj`` excluded."""
    out, seen = [], {id(obj)}

    def visit(value):
        if isinstance(value, layer_cls):
            if id(value) not in seen:
                seen.add(id(value))
                out.append(value)
        elif isinstance(value, (list, tuple, dict)) and id(value) not in seen:
            seen.add(id(value))
            for item in (value.values() if isinstance(value, dict) else value):
                visit(item)

    for value in list(vars(obj).values()):
        visit(value)
    return out


# ---------------------------------------------------------------- the call convention
class CallSpec:
    """What a ``call`` signature takes: its first (inputs) parameter, its named
    parameters, and whether it has ``*args`` / ``**kwargs``."""

    def __init__(self, fn):
        params = list(inspect.signature(fn).parameters.values())[1:]     # without self
        self.first = params[0].name if params and params[0].kind in _POSITIONAL else None
        self.names = {p.name for p in params if p.kind in _NAMED}
        self.var_positional = any(p.kind == p.VAR_POSITIONAL for p in params)
        self.var_keyword = any(p.kind == p.VAR_KEYWORD for p in params)
        self.takes_training = "training" in self.names

    def accepts(self, key):
        return key in self.names or self.var_keyword


_specs = {}


def call_spec(cls):
    spec = _specs.get(cls)
    if spec is None:
        spec = _specs[cls] = CallSpec(cls.call)
    return spec


_training_stack = []     # the ``training`` value of each enclosing layer call


def enclosing_training():
    """``training`` of the innermost enclosing call that has one, else None."""
    for value in reversed(_training_stack):
        if value is not None:
            return value
    return None


def run_call(layer, inputs, training, args=(), kwargs=None):
    """``layer.call(inputs, *args, **kwargs)``, with ``training`` when ``call`` takes it,
    and ``training`` as the enclosing value for the layer calls made inside."""
    kwargs = dict(kwargs) if kwargs else {}
    if training is not None and call_spec(type(layer)).takes_training:
        kwargs["training"] = training
    _training_stack.append(training)
    try:
        return layer.call(inputs, *args, **kwargs)
    finally:
        _training_stack.pop()


# ---------------------------------------------------------------- automatic config
_SIMPLE = (str, int, float, bool, type(None))


def _simple(value):
    if isinstance(value, dict):
        return all(isinstance(k, str) and _simple(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return all(_simple(v) for v in value)
    return isinstance(value, _SIMPLE) and not isinstance(value, np.generic)


def capture_init_args(cls, args, kwargs):
    """``(config, reason)``: the constructor arguments as a dict (defaults filled in,
    ``name`` left out), or None and why they cannot make a config."""
    signature = inspect.signature(cls.__init__)
    try:
        bound = signature.bind(None, *args, **kwargs)
    except TypeError:
        return None, "non-serializable"
    params = list(signature.parameters.values())[1:]
    if any(p.kind == p.POSITIONAL_ONLY for p in params):
        return None, "positional"
    bound.apply_defaults()
    config = dict(bound.arguments)
    config.pop(next(iter(signature.parameters)))
    for p in params:
        if p.kind == p.VAR_KEYWORD:
            config.update(config.pop(p.name, {}))
        elif p.kind == p.VAR_POSITIONAL and config.pop(p.name, ()):
            return None, "positional"
    config.pop("name", None)
    if not all(_simple(v) for v in config.values()):
        return None, "non-serializable"
    return config, None


def init_takes_name(cls):
    params = inspect.signature(cls.__init__).parameters.values()
    return any(p.name == "name" or p.kind == p.VAR_KEYWORD for p in params)


def config_error(cls, reason):
    what = ("positional only or variadic positional arguments (e.g., `*args`)"
            if reason == "positional" else "non-serializable argument values")
    return NotImplementedError(
        f"Object {cls.__name__} was created by passing {what} in `__init__()`, and "
        f"therefore the object must override `get_config()` in order to be serializable. "
        f"Please implement `get_config()` (config = super().get_config(); "
        f"config.update(...)). Received: an instance of {cls.__name__} without a "
        f"get_config() override")


# ---------------------------------------------------------------- shape probing
_probing = []


def probing():
    """True while ``call`` runs on probe samples (not on the user's data)."""
    return bool(_probing)


def _sample(t, size):
    shape = tuple(size if d is None else d for d in t.shape)
    return Tensor(np.ones(shape, dtype=t.dtype))


def probe_outputs(layer, run, inputs, args=(), kwargs=None):
    """``(structure, specs)``: the output of ``run(inputs, *args, **kwargs)`` on samples
    for the symbolic ``inputs`` (its structure), and ``(shape, dtype)`` per output, in
    ``graph.flatten`` order, from two sample runs."""
    results = []
    _probing.append(True)
    try:
        for size in (2, 3):
            leaves = graph.flatten((inputs, list(args), kwargs or {}))
            data = [_sample(t, size) if isinstance(t, graph.SymbolicTensor) else t
                    for t in leaves]
            x, a, kw = graph.pack_like((inputs, list(args), kwargs or {}), data)
            with no_grad(), np.errstate(all="ignore"):
                results.append(run(x, *a, **kw))
    finally:
        _probing.pop()
    first, second = results
    flat_a, flat_b = graph.flatten(first), graph.flatten(second)
    check_outputs(layer, first, flat_a)
    specs = []
    for a, b in zip(flat_a, flat_b):
        if a.ndim != b.ndim:
            raise ValueError(f"Layer {layer.name!r} ({type(layer).__name__}): the rank of "
                             f"its output depends on the batch size. Received: output "
                             f"shapes {a.shape} and {b.shape}")
        specs.append((tuple(x if x == y else None for x, y in zip(a.shape, b.shape)),
                      a.dtype))
    return first, specs


def call_symbolic(layer, inputs, args, training, kwargs):
    """A user layer's call on symbolic ``inputs``: build (once) from their shapes, find
    the output shapes (``compute_output_shape`` when the class defines one, else by
    probing ``call``), and record the node. Symbolic tensors in other arguments too
    (``layer(targets, logits)``) make the node's argument structure ``(inputs, args,
    kwargs)`` (``node.packed_call``)."""
    packed = graph.is_symbolic((list(args), kwargs))
    check_call_kwargs(layer, kwargs)
    shapes = graph.shapes_of(inputs)
    if not layer.built:
        layer._build_on_call(inputs)
    if defines_output_shape(type(layer)):
        outputs = _symbolic_like(layer.compute_output_shape(shapes), layer.dtype)
    else:
        probe_kwargs = kwargs
        mask = getattr(inputs, "_keras_mask", None)     # a call that takes the mask gets
        if mask is not None and "mask" not in kwargs \
                and call_spec(type(layer)).accepts("mask"):   # one while probing too
            probe_kwargs = {**kwargs, "mask": mask}
        template, specs = probe_outputs(
            layer, lambda x, *a, **kw: run_call(layer, x, training or False, a, kw),
            inputs, args, probe_kwargs)
        tensors = [graph.SymbolicTensor(s, d) for s, d in specs]
        outputs = tensors[0] if isinstance(template, Tensor) else \
            graph.pack_like(template, tensors)
    single = isinstance(outputs, graph.SymbolicTensor)
    tensors = graph.flatten(outputs)
    node = graph.Node(layer, (inputs, list(args), dict(kwargs)) if packed else inputs,
                      outputs if single else tensors)
    node.packed_call = packed
    node.call_args, node.call_kwargs = ((), {}) if packed else (tuple(args), dict(kwargs))
    if training is not None:
        node.call_kwargs["training"] = training
    layer.output_shape = outputs.shape if single else [t.shape for t in tensors]
    return outputs


def defines_output_shape(cls):
    """Whether ``cls`` (or a tensorlib layer it extends) answers output shapes itself."""
    owner = next(k for k in cls.__mro__ if "compute_output_shape" in vars(k))
    return owner.__module__ != "tensorlib.layers.base"


def _is_shape(value):
    return isinstance(value, (tuple, list)) and all(
        d is None or (isinstance(d, (int, np.integer)) and not isinstance(d, bool))
        for d in value)


def _symbolic_like(shapes, dtype):
    """Symbolic tensors for ``compute_output_shape``'s answer: a shape, or a list, tuple
    or dict of shapes."""
    if _is_shape(shapes):
        return graph.SymbolicTensor(tuple(shapes), dtype)
    if isinstance(shapes, dict):
        return {k: _symbolic_like(v, dtype) for k, v in shapes.items()}
    if isinstance(shapes, (list, tuple)):
        return [_symbolic_like(v, dtype) for v in shapes]
    raise TypeError(f"compute_output_shape() must return a shape (a tuple of ints or None) "
                    f"or a list/dict of shapes. Received: {shapes!r}")


def split_call_args(layer, args, kwargs):
    """``(inputs, other positional args, kwargs)`` of a layer call; the inputs may be
    given by the name of ``call``'s first parameter."""
    if args:
        return args[0], args[1:], kwargs
    kwargs = dict(kwargs)
    for key in (call_spec(type(layer)).first, "inputs"):
        if key in kwargs:
            return kwargs.pop(key), (), kwargs
    raise TypeError(f"Layer {layer.name!r} ({type(layer).__name__}) must be called with "
                    f"its inputs as the first argument. Received: no positional argument "
                    f"and keyword arguments {sorted(kwargs)}")


def check_call_kwargs(layer, kwargs):
    spec = call_spec(type(layer))
    unknown = sorted(k for k in kwargs if not spec.accepts(k))
    if unknown:
        raise TypeError(f"Layer {layer.name!r} ({type(layer).__name__}): call() does not "
                        f"take the keyword arguments {unknown}. Received: "
                        + ", ".join(f"{k}={kwargs[k]!r}" for k in unknown))


def _array_like(value):
    return isinstance(value, (Tensor, np.ndarray)) or hasattr(value, "__array__")


def is_structure(value):
    """A dict, or a list/tuple of arrays (or of such structures): several inputs. A
    list of numbers is one input (array data)."""
    if isinstance(value, dict):
        return True
    return isinstance(value, (list, tuple)) and len(value) > 0 and all(
        _array_like(v) or is_structure(v) for v in value)


def input_structure(layer, inputs):
    """A user layer's eager inputs with every array leaf a Tensor; floating-point data is
    cast to the layer's dtype (Keras's autocast), integers and booleans keep theirs."""
    def convert(v):
        if isinstance(v, dict):
            return {k: convert(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)) and is_structure(v):
            return type(v)(convert(x) for x in v)
        if isinstance(v, Tensor):
            return v.astype(layer.dtype) if v.dtype.kind == "f" and v.dtype != layer.dtype \
                else v
        if isinstance(v, graph.SymbolicTensor) or v is None or isinstance(v, str):
            return v
        try:
            a = np.asarray(v)
        except (TypeError, ValueError) as e:
            raise ValueError(f"Layer {layer.name!r} ({type(layer).__name__}): inputs must "
                             f"be numeric arrays ({e}). Received: {type(v).__name__}") \
                from None
        if a.dtype.kind not in "biuf":
            raise ValueError(f"Layer {layer.name!r} ({type(layer).__name__}): inputs must "
                             f"be real numbers. Received: an input of dtype {a.dtype}")
        return Tensor(a.astype(layer.dtype, copy=False) if a.dtype.kind == "f" else a)
    return convert(inputs)


def batch_shapes(inputs, keep_batch=False):
    """The shape of each tensor in ``inputs`` (same structure), batch axis ``None``
    unless ``keep_batch``."""
    def shape(t):
        s = tuple(t.shape)
        return s if keep_batch or not s else (None,) + s[1:]
    tensors = [t for t in graph.flatten(inputs)
               if isinstance(t, (Tensor, graph.SymbolicTensor))]
    if isinstance(inputs, (Tensor, graph.SymbolicTensor)):
        return shape(inputs)
    shapes = iter([shape(t) for t in tensors])

    def rebuild(v):
        if isinstance(v, dict):
            return {k: rebuild(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [rebuild(x) for x in v]
        return next(shapes) if isinstance(v, (Tensor, graph.SymbolicTensor)) else None
    return rebuild(inputs)


def check_outputs(layer, structure, flat):
    """``call`` must give a Tensor, or a list, tuple or dict of Tensors."""
    bad = [v for v in flat if not isinstance(v, Tensor)]
    if bad or not flat:
        got = type(bad[0]).__name__ if bad else f"an empty {type(structure).__name__}"
        raise TypeError(f"{type(layer).__name__}.call() must return a tensor or a list, "
                        f"tuple or dict of tensors (computed with tensorlib / keras.ops "
                        f"on its inputs). Received: {got} from layer {layer.name!r}")
