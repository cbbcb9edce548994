"""Keras's recurrent cells and the generic ``RNN`` layer.

``SimpleRNNCell``, ``LSTMCell`` and ``GRUCell`` take Keras's cell arguments and hold the
weights of the matching layer (``kernel``, ``recurrent_kernel``, ``bias``); called on one
step, ``cell(x_t, states)`` returns ``(output, new_states)``. ``RNN(cell)`` with one of
them runs the layer's fused time loop (``rnn_ops``: the same numerics as ``LSTM`` ...);
with a user's cell (a Layer with ``state_size`` and ``call(inputs, states)``), a loop of
Tensor ops over the steps. Keras files keep a cell's weights at ``<rnn>/cell/vars``.
"""
import numpy as np

from ..ops_shape import Concatenate
from ..tensor import Tensor
from .base import Layer, snake_case
from .recurrent import GRU, LSTM, SimpleRNN, as_mask, stateful_states, symbolic_call

# the layers' arguments a cell does not take
_LAYER_ONLY = ("return_sequences", "return_state", "go_backwards", "stateful", "unroll",
               "zero_output_for_mask", "activity_regularizer", "use_cudnn")


class _BuiltinCell:
    """A cell: the matching layer's weights and loop, called one step at a time."""

    def __init__(self, units, **kwargs):
        bad = sorted(k for k in kwargs if k in _LAYER_ONLY)
        if bad:
            raise TypeError(f"{type(self).__name__}: unexpected keyword argument "
                            f"`{bad[0]}` (an argument of the RNN layer, not of its cell). "
                            f"Received: {bad[0]}={kwargs[bad[0]]!r}")
        super().__init__(units, **kwargs)

    @property
    def state_size(self):
        return self.units if self._n_states == 1 else [self.units] * self._n_states

    @property
    def output_size(self):
        return self.units

    def build(self, input_shape):
        """Keras builds a cell for one step's inputs, (batch, features)."""
        input_shape = tuple(input_shape)
        if len(input_shape) == 2:
            input_shape = (input_shape[0], None, input_shape[1])
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.units)

    def compute_mask(self, inputs, mask=None):
        return None

    def call(self, inputs, states, training=False):
        """One step: ``(output, new_states)`` (a list of ``len(state_size)`` states)."""
        states = list(states) if isinstance(states, (list, tuple)) else [states]
        x = inputs.reshape(inputs.shape[0], 1, inputs.shape[-1])
        out = self._sequence_call(_Step(self.name), x, states, None, training)
        return out[0], out[1:]

    def get_initial_state(self, batch_size=None):
        return [Tensor(np.zeros((batch_size, self.units), self.dtype))
                for _ in range(self._n_states)]

    def get_config(self):
        config = super().get_config()
        for key in _LAYER_ONLY:
            config.pop(key, None)
        return config


class _Step:
    """The flags of a single-step call of a cell."""

    return_sequences = go_backwards = zero_output_for_mask = stateful = False
    return_state = True
    activity_regularizer = None

    def __init__(self, name):
        self.name = name


class SimpleRNNCell(_BuiltinCell, SimpleRNN):
    """Keras's ``SimpleRNNCell(units, activation="tanh", ...)``."""

    def get_config(self):      # Keras's cell writes its seed (the layer does not)
        return {**super().get_config(), "seed": self.seed}


class LSTMCell(_BuiltinCell, LSTM):
    """Keras's ``LSTMCell(units, ...)``: states ``[h, c]``."""


class GRUCell(_BuiltinCell, GRU):
    """Keras's ``GRUCell(units, ..., reset_after=True)``."""


_CELLS = {c.__name__: c for c in (SimpleRNNCell, LSTMCell, GRUCell)}


def _sizes(state_size):
    return [state_size] if isinstance(state_size, (int, np.integer)) else list(state_size)


def _flat(state_size):
    """The state sizes of a cell as a flat list (a stacked cell's are nested)."""
    if isinstance(state_size, (list, tuple)):
        return [n for s in state_size for n in _flat(s)]
    return [state_size]


def _output_size(cell):
    size = getattr(cell, "output_size", None)
    return size if size is not None else _flat(cell.state_size)[0]


def _cell_from_record(record, where):
    cls = _CELLS.get(record.get("class_name")) if isinstance(record, dict) else None
    if cls is None:
        raise ValueError(f"{where}: the cell must be one of {sorted(_CELLS)} to be rebuilt "
                         f"from a config. Received: class_name="
                         f"{record.get('class_name') if isinstance(record, dict) else record!r}")
    return cls.from_config(dict(record["config"]))


