"""``Model.summary()``: Keras 3's table, drawn with the same box characters and column
widths (line length 88, or the terminal width minus 4 when narrower; columns at 45% and
80%; cells shrunk to fit exactly as the table renderer Keras uses does)."""
import shutil
import textwrap

POSITIONS = (0.45, 0.80, 1.0)
HEADER = ("Layer (type)", "Output Shape", "Param #")
ALIGN = ("left", "left", "right")


def _cell_widths(line_length):
    """Text width of each column for a table exactly ``line_length`` characters wide."""
    widths, current = [], 0
    for pos in POSITIONS:
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


def _row(cells, widths, bar):
    wrapped = [textwrap.wrap(c, w, break_on_hyphens=False) or [""]
               for c, w in zip(cells, widths)]
    lines = []
    for i in range(max(len(p) for p in wrapped)):
        parts = []
        for piece, w, align in zip(wrapped, widths, ALIGN):
            text = piece[i] if i < len(piece) else ""
            parts.append(text.rjust(w) if align == "right" else text.ljust(w))
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


def summary_lines(model, line_length=None):
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
                       format_shape(layer.output_shape), params), widths, "│")
    lines.append(_rule("└", "─", "┴", "┘", widths))
    trainable, frozen = model.trainable_weights, model.non_trainable_weights
    n_train = sum(w.size for w in trainable)
    n_frozen = sum(w.size for w in frozen)
    b_train = sum(w.data.nbytes for w in trainable)
    b_frozen = sum(w.data.nbytes for w in frozen)
    lines += [f" Total params: {n_train + n_frozen:,} ({readable_size(b_train + b_frozen)})",
              f" Trainable params: {n_train:,} ({readable_size(b_train)})",
              f" Non-trainable params: {n_frozen:,} ({readable_size(b_frozen)})"]
    return lines
