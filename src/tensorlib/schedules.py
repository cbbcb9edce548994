"""``keras.optimizers.schedules``: learning rates that change with the optimizer's step.

An optimizer given a schedule as ``learning_rate`` calls it with ``optimizer.iterations``
(0 at the first update) before each update, as Keras does. Each schedule has Keras 3's
name, arguments, formula and config; ``serialize``/``deserialize`` give and read Keras's
``{"module": "keras.optimizers.schedules", "class_name", "config", "registered_name"}``
record, the form an optimizer's config holds in a ``.keras`` file.
"""
import math

MODULE = "keras.optimizers.schedules"


def _positive(where, name, value, allow_zero=False):
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and \
        math.isfinite(value) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        kind = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{where}: `{name}` must be a {kind} number. Received: "
                         f"{name}={value!r}")
    return value


def _number(where, name, value):
    if not isinstance(value, (int, float)) or isinstance(value, bool) \
            or not math.isfinite(value):
        raise ValueError(f"{where}: `{name}` must be a finite number. Received: "
                         f"{name}={value!r}")
    return value


def _step(step):
    return float(step.item() if hasattr(step, "item") else step)


class LearningRateSchedule:
    """Base class: subclasses define ``__call__(step)`` and ``get_config``."""

    def __call__(self, step):
        raise NotImplementedError(f"{type(self).__name__} must define __call__(step)")

    def get_config(self):
        raise NotImplementedError(f"{type(self).__name__} must define get_config")

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} {self.get_config()}>"


class _RateDecay(LearningRateSchedule):
    """A decay of ``initial_learning_rate`` by ``decay_rate`` over ``decay_steps``, whose
    progress ``step / decay_steps`` is floored when ``staircase``."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name=None):
        where = type(self).__name__
        self.initial_learning_rate = _number(where, "initial_learning_rate",
                                             initial_learning_rate)
        self.decay_steps = _positive(where, "decay_steps", decay_steps)
        self.decay_rate = _number(where, "decay_rate", decay_rate)
        self.staircase, self.name = bool(staircase), name or where

    def _progress(self, step):
        p = _step(step) / self.decay_steps
        return math.floor(p) if self.staircase else p

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase, "name": self.name}


class ExponentialDecay(_RateDecay):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)``."""

    def __call__(self, step):
        return self.initial_learning_rate * self.decay_rate ** self._progress(step)


class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[0]`` up to ``boundaries[0]`` (inclusive), ``values[i]`` on
    ``(boundaries[i-1], boundaries[i]]``, ``values[-1]`` after the last boundary."""

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        where = "PiecewiseConstantDecay"
        boundaries, values = list(boundaries), list(values)
        if len(values) != len(boundaries) + 1:
            raise ValueError(f"{where}: the length of `values` must be the length of "
                             f"`boundaries` plus 1. Received: boundaries={boundaries}, "
                             f"values={values}")
        self.boundaries = [_number(where, "boundaries", b) for b in boundaries]
        self.values = [_number(where, "values", v) for v in values]
        if any(b1 <= b0 for b0, b1 in zip(self.boundaries, self.boundaries[1:])):
            raise ValueError(f"{where}: `boundaries` must increase. Received: "
                             f"boundaries={boundaries}")
        self.name = name

    def __call__(self, step):
        s = _step(step)
        for b, v in zip(self.boundaries, self.values):
            if s <= b:
                return v
        return self.values[-1]

    def get_config(self):
        return {"boundaries": list(self.boundaries), "values": list(self.values),
                "name": self.name}


class PolynomialDecay(LearningRateSchedule):
    """From ``initial_learning_rate`` to ``end_learning_rate`` over ``decay_steps`` as
    ``(1 - step / decay_steps) ** power``; then constant, or with ``cycle`` the decay
    restarts over the next multiple of ``decay_steps``."""

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001,
                 power=1.0, cycle=False, name="PolynomialDecay"):
        where = "PolynomialDecay"
        self.initial_learning_rate = _number(where, "initial_learning_rate",
                                             initial_learning_rate)
        self.decay_steps = _positive(where, "decay_steps", decay_steps)
        self.end_learning_rate = _number(where, "end_learning_rate", end_learning_rate)
        self.power = _number(where, "power", power)
        self.cycle, self.name = bool(cycle), name

    def __call__(self, step):
        s, steps = _step(step), self.decay_steps
        if self.cycle:
            steps = steps * (1.0 if s == 0 else math.ceil(s / steps))
        else:
            s = min(s, steps)
        frac = (1.0 - s / steps) ** self.power
        return (self.initial_learning_rate - self.end_learning_rate) * frac \
            + self.end_learning_rate

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "end_learning_rate": self.end_learning_rate,
                "power": self.power, "cycle": self.cycle, "name": self.name}


class InverseTimeDecay(_RateDecay):
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)``."""

    def __call__(self, step):
        return self.initial_learning_rate / (1.0 + self.decay_rate * self._progress(step))