class StackedRNNCells(Layer):
    """Keras's ``StackedRNNCells(cells)``: the cells one after the other at each step
    (each one's output is the next one's input); states: one entry per cell."""

    def __init__(self, cells, **kwargs):
        cells = list(cells)
        for cell in cells:
            if not isinstance(cell, Layer) or getattr(cell, "state_size", None) is None:
                raise ValueError(f"StackedRNNCells: all cells must be Layers with a `call` "
                                 f"method and a `state_size`. Received: cell={cell!r}")
        if not cells:
            raise ValueError("StackedRNNCells: `cells` must not be empty. Received: "
                             "cells=[]")
        super().__init__(**kwargs)
        self.cells = cells

    def _child_layers(self):
        return list(self.cells)

    @property
    def state_size(self):
        return [c.state_size for c in self.cells]

    @property
    def output_size(self):
        return _output_size(self.cells[-1])

    def build(self, input_shape):
        for cell in self.cells:
            if not cell.built:
                if type(cell) in _CELLS.values():
                    cell.build_for(tuple(input_shape))
                else:
                    cell.build(tuple(input_shape))
                    cell.built = True
            input_shape = (input_shape[0], _output_size(cell))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.output_size)

    def call(self, inputs, states, training=False):
        new_states = []
        for cell, state in zip(self.cells, states):
            nested = isinstance(state, (list, tuple))
            inputs, state = cell(inputs, list(state) if nested else [state],
                                 training=training)
            state = list(state) if isinstance(state, (list, tuple)) else [state]
            new_states.append(state if nested or len(state) != 1 else state[0])
        return inputs, new_states

    def get_config(self):
        return {**super().get_config(), "cells": [
            {"class_name": type(c).__name__, "config": c.get_config()} for c in self.cells]}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["cells"] = [_cell_from_record(r, "StackedRNNCells") if isinstance(r, dict)
                           else r for r in config.get("cells", [])]
        return cls(**config)


def _pack(state_size, flat):
    """``flat`` states in the nesting of a stacked cell's ``state_size``."""
    out, at = [], 0
    for size in state_size:
        n = len(_flat(size))
        out.append(flat[at:at + n] if isinstance(size, (list, tuple)) else flat[at])
        at += n
    return out


