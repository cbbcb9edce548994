"""Keras's ``Embedding`` layer: integer indices -> rows of a trainable table."""
import warnings

import numpy as np

from .. import constraints, regularizers
from ..autograd import Function
from ..tensor import Tensor
from .base import MAX_DIM, Layer
from .recurrent import get_initializer


class EmbeddingLookup(Function):
    """``table[indices]``; the gradient of the table is a scatter-add of the output's
    gradient rows (an index used twice gets both)."""

    def forward(self, table, indices=None):
        self.shape, self.indices = table.shape, indices
        return table[indices]

    def backward(self, g):
        rows = g.reshape(-1, self.shape[1])
        grad = np.zeros(self.shape, g.dtype)
        np.add.at(grad, self.indices.reshape(-1), rows)
        return grad


class Embedding(Layer):
    """``Embedding(input_dim, output_dim, embeddings_initializer="uniform", ...)``: output
    shape ``input_shape + (output_dim,)``; with ``mask_zero`` index 0 is padding and the
    layer gives the mask ``inputs != 0`` (``compute_mask``)."""

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform",
                 embeddings_regularizer=None, embeddings_constraint=None, mask_zero=False,
                 weights=None, lora_rank=None, lora_alpha=None, activity_regularizer=None,
                 quantization_config=None, input_length=None, **kwargs):
        if input_length is not None:
            warnings.warn("Argument `input_length` is deprecated. Just remove it.",
                          stacklevel=2)
        super().__init__(**kwargs)
        for arg, value in (("input_dim", input_dim), ("output_dim", output_dim)):
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) \
                    or not 1 <= value <= MAX_DIM:
                raise ValueError(f"`{arg}` must be a positive integer. Received: "
                                 f"{arg}={value} (of type {type(value).__name__}).")
        for arg, value in (("lora_rank", lora_rank),
                           ("quantization_config", quantization_config)):
            if value is not None:
                raise ValueError(f"Embedding: `{arg}` is not supported by tensorlib. "
                                 f"Received: {arg}={value!r}")
        if not isinstance(mask_zero, (bool, np.bool_)):
            raise TypeError(f"Embedding: `mask_zero` must be a boolean. Received: "
                            f"mask_zero={mask_zero!r}")
        self.input_dim, self.output_dim = int(input_dim), int(output_dim)
        self.mask_zero = bool(mask_zero)
        self._produces_mask = self.mask_zero
        try:
            get_initializer(embeddings_initializer)
        except ValueError:
            raise ValueError("Embedding: could not interpret initializer identifier. "
                             f"Received: embeddings_initializer={embeddings_initializer!r}") \
                from None
        self.embeddings_initializer = embeddings_initializer
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        try:
            self.embeddings_constraint = constraints.get(embeddings_constraint)
        except ValueError:
            raise ValueError("Embedding: could not interpret constraint identifier. Received: "
                             f"embeddings_constraint={embeddings_constraint!r}") from None
        self.activity_regularizer = regularizers.get(activity_regularizer)
        if weights is not None:         # Keras: built at once, the table set
            self.build()
            self.built = True
            self.set_weights(weights if isinstance(weights, list) and len(weights) == 1
                             else [weights])

    def build(self, input_shape=None):
        self.embeddings = self.add_weight(
            (self.input_dim, self.output_dim), get_initializer(self.embeddings_initializer),
            name="embeddings", regularizer=self.embeddings_regularizer,
            constraint=self.embeddings_constraint)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        return np.asarray(inputs.data if isinstance(inputs, Tensor) else inputs) != 0

    def _input_tensor(self, x):
        return x if isinstance(x, Tensor) else Tensor(np.asarray(x))

    def _indices(self, inputs):
        """The inputs as integer indices, each in [0, input_dim)."""
        a = np.asarray(inputs.data if isinstance(inputs, Tensor) else inputs)
        if a.dtype.kind not in "biuf":
            raise ValueError(f"Layer {self.name!r} (Embedding): inputs must be integer "
                             f"indices. Received: dtype={a.dtype}")
        if a.dtype.kind == "f" and not np.isfinite(a).all():
            raise ValueError(f"Layer {self.name!r} (Embedding): inputs must be integer "
                             f"indices. Received: non-finite values")
        idx = a.astype(np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= self.input_dim):
            bad = idx[(idx < 0) | (idx >= self.input_dim)].ravel()[0]
            raise ValueError(f"Layer {self.name!r} (Embedding): indices must lie in [0, "
                             f"input_dim={self.input_dim}). Received: index {bad} in inputs "
                             f"of shape {a.shape}")
        return idx

    def call(self, inputs, training=False):
        out = EmbeddingLookup.apply(self.embeddings, indices=self._indices(inputs))
        if self.activity_regularizer is not None:
            self.add_loss(self.activity_regularizer(out) * (1.0 / max(out.shape[0], 1)))
        return out

    def get_config(self):
        return {**super().get_config(), "input_dim": self.input_dim,
                "output_dim": self.output_dim,
                "embeddings_initializer": self.embeddings_initializer,
                "embeddings_regularizer": regularizers.serialize(self.embeddings_regularizer),
                "activity_regularizer": regularizers.serialize(self.activity_regularizer),
                "embeddings_constraint": constraints.serialize(self.embeddings_constraint),
                "mask_zero": self.mask_zero, "quantization_config": None}
