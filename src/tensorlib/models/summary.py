"""``Model.summary()``: Keras 3's table, drawn with the same box characters and column
widths (line length 88, or the terminal width minus 4 when narrower; columns at 45% and
80%; cells shrunk to fit exactly as the table renderer Keras uses does)."""
import shutil
import textwrap

import numpy as np

POSITIONS = (0.45, 0.80, 1.0)
HEADER = ("Layer (type)", "Output Shape", "Param #")
ALIGN = ("left", "left", "right")


def _cell_widths(line_length, positions=POSITIONS):
    """Text width of each column for a table exactly ``line_length`` characters wide."""
    widths, current = [], 0
    for pos in positions:
        w = int(pos * line_length) - current
        if w < 4:
            raise ValueError("Insufficient console width to print summary. "
                             f"Received: line_length={line_length}")
        widths.append(w + 2)          # one space of padding each side
        current += w
    budget = line_length - (len(widths) + 1)   # borders
    excess = sum(widths) - budget
    if excess > 0:                    # shrink columns in turn, sharing the excess evenly
        ratio_total, remaining, out = len(widths), excess, []
        for w in widths:
            cut = min(w, round(remaining / ratio_total))
            out.append(w - cut)
            remaining -= cut
            ratio_total -= 1
        widths = out
    return [w - 2 for w in widths]


def _rule(left, fill, mid, right, widths):
    return left + mid.join(fill * (w + 2) for w in widths) + right


def _row(cells, widths, bar, align=ALIGN):
    wrapped = [textwrap.wrap(c, w, break_on_hyphens=False) or [""]
               for c, w in zip(cells, widths)]
    lines = []
    for i in range(max(len(p) for p in wrapped)):
        parts = []
        for piece, w, how in zip(wrapped, widths, align):
            text = piece[i] if i < len(piece) else ""
            parts.append(text.rjust(w) if how == "right" else text.ljust(w))
        lines.append(bar + bar.join(f" {p} " for p in parts) + bar)
    return lines


def readable_size(nbytes):
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if nbytes / 1024 < 1:
            return f"{nbytes:.2f} {unit}"
        nbytes /= 1024
    return f"{nbytes:.2f} PB"


def format_shape(shape):
    return "(" + ", ".join(str(d) for d in shape) + ")" if shape is not None else "?"


def summary_lines(model, line_length=None, shape_text=None):
    """The table of a Sequential model, or of a model defined by ``call`` with
    ``shape_text(layer)`` giving the Output Shape cells (subclassing.layer_shape_text)."""
    if line_length is None:
        line_length = min(88, shutil.get_terminal_size().columns - 4)
    widths = _cell_widths(line_length)
    lines = [f'Model: "{model.name}"', _rule("┏", "━", "┳", "┓", widths)]
    lines += _row(HEADER, widths, "┃")
    lines.append(_rule("┡", "━", "╇", "┩", widths))
    for i, layer in enumerate(model.layers):
        if i:
            lines.append(_rule("├", "─", "┼", "┤", widths))
        params = f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"
        lines += _row((f"{layer.name} ({type(layer).__name__})",
                       shape_text(layer) if shape_text else format_shape(layer.output_shape),
                       params), widths, "│")
    lines.append(_rule("└", "─", "┴", "┘", widths))
    return lines + _total_lines(model)


def _total_lines(model):
    trainable, frozen = model.trainable_weights, model.non_trainable_weights
    n_train = sum(w.size for w in trainable)
    n_frozen = sum(w.size for w in frozen)
    b_train = sum(w.data.nbytes for w in trainable)
    b_frozen = sum(w.data.nbytes for w in frozen)
    n_opt = _optimizer_params(model)
    b_opt = 4 * n_opt if n_opt is not None else 0
    lines = [f" Total params: {n_train + n_frozen + (n_opt or 0):,} "
             f"({readable_size(b_train + b_frozen + b_opt)})",
             f" Trainable params: {n_train:,} ({readable_size(b_train)})",
             f" Non-trainable params: {n_frozen:,} ({readable_size(b_frozen)})"]
    if n_opt is not None:
        lines.append(f" Optimizer params: {n_opt:,} ({readable_size(b_opt)})")
    return lines


def _optimizer_params(model):
    """The number of values in the optimizer's variables once it is built (Keras's
    "Optimizer params": the iteration count, the learning rate unless a schedule gives
    it, and the slots; 4 bytes each, as Keras on torch counts them), else None."""
    opt = getattr(model, "optimizer", None)
    if not getattr(model, "compiled", False) or not getattr(opt, "built", False):
        return None
    values = opt.variables
    n = sum(int(np.size(v)) for v in values)
    return n - 1 if callable(opt._learning_rate) else n


# ----------------------------------------------------------------- functional models
FUNCTIONAL_POSITIONS = (0.3, 0.56, 0.74, 1.0)
FUNCTIONAL_HEADER = HEADER + ("Connected to",)
FUNCTIONAL_ALIGN = ALIGN + ("left",)


def _sequential_like(layers, depths):
    """Keras's test: one node per depth, none with several inputs, no shared layer."""
    per_depth = {}
    for layer in layers:
        nodes = [n for n in layer._inbound_nodes if id(n) in depths]
        if len(nodes) > 1:
            return False
        for n in nodes:
            per_depth.setdefault(depths[id(n)], []).append(n)
    return all(len(ns) == 1 and len(ns[0].inputs) <= 1 for ns in per_depth.values())


def _last_output_shape(layer):
    if not layer._inbound_nodes:
        return format_shape(layer.output_shape)
    outs = [format_shape(t.shape) for t in layer._inbound_nodes[-1].outputs]
    return outs[0] if len(outs) == 1 else "[" + ", ".join(outs) + "]"


def _connections(layer, depths):
    names = [f"{t.node.layer.name}[{t._keras_history[1]}][{t.index}]"
             for n in layer._inbound_nodes if id(n) in depths for t in n.inputs]
    return ", ".join(names) or "-"


def functional_summary_lines(model, line_length=None, positions=None):
    """Keras's table for a functional model: its layers in Keras's order, input layers
    included; with a "Connected to" column (and 108 columns by default) unless the graph
    is a plain chain."""
    from .keras_order import walk
    layers, depths = walk(model)
    chain = _sequential_like(layers, depths)
    header, align = (HEADER, ALIGN) if chain else (FUNCTIONAL_HEADER, FUNCTIONAL_ALIGN)
    positions = positions or (POSITIONS if chain else FUNCTIONAL_POSITIONS)
    if line_length is None:
        line_length = min(88 if chain else 108, shutil.get_terminal_size().columns - 4)
    widths = _cell_widths(line_length, positions)
    lines = [f'Model: "{model.name}"', _rule("┏", "━", "┳", "┓", widths)]
    lines += _row(header, widths, "┃", align)
    lines.append(_rule("┡", "━", "╇", "┩", widths))
    for i, layer in enumerate(layers):
        if i:
            lines.append(_rule("├", "─", "┼", "┤", widths))
        params = f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"
        cells = [f"{layer.name} ({type(layer).__name__})", _last_output_shape(layer), params]
        if not chain:
            cells.append(_connections(layer, depths))
        lines += _row(cells, widths, "│", align)
    lines.append(_rule("└", "─", "┴", "┘", widths))
    return lines + _total_lines(model)
