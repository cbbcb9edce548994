"""Output-size and padding arithmetic of 2-D convolution and pooling (Keras rules).

Shared by both backends so that they cannot disagree. For one spatial axis of size ``n``,
kernel ``k``, stride ``s`` and dilation ``d`` (effective kernel ``e = (k - 1) * d + 1``):

* ``"valid"``: ``out = floor((n - e) / s) + 1`` (clamped at 0), no padding;
* ``"same"``:  ``out = ceil(n / s)``, total padding ``max((out - 1) * s + e - n, 0)``,
  ``before = total // 2`` and the extra element (if any) ``after``.

Pooling uses the same rules with ``d = 1`` (floor mode for ``"valid"``).

:func:`geometry` is also the one place where sizes are bounded before any kernel runs
(Python ints never overflow, so every check here is exact): window sizes, strides and
dilation rates are ints in ``[1, MAX_WINDOW]`` (the kernels' ``int`` range, as in Keras
and TensorFlow), and every buffer a kernel of either backend may allocate or index
(input, output, padded input, patch matrix, kernel) holds at most ``MAX_ELEMENTS``
elements, so every index and byte count fits in int64. Max pooling's int32 ``argmax``
also needs ``H * W <= MAX_WINDOW``. A violation is a ``ValueError`` (a ``TypeError``
for a non-integer) naming the op and the argument, before anything is allocated.
"""
import functools
import operator
from typing import NamedTuple

MAX_WINDOW = 2**31 - 1   # largest window size, stride or dilation rate (a C int)
MAX_ELEMENTS = 2**59     # largest buffer (elements) a kernel may allocate: bytes fit int64

# Keras names of (window, strides, dilation) in the messages of each op.
_ARG_NAMES = {"conv2d": ("kernel_size", "strides", "dilation_rate")}
_POOL_NAMES = ("pool_size", "strides", "dilation_rate")


def normalize_padding(padding):
    """``"valid"`` or ``"same"`` (case-insensitive) as a lower-case string."""
    p = str(padding).lower()
    if p not in ("valid", "same"):
        raise ValueError(f'padding must be "valid" or "same". Received: padding={padding!r}')
    return p


