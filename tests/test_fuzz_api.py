"""Property-based fuzzing of the public API, each case crash-isolated in a worker process.

Property: every call either returns the CORRECT result (checked against plain NumPy, the
numpy backend, or a post-condition) or raises ValueError / TypeError / MemoryError
(IndexError too when indexing) whose message says what it received. Never another
exception type, never a wrong value, never a crash or a hang.

Hypothesis draws the cases (derandomized, so CI sees the same cases every run) as one line
of Python each; ``fuzz_worker.py`` runs them and checks the outcome (see its docstring).
A worker that dies mid-case (segfault, abort, OOM kill) or hangs is a failure naming that
case; the remaining cases go to a new worker. Every case's reproducer is the one line
``fuzz_worker.PREAMBLE; <arrays>; <call>``.

Environment: ``FUZZ_SCALE`` multiplies the number of cases (default 1);
``FUZZ_REPORT=dir`` writes every outcome as JSON lines to ``dir/<area>.jsonl``.
"""
import json
import math
import os
import re
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import fuzz_worker

SCALE = float(os.environ.get("FUZZ_SCALE", "1"))
nan, inf = float("nan"), float("inf")


# ================================================================ generic strategies
def lit(v):
    """Python source of a (nested list of) scalar(s)."""
    if isinstance(v, list):
        return "[" + ", ".join(lit(i) for i in v) + "]"
    if isinstance(v, complex):
        return f"complex({v.real!r}, {v.imag!r})"
    return repr(v)


FLOAT_SPECIALS = [nan, inf, -inf, 0.0, -0.0, 1e30, -1e30, 1e-40, 3e38, -3e38]
NUMERIC = ["float32"] * 5 + ["float64"] * 3 + ["int32", "int64", "int8", "uint8", "bool",
                                               "float16", "complex64", "complex128"]
ALL_DTYPES = NUMERIC + ["<U2", "object"]
VIEWS = ["plain"] * 4 + ["T", "neg", "step", "bcast", "ro"]


def elements(dtype, specials):
    dt = np.dtype(dtype)
    if dt.kind == "f":
        base = st.floats(-4, 4, width=8 * dt.itemsize)
        return st.one_of(base, st.sampled_from(FLOAT_SPECIALS)) if specials else base
    if dt.kind == "c":
        base = st.builds(complex, st.floats(-3, 3), st.floats(-3, 3))
        return st.one_of(base, st.sampled_from([complex(nan, 0), complex(inf, 1)])) \
            if specials else base
    if dt.kind in "iu":
        info = np.iinfo(dt)
        base = st.integers(max(info.min, -5), min(info.max, 5))
        return st.one_of(base, st.sampled_from([int(info.min), int(info.max)])) \
            if specials else base
    if dt.kind == "b":
        return st.booleans()
    if dt.kind == "U":
        return st.text("ab", max_size=2)
    return st.one_of(st.integers(-3, 3), st.floats(-3, 3), st.none(), st.just("a"))


class Arr:
    def __init__(self, src, shape, dtype):
        self.src, self.shape, self.dtype = src, tuple(shape), np.dtype(dtype)
        self.kind = self.dtype.kind


@st.composite
def shapes(draw, ranks=(0, 4), side=(0, 4), max_size=36):
    """Dimensions in ``side``; a 0 (empty array) in about one dimension in five."""
    rank = draw(st.integers(*ranks))
    lo, hi = side
    sides = st.sampled_from([d for d in (2, 3, 1, 4, 0) if lo <= d <= hi])
    return tuple(draw(st.lists(sides, min_size=rank, max_size=rank)
                      .filter(lambda s: math.prod(s) <= max_size)))


@st.composite
def arrays(draw, dtypes=ALL_DTYPES, shape=None, ranks=(0, 4), side=(0, 4), views=True):
    """A small array literal, possibly seen through a view (transposed, negative strides,
    every other element, broadcast with zero strides, read-only)."""
    dtype = draw(st.sampled_from(dtypes))
    shape = draw(shapes(ranks, side)) if shape is None else tuple(shape)
    view = draw(st.sampled_from(VIEWS)) if views and shape else "plain"
    if view == "T" and len(shape) < 2:
        view = "neg"
    base_shape = {"T": shape[::-1], "step": (2 * shape[0],) + shape[1:] if shape else shape}\
        .get(view, shape)
    if view == "bcast":
        base_shape = tuple(1 if draw(st.booleans()) else d for d in shape)
    n = math.prod(base_shape)
    if n == 0:
        base = f"np.zeros({base_shape!r}, dtype={dtype!r})"
    else:
        specials = rare(draw, 3)
        vals = draw(st.lists(elements(dtype, specials), min_size=n, max_size=n))
        nested = np.array(vals + [None], dtype=object)[:-1].reshape(base_shape).tolist()
        base = f"np.array({lit(nested)}, dtype={dtype!r})"
    src = {"plain": base, "T": f"{base}.T", "neg": f"{base}[::-1]", "step": f"{base}[::2]",
           "bcast": f"np.broadcast_to({base}, {shape!r})",
           "ro": f"np.broadcast_to({base}, {shape!r})"}[view]
    return Arr(src, shape, dtype)


def rare(draw, n):
    """True about once in ``n + 1`` draws (Hypothesis favours small integers, so the
    common choice must be the small one)."""
    return draw(st.integers(0, n)) == n


def maybe_grad(draw, arr):
    """``requires_grad=True`` for (almost all) float arrays and, rarely, for others."""
    if arr.kind == "f":
        return draw(st.integers(0, 9)) < 8
    return rare(draw, 19)


def tensor_def(draw, name, arr_name, arr):
    rg = maybe_grad(draw, arr)
    return f"{name} = tl.Tensor({arr_name}{', requires_grad=True' if rg else ''})"


def case(area, op, arrays_src, call, ref=None, grads=None, **extra):
    return {"area": area, "op": op, "arrays": arrays_src, "call": call, "ref": ref,
            "grads": grads, **extra}


# ================================================================ tensor ops
UNARY = {  # op: (call on x, reference, gradient)
    "neg": ("-x", "np.negative(a)", "-G"),
    "exp": ("x.exp()", "np.exp(a)", "G * np.exp(a)"),
    "log": ("x.log()", "np.log(a)", "G / a"),
    "sqrt": ("x.sqrt()", "np.sqrt(a)", "G / (2 * np.sqrt(a))"),
    "abs": ("x.abs()", "np.abs(a)", "G * np.sign(a)"),
    "relu": ("x.relu()", "np.maximum(a, 0)", "G * (a > 0)"),
    "sigmoid": ("x.sigmoid()", "sigmoid_ref(a)", "G * sigmoid_ref(a) * (1 - sigmoid_ref(a))"),
    "tanh": ("x.tanh()", "np.tanh(a)", "G * (1 - np.tanh(a) ** 2)"),
}
BINARY = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**", "maximum": None}
NP_BINARY = {"add": "np.add", "sub": "np.subtract", "mul": "np.multiply", "div": "np.divide",
             "pow": "np.power", "maximum": "np.maximum"}
BINARY_GRADS = {  # d/dL, d/dR with L, R the reference operands
    "add": ("G", "G"), "sub": ("G", "-G"), "mul": ("G * R", "G * L"),
    "div": ("G / R", "-G * L / (R * R)"),
    "pow": ("G * R * np.power(L, R - 1)", "G * np.power(L, R) * np.log(L)"),
    "maximum": ("np.where(np.greater_equal(L, R), G, 0)", "np.where(np.greater_equal(L, R), 0, G)"),
}
PY_SCALARS = ["0", "1", "-1", "2", "3", "0.5", "-2.5", "True", "False", "nan", "inf", "-inf",
              "2**31", "2**62", "2**63", "-2**63", "1e308", "1e-320", "np.float32(2)",
              "np.int64(-3)", "1j"]
BAD_OPERANDS = ["None", "'abc'", "[1.0, 2.0]", "(1, 2)", "{}", "object()", "[[1, 2], [3]]",
                "np.array(['a'])", "np.array([object()])"]


def sub_lr(expr, left, right):
    return expr.replace("L", f"({left})").replace("R", f"({right})")


@st.composite
def unary_case(draw):
    op = draw(st.sampled_from(sorted(UNARY)))
    a = draw(arrays())
    call, ref, grad = UNARY[op]
    form = draw(st.sampled_from(["method", "method", "function", "raw"]))
    defs = tensor_def(draw, "x", "a", a)
    if form == "function" and op != "neg":
        call = f"tl.{op}(x)"
    elif form == "raw" and op != "neg":
        return case("tensor", op, f"a = {a.src}", f"out = tl.{op}(a)", ref)
    return case("tensor", op, f"a = {a.src}", f"{defs}; out = {call}", ref, {"x": grad})


@st.composite
def broadcast_partner(draw, shape):
    mode = draw(st.sampled_from(["same", "same", "suffix", "ones", "random", "scalar"]))
    if mode == "same":
        return shape
    if mode == "suffix":
        return shape[draw(st.integers(0, len(shape))):]
    if mode == "ones":
        return tuple(1 if draw(st.booleans()) else d for d in shape)
    if mode == "scalar":
        return ()
    return draw(shapes((0, 3), (0, 3)))


