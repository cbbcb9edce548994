"""Merge layers: ``Add``, ``Subtract``, ``Multiply``, ``Average``, ``Maximum``, ``Minimum``,
``Concatenate`` and ``Dot``. Each takes a list of tensors; the forward pass is made of
Tensor ops, so autograd gives the backward pass."""
import numpy as np

from .. import graph
from ..tensor import concatenate as _concatenate, maximum as _maximum
from .base import Layer


class Merge(Layer):
    """Base of the merge layers: a list of at least ``min_inputs`` (exactly ``n_inputs``
    when set) inputs of shapes that broadcast against each other, batch axis first."""

    _takes_structure = True
    min_inputs, n_inputs = 1, None

    def _check_shapes(self, input_shape):
        cls = type(self).__name__
        if not isinstance(input_shape, list):
            raise ValueError(f"A merge layer ({cls} {self.name!r}) should be called on a "
                             f"list of inputs. Received: input_shape={input_shape} (not a "
                             "list of shapes)")
        if len(input_shape) < self.min_inputs or (self.n_inputs is not None
                                                  and len(input_shape) != self.n_inputs):
            count = f"exactly {self.n_inputs}" if self.n_inputs else \
                f"at least {self.min_inputs}"
            raise ValueError(f"A `{cls}` layer should be called on {count} inputs. "
                             f"Received: input_shape={input_shape}")
        return input_shape

    def build(self, input_shape):
        self._check_shapes(input_shape)

    def compute_output_shape(self, input_shape):
        shapes = self._check_shapes(input_shape)
        out = list(shapes[0])
        for shape in shapes[1:]:
            if len(shape) != len(out):
                raise ValueError(f"Layer {self.name!r}: inputs have incompatible shapes. "
                                 f"Received: shapes {[tuple(s) for s in shapes]}")
            for i, (a, b) in enumerate(zip(out, shape)):
                if a is None or b is None:
                    out[i] = a if b in (None, 1) else (b if a in (None, 1) else None)
                elif a != b and 1 not in (a, b):
                    raise ValueError(f"Layer {self.name!r}: inputs have incompatible shapes. "
                                     f"Received: shapes {[tuple(s) for s in shapes]}")
                else:
                    out[i] = max(a, b) if 1 in (a, b) else a
        return tuple(out)

    def _input_tensor(self, x):
        if not isinstance(x, (list, tuple)):
            raise ValueError(f"A merge layer ({type(self).__name__} {self.name!r}) should be "
                             f"called on a list of inputs. Received: {type(x).__name__}")
        return [Layer._input_tensor(self, t) for t in x]

    def __call__(self, x, training=False, **kwargs):
        if not isinstance(x, (list, tuple)) or graph.is_symbolic(x):
            return super().__call__(x, training=training, **kwargs)
        xs = self._input_tensor(x)
        if not self.built:
            self.build_for([(None,) + t.shape[1:] for t in xs])
        return self.call(xs, training=training)

    def call(self, inputs, training=False):
        return self._merge(list(inputs))


class Add(Merge):
    def _merge(self, xs):
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out


class Subtract(Merge):
    n_inputs = 2

    def _merge(self, xs):
        return xs[0] - xs[1]


class Multiply(Merge):
    def _merge(self, xs):
        out = xs[0]
        for x in xs[1:]:
            out = out * x
        return out


class Average(Merge):
    def _merge(self, xs):
        return Add._merge(self, xs) * (1.0 / len(xs))


class Maximum(Merge):
    def _merge(self, xs):
        out = xs[0]
        for x in xs[1:]:
            out = _maximum(out, x)
        return out


class Minimum(Merge):
    def _merge(self, xs):
        out = -xs[0]
        for x in xs[1:]:
            out = _maximum(out, -x)
        return -out


