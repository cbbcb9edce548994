"""Benchmark the conv / pool kernels on the seed convnet's layers (batch 64).

For every layer: median forward and backward time of the native backend, the pure-NumPy
backend and PyTorch (CPU, channels-last, when ``import torch`` works), at each thread
count of ``--threads``. Each (implementation, thread count) pair runs in its own child
process (``--rounds`` times, alternating implementations; the table shows the median over
rounds), whose environment (TENSORLIB_NUM_THREADS, OMP_NUM_THREADS, OPENBLAS_NUM_THREADS)
and ``torch.set_num_threads`` use that count, so NumPy's BLAS is held to it too, and
whose glibc allocator keeps big blocks for reuse (see MALLOC_ENV).

Backward is what training needs: conv1 (the input layer) computes the weight and bias
gradients only; conv2/conv3 also the input gradient; ReLU's own backward is excluded
(tensorlib fuses ReLU in the conv forward, PyTorch runs it as a separate op).

    python bench/bench_conv.py --threads 1,2 --rounds 5 --peer-python /work/peers/bin/python
"""
import argparse
import datetime
import json
import os
import platform
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from _fit_common import bootstrap_ratio, machine  # noqa: E402

# glibc returns big freed blocks to the OS (and hands out fresh, page-faulting ones) until
# its adaptive mmap threshold has grown past them, which made every implementation's
# timings bimodal from process to process (PyTorch's conv1 forward: 1.2 ms or 10 ms).
# These settings give every child the steady state of a long-running training process.
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(32 << 20), "MALLOC_TRIM_THRESHOLD_": str(128 << 20)}

# name, kind, NHWC input shape, (kh, kw, cout) or pool size, need input gradient
LAYERS = [
    ("conv1 28x28x1->26x26x32 k3", "conv", (28, 28, 1), (3, 3, 32), False),
    ("maxpool 26x26x32 /2", "pool", (26, 26, 32), (2, 2), True),
    ("conv2 13x13x32->11x11x64 k3", "conv", (13, 13, 32), (3, 3, 64), True),
    ("maxpool 11x11x64 /2", "pool", (11, 11, 64), (2, 2), True),
    ("conv3 5x5x64->3x3x64 k3", "conv", (5, 5, 64), (3, 3, 64), True),
]


