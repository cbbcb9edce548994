"""Benchmark: where do the kernels' SERIAL_BELOW thresholds belong?

For each kernel and a ladder of sizes, time the call with the module's threshold at 0
(always parallel, --threads threads) and at infinity (always on the calling thread),
interleaved in every repeat (same noise for both), and print the work in ops (the unit
of every threshold, src/tensorlib/_kernels/_common.pxd: multiply-adds, or one op per
element read or written for kernels without multiplies), the medians, and
serial/parallel (> 1: the threads pay). A threshold belongs near the smallest size from
which the parallel call wins in most repeats. The machine is shared: read the "wins"
column (repeats won by the parallel call) as well as the medians, and run it twice.

    python bench/bench_serial.py [--threads 2] [--repeats 15] [--kernels gemm,conv,...]
"""
import argparse
import datetime
import functools
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "src"))

import numpy as np  # noqa: E402

from tensorlib._kernels import conv, elementwise, gemm, pool  # noqa: E402

NEVER = 10**18                       # a threshold no call reaches (an int: any module takes it)


def _gemm_cases(rng):
    for s in (48, 64, 80, 96, 112, 128, 160, 192):
        a = rng.standard_normal((s, s)).astype(np.float32)
        b = rng.standard_normal((s, s)).astype(np.float32)
        c = np.empty((s, s), np.float32)
        yield f"sgemm {s}^3", s ** 3, (lambda a=a, b=b, c=c, nt=1: gemm.sgemm(a, b, c,
                                                                            nthreads=nt))


def _conv_cases(rng):
    for n, hw, c, o in ((1, 8, 8, 8), (1, 12, 8, 16), (2, 12, 8, 16), (2, 16, 16, 16),
                        (4, 16, 16, 32), (8, 16, 16, 32)):
        x = rng.standard_normal((n, hw, hw, c)).astype(np.float32)
        w = rng.standard_normal((3, 3, c, o)).astype(np.float32)
        y = np.empty((n, hw - 2, hw - 2, o), np.float32)
        ops = n * (hw - 2) ** 2 * 9 * c * o
        yield (f"conv fwd {n}x{hw}x{hw}x{c}->{o}", ops,
               lambda x=x, w=w, y=y, nt=1: conv.conv2d_forward_direct(
                   x, w, None, y, (1, 1), (1, 1), (0, 0), nthreads=nt))


def _bias_cases(rng):
    for rows, cols in ((512, 32), (2048, 64), (8192, 64), (32768, 64), (65536, 64),
                       (262144, 64)):
        gy = rng.standard_normal((rows, cols)).astype(np.float32)
        gb = np.empty(cols, np.float32)
        yield (f"conv bias {rows}x{cols}", rows * cols,
               lambda gy=gy, gb=gb, nt=1: conv.conv2d_backward_bias(gy, gb, nthreads=nt))


def _pool_cases(rng):
    for n, hw, c in ((1, 16, 8), (1, 32, 16), (2, 32, 16), (4, 32, 32), (8, 32, 32),
                     (16, 32, 32)):
        x = rng.standard_normal((n, hw, hw, c)).astype(np.float32)
        y = np.empty((n, hw // 2, hw // 2, c), np.float32)
        am = np.empty(y.shape, np.int32)
        yield (f"maxpool {n}x{hw}x{hw}x{c}", x.size + 2 * y.size,
               lambda x=x, y=y, am=am, nt=1: pool.max_pool2d_forward(
                   x, y, am, 2, 2, 2, 2, 0, 0, nthreads=nt))


def _relu_cases(rng):
    for n in (4096, 16384, 65536, 262144, 1048576):
        x = rng.standard_normal(n).astype(np.float32)
        out = np.empty_like(x)
        yield (f"relu forward {n}", 2 * n,      # n read + n written
               lambda x=x, out=out, nt=1: elementwise.relu_forward(x, out, nt))


KERNELS = {
    # name: (cases, module, threshold keyword of its _set_thresholds)
    "gemm": (_gemm_cases, gemm, "serial_below"),
    "conv": (_conv_cases, conv, "serial_below"),
    "bias": (_bias_cases, conv, "reduce_below"),
    "pool": (_pool_cases, pool, "serial_below"),
    "relu": (_relu_cases, elementwise, "serial_below"),
}


def _time(fn, iters):
    t0 = time.perf_counter()
    for _ in range(iters):
        fn()
    return (time.perf_counter() - t0) / iters


def run(name, args, rng):
    cases, mod, key = KERNELS[name]
    print(f"\n## {name} ({mod.__name__}._set_thresholds({key}=...), now "
          f"{mod._set_thresholds()[key]:g} ops)")
    print(f"{'case':<28}{'ops':>11}{'serial us':>11}{'parallel us':>13}{'ser/par':>9}"
          f"{'wins':>7}")
    for label, ops, call in cases(rng):
        fn = functools.partial(call, nt=args.threads)
        old = mod._set_thresholds()
        try:
            mod._set_thresholds(**{key: 0})
            fn()
            iters = max(3, int(args.budget / max(_time(fn, 1), 1e-6)))
            ts, tp = [], []
            for _ in range(args.repeats):
                for threshold, out in ((NEVER, ts), (0, tp)):
                    mod._set_thresholds(**{key: threshold})
                    time.sleep(args.gap)
                    out.append(_time(fn, iters))
        finally:
            mod._set_thresholds(**old)
        wins = sum(p < s for s, p in zip(ts, tp))
        ms, mp = statistics.median(ts), statistics.median(tp)
        print(f"{label:<28}{ops:>11.3g}{ms * 1e6:>11.1f}{mp * 1e6:>13.1f}{ms / mp:>9.2f}"
              f"{wins:>4}/{args.repeats}", flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=15)
    p.add_argument("--budget", type=float, default=0.02, help="seconds per timed batch")
    p.add_argument("--gap", type=float, default=0.05, help="sleep before each batch (s)")
    p.add_argument("--kernels", default=",".join(KERNELS))
    args = p.parse_args()
    print("# serial vs parallel kernel calls (float32)")
    print(f"# date    : {datetime.datetime.now().isoformat(timespec='seconds')}")
    print(f"# command : {' '.join([os.path.basename(sys.executable)] + sys.argv)}")
    print(f"# load    : {os.getloadavg()}  threads={args.threads}")
    rng = np.random.default_rng(0)
    for name in args.kernels.split(","):
        run(name.strip(), args, rng)


if __name__ == "__main__":
    main()
