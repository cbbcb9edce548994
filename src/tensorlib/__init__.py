"""tensorlib: NumPy tensors with reverse-mode autograd, Cython + OpenMP kernels and a
Keras-compatible model API.

``import tensorlib as keras`` offers the Keras 3 namespace for CPU training code:
``Sequential``, ``Model``, ``Input``, ``Layer``, ``KerasTensor``, and the submodules
``layers``, ``models``, ``optimizers``, ``losses``, ``metrics``, ``callbacks``, ``datasets``,
``utils``, ``activations``, ``initializers``, ``regularizers``, ``backend``, ``saving``, ``ops`` and
``distribution``.
"""
from .autograd import no_grad, enable_grad, is_grad_enabled
from .tensor import (
    Tensor, tensor, zeros, ones, full, arange, randn, rand,
    exp, log, sqrt, abs, relu, sigmoid, tanh, clip, softmax, log_softmax, matmul,
    maximum, concatenate, stack, where,
    float32, float64, int32, int64, bool_,
)
from .random import Generator, manual_seed
from ._threads import set_num_threads, get_num_threads
from .backend import set_backend, get_backend

from ._version import __version__  # noqa: E402

from . import functional, config, graph  # noqa: E402
from . import backend, keras_backend, keras_ops, keras_random, ops, random  # noqa: E402
from .graph import KerasTensor  # noqa: E402

# The Keras layer, model, training and file modules load when first used (PEP 562), so
# ``import tensorlib`` stays quick for tensor code: ``tensorlib.layers`` (or
# ``from tensorlib import layers``, or ``tensorlib.Sequential``) imports them then.
_SUBMODULES = frozenset({
    "activations", "callbacks", "constraints", "datasets", "distribution", "initializers",
    "layers", "losses", "metrics", "models", "optimizers", "regularizers", "saving",
    "schedules", "utils"})
_NAMES = {"Input": "layers", "Layer": "layers", "Model": "models", "Sequential": "models"}


def __getattr__(name):
    import importlib
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _NAMES:
        return getattr(importlib.import_module(f"{__name__}.{_NAMES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | _SUBMODULES | set(_NAMES))


# ``keras.ops.<name>``, ``keras.backend.<name>`` and ``keras.random.<name>``: publish the
# Keras functions onto the module of primitive autograd Functions (CamelCase classes), onto
# the kernel-backend package and onto the generator module. None of them defines any of
# these names: nothing internal is shadowed.
for _module, _facade in ((ops, keras_ops), (backend, keras_backend), (random, keras_random)):
    for _name in _facade.__all__:
        if getattr(_module, _name, None) not in (None, getattr(_facade, _name)):
            raise ImportError(f"tensorlib: {_facade.__name__}.{_name} would shadow "
                              f"{_module.__name__}.{_name}")
        setattr(_module, _name, getattr(_facade, _name))
del _module, _facade, _name


def version():
    return __version__