@st.composite
def binary_case(draw):
    op = draw(st.sampled_from(sorted(BINARY)))
    a = draw(arrays())
    kind = draw(st.sampled_from(["tensor", "tensor", "scalar", "scalar", "ndarray", "bad"]))
    defs = [tensor_def(draw, "x", "a", a)]
    arrays_src = f"a = {a.src}"
    grads = {}
    if kind in ("tensor", "ndarray"):
        b = draw(arrays(shape=draw(broadcast_partner(a.shape))))
        arrays_src += f"; b = {b.src}"
        if kind == "tensor":
            defs.append(tensor_def(draw, "y", "b", b))
        other, other_ref = ("y" if kind == "tensor" else "b"), "b"
    else:
        other = draw(st.sampled_from(PY_SCALARS if kind == "scalar" else BAD_OPERANDS))
        other_ref = other if other not in ("[1.0, 2.0]", "(1, 2)") else \
            f"np.asarray({other}, dtype=np.float32)"
    reflected = draw(st.booleans())
    left, right = (other, "x") if reflected else ("x", other)
    lref, rref = (other_ref, "a") if reflected else ("a", other_ref)
    if op == "maximum":
        call = f"tl.maximum({left}, {right})"
    else:
        call = f"({left}) {BINARY[op]} ({right})"   # "2**62 ** x" would bind 62 ** x
    dl, dr = BINARY_GRADS[op]
    for var, expr, ref_arr in (("x", dr if reflected else dl, "a"), ("y", dr if not reflected
                                                                       else dl, "b")):
        if var == "x" or kind == "tensor":
            grads[var] = f"unbroadcast({sub_lr(expr, lref, rref)}, np.shape({ref_arr}))"
    ref = f"{NP_BINARY[op]}({lref}, {rref})"
    return case("tensor", op, arrays_src, "; ".join(defs) + f"; out = {call}", ref, grads)


@st.composite
def gemm_case(draw):
    """2-D float products of one dtype go to the backend's GEMM: sizes around its register
    tiles and cache blocks, operands transposed or reversed (strided views)."""
    dims = [1, 2, 3, 5, 6, 7, 8, 9, 16, 17, 31, 64, 65, 130, 0]
    m, k, n = (draw(st.sampled_from(dims)) for _ in range(3))
    dt = draw(st.sampled_from(["float32", "float32", "float64"]))
    s = draw(st.integers(0, 999))
    views = {"plain": "{}", "T": "np.ascontiguousarray({}.T).T", "neg": "{}[::-1]",
             "F": "np.asfortranarray({})"}
    va, vb = (views[draw(st.sampled_from(sorted(views)))] for _ in range(2))
    a = va.format(rand_src(s, (m, k), dt, rare(draw, 4)))
    b = vb.format(rand_src(s + 1, (k, n), dt))
    return case("tensor", "gemm", f"a = {a}; b = {b}",
                "x = tl.Tensor(a, requires_grad=True); y = tl.Tensor(b, requires_grad=True); "
                "out = x @ y", "np.matmul(a, b)",
                {"x": "matmul_vjp(a, b, G, 0)", "y": "matmul_vjp(a, b, G, 1)"},
                atol="mm_atol(a, b)", backends=True, grad_vars=["x", "y"])


@st.composite
def compare_case(draw):
    op = draw(st.sampled_from(["<", "<=", ">", ">="]))
    a = draw(arrays())
    other = draw(st.sampled_from(PY_SCALARS + BAD_OPERANDS + ["b"]))
    b = draw(arrays(shape=draw(broadcast_partner(a.shape))))
    ufunc = {"<": "np.less", "<=": "np.less_equal", ">": "np.greater", ">=": "np.greater_equal"}
    return case("tensor", "compare", f"a = {a.src}; b = {b.src}",
                f"x = tl.Tensor(a); out = x {op} {other}", f"{ufunc[op]}(a, {other})")


@st.composite
def matmul_case(draw):
    ra, rb = draw(st.integers(0, 3)), draw(st.integers(0, 3))
    k = draw(st.integers(0, 4))
    batch = draw(shapes((0, 1), (1, 3)))
    sa = (batch if ra == 3 else ()) + ((draw(st.integers(0, 3)),) if ra >= 2 else ()) + \
        ((k,) if ra >= 1 else ())
    k2 = draw(st.integers(0, 4)) if rare(draw, 6) else k
    bb = draw(st.sampled_from([batch, (1,) * len(batch), (2,) * len(batch)]))
    sb = (bb if rb == 3 else ()) + ((k2,) if rb >= 1 else ()) + \
        ((draw(st.integers(0, 3)),) if rb >= 2 else ())
    dts = NUMERIC if rare(draw, 3) else ["float32", "float64"]
    a, b = draw(arrays(dtypes=dts, shape=sa)), draw(arrays(dtypes=dts, shape=sb))
    form = draw(st.sampled_from(["x @ y", "tl.matmul(x, y)", "x @ b", "b @ x", "a @ y"]))
    grads = {"x": "matmul_vjp(a, b, G, 0)", "y": "matmul_vjp(a, b, G, 1)"}
    ref = "np.matmul(a, b)"
    if form == "b @ x":
        ref, grads = "np.matmul(b, a)", {"x": "matmul_vjp(b, a, G, 1)"}
    elif form == "x @ b":
        grads = {"x": grads["x"]}
    elif form == "a @ y":
        grads = {"y": grads["y"]}
    atol = ref.replace("np.matmul", "mm_atol")
    return case("tensor", "matmul", f"a = {a.src}; b = {b.src}",
                f"{tensor_def(draw, 'x', 'a', a)}; {tensor_def(draw, 'y', 'b', b)}; "
                f"out = {form}", ref, grads, atol=atol)


def axis_src(rank, allow_tuple=True):
    good = st.integers(-rank - 1, rank).map(str)
    tup = st.lists(st.integers(-rank - 1, rank), max_size=3).map(lambda t: repr(tuple(t)))
    weird = st.sampled_from(["1.5", "'0'", "2**63", "-2**63", "np.int64(0)", "True", "[0]",
                             "(0, 0)", "None", "()", "[]", "(0.0,)", "np.array(0)"])
    return st.one_of(good, good, tup, weird) if allow_tuple else st.one_of(good, good, weird)


@st.composite
def reduce_case(draw):
    op = draw(st.sampled_from(["sum", "mean", "max"]))
    a = draw(arrays())
    ax = draw(axis_src(len(a.shape)))
    kd = draw(st.sampled_from(["False", "True", "None", "1", "0"]))
    form = draw(st.sampled_from([f"x.{op}(axis={ax}, keepdims={kd})", f"x.{op}({ax})",
                                 f"x.{op}()"]))
    if form.endswith("()"):
        ax, kd = "None", "False"
    elif "keepdims" not in form:
        kd = "False"
    return case("tensor", op, f"a = {a.src}", f"{tensor_def(draw, 'x', 'a', a)}; out = {form}",
                f"reduce_ref({op!r}, a, {ax}, {kd})",
                {"x": f"reduce_vjp({op!r}, a, G, {ax}, {kd})"})


def shape_src(size):
    """Target shapes for a reshape of ``size`` elements: some valid, most awkward."""
    valid = [f"({size},)", "(-1,)", f"(1, {size})", f"({size}, -1)", f"(-1, 1, {size})"]
    if size % 2 == 0 and size:
        valid += [f"(2, {size // 2})", "(-1, 2)"]
    weird = ["(0, -1)", "(-1, -1)", "(-2,)", "(2**31, 2**31)", "(2**62,)", "(2**63,)",
             "(2.0,)", "(None,)", "('2',)", "()", "(0,)", "(-1, 0)", f"({size + 1},)",
             "(3, -1)", "(True,)", "(np.int64(-1),)"]
    return st.sampled_from(valid * 2 + weird)


@st.composite
def shape_op_case(draw):
    a = draw(arrays())
    op = draw(st.sampled_from(["reshape", "reshape", "transpose", "permute", "T", "flatten"]))
    defs = tensor_def(draw, "x", "a", a)
    r = len(a.shape)
    if op == "reshape":
        shp = draw(shape_src(math.prod(a.shape)))
        form = draw(st.sampled_from(["x.reshape({})", "x.reshape(*{})", "x.reshape(list({}))"]))
        return case("tensor", op, f"a = {a.src}", f"{defs}; out = {form.format(shp)}",
                    f"reshape_ref(a, {shp})", {"x": "G.reshape(a.shape)"})
    if op == "flatten":
        s, e = draw(axis_src(r, False)), draw(axis_src(r, False))
        return case("tensor", op, f"a = {a.src}", f"{defs}; out = x.flatten({s}, {e})",
                    f"flatten_ref(a, {s}, {e})", {"x": "G.reshape(a.shape)"})
    if op == "T":
        return case("tensor", op, f"a = {a.src}", f"{defs}; out = x.T",
                    "np.transpose(a)", {"x": "np.transpose(G)"})
    perm = list(range(r))
    perm = draw(st.permutations(perm)) if perm else []
    axes = draw(st.sampled_from([repr(tuple(perm)), repr(tuple(perm)), "()", "(0, 0)",
                                 repr(tuple(p - r for p in perm)), "(1.0, 0.0)", "(None,)",
                                 repr(tuple(perm) + (r,)), "('a',)", "(2**63, 0)"]))
    call = f"x.{op}(*{axes})" if draw(st.booleans()) else f"x.{op}({axes})"
    ref = f"transpose_ref(a, {axes})" if op == "transpose" else \
        f"np.transpose(a, permute_axes({axes}, a.ndim))"
    return case("tensor", op, f"a = {a.src}", f"{defs}; out = {call}", ref,
                {"x": f"transpose_vjp(a, {axes} or None, G)" if op == "transpose" else
                 f"np.transpose(G, np.argsort(permute_axes({axes}, a.ndim)))"})


