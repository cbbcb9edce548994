"""The native conv kernel choice is data (backend/conv_choices.json, written by
bench/tune_conv.py), looked up by SIMD level, thread count and nearest measured shape."""
import json
import os

import numpy as np
import pytest

from tensorlib.backend import _conv_choice, native
from tensorlib.backend._shapes import geometry

TABLE = os.path.join(os.path.dirname(_conv_choice.__file__), "conv_choices.json")
VARIANTS = {"forward": set(native.FORWARD), "input_grad": set(native.INPUT_GRAD),
            "weight_grad": set(native.WEIGHT_GRAD)}


def _table():
    with open(TABLE, encoding="utf-8") as f:
        return json.load(f)


def test_table_is_complete_and_says_how_it_was_made():
    t = _table()
    assert t["command"].startswith("python bench/tune_conv.py")
    assert t["machine"]["cpu"] and t["date"]
    assert {"ref", "avx2"} <= {e["level"] for e in t["entries"]}
    for e in t["entries"]:
        assert len(e["shape"]) == 8
        for p, names in VARIANTS.items():
            assert e[p] and set(e[p]) <= names, (e["shape"], p)
            assert all(v > 0 for v in e[p].values())
        if e["shape"][6] != 1:          # the gather form is stride-1 only
            assert "direct" not in e["input_grad"]


def test_every_level_and_thread_count_has_rows():
    t = _table()
    keys = {(e["level"], e["threads"]) for e in t["entries"]}
    levels = {lv for lv, _ in keys}
    for lv in levels:
        assert {n for l2, n in keys if l2 == lv} == {n for _, n in keys}


def _geo(n, h, w, cin, cout, k, s, pad):
    return geometry((n, h, w, cin), (k, k), (s, s), pad, (1, 1), out_channels=cout)


def test_a_measured_shape_gets_its_own_fastest_variant():
    for e in _table()["entries"]:
        n, h, w, cin, cout, k, s, pad = e["shape"]
        g = _geo(n, h, w, cin, cout, k, s, pad)
        for p in VARIANTS:
            best = min(e[p], key=e[p].get)
            got = _conv_choice._nearest(p, e["level"], e["threads"], g, cin, cout)
            assert got == best, (e["shape"], e["level"], e["threads"], p)


def test_nearest_shape_thread_count_and_stride_class(monkeypatch):
    def row(pixels, red, cout, taps, strided, fwd):
        return (_conv_choice._features(pixels, red, cout, taps), strided,
                {"forward": fwd, "input_grad": "direct" if not strided else "scatter",
                 "weight_grad": "direct"})
    rows = {("avx2", 1): [row(100, 9, 32, 9, False, "direct"),
                          row(100000, 2304, 256, 9, False, "gemm"),
                          row(1000, 288, 64, 9, True, "gemm")],
            ("avx2", 4): [row(100, 9, 32, 9, False, "gemm")]}
    monkeypatch.setattr(_conv_choice, "_rows", rows)
    monkeypatch.setattr(_conv_choice, "_cache", {})
    small = _geo(1, 12, 12, 1, 32, 3, 1, "valid")          # 100 pixels, K = 9
    big = _geo(16, 16, 16, 256, 256, 3, 1, "same")
    strided = _geo(8, 24, 24, 32, 64, 3, 2, "same")
    assert _conv_choice.choose("forward", "avx2", 1, small, 1, 32) == "direct"
    assert _conv_choice.choose("forward", "avx2", 1, big, 256, 256) == "gemm"
    assert _conv_choice.choose("forward", "avx2", 1, strided, 32, 64) == "gemm"
    assert _conv_choice.choose("input_grad", "avx2", 1, strided, 32, 64) == "scatter"
    assert _conv_choice.choose("forward", "avx2", 3, small, 1, 32) == "gemm"   # nearest: 4
    assert _conv_choice.choose("forward", "avx2", 2, small, 1, 32) == "direct"  # nearest: 1
    # a level the table lacks falls back to the next level below it
    assert _conv_choice.choose("forward", "avx512", 1, small, 1, 32) == "direct"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_native_conv_uses_the_chosen_variant(monkeypatch, dtype):
    calls = []
    for table in (native.FORWARD, native.INPUT_GRAD, native.WEIGHT_GRAD):
        for name, f in list(table.items()):
            monkeypatch.setitem(table, name,
                                lambda *a, _n=name, _f=f, **k: calls.append(_n) or _f(*a, **k))
    monkeypatch.setattr(_conv_choice, "choose", lambda p, *a: {
        "forward": "gemm", "input_grad": "scatter", "weight_grad": "gemm"}[p])
    monkeypatch.setattr(native, "choose", _conv_choice.choose)
    x = np.ones((2, 6, 6, 3), dtype)
    w = np.ones((3, 3, 3, 4), dtype)
    y = native.conv2d_forward(x, w, None, (1, 1), "valid", (1, 1))
    native.conv2d_backward_input(y, w, x.shape, (1, 1), "valid", (1, 1))
    native.conv2d_backward_weight(y, x, w.shape, (1, 1), "valid", (1, 1))
    assert calls == ["gemm", "scatter", "gemm"]
