"""BatchNormalization with Keras's weights order (gamma, beta, moving_mean,
moving_variance), defaults (momentum 0.99, epsilon 1e-3) and biased batch variance."""
import numpy as np

from ..tensor import Tensor
from .base import Layer


class BatchNormalization(Layer):
    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones",
                 moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)):
            raise ValueError(f"BatchNormalization supports a single int axis. Received: "
                             f"axis={axis!r}")
        for name, value, lo, hi in (("momentum", momentum, 0.0, 1.0),
                                    ("epsilon", epsilon, 0.0, np.inf)):
            if isinstance(value, (bool, np.bool_)) or not isinstance(
                    value, (int, float, np.integer, np.floating)) or not lo <= value <= hi:
                raise ValueError(f"BatchNormalization: `{name}` must be a number in "
                                 f"[{lo}, {hi}]. Received: {name}={value!r}")
        if not epsilon > 0:
            raise ValueError("BatchNormalization: `epsilon` must be positive. Received: "
                             f"epsilon={epsilon!r}")
        self.axis, self.momentum, self.epsilon = int(axis), float(momentum), float(epsilon)
        self.center, self.scale = center, scale
        self.inits = (gamma_initializer, beta_initializer, moving_mean_initializer,
                      moving_variance_initializer)

    def build(self, input_shape):
        rank = len(input_shape)
        if not -rank <= self.axis < rank or rank < 2:
            raise ValueError(f"Layer {self.name!r}: invalid axis for an input of rank {rank}."
                             f" Expected -{rank} <= axis < {rank}. Received: axis={self.axis}")
        self._axis = self.axis % rank
        if self._axis == 0:
            raise ValueError(f"Layer {self.name!r}: cannot normalise over the batch axis. "
                             f"Received: axis={self.axis}")
        dim = input_shape[self._axis]
        g, b, mm, mv = self.inits
        self.gamma = self.add_weight((dim,), g, name="gamma") if self.scale else None
        self.beta = self.add_weight((dim,), b, name="beta") if self.center else None
        self.moving_mean = self.add_weight((dim,), mm, trainable=False, name="moving_mean")
        self.moving_variance = self.add_weight((dim,), mv, trainable=False,
                                               name="moving_variance")

    def call(self, x, training=False):
        axes = tuple(i for i in range(x.ndim) if i != self._axis)
        shape = [1] * x.ndim
        shape[self._axis] = x.shape[self._axis]
        if training:
            mean = x.mean(axis=axes, keepdims=True)
            centered = x - mean
            var = (centered * centered).mean(axis=axes, keepdims=True)
            m = self.momentum
            self.moving_mean.data[...] = self.moving_mean.data * m + \
                mean.data.reshape(-1) * (1 - m)
            self.moving_variance.data[...] = self.moving_variance.data * m + \
                var.data.reshape(-1) * (1 - m)
            y = centered / (var + self.epsilon).sqrt()
        else:
            mean = self.moving_mean.data.reshape(shape)
            inv = 1 / np.sqrt(self.moving_variance.data.reshape(shape) + self.epsilon)
            y = (x - Tensor(mean)) * Tensor(inv.astype(x.dtype))
        if self.gamma is not None:
            y = y * self.gamma.reshape(shape)
        if self.beta is not None:
            y = y + self.beta.reshape(shape)
        return y

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum,
                "epsilon": self.epsilon, "center": self.center, "scale": self.scale}
