"""tensorlib: NumPy tensors with reverse-mode autograd, Cython + OpenMP kernels and a
Keras-compatible model API."""
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

__version__ = "0.1.0"

from . import functional, datasets, utils  # noqa: E402
from . import activations, initializers, optimizers, losses, metrics, callbacks  # noqa: E402
from . import layers, models  # noqa: E402
