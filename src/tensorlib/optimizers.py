"""Keras 3 compatible optimizers: SGD, RMSprop, Adam and AdamW here; Adadelta, Adagrad,
Adamax, Nadam, Lion and Ftrl in ``optimizers_more``; the base class, ``Optimizer`` (its
``apply`` order, clipping, weight decay, EMA, accumulation), in ``optimizer_base``.

The update step of all variables of one dtype is ONE call to the active backend's fused
kernel (``sgd_update``, ``rmsprop_update``, ``adam_update``), which performs Keras's
operations in Keras's order and gives the same bits as the NumPy reference.
"""
import inspect
import sys

import numpy as np

from . import schedules
from .optimizer_base import Optimizer, _is_number
from .optimizers_more import Adadelta, Adagrad, Adamax, Ftrl, Lion, Nadam

# ``keras.optimizers.schedules`` (and ``from tensorlib.optimizers.schedules import ...``)
sys.modules[__name__ + ".schedules"] = schedules

__all__ = ["Optimizer", "SGD", "RMSprop", "Adam", "AdamW", "Adadelta", "Adagrad", "Adamax",
           "Nadam", "Lion", "Ftrl", "get", "serialize", "deserialize"]


# ---------------------------------------------------------------- SGD
class SGD(Optimizer):
    """``m = momentum*m - lr*g``; ``var += momentum*m - lr*g`` (nesterov) or ``var += m``;
    plain ``var -= lr*g`` when ``momentum == 0``."""

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name="SGD", **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm,
                         use_ema=use_ema, ema_momentum=ema_momentum,
                         ema_overwrite_frequency=ema_overwrite_frequency,
                         loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, name=name,
                         **kwargs)
        if not _is_number(momentum) or momentum < 0 or momentum > 1:
            raise ValueError("`momentum` must be a float between [0, 1]. Received: "
                             f"momentum={momentum!r}")
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)

    def _slot_names(self):
        return ("momentum",) if self.momentum != 0 else ()

    def _update_group(self, backend, dt, grads, variables, learning_rate):
        moms = self._slot_list("momentum", variables) if self.momentum != 0 else None
        backend.sgd_update([v.data for v in variables], grads, moms, dt(learning_rate),
                           dt(self.momentum), self.nesterov)

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


# ---------------------------------------------------------------- RMSprop
class RMSprop(Optimizer):
    """``v = rho*v + (1-rho)*g^2``; ``increment = lr*g / sqrt(v + eps)`` (centered:
    ``sqrt(v - mg^2 + eps)``); with momentum ``m = momentum*m + increment; var -= m``."""

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7,
                 centered=False, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name="rmsprop", **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm,
                         use_ema=use_ema, ema_momentum=ema_momentum,
                         ema_overwrite_frequency=ema_overwrite_frequency,
                         loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, name=name,
                         **kwargs)
        self.rho = rho
        self.momentum = momentum
        self.epsilon = epsilon
        self.centered = centered

    def _slot_names(self):
        names = ["velocity"]
        if self.momentum > 0:
            names.append("momentum")
        if self.centered:
            names.append("average_gradient")
        return tuple(names)

    def _update_group(self, backend, dt, grads, variables, learning_rate):
        backend.rmsprop_update(
            [v.data for v in variables], grads, self._slot_list("velocity", variables),
            self._slot_list("average_gradient", variables) if self.centered else None,
            self._slot_list("momentum", variables) if self.momentum > 0 else None,
            dt(learning_rate), dt(self.rho), dt(1 - self.rho), dt(self.momentum),
            dt(self.epsilon))

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum,
                "epsilon": self.epsilon, "centered": self.centered}


# ---------------------------------------------------------------- Adam / AdamW
class Adam(Optimizer):
    """Keras's bias-corrected alpha form: ``alpha = lr*sqrt(1-b2^t)/(1-b1^t)``,
    ``m += (g-m)*(1-b1)``, ``v += (g^2-v)*(1-b2)``, ``var -= m*alpha/(sqrt(v)+eps)``
    (amsgrad uses ``v_hat = max(v_hat, v)`` in place of ``v``)."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name="adam", **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm,
                         use_ema=use_ema, ema_momentum=ema_momentum,
                         ema_overwrite_frequency=ema_overwrite_frequency,
                         loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, name=name,
                         **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.amsgrad = amsgrad

    def _slot_names(self):
        return ("momentum", "velocity", "velocity_hat") if self.amsgrad \
            else ("momentum", "velocity")

    def _slot_groups(self):
        return [("momentum", "velocity")] + ([("velocity_hat",)] if self.amsgrad else [])

    def _update_group(self, backend, dt, grads, variables, learning_rate):
        lr, b1, b2 = dt(learning_rate), dt(self.beta_1), dt(self.beta_2)
        step = dt(self._update_iterations + 1)
        alpha = lr * np.sqrt(dt(1) - np.power(b2, step)) / (dt(1) - np.power(b1, step))
        backend.adam_update(
            [v.data for v in variables], grads, self._slot_list("momentum", variables),
            self._slot_list("velocity", variables),
            self._slot_list("velocity_hat", variables) if self.amsgrad else None,
            alpha, dt(1 - self.beta_1), dt(1 - self.beta_2), dt(self.epsilon))

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon, "amsgrad": self.amsgrad}


class AdamW(Adam):
    """Adam with Keras's decoupled weight decay (``var -= var*wd*lr`` before the step)."""

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-7, amsgrad=False, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name="adamw", **kwargs):
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2,
                         epsilon=epsilon, amsgrad=amsgrad, weight_decay=weight_decay,
                         clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, use_ema=use_ema,
                         ema_momentum=ema_momentum,
                         ema_overwrite_frequency=ema_overwrite_frequency,
                         loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, name=name,
                         **kwargs)
        if self.weight_decay is None:
            raise ValueError("Argument `weight_decay` must be a float. Received: "
                             "weight_decay=None")


# ---------------------------------------------------------------- registry
ALL_OBJECTS = (SGD, RMSprop, Adam, AdamW, Adadelta, Adagrad, Adamax, Nadam, Lion, Ftrl)
ALL_OBJECTS_DICT = {cls.__name__.lower(): cls for cls in ALL_OBJECTS}


def serialize(optimizer):
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}


def deserialize(config):
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError("Could not interpret optimizer identifier: a config dict needs a "
                         f"'class_name' key. Received: {config!r}")
    cls = ALL_OBJECTS_DICT.get(str(config["class_name"]).lower())
    if cls is None:
        raise ValueError(f"Could not interpret optimizer identifier: {config!r}")
    return cls.from_config(dict(config.get("config") or {}))


def get(identifier):
    """An optimizer from a name ("sgd", "Adam", ...), a config dict, a class or an instance."""
    if identifier is None:
        return None
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        cls = ALL_OBJECTS_DICT.get(identifier.lower())
        if cls is not None:
            return cls()
    elif inspect.isclass(identifier) and issubclass(identifier, Optimizer):
        return identifier()
    raise ValueError(f"Could not interpret optimizer identifier: {identifier!r}")
