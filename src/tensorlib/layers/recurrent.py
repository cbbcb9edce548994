"""Recurrent layers with Keras 3's arguments, weights and numerics: SimpleRNN, LSTM and
GRU (the Bidirectional wrapper: ``bidirectional.py``).

Weights are Keras's cell weights, in its order and layout: ``kernel`` (features, G units),
``recurrent_kernel`` (units, G units), ``bias`` (G units,) (GRU with ``reset_after``:
(2, 3 units), input then recurrent bias), with G the gates: LSTM i, f, c, o; GRU z, r, h.
The time loop is one autograd Function per layer call (``rnn_ops``). Masks follow Keras:
a masked step keeps the previous states and outputs the previous output (zeros when
``zero_output_for_mask``, which Bidirectional sets for ``return_sequences``).
"""
import numpy as np

from .. import activations, constraints, graph, initializers, regularizers
from ..random import Generator, get_generator
from ..tensor import Tensor
from . import rnn_ops
from .base import MAX_DIM, Layer

_INITIALIZER_ALIASES = {"uniform": initializers.RandomUniform}


def orthogonal(shape, dtype=np.float32, gain=1.0):
    """Keras's Orthogonal initializer: Q of the QR decomposition of a normal matrix,
    signs fixed by R's diagonal, reshaped to ``shape``."""
    rows, cols = int(np.prod(shape[:-1])), shape[-1]
    a = get_generator().normal((max(rows, cols), min(rows, cols)), np.float64)
    q, r = np.linalg.qr(a)
    q *= np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return (gain * q[:rows, :cols]).reshape(shape).astype(dtype)


def get_initializer(identifier):
    """``initializers.get`` plus Keras's ``"orthogonal"`` and ``"uniform"``."""
    if isinstance(identifier, str) and identifier.lower() == "orthogonal":
        return orthogonal
    if isinstance(identifier, str) and identifier.lower() in _INITIALIZER_ALIASES:
        return _INITIALIZER_ALIASES[identifier.lower()]()
    return initializers.get(identifier)


def _positive_int(value, name):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) \
            or not 1 <= value <= MAX_DIM:
        raise ValueError(f"Received an invalid value for argument `{name}`, expected a "
                         f"positive integer, got {value}. Received: {name}={value!r}")
    return int(value)


def _activation_name(cls, arg, value):
    try:
        name = activations.serialize(activations.get(value))
    except ValueError:
        name = None
    if name not in rnn_ops.ACTIVATIONS:
        raise ValueError(f"{cls}: `{arg}` must be one of {sorted(rnn_ops.ACTIVATIONS)} in "
                         f"tensorlib's recurrent layers. Received: {arg}={value!r}")
    return name


def as_mask(mask):
    """A (batch, time) boolean array from a mask given as a Tensor, array or None."""
    if mask is None:
        return None
    mask = np.asarray(mask.data if isinstance(mask, Tensor) else mask)
    return mask.reshape(mask.shape[:2]).astype(bool, copy=False)


def _check_cudnn(cls, use_cudnn, kwargs):
    """Keras's LSTM/GRU arguments without effect here: ``use_cudnn`` (checked as Keras
    does; tensorlib has no cuDNN, so ``True`` is refused) and ``implementation``."""
    kwargs.pop("implementation", None)
    if use_cudnn not in ("auto", True, False) or isinstance(use_cudnn, np.bool_):
        raise ValueError(f"{cls}: invalid value received for argument `use_cudnn`. Expected "
                         f"one of {{'auto', True, False}}. Received: use_cudnn={use_cudnn!r}")
    if use_cudnn is True:
        raise ValueError(f"{cls}: use_cudnn=True was specified, but tensorlib has no cuDNN. "
                         f"Pass use_cudnn='auto' or False. Received: use_cudnn=True")


