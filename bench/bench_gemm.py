"""Benchmark: native sgemm (tensorlib._kernels.gemm) vs numpy.matmul, GFLOP/s.

Square sizes and the seed convnet's GEMM shapes (batch 64, conv via im2col) are timed
at each thread count. The script re-executes itself once per thread count with
OPENBLAS_NUM_THREADS / OMP_NUM_THREADS / MKL_NUM_THREADS set, so NumPy's BLAS uses the
same number of threads as the native kernel. Native and NumPy batches alternate inside
every repeat (same noise for both), separated by a short sleep (--gap) so the idle
worker threads of one library (OpenMP / OpenBLAS spin a while before sleeping) do not
steal the cores from the other. Each figure is the median over the repeats, and the
ratio is native / numpy from the same run ("best-of ratio": the fastest repeat of each,
less sensitive to other load on the machine). Both write into preallocated outputs.

    python bench/bench_gemm.py [--threads 1,2] [--sizes 64,128,...] [--repeats 7]
                               [--no-conv] [--budget 0.05] [--gap 0.3]
                               [--shapes MxKxN[t],...]   (only these; t: op(A) = A.T)
                               [--alt name=value,...]    (native with gemm._tuning
                                                          changes, timed interleaved)

e.g. the K-dominant weight-gradient shape of issue 8 (plain A @ B), interleaved:
    python bench/bench_gemm.py --threads 1,2 --shapes 288x7744x64 --repeats 15 \\
        --alt ksplit_max=1
"""
import argparse
import contextlib
import datetime
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# name, M, K, N, trans_a, trans_b  (op(A) is M x K, op(B) is K x N)
CONV_SHAPES = [
    ("conv1 fwd", 43264, 9, 32, False, False),
    ("conv2 fwd", 7744, 288, 64, False, False),
    ("conv2 wgrad", 288, 7744, 64, True, False),    # cols^T @ dY
    ("conv2 igrad", 7744, 64, 288, False, True),    # dY @ W^T
    ("conv3 fwd", 576, 576, 64, False, False),
    ("conv3 wgrad", 576, 576, 64, True, False),     # A^T B
    ("dense", 64, 576, 64, False, False),
]


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _time_batch(fn, iters, context=contextlib.nullcontext):
    with context():
        t0 = time.perf_counter()
        for _ in range(iters):
            fn()
        return (time.perf_counter() - t0) / iters


def bench_pair(native, reference, repeats, budget, gap, *others):
    """Seconds per call of native, reference (and others: (fn, context) pairs, the
    context entered around each timed batch) over interleaved repeats: a list each."""
    fns = [(native, contextlib.nullcontext), (reference, contextlib.nullcontext)]
    fns += list(others)
    for f, ctx in fns:
        _time_batch(f, 1, ctx)
    one = max(max(min(_time_batch(f, 1, ctx) for _ in range(3)) for f, ctx in fns), 1e-7)
    iters = max(1, int(budget / one))
    times = [[] for _ in fns]
    for _ in range(repeats):
        for (f, ctx), t in zip(fns, times):
            time.sleep(gap)
            t.append(_time_batch(f, iters, ctx))
    return times


def _parse_tuning(text):
    """'ksplit_max=1,serial_below=0' as (name, number) pairs for gemm._tuning."""
    for item in text.split(","):
        name, value = item.split("=")
        yield name.strip(), float(value) if "." in value or "e" in value else int(value)


def _parse_shape(text):
    """'MxKxN' (A @ B) or 'MxKxNt' (A.T @ B) as a benchmark row."""
    ta = text.endswith("t")
    m, k, n = (int(v) for v in text.rstrip("t").split("x"))
    return (text, m, k, n, ta, False)


