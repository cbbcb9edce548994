"""Keras's ``Bidirectional`` wrapper of a recurrent layer."""
from ..ops_shape import Concatenate
from .base import Layer
from .recurrent import GRU, LSTM, SimpleRNN, _Recurrent, symbolic_call


class Bidirectional(Layer):
    """Keras's ``Bidirectional(layer, merge_mode="concat", backward_layer=None)``: a copy of
    ``layer`` runs forward, another (or ``backward_layer``) backward; their outputs are
    merged (``concat``, ``sum``, ``mul``, ``ave``, or None for a list of both)."""

    supports_masking = True
    _MODES = ("sum", "mul", "ave", "concat", None)

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None,
                 **kwargs):
        if not isinstance(layer, _Recurrent):
            raise ValueError("Please initialize `Bidirectional` layer with a recurrent "
                             "layer instance (SimpleRNN, LSTM or GRU). Received: "
                             f"layer={layer!r}")
        if backward_layer is not None and not isinstance(backward_layer, _Recurrent):
            raise ValueError("`backward_layer` need to be a recurrent layer instance. "
                             f"Received: backward_layer={backward_layer!r}")
        if merge_mode not in self._MODES:
            raise ValueError(f"Invalid merge mode. Received: {merge_mode}. Merge mode should "
                             'be one of {"sum", "mul", "ave", "concat", None}')
        if weights is not None:
            raise ValueError("Bidirectional: `weights` is not supported by tensorlib; use "
                             f"set_weights. Received: weights={weights!r}")
        super().__init__(**kwargs)
        self.forward_layer = _copy(layer, "forward_", go_backwards=layer.go_backwards)
        self.backward_layer = backward_layer if backward_layer is not None else \
            _copy(layer, "backward_", go_backwards=True)
        fw, bw = self.forward_layer, self.backward_layer
        if fw.go_backwards == bw.go_backwards:
            raise ValueError("Forward layer and backward layer should have different "
                             "`go_backwards` value. Received: go_backwards="
                             f"{fw.go_backwards} for both")
        for attr in ("return_sequences", "return_state"):
            if getattr(fw, attr) != getattr(bw, attr):
                raise ValueError(f"Forward layer and backward layer are expected to have the "
                                 f"same value for attribute `{attr}`. Received: "
                                 f"{getattr(fw, attr)} and {getattr(bw, attr)}")
        for sub in (fw, bw):
            sub.zero_output_for_mask = sub.return_sequences
        self.merge_mode = merge_mode
        self.return_sequences, self.return_state = fw.return_sequences, fw.return_state

    def _child_layers(self):
        return [self.forward_layer, self.backward_layer]

    def _keras_var_groups(self):
        fw, bw = self.forward_layer, self.backward_layer
        return [("forward_layer", []), ("forward_layer/cell", fw.weights),
                ("backward_layer", []), ("backward_layer/cell", bw.weights)]

    def _call_symbolic(self, inputs, *args, training=None, **kwargs):
        units = [sub.units for sub in (self.forward_layer, self.backward_layer)
                 for _ in range(sub._n_states)]
        return symbolic_call(self, super()._call_symbolic, inputs, args, training, kwargs,
                             units)

    def build(self, input_shape):
        self.forward_layer.build_for(input_shape)
        self.backward_layer.build_for(input_shape)

    def compute_output_shape(self, input_shape):
        fw = self.forward_layer.compute_output_shape(input_shape)
        bw = self.backward_layer.compute_output_shape(input_shape)
        out, states = (fw[0], fw[1:] + bw[1:]) if self.return_state else (fw, [])
        out_b = bw[0] if self.return_state else bw
        if self.merge_mode == "concat":
            out = out[:-1] + (out[-1] + out_b[-1],)
        merged = [out, out_b] if self.merge_mode is None else [out]
        return merged + states if self.return_state or self.merge_mode is None else out

    def compute_mask(self, inputs, mask=None):
        out = mask if self.return_sequences else None
        outs = [out, out] if self.merge_mode is None else [out]
        if self.return_state:
            return outs + [None] * (2 * self.forward_layer._n_states)
        return outs if self.merge_mode is None else out

    def call(self, sequences, initial_state=None, mask=None, training=False):
        fw_state = bw_state = None
        if initial_state is not None:
            half = len(initial_state) // 2
            fw_state, bw_state = initial_state[:half], initial_state[half:]
        y = self.forward_layer._run(sequences, training, kwargs={
            "initial_state": fw_state, "mask": mask})
        y_rev = self.backward_layer._run(sequences, training, kwargs={
            "initial_state": bw_state, "mask": mask})
        states = []
        if self.return_state:
            states, y, y_rev = y[1:] + y_rev[1:], y[0], y_rev[0]
        if self.return_sequences:
            y_rev = y_rev[:, ::-1]
        if self.merge_mode == "concat":
            out = Concatenate.apply(y, y_rev, axis=-1)
        elif self.merge_mode == "sum":
            out = y + y_rev
        elif self.merge_mode == "ave":
            out = (y + y_rev) * 0.5
        elif self.merge_mode == "mul":
            out = y * y_rev
        else:
            return [y, y_rev] + states
        return [out] + states if self.return_state else out

    def get_config(self):
        def record(layer):
            return {"class_name": type(layer).__name__, "config": layer.get_config()}
        config = {**super().get_config(), "merge_mode": self.merge_mode,
                  "layer": record(self.forward_layer)}
        config["backward_layer"] = record(self.backward_layer)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("layer", "backward_layer"):
            if isinstance(config.get(key), dict):
                config[key] = _from_record(config[key])
        return cls(**config)


_RECURRENT = {c.__name__: c for c in (SimpleRNN, LSTM, GRU)}


def _from_record(record):
    cls = _RECURRENT.get(record.get("class_name"))
    if cls is None:
        raise ValueError(f"Bidirectional: the wrapped layer must be one of "
                         f"{sorted(_RECURRENT)}. Received: "
                         f"class_name={record.get('class_name')!r}")
    return cls.from_config(dict(record["config"]))


def _copy(layer, prefix, go_backwards):
    """A fresh layer with ``layer``'s config, named ``prefix + name`` (Keras's rule)."""
    name = layer.name[len(prefix):] if layer.name.startswith(prefix) else layer.name
    config = {**layer.get_config(), "name": prefix + name, "go_backwards": go_backwards}
    config.pop("input_shape", None)
    return type(layer).from_config(config)