def stateful_states(layer, batch, specs):
    """A stateful layer's states for a call: zeros of ``specs`` ([(units, dtype)]) on the
    first call, then the last states of the previous call (the batch size must stay the
    same, as in Keras)."""
    if layer.states is None:
        layer.states = [Tensor(np.zeros((batch, units), dtype)) for units, dtype in specs]
    expected = layer.states[0].shape[0]
    if batch != expected:
        raise ValueError(f"Layer {layer.name!r}: if an RNN is stateful, the batch size of "
                         f"the input sequences must be the same as the batch size of the "
                         f"initial state. Expected batch size: {expected}. Received: "
                         f"batch size {batch}")
    return layer.states


def symbolic_call(layer, plain, inputs, args, training, kwargs, state_units):
    """A recurrent layer's call on symbolic ``inputs`` with ``initial_state`` and/or
    ``mask`` given (Keras's ``LSTM(...)(x, initial_state=[h, c])``): ``plain`` (the base
    class's symbolic call) records the node, which then also takes these arguments
    (``node.packed_call``: ``(inputs, [], {"initial_state": [...], "mask": m})``, as a
    user layer's call with symbolic tensors in several arguments). Without them, the
    plain call (no extra cost). ``state_units``: the units of each expected state."""
    names = ("initial_state", "mask")[:len(args)]     # given by position, as call's
    if 0 < len(args) <= 2 and not set(names) & set(kwargs):
        kwargs, args = {**dict(zip(names, args)), **kwargs}, ()
    given = {k: v for k, v in kwargs.items() if v is not None}
    if args or not given or set(given) - {"initial_state", "mask"}:
        return plain(inputs, *args, training=training, **given)
    if getattr(inputs, "_keras_mask", None) is not None:
        raise NotImplementedError(f"Layer {layer.name!r}: tensorlib cannot yet combine an "
                                  f"input carrying a mask with `initial_state` or `mask` "
                                  f"in a functional model. Received: {sorted(given)}")
    if "initial_state" in given:
        states = graph.flatten(given["initial_state"])
        shapes = [tuple(getattr(s, "shape", ())) for s in states]
        if [s[-1] if len(s) == 2 else None for s in shapes] != list(state_units):
            raise ValueError(f"Layer {layer.name!r} expects {len(state_units)} initial "
                             f"state(s) of shape (batch, units) with units {state_units}. "
                             f"Received: initial_state with shapes {shapes}")
        given["initial_state"] = states
    outputs = plain(inputs, training=training)
    node = layer._inbound_nodes[-1]
    node.args = (node.args, [], given)
    node.inputs = [t for t in graph.flatten(node.args) if isinstance(t, graph.SymbolicTensor)]
    node.packed_call, node.call_args = True, ()
    node.call_kwargs = getattr(node, "call_kwargs", None) or {}
    return outputs


