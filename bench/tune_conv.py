"""Measure every native conv kernel variant on a spread of shapes, at each SIMD level this
CPU offers and at each thread count, and write the table that ``tensorlib.backend``
chooses kernels from (``src/tensorlib/backend/conv_choices.json``).

For each shape and pass (forward, input gradient, weight gradient) the variants run
interleaved (A B A B ...) in one process after a warm-up call, so that the machine's
slow phases hit them alike; the figure kept is each variant's median. The table stores
the medians, not only the winner, so a reader can see the margins. At run time the
backend takes, for its SIMD level and thread count (nearest measured count), the
measured shape closest to the problem (log-distance of pixels, reduction length, output
channels and taps; same stride class) and uses that shape's fastest variant.

    python bench/tune_conv.py --threads 1,2            # writes the table
    python bench/tune_conv.py --threads 1 --dry-run     # prints only

Run it on an otherwise idle machine; it takes a few minutes.
"""
import argparse
import datetime
import json
import os
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "src"))
sys.path.insert(0, HERE)
from _fit_common import machine  # noqa: E402

from tensorlib._kernels import conv as kconv, gemm as kgemm  # noqa: E402
from tensorlib.backend._shapes import geometry  # noqa: E402

OUT = os.path.join(HERE, "..", "src", "tensorlib", "backend", "conv_choices.json")

# N, H, W, cin, cout, k, stride, padding: the seed convnet's layers (training batch 64,
# predict batch 256, one image), then common image-model layers.
SHAPES = [
    (64, 28, 28, 1, 32, 3, 1, "valid"), (64, 13, 13, 32, 64, 3, 1, "valid"),
    (64, 5, 5, 64, 64, 3, 1, "valid"),
    (256, 28, 28, 1, 32, 3, 1, "valid"), (256, 13, 13, 32, 64, 3, 1, "valid"),
    (1, 28, 28, 1, 32, 3, 1, "valid"), (1, 13, 13, 32, 64, 3, 1, "valid"),
    (1, 5, 5, 64, 64, 3, 1, "valid"),
    (32, 8, 8, 128, 128, 3, 1, "same"), (32, 14, 14, 64, 256, 1, 1, "valid"),
    (32, 32, 32, 3, 16, 3, 1, "same"), (64, 32, 32, 3, 32, 3, 1, "same"),
    (64, 16, 16, 16, 8, 3, 1, "same"), (64, 16, 16, 32, 64, 3, 1, "same"),
    (8, 32, 32, 64, 64, 5, 1, "same"), (16, 16, 16, 256, 256, 3, 1, "same"),
    (32, 32, 32, 32, 32, 3, 2, "same"), (32, 28, 28, 64, 128, 1, 2, "valid"),
    (16, 56, 56, 64, 64, 3, 1, "same"), (16, 28, 28, 128, 128, 3, 2, "same"),
]
VARIANTS = {
    "forward": {"direct": kconv.conv2d_forward_direct, "gemm": kconv.conv2d_forward_gemm},
    "input_grad": {"direct": kconv.conv2d_backward_input_direct,
                   "scatter": kconv.conv2d_backward_input_scatter},
    "weight_grad": {"direct": kconv.conv2d_backward_weight_direct,
                    "gemm": kconv.conv2d_backward_weight_gemm},
}
LEVELS = {"ref": 0, "avx2": 1, "avx512": 2}


def _calls(shape, nthreads, rng):
    """{pass: {variant: closure}} for one shape (float32, fresh random operands)."""
    n, h, w, cin, cout, k, s, pad = shape
    g = geometry((n, h, w, cin), (k, k), (s, s), pad, (1, 1), out_channels=cout)
    x = rng.standard_normal((n, h, w, cin)).astype(np.float32)
    wt = (rng.standard_normal((k, k, cin, cout)) * 0.1).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32)
    y = np.empty((n, g.OH, g.OW, cout), np.float32)
    gy = rng.standard_normal(y.shape).astype(np.float32)
    gx, gw, gb = np.empty_like(x), np.empty_like(wt), np.empty_like(b)
    a = ((g.sh, g.sw), (g.dh, g.dw), (g.pt, g.pl))
    out = {p: {} for p in VARIANTS}
    for name, f in VARIANTS["forward"].items():
        out["forward"][name] = (lambda f=f: f(x, wt, b, y, *a, relu=True, nthreads=nthreads))
    for name, f in VARIANTS["input_grad"].items():
        if name == "direct" and s != 1:
            continue        # the gather form is stride-1 only
        out["input_grad"][name] = (lambda f=f: f(gy, wt, gx, *a, nthreads=nthreads))
    for name, f in VARIANTS["weight_grad"].items():
        out["weight_grad"][name] = (lambda f=f: f(x, gy, gw, gb, *a, nthreads=nthreads))
    return out


def _time(fns, budget, min_reps=5, max_reps=41):
    """Median seconds of each closure, calls interleaved, about `budget` s in total."""
    for f in fns.values():
        f()
    times = {k: [] for k in fns}
    start = time.perf_counter()
    while True:
        for k, f in fns.items():
            t0 = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t0)
        reps = len(times[next(iter(fns))])
        if reps >= max_reps or (reps >= min_reps and time.perf_counter() - start > budget):
            break
    return {k: statistics.median(v) for k, v in times.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--levels", default=None, help="default: every level this CPU has")
    ap.add_argument("--budget", type=float, default=0.3, help="seconds per shape and pass")
    ap.add_argument("--dry-run", action="store_true")
    a = ap.parse_args()
    cpu = kgemm.simd_info()["cpu"]
    levels = a.levels.split(",") if a.levels else [
        lv for lv in LEVELS if LEVELS[lv] <= LEVELS[cpu]]
    entries = []
    rng = np.random.default_rng(0)
    for lv in levels:
        if kgemm._set_simd_level(lv) != lv and lv != "ref":
            raise SystemExit(f"tune_conv: level {lv} is not available on this CPU")
        for nt in (int(t) for t in a.threads.split(",")):
            for shape in SHAPES:
                row = {"level": lv, "threads": nt, "shape": list(shape)}
                for pas, fns in _calls(shape, nt, rng).items():
                    ms = {k: round(1e3 * v, 4) for k, v in _time(fns, a.budget).items()}
                    row[pas] = ms
                best = {p: min(row[p], key=row[p].get) for p in VARIANTS}
                print(f"{lv:6s} t{nt} {str(shape):38s} "
                      + "  ".join(f"{p}: {best[p]:7s} {row[p]}" for p in VARIANTS), flush=True)
                entries.append(row)
    kgemm._set_simd_level(None)
    table = {"command": "python bench/tune_conv.py " + " ".join(sys.argv[1:]),
             "date": datetime.datetime.now().isoformat(timespec="seconds"),
             "machine": machine(), "loadavg": os.getloadavg(),
             "units": "ms, median of interleaved calls, float32", "entries": entries}
    if not a.dry_run:
        with open(OUT, "w") as f:
            json.dump(table, f, indent=1)
            f.write("\n")
        print(f"wrote {os.path.relpath(OUT)}")


if __name__ == "__main__":
    main()
