"""Elementwise activation ops with their exact derivatives, and a vectorised ``erf``.

``Elementwise.apply(x, f=..., df=...)`` runs ``f(a)`` forward and ``g * df(a, out)``
backward; each pair below keeps a formula and its derivative side by side. Float32 input
is computed in float32 except where a formula needs float64 (``erf``); integer input
becomes float32, as Keras's activations do.
"""
import math

import numpy as np

from .autograd import Function


class Elementwise(Function):
    def forward(self, a, f=None, df=None, **kwargs):
        if a.dtype.kind == "c":
            raise TypeError(f"{f.__name__}: complex tensors are not supported. Received: "
                            f"dtype={a.dtype}")
        a = a if a.dtype.kind == "f" else a.astype(np.float32)
        self.a, self.df, self.kwargs = a, df, kwargs
        self.out = np.asarray(f(a, **kwargs), dtype=a.dtype)
        return self.out

    def backward(self, g):
        d = self.df(self.a, self.out, **self.kwargs)
        return (g * d).astype(g.dtype, copy=False)


# ---------------------------------------------------------------- erf
# erf by its Taylor polynomial around the nearest point c of a grid of step 1/64 on
# [-6, 6]. The n-th derivative of erf is 2/sqrt(pi) (-1)^(n-1) H_(n-1)(c) exp(-c^2), H the
# physicists' Hermite polynomials (H_(m+1) = 2c H_m - 2m H_(m-1)); the coefficients
# erf^(n)(c) / n! are tabulated once (erf(c) itself by math.erf). With |x - c| <= 1/128,
# degree 7 leaves < 1e-18. Beyond |x| = 6, erf(x) rounds to +-1 in float64.
_STEP, _HALF_WIDTH, _DEGREE = 1.0 / 64, 384, 7


def _erf_taylor_table():
    """Row n: erf^(n)(c) / n! at every grid point c."""
    c = np.arange(-_HALF_WIDTH, _HALF_WIDTH + 1) * _STEP
    table = np.empty((_DEGREE + 1, c.size))
    table[0] = [math.erf(v) for v in c]
    scale = 2.0 / math.sqrt(math.pi) * np.exp(-c * c)
    h_prev, h_cur = np.zeros(c.size), np.ones(c.size)
    for n in range(1, _DEGREE + 1):
        table[n] = scale * (-1) ** (n - 1) * h_cur / math.factorial(n)
        h_prev, h_cur = h_cur, 2.0 * c * h_cur - 2.0 * (n - 1) * h_prev
    return table


_ERF_TABLE = _erf_taylor_table()


def erf(x):
    """``erf`` of an array, in float64 (agrees with ``math.erf`` to ~2e-16)."""
    x = np.asarray(x, dtype=np.float64)
    nan = np.isnan(x)
    xc = np.clip(np.where(nan, 0.0, x), -6.0, 6.0)
    k = np.rint(xc * (1 / _STEP))
    h = xc - k * _STEP
    idx = k.astype(np.intp) + _HALF_WIDTH
    out = np.array(_ERF_TABLE[_DEGREE].take(idx))
    for n in range(_DEGREE - 1, -1, -1):                       # Horner
        out *= h
        out += _ERF_TABLE[n].take(idx)
    out[nan] = np.nan
    return out


# ---------------------------------------------------------------- formulas
def _gelu(a):
    return 0.5 * a * (1.0 + erf(a / math.sqrt(2.0)))


def _gelu_d(a, out):
    a64 = a.astype(np.float64)
    return 0.5 * (1.0 + erf(a64 / math.sqrt(2.0))) + \
        a64 * np.exp(-0.5 * a64 * a64) / math.sqrt(2.0 * math.pi)


_GELU_C = math.sqrt(2.0 / math.pi)


def _gelu_tanh(a):
    return 0.5 * a * (1.0 + np.tanh(_GELU_C * (a + 0.044715 * a ** 3)))