@st.composite
def softmax_case(draw):
    log = draw(st.booleans())
    name = "log_softmax" if log else "softmax"
    a = draw(arrays(ranks=(0, 3)))
    ax = draw(axis_src(len(a.shape)))
    call = draw(st.sampled_from([f"x.{name}({ax})", f"tl.{name}(x, axis={ax})", f"x.{name}()"]))
    if call.endswith("()"):
        ax = "-1"
    tol = "1e3 * eps(natural_float(a))"
    return case("tensor", name, f"a = {a.src}", f"{tensor_def(draw, 'x', 'a', a)}; out = {call}",
                f"softmax_ref(a, {ax}, log={log})", {"x": f"softmax_vjp(a, G, {ax}, log={log})"},
                rtol=tol, atol=f"{tol} * (1 + np.abs(wide(a)[np.isfinite(a)]).max(initial=0))")


CLIP_BOUNDS = ["None", "0", "1", "-1", "0.5", "nan", "inf", "-inf", "2**63", "'1'", "True",
               "np.float32(0.25)", "[0, 1]"]


@st.composite
def clip_case(draw):
    a = draw(arrays())
    lo, hi = draw(st.sampled_from(CLIP_BOUNDS)), draw(st.sampled_from(CLIP_BOUNDS))
    call = draw(st.sampled_from([f"x.clip({lo}, {hi})", f"tl.clip(x, {lo}, {hi})",
                                 f"x.clip(min={lo})", f"x.clip(max={hi})"]))
    if "min=" in call:
        hi = "None"
    elif "max=" in call:
        lo = "None"
    return case("tensor", "clip", f"a = {a.src}", f"{tensor_def(draw, 'x', 'a', a)}; out = {call}",
                f"clip_ref(a, {lo}, {hi})", {"x": f"G * clip_inside(a, {lo}, {hi})"})


@st.composite
def where_case(draw):
    a = draw(arrays(dtypes=NUMERIC))
    c = draw(arrays(dtypes=["bool", "bool", "float32", "int8", "<U2"],
                    shape=draw(broadcast_partner(a.shape))))
    b = draw(arrays(dtypes=NUMERIC, shape=draw(broadcast_partner(a.shape))))
    other = draw(st.sampled_from(["y", "y", "b", "0.5", "2**63", "None"]))
    ref_other = "b" if other == "y" else other
    cond = draw(st.sampled_from(["c", "c", "tl.Tensor(c)", "x > 0"]))
    rc = "(a > 0)" if cond == "x > 0" else "c"
    grads = {"x": f"unbroadcast(np.where({rc}, G, 0), a.shape)"}
    if other == "y":
        grads["y"] = f"unbroadcast(np.where({rc}, 0, G), b.shape)"
    return case("tensor", "where", f"a = {a.src}; b = {b.src}; c = {c.src}",
                f"{tensor_def(draw, 'x', 'a', a)}; {tensor_def(draw, 'y', 'b', b)}; "
                f"out = tl.where({cond}, x, {other})", f"np.where({rc}, a, {ref_other})", grads)


@st.composite
def join_case(draw):
    op = draw(st.sampled_from(["concatenate", "stack"]))
    a = draw(arrays(dtypes=NUMERIC, ranks=(0, 3)))
    ax = draw(axis_src(len(a.shape) + (op == "stack"), False))
    mode = draw(st.sampled_from(["same", "same", "other"]))
    shape_b = a.shape if mode == "same" else draw(shapes((0, 3), (0, 3)))
    if op == "concatenate" and mode == "same" and a.shape and ax.lstrip("-").isdigit() \
            and -len(a.shape) <= int(ax) < len(a.shape):
        shape_b = list(a.shape)
        shape_b[int(ax)] = draw(st.integers(0, 3))
    b = draw(arrays(dtypes=NUMERIC, shape=shape_b))
    items = draw(st.sampled_from(["[x, y]", "[x, y]", "[x]", "[]", "(x, y)", "[x, b]", "[x, 1.0]"]))
    ref_items = items.replace("x", "a").replace("y", "b").replace("(", "[").replace(")", "]") \
        .replace("1.0", "np.float32(1.0)")     # Python data becomes float32
    grads = None
    if items in ("[x, y]", "(x, y)", "[x, b]"):
        grads = {"x": f"cat_vjp([a, b], {ax}, G, 0)"} if op == "concatenate" else \
            {"x": f"np.take(G, 0, axis={ax})"}
    ref = f"np.{op}({ref_items}, axis={ax})" if ax.lstrip("-").isdigit() else \
        f"np.{op}({ref_items}, axis=axis_int({ax}) or {ax})"
    return case("tensor", op, f"a = {a.src}; b = {b.src}",
                f"{tensor_def(draw, 'x', 'a', a)}; {tensor_def(draw, 'y', 'b', b)}; "
                f"out = tl.{op}({items}, axis={ax})", ref, grads)


DTYPE_ARGS = ["'float32'", "'float64'", "'float16'", "'int32'", "'int8'", "'uint8'", "'bool'",
              "'complex64'", "'str'", "'object'", "None", "'xyz'", "5", "np.float32",
              "tl.float64", "tl.int32", "'f4'", "float", "int", "[('f', 'f4')]"]


@st.composite
def astype_case(draw):
    a = draw(arrays(dtypes=NUMERIC))
    d = draw(st.sampled_from(DTYPE_ARGS))
    return case("tensor", "astype", f"a = {a.src}",
                f"{tensor_def(draw, 'x', 'a', a)}; out = x.astype({d})", f"a.astype({d})",
                {"x": "G.astype(a.dtype)"},
                post=["out.requires_grad == (x.requires_grad and out.dtype.kind == 'f')"])


GRAD_ARGS = ["None", "np.ones_like(a)", "np.ones(a.shape, np.float64)", "np.ones((7,))",
             "1.0", "np.ones(a.shape, np.int32)", "tl.Tensor(np.ones_like(a))", "'abc'",
             "np.full(a.shape, nan, a.dtype)", "a.tolist()", "np.ones(a.shape, bool)"]


@st.composite
def backward_case(draw):
    a = draw(arrays(dtypes=["float32", "float64"], views=True))
    g = draw(st.sampled_from(GRAD_ARGS))
    y = draw(st.sampled_from(["x * 3.0", "(x * 3.0).sum()", "x.exp() * 0.0"]))
    if y.endswith(".sum()"):
        g = draw(st.sampled_from(["None", "1.0", "np.array(2.0)", "np.ones(1)"]))
    return case("tensor", "backward", f"a = {a.src}",
                f"x = tl.Tensor(a, requires_grad=True); y = {y}; out = y.backward({g})",
                post=["x.grad is not None and x.grad.shape == a.shape and "
                      "x.grad.dtype == a.dtype"])


@st.composite
def protocol_case(draw):
    a = draw(arrays(dtypes=NUMERIC))
    call, ref = draw(st.sampled_from([
        ("len(x)", "len(a)"), ("repr(x)", None), ("x.item()", "a.item()"),
        ("x.tolist()", "a.tolist()"), ("np.asarray(x)", "a"), ("bool(x)", "bool(a)"),
        ("x.detach()", "a"), ("x.numpy()", "a"), ("float(x)", "float(a)"),
        ("np.asarray(x, dtype=np.float64)", "a.astype(np.float64)"),
        ("x.shape", "a.shape"), ("x.size", "a.size"), ("x.ndim", "a.ndim")]))
    return case("tensor", "protocol:" + call.split("(")[0], f"a = {a.src}",
                f"x = tl.Tensor(a); out = {call}", ref, msg=False, check_dtype=False)


SHAPE_ARGS = ["(2, 3)", "()", "(0,)", "3", "0", "-1", "(2, -1)", "2**33", "(2**31, 2**31)",
              "2**62", "2**63", "2.5", "None", "'3'", "(2.0,)", "[2, 3]", "(True,)",
              "(np.int64(2), 1)"]