def _median_ms(fn, min_reps, budget_s):
    fn()  # warm-up (allocations, thread pools, packing buffers)
    times = []
    start = time.perf_counter()
    while len(times) < min_reps or (time.perf_counter() - start < budget_s and len(times) < 200):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return 1e3 * times[len(times) // 2]


def _tl_layer_fns(bk, kind, x, p, need_gx, rng):
    """(forward, backward) closures of one layer on backend module ``bk``."""
    if kind == "conv":
        kh, kw, cout = p
        w = (rng.standard_normal((kh, kw, x.shape[3], cout)) * 0.1).astype(x.dtype)
        b = rng.standard_normal(cout).astype(x.dtype)
        args = ((1, 1), "valid", (1, 1))
        y = bk.conv2d_forward(x, w, b, *args, relu=True)
        gy = rng.standard_normal(y.shape).astype(x.dtype)

        def fwd():
            bk.conv2d_forward(x, w, b, *args, relu=True)

        def bwd():
            if need_gx:
                bk.conv2d_backward_input(gy, w, x.shape, *args)
            bk.conv2d_backward_weight_bias(gy, x, w.shape, *args)
        return fwd, bwd
    y, am = bk.max_pool2d_forward(x, p, p, "valid")
    gy = rng.standard_normal(y.shape).astype(x.dtype)
    return (lambda: bk.max_pool2d_forward(x, p, p, "valid"),
            lambda: bk.max_pool2d_backward(gy, am, x.shape, p, p, "valid"))


def _torch_layer_fns(torch, kind, nhwc_shape, p, need_gx):
    """PyTorch closures on channels-last tensors made by torch itself: with inputs built
    from NumPy arrays, torch 2.13's first-layer conv sometimes ran ~8x slower here."""
    n, h, w_, c = nhwc_shape
    cl = torch.channels_last
    tx = torch.randn(n, c, h, w_).contiguous(memory_format=cl)
    if kind == "conv":
        kh, kw, cout = p
        w = (torch.randn(cout, c, kh, kw) * 0.1).contiguous(memory_format=cl)
        b = torch.randn(cout)
        conv = torch.nn.functional.conv2d
        gy = torch.randn_like(conv(tx, w, b))
        mask = [need_gx, True, True]

        def fwd():
            with torch.no_grad():
                torch.relu(conv(tx, w, b))

        def bwd():
            torch.ops.aten.convolution_backward(gy, tx, w, [cout], [1, 1], [0, 0], [1, 1],
                                                False, [0, 0], 1, mask)
        return fwd, bwd
    k = list(p)
    args = (k, k, [0, 0], [1, 1], False)
    y, idx = torch.ops.aten.max_pool2d_with_indices(tx, *args)
    gy = torch.randn_like(y)
    return (lambda: torch.ops.aten.max_pool2d_with_indices(tx, *args),
            lambda: torch.ops.aten.max_pool2d_with_indices_backward(gy, tx, *args, idx))


def child(nthreads, who, batch, budget):
    """Measure every layer with one implementation at one thread count; print JSON rows.
    Each (implementation, thread count) runs in its own process, so that no thread pool
    of another library (OpenMP, OpenBLAS, PyTorch) is awake and spinning meanwhile."""
    if who == "torch":     # no tensorlib (and its OpenMP runtime) in PyTorch's process
        import torch
        torch.set_num_threads(nthreads)
    else:
        sys.path.insert(0, str(ROOT / "src"))
        import tensorlib._threads as th
        from tensorlib.backend import native, numpy_ref
        th.set_num_threads(nthreads)
    rows = []
    for name, kind, shape, p, need_gx in LAYERS:
        if who == "torch":
            torch.manual_seed(0)
            fwd, bwd = _torch_layer_fns(torch, kind, (batch,) + shape, p, need_gx)
        else:
            rng = np.random.default_rng(0)
            x = rng.standard_normal((batch,) + shape).astype(np.float32)
            bk = native if who == "native" else numpy_ref
            fwd, bwd = _tl_layer_fns(bk, kind, x, p, need_gx, rng)
        reps = 5 if who == "numpy" else 15
        rows.append((_median_ms(fwd, reps, budget), _median_ms(bwd, reps, budget)))
    print(json.dumps(rows))


def _versions():
    """One line: NumPy / PyTorch versions and the SIMD level of tensorlib's kernels."""
    import importlib.metadata as md
    sys.path.insert(0, str(ROOT / "src"))
    from tensorlib._kernels import conv, gemm
    parts = [f"numpy {np.__version__}"]
    try:
        parts.append(f"torch {md.version('torch')}")
    except md.PackageNotFoundError:
        parts.append("torch not installed")
    tile = conv.tile_info()
    parts.append(f"gemm kernel {gemm.simd_info()['kernel']}, conv tiles "
                 f"{('portable C', 'avx2', 'avx512')[tile['level']]} "
                 f"{tile['pixels']}x{tile['channels']}")
    return ", ".join(parts)


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--budget", type=float, default=0.5, help="seconds per measurement")
    ap.add_argument("--rounds", type=int, default=5,
                    help="child processes per implementation and thread count")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--peer-python", default=sys.executable,
                    help="interpreter with torch installed (PyTorch runs in its own process)")
    ap.add_argument("--out", default=None, help="raw JSON (default bench/results/...)")
    ap.add_argument("--_child", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--_who", default="native", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a._child:
        child(a._child, a._who, a.batch, a.budget)
        return
    info = {"command": " ".join(["python"] + sys.argv),
            "date": datetime.datetime.now().isoformat(timespec="seconds"),
            "cpu": f"{_cpu_model()} ({os.cpu_count()} logical CPUs)",
            "python": f"{platform.python_version()}, {_versions()}", "malloc_env": MALLOC_ENV,
            "machine": machine()}
    print(f"# command: {info['command']}")
    print(f"# date:    {info['date']}")
    print(f"# cpu:     {info['cpu']}, SIMD flags {' '.join(info['machine']['simd'])}")
    print(f"# python:  {info['python']}")
    print(f"# env:     {' '.join(f'{k}={v}' for k, v in MALLOC_ENV.items())} (see MALLOC_ENV); "
          "FTZ: tensorlib flushes denormals inside its kernels, PyTorch and NumPy do not")
    print(f"# times:   ms, median over {a.rounds} rounds (one process each, implementations "
          "in random order per round) of each round's median; ratio = peer / native with a "
          "paired bootstrap 95% interval")
    has_torch = not a.no_torch and subprocess.run(
        [a.peer_python, "-c", "import torch"], capture_output=True).returncode == 0
    who_list = ["native", "numpy"] + (["torch"] if has_torch else [])
    counts = [int(t) for t in a.threads.split(",")]
    runs = {(nt, who): [] for nt in counts for who in who_list}
    loads = []
    order_rng = random.Random(12345)
    for _ in range(a.rounds):   # rounds alternate thread counts and implementations, so a
        for nt in counts:       # slow phase of this shared machine hits all of them alike
            env = dict(os.environ, TENSORLIB_NUM_THREADS=str(nt), OMP_NUM_THREADS=str(nt),
                       OPENBLAS_NUM_THREADS=str(nt), MKL_NUM_THREADS=str(nt), **MALLOC_ENV)
            order = who_list[:]
            order_rng.shuffle(order)
            for who in order:
                py = a.peer_python if who == "torch" else sys.executable
                cmd = [py, __file__, "--_child", str(nt), "--_who", who,
                       "--batch", str(a.batch), "--budget", str(a.budget)]
                loads.append(os.getloadavg()[0])
                out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
                runs[nt, who].append(json.loads(out.stdout.strip().splitlines()[-1]))
    info["loadavg_before_each_child"] = loads
    info["raw"] = {f"{nt}:{who}": v for (nt, who), v in runs.items()}
    out = a.out or str(ROOT / "bench" / "results" /
                       f"conv-b{a.batch}-{info['date'][:10]}.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump(info, f, indent=1)
    print(f"# load:    1-min load average before the children {min(loads):.2f}-{max(loads):.2f}"
          f"; raw: {os.path.relpath(out)}")
    for nt in counts:
        _report(nt, runs, who_list, a)


def _report(nt, runs, who_list, a):
    """Per layer and pass: the median over rounds of each round's median, and the ratio of
    each peer to native with its bootstrap interval over the (paired) rounds."""
    arr = {who: np.array(runs[nt, who]) for who in who_list}    # rounds x layers x 2
    print(f"\n## threads = {nt}, batch = {a.batch}, float32")
    hdr = f"{'layer':30s} {'pass':8s} {'native':>8s} {'numpy':>8s} {'numpy/native':>22s}"
    print(hdr + (f" {'torch':>8s} {'torch/native':>22s}" if "torch" in arr else ""))
    for i, layer in enumerate(LAYERS):
        for k, label in ((0, "fwd"), (1, "bwd"), (None, "fwd+bwd")):
            t = {who: (v[:, i, :].sum(axis=1) if k is None else v[:, i, k])
                 for who, v in arr.items()}
            line = f"{layer[0] if k == 0 else '':30s} {label:8s} {np.median(t['native']):8.3f}"
            for peer in [w for w in ("numpy", "torch") if w in t]:
                r, (lo, hi) = bootstrap_ratio(t[peer], t["native"])
                line += (f" {np.median(t[peer]):8.3f} {r:6.2f}x [{lo:5.2f},{hi:5.2f}]"
                         f"{'*' if lo > 1 or hi < 1 else ' '}")
            print(line)
    print("(* the interval excludes 1.0)")


if __name__ == "__main__":
    main()