class _Recurrent(Layer):
    """The base of SimpleRNN, LSTM and GRU: arguments, weights, the call and the mask."""

    supports_masking = True
    _gates = 1            # kernel columns per unit
    _loop = None          # the rnn_ops Function
    _n_states = 1

    def __init__(self, units, activation="tanh", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None,
                 dropout=0.0, recurrent_dropout=0.0, seed=None, return_sequences=False,
                 return_state=False, go_backwards=False, stateful=False, unroll=False,
                 zero_output_for_mask=False, **kwargs):
        super().__init__(**kwargs)
        cls = type(self).__name__
        self.units = _positive_int(units, "units")
        self.activation = _activation_name(cls, "activation", activation)
        for arg, value in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if isinstance(value, (bool, np.bool_)) or not isinstance(
                    value, (int, float, np.integer, np.floating)) or np.isnan(value):
                raise ValueError(f"{cls}: `{arg}` must be a number (a rate in [0, 1]). "
                                 f"Received: {arg}={value!r}")
        if seed is not None and (isinstance(seed, (bool, np.bool_))
                                 or not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError(f"{cls}: `seed` must be a non-negative integer or None. "
                             f"Received: seed={seed!r}")
        for arg, value in (("kernel_constraint", kernel_constraint),
                           ("recurrent_constraint", recurrent_constraint),
                           ("bias_constraint", bias_constraint)):
            try:
                setattr(self, arg, constraints.get(value))
            except ValueError:
                raise ValueError(f"{cls}: could not interpret constraint identifier. "
                                 f"Received: {arg}={value!r}") from None
        for arg, value in (("use_bias", use_bias), ("return_sequences", return_sequences),
                           ("stateful", stateful),
                           ("return_state", return_state), ("go_backwards", go_backwards),
                           ("unroll", unroll), ("zero_output_for_mask", zero_output_for_mask)):
            if not isinstance(value, (bool, np.bool_)):
                raise TypeError(f"{cls}: `{arg}` must be a boolean. Received: "
                                f"{arg}={value!r}")
        self.use_bias, self.return_sequences = bool(use_bias), bool(return_sequences)
        self.return_state, self.go_backwards = bool(return_state), bool(go_backwards)
        self.unroll, self.zero_output_for_mask = bool(unroll), bool(zero_output_for_mask)
        # Keras clips the rates into [0, 1]; they act in training for rates in (0, 1)
        self.dropout = min(1.0, max(0.0, float(dropout)))
        self.recurrent_dropout = min(1.0, max(0.0, float(recurrent_dropout)))
        self.stateful, self.seed = bool(stateful), seed
        self.states = None          # stateful: the last states (Keras's ``layer.states``)
        self._gen = Generator(seed) if seed is not None else None
        self.kernel_initializer, self.recurrent_initializer = \
            kernel_initializer, recurrent_initializer
        self.bias_initializer = bias_initializer
        for arg in ("kernel_initializer", "recurrent_initializer", "bias_initializer"):
            try:
                get_initializer(getattr(self, arg))
            except ValueError:
                raise ValueError(f"{cls}: could not interpret initializer identifier. "
                                 f"Received: {arg}={getattr(self, arg)!r}") from None
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)

    # ------------------------------------------------------------ weights
    def _bias_shape(self):
        return (self._gates * self.units,)

    def _bias_initializer(self):
        return get_initializer(self.bias_initializer)

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(f"Input 0 of layer {self.name!r} is incompatible with the layer: "
                             f"expected ndim=3 (batch, timesteps, features) with a known "
                             f"last axis. Received: input with shape {tuple(input_shape)}")
        width = self._gates * self.units
        self.kernel = self.add_weight((input_shape[-1], width),
                                      get_initializer(self.kernel_initializer),
                                      name="kernel", regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight(
            (self.units, width), get_initializer(self.recurrent_initializer),
            name="recurrent_kernel", regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint)
        self.bias = self.add_weight(self._bias_shape(), self._bias_initializer(),
                                    name="bias", regularizer=self.bias_regularizer,
                                    constraint=self.bias_constraint) if self.use_bias else None

    def _keras_var_groups(self):
        """Where Keras files keep the weights: in the layer's ``cell`` (keras_paths)."""
        return [("cell", self.weights)]

    def _call_symbolic(self, inputs, *args, training=None, **kwargs):
        return symbolic_call(self, super()._call_symbolic, inputs, args, training, kwargs,
                             [self.units] * self._n_states)

    # ------------------------------------------------------------ shapes and masks
    def compute_output_shape(self, input_shape):
        batch, steps = input_shape[0], input_shape[1]
        out = (batch, steps, self.units) if self.return_sequences else (batch, self.units)
        if self.return_state:
            return [out] + [(batch, self.units)] * self._n_states
        return out

    def compute_mask(self, inputs, mask=None):
        out = mask if self.return_sequences else None
        return [out] + [None] * self._n_states if self.return_state else out

    # ------------------------------------------------------------ compute
    def _loop_options(self):
        return {"activation": self.activation}

    def call(self, sequences, initial_state=None, mask=None, training=False):
        return self._sequence_call(self, sequences, initial_state, mask, training)

    def _sequence_call(self, owner, x, initial_state, mask, training):
        """The whole sequence with this layer's (or cell's) weights; ``owner`` (this layer,
        or the ``RNN`` wrapping this cell) gives the name, ``return_sequences``,
        ``return_state``, ``go_backwards``, ``zero_output_for_mask``, ``stateful``."""
        if x.ndim != 3 or x.shape[-1] != self.kernel.shape[0]:
            raise ValueError(f"Input 0 of layer {owner.name!r} is incompatible with the "
                             f"layer: expected shape (batch, timesteps, "
                             f"{self.kernel.shape[0]}). Received: input with shape {x.shape}")
        batch, steps = x.shape[0], x.shape[1]
        if initial_state is None and owner.stateful:
            initial_state = stateful_states(owner, batch, [(self.units, x.dtype)] *
                                            self._n_states)
        states = self._initial_states(initial_state, batch, x.dtype)
        mask = as_mask(mask)
        if mask is not None and mask.shape != (batch, steps):
            raise ValueError(f"Layer {owner.name!r}: the mask must have shape (batch, "
                             f"timesteps) = {(batch, steps)}. Received: mask with shape "
                             f"{mask.shape}")
        if steps == 0:
            raise ValueError(f"Layer {owner.name!r}: the input has no timesteps. Received: "
                             f"input with shape {x.shape}")
        options = self._loop_options()
        if training:
            x = self._dropout(x, options)
        packed = self._loop.apply(x, self.kernel, self.recurrent_kernel, self.bias, *states,
                                  mask=mask, reverse=owner.go_backwards, **options)
        u = self.units
        seq = packed[:, :, :u] if self._n_states > 1 else packed
        if mask is not None and owner.zero_output_for_mask:
            m = mask if not owner.go_backwards else mask[:, ::-1]
            seq = seq * Tensor(m[:, :, None].astype(x.dtype))
        out = seq if owner.return_sequences else seq[:, -1]
        last = [packed[:, -1, k * u:(k + 1) * u] for k in range(self._n_states)]
        if owner.stateful:
            owner.states = [Tensor(np.array(s.data)) for s in last]
        outputs = [out] + last if owner.return_state else out
        regularizer = getattr(owner, "activity_regularizer", None)
        if regularizer is not None:
            for y in (outputs if isinstance(outputs, list) else [outputs]):
                owner.add_loss(regularizer(y) * (1.0 / max(batch, 1)))
        return outputs

    def _dropout(self, x, options):
        """Keras's dropout masks, drawn once per call and used at every step: without
        recurrent dropout one input mask (applied here); with it (Keras's
        ``implementation=1``) one mask per gate for the inputs and for the state (to the
        loop)."""
        batch, features = x.shape[0], x.shape[2]
        gates = self._gates
        if 0.0 < self.recurrent_dropout < 1.0:
            options["recurrent_masks"] = self._keep_masks(
                (gates, batch, self.units), self.recurrent_dropout, x.dtype)
            if 0.0 < self.dropout < 1.0:
                options["input_masks"] = self._keep_masks((gates, batch, features),
                                                          self.dropout, x.dtype)
        elif 0.0 < self.dropout < 1.0:
            keep = self._keep_masks((batch, features), self.dropout, x.dtype)
            x = x * Tensor(keep[:, None, :])
        return x

    def _keep_masks(self, shape, rate, dtype):
        keep = get_generator(self._gen).uniform(shape, dtype) >= rate
        return (keep / (1.0 - rate)).astype(dtype)

    def reset_state(self):
        """Keras's ``reset_state()``: a stateful layer's states back to zeros."""
        for s in self.states or []:
            s.data[...] = 0

    def reset_states(self):
        """Keras's alias of ``reset_state()``."""
        self.reset_state()

    def _initial_states(self, initial_state, batch, dtype):
        n, shape = self._n_states, (batch, self.units)
        if initial_state is None:
            return [np.zeros(shape, dtype) for _ in range(n)]
        states = list(initial_state) if isinstance(initial_state, (list, tuple)) \
            else [initial_state]
        states = [s if isinstance(s, Tensor) else Tensor(np.asarray(s, dtype)) for s in states]
        if len(states) != n or any(tuple(s.shape) != shape for s in states):
            raise ValueError(f"Layer {self.name!r} expects {n} initial state(s) of shape "
                             f"{shape}. Received: initial_state with shapes "
                             f"{[tuple(s.shape) for s in states]}")
        return [s if s.dtype == dtype else s.astype(dtype) for s in states]

    # ------------------------------------------------------------ config
    def get_config(self):
        return {**super().get_config(), "return_sequences": self.return_sequences,
                "return_state": self.return_state, "go_backwards": self.go_backwards,
                "stateful": self.stateful, "unroll": self.unroll,
                "zero_output_for_mask": self.zero_output_for_mask, "units": self.units,
                "activation": self.activation, **self._extra_config(),
                "use_bias": self.use_bias,
                "kernel_initializer": self.kernel_initializer,
                "recurrent_initializer": self.recurrent_initializer,
                "bias_initializer": self.bias_initializer,
                **{k: regularizers.serialize(getattr(self, k)) for k in (
                    "kernel_regularizer", "recurrent_regularizer", "bias_regularizer",
                    "activity_regularizer")},
                **{k: constraints.serialize(getattr(self, k)) for k in (
                    "kernel_constraint", "recurrent_constraint", "bias_constraint")},
                "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout,
                **self._late_config(), "seed": self.seed}

    def _extra_config(self):
        return {}

    def _late_config(self):
        return {}


class SimpleRNN(_Recurrent):
    """Keras's ``SimpleRNN``: h_t = activation(x_t kernel + h_{t-1} recurrent_kernel + b)."""

    _loop = rnn_ops.SimpleRNNLoop

    def get_config(self):
        config = super().get_config()
        del config["seed"]          # Keras's SimpleRNN writes none
        return config


class LSTM(_Recurrent):
    """Keras's ``LSTM`` (gates i, f, c, o; states h and c)."""

    _gates, _loop, _n_states = 4, rnn_ops.LSTMLoop, 2

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, use_cudnn="auto", **kwargs):
        _check_cudnn("LSTM", use_cudnn, kwargs)
        super().__init__(units, activation=activation, use_bias=use_bias,
                         kernel_initializer=kernel_initializer,
                         recurrent_initializer=recurrent_initializer,
                         bias_initializer=bias_initializer, **kwargs)
        self.recurrent_activation = _activation_name("LSTM", "recurrent_activation",
                                                     recurrent_activation)
        self.unit_forget_bias = bool(unit_forget_bias)

    def _bias_initializer(self):
        init, u = get_initializer(self.bias_initializer), self.units
        if not self.unit_forget_bias:
            return init

        def forget_ones(shape, dtype=np.float32):     # Keras: the forget gate's bias is 1
            return np.concatenate([init((u,), dtype), np.ones((u,), dtype),
                                   init((2 * u,), dtype)])
        return forget_ones

    def _loop_options(self):
        return {"activation": self.activation,
                "recurrent_activation": self.recurrent_activation}

    def _extra_config(self):
        return {"recurrent_activation": self.recurrent_activation}

    def get_config(self):
        config = super().get_config()
        keys = list(config)
        at = keys.index("bias_initializer") + 1
        keys.insert(at, "unit_forget_bias")
        config["unit_forget_bias"] = self.unit_forget_bias
        return {k: config[k] for k in keys}


class GRU(_Recurrent):
    """Keras's ``GRU`` (gates z, r, h; ``reset_after=True``: bias (2, 3 units))."""

    _gates, _loop = 3, rnn_ops.GRULoop

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros",
                 reset_after=True, use_cudnn="auto", **kwargs):
        _check_cudnn("GRU", use_cudnn, kwargs)
        super().__init__(units, activation=activation, use_bias=use_bias,
                         kernel_initializer=kernel_initializer,
                         recurrent_initializer=recurrent_initializer,
                         bias_initializer=bias_initializer, **kwargs)
        self.recurrent_activation = _activation_name("GRU", "recurrent_activation",
                                                     recurrent_activation)
        if not isinstance(reset_after, (bool, np.bool_)):
            raise TypeError(f"GRU: `reset_after` must be a boolean. Received: "
                            f"reset_after={reset_after!r}")
        self.reset_after = bool(reset_after)

    def _bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def _loop_options(self):
        return {"activation": self.activation, "reset_after": self.reset_after,
                "recurrent_activation": self.recurrent_activation}

    def _extra_config(self):
        return {"recurrent_activation": self.recurrent_activation}

    def _late_config(self):
        return {"reset_after": self.reset_after}
