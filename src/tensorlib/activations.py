"""Activation functions by Keras 3 name (``keras.activations``), on Tensors.

Each takes a Tensor (an array is wrapped) and is differentiable; the elementwise ones
beyond relu/sigmoid/tanh run ``activation_ops`` (formula and exact derivative side by
side). Keras's defaults: ``leaky_relu(negative_slope=0.2)``, ``gelu(approximate=False)``
(the erf form; ``True``: the tanh form), ``elu(alpha=1.0)``, ``hard_sigmoid`` =
``relu6(x + 3) / 6``. ``get`` resolves names (and the aliases "swish", "hard_swish");
``serialize`` gives the name a ``.keras`` file records. Called on a symbolic tensor (a
functional model being defined), an activation is recorded as a graph op.
"""
import functools

from . import activation_ops, graph
from .tensor import Tensor, _as_tensor


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """``max(x, 0)``; with Keras's arguments: ``x`` above ``threshold`` (else 0), clipped
    at ``max_value``, minus ``negative_slope * relu(threshold - x)``."""
    x = _as_tensor(x)
    if negative_slope == 0.0 and max_value is None and threshold == 0.0:
        return x.relu()
    for arg, v in (("negative_slope", negative_slope), ("max_value", max_value),
                   ("threshold", threshold)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
            raise ValueError(f"relu: `{arg}` must be a number. Received: {arg}={v!r}")
    if negative_slope < 0:
        raise ValueError(f"relu: `negative_slope` must be >= 0. Received: "
                         f"negative_slope={negative_slope!r}")
    return activation_ops.apply("relu_general", x, slope=float(negative_slope),
                                max_value=None if max_value is None else float(max_value),
                                threshold=float(threshold))


def leaky_relu(x, negative_slope=0.2):
    return activation_ops.apply("leaky_relu", _as_tensor(x), slope=float(negative_slope))


def relu6(x):
    return activation_ops.apply("relu_general", _as_tensor(x), max_value=6.0)


def sigmoid(x): return _as_tensor(x).sigmoid()
def tanh(x): return _as_tensor(x).tanh()
def softmax(x, axis=-1): return _as_tensor(x).softmax(axis)
def log_softmax(x, axis=-1): return _as_tensor(x).log_softmax(axis)
def exponential(x): return _as_tensor(x).exp()
def linear(x): return x


def elu(x, alpha=1.0):
    return activation_ops.apply("elu", _as_tensor(x), alpha=float(alpha))


def selu(x): return activation_ops.apply("selu", _as_tensor(x))
def softplus(x): return activation_ops.apply("softplus", _as_tensor(x))
def softsign(x): return activation_ops.apply("softsign", _as_tensor(x))
def silu(x): return activation_ops.apply("silu", _as_tensor(x))
def hard_sigmoid(x): return activation_ops.apply("hard_sigmoid", _as_tensor(x))
def hard_silu(x): return activation_ops.apply("hard_silu", _as_tensor(x))
def mish(x): return activation_ops.apply("mish", _as_tensor(x))


def gelu(x, approximate=False):
    """``x * Phi(x)`` (``Phi`` the normal CDF, through erf); ``approximate=True``: the
    tanh form ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``."""
    return activation_ops.apply("gelu_tanh" if approximate else "gelu", _as_tensor(x))


def _symbolic_ok(fn):
    """``fn`` that, given a symbolic tensor, records itself in the model graph."""
    @functools.wraps(fn)
    def activation(x, *args, **kwargs):
        if isinstance(x, graph.SymbolicTensor):
            from .layers import op_layer
            return op_layer.symbolic_call(fn, (x,) + args, kwargs)
        return fn(x, *args, **kwargs)
    return activation


relu, leaky_relu, relu6, sigmoid, tanh, softmax, log_softmax, exponential, elu, selu, \
    softplus, softsign, silu, hard_sigmoid, hard_silu, mish, gelu = map(_symbolic_ok, (
        relu, leaky_relu, relu6, sigmoid, tanh, softmax, log_softmax, exponential, elu,
        selu, softplus, softsign, silu, hard_sigmoid, hard_silu, mish, gelu))
swish = silu
hard_swish = hard_silu

_FUNCTIONS = (relu, leaky_relu, relu6, sigmoid, tanh, softmax, log_softmax, exponential,
              linear, elu, selu, softplus, softsign, silu, hard_sigmoid, hard_silu, mish,
              gelu)
_REGISTRY = {f.__name__: f for f in _FUNCTIONS}
_REGISTRY.update(swish=silu, hard_swish=hard_silu)


def get(identifier):
    """Activation function for a name, ``None`` (linear) or a callable."""
    if identifier is None:
        return linear
    if isinstance(identifier, str) and identifier.lower() in _REGISTRY:
        return _REGISTRY[identifier.lower()]
    if callable(identifier) and not isinstance(identifier, Tensor):
        return identifier
    raise ValueError(f"Could not interpret activation function identifier: {identifier!r}")


def serialize(fn):
    """The Keras name of a built-in activation (an alias gives its function's name)."""
    for f in _FUNCTIONS:
        if f is fn:
            return f.__name__
    raise ValueError(f"Only built-in activations can be saved. Received: {fn!r}")