def _cosine(step, decay_steps, start, alpha):
    decayed = 0.5 * (1.0 + math.cos(math.pi * step / decay_steps))
    return start * ((1.0 - alpha) * decayed + alpha)


class CosineDecay(LearningRateSchedule):
    """Cosine decay from ``initial_learning_rate`` (or, after a linear warm-up of
    ``warmup_steps`` to ``warmup_target``, from that) down to ``alpha`` times it over
    ``decay_steps``."""

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay",
                 warmup_target=None, warmup_steps=0):
        where = "CosineDecay"
        self.initial_learning_rate = _number(where, "initial_learning_rate",
                                             initial_learning_rate)
        self.decay_steps = _positive(where, "decay_steps", decay_steps)
        self.alpha = _number(where, "alpha", alpha)
        self.warmup_target = None if warmup_target is None else \
            _number(where, "warmup_target", warmup_target)
        self.warmup_steps = _positive(where, "warmup_steps", warmup_steps, allow_zero=True)
        self.name = name

    def __call__(self, step):
        s = _step(step)
        if self.warmup_target is None:
            return _cosine(min(s, self.decay_steps), self.decay_steps,
                           self.initial_learning_rate, self.alpha)
        s = min(s, self.decay_steps + self.warmup_steps)
        if s < self.warmup_steps:
            delta = self.warmup_target - self.initial_learning_rate
            return delta * (s / self.warmup_steps) + self.initial_learning_rate
        return _cosine(s - self.warmup_steps, self.decay_steps, self.warmup_target,
                       self.alpha)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "alpha": self.alpha, "name": self.name,
                "warmup_target": self.warmup_target, "warmup_steps": self.warmup_steps}


class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (SGDR): periods of ``first_decay_steps`` times
    ``t_mul ** i``, each starting from ``initial_learning_rate * m_mul ** i``."""

    def __init__(self, initial_learning_rate, first_decay_steps, t_mul=2.0, m_mul=1.0,
                 alpha=0.0, name="SGDRDecay"):
        where = "CosineDecayRestarts"
        self.initial_learning_rate = _number(where, "initial_learning_rate",
                                             initial_learning_rate)
        self.first_decay_steps = _positive(where, "first_decay_steps", first_decay_steps)
        self.t_mul = _positive(where, "t_mul", t_mul)
        self.m_mul = _number(where, "m_mul", m_mul)
        self.alpha = _number(where, "alpha", alpha)
        self.name = name

    def __call__(self, step):
        frac = _step(step) / self.first_decay_steps
        if self.t_mul == 1.0:
            i = math.floor(frac)
            frac -= i
        else:
            i = math.floor(math.log(1.0 - frac * (1.0 - self.t_mul)) / math.log(self.t_mul))
            done = (1.0 - self.t_mul ** i) / (1.0 - self.t_mul)
            frac = (frac - done) / self.t_mul ** i
        decayed = 0.5 * self.m_mul ** i * (1.0 + math.cos(math.pi * frac))
        return self.initial_learning_rate * ((1.0 - self.alpha) * decayed + self.alpha)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "first_decay_steps": self.first_decay_steps, "t_mul": self.t_mul,
                "m_mul": self.m_mul, "alpha": self.alpha, "name": self.name}


ALL_OBJECTS = {cls.__name__: cls for cls in (
    ExponentialDecay, PiecewiseConstantDecay, PolynomialDecay, InverseTimeDecay, CosineDecay,
    CosineDecayRestarts)}


def serialize(schedule):
    """Keras's record of a built-in schedule."""
    if type(schedule) not in ALL_OBJECTS.values():
        raise ValueError(f"serialize: only the built-in schedules can be serialized. "
                         f"Received: {schedule!r}")
    return {"module": MODULE, "class_name": type(schedule).__name__,
            "config": schedule.get_config(), "registered_name": None}


def deserialize(config):
    """A schedule from Keras's record (or ``{"class_name", "config"}``)."""
    name = config.get("class_name") if isinstance(config, dict) else None
    cls = ALL_OBJECTS.get(name)
    if cls is None or not isinstance(config.get("config", {}), dict):
        raise ValueError(f"deserialize: not a learning-rate schedule record. Expected "
                         f"class_name in {sorted(ALL_OBJECTS)}. Received: {config!r}"[:400])
    return cls.from_config(dict(config.get("config", {})))


__all__ = ["LearningRateSchedule", "serialize", "deserialize", *ALL_OBJECTS]