def child(args):
    import numpy as np
    sys.path.insert(0, os.path.join(HERE, "..", "src"))
    from tensorlib._kernels import gemm

    nt = args.child
    rng = np.random.default_rng(0)
    rows = [(f"square {n}", n, n, n, False, False) for n in args.sizes]
    if not args.no_conv:
        rows += CONV_SHAPES
    if args.shapes:
        rows = [_parse_shape(s) for s in args.shapes.split(",") if s.strip()]
    print(f"\n## threads = {nt}  (OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')})")
    alt = dict(_parse_tuning(args.alt)) if args.alt else None
    print(f"{'shape':<14}{'M':>7}{'K':>7}{'N':>7}  {'op':<4}{'native GF/s':>12}"
          f"{'numpy GF/s':>12}{'ratio':>8}{'best-of ratio':>15}"
          + (f"{'alt GF/s':>10}{'alt/native':>11}" if alt else ""))
    for name, m, k, n, ta, tb in rows:
        A = rng.standard_normal((k, m) if ta else (m, k)).astype(np.float32)
        B = rng.standard_normal((n, k) if tb else (k, n)).astype(np.float32)
        a_op, b_op = (A.T if ta else A), (B.T if tb else B)
        C = np.empty((m, n), np.float32)
        Cn = np.empty((m, n), np.float32)
        @contextlib.contextmanager
        def alt_tuning():
            old = gemm._tuning(**alt)
            try:
                yield
            finally:
                gemm._tuning(**old)

        def run():
            gemm.sgemm(A, B, C, trans_a=ta, trans_b=tb, nthreads=nt)

        tn, tr, *ta_ = bench_pair(
            run, lambda: np.matmul(a_op, b_op, out=Cn), args.repeats, args.budget,
            args.gap, *(((run, alt_tuning),) if alt else ()))
        err = np.abs(C - Cn).max() / max(np.abs(Cn).max(), 1e-30)
        if err > 1e-4:
            print(f"WARNING: {name}: native and numpy differ (max rel {err:.2e})")
        t_nat, t_np = statistics.median(tn), statistics.median(tr)
        flop = 2.0 * m * n * k
        op = ("T" if ta else "N") + ("T" if tb else "N")
        print(f"{name:<14}{m:>7}{k:>7}{n:>7}  {op:<4}{flop / t_nat / 1e9:>12.1f}"
              f"{flop / t_np / 1e9:>12.1f}{t_np / t_nat:>8.2f}{min(tr) / min(tn):>15.2f}"
              + (f"{flop / statistics.median(ta_[0]) / 1e9:>10.1f}"
                 f"{statistics.median(ta_[0]) / t_nat:>11.2f}" if alt else ""), flush=True)
        if args.raw:
            print("raw", name, nt, {"native": tn, "numpy": tr, "alt": ta_[0] if alt else None})


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    p.add_argument("--sizes", default="64,128,256,512,1024,2048",
                   help="comma-separated square sizes")
    p.add_argument("--repeats", type=int, default=7, help="timed repeats (median)")
    p.add_argument("--budget", type=float, default=0.05,
                   help="seconds per timed repeat (calls are batched up to this)")
    p.add_argument("--gap", type=float, default=0.3,
                   help="seconds of sleep before each timed batch (lets thread pools idle)")
    p.add_argument("--no-conv", action="store_true", help="skip the convnet shapes")
    p.add_argument("--shapes", default="",
                   help="only these shapes: comma-separated MxKxN, suffix t for A.T @ B")
    p.add_argument("--alt", default="",
                   help="also time native with these gemm._tuning settings, interleaved "
                        "(e.g. ksplit_max=1: without the K split)")
    p.add_argument("--raw", action="store_true", help="print every timing")
    p.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    args.sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if args.child:
        child(args)
        return

    import numpy as np
    sys.path.insert(0, os.path.join(HERE, "..", "src"))
    from tensorlib._kernels import gemm
    print("# native sgemm vs numpy.matmul (float32)")
    print(f"# machine : {cpu_model()}, {os.cpu_count()} logical CPUs, {platform.platform()}")
    print(f"# date    : {datetime.datetime.now().isoformat(timespec='seconds')}")
    print(f"# command : {' '.join([os.path.basename(sys.executable)] + sys.argv)}")
    print(f"# kernel  : {gemm.simd_info()}")
    print(f"# numpy   : {np.__version__}; repeats={args.repeats}, "
          f"budget={args.budget}s/repeat, gap={args.gap}s")
    sys.stdout.flush()
    for t in [int(x) for x in args.threads.split(",") if x.strip()]:
        env = dict(os.environ, OPENBLAS_NUM_THREADS=str(t), OMP_NUM_THREADS=str(t),
                   MKL_NUM_THREADS=str(t))
        cmd = [sys.executable, os.path.abspath(__file__), "--child",
               str(t), "--sizes", ",".join(map(str, args.sizes)), "--repeats",
               str(args.repeats), "--budget", str(args.budget), "--gap", str(args.gap)]
        if args.no_conv:
            cmd.append("--no-conv")
        if args.shapes:
            cmd += ["--shapes", args.shapes]
        if args.alt:
            cmd += ["--alt", args.alt]
        if args.raw:
            cmd.append("--raw")
        subprocess.run(cmd, env=env, check=True)


if __name__ == "__main__":
    main()
