"""Keras's ``Masking`` layer (how masks travel between layers: ``mask_flow``)."""
import numpy as np

from ..tensor import Tensor
from .base import Layer


class Masking(Layer):
    """``Masking(mask_value=0.0)``: a timestep whose features all equal ``mask_value`` is
    masked; the output is the input with those timesteps set to 0."""

    supports_masking = True
    _produces_mask = True

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(mask_value, (bool, np.bool_)) or not isinstance(
                mask_value, (int, float, np.integer, np.floating)):
            raise ValueError(f"Masking: `mask_value` must be a number. Received: "
                             f"mask_value={mask_value!r}")
        self.mask_value = float(mask_value)

    def compute_mask(self, inputs, mask=None):
        a = inputs.data if isinstance(inputs, Tensor) else np.asarray(inputs)
        return np.any(a != self.mask_value, axis=-1)

    def call(self, inputs, training=False):
        keep = self.compute_mask(inputs)
        return inputs * Tensor(keep[..., None].astype(inputs.dtype))

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}