@st.composite
def creation_case(draw):
    shape = draw(st.sampled_from(SHAPE_ARGS))
    dt = draw(st.sampled_from(["None"] * 4 + DTYPE_ARGS))
    npdt = "np.float32" if dt == "None" else dt
    fill = draw(st.sampled_from(["1.5", "nan", "'a'", "None", "2**63", "True", "-1"]))
    kind = draw(st.sampled_from(["zeros", "zeros*", "ones", "full", "arange", "randn",
                                 "rand*", "tensor", "Tensor"]))
    if kind in ("zeros", "ones"):
        return case("creation", kind, "", f"out = tl.{kind}({shape}, dtype={dt})",
                    f"np.{kind}({shape}, dtype={npdt})")
    if kind == "zeros*":
        return case("creation", "zeros", "", f"out = tl.zeros(*np.atleast_1d({shape}).tolist())"
                    if shape not in ("None", "'3'") else f"out = tl.zeros({shape})",
                    f"np.zeros({shape}, dtype=np.float32)")
    if kind == "full":
        return case("creation", kind, "", f"out = tl.full({shape}, {fill}, dtype={dt})",
                    f"np.full({shape}, {fill}, dtype={npdt})")
    if kind == "arange":
        vals = ["0", "5", "-5", "2.5", "2**40", "2**62", "2**63", "nan", "inf", "0.0", "'3'",
                "None", "np.int64(4)", "True"]
        s, e, step = (draw(st.sampled_from(vals)) for _ in range(3))
        adt = draw(st.sampled_from(["None", "None", "'float64'", "'int8'", "'bool'"]))
        return case("creation", kind, "", f"out = tl.arange({s}, {e}, {step}, dtype={adt})",
                    f"arange_ref({s}, {e}, {step}, {adt})")
    if kind in ("randn", "rand*"):
        name = kind.rstrip("*")
        return case("creation", name, "", f"out = tl.{name}({shape})",
                    post=["out.shape == np.empty(" + shape + ", np.uint8).shape",
                          "out.dtype == np.float32", "np.isfinite(out.data).all()"])
    data = draw(st.sampled_from(["[1, 2]", "[[1], [2, 3]]", "'abc'", "None", "[None]", "1e400",
                                 "2**63", "[2**64]", "True", "1j", "((1, 2), (3, 4))",
                                 "np.arange(3)", "np.array(['a'])", "[np.nan]",
                                 "tl.ones(2)", "[tl.ones(2), tl.ones(2)]", "range(3)"]))
    if kind == "Tensor":
        return case("creation", "Tensor", "", f"out = tl.Tensor({data})",
                    f"tensor_ref({data}, None, keep=True)")
    rg = draw(st.sampled_from(["False", "True"]))
    return case("creation", "tensor", "", f"out = tl.tensor({data}, dtype={dt}, "
                f"requires_grad={rg})", f"tensor_ref({data}, {dt})")


# ================================================================ indexing
@st.composite
def index_atom(draw, dim):
    kind = draw(st.sampled_from(["int", "int", "slice", "slice", "none", "ellipsis", "list",
                                 "array", "mask", "tensor", "weird"]))
    i = st.integers(-dim - 1, dim)
    if kind == "int":
        v = str(draw(st.one_of(i, i, i, st.sampled_from([2**63, 2**31, -2**63]))))
        return v, v
    if kind == "slice":
        part = st.one_of(st.just(""), st.integers(-5, 5).map(str), st.just("2**63"))
        s = f"{draw(part)}:{draw(part)}"
        step = draw(st.one_of(st.just(""), st.integers(-3, 3).map(str)))
        s += f":{step}" if step else ""
        return s, s
    if kind == "none":
        return "None", "None"
    if kind == "ellipsis":
        return "...", "..."
    if kind == "list":
        v = repr(draw(st.lists(i, max_size=3)))
        return v, v
    if kind == "array":
        v = f"np.array({draw(st.lists(i, min_size=1, max_size=3))!r})"
        return v, v
    if kind == "mask":
        n = draw(st.sampled_from([dim, dim, dim + 1, 1]))
        v = f"np.array({draw(st.lists(st.booleans(), min_size=n, max_size=n))!r}, dtype=bool)"
        return v, v
    if kind == "tensor":
        v = f"np.array({draw(st.lists(i, min_size=1, max_size=3))!r})"
        return f"tl.Tensor({v})", v
    v = draw(st.sampled_from(["1.5", "'a'", "True", "np.float64(0)", "[0.5]", "[[0, 1], [0]]",
                              "{0}", "slice('a')"]))
    return v, v


@st.composite
def index_case(draw):
    a = draw(arrays(dtypes=NUMERIC, ranks=(0, 3)))
    dims = list(a.shape) or [0]
    n = draw(st.integers(1, 3))
    atoms = [draw(index_atom(dims[min(k, len(dims) - 1)])) for k in range(n)]
    if rare(draw, 4):
        atoms = [("a > 0", "a > 0")]
    call_idx, ref_idx = (", ".join(p[j] for p in atoms) for j in (0, 1))
    return case("index", "getitem", f"a = {a.src}",
                f"{tensor_def(draw, 'x', 'a', a)}; out = x[{call_idx}]", f"a[{ref_idx}]",
                {"x": f"getitem_vjp(a, np.index_exp[{ref_idx}], G)"}, allow_index=True)


# ================================================================ functional
# Each case varies at most ONE argument away from a valid call (the ``odd`` one), so that a
# failure's reproducer points at that argument; about a third of the cases are all valid.
INT_PAIR_GOOD = ["1", "1", "2", "3", "(1, 2)", "[2, 1]", "(3, 1)", "np.int64(2)"]
INT_PAIR_BAD = ["0", "-1", "2**31", "2**31 - 1", "2**62", "2**63", "1.5", "None", "'1'",
                "(1,)", "(1, 2, 3)", "True", "(True, 1)", "(1.0, 1.0)", "(2, 0)", "'same'",
                "(np.int32(2), 1)", "2**32 + 1", "(2**31, 1)", "(1, 2**63)"]
PADDINGS_GOOD = ["'valid'", "'same'", "'SAME'", "'Valid'"]
PADDINGS_BAD = ["'full'", "None", "1", "''", "'causal'", "b'same'"]


def odd_one(draw, *names):
    """The argument this case makes awkward (None: a valid call, half of the cases)."""
    return draw(st.sampled_from([None] * len(names) + list(names)))


def arg(draw, name, odd, good, bad):
    return draw(st.sampled_from(bad if name == odd else good))


def rand_src(seed, shape, dtype, specials=False, view="plain"):
    """A seeded random array (views keep the logical ``shape``)."""
    if view == "T" and len(shape) == 4:
        n, h, w, c = shape
        base = f"rng({seed}).standard_normal({(n, w, h, c)!r}).astype({dtype!r})" \
               ".transpose(0, 2, 1, 3)"
    else:
        base = f"rng({seed}).standard_normal({shape!r}).astype({dtype!r})"
        if view == "neg" and len(shape) >= 2:
            base += "[:, ::-1]"
        elif view == "F":
            base = f"np.asfortranarray({base})"
        elif view == "ro":            # read-only
            base = f"np.broadcast_to({base}, {shape!r})"
        elif view == "bcast" and shape:   # zero stride along the first axis, read-only
            one = f"rng({seed}).standard_normal({(1,) + tuple(shape[1:])!r}).astype({dtype!r})"
            base = f"np.broadcast_to({one}, {shape!r})"
    if specials:
        v = specials if isinstance(specials, str) else ["nan", "inf", "-inf", "1e30"][seed % 4]
        base = f"np.where(rng({seed + 1}).random({shape!r}) < 0.15, {v}, {base})" \
               f".astype({dtype!r})"
    return base


def float_src(draw, shape, dt):
    """Random data, in one case of three with some NaN / inf / huge / tiny entries."""
    specials = draw(st.sampled_from([None, None, "nan", "inf", "-inf", "1e30", "1e-42"]))
    return rand_src(draw(st.integers(0, 999)), shape, dt, specials,
                    draw(st.sampled_from(["plain"] * 4 + ["T", "neg", "F", "ro", "bcast"])))


def wrap(draw, name, arr_name, dt):
    """A tensor definition (with grad when float) or the raw array itself."""
    if rare(draw, 4):
        return arr_name, ""
    rg = ", requires_grad=True" if np.dtype(dt).kind == "f" else ""
    return name, f"{name} = tl.Tensor({arr_name}{rg}); "


@st.composite
def nhwc_shape(draw, odd=False):
    """Mostly tiny; now and then a batch or width that crosses the native kernels' 6-pixel
    x 16-channel register tiles, or enough channels to pick the im2col + GEMM kernels."""
    s = [draw(st.integers(1, 2)), draw(st.integers(1, 7)), draw(st.integers(1, 7)),
         draw(st.integers(1, 3))]
    if rare(draw, 5):
        s[draw(st.integers(0, 3))] = draw(st.sampled_from([7, 13, 17, 130]))
    if odd:      # empty or wrong rank
        s = draw(st.sampled_from([[0] + s[1:], s[:1] + [0] + s[2:], s[:3] + [0], s[:3],
                                  s + [1], s[:2]]))
    return tuple(s)


GOOD_FLOATS, BAD_FLOATS = ["float32"] * 3 + ["float64"], ["float16", "int32", "bool",
                                                           "complex64"]