class Concatenate(Merge):
    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)):
            raise ValueError(f"Concatenate: `axis` must be an integer. Received: axis={axis!r}")
        self.axis = int(axis)

    def compute_output_shape(self, input_shape):
        shapes = self._check_shapes(input_shape)
        rank = len(shapes[0])
        axis = self.axis % rank if -rank <= self.axis < rank else None
        if axis in (None, 0) or any(len(s) != rank for s in shapes) or any(
                len({s[i] for s in shapes} - {None}) > 1 for i in range(rank) if i != axis):
            raise ValueError("A `Concatenate` layer requires inputs with matching shapes "
                             f"except for the concatenation axis (axis={self.axis}). Received: "
                             f"input_shape={[tuple(s) for s in shapes]}")
        sizes = [s[axis] for s in shapes]
        out = [next((s[i] for s in shapes if s[i] is not None), None) for i in range(rank)]
        out[axis] = None if None in sizes else sum(sizes)
        return tuple(out)

    def _merge(self, xs):
        return _concatenate(xs, axis=self.axis)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class Dot(Merge):
    """The dot product of two batched tensors along ``axes`` (an int or a pair), for
    inputs of rank 2 or 3; ``normalize=True`` L2-normalises both along those axes first
    (cosine proximity)."""

    n_inputs = 2

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        pair = tuple(axes) if isinstance(axes, (list, tuple)) else (axes, axes)
        if len(pair) != 2 or not all(isinstance(a, (int, np.integer))
                                     and not isinstance(a, (bool, np.bool_)) for a in pair):
            raise ValueError("Dot: `axes` must be an integer or a pair of integers. "
                             f"Received: axes={axes!r}")
        self.axes, self.normalize = axes, bool(normalize)
        self._pair = tuple(int(a) for a in pair)

    def _axes_for(self, shapes):
        ranks = [len(s) for s in shapes]
        if ranks[0] != ranks[1] or ranks[0] not in (2, 3):
            raise ValueError(f"Layer {self.name!r}: Dot supports two inputs of the same rank, "
                             f"2 or 3. Received: input_shape={[tuple(s) for s in shapes]}")
        axes = [a % r if -r <= a < r else None for a, r in zip(self._pair, ranks)]
        if 0 in axes or None in axes:
            raise ValueError(f"Layer {self.name!r}: Dot axes must be non-batch axes of the "
                             f"inputs. Received: axes={self.axes}")
        return axes

    def compute_output_shape(self, input_shape):
        shapes = self._check_shapes(input_shape)
        ax, ay = self._axes_for(shapes)
        a, b = shapes[0][ax], shapes[1][ay]
        if a is not None and b is not None and a != b:
            raise ValueError(f"Incompatible input shapes: axis values {a} (at axis {ax}) != "
                             f"{b} (at axis {ay}). Received: input_shape="
                             f"{[tuple(s) for s in shapes]}")
        rest = [d for i, d in enumerate(shapes[0]) if i not in (0, ax)] + \
            [d for i, d in enumerate(shapes[1]) if i not in (0, ay)]
        return (shapes[0][0],) + (tuple(rest) if rest else (1,))

    def _merge(self, xs):
        x, y = xs
        ax, ay = self._axes_for([x.shape, y.shape])
        if self.normalize:
            x, y = _l2_normalize(x, ax), _l2_normalize(y, ay)
        if x.ndim == 2:
            return (x * y).sum(axis=1, keepdims=True)
        if ax != 2:
            x = x.permute(0, 2, 1)
        if ay != 1:
            y = y.permute(0, 2, 1)
        return x @ y

    def get_config(self):
        return {**super().get_config(), "axes": self.axes, "normalize": self.normalize}


def _l2_normalize(x, axis):
    norm = (x * x).sum(axis=axis, keepdims=True).clip(min=1e-12).sqrt()
    return x / norm



# Keras's functional forms: ``layers.add([a, b])`` is ``layers.Add()([a, b])``.
def add(inputs, **kwargs): return Add(**kwargs)(inputs)
def subtract(inputs, **kwargs): return Subtract(**kwargs)(inputs)
def multiply(inputs, **kwargs): return Multiply(**kwargs)(inputs)
def average(inputs, **kwargs): return Average(**kwargs)(inputs)
def maximum(inputs, **kwargs): return Maximum(**kwargs)(inputs)
def minimum(inputs, **kwargs): return Minimum(**kwargs)(inputs)
def concatenate(inputs, axis=-1, **kwargs): return Concatenate(axis=axis, **kwargs)(inputs)
def dot(inputs, axes, normalize=False, **kwargs):
    return Dot(axes=axes, normalize=normalize, **kwargs)(inputs)
