"""Output-size and padding arithmetic of 2-D convolution and pooling (Keras rules).

Shared by both backends so that they cannot disagree. For one spatial axis of size ``n``,
kernel ``k``, stride ``s`` and dilation ``d`` (effective kernel ``e = (k - 1) * d + 1``):

* ``"valid"``: ``out = floor((n - e) / s) + 1`` (clamped at 0), no padding;
* ``"same"``:  ``out = ceil(n / s)``, total padding ``max((out - 1) * s + e - n, 0)``,
  ``before = total // 2`` and the extra element (if any) ``after``.

Pooling uses the same rules with ``d = 1`` (floor mode for ``"valid"``).
"""
import functools
from typing import NamedTuple


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


def geometry(x_shape, kernel_hw, strides, padding, dilation=(1, 1)):
    """The :class:`Geometry` of an NHWC input ``x_shape`` and a ``(kh, kw)`` window."""
    return _geometry(tuple(int(v) for v in x_shape), tuple(int(v) for v in kernel_hw),
                     tuple(int(v) for v in strides), str(padding),
                     tuple(int(v) for v in dilation))


@functools.lru_cache(maxsize=256)
def _geometry(x_shape, kernel_hw, strides, padding, dilation):
    n, h, w, c = x_shape
    kh, kw = kernel_hw
    sh, sw = strides
    dh, dw = dilation
    oh, pt, pb = out_size_and_pad(h, kh, sh, dh, padding)
    ow, pl, pr = out_size_and_pad(w, kw, sw, dw, padding)
    return Geometry(n, h, w, c, kh, kw, sh, sw, dh, dw, oh, ow, pt, pb, pl, pr)


def conv_output_shape(x_shape, w_shape, strides, padding, dilation=(1, 1)):
    """NHWC output shape of a conv of ``x_shape`` with a ``(kh, kw, cin, cout)`` kernel."""
    g = geometry(x_shape, w_shape[:2], strides, padding, dilation)
    return (g.N, g.OH, g.OW, int(w_shape[3]))


def pool_output_shape(x_shape, pool_size, strides, padding):
    """NHWC output shape of a 2-D pooling of ``x_shape``."""
    g = geometry(x_shape, pool_size, strides, padding)
    return (g.N, g.OH, g.OW, g.C)
