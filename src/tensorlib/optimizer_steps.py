"""The optional parts of Keras 3's ``BaseOptimizer.apply`` shared by every optimizer:
argument checks, gradient accumulation, the exponential moving average of the variables
(``use_ema``) and weight constraints. ``optimizers.Optimizer.apply`` calls these only when
the option is on (constraints: only for variables that carry one), so the fused update
paths run exactly as without them.

Keras's order, per ``apply``: accumulate (every n-th call the mean of the accumulated
gradients goes on to clipping, weight decay and the update; the other calls stop here),
then the EMA ``average = m*average + (1-m)*var`` of every variable the optimizer has seen
(``m = 0`` on the first update, so the average starts at the variable), every
``ema_overwrite_frequency`` updates the variables take their averages, then each updated
variable's ``constraint``, then ``iterations += 1``.
"""
import numpy as np

from .autograd import no_grad
from .tensor import Tensor


def check_arguments(use_ema, ema_momentum, ema_overwrite_frequency,
                    gradient_accumulation_steps):
    """Keras's checks of the EMA and accumulation arguments (ValueError)."""
    if gradient_accumulation_steps is not None and (
            isinstance(gradient_accumulation_steps, bool)
            or not isinstance(gradient_accumulation_steps, (int, np.integer))
            or gradient_accumulation_steps < 2):
        raise ValueError("`gradient_accumulation_steps` must be an integer >= 2. Received: "
                         f"gradient_accumulation_steps={gradient_accumulation_steps!r}")
    if not use_ema:
        return
    if not isinstance(ema_momentum, (int, float, np.number)) or isinstance(ema_momentum, bool) \
            or not 0 <= ema_momentum <= 1:
        raise ValueError("`ema_momentum` must be in the range [0, 1]. Received: "
                         f"ema_momentum={ema_momentum!r}")
    if ema_overwrite_frequency is not None and (
            isinstance(ema_overwrite_frequency, bool)
            or not isinstance(ema_overwrite_frequency, (int, np.integer))
            or ema_overwrite_frequency < 1):
        raise ValueError("`ema_overwrite_frequency` must be an integer >= 1 or None. "
                         f"Received: ema_overwrite_frequency={ema_overwrite_frequency!r}")


def base_slot_names(opt):
    """The per-variable slots of the base optimizer, in Keras's creation order."""
    names = ("average",) if opt.use_ema else ()
    return names + (("gradient_accumulator",) if opt.gradient_accumulation_steps else ())


def accumulate(opt, grads, variables):
    """Add ``grads`` to the accumulators; on every n-th call return the mean gradients
    (and zero the accumulators), else None."""
    steps = opt.gradient_accumulation_steps
    accs = [opt._slots[id(v)]["gradient_accumulator"] for v in variables]
    if (opt.iterations + 1) % steps != 0:
        for a, g in zip(accs, grads):
            a += g
        return None
    out = [((g + a) / a.dtype.type(steps)).astype(a.dtype, copy=False)
           for g, a in zip(grads, accs)]
    for a in accs:
        a[...] = 0
    return out


def update_ema(opt):
    """Keras's moving average of every variable the optimizer tracks, then the periodic
    overwrite of the variables by their averages."""
    first = opt._update_iterations == 0
    for v in opt._trainable_variables:
        avg = opt._slots[id(v)]["average"]
        dt = avg.dtype.type
        m = dt(0.0) if first else dt(opt.ema_momentum)
        avg[...] = m * avg + (dt(1) - m) * v.data
    freq = opt.ema_overwrite_frequency
    if freq and (opt._update_iterations + 1) % freq == 0:
        overwrite_with_average(opt, opt._trainable_variables)


def overwrite_with_average(opt, variables):
    """Each variable takes the value of its moving average (Keras's
    ``finalize_variable_values`` and the periodic overwrite). A variable the optimizer
    never updated is its own average (Keras's first EMA step copies it) and is left as
    it is; none known at all is Keras's error."""
    variables = list(variables)
    known = [v for v in variables if id(v) in opt._slots]
    if variables and not known:
        raise ValueError(f"The optimizer {opt.name!r} holds no moving average of these "
                         f"{len(variables)} variables; was it applied to this model? "
                         f"Received: variables {[getattr(v, 'name', None) for v in variables][:5]}")
    for v in known:
        v.data[...] = opt._slots[id(v)]["average"]


def apply_constraints(variables):
    """``var = constraint(var)`` for each variable with a ``constraint`` attribute."""
    for v in variables:
        constraint = getattr(v, "constraint", None)
        if constraint is None:
            continue
        with no_grad():
            out = constraint(v)
        out = out.data if isinstance(out, Tensor) else np.asarray(out)
        if out.shape != v.data.shape:
            raise ValueError(f"The constraint {constraint!r} changed the shape of variable "
                             f"{getattr(v, 'name', None)!r}. Received: shape {out.shape}, "
                             f"expected {v.data.shape}")
        v.data[...] = out
