"""Differentiable shape, indexing and joining ops (forward beside backward)."""
import numpy as np

from .autograd import Function


class Reshape(Function):
    def forward(self, a, shape=None):
        self.shape = a.shape
        try:
            return a.reshape(shape)
        except ValueError:
            raise ValueError(
                f"reshape: cannot reshape a tensor of shape {a.shape} ({a.size} elements) "
                f"into shape {tuple(shape)}. Received: shape={tuple(shape)}") from None

    def backward(self, g):
        return g.reshape(self.shape)


class Permute(Function):
    def forward(self, a, axes=None):
        if len(axes) != a.ndim or any(not -a.ndim <= int(x) < a.ndim for x in axes) \
                or sorted(int(x) % a.ndim for x in axes) != list(range(a.ndim)):
            raise ValueError(f"permute: axes must be a permutation of 0..{a.ndim - 1} for a "
                             f"tensor of shape {a.shape}. Received: axes={tuple(axes)}")
        self.axes = tuple(int(x) % a.ndim for x in axes)
        return np.transpose(a, self.axes)

    def backward(self, g):
        return np.transpose(g, np.argsort(self.axes))


def _has_advanced(index):
    items = index if isinstance(index, tuple) else (index,)
    return any(isinstance(i, (list, np.ndarray)) for i in items)


class GetItem(Function):
    def forward(self, a, index=None):
        self.shape, self.dtype, self.index = a.shape, a.dtype, index
        try:
            return np.asarray(a[index])
        except IndexError as e:
            raise IndexError(f"getitem: {e}. Received: index={index!r} for shape {a.shape}") \
                from None

    def backward(self, g):
        out = np.zeros(self.shape, dtype=g.dtype)
        if _has_advanced(self.index):
            np.add.at(out, self.index, g)   # repeated indices accumulate
        else:
            out[self.index] += g
        return out


class Concatenate(Function):
    def forward(self, *arrays, axis=0):
        shapes = [a.shape for a in arrays]
        try:
            out = np.concatenate(arrays, axis=axis)
        except (ValueError, np.exceptions.AxisError) as e:
            raise ValueError(f"concatenate: {e}. Received: shapes {shapes}, axis={axis}") \
                from None
        self.axis = axis % arrays[0].ndim
        self.splits = np.cumsum([s[self.axis] for s in shapes])[:-1]
        return out

    def backward(self, g):
        return tuple(np.split(g, self.splits, axis=self.axis))


class Stack(Function):
    def forward(self, *arrays, axis=0):
        shapes = [a.shape for a in arrays]
        if len(set(shapes)) > 1:
            raise ValueError(f"stack: all tensors must have the same shape. Received: {shapes}")
        out = np.stack(arrays, axis=axis)
        self.axis = axis % out.ndim
        return out

    def backward(self, g):
        return tuple(np.moveaxis(g, self.axis, 0))


class Where(Function):
    def forward(self, a, b, cond=None):
        try:
            np.broadcast_shapes(np.shape(cond), np.shape(a), np.shape(b))
        except ValueError:
            raise ValueError(
                "where: condition and operands could not be broadcast together. Received: "
                f"shapes {np.shape(cond)}, {np.shape(a)} and {np.shape(b)}") from None
        self.cond = cond
        return np.where(cond, a, b)

    def backward(self, g):
        return np.where(self.cond, g, 0), np.where(self.cond, 0, g)
