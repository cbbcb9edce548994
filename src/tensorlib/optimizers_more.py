"""Keras 3's Adadelta, Adagrad, Adamax, Nadam, Lion and Ftrl (re-exported by
``tensorlib.optimizers``).

Each update runs Keras's operations in Keras's order in NumPy, in the variable's dtype
(hyper-parameters cast to it), one variable at a time. Slots are named and grouped as
Keras creates them (``_slot_groups``: the slots of one group interleave per variable in a
``.keras`` file); Nadam's running product ``u_product`` is one scalar after the slots.
"""
import numpy as np

from .optimizer_base import Optimizer, _is_number

_BASE_DEFAULTS = {"weight_decay": None, "clipnorm": None, "clipvalue": None,
                  "global_clipnorm": None, "use_ema": False, "ema_momentum": 0.99,
                  "ema_overwrite_frequency": None, "loss_scale_factor": None,
                  "gradient_accumulation_steps": None}


def _base(local):
    """The base-optimizer arguments of a constructor's ``locals()``."""
    return {k: local[k] for k in _BASE_DEFAULTS}


def _check(cls, name, value, ok, rule):
    if not _is_number(value) or not ok(value):
        raise ValueError(f"{cls}: `{name}` {rule}. Received: {name}={value!r}")
    return value


class Adadelta(Optimizer):
    """``ag = rho*ag + (1-rho)*g^2``; ``d = -sqrt(ad+eps)*g / sqrt(ag+eps)``;
    ``ad = rho*ad + (1-rho)*d^2``; ``var += lr*d``."""

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate, name=name, **_base(locals()), **kwargs)
        self.rho = rho
        self.epsilon = epsilon

    def _slot_groups(self):
        return [("accumulated_grad", "accumulated_delta_var")]

    def _slot_names(self):
        return ("accumulated_grad", "accumulated_delta_var")

    def _update_group(self, backend, dt, grads, variables, learning_rate):
        lr, rho, eps = dt(learning_rate), dt(self.rho), dt(self.epsilon)
        one_minus_rho = dt(1 - self.rho)
        for g, v in zip(grads, variables):
            s = self._slots[id(v)]
            ag, ad = s["accumulated_grad"], s["accumulated_delta_var"]
            ag[...] = rho * ag + one_minus_rho * np.square(g)
            delta = -(np.sqrt(ad + eps) * g) / np.sqrt(ag + eps)
            ad[...] = rho * ad + one_minus_rho * np.square(delta)
            v.data += lr * delta

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}


class Adagrad(Optimizer):
    """``acc += g^2`` (``acc`` starts at ``initial_accumulator_value``);
    ``var -= lr*g / sqrt(acc + eps)``."""

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name=None,
                 **kwargs):
        super().__init__(learning_rate, name=name, **_base(locals()), **kwargs)
        self.initial_accumulator_value = initial_accumulator_value
        self.epsilon = epsilon

    def _slot_names(self):
        return ("accumulator",)

    def _slot_initial_value(self, name):
        return self.initial_accumulator_value if name == "accumulator" else 0.0

    def _update_group(self, backend, dt, grads, variables, learning_rate):
        lr, eps = dt(learning_rate), dt(self.epsilon)
        for g, v in zip(grads, variables):
            acc = self._slots[id(v)]["accumulator"]
            acc += np.square(g)
            v.data -= (lr * g) / np.sqrt(acc + eps)

    def get_config(self):
        return {**super().get_config(),
                "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}


class Adamax(Optimizer):
    """``m += (g-m)*(1-b1)``; ``u = max(b2*u, |g|)``;
    ``var -= lr*m / ((1-b1^t)*(u+eps))``."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name=None,
                 **kwargs):
        super().__init__(learning_rate, name=name, **_base(locals()), **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon

    def _slot_groups(self):
        return [("momentum", "norm")]

    def _slot_names(self):
        return ("momentum", "norm")

    def _update_group(self, backend, dt, grads, variables, learning_rate):
        lr, b2, eps = dt(learning_rate), dt(self.beta_2), dt(self.epsilon)
        one_minus_b1 = dt(1 - self.beta_1)
        b1_power = np.power(dt(self.beta_1), dt(self._update_iterations + 1))
        for g, v in zip(grads, variables):
            s = self._slots[id(v)]
            m, u = s["momentum"], s["norm"]
            m += (g - m) * one_minus_b1
            u[...] = np.maximum(b2 * u, np.abs(g))
            v.data -= (lr * m) / ((dt(1) - b1_power) * (u + eps))

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}


class Nadam(Optimizer):
    """Adam with Nesterov momentum and Keras's momentum schedule
    ``u_t = b1*(1 - 0.5*0.96^t)``, whose running product ``u_product`` is one more
    optimizer variable."""

    _EXTRA_VARIABLES = 1

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name=None,
                 **kwargs):
        super().__init__(learning_rate, name=name, **_base(locals()), **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self._u_product = None

    def _slot_groups(self):
        return [("momentum", "velocity")]

    def _slot_names(self):
        return ("momentum", "velocity")

    def _slots_for(self, variable):
        if self._u_product is None:       # Keras: the dtype of the first variable
            self._u_product = np.ones((), variable.data.dtype)
        return super()._slots_for(variable)

    def _extra_variables(self):
        return [] if self._u_product is None else [self._u_product]

    def _update(self, grads, variables, learning_rate):
        up = self._u_product
        dt = up.dtype.type
        step = dt(self._update_iterations + 1)
        up[...] = up * dt(self.beta_1) * (dt(1.0) - dt(0.5) * np.power(dt(0.96), step))
        super()._update(grads, variables, learning_rate)

    def _update_group(self, backend, dt, grads, variables, learning_rate):
        lr, b1, b2, eps = (dt(learning_rate), dt(self.beta_1), dt(self.beta_2),
                           dt(self.epsilon))
        t, decay = dt(self._update_iterations + 1), dt(0.96)
        u_t = b1 * (dt(1.0) - dt(0.5) * np.power(decay, t))
        u_t_1 = b1 * (dt(1.0) - dt(0.5) * np.power(decay, t + dt(1)))
        u_product_t = dt(self._u_product)
        u_product_t_1 = u_product_t * u_t_1
        b2_power = np.power(b2, t)
        for g, v in zip(grads, variables):
            s = self._slots[id(v)]
            m, vel = s["momentum"], s["velocity"]
            m += (g - m) * dt(1 - self.beta_1)
            vel += (np.square(g) - vel) * dt(1 - self.beta_2)
            m_hat = (u_t_1 * m) / (dt(1) - u_product_t_1) \
                + ((dt(1) - u_t) * g) / (dt(1) - u_product_t)
            v_hat = vel / (dt(1) - b2_power)
            v.data -= (m_hat * lr) / (np.sqrt(v_hat) + eps)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}


class Lion(Optimizer):
    """``var -= lr*sign(b1*m + (1-b1)*g)``; ``m = b2*m + (1-b2)*g``."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.99, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate, name=name, **_base(locals()), **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        if beta_1 <= 0 or beta_1 > 1:
            raise ValueError("Argument `beta_1` must be in the [0, 1] range. Otherwise, the "
                             f"optimizer degenerates to SignSGD. Received: beta_1={beta_1}.")

    def _slot_names(self):
        return ("momentum",)

    def _update_group(self, backend, dt, grads, variables, learning_rate):
        lr, b1, b2 = dt(learning_rate), dt(self.beta_1), dt(self.beta_2)
        for g, v in zip(grads, variables):
            m = self._slots[id(v)]["momentum"]
            v.data -= lr * np.sign(m * b1 + g * (dt(1) - b1))
            m[...] = m * b2 + g * (dt(1) - b2)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2}