@st.composite
def conv_case(draw):
    odd = odd_one(draw, "x_shape", "channels", "dtype", "dtype_mix", "bias", "strides",
                  "dilation", "padding", "activation")
    xs = draw(nhwc_shape(odd == "x_shape"))
    ws = (draw(st.integers(1, 4)), draw(st.integers(1, 4)),
          (xs[-1] if len(xs) == 4 else 1) + (odd == "channels"),
          draw(st.sampled_from([1, 2, 3, 1, 2, 3, 16, 17, 33])))
    xdt = arg(draw, "dtype", odd, GOOD_FLOATS, BAD_FLOATS)
    wdt = ("float64" if xdt == "float32" else "float32") if odd == "dtype_mix" else xdt
    bshape = draw(st.sampled_from([(ws[3] + 1,), (1, ws[3]), ()])) if odd == "bias" else (ws[3],)
    arrays_src = f"xa = {float_src(draw, xs, xdt)}; " \
                 f"wa = {rand_src(draw(st.integers(0, 999)), ws, wdt)}; " \
                 f"ba = {rand_src(draw(st.integers(0, 999)), bshape, wdt)}"
    x, dx = wrap(draw, "x", "xa", xdt)
    w, dw = wrap(draw, "w", "wa", wdt)
    b, db = ("None", "") if odd != "bias" and rare(draw, 3) else wrap(draw, "b", "ba", wdt)
    strides = arg(draw, "strides", odd, INT_PAIR_GOOD + ["5", "(1, 7)", "(8, 2)"],
                  INT_PAIR_BAD)
    dil = arg(draw, "dilation", odd, ["1", "1", "1", "2", "(1, 2)", "3", "(5, 1)"],
              INT_PAIR_BAD)
    pad = arg(draw, "padding", odd, PADDINGS_GOOD, PADDINGS_BAD)
    act = arg(draw, "activation", odd, ["None", "'relu'", "'linear'"],
              ["'softmax'", "'RELU'", "1", "tl.relu", "''"])
    args = f"{b}, strides={strides}, padding={pad}, dilation_rate={dil}, activation={act}"
    ref_args = f"{'None' if b == 'None' else 'ba'}, {strides}, {pad}, {dil}, {act}"
    return case("functional", "conv2d", arrays_src,
                f"{dx}{dw}{db}out = F.conv2d({x}, {w}, {args})",
                f"conv_ref(xa, wa, {ref_args})", {}, atol=f"conv_atol(xa, wa, {ref_args})",
                backends=True, grad_vars=["x", "w", "b"])


@st.composite
def pool_case(draw):
    kind = draw(st.sampled_from(["max", "avg"]))
    odd = odd_one(draw, "x_shape", "dtype", "pool_size", "strides", "padding", "form")
    xdt = arg(draw, "dtype", odd, GOOD_FLOATS, BAD_FLOATS)
    xs = draw(nhwc_shape(odd == "x_shape"))
    x, dx = wrap(draw, "x", "xa", xdt)
    size = arg(draw, "pool_size", odd, INT_PAIR_GOOD + ["5", "(1, 9)"], INT_PAIR_BAD)
    strides = arg(draw, "strides", odd, ["None"] + INT_PAIR_GOOD + ["(7, 1)"], INT_PAIR_BAD)
    pad = arg(draw, "padding", odd, PADDINGS_GOOD, PADDINGS_BAD)
    form = arg(draw, "form", odd, ["kw", "kw", "pos", "default"], ["extra", "x_kw"])
    call = f"F.{kind}_pool2d({x}, pool_size={size}, strides={strides}, padding={pad})"
    if form == "default":
        call, size, strides, pad = f"F.{kind}_pool2d({x})", "(2, 2)", "None", "'valid'"
    elif form == "pos":
        call = f"F.{kind}_pool2d({x}, {size}, {strides}, {pad})"
    elif form == "extra":
        call = f"F.{kind}_pool2d({x}, {size}, {strides}, {pad}, 'channels_last')"
    elif form == "x_kw":
        call, strides, pad = f"F.{kind}_pool2d(x={x}, pool_size={size})", "None", "'valid'"
    return case("functional", f"{kind}_pool2d", f"xa = {float_src(draw, xs, xdt)}",
                f"{dx}out = {call}", f"pool_ref(xa, {size}, {strides}, {pad}, {kind!r})", {},
                atol=f"16 * eps(xa.dtype) * pool_ref(np.abs(xa), {size}, {strides}, {pad}, 'avg')",
                backends=True, grad_vars=["x"])


@st.composite
def linear_case(draw):
    odd = odd_one(draw, "x_shape", "features", "dtype", "dtype_mix", "bias", "activation")
    n, f, u = (draw(st.sampled_from([0, 1, 2, 3, 4, 1, 2, 3, 4, 7, 13, 65])),
               draw(st.sampled_from([0, 1, 2, 3, 5, 1, 2, 3, 5, 16, 17, 130])),
               draw(st.sampled_from([1, 2, 3, 4, 1, 2, 3, 4, 16, 17, 33])))
    xshape = draw(st.sampled_from([(f,), (1, n, f), (n, f, 1), ()])) if odd == "x_shape" \
        else (n, f)
    xdt = arg(draw, "dtype", odd, GOOD_FLOATS, BAD_FLOATS)
    kdt = ("float64" if xdt == "float32" else "float32") if odd == "dtype_mix" else xdt
    bshape = draw(st.sampled_from([(u + 1,), (1, u), ()])) if odd == "bias" else (u,)
    arrays_src = f"xa = {float_src(draw, xshape, xdt)}; " \
                 f"ka = {rand_src(draw(st.integers(0, 99)), (f + (odd == 'features'), u), kdt)}; " \
                 f"ba = {rand_src(draw(st.integers(0, 99)), bshape, kdt)}"
    x, dx = wrap(draw, "x", "xa", xdt)
    k, dk = wrap(draw, "k", "ka", kdt)
    b, db = ("None", "") if odd != "bias" and rare(draw, 3) else wrap(draw, "b", "ba", kdt)
    act = arg(draw, "activation", odd, ["None", "'relu'", "'linear'"],
              ["'sigmoid'", "0", "'Relu'", "tl.relu"])
    ref_b = "ba" if b != "None" else "None"
    return case("functional", "linear", arrays_src,
                f"{dx}{dk}{db}out = F.linear({x}, {k}, {b}, activation={act})",
                f"linear_ref(xa, ka, {ref_b}, {act})", {},
                atol="mm_atol(xa, ka) + 1e-6", backends=True, grad_vars=["x", "k", "b"])


@st.composite
def sce_case(draw):
    odd = odd_one(draw, "dtype", "target", "shape")
    n, c = draw(st.integers(0, 4)), draw(st.integers(0, 4))
    ldt = arg(draw, "dtype", odd, GOOD_FLOATS, BAD_FLOATS)
    lshape = draw(st.sampled_from([(n,), (n, c, 1), ()])) if odd == "shape" else (n, c)
    if odd == "target":
        tsrc = draw(st.sampled_from([
            f"np.full({n}, {c})", f"np.full({n}, -1)", f"np.full({n}, 2**62)",
            f"np.zeros({n}, np.float32)", f"np.zeros({n}, bool)", f"np.zeros({n + 1}, int)",
            f"np.zeros(({n}, {c + 1}))", "None", "'a'", f"np.zeros(({n}, 1), int)",
            f"[0] * {n}", "np.array(['a'])", f"np.zeros(({n}, {c}), object)",
            f"np.zeros(({n}, {c}), complex)"]))
    elif draw(st.booleans()):
        vals = draw(st.lists(st.integers(0, max(c - 1, 0)), min_size=n, max_size=n))
        tsrc = f"np.array({vals!r}, dtype={draw(st.sampled_from(['int64', 'int32', 'uint8']))!r})"
    else:
        tdt = draw(st.sampled_from([ldt, ldt, "bool", "int32"]))
        tsrc = f"np.eye({max(c, 1)}, dtype={tdt!r})[rng(0).integers(0, {max(c, 1)}, {n})][:, :{c}]"
    x, dx = wrap(draw, "x", "la", ldt)
    return case("functional", "softmax_cross_entropy",
                f"la = {float_src(draw, lshape, ldt)}; t = {tsrc}",
                f"{dx}out = F.softmax_cross_entropy({x}, t)", "sce_ref(la, t)",
                {"x": "sce_vjp(la, t, G)"} if x == "x" else None,
                rtol="1e3 * eps(la.dtype)", atol="1e3 * eps(la.dtype)")


# ================================================================ layers
COMMON_KW_BAD = ["name=''", "name=1", "dtype='int32'", "dtype='float16'", "dtype='xyz'",
                 "input_shape=4", "input_shape=('a',)", "input_shape=(-1,)",
                 "input_shape=(2**63,)", "input_shape=(None, 3)", "input_dim=-3", "bogus=1",
                 "batch_size='x'", "trainable='no'"]
COMMON_KW_GOOD = ["", "", "", "name='fuzz'", "dtype='float64'", "trainable=False"]
ACTS_GOOD = ["None", "'relu'", "'sigmoid'", "'tanh'", "'softmax'", "'linear'", "'ReLU'"]
ACTS_BAD = ["'gelu'", "1", "''", "'nope'", "tl.Tensor(1.0)"]
INPUT_DTYPES = ["float32", "float32", "float64", "int32", "bool"]


