"""Crash-isolated runner of the API fuzz cases (driven by tests/test_fuzz_api.py).

    python tests/fuzz_worker.py CASES.jsonl FIRST_LINE

Runs the JSON cases of CASES.jsonl from line FIRST_LINE on. Before each case it writes
``START <id>`` (flushed) and after it ``DONE <id> <json outcome>`` to its protocol channel
(the original stdout; everything the library prints goes to /dev/null). A segfault or an
abort kills only this process; the driver then names the case that was running and starts
a new worker after it. Address space is capped (``RLIMIT_AS``) so that a wrapped size gives
a MemoryError instead of thrashing the machine.

A case is one line of Python (``arrays`` then ``call``, both in the namespace ``PREAMBLE``
builds) plus what to check afterwards:

* ``ref``: a NumPy expression of the correct result (evaluated on fresh copies of the
  arrays; it raising means the input is invalid, so tensorlib must raise too);
* ``grads``: ``{tensor name: NumPy expression of its gradient}`` for the upstream gradient
  ``G`` (a fixed random array of the output's shape), checked when the inputs are finite;
* ``backends``: run again under the numpy backend and compare outputs and gradients;
* ``post``: boolean expressions that must hold after a successful call;
* ``msg``: ValueError / TypeError messages must say what was received ("Received: ...").

Outcome ``status``: ok, raised (an accepted error), unclear (ValueError/TypeError with an
empty or unhelpful message), raw (any other exception type), wrong (value, dtype or shape
differs from the reference), accepted (the reference rejects the input but tensorlib
returned), mutated (an input array changed), backend (native and numpy backends differ),
post (a post-condition failed), state (global state leaked: grad mode, FTZ), setup (the
case itself is broken).
"""
import faulthandler
import json
import math
import operator
import os
import queue
import re
import resource
import signal
import subprocess
import sys
import threading
import time
import traceback
import warnings
from pathlib import Path

ADDRESS_SPACE = 4 << 30
PREAMBLE = ("import numpy as np, tensorlib as tl; from numpy import nan, inf; "
            "from tensorlib import functional as F, layers as L; "
            "from tensorlib.models import Sequential; rng = np.random.default_rng")


def _limit_resources():
    os.environ["TENSORLIB_NUM_THREADS"] = "2"
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    if "libasan" in os.environ.get("LD_PRELOAD", ""):
        return     # ASan reserves terabytes of shadow memory: it caps allocations itself
        # (CI sets ASAN_OPTIONS=allocator_may_return_null=1:max_allocation_size=...)
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = ADDRESS_SPACE if hard == resource.RLIM_INFINITY else min(ADDRESS_SPACE, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))


# ---------------------------------------------------------------- NumPy references
# Everything below is plain NumPy written for clarity, not speed: the oracle of the cases.
import numpy as np  # noqa: E402


def _data(v):
    return v.data if hasattr(v, "data") and not isinstance(v, np.ndarray) else v


def eps(dtype):
    dtype = np.dtype(dtype)
    return float(np.finfo(dtype).eps) if dtype.kind in "fc" else 0.0


def natural_float(a):
    """The dtype NumPy gives ``np.exp(a)`` (raises for str/object, like NumPy)."""
    return np.exp(np.zeros(1, dtype=np.asarray(a).dtype)).dtype


def wide(a):
    a = np.asarray(a)
    return a.astype(np.complex128 if a.dtype.kind == "c" else np.float64)


def sigmoid_ref(a):
    out = natural_float(a)
    return (1 / (1 + np.exp(-wide(a)))).astype(out)


def softmax_ref(a, axis=-1, log=False):
    a = np.asarray(a)
    axis_int(axis)
    out = natural_float(a)
    if a.ndim == 0:
        raise ValueError("softmax of a 0-d array")
    w = wide(a)
    if w.shape[axis] == 0:
        return w.astype(out)
    s = w - w.max(axis=axis, keepdims=True)
    lse = np.log(np.exp(s).sum(axis=axis, keepdims=True))
    return (s - lse if log else np.exp(s - lse)).astype(out)


def softmax_vjp(a, G, axis=-1, log=False):
    y = softmax_ref(a, axis).astype(np.float64)
    if y.shape[axis] == 0:
        return G
    if log:
        return G - y * G.sum(axis=axis, keepdims=True)
    return y * (G - (G * y).sum(axis=axis, keepdims=True))


def is_int(v):
    """An integer as NumPy reads one (``operator.index``), but not a bool."""
    if isinstance(v, (bool, np.bool_)):
        return False
    try:
        operator.index(v)
    except TypeError:
        return False
    return True


