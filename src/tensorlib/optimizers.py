"""Keras 3 compatible optimizers: SGD, RMSprop, Adam and AdamW.

Variables are ``tensorlib.Tensor`` objects; an optimizer updates them in place through
``.data`` (their dtype is kept). Per-variable slot arrays (momentums, velocities, ...) are
created lazily in the variable's dtype and keyed by ``id(variable)``; the optimizer keeps a
reference to each variable it has seen, so an id can never be reused for another one.

One ``apply`` follows Keras's order: drop ``None`` gradients, divide by
``loss_scale_factor``, clip (``clipnorm`` per gradient, else ``global_clipnorm``, else
``clipvalue``), decoupled weight decay ``var -= var * weight_decay * lr``, the update step
with the hyper-parameters cast to the variables' dtype, then ``iterations += 1``.

The update step of all variables of one dtype is ONE call to the active backend's fused
kernel (``sgd_update``, ``rmsprop_update``, ``adam_update``), which performs Keras's
operations in Keras's order and gives the same bits as the NumPy reference.
"""
import inspect
import re
import sys
import warnings

import numpy as np

from . import schedules
from .backend import get_backend
from .tensor import Tensor

# ``keras.optimizers.schedules`` (and ``from tensorlib.optimizers.schedules import ...``)
sys.modules[__name__ + ".schedules"] = schedules

__all__ = ["Optimizer", "SGD", "RMSprop", "Adam", "AdamW", "get", "serialize",
           "deserialize"]

_UNSUPPORTED = {"use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": None,
                "gradient_accumulation_steps": None}


def _is_number(x):
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool)


def _call_schedule(fn, step):
    """A learning-rate callable is called with the step if it takes an argument."""
    try:
        params = [p for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)]
    except (TypeError, ValueError):
        params = []
    return fn(step) if params else fn()