class Ftrl(Optimizer):
    """Follow The Regularized Leader (McMahan et al., 2013) as Keras writes it, with the
    L1, L2, L2-shrinkage and ``beta`` terms; slots ``accumulator`` and ``linear``."""

    def __init__(self, learning_rate=0.001, learning_rate_power=-0.5,
                 initial_accumulator_value=0.1, l1_regularization_strength=0.0,
                 l2_regularization_strength=0.0, l2_shrinkage_regularization_strength=0.0,
                 beta=0.0, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate, name=name, **_base(locals()), **kwargs)
        values = {"initial_accumulator_value": initial_accumulator_value,
                  "learning_rate_power": learning_rate_power,
                  "l1_regularization_strength": l1_regularization_strength,
                  "l2_regularization_strength": l2_regularization_strength,
                  "l2_shrinkage_regularization_strength":
                      l2_shrinkage_regularization_strength}
        for key, value in values.items():
            if key == "learning_rate_power":
                _check("Ftrl", key, value, lambda x: x <= 0.0, "needs to be negative or zero")
            else:
                _check("Ftrl", key, value, lambda x: x >= 0.0, "needs to be positive or zero")
        self.learning_rate_power = learning_rate_power
        self.initial_accumulator_value = initial_accumulator_value
        self.l1_regularization_strength = l1_regularization_strength
        self.l2_regularization_strength = l2_regularization_strength
        self.l2_shrinkage_regularization_strength = l2_shrinkage_regularization_strength
        self.beta = beta

    def _slot_groups(self):
        return [("accumulator", "linear")]

    def _slot_names(self):
        return ("accumulator", "linear")

    def _slot_initial_value(self, name):
        return self.initial_accumulator_value if name == "accumulator" else 0.0

    def _update_group(self, backend, dt, grads, variables, learning_rate):
        lr = dt(learning_rate)
        power = dt(-self.learning_rate_power)
        l1 = dt(self.l1_regularization_strength)
        l2 = dt(self.l2_regularization_strength) + dt(self.beta) / (dt(2.0) * lr)
        shrink = dt(2 * self.l2_shrinkage_regularization_strength)
        for g, v in zip(grads, variables):
            s = self._slots[id(v)]
            accum, linear = s["accumulator"], s["linear"]
            g_shrunk = g + shrink * v.data
            new_accum = accum + np.square(g)
            linear += g_shrunk - (np.power(new_accum, power) - np.power(accum, power)) \
                / lr * v.data
            quadratic = np.power(new_accum, power) / lr + dt(2) * l2
            v.data[...] = (np.clip(linear, -l1, l1) - linear) / quadratic
            accum[...] = new_accum

    def get_config(self):
        return {**super().get_config(), "learning_rate_power": self.learning_rate_power,
                "initial_accumulator_value": self.initial_accumulator_value,
                "l1_regularization_strength": self.l1_regularization_strength,
                "l2_regularization_strength": self.l2_regularization_strength,
                "l2_shrinkage_regularization_strength":
                    self.l2_shrinkage_regularization_strength,
                "beta": self.beta}