def layer_input(draw, shape, odd):
    dt = arg(draw, "input_dtype", odd, INPUT_DTYPES, ["<U1", "object", "complex64"])
    src = float_src(draw, shape, "float32" if dt in ("bool", "<U1", "object") else dt)
    if dt == "bool":
        src = f"({src} > 0)"
    elif dt in ("<U1", "object"):
        src = f"{src}.astype({dt!r})"
    form = draw(st.sampled_from(["xa", "xa", "x", "xa.tolist()"]))
    defs = f"x = tl.Tensor(xa{', requires_grad=True' if dt.startswith('float') else ''}); " \
        if form == "x" else ""
    return f"xa = {src}", defs, form


def layer_case(name, arrays_src, ctor, defs, x, training, ref, **extra):
    """Values are checked; dtypes are not (layers may keep a Tensor input's dtype)."""
    call = f"tl.manual_seed(0); layer = L.{ctor}; {defs}out = layer({x}, training={training})"
    return case("layers", name, arrays_src, call, ref, {}, check_dtype=False, **extra)


def kw(draw, odd, *parts):
    extra = arg(draw, "common", odd, COMMON_KW_GOOD, COMMON_KW_BAD)
    return ", ".join(p for p in parts + (extra,) if p)


@st.composite
def dense_case(draw):
    odd = odd_one(draw, "units", "activation", "input_shape", "input_dtype", "common")
    units = arg(draw, "units", odd, ["1", "3", "np.int64(2)"],
                ["0", "-1", "2.5", "'3'", "None", "True", "2**31", "2**62", "2**63"])
    act = arg(draw, "activation", odd, ACTS_GOOD, ACTS_BAD)
    bias = draw(st.sampled_from(["True", "False"]))
    n, f = draw(st.integers(0, 3)), draw(st.integers(1, 4))
    shape = arg(draw, "input_shape", odd, [(n, f), (n, f), (n, 2, f)],
                [(f,), (), (n, 0), (n, f, 1, 1)])
    arr, defs, x = layer_input(draw, shape, odd)
    ref = f"act_ref({act}, xa.astype(layer.dtype) @ layer.kernel.data + " \
          f"(layer.bias.data if layer.use_bias else 0))"
    ctor = f"Dense({kw(draw, odd, units, f'activation={act}', f'use_bias={bias}')})"
    return layer_case("Dense", arr, ctor, defs, x, draw(st.booleans()), ref, rtol="1e-4",
                      atol="4 * mm_atol(xa.astype(layer.dtype), layer.kernel.data) + 1e-6",
                      backends=True, grad_vars=["layer.kernel"])


@st.composite
def conv_layer_case(draw):
    odd = odd_one(draw, "filters", "kernel_size", "strides", "dilation", "padding",
                  "data_format", "activation", "input_shape", "input_dtype", "common")
    filters = arg(draw, "filters", odd, ["1", "2"], ["0", "-1", "2.5", "'2'", "None", "True",
                                                      "2**31"])
    ksize = arg(draw, "kernel_size", odd, ["1", "2", "3", "(2, 3)", "[2, 2]"],
                ["(1,)", "0", "-1", "1.5", "'3'", "None", "(3, 3, 3)", "(2.5, 2)", "2**31",
                 "(2**63, 1)"])
    strides = arg(draw, "strides", odd, INT_PAIR_GOOD, INT_PAIR_BAD)
    dil = arg(draw, "dilation", odd, ["1", "1", "2", "(1, 2)"], INT_PAIR_BAD)
    pad = arg(draw, "padding", odd, PADDINGS_GOOD, PADDINGS_BAD)
    fmt = arg(draw, "data_format", odd, ["None", "'channels_last'"],
              ["'channels_first'", "'NHWC'", "1"])
    act = arg(draw, "activation", odd, ACTS_GOOD, ACTS_BAD)
    arr, defs, x = layer_input(draw, draw(nhwc_shape(odd == "input_shape")), odd)
    ctor = "Conv2D(" + kw(draw, odd, filters, ksize, f"strides={strides}", f"padding={pad}",
                          f"dilation_rate={dil}", f"activation={act}",
                          f"data_format={fmt}") + ")"
    geo = f"{strides}, {pad}, {dil}"
    return layer_case("Conv2D", arr, ctor, defs, x, draw(st.booleans()),
                      f"act_ref({act}, conv_ref(xa.astype(layer.dtype), layer.kernel.data, "
                      f"layer.bias.data, {geo}))", rtol="1e-4",
                      atol="4 * conv_atol(xa.astype(layer.dtype), layer.kernel.data, "
                      f"layer.bias.data, {geo}) + 1e-6",
                      backends=True, grad_vars=["layer.kernel", "layer.bias"])


@st.composite
def pool_layer_case(draw):
    name = draw(st.sampled_from(["MaxPooling2D", "AveragePooling2D", "MaxPool2D", "AvgPool2D"]))
    odd = odd_one(draw, "pool_size", "strides", "padding", "data_format", "input_shape",
                  "input_dtype", "common")
    size = arg(draw, "pool_size", odd, INT_PAIR_GOOD, INT_PAIR_BAD)
    strides = arg(draw, "strides", odd, ["None"] + INT_PAIR_GOOD, INT_PAIR_BAD)
    pad = arg(draw, "padding", odd, PADDINGS_GOOD, PADDINGS_BAD)
    fmt = arg(draw, "data_format", odd, ["None", "'channels_last'"],
              ["'channels_first'", "'NCHW'"])
    arr, defs, x = layer_input(draw, draw(nhwc_shape(odd == "input_shape")), odd)
    kind = "max" if name.startswith("Max") else "avg"
    ctor = f"{name}(" + kw(draw, odd, size, f"strides={strides}", f"padding={pad}",
                           f"data_format={fmt}") + ")"
    geo = f"{size}, {strides}, {pad}"
    return layer_case(name, arr, ctor, defs, x, False,
                      f"pool_ref(xa.astype(layer.dtype), {geo}, {kind!r})", rtol="1e-5",
                      atol=f"1e-5 * pool_ref(np.abs(xa.astype(layer.dtype)), {geo}, 'avg')",
                      backends=True)


MISC_SHAPES = [(3, 4), (2, 2, 3), (2, 1, 2, 3), (1, 5)]
MISC_SHAPES_BAD = [(0, 4), (2,), (), (1, 0), (0,)]


@st.composite
def misc_layer_case(draw):
    name = draw(st.sampled_from(["GlobalAveragePooling2D", "Flatten", "Reshape", "Activation",
                                 "Dropout", "BatchNormalization"]))
    training = draw(st.booleans())
    if name == "GlobalAveragePooling2D":
        odd = odd_one(draw, "data_format", "keepdims", "input_shape", "input_dtype", "common")
        fmt = arg(draw, "data_format", odd, ["None", "'channels_last'"],
                  ["'channels_first'", "'x'"])
        keep = arg(draw, "keepdims", odd, ["False", "True"], ["'yes'", "None", "2"])
        arr, defs, x = layer_input(draw, draw(nhwc_shape(odd == "input_shape")), odd)
        ctor = f"{name}({kw(draw, odd, f'data_format={fmt}', f'keepdims={keep}')})"
        return layer_case(name, arr, ctor, defs, x, training, f"gap_ref(xa, {fmt}, {keep})",
                          rtol="1e-5")
    odd = odd_one(draw, "arg", "input_shape", "input_dtype", "common")
    shape = arg(draw, "input_shape", odd, MISC_SHAPES, MISC_SHAPES_BAD)
    arr, defs, x = layer_input(draw, shape, odd)
    if name == "Flatten":
        return layer_case(name, arr, f"Flatten({kw(draw, odd)})", defs, x, training,
                          "xa.reshape(len(xa), math.prod(xa.shape[1:])).astype(layer.dtype)")
    if name == "Reshape":
        t = arg(draw, "arg", odd, ["(-1,)", "(-1, 1)", "(1, -1)", "[-1]", f"{shape[1:]!r}"],
                ["(0, -1)", "(-1, -1)", "'ab'", "4", "(2.5,)", "None", "(2**63,)", "(-2,)",
                 "()", "(7,)", "(2**31, 2**31, 0)", "(True,)", "('2',)"])
        return layer_case(name, arr, f"Reshape({kw(draw, odd, t)})", defs, x, training,
                          f"reshape_ref(xa.astype(layer.dtype), (len(xa),) + shape_ints({t}))")
    if name == "Activation":
        act = arg(draw, "arg", odd, ACTS_GOOD, ACTS_BAD)
        return layer_case(name, arr, f"Activation({kw(draw, odd, act)})", defs, x, training,
                          f"act_ref({act}, xa.astype(layer.dtype))", rtol="1e-3", atol="1e-6")
    if name == "Dropout":
        rate = draw(st.sampled_from(["0", "0.5", "0.3", "0.99", "np.float32(0.5)"]))
        ns = draw(st.sampled_from(["None", "None", "(None, 1)", "(1, None)"] if len(shape) == 2
                                  else ["None"]))
        seed = draw(st.sampled_from(["None", "0", "1"]))
        if odd == "arg":
            which = draw(st.sampled_from(["rate", "noise_shape", "seed"]))
            if which == "rate":
                rate = draw(st.sampled_from(["1", "1.0", "-0.1", "nan", "'0.5'", "None", "True",
                                             "2**63"]))
            elif which == "noise_shape":
                ns = draw(st.sampled_from(["(2,)", "'ab'", "(None, None, None)", "(0, 1)",
                                           "(-1, 1)", "(2**63, 1)", "5", "(3, 1)", "(1.5, 1)"]))
            else:
                seed = draw(st.sampled_from(["-1", "2**63", "'x'", "1.5"]))
        ctor = "Dropout(" + kw(draw, odd, rate, f"noise_shape={ns}", f"seed={seed}") + ")"
        return layer_case(name, arr, ctor, defs, x, training, None,
                          post=[f"dropout_ok(xa, out, {rate}, {ns}, {training})"])
    axis, mom, epsv = "-1", "0.99", "1e-3"
    if odd == "arg":
        which = draw(st.sampled_from(["axis", "momentum", "epsilon"]))
        if which == "axis":
            axis = draw(st.sampled_from(["7", "-5", "1.5", "None", "(1, 2)", "'1'", "2**63"]))
        elif which == "momentum":
            mom = draw(st.sampled_from(["'fast'", "None", "nan", "-1", "2"]))
        else:
            epsv = draw(st.sampled_from(["'x'", "None", "-1", "nan"]))
    else:
        axis = draw(st.sampled_from(["-1", "-1", "0", "1"]))
        epsv = draw(st.sampled_from(["1e-3", "1e-5", "0.1"]))
    ctor = "BatchNormalization(" + kw(draw, odd, f"axis={axis}", f"momentum={mom}",
                                      f"epsilon={epsv}") + ")"
    return layer_case(name, arr, ctor, defs, x, training,
                      f"bn_ref(xa, {axis}, {training}, {epsv}, layer.dtype)", rtol="1e-4",
                      atol="1e-4")


