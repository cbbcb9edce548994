"""Activation functions by Keras name."""
from .tensor import Tensor


def relu(x): return x.relu()
def sigmoid(x): return x.sigmoid()
def tanh(x): return x.tanh()
def softmax(x, axis=-1): return x.softmax(axis)
def linear(x): return x


_REGISTRY = {"relu": relu, "sigmoid": sigmoid, "tanh": tanh, "softmax": softmax,
             "linear": linear}


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
    for name, f in _REGISTRY.items():
        if f is fn:
            return name
    raise ValueError(f"Only built-in activations can be saved. Received: {fn!r}")