def _gelu_tanh_d(a, out):
    t = np.tanh(_GELU_C * (a + 0.044715 * a ** 3))
    return 0.5 * (1.0 + t) + 0.5 * a * (1.0 - t * t) * _GELU_C * (1.0 + 3 * 0.044715 * a * a)


def _elu(a, alpha=1.0):
    return np.where(a > 0, a, alpha * np.expm1(np.minimum(a, 0)))


def _elu_d(a, out, alpha=1.0):
    return np.where(a > 0, 1.0, alpha * np.exp(np.minimum(a, 0)))


SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _selu(a):
    return SELU_SCALE * _elu(a, SELU_ALPHA)


def _selu_d(a, out):
    return SELU_SCALE * _elu_d(a, out, SELU_ALPHA)


def _softplus(a):
    return np.maximum(a, 0) + np.log1p(np.exp(-np.abs(a)))


def _sigmoid(a):
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1 / (1 + e), e / (1 + e))


def _softplus_d(a, out):
    return _sigmoid(a)


def _softsign(a):
    return a / (1.0 + np.abs(a))


def _softsign_d(a, out):
    return 1.0 / (1.0 + np.abs(a)) ** 2


def _silu(a):
    return a * _sigmoid(a)


def _silu_d(a, out):
    s = _sigmoid(a)
    return s * (1.0 + a * (1.0 - s))


def _hard_sigmoid(a):
    return np.clip(a / 6.0 + 0.5, 0.0, 1.0)


def _hard_sigmoid_d(a, out):
    return np.where((a > -3.0) & (a < 3.0), 1.0 / 6.0, 0.0)


def _hard_silu(a):
    return a * _hard_sigmoid(a)


def _hard_silu_d(a, out):
    return np.where(a <= -3.0, 0.0, np.where(a >= 3.0, 1.0, a / 3.0 + 0.5))


def _mish(a):
    return a * np.tanh(_softplus(a))


def _mish_d(a, out):
    t = np.tanh(_softplus(a))
    return t + a * (1.0 - t * t) * _sigmoid(a)


def _leaky(a, slope=0.2):
    return np.where(a >= 0, a, slope * a)


def _leaky_d(a, out, slope=0.2):
    return np.where(a > 0, 1.0, slope)


def _relu_general(a, slope=0.0, max_value=None, threshold=0.0):
    """Keras's ``relu``: ``x`` where ``x > threshold`` (else 0), clipped to ``max_value``,
    minus ``slope * relu(threshold - x)``; with ``max_value`` the clip is to ``[0, max]``."""
    y = np.where(a > threshold, a, 0.0) if threshold != 0 else np.maximum(a, 0)
    if max_value is not None:
        y = np.clip(y, 0.0, max_value)
    if slope != 0:
        y = y - slope * np.maximum(threshold - a, 0)
    return y


def _relu_general_d(a, out, slope=0.0, max_value=None, threshold=0.0):
    d = (a > threshold) if threshold != 0 else (a > 0)
    if max_value is not None:
        d = d & (a > 0) & (a < max_value)
    d = d.astype(a.dtype)
    if slope != 0:
        d = d + slope * (a < threshold)
    return d


FORMULAS = {
    "gelu": (_gelu, _gelu_d), "gelu_tanh": (_gelu_tanh, _gelu_tanh_d),
    "elu": (_elu, _elu_d), "selu": (_selu, _selu_d), "softplus": (_softplus, _softplus_d),
    "softsign": (_softsign, _softsign_d), "silu": (_silu, _silu_d),
    "hard_sigmoid": (_hard_sigmoid, _hard_sigmoid_d), "hard_silu": (_hard_silu, _hard_silu_d),
    "mish": (_mish, _mish_d), "leaky_relu": (_leaky, _leaky_d),
    "relu_general": (_relu_general, _relu_general_d),
}


def apply(name, x, **kwargs):
    f, df = FORMULAS[name]
    return Elementwise.apply(x, f=f, df=df, **kwargs)