def axis_int(axis):
    if not is_int(axis):
        raise TypeError("axis must be an int")


def norm_axes(axis, ndim):
    """NumPy's reading of a reduction axis, strictly (no floats, no bools)."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if is_int(axis) else axis
    if not isinstance(axes, (tuple, list)):
        raise TypeError("bad axis")
    if ndim == 0:       # PyTorch's reading: axis 0 or -1 of a 0-d tensor reduces nothing
        for ax in axes:
            axis_int(ax)
            if operator.index(ax) not in (0, -1):
                raise ValueError("axis out of range")
        return ()
    out = []
    for ax in axes:
        axis_int(ax)
        ax = operator.index(ax)
        if not -ndim <= ax < max(ndim, 1):
            raise ValueError("axis out of range")
        out.append(ax % max(ndim, 1))
    if len(set(out)) != len(out):
        raise ValueError("repeated axis")
    return tuple(sorted(out))


def reduce_ref(kind, a, axis=None, keepdims=False):
    a = np.asarray(a)
    axes = norm_axes(axis, a.ndim)
    if kind == "max" and a.size == 0 and any(a.shape[i] == 0 for i in axes):
        raise ValueError("max of an empty axis")
    f = {"sum": np.sum, "mean": np.mean, "max": np.max}[kind]
    return np.asarray(f(a, axis=axes, keepdims=bool(keepdims)))


def reduce_vjp(kind, a, G, axis=None, keepdims=False):
    a = np.asarray(a, np.float64)
    axes = norm_axes(axis, a.ndim)
    g = G if keepdims else np.expand_dims(G, axes)
    if kind == "sum":
        return np.broadcast_to(g, a.shape)
    if kind == "mean":
        return np.broadcast_to(g / max(1, math.prod(a.shape[i] for i in axes)), a.shape)
    mask = a == a.max(axis=axes, keepdims=True)
    return mask * g / mask.sum(axis=axes, keepdims=True)


def unbroadcast(g, shape):
    g = np.asarray(g)
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for i, n in enumerate(shape):
        if n == 1 and g.shape[i] != 1:
            g = g.sum(axis=i, keepdims=True)
    return g.reshape(shape)


def matmul_vjp(a, b, G, which):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    A = a[None, :] if a.ndim == 1 else a
    B = b[:, None] if b.ndim == 1 else b
    g = np.asarray(G, np.float64)
    if b.ndim == 1:
        g = g[..., None]
    if a.ndim == 1:
        g = np.expand_dims(g, -2)
    if which == 0:
        return unbroadcast(g @ np.swapaxes(B, -1, -2), A.shape).reshape(a.shape)
    return unbroadcast(np.swapaxes(A, -1, -2) @ g, B.shape).reshape(b.shape)


def mm_atol(a, b):
    """Error bound of a float matmul: k * eps * (|a| @ |b|)."""
    a, b = np.asarray(a), np.asarray(b)
    dt = np.result_type(a, b)
    k = a.shape[-1] if a.ndim else 1
    return 4 * (k + 2) * eps(dt) * np.matmul(np.abs(wide(a)), np.abs(wide(b)))


def getitem_vjp(a, index, G):
    out = np.zeros(np.shape(a), np.float64)
    np.add.at(out, index, G)
    return out


def flatten_ref(a, start_dim=0, end_dim=-1):
    a = np.asarray(a)
    if a.ndim == 0:
        return a.reshape(1)
    for d in (start_dim, end_dim):
        axis_int(d)
        if not -a.ndim <= d < a.ndim:
            raise ValueError("dim out of range")
    s, e = start_dim % a.ndim, end_dim % a.ndim
    if s > e:
        raise ValueError("start after end")
    return a.reshape(a.shape[:s] + (math.prod(a.shape[s:e + 1]),) + a.shape[e + 1:])


def permute_axes(axes, ndim):
    axes = tuple(axes)
    for ax in axes:
        axis_int(ax)
    if len(axes) != ndim or sorted(int(x) % max(ndim, 1) for x in axes) != list(range(ndim)) \
            or any(not -ndim <= x < ndim for x in axes):
        raise ValueError("not a permutation")
    return tuple(int(x) % ndim for x in axes)


def transpose_ref(a, axes):
    a = np.asarray(a)
    axes = permute_axes(axes, a.ndim) if axes else tuple(reversed(range(a.ndim)))
    return np.transpose(a, axes)


def transpose_vjp(a, axes, G):
    axes = permute_axes(axes, np.ndim(a)) if axes else tuple(reversed(range(np.ndim(a))))
    return np.transpose(G, np.argsort(axes))


def shape_ints(shape):
    shape = tuple(shape)
    for d in shape:
        if isinstance(d, (bool, np.bool_)) or not isinstance(d, (int, np.integer)):
            raise TypeError("shape entries must be ints")
    return shape


def reshape_ref(a, shape):
    return np.reshape(np.asarray(a), shape_ints(shape))


def clip_inside(a, lo, hi):
    a = np.asarray(a, np.float64)
    inside = np.ones(a.shape, bool)
    if lo is not None:
        inside &= a >= lo
    if hi is not None:
        inside &= a <= hi
    return inside


def clip_ref(a, lo=None, hi=None):
    a = np.asarray(a)
    return a.copy() if lo is None and hi is None else np.clip(a, lo, hi)


def cat_vjp(arrays, axis, G, i):
    sizes = np.cumsum([np.shape(a)[axis] for a in arrays])[:-1]
    return np.split(G, sizes, axis=axis)[i]


# ------------------------------------------------ conv / pool / dense references
def strict_pair(v):
    """Keras's int-or-pair argument, strictly: ints >= 1 (NumPy ints fine), no bools."""
    if isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)):
        v = (v, v)
    if not isinstance(v, (tuple, list)) or len(v) != 2:
        raise ValueError("not a pair")
    for i in v:
        if isinstance(i, (bool, np.bool_)) or not isinstance(i, (int, np.integer)) or i < 1:
            raise ValueError("not a positive int")
    return int(v[0]), int(v[1])