# ================================================================ models
MODELS = {  # name: (constructor, input shape, loss, target kind)
    "dense": ("Sequential([L.Input((4,)), L.Dense(3, activation='softmax')])", (4,),
              "'sparse_categorical_crossentropy'", "labels"),
    "mlp": ("Sequential([L.Dense(2, activation='relu', input_shape=(4,)), L.Dense(1)])", (4,),
            "'mse'", "regression"),
    "conv": ("Sequential([L.Input((5, 5, 1)), L.Conv2D(2, 3, activation='relu'), "
             "L.MaxPooling2D(), L.Flatten(), L.Dense(3, activation='softmax')])", (5, 5, 1),
             "'categorical_crossentropy'", "onehot"),
    "lazy": ("Sequential([L.Dense(3, activation='softmax')])", (4,),
             "'categorical_crossentropy'", "onehot"),
    "bn": ("Sequential([L.Input((4,)), L.Dense(4), L.BatchNormalization(), L.Dropout(0.5), "
           "L.Dense(3, activation='softmax')])", (4,), "'sparse_categorical_crossentropy'",
           "labels"),
}
FIT_ARGS = {  # name: (valid values, awkward values)
    "epochs": (["1", "2", "np.int64(2)", "0"], ["-1", "2.5", "'2'", "None", "True", "2.0"]),
    "batch_size": (["None", "1", "3", "np.int64(2)", "2**31"],
                   ["0", "-1", "2.5", "'4'", "2**63", "True"]),
    "validation_split": (["0.0", "0.2", "0.5"], ["1", "-0.1", "'0.2'", "None", "nan", "0.99",
                                                 "True", "0.9", "inf"]),
    "verbose": (["0", "1", "2", "'auto'"], ["3", "-1", "'1'", "None", "True", "'x'"]),
    "shuffle": (["True", "False"], ["'batch'", "None", "1", "'x'"]),
    "initial_epoch": (["0", "1"], ["-1", "5", "1.5", "None", "'0'"]),
    "validation_data": (["None", "(xa, ya)"], ["(xa,)", "(xa[:, :1], ya)", "xa", "(xa, ya, ya)",
                                               "(xa, ya[:1])", "'val'"]),
    "callbacks": (["None", "[]"], ["'x'", "[1]", "[None]", "tl.callbacks.History()"]),
}
X_GOOD, X_BAD = ["std", "std", "f64", "int", "bool", "list"], ["nan", "str", "obj", "0d",
                                                                "wrong", "empty", "complex"]
OPTIMIZERS = (["'rmsprop'", "'adam'", "'sgd'", "'SGD'", "tl.optimizers.SGD(learning_rate=0.01)"],
              ["'nope'", "None", "1", "tl.optimizers.SGD(learning_rate=-1)",
               "tl.optimizers.SGD(learning_rate=nan)", "tl.optimizers.Adam(learning_rate='x')",
               "tl.optimizers.SGD"])
LOSSES_BAD = ["'mse'", "'nope'", "None", "1", "'categorical_crossentropy'",
              "'sparse_categorical_crossentropy'", "'binary_crossentropy'"]
METRICS = (["None", "['accuracy']", "['mae']", "[]"], ["'accuracy'", "['nope']", "[None]", "[1]"])
Y_BAD = ["None", "np.zeros(len(xa) + 1)", "'y'", "np.zeros((len(xa), 9))", "np.full(len(xa), 7)",
         "np.full(len(xa), -1)", "np.full(len(xa), nan)", "np.full(len(xa), 1.5)"]


def targets(kind, n, seed):
    if kind == "labels":
        return f"rng({seed}).integers(0, 3, {n})"
    if kind == "onehot":
        return f"np.eye(3, dtype=np.float32)[rng({seed}).integers(0, 3, {n})]"
    return f"rng({seed}).standard_normal(({n}, 1)).astype(np.float32)"


@st.composite
def model_case(draw):
    name = draw(st.sampled_from(sorted(MODELS)))
    ctor, ishape, loss, tkind = MODELS[name]
    action = draw(st.sampled_from(["fit"] * 5 + ["predict", "predict", "evaluate",
                                                 "train_on_batch", "test_on_batch"]))
    fit_args = sorted(FIT_ARGS) if action == "fit" else []
    odd = odd_one(draw, "x", "y", "optimizer", "loss", "metrics", *fit_args)
    n = draw(st.sampled_from([1, 5, 8, 8]))
    seed = draw(st.integers(0, 99))
    xshape = (n,) + ishape
    xdata = arg(draw, "x", odd, X_GOOD, X_BAD)
    xsrc = {"std": f"rng({seed}).standard_normal({xshape!r}).astype(np.float32)",
            "f64": f"rng({seed}).standard_normal({xshape!r})",
            "nan": f"np.full({xshape!r}, nan, np.float32)",
            "int": f"rng({seed}).integers(-2, 3, {xshape!r})",
            "bool": f"rng({seed}).random({xshape!r}) > 0.5",
            "str": f"np.full({xshape!r}, 'a')", "obj": f"np.full({xshape!r}, None)",
            "complex": f"np.ones({xshape!r}, complex)", "0d": "np.array(1.0, np.float32)",
            "wrong": f"np.zeros(({n}, 7), np.float32)", "empty": f"np.zeros((0,) + {ishape!r})",
            "list": f"rng({seed}).standard_normal({xshape!r}).tolist()"}[xdata]
    ysrc = draw(st.sampled_from(Y_BAD)) if odd == "y" else targets(tkind, n, seed + 1)
    opt = arg(draw, "optimizer", odd, OPTIMIZERS[0], OPTIMIZERS[1])
    lossv = draw(st.sampled_from(LOSSES_BAD)) if odd == "loss" else loss
    metrics = arg(draw, "metrics", odd, *METRICS)
    setup = f"tl.manual_seed(0); m = {ctor}; m.compile(optimizer={opt}, loss={lossv}, " \
            f"metrics={metrics}); "
    finite = odd is None or odd in FIT_ARGS
    post = []
    if action == "fit":
        args = {k: arg(draw, k, odd, *FIT_ARGS[k]) for k in fit_args
                if k == odd or draw(st.booleans())}
        call = "out = m.fit(xa, ya, " + ", ".join(f"{k}={v}" for k, v in args.items()) + ")"
        ep, ie = args.get("epochs", "1"), args.get("initial_epoch", "0")
        post = ["isinstance(out, tl.callbacks.History)",
                f"len(out.history.get('loss', [])) == max(0, int({ep}) - int({ie}))"]
        if finite:
            post += ["np.isfinite(out.history.get('loss', [0])).all()",
                     "all(np.isfinite(w).all() for w in m.get_weights())"]
    elif action == "predict":
        bs = arg(draw, "batch_size", odd, *FIT_ARGS["batch_size"])
        vb = arg(draw, "verbose", odd, *FIT_ARGS["verbose"])
        call = f"out = m.predict(xa, batch_size={bs}, verbose={vb})"
        post = ["out.shape == (len(xa),) + tuple(m.output_shape[1:])",
                "np.allclose(out, m(np.asarray(xa, np.float32)).data, rtol=1e-5, atol=1e-6, "
                "equal_nan=True)"]
        if finite:
            post.append("np.isfinite(out).all()")
    elif action == "evaluate":
        ya = draw(st.sampled_from(["ya", "ya", "None"]))
        call = f"out = m.evaluate(xa, {ya}, verbose=0)"
        if finite:
            post = ["np.isfinite(np.asarray(out, float)).all()"]
    else:
        call = f"out = m.{action}(xa, ya)"
        if finite:
            post = ["np.isfinite(np.asarray(out, float)).all()"]
    return case("model", name + "." + action, f"xa = {xsrc}; ya = {ysrc}", setup + call,
                post=post)