class RNN(Layer):
    """Keras's ``RNN(cell, return_sequences=False, return_state=False,
    go_backwards=False, stateful=False, unroll=False, zero_output_for_mask=False)``."""

    supports_masking = True

    def __init__(self, cell, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False,
                 zero_output_for_mask=False, **kwargs):
        if isinstance(cell, (list, tuple)):
            cell = StackedRNNCells(cell)
        if not isinstance(cell, Layer) or not callable(getattr(cell, "call", None)):
            raise ValueError(f"RNN: argument `cell` should be a Layer with a `call` method. "
                             f"Received: cell={cell!r}")
        size = getattr(cell, "state_size", None)
        if size is None or not all(isinstance(s, (int, np.integer)) and s > 0
                                   for s in _flat(size)):
            raise ValueError("RNN: the cell should have a `state_size` attribute (a "
                             "positive integer, or a list of them, one per state). "
                             f"Received: state_size={size!r}")
        for arg, value in (("return_sequences", return_sequences),
                           ("return_state", return_state), ("go_backwards", go_backwards),
                           ("stateful", stateful), ("unroll", unroll),
                           ("zero_output_for_mask", zero_output_for_mask)):
            if not isinstance(value, (bool, np.bool_)):
                raise TypeError(f"RNN: `{arg}` must be a boolean. Received: {arg}={value!r}")
        if return_state and isinstance(cell, StackedRNNCells):
            raise ValueError("RNN: return_state=True with StackedRNNCells (nested states) "
                             "is not supported by tensorlib. Received: return_state=True")
        super().__init__(**kwargs)
        self.cell = cell
        self.return_sequences, self.return_state = bool(return_sequences), bool(return_state)
        self.go_backwards, self.stateful = bool(go_backwards), bool(stateful)
        self.unroll, self.zero_output_for_mask = bool(unroll), bool(zero_output_for_mask)
        self.state_size = _sizes(size)
        self.states = None

    def _child_layers(self):
        return [self.cell]

    def _keras_var_groups(self):
        if not isinstance(self.cell, StackedRNNCells):
            return [("cell", self.cell.weights)]
        groups, used = [("cell", [])], {}
        for c in self.cell.cells:          # Keras's container names: class in snake case
            name = snake_case(type(c).__name__)
            used[name] = used.get(name, -1) + 1
            suffix = f"_{used[name]}" if used[name] else ""
            groups.append((f"cell/cells/{name}{suffix}", c.weights))
        return groups

    @property
    def _builtin(self):
        return type(self.cell) in _CELLS.values()

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(f"Input 0 of layer {self.name!r} is incompatible with the layer: "
                             f"expected ndim=3 (batch, timesteps, features) with a known "
                             f"last axis. Received: input with shape {tuple(input_shape)}")
        if not self.cell.built:
            step = (input_shape[0], input_shape[2])
            if self._builtin:
                self.cell.build_for(step)
            else:
                self.cell.build(step)
                self.cell.built = True

    def compute_output_shape(self, input_shape):
        batch, steps = input_shape[0], input_shape[1]
        units = _output_size(self.cell)
        out = (batch, steps, units) if self.return_sequences else (batch, units)
        if self.return_state:
            return [out] + [(batch, s) for s in self.state_size]
        return out

    def compute_mask(self, inputs, mask=None):
        out = mask if self.return_sequences else None
        return [out] + [None] * len(self.state_size) if self.return_state else out

    def _call_symbolic(self, inputs, *args, training=None, **kwargs):
        return symbolic_call(self, super()._call_symbolic, inputs, args, training, kwargs,
                             _flat(self.state_size))

    def reset_state(self):
        """Keras's ``reset_state()``: a stateful layer's states back to zeros."""
        for s in self.states or []:
            s.data[...] = 0

    def reset_states(self):
        self.reset_state()

    def call(self, sequences, initial_state=None, mask=None, training=False):
        if self._builtin:
            return self.cell._sequence_call(self, sequences, initial_state, mask, training)
        return self._step_loop(sequences, initial_state, mask, training)

    def _step_loop(self, x, initial_state, mask, training):
        """A user's cell, step by step (Keras's rule for masked steps: the previous
        output and states carry over)."""
        if x.ndim != 3:
            raise ValueError(f"Input 0 of layer {self.name!r} is incompatible with the layer: "
                             f"expected ndim=3. Received: input with shape {x.shape}")
        batch, steps = x.shape[0], x.shape[1]
        specs = [(s, x.dtype) for s in _flat(self.state_size)]
        stacked = isinstance(self.cell, StackedRNNCells)
        if initial_state is None:
            initial_state = stateful_states(self, batch, specs) if self.stateful else \
                [Tensor(np.zeros((batch, s), dt)) for s, dt in specs]
        states = _flat(initial_state) if isinstance(initial_state, (list, tuple)) \
            else [initial_state]
        states = [s if isinstance(s, Tensor) else Tensor(np.asarray(s, x.dtype))
                  for s in states]
        if [tuple(s.shape) for s in states] != [(batch, n) for n, _ in specs] or steps == 0:
            raise ValueError(f"Layer {self.name!r} expects inputs with timesteps and "
                             f"{len(specs)} initial state(s) of shapes "
                             f"{[(batch, n) for n, _ in specs]}. Received: input with shape "
                             f"{x.shape}, initial_state with shapes "
                             f"{[tuple(s.shape) for s in states]}")
        mask = as_mask(mask)
        order = range(steps - 1, -1, -1) if self.go_backwards else range(steps)
        outputs, prev = [], None
        for t in order:
            given = _pack(self.cell.state_size, states) if stacked else states
            out, new = self.cell(x[:, t], given, training=training)
            new = _flat(new) if isinstance(new, (list, tuple)) else [new]
            if mask is not None:
                keep = Tensor(mask[:, t:t + 1].astype(x.dtype))
                drop = 1.0 - keep
                new = [n * keep + s * drop for n, s in zip(new, states)]
                base = prev if prev is not None and not self.zero_output_for_mask else None
                out = out * keep + base * drop if base is not None else out * keep
            outputs.append(out)
            states, prev = new, out
        if self.stateful:
            self.states = [Tensor(np.array(s.data)) for s in states]
        if self.return_sequences:
            output = Concatenate.apply(*[o.reshape(batch, 1, -1) for o in outputs], axis=1)
        else:
            output = outputs[-1]
        return [output] + states if self.return_state else output

    def get_config(self):
        config = {**super().get_config(), "return_sequences": self.return_sequences,
                  "return_state": self.return_state, "go_backwards": self.go_backwards,
                  "stateful": self.stateful, "unroll": self.unroll,
                  "zero_output_for_mask": self.zero_output_for_mask}
        config["cell"] = {"class_name": type(self.cell).__name__,
                          "config": self.cell.get_config()}
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        record = config.get("cell")
        if isinstance(record, dict) and record.get("class_name") == "StackedRNNCells":
            config["cell"] = StackedRNNCells.from_config(dict(record["config"]))
        elif isinstance(record, dict):
            config["cell"] = _cell_from_record(record, "RNN")
        return cls(**config)
