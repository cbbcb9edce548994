"""Differentiable functions and the backward engine.

A ``Function`` subclass keeps its ``forward`` (NumPy arrays in, one array out) and its
``backward`` (gradient of the output in, one gradient per input out) side by side.
``Function.apply`` records the graph when gradients are enabled and some input requires
them; ``ctx.needs_input_grad`` lets ``backward`` skip gradients nobody wants.

``run_backward`` is the one engine: an iterative depth-first topological sort (inputs
visited in argument order, so the order is deterministic), then one pass in reverse
order that sums gradients per node (never overwriting), reduces broadcast gradients back
to each input's shape, accumulates into leaves' ``.grad`` and frees the graph unless
``retain_graph`` is set.

Imports go one way: ``autograd`` <- ``ops`` / ``ops_shape`` <- ``tensor``. This module never
imports ``tensor``: ``tensorlib.tensor`` registers its ``Tensor`` class once with
:func:`register_tensor_class`, and ``Function.apply`` wraps outputs in it. The engine
touches tensors only through ``data``, ``shape``, ``dtype``, ``_ctx`` and ``_accumulate``.
"""
import contextlib
import functools
import threading
from typing import Any, Callable, Literal, Optional, TypeVar, Union, overload

import numpy as np

R = TypeVar("R")


class _GradState(threading.local):
    """Grad mode is per thread (as in PyTorch): every thread starts with recording on."""
    enabled = True


_state = _GradState()


def is_grad_enabled() -> bool:
    return _state.enabled


class _GradMode(contextlib.ContextDecorator):
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.saved: list[bool] = []       # a stack, so one instance can be re-entered (recursion)

    def __enter__(self) -> None:
        self.saved.append(_state.enabled)
        _state.enabled = self.enabled

    def __exit__(self, *exc: object) -> Literal[False]:
        _state.enabled = self.saved.pop()
        return False


@overload
def no_grad(func: None = None) -> _GradMode: ...
@overload
def no_grad(func: Callable[..., R]) -> Callable[..., R]: ...


def no_grad(func: Optional[Callable[..., R]] = None) -> Union[Callable[..., R], _GradMode]:
    """Context manager (``with no_grad():``) or decorator turning graph recording off."""
    if callable(func):
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> R:
            with _GradMode(False):
                return func(*args, **kwargs)
        return wrapper
    return _GradMode(False)


def enable_grad() -> _GradMode:
    return _GradMode(True)


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` over the axes that broadcasting added or stretched to reach ``shape``."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape)


_tensor_class: Any = None


def register_tensor_class(cls: type) -> None:
    """Make ``cls`` the class that ``Function.apply`` recognises as a graph input and wraps
    its outputs in (called once, by tensorlib.tensor)."""
    global _tensor_class
    _tensor_class = cls


class Function:
    """Base of every differentiable op. Subclasses define ``forward`` and ``backward``."""

    released = False
    needs_input_grad: tuple[bool, ...]      # set by apply
    parents: tuple[Any, ...]                # set by apply when the graph is recorded

    @classmethod
    def apply(cls, *inputs: Any, **params: Any) -> Any:
        Tensor = _tensor_class
        ctx = cls()
        ctx.needs_input_grad = tuple(isinstance(t, Tensor) and t.requires_grad for t in inputs)
        raw = [t.data if isinstance(t, Tensor) else t for t in inputs]
        try:
            out = Tensor(ctx.forward(*raw, **params))
        except (TypeError, ValueError, OverflowError) as e:
            raise _explained(cls, e, raw) from None
        if _state.enabled and any(ctx.needs_input_grad):
            ctx.parents = inputs
            out._ctx = ctx
            out.requires_grad = True
        return out

    def forward(self, *args: Any, **params: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, grad: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def release(self) -> None:
        """Drop saved arrays and graph edges; a later backward through here is an error."""
        self.__dict__.clear()
        self.released = True


def _explained(cls, error, raw):
    """NumPy's own message for a failed forward (an unsupported dtype, an integer that does
    not fit, a zero slice step...) prefixed with the op and followed by what it received.
    Errors that already say what they received pass through unchanged."""
    if "Received" in str(error):
        return error
    op = cls.__name__.lower()
    got = ", ".join(f"{type(a).__name__}" + (f" {a.dtype} {a.shape}" if hasattr(a, "dtype")
                                              and hasattr(a, "shape") else f" {a!r}"[:60])
                    for a in raw)
    kind = TypeError if isinstance(error, TypeError) else ValueError
    return kind(f"{op}: {str(error).rstrip('.')}. Received: {got}")


def _topological_order(root):
    """Non-leaf tensors reachable from ``root``, each before every tensor it was made from
    (iterative post-order depth-first search, reversed)."""
    order, visited = [], set()
    stack = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        ctx = node._ctx
        if ctx is None or ctx.released:
            continue
        for parent in reversed(ctx.parents):
            if getattr(parent, "_ctx", None) is not None and id(parent) not in visited:
                stack.append((parent, False))
    order.reverse()
    return order


def run_backward(root: Any, grad: np.ndarray, retain_graph: bool = False) -> None:
    grads = {id(root): grad}
    for node in _topological_order(root):
        g = grads.pop(id(node), None)
        ctx = node._ctx
        if ctx.released:
            raise RuntimeError(
                "Trying to backward through the graph a second time: its saved values were "
                "freed by the first backward. Pass retain_graph=True to the first call.")
        if g is None:
            continue
        parents, needs = ctx.parents, ctx.needs_input_grad
        in_grads = ctx.backward(g)
        if not isinstance(in_grads, tuple):
            in_grads = (in_grads,)
        for parent, need, pg in zip(parents, needs, in_grads):
            if not need or pg is None:
                continue
            pg = unbroadcast(np.asarray(pg), parent.shape)
            if pg.dtype != parent.dtype:
                pg = pg.astype(parent.dtype)
            if parent._ctx is None:
                parent._accumulate(pg)
            elif id(parent) in grads:
                grads[id(parent)] = grads[id(parent)] + pg
            else:
                grads[id(parent)] = pg
        if not retain_graph:
            ctx.release()
