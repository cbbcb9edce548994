"""Pieces shared by every child process of ``bench_fit.py``: the data (read straight from
the IDX files, so a peer's process never imports tensorlib), Keras's Glorot-uniform init,
the seed models' layer list, resource accounting and the machine description.

Nothing here imports tensorlib, torch or keras.
"""
import gzip
import os
import platform
import resource
import subprocess
import time

import numpy as np

DATA_DIRS = [os.environ.get("FASHION_MNIST_DIR", ""), "/usr/share/datasets/fashion-mnist"]

# The seed convnet (Keras layouts): conv 3x3 x32 relu, pool 2, conv 3x3 x64 relu, pool 2,
# conv 3x3 x64 relu, flatten, dense 64 relu, dense 10 softmax. The seed MLP: dense 512
# relu, dense 10 softmax on flattened images.
CONVNET = "convnet"
MLP = "mlp"
BATCH = 64
LR, RHO, EPS = 1e-3, 0.9, 1e-7          # Keras's RMSprop defaults


def _idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_fashion_mnist(model):
    """``(x_train, y_train, x_test, y_test)``: float32 images scaled to [0, 1] (NHWC for the
    convnet, flat for the MLP) and int64 labels."""
    for d in DATA_DIRS:
        if d and os.path.exists(os.path.join(d, "train-images-idx3-ubyte.gz")):
            break
    else:
        raise SystemExit("Fashion-MNIST not found: apt-get install dataset-fashion-mnist")
    xt = _idx(os.path.join(d, "train-images-idx3-ubyte.gz"))
    yt = _idx(os.path.join(d, "train-labels-idx1-ubyte.gz")).astype(np.int64)
    xs = _idx(os.path.join(d, "t10k-images-idx3-ubyte.gz"))
    ys = _idx(os.path.join(d, "t10k-labels-idx1-ubyte.gz")).astype(np.int64)
    shape = (-1, 28, 28, 1) if model == CONVNET else (-1, 784)
    return (xt.reshape(shape).astype(np.float32) / 255, yt,
            xs.reshape(shape).astype(np.float32) / 255, ys)


def glorot_uniform(rng, shape, fan_in, fan_out):
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, shape).astype(np.float32)


def keras_init(model, seed):
    """Weights in Keras layout and order ([kernel, bias] per layer), Glorot-uniform kernels
    with Keras's fans, zero biases."""
    rng = np.random.default_rng(seed)
    if model == CONVNET:
        convs = [(3, 3, 1, 32), (3, 3, 32, 64), (3, 3, 64, 64)]
        dense = [(576, 64), (64, 10)]
    else:
        convs, dense = [], [(784, 512), (512, 10)]
    out = []
    for kh, kw, cin, cout in convs:
        out += [glorot_uniform(rng, (kh, kw, cin, cout), kh * kw * cin, kh * kw * cout),
                np.zeros(cout, np.float32)]
    for fin, fout in dense:
        out += [glorot_uniform(rng, (fin, fout), fin, fout), np.zeros(fout, np.float32)]
    return out


class Usage:
    """Wall time, CPU times and page faults of this process over a ``with`` block."""

    def __enter__(self):
        self.r0, self.t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t0
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        self.user = r1.ru_utime - self.r0.ru_utime
        self.sys = r1.ru_stime - self.r0.ru_stime
        self.minflt = r1.ru_minflt - self.r0.ru_minflt
        return False

    def record(self):
        return {"seconds": self.seconds, "user_s": self.user, "sys_s": self.sys,
                "minor_faults": self.minflt}


def machine():
    """CPU model, SIMD flags of interest, core count and versions, for RESULTS.md."""
    model, flags = platform.processor() or "?", ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and model in ("?", "", "x86_64"):
                    model = line.split(":", 1)[1].strip()
                if line.startswith("flags"):
                    flags = line.split(":", 1)[1].split()
                    break
    except OSError:
        pass
    simd = [f for f in ("avx2", "fma", "avx512f", "avx512bw", "avx512vl") if f in flags]
    try:
        glibc = subprocess.run(["ldd", "--version"], capture_output=True,
                               text=True).stdout.split("\n")[0]
    except OSError:
        glibc = "?"
    return {"cpu": model, "simd": simd, "cpus": os.cpu_count(),
            "python": platform.python_version(), "numpy": np.__version__, "libc": glibc}


def bootstrap_ratio(a, b, n=10000, seed=0):
    """Median of ``a`` over median of ``b`` and its 95% percentile interval, resampling the
    rounds (pairs: both ran in the same round)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(a), (n, len(a)))
    ratios = np.median(a[idx], axis=1) / np.median(b[idx], axis=1)
    return float(np.median(a) / np.median(b)), tuple(np.percentile(ratios, [2.5, 97.5]))


def verdict(lo, hi, rounds, who="tensorlib"):
    """'faster' only where the interval excludes 1.0 (ratio = peer / tensorlib)."""
    if rounds < 3:
        return "too few rounds for an interval"
    return f"{who} faster" if lo > 1 else f"{who} slower" if hi < 1 else "no clear difference"
