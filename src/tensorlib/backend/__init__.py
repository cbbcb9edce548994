"""Kernel backends: ``native`` (Cython + OpenMP + SIMD) and ``numpy`` (pure-NumPy reference).

Both modules expose the same functions (see ``KERNELS``). Everything above this package
calls ``get_backend().<kernel>(...)`` and never a kernel module directly; only
``backend.native`` imports ``tensorlib._kernels``, and only when it is selected, so the
``numpy`` backend runs without the compiled extension. The backend is chosen by
``set_backend(name)``, else ``TENSORLIB_BACKEND``, else ``native``.
"""
import importlib
import os

KERNELS = (
    "gemm",
    "conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight",
    "conv2d_backward_bias", "conv2d_backward_weight_bias",
    "max_pool2d_forward", "max_pool2d_backward",
    "avg_pool2d_forward", "avg_pool2d_backward",
    "relu_forward", "relu_backward",
    "sgd_update", "rmsprop_update", "adam_update",
    "memory_scope",     # not a kernel: a context for training/predict loops (see native)
)
BACKENDS = {"native": "tensorlib.backend.native", "numpy": "tensorlib.backend.numpy_ref"}

_current = None


def set_backend(name):
    """Select the kernel backend: ``"native"`` or ``"numpy"``."""
    global _current
    if name not in BACKENDS:
        raise ValueError(
            f"Unknown backend. Expected one of {sorted(BACKENDS)}. Received: name={name!r}")
    _current = importlib.import_module(BACKENDS[name])


def get_backend():
    """The active backend module."""
    if _current is None:
        set_backend(os.environ.get("TENSORLIB_BACKEND", "native").strip() or "native")
    return _current