def out_size_and_pad(n, k, s, d, padding):
    """``(out, pad_before, pad_after)`` of one spatial axis."""
    eff = (k - 1) * d + 1
    if normalize_padding(padding) == "valid":
        return max((n - eff) // s + 1, 0), 0, 0
    out = -(-n // s)
    total = max((out - 1) * s + eff - n, 0)
    return out, total // 2, total - total // 2


class Geometry(NamedTuple):
    """Everything a 2-D conv / pool kernel needs to know about index arithmetic."""
    N: int
    H: int
    W: int
    C: int
    kh: int
    kw: int
    sh: int
    sw: int
    dh: int
    dw: int
    OH: int
    OW: int
    pt: int   # padding top (rows before)
    pb: int   # padding bottom
    pl: int   # padding left
    pr: int   # padding right

    @property
    def padded(self):
        return bool(self.pt or self.pb or self.pl or self.pr)


def _int(value):
    """``value`` as a Python int (ints and NumPy integers, never bools), else None."""
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return None
    try:
        return operator.index(value)
    except TypeError:
        return None


def int_tuple(op, name, value, n, lo, hi):
    """``value`` (an int or a sequence of ``n`` ints) as a tuple of ``n`` ints in
    ``[lo, hi]``."""
    if type(value) is tuple and len(value) == n:      # fast path: a tuple of plain ints
        for v in value:
            if type(v) is not int or not lo <= v <= hi:
                break
        else:
            return value
    if _int(value) is not None or isinstance(value, (bool, str, bytes)):
        items = (value,) * n
    else:
        try:
            items = tuple(value)
        except TypeError:
            items = ()
    ints = [_int(v) for v in items]
    if len(ints) != n or None in ints:
        raise ValueError(f"{op}: {name} must be an int or a tuple of {n} ints. Received: "
                         f"{name}={value!r}")
    if not all(lo <= v <= hi for v in ints):
        raise ValueError(f"{op}: {name} must lie in [{lo}, {hi}]. Received: {name}={value!r}")
    return tuple(ints)


def geometry(x_shape, kernel_hw, strides, padding, dilation=(1, 1), *, op="conv2d",
             out_channels=None):
    """The :class:`Geometry` of an NHWC input ``x_shape`` and a ``(kh, kw)`` window.

    ``op`` ("conv2d", "max_pool2d" or "avg_pool2d") names the op in error messages; for
    conv2d, ``out_channels`` is the kernel's last axis (default: the input's channels).
    Raises ``ValueError`` when an argument or a size is out of range (module docstring)."""
    wname, sname, dname = _ARG_NAMES.get(op, _POOL_NAMES)
    shape = int_tuple(op, "input shape", x_shape, 4, 0, MAX_ELEMENTS)
    out_c = shape[3] if out_channels is None else \
        int_tuple(op, "out_channels", out_channels, 1, 0, MAX_ELEMENTS)[0]
    return _geometry(shape, int_tuple(op, wname, kernel_hw, 2, 1, MAX_WINDOW),
                     int_tuple(op, sname, strides, 2, 1, MAX_WINDOW), normalize_padding(padding),
                     int_tuple(op, dname, dilation, 2, 1, MAX_WINDOW), op, out_c)


@functools.lru_cache(maxsize=256)
def _geometry(x_shape, kernel_hw, strides, padding, dilation, op, out_c):
    n, h, w, c = x_shape
    kh, kw = kernel_hw
    sh, sw = strides
    dh, dw = dilation
    oh, pt, pb = out_size_and_pad(h, kh, sh, dh, padding)
    ow, pl, pr = out_size_and_pad(w, kw, sw, dw, padding)
    eh, ew = (kh - 1) * dh + 1, (kw - 1) * dw + 1
    cmax = max(c, out_c)
    # Every buffer either backend may allocate or index; the padded extents h + eh and
    # w + ew bound both the padded input and the zero-padded gy of the input gradient.
    sizes = {"input": n * h * w * c, "output": n * oh * ow * cmax,
             "padded input": n * (h + eh) * (w + ew) * cmax,
             "patch matrix": n * oh * ow * kh * kw * c}
    if op == "conv2d":
        sizes["kernel"] = kh * kw * c * out_c
    for what, size in sizes.items():
        if size > MAX_ELEMENTS:
            wname = _ARG_NAMES.get(op, _POOL_NAMES)[0]
            raise ValueError(
                f"{op}: the {what} would hold {size} elements, more than the {MAX_ELEMENTS} "
                f"a kernel can index. Received: input shape {x_shape}, {wname}={kernel_hw}, "
                f"strides={strides}, dilation_rate={dilation}, padding={padding!r}")
    if op == "max_pool2d" and h * w > MAX_WINDOW:
        raise ValueError(f"{op}: the int32 argmax needs H * W <= {MAX_WINDOW}. Received: "
                         f"input shape {x_shape}")
    return Geometry(n, h, w, c, kh, kw, sh, sw, dh, dw, oh, ow, pt, pb, pl, pr)


def conv_output_shape(x_shape, w_shape, strides, padding, dilation=(1, 1)):
    """NHWC output shape of a conv of ``x_shape`` with a ``(kh, kw, cin, cout)`` kernel."""
    g = geometry(x_shape, w_shape[:2], strides, padding, dilation, out_channels=w_shape[3])
    return (g.N, g.OH, g.OW, int(w_shape[3]))


def pool_output_shape(x_shape, pool_size, strides, padding):
    """NHWC output shape of a 2-D pooling of ``x_shape``."""
    g = geometry(x_shape, pool_size, strides, padding, op="pool2d")
    return (g.N, g.OH, g.OW, g.C)
