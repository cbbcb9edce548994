"""The base of tensorlib's Keras 3 optimizers (``tensorlib.optimizers`` re-exports it).

Variables are ``tensorlib.Tensor`` objects; an optimizer updates them in place through
``.data`` (their dtype is kept). Per-variable slot arrays (momentums, velocities, ...) are
created lazily in the variable's dtype and keyed by ``id(variable)``; the optimizer keeps a
reference to each variable it has seen, so an id can never be reused for another one.

One ``apply`` follows Keras's order: drop ``None`` gradients, divide by
``loss_scale_factor``, clip (``clipnorm`` per gradient, else ``global_clipnorm``, else
``clipvalue``), decoupled weight decay ``var -= var * weight_decay * lr``, the update step
with the hyper-parameters cast to the variables' dtype, the EMA of the variables
(``use_ema``), the variables' constraints, then ``iterations += 1``. With
``gradient_accumulation_steps=n`` the gradients are summed and the clip/decay/update part
runs on their mean every n-th call (see ``optimizer_steps``); ``iterations`` then counts
every call, as Keras's saved ``iteration`` variable does.
"""
import inspect
import re
import warnings

import numpy as np

from . import optimizer_steps, schedules
from .backend import get_backend
from .tensor import Tensor


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

    _EXTRA_VARIABLES = 0        # optimizer variables that are not per model variable

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        if kwargs.pop("decay", None) is not None:
            warnings.warn("Argument `decay` is no longer supported and will be ignored.")
        if kwargs:
            raise ValueError(f"Argument(s) not recognized: {kwargs}")
        optimizer_steps.check_arguments(use_ema, ema_momentum, ema_overwrite_frequency,
                                        gradient_accumulation_steps)
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

    def _slot_groups(self):
        """The slots as Keras creates them: a group's slots interleave per variable."""
        return [(n,) for n in self._slot_names()]

    def _slot_initial_value(self, name):
        return 0.0

    def _extra_variables(self):
        """Optimizer variables that are not per model variable (after the slots)."""
        return []

    def _all_slot_names(self):
        return optimizer_steps.base_slot_names(self) + tuple(self._slot_names())

    def _slots_for(self, variable):
        entry = self._slots.get(id(variable))
        if entry is None:
            entry = {"variable": variable}
            for name in self._all_slot_names():
                init = self._slot_initial_value(name)
                entry[name] = np.zeros_like(variable.data) if init == 0 \
                    else np.full_like(variable.data, init)
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
        """Iterations, learning rate, each slot kind for all variables (EMA averages and
        gradient accumulators first), then the variables not per weight (a ``.keras`` file
        orders the slots as ``keras_slot_order`` says)."""
        out = [np.array(self.iterations, dtype=np.int64),
               np.array(self.learning_rate, dtype=np.float32)]
        for name in self._all_slot_names():
            out.extend(self._slots[id(v)][name] for v in self._trainable_variables)
        return out + self._extra_variables()

    def keras_slot_order(self, variables):
        """[(variable, slot name)] in the order Keras creates them for ``variables``: the
        EMA averages, the gradient accumulators, then the optimizer's own groups."""
        groups = [(n,) for n in optimizer_steps.base_slot_names(self)] + \
            list(self._slot_groups())
        return [(v, n) for group in groups for v in variables for n in group]

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
        if self.gradient_accumulation_steps:
            kept_g = optimizer_steps.accumulate(self, kept_g, kept_v)
        if kept_g is not None:
            kept_g = self._clip_gradients(kept_g)
            lr = self.learning_rate
            self._apply_weight_decay(kept_v, lr)
            self._update(kept_g, kept_v, lr)
        if self.use_ema:
            optimizer_steps.update_ema(self)
        optimizer_steps.apply_constraints(kept_v)
        self.iterations += 1

    @property
    def _update_iterations(self):
        """Keras's ``iterations`` inside an update step: the count of updates made so far
        (``iterations // gradient_accumulation_steps`` when accumulating)."""
        steps = self.gradient_accumulation_steps
        return self.iterations // steps if steps else self.iterations

    def finalize_variable_values(self, var_list):
        """At the end of ``fit``: with ``use_ema``, the variables take their averages."""
        if self.use_ema:
            optimizer_steps.overwrite_with_average(self, var_list)

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
