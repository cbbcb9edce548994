"""Which native conv kernel variant to run for a problem: data, not rules.

``conv_choices.json`` (beside this file) holds the median time of every variant of every
pass (forward, input gradient, weight gradient) on a spread of shapes, at each SIMD level
and thread count, measured by ``bench/tune_conv.py`` (its header records the command,
date and machine). For a problem we take the rows of the active SIMD level and the
nearest measured thread count, keep those of the same stride class (stride 1 or not),
pick the measured shape closest in log-space of (output pixels, reduction length
kh*kw*cin, output channels, taps) and use that shape's fastest variant. Choices are
cached per problem, so the lookup costs one dict access per call after the first.
"""
import json
import math
import os

PASSES = ("forward", "input_grad", "weight_grad")
_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "conv_choices.json")
_rows = None
_cache = {}


def _load():
    """{(level, threads): [(features, strided, {pass: best variant})]} from the table."""
    global _rows
    if _rows is None:
        with open(_PATH, encoding="utf-8") as f:
            table = json.load(f)
        rows = {}
        for e in table["entries"]:
            n, h, w, cin, cout, k, s, pad = e["shape"]
            oh = (h + s - 1) // s if pad == "same" else (h - k) // s + 1
            ow = (w + s - 1) // s if pad == "same" else (w - k) // s + 1
            best = {p: min(e[p], key=e[p].get) for p in PASSES}
            rows.setdefault((e["level"], e["threads"]), []).append(
                (_features(n * oh * ow, k * k * cin, cout, k * k), s != 1, best))
        _rows = rows
    return _rows


def _features(pixels, reduction, cout, taps):
    return tuple(math.log2(max(v, 1)) for v in (pixels, reduction, cout, taps))


def choose(pass_name, level, nthreads, g, cin, cout):
    """Name of the fastest measured variant ('direct', 'gemm' or 'scatter') of
    ``pass_name`` for geometry ``g`` (backend._shapes.geometry) at SIMD ``level``
    ('ref', 'avx2', 'avx512') and ``nthreads`` threads."""
    key = (pass_name, level, nthreads, g.N * g.OH * g.OW, g.kh, g.kw, cin, cout,
           g.sh != 1 or g.sw != 1)
    hit = _cache.get(key)
    if hit is None:
        hit = _cache[key] = _nearest(pass_name, level, nthreads, g, cin, cout)
    return hit


def _nearest(pass_name, level, nthreads, g, cin, cout):
    rows = _load()
    counts = sorted(t for lv, t in rows if lv == level)
    if not counts:       # a level the table lacks: the nearest level below it, else any
        known = [lv for lv, _ in rows]
        order = ["avx512", "avx2", "ref"]
        level = next((lv for lv in order[order.index(level) if level in order else 0:]
                      if lv in known), known[0])
        counts = sorted(t for lv, t in rows if lv == level)
    threads = min(counts, key=lambda t: (abs(t - nthreads), -t))
    strided = g.sh != 1 or g.sw != 1
    cands = [r for r in rows[level, threads] if r[1] == strided] or rows[level, threads]
    f = _features(g.N * g.OH * g.OW, g.kh * g.kw * cin, cout, g.kh * g.kw)
    best = min(cands, key=lambda r: sum((a - b) ** 2 for a, b in zip(r[0], f)))[2][pass_name]
    if pass_name == "input_grad" and best == "direct" and strided:
        best = "scatter"       # the gather form is stride-1 only
    return best