class Optimizer:
    """Base class. Subclasses define ``_slot_names()`` and ``_update_group`` (or
    Keras's ``update_step``)."""

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        if kwargs.pop("decay", None) is not None:
            warnings.warn("Argument `decay` is no longer supported and will be ignored.")
        if kwargs:
            raise ValueError(f"Argument(s) not recognized: {kwargs}")
        given = {"use_ema": use_ema, "ema_momentum": ema_momentum,
                 "ema_overwrite_frequency": ema_overwrite_frequency,
                 "gradient_accumulation_steps": gradient_accumulation_steps}
        for key, value in given.items():
            if value != _UNSUPPORTED[key]:
                raise ValueError(f"tensorlib optimizers do not support `{key}`; leave it at "
                                 f"its default {_UNSUPPORTED[key]!r}. Received: "
                                 f"{key}={value!r}")
        clip_args = {"clipnorm": clipnorm, "clipvalue": clipvalue,
                     "global_clipnorm": global_clipnorm}
        if sum(v is not None for v in clip_args.values()) > 1:
            raise ValueError("Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can "
                             f"be set. Received: clipnorm={clipnorm}, clipvalue={clipvalue}, "
                             f"global_clipnorm={global_clipnorm}")
        for key, value in {**clip_args, "weight_decay": weight_decay,
                           "loss_scale_factor": loss_scale_factor}.items():
            if value is not None and not _is_number(value):
                raise ValueError(f"Argument `{key}` must be a float or None. Received: "
                                 f"{key}={value!r}")
        self.name = name if name is not None else type(self).__name__.lower()
        self.weight_decay = weight_decay
        self.clipnorm = clipnorm
        self.clipvalue = clipvalue
        self.global_clipnorm = global_clipnorm
        self.use_ema = use_ema
        self.ema_momentum = ema_momentum
        self.ema_overwrite_frequency = ema_overwrite_frequency
        self.loss_scale_factor = loss_scale_factor
        self.gradient_accumulation_steps = gradient_accumulation_steps
        self.iterations = 0
        self._learning_rate = None
        self.learning_rate = learning_rate
        self._slots = {}            # id(variable) -> {"variable": v, slot name: ndarray}
        self._trainable_variables = []
        self._exclude_ids = set()
        self._exclude_pattern = None
        self.built = False

    # ------------------------------------------------------------ learning rate
    @property
    def learning_rate(self):
        """The current learning rate as a Python float (a schedule is evaluated)."""
        if callable(self._learning_rate):
            return float(_call_schedule(self._learning_rate, self.iterations))
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        if isinstance(value, Tensor):
            value = value.data
        if isinstance(value, np.ndarray) and value.ndim == 0:
            value = value.item()
        if isinstance(value, dict):                 # a schedule's record (from_config)
            value = schedules.deserialize(value)
        if callable(value):
            self._learning_rate = value
            return
        if not _is_number(value):
            raise ValueError("Argument `learning_rate` should be float, or a callable (that "
                             "takes in the current iteration value and returns the "
                             "corresponding learning rate value). Received: "
                             f"learning_rate={value!r}")
        if callable(self._learning_rate):
            raise TypeError("This optimizer was created with a learning-rate schedule as its "
                            "`learning_rate`, hence its learning rate is not settable to a "
                            f"number. Received: learning_rate={value!r}")
        self._learning_rate = float(value)

    # ------------------------------------------------------------ slots
    def _slot_names(self):
        return ()

    def _slots_for(self, variable):
        entry = self._slots.get(id(variable))
        if entry is None:
            entry = {"variable": variable}
            for name in self._slot_names():
                entry[name] = np.zeros_like(variable.data)
            self._slots[id(variable)] = entry
            self._trainable_variables.append(variable)
        return entry

    def build(self, variables):
        """Create the slots of ``variables`` now (otherwise they are created lazily)."""
        for v in variables:
            _check_variable(v)
            self._slots_for(v)
        self.built = True

    @property
    def variables(self):
        """Keras's order: iterations, learning rate, then each slot kind for all variables."""
        out = [np.array(self.iterations, dtype=np.int64),
               np.array(self.learning_rate, dtype=np.float32)]
        for name in self._slot_names():
            out.extend(self._slots[id(v)][name] for v in self._trainable_variables)
        return out

    def set_weights(self, weights):
        """Load a list produced by ``variables`` (the optimizer must be built)."""
        current = self.variables
        if len(weights) != len(current):
            raise ValueError(f"Optimizer '{self.name}' has {len(current)} variables but "
                             f"{len(weights)} were given. Received: {len(weights)} weights")
        for cur, new in zip(current[2:], weights[2:]):
            new = np.asarray(new)
            if cur.shape != new.shape:
                raise ValueError(f"Optimizer variable of shape {cur.shape} is not compatible "
                                 f"with the provided weight. Received: shape {new.shape}")
            cur[...] = new
        self.iterations = int(np.asarray(weights[0]))
        if not callable(self._learning_rate):
            self.learning_rate = float(np.asarray(weights[1]))

    # ------------------------------------------------------------ weight decay
    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        """Exclude variables (by object, or by a substring of their ``name``) from decay."""
        if self.built:
            raise ValueError("`exclude_from_weight_decay()` can only be configured before "
                             "the optimizer is built.")
        self._exclude_ids = {id(v) for v in (var_list or [])}
        self._exclude_pattern = re.compile("|".join(set(var_names))) if var_names else None

    def _use_weight_decay(self, variable):
        if id(variable) in self._exclude_ids:
            return False
        name = getattr(variable, "name", None)
        if self._exclude_pattern is not None and isinstance(name, str):
            return self._exclude_pattern.search(name) is None
        return True

    def _apply_weight_decay(self, variables, lr):
        if self.weight_decay is None:
            return
        for v in variables:
            if self._use_weight_decay(v):
                dt = v.data.dtype.type
                v.data -= v.data * dt(self.weight_decay) * dt(lr)

    # ------------------------------------------------------------ clipping
    def _clip_gradients(self, grads):
        if self.clipnorm and self.clipnorm > 0:
            out = []
            for g in grads:
                norm = np.sqrt(np.sum(np.square(g)))
                out.append((g * g.dtype.type(self.clipnorm)
                            / np.maximum(norm, g.dtype.type(self.clipnorm))).astype(g.dtype))
            return out
        if self.global_clipnorm and self.global_clipnorm > 0:
            norm = np.sqrt(sum(float(np.sum(np.square(g.astype(np.float64)))) for g in grads))
            scale = self.global_clipnorm * min(1.0 / norm if norm else np.inf,
                                               1.0 / self.global_clipnorm)
            scale = scale + (norm - norm)        # inf/nan norms make every gradient nan
            return [(g * g.dtype.type(scale)).astype(g.dtype) for g in grads]
        if self.clipvalue and self.clipvalue > 0:
            return [np.clip(g, -self.clipvalue, self.clipvalue).astype(g.dtype) for g in grads]
        return grads

    # ------------------------------------------------------------ applying
    def apply_gradients(self, grads_and_vars):
        """Apply ``(gradient, variable)`` pairs; returns ``iterations``."""
        pairs = list(grads_and_vars)
        if not pairs:
            return self.iterations
        grads, variables = zip(*pairs)
        self.apply(list(grads), list(variables))
        return self.iterations

    def apply(self, grads, trainable_variables=None):
        """Update ``trainable_variables`` (defaults to those the optimizer was built with)."""
        grads = list(grads)
        if not grads:
            return
        if trainable_variables is None:
            if not self.built:
                raise ValueError("When passing `grads` without `variables`, the optimizer must "
                                 "already be built on a list of variables. Call "
                                 "`optimizer.build(trainable_variables)` first. Received: "
                                 f"{len(grads)} gradients")
            trainable_variables = self._trainable_variables
        trainable_variables = list(trainable_variables)
        if len(grads) != len(trainable_variables):
            raise ValueError("The number of gradients must match the number of variables. "
                             f"Received: {len(grads)} gradients and "
                             f"{len(trainable_variables)} variables")
        kept_g, kept_v, missing = [], [], []
        for k, (g, v) in enumerate(zip(grads, trainable_variables)):
            _check_variable(v)
            if g is None:
                missing.append(getattr(v, "name", None) or f"variable {k}")
                continue
            g = g.data if isinstance(g, Tensor) else np.asarray(g)
            if g.shape != v.shape:
                raise ValueError(f"Gradient {k} has shape {g.shape} but its variable has "
                                 f"shape {v.shape}. Received: gradient shape {g.shape}")
            kept_g.append(g.astype(v.data.dtype, copy=False))
            kept_v.append(v)
        if not kept_g:
            raise ValueError("No gradients provided for any variable. Received: "
                             f"{len(grads)} gradients, all None")
        if missing:
            warnings.warn(f"Gradients do not exist for variables {missing} when minimizing "
                          "the loss. If using `model.compile()`, did you forget to provide "
                          "a `loss` argument?")
        for v in kept_v:
            self._slots_for(v)
        self.built = True
        if self.loss_scale_factor is not None:
            kept_g = [g / g.dtype.type(self.loss_scale_factor) for g in kept_g]
        kept_g = self._clip_gradients(kept_g)
        lr = self.learning_rate
        self._apply_weight_decay(kept_v, lr)
        self._update(kept_g, kept_v, lr)
        self.iterations += 1

    def _update(self, grads, variables, learning_rate):
        """The update step of every variable: one backend call per dtype."""
        groups = {}
        for g, v in zip(grads, variables):
            gs, vs = groups.setdefault(v.data.dtype, ([], []))
            gs.append(g)
            vs.append(v)
        backend = get_backend()
        for dtype, (gs, vs) in groups.items():
            self._update_group(backend, dtype.type, gs, vs, learning_rate)

    def _update_group(self, backend, dt, grads, variables, learning_rate):
        """Update ``variables`` (all of dtype ``dt``). The built-in optimizers make one fused
        backend call; this default runs Keras's per-variable ``update_step``, the hook a
        custom optimizer overrides."""
        for g, v in zip(grads, variables):
            self.update_step(g, v, learning_rate)

    def _slot_list(self, name, variables):
        return [self._slots[id(v)][name] for v in variables]

    def update_step(self, gradient, variable, learning_rate):
        """Keras's one-variable step (the built-in optimizers update all variables of a
        dtype at once in ``apply``)."""
        if type(self)._update_group is Optimizer._update_group:
            raise NotImplementedError(f"{type(self).__name__} must define update_step")
        self._update([gradient], [variable], learning_rate)

    # ------------------------------------------------------------ config
    def get_config(self):
        lr = self._learning_rate
        if type(lr) in schedules.ALL_OBJECTS.values():
            lr = schedules.serialize(lr)
        elif callable(lr):
            lr = getattr(lr, "get_config", lambda: lr)()
        return {"name": self.name, "learning_rate": lr, "weight_decay": self.weight_decay,
                "clipnorm": self.clipnorm, "global_clipnorm": self.global_clipnorm,
                "clipvalue": self.clipvalue, "use_ema": self.use_ema,
                "ema_momentum": self.ema_momentum,
                "ema_overwrite_frequency": self.ema_overwrite_frequency,
                "loss_scale_factor": self.loss_scale_factor,
                "gradient_accumulation_steps": self.gradient_accumulation_steps}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r} learning_rate={self.learning_rate}>"


def _check_variable(v):
    if not isinstance(v, Tensor):
        raise ValueError("Optimizer variables must be tensorlib.Tensor objects. Received: "
                         f"{type(v).__name__}")
    if v.data.dtype.kind != "f":
        raise ValueError(f"Optimizer variables must be floating point. Received: a variable "
                         f"with dtype={v.data.dtype}")


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

    def _update_group(self, backend, dt, grads, variables, learning_rate):
        lr, b1, b2 = dt(learning_rate), dt(self.beta_1), dt(self.beta_2)
        step = dt(self.iterations + 1)
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
ALL_OBJECTS = (SGD, RMSprop, Adam, AdamW)
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