def strict_padding(p):
    if not isinstance(p, str) or p.lower() not in ("valid", "same"):
        raise ValueError("bad padding")
    return p.lower()


def out_and_pad(n, k, s, d, padding):
    """Keras / TF output size and leading padding of one axis (Python ints, no overflow)."""
    eff = (k - 1) * d + 1
    if padding == "valid":
        return max((n - eff) // s + 1, 0), 0
    out = -(-n // s)
    return out, max((out - 1) * s + eff - n, 0) // 2


def _float_input(x, rank):
    x = np.asarray(_data(x))
    if x.dtype not in (np.float32, np.float64) or x.ndim != rank:
        raise ValueError("bad input")
    return x


def conv_ref(x, w, b=None, strides=1, padding="valid", dilation_rate=1, activation=None,
             absolute=False):
    """Direct NHWC convolution in float64; taps outside the input contribute nothing."""
    x, w = _float_input(x, 4), _float_input(w, 4)
    b = None if b is None else np.asarray(_data(b))
    if x.dtype != w.dtype or (b is not None and (b.dtype != x.dtype or b.shape != w.shape[3:])):
        raise ValueError("dtype or bias mismatch")
    if x.shape[3] != w.shape[2] or min(x.shape) < 1 or min(w.shape) < 1:
        raise ValueError("channels mismatch or empty")
    (sh, sw), (dh, dw) = strict_pair(strides), strict_pair(dilation_rate)
    padding = strict_padding(padding)
    if activation not in (None, "relu", "linear"):
        raise ValueError("bad activation")
    n, h, wd, _ = x.shape
    kh, kw, _, cout = w.shape
    oh, pt = out_and_pad(h, kh, sh, dh, padding)
    ow, pl = out_and_pad(wd, kw, sw, dw, padding)
    x64, w64 = x.astype(np.float64), w.astype(np.float64)
    if absolute:
        x64, w64 = np.abs(x64), np.abs(w64)
    y = np.zeros((n, oh, ow, cout))
    for p in range(oh):
        for q in range(ow):
            for i in range(kh):
                r = p * sh + i * dh - pt
                if not 0 <= r < h:
                    continue
                for j in range(kw):
                    c = q * sw + j * dw - pl
                    if 0 <= c < wd:
                        y[:, p, q, :] += x64[:, r, c, :] @ w64[i, j]
    if b is not None:
        y += np.abs(b) if absolute else b
    if activation == "relu" and not absolute:
        y = np.maximum(y, 0)
    return y.astype(x.dtype)


def conv_atol(x, w, b=None, *args, **kwargs):
    x, w = np.asarray(_data(x)), np.asarray(_data(w))
    k = w.shape[0] * w.shape[1] * w.shape[2] + 1
    scale = conv_ref(x, w, b, *args, absolute=True, **kwargs).astype(np.float64)
    return 4 * k * eps(x.dtype) * scale


def pool_ref(x, pool_size=(2, 2), strides=None, padding="valid", kind="max"):
    """Max (NaN-propagating, like np.max) or mean over each window's in-bounds elements."""
    x = _float_input(x, 4)
    kh, kw = strict_pair(pool_size)
    sh, sw = (kh, kw) if strides is None else strict_pair(strides)
    padding = strict_padding(padding)
    n, h, w, c = x.shape
    oh, pt = out_and_pad(h, kh, sh, 1, padding)
    ow, pl = out_and_pad(w, kw, sw, 1, padding)
    y = np.zeros((n, oh, ow, c), x.dtype)
    for p in range(oh):
        r0 = p * sh - pt
        for q in range(ow):
            c0 = q * sw - pl
            win = x[:, max(r0, 0):max(r0 + kh, 0), max(c0, 0):max(c0 + kw, 0), :]
            if kind == "max":
                y[:, p, q, :] = win.max(axis=(1, 2))
            else:
                y[:, p, q, :] = win.astype(np.float64).mean(axis=(1, 2))
    return y


def linear_ref(x, kernel, bias=None, activation=None):
    x, k = _float_input(x, 2), _float_input(kernel, 2)
    b = None if bias is None else np.asarray(_data(bias))
    if x.dtype != k.dtype or x.shape[1] != k.shape[0] or \
            (b is not None and (b.dtype != x.dtype or b.shape != k.shape[1:])):
        raise ValueError("shape or dtype mismatch")
    if activation not in (None, "relu", "linear"):
        raise ValueError("bad activation")
    y = x.astype(np.float64) @ k + (0 if b is None else b)
    return (np.maximum(y, 0) if activation == "relu" else y).astype(x.dtype)


def _target_probs(logits, target):
    logits = _float_input(logits, 2)
    t = np.asarray(_data(target))
    if t.ndim == 1:
        if t.dtype.kind not in "iu" or t.shape[0] != logits.shape[0]:
            raise ValueError("bad class indices")
        if t.size and (t.min() < 0 or t.max() >= logits.shape[1]):
            raise ValueError("class index out of range")
        return logits, np.eye(logits.shape[1])[t]
    if t.shape != logits.shape or t.dtype.kind not in "biuf":
        raise ValueError("bad one-hot target")
    return logits, t.astype(np.float64)


def sce_ref(logits, target):
    logits, t = _target_probs(logits, target)
    logp = softmax_ref(logits.astype(np.float64), -1, log=True)
    n = logits.shape[0]
    loss = -(t * logp).sum() / n if n else np.nan
    return np.asarray(loss, dtype=logits.dtype)


def sce_vjp(logits, target, G):
    logits, t = _target_probs(logits, target)
    p = softmax_ref(logits.astype(np.float64), -1)
    return G * (p - t) / max(logits.shape[0], 1)


def act_ref(name, y):
    y = np.asarray(y)
    name = "linear" if name is None else name.lower()
    if name == "linear":
        return y
    if name == "relu":
        return np.maximum(y, 0).astype(y.dtype)
    if name == "sigmoid":
        return sigmoid_ref(y)
    if name == "tanh":
        return np.tanh(y)
    if name == "softmax":
        return softmax_ref(y, -1)
    raise ValueError(f"unknown activation {name!r}")


def dropout_ok(a, out, rate, noise_shape=None, training=True):
    """Every element is 0 or a / (1 - rate); kept elements share the mask along axes where
    ``noise_shape`` is 1. Raises for arguments Keras rejects."""
    if isinstance(rate, (bool, np.bool_)) or not isinstance(rate, (int, float, np.floating)) \
            or not 0 <= rate < 1:
        raise ValueError(f"invalid rate {rate!r}")
    a, out = np.asarray(a), np.asarray(_data(out))
    if not training or rate == 0:     # identity (noise_shape is only read when training)
        return out.shape == a.shape and np.allclose(out, a.astype(out.dtype), rtol=1e-6,
                                                    atol=0, equal_nan=True)
    if noise_shape is not None:
        shape = np.shape(a)
        if not isinstance(noise_shape, (tuple, list)) or len(noise_shape) != len(shape) or \
                any(d is not None and (not isinstance(d, (int, np.integer)) or
                                       d not in (1, shape[i])) for i, d in enumerate(noise_shape)):
            raise ValueError(f"invalid noise_shape {noise_shape!r} for input shape {shape}")
    a, out = np.asarray(a, np.float64), np.asarray(_data(out), np.float64)
    if out.shape != a.shape:
        return False
    scaled = a / (1 - rate)
    kept = np.isclose(out, scaled, rtol=1e-5, equal_nan=True)
    if not (kept | (out == 0) | (np.isnan(out) & ~np.isfinite(a))).all():   # 0 * inf
        return False
    if noise_shape is not None:
        nz = (a != 0) & np.isfinite(a)
        mask = np.where(nz, kept & (out != 0), np.nan)
        for i, d in enumerate(noise_shape):
            if d == 1 and a.shape[i] > 1:
                m = np.moveaxis(mask, i, 0)
                ref = np.nanmax(np.where(np.isnan(m), -1, m), axis=0)
                if ((m != ref) & ~np.isnan(m) & (ref >= 0)).any():
                    return False
    return True


def bn_ref(a, axis=-1, training=False, epsilon=1e-3, dtype=np.float32):
    """Fresh BatchNormalization (gamma 1, beta 0, moving mean 0, moving variance 1)."""
    a = np.asarray(a)
    axis_int(axis)
    if not -a.ndim <= axis < a.ndim:
        raise ValueError("axis out of range")
    x = a.astype(np.float64)
    if not training:
        return (x / np.sqrt(1 + epsilon)).astype(dtype)
    axes = tuple(i for i in range(a.ndim) if i != axis % a.ndim)
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    return ((x - mean) / np.sqrt(var + epsilon)).astype(dtype)


def arange_ref(start, stop=None, step=1, dtype=None):
    """``tl.arange``'s documented rule: int64 when every bound is an int, else float32."""
    vals = [v for v in (start, stop, step) if v is not None]
    if any(isinstance(v, (str, bytes)) for v in vals):
        raise TypeError("bounds must be numbers")
    if dtype is None:
        dtype = np.int64 if all(isinstance(v, (int, np.integer)) for v in vals) else np.float32
    if stop is None:
        return np.arange(start, step=step, dtype=dtype)
    return np.arange(start, stop, step, dtype=dtype)


def tensor_ref(data, dtype=None, keep=False):
    """``tl.tensor`` (``keep``: ``tl.Tensor``) by its docstring; numeric dtypes only."""
    data = _data(data)
    if keep:
        arr = np.asarray(data)
    elif dtype is not None:
        arr = np.array(data, dtype=dtype)
    elif isinstance(data, np.ndarray):
        arr = data.copy()
    elif isinstance(data, np.generic):
        arr = np.array(data)
    else:
        arr = np.array(data, dtype=np.float32)
    if arr.dtype.kind not in "biufc":
        raise TypeError("not numeric")
    return arr


def gap_ref(x, data_format=None, keepdims=False):
    x = np.asarray(x)
    if data_format not in (None, "channels_last", "channels_first") or x.ndim != 4:
        raise ValueError("bad data_format or rank")
    axes = (2, 3) if data_format == "channels_first" else (1, 2)
    return x.astype(np.float64).mean(axis=axes, keepdims=bool(keepdims)).astype(np.float32)


REF_HELPERS = {name: obj for name, obj in dict(globals()).items()
               if callable(obj) and not name.startswith("_") and obj.__module__ == __name__}


# ---------------------------------------------------------------- comparison
def _tol(got, exp, rtol, atol):
    if rtol is None:
        rtol = 8 * eps(exp.dtype) if exp.dtype.kind in "fc" else 0.0
    tiny = float(np.finfo(exp.dtype).tiny) if exp.dtype.kind in "fc" else 0.0
    return rtol, (0.0 if atol is None else atol) + 4 * tiny


def compare(got, exp, rtol=None, atol=None, check_dtype=True):
    """None when ``got`` matches ``exp`` (NaN where NumPy has NaN, infs exactly, finite
    values within ``atol + rtol * |exp|``), else a short description of the difference."""
    got, exp = np.asarray(_data(got)), np.asarray(exp)
    if got.shape != exp.shape:
        return f"shape {got.shape} != expected {exp.shape}"
    if check_dtype and got.dtype != exp.dtype:
        return f"dtype {got.dtype} != expected {exp.dtype}"
    if exp.dtype.kind not in "biufc" or got.dtype.kind not in "biufc":
        return None if got.tolist() == exp.tolist() else "values differ"
    if exp.dtype.kind in "biu" and got.dtype.kind in "biu":
        bad = got != exp
    else:
        rtol, atol = _tol(got, exp, rtol, atol)
        atol = np.where(np.isnan(atol), np.inf, atol)
        g, e = got.astype(np.complex128), exp.astype(np.complex128)
        bad = np.zeros(exp.shape, bool)
        parts = (np.real, np.imag) if "c" in (got.dtype.kind, exp.dtype.kind) else (np.real,)
        for part in parts:
            gp, ep = part(g), part(e)
            nan_g, nan_e = np.isnan(gp), np.isnan(ep)
            inf_e = np.isinf(ep)
            with np.errstate(all="ignore"):
                close = np.abs(gp - ep) <= atol + rtol * np.abs(ep)
            bad |= (nan_g != nan_e) | (inf_e & (gp != ep)) | \
                (~nan_e & ~inf_e & ~close)
    if not bad.any():
        return None
    idx = tuple(int(i) for i in np.argwhere(bad)[0])
    return (f"{int(bad.sum())}/{bad.size} elements differ; at {idx}: got "
            f"{got[idx]!r}, expected {exp[idx]!r}")


# ---------------------------------------------------------------- running one case
# What a helpful error says: the project's "Received: ...", Keras's registry message, or
# Python's own complaint about a call's signature.
CLEAR_MESSAGE = re.compile(r"received|could not interpret|unrecognized keyword argument|"
                           r"unexpected keyword argument|positional argument|"
                           r"incompatible with the layer", re.IGNORECASE)


def _classify(exc, case):
    """Outcome of a raised exception: raised (acceptable), unclear, or raw."""
    name = type(exc).__name__
    msg = str(exc)
    out = {"exc": name, "msg": msg[:400]}
    if isinstance(exc, MemoryError):
        return {"status": "raised", **out}
    if isinstance(exc, (ValueError, TypeError)):
        need_received = case.get("msg", True)
    elif isinstance(exc, RuntimeError) and "backward" in case.get("call", ""):
        need_received = False     # PyTorch's error type for a backward that cannot run
    elif isinstance(exc, IndexError) and case.get("allow_index"):
        need_received = False
    else:
        tb = traceback.extract_tb(exc.__traceback__)
        where = [f"{os.path.basename(f.filename)}:{f.lineno} {f.name}" for f in tb[-3:]]
        return {"status": "raw", "where": where, **out}
    if not msg.strip():
        return {"status": "unclear", "why": "empty message", **out}
    if need_received and not CLEAR_MESSAGE.search(msg):
        return {"status": "unclear", "why": "no 'Received: ...' in the message", **out}
    return {"status": "raised", **out}


def _new_namespace():
    ns = {"__name__": "__fuzz__", "math": math}
    exec(PREAMBLE, ns)
    return ns


def _arrays_finite(ns, names):
    for k in names:
        v = ns.get(k)
        if isinstance(v, np.ndarray) and v.dtype.kind in "fc":
            if not np.isfinite(v).all() or (v.size and np.abs(v).max() > 1e4):
                return False
    return True


def _same_array(a, b):
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype.kind in "biufc":
        return np.array_equal(a, b, equal_nan=True)
    return repr(a.tolist()) == repr(b.tolist())


def _fresh(case):
    """Namespace with the case's arrays freshly built (and nothing else of the call)."""
    ns = _new_namespace()
    ns.update(REF_HELPERS)
    exec(case.get("arrays") or "pass", ns)
    return ns


def _upstream(out):
    data = out.data
    return np.random.default_rng(12345).standard_normal(data.shape).astype(data.dtype)


def _run_call(case, tl, backend):
    """Build the arrays, run the call (and backward): (namespace, exception or None)."""
    tl.set_backend(backend)
    tl.set_num_threads(None)
    tl.manual_seed(0)
    ns = _new_namespace()
    exec(case.get("arrays") or "pass", ns)
    array_names = [k for k, v in ns.items() if isinstance(v, np.ndarray)]
    ns["_array_names"] = array_names
    try:
        exec(case["call"], ns)
    except BaseException as e:  # noqa: BLE001 - classified by the caller
        if isinstance(e, KeyboardInterrupt):
            raise
        return ns, e, "call"
    out = ns.get("out")
    if case.get("grads") is not None and isinstance(out, tl.Tensor) and out.requires_grad:
        ns["G"] = _upstream(out)
        try:
            out.backward(ns["G"])
        except BaseException as e:  # noqa: BLE001
            if isinstance(e, KeyboardInterrupt):
                raise
            return ns, e, "backward"
    return ns, None, None


def _grad_of(ns, name):
    try:
        t = eval(name, ns)
    except Exception:  # noqa: BLE001 - e.g. the layer was never built
        return None
    g = getattr(t, "grad", None)
    return None if g is None else np.asarray(g.data)


def _eval(expr, ns):
    v = eval(expr, ns)
    return float(v) if isinstance(v, (int, float)) else v


def run_case(case, tl):
    ns, exc, stage = _run_call(case, tl, "native")
    if exc is not None:
        res = _classify(exc, case)
        res["stage"] = stage
        if stage == "call" and case.get("ref") is not None and res["status"] == "raised":
            try:     # tensorlib refused: note whether the reference would have computed it
                eval(case["ref"], _fresh(case))
                res["ref_ok"] = True
            except BaseException:  # noqa: BLE001
                res["ref_ok"] = False
        return res
    out = ns.get("out")
    ref_ns = _fresh(case)
    for k, v in ns.items():
        ref_ns.setdefault(k, v)
    # inputs must be unchanged
    for k in ns["_array_names"]:
        if not _same_array(ns[k], ref_ns[k]):
            return {"status": "mutated", "detail": f"input array {k!r} was modified"}
    checks = []
    if case.get("ref") is not None:
        checks.append("ref")
        try:
            exp = eval(case["ref"], ref_ns)
        except MemoryError:
            exp = None
        except BaseException as e:  # noqa: BLE001
            return {"status": "accepted", "detail": f"reference rejects the input "
                    f"({type(e).__name__}: {str(e)[:150]}) but tensorlib returned "
                    f"{_short(out)}"}
        if exp is not None:
            rtol = _eval(case["rtol"], ref_ns) if case.get("rtol") else None
            atol = _eval(case["atol"], ref_ns) if case.get("atol") else None
            diff = compare(out, exp, rtol, atol, case.get("check_dtype", True))
            if diff:
                return {"status": "wrong", "detail": f"result: {diff}"}
    if case.get("grads") and "G" in ns and _arrays_finite(ns, ns["_array_names"]):
        for name, expr in case["grads"].items():
            got = _grad_of(ns, name)
            t = ns.get(name)
            if not getattr(t, "requires_grad", False):
                continue
            checks.append("grad")
            if got is None:
                return {"status": "wrong", "detail": f"{name}.grad is None after backward"}
            exp = np.asarray(eval(expr, ref_ns))
            exp = np.broadcast_to(exp, t.shape).astype(t.dtype)
            e = eps(t.dtype)
            scale = float(np.abs(ns["G"]).max(initial=0)) * max(
                1.0, float(np.abs(exp).max(initial=0)))
            diff = compare(got, exp, 64 * e, 64 * e * max(scale, 1.0) * max(1, t.size))
            if diff:
                return {"status": "wrong", "detail": f"gradient of {name}: {diff}"}
    for cond in case.get("post") or ():
        checks.append("post")
        try:
            ok = eval(cond, ref_ns)
        except BaseException as e:  # noqa: BLE001
            return {"status": "post", "detail": f"{cond} raised {type(e).__name__}: {e}"[:300]}
        if not ok:
            return {"status": "post", "detail": f"{cond} is False (out = {_short(out)})"}
    if case.get("backends"):
        res = _compare_backends(case, tl, ns)
        return {**res, "checks": checks + ["backends"]}
    return {"status": "ok", "checks": checks}


def _compare_backends(case, tl, native_ns):
    ns, exc, stage = _run_call(case, tl, "numpy")
    tl.set_backend("native")
    if exc is not None:
        return {"status": "backend", "detail": f"numpy backend raised {type(exc).__name__}: "
                f"{str(exc)[:150]} ({stage}) where native did not"}
    pairs = [("out", native_ns.get("out"), ns.get("out"))]
    for name in case.get("grad_vars") or ():
        pairs.append((f"{name}.grad", _grad_of(native_ns, name), _grad_of(ns, name)))
    for what, a, b in pairs:
        if a is None and b is None:
            continue
        if (a is None) != (b is None):
            return {"status": "backend", "detail": f"{what} is None on one backend only"}
        a, b = np.asarray(_data(a)), np.asarray(_data(b))
        if a.dtype.kind not in "fc":
            diff = compare(a, b)
        else:
            fin = np.isfinite(b)
            scale = float(np.abs(b[fin]).max(initial=0)) + 1
            diff = compare(a, b, 0.0, 1e3 * eps(b.dtype) * scale)
        if diff:
            return {"status": "backend", "detail": f"{what}: native vs numpy backend: {diff}"}
    return {"status": "ok"}


def _short(v, limit=120):
    r = repr(v).replace("\n", " ")
    return r if len(r) <= limit else r[:limit] + "..."


# ---------------------------------------------------------------- driver side
CASE_TIMEOUT = 60          # seconds one case may take (the first also imports tensorlib)


def run_cases(cases, workdir):
    """Run ``cases`` in worker processes: ``{id: outcome}``. Crashes and hangs become
    outcomes too (status ``crash`` / ``hang``) and the next worker resumes after them."""
    path = Path(workdir) / "cases.jsonl"
    path.write_text("".join(json.dumps(c) + "\n" for c in cases))
    index = {c["id"]: i for i, c in enumerate(cases)}
    results, first = {}, 0
    env = dict(os.environ, TENSORLIB_NUM_THREADS="2", PYTHONFAULTHANDLER="1")
    env.pop("TENSORLIB_BACKEND", None)
    while first < len(cases):
        err_path = Path(workdir) / f"stderr-{first}.txt"
        with open(err_path, "w") as err:
            proc = subprocess.Popen([sys.executable, __file__, str(path), str(first)],
                                    stdout=subprocess.PIPE, stderr=err, text=True, env=env)
        lines = queue.Queue()
        threading.Thread(target=lambda: ([lines.put(x) for x in proc.stdout], lines.put(None)),
                         daemon=True).start()
        running = None
        while True:
            try:
                line = lines.get(timeout=CASE_TIMEOUT)
            except queue.Empty:
                proc.kill()
                proc.wait()
                results[running or cases[first]["id"]] = {
                    "status": "hang", "detail": f"no answer within {CASE_TIMEOUT} s"}
                first = index[running] + 1 if running else first + 1
                break
            if line is None:
                code = proc.wait()
                if running is None:
                    if code == STATE_EXIT:
                        first = max(index[k] for k in results) + 1
                        break
                    if code:
                        raise RuntimeError(f"the fuzz worker failed outside any case (exit "
                                           f"{code}):\n{_tail(err_path)}")
                    first = len(cases)
                    break
                sig = -code if code < 0 else None
                what = f"killed by {signal.Signals(sig).name}" if sig else f"exit code {code}"
                results[running] = {"status": "crash", "detail": f"worker {what}",
                                    "stderr": _tail(err_path)}
                first = index[running] + 1
                break
            tag, _, rest = line.rstrip("\n").partition(" ")
            if tag == "START":
                running = rest
            elif tag == "DONE":
                cid, _, payload = rest.partition(" ")
                results[cid] = json.loads(payload)
                running = None
    return results


def _tail(path, n=1200):
    text = Path(path).read_text(errors="replace")
    keep = [ln for ln in text.splitlines() if not ln.startswith("--- case")]
    return "\n".join(keep)[-n:]


# ---------------------------------------------------------------- main loop
def main(path, first):
    _limit_resources()
    faulthandler.enable(sys.stderr)
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)                       # prints (progress bars, ...) go nowhere
    warnings.simplefilter("ignore")
    np.seterr(all="ignore")
    import tensorlib as tl
    with open(path) as f:
        lines = f.readlines()
    for line in lines[first:]:
        case = json.loads(line)
        proto.write(f"START {case['id']}\n")
        proto.flush()
        sys.stderr.write(f"--- case {case['id']}: {case.get('arrays') or ''}; "
                         f"{case['call']}\n")
        sys.stderr.flush()
        start = time.perf_counter()
        try:
            res = run_case(case, tl)
        except BaseException as e:  # noqa: BLE001 - e.g. the reference helpers failing
            if isinstance(e, KeyboardInterrupt):
                raise
            res = {"status": "setup", "exc": type(e).__name__, "msg": str(e)[:300],
                   "where": traceback.format_exc(limit=-3)[-600:]}
        res["secs"] = round(time.perf_counter() - start, 3)
        leaked = _leaked_state(tl)
        if leaked and res.get("status") in ("ok", "raised"):
            res = {"status": "state", "detail": leaked}
        proto.write(f"DONE {case['id']} {json.dumps(res, default=str)}\n")
        proto.flush()
        if leaked:
            os._exit(STATE_EXIT)         # the driver goes on in a fresh worker


STATE_EXIT = 3


def _leaked_state(tl):
    """Global state a call must leave as it found it (None when all is well)."""
    if not tl.is_grad_enabled():
        return "gradient recording was left switched off"
    if np.float32(1e-40) * np.float32(0.5) == 0:
        return "denormals are flushed to zero in the calling thread (FTZ/DAZ left set)"
    return None


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