# ================================================================ threads
@st.composite
def threads_case(draw):
    n = draw(st.sampled_from(["1", "2", "3", "8", "64", "0", "-1", "2**31", "2**62", "100000",
                              "2.5", "'2'", "None", "True", "np.int64(3)"]))
    op = draw(st.sampled_from(["conv", "relu", "gemm", "pool"]))
    s = draw(st.integers(0, 99))
    arrays_src, call, ref = {
        "conv": (f"xa = rng({s}).standard_normal((2, 9, 9, 3)).astype('float32'); "
                 f"wa = rng({s + 1}).standard_normal((3, 3, 3, 4)).astype('float32')",
                 "F.conv2d(xa, wa, padding='same', activation='relu')",
                 "conv_ref(xa, wa, None, 1, 'same', 1, 'relu')"),
        "relu": (f"xa = rng({s}).standard_normal((300, 70)).astype('float32')",
                 "tl.Tensor(xa).relu()", "np.maximum(xa, 0)"),
        "gemm": (f"xa = rng({s}).standard_normal((70, 50)).astype('float32'); "
                 f"wa = rng({s + 1}).standard_normal((50, 40)).astype('float32')",
                 "tl.Tensor(xa) @ tl.Tensor(wa)", "xa @ wa"),
        "pool": (f"xa = rng({s}).standard_normal((2, 8, 8, 3)).astype('float32')",
                 "F.max_pool2d(xa, 3, 1, 'same')", "pool_ref(xa, 3, 1, 'same')"),
    }[op]
    atol = {"conv": "conv_atol(xa, wa, None, 1, 'same', 1, 'relu')", "gemm": "mm_atol(xa, wa)"}
    return case("threads", "set_num_threads+" + op, arrays_src,
                f"tl.set_num_threads({n}); out = {call}", ref, atol=atol.get(op))


# ================================================================ the driver
def collect(strategy, n):
    """``n`` derandomized examples of ``strategy`` (no shrinking: nothing fails here)."""
    out, seen = [], set()

    @settings(max_examples=n, derandomize=True, database=None, deadline=None,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(strategy)
    def draw_cases(c):
        key = (c.get("arrays"), c["call"])
        if key not in seen:
            seen.add(key)
            out.append(c)

    draw_cases()
    return out


def reproducer(c):
    return "; ".join(p for p in (c.get("arrays"), c["call"]) if p)


FAILING = {"unclear", "raw", "wrong", "accepted", "mutated", "backend", "post", "state",
           "setup", "crash", "hang"}


def _signature(c, r):
    text = r.get("msg") or r.get("detail") or ""
    text = re.sub(r"\(nan[^)]*\)|'[^']*'|\"[^\"]*\"|\d+(\.\d+)?(e[-+]?\d+)?|\[[^\]]*\]|\([^)]*\)",
                  "_", text)[:70]
    return (r["status"], c["op"], r.get("exc", ""), r.get("stage", ""), text)


def check_area(area, strategy, n, tmp_path):
    cases = collect(strategy, max(1, int(n * SCALE)))
    for i, c in enumerate(cases):
        c["id"] = f"{area}-{i:05d}"
    start = time.time()
    results = fuzz_worker.run_cases(cases, tmp_path)
    report_dir = os.environ.get("FUZZ_REPORT")
    if report_dir:
        Path(report_dir).mkdir(parents=True, exist_ok=True)
        with open(Path(report_dir) / f"{area}.jsonl", "w") as f:
            for c in cases:
                f.write(json.dumps({"case": c, "repro": reproducer(c),
                                    "result": results.get(c["id"])}, default=str) + "\n")
    groups = {}
    for c in cases:
        r = results.get(c["id"]) or {"status": "setup", "detail": "no outcome recorded"}
        if r["status"] in FAILING:
            groups.setdefault(_signature(c, r), []).append((c, r))
    lines = [f"{area}: {len(cases)} cases in {time.time() - start:.1f} s, "
             f"{sum(len(v) for v in groups.values())} failing in {len(groups)} groups "
             f"(reproducers assume: {fuzz_worker.PREAMBLE})"]
    for (status, op, exc, stage, _), items in sorted(groups.items(), key=lambda kv: kv[0][:2]):
        c, r = min(items, key=lambda cr: len(reproducer(cr[0])))
        what = f"{exc}: {r.get('msg', '')}" if exc else r.get("detail", "")
        lines.append(f"\n[{status}] {op}{' (' + stage + ')' if stage else ''} x{len(items)}: "
                     f"{what[:300]}\n    {reproducer(c)[:600]}")
        if r.get("stderr"):
            lines.append("    stderr: " + r["stderr"][-400:].replace("\n", "\n    "))
    if groups:
        pytest.fail("\n".join(lines), pytrace=False)


def test_fuzz_tensor_ops(tmp_path):
    strategy = st.one_of(unary_case(), binary_case(), binary_case(), compare_case(),
                         matmul_case(), gemm_case(), reduce_case(), shape_op_case(),
                         softmax_case(), clip_case(), where_case(), join_case(), astype_case(),
                         backward_case(), protocol_case())
    check_area("tensor", strategy, 3000, tmp_path)


def test_fuzz_creation(tmp_path):
    check_area("creation", creation_case(), 400, tmp_path)


def test_fuzz_indexing(tmp_path):
    check_area("index", index_case(), 800, tmp_path)


def test_fuzz_functional(tmp_path):
    strategy = st.one_of(conv_case(), conv_case(), pool_case(), pool_case(), linear_case(),
                         sce_case())
    check_area("functional", strategy, 1500, tmp_path)


def test_fuzz_layers(tmp_path):
    strategy = st.one_of(dense_case(), conv_layer_case(), pool_layer_case(), misc_layer_case(),
                         misc_layer_case())
    check_area("layers", strategy, 1200, tmp_path)


def test_fuzz_models(tmp_path):
    check_area("model", model_case(), 500, tmp_path)


def test_fuzz_threads(tmp_path):
    check_area("threads", threads_case(), 60, tmp_path)


# ================================================================ the harness itself
def run_self_cases(cases, tmp_path):
    for i, c in enumerate(cases):
        c["id"] = f"self-{i}"
    results = fuzz_worker.run_cases(cases, tmp_path)
    return [results[c["id"]] for c in cases]


def test_worker_names_the_case_that_crashed(tmp_path):
    cases = [case("self", "ok", "a = np.ones(3)", "out = a.sum()", "3.0"),
             case("self", "segv", "", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"),
             case("self", "after", "", "out = 1", "1")]
    ok, crash, after = run_self_cases(cases, tmp_path)
    assert ok["status"] == "ok" and after["status"] == "ok"
    # Under AddressSanitizer (CI's second run) the SEGV is reported and turned into an abort.
    signal = "SIGABRT" if "libasan" in os.environ.get("LD_PRELOAD", "") else "SIGSEGV"
    assert crash["status"] == "crash" and signal in crash["detail"]


def test_worker_address_space_limit_is_workable(tmp_path):
    """Under the worker's RLIMIT_AS a wrapped size is a MemoryError, while threaded kernels
    (two OpenMP threads) and a 100 MB allocation still work."""
    cases = [case("self", "big", "", "out = np.empty(2**33)"),
             case("self", "conv", "xa = rng(0).standard_normal((4, 16, 16, 8)).astype('float32');"
                  " wa = rng(1).standard_normal((3, 3, 8, 8)).astype('float32')",
                  "tl.set_num_threads(2); out = F.conv2d(xa, wa, padding='same')",
                  "conv_ref(xa, wa, None, 1, 'same')", atol="conv_atol(xa, wa, None, 1, 'same')"),
             case("self", "100MB", "", "out = np.ones(25 * 2**20, np.float32).sum()",
                  "np.float32(25 * 2**20)")]
    big, conv, hundred_mb = run_self_cases(cases, tmp_path)
    assert big["status"] == "raised" and big["exc"] == "MemoryError"
    assert conv["status"] == "ok", conv
    assert hundred_mb["status"] == "ok", hundred_mb


def test_worker_flags_wrong_answers_mutation_and_leaked_state(tmp_path):
    """The oracle is not vacuous: a wrong value, a wrong gradient, a modified input array,
    a raw exception, an unhelpful message and leaked grad mode are all caught."""
    cases = [case("self", "value", "a = np.ones(3)", "out = tl.Tensor(a) * 2.0", "a * 3"),
             case("self", "grad", "a = np.ones(3)",
                  "x = tl.Tensor(a, requires_grad=True); out = x * 2.0", "a * 2", {"x": "3 * G"}),
             case("self", "mutated", "a = np.ones(3)", "a[0] = 5; out = tl.Tensor(a)"),
             case("self", "raw", "", "out = {}['k']"),
             case("self", "unclear", "", "raise ValueError('bad')"),
             case("self", "state", "", "tl.no_grad().__enter__(); out = 1"),
             case("self", "fine", "", "out = 1")]
    statuses = [r["status"] for r in run_self_cases(cases, tmp_path)]
    assert statuses == ["wrong", "wrong", "mutated", "raw", "unclear", "state", "ok"]
