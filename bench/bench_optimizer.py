"""Benchmark: one ``optimizer.apply(grads, vars)`` over the seed convnet's 10 variables
(93,322 float32 parameters, Keras layout), fused native kernel vs the NumPy path.

Paths, interleaved in a random order within each round, each with its own optimizer:

* ``head``:   the optimizers module of git ``HEAD`` (variable by variable, NumPy
  temporaries: the code before the fused kernels), when git can show it;
* ``numpy``:  today's optimizers on the ``numpy`` backend (the same NumPy operations,
  reached through ``backend.numpy_ref``);
* ``native``: today's optimizers on the ``native`` backend (one ``tensorlib._kernels.optim``
  call per step).

Each round times one ``apply`` per path; reported: the median time of each path and the
median of the per-round ratios against ``native``. The seed convnet's step (93K elements)
stays on one thread (``optim.SERIAL_BELOW``). Command and result (2-core EPYC VM shared
with other jobs, load average 6.9, 2026-11-29)::

    nice -n 5 /work/venv/bin/python bench/bench_optimizer.py --rounds 200

    threads 2, rounds 200, load 6.89
    optimizer           path     median ms  x native
    RMSprop()           head         0.612      4.67
    RMSprop()           numpy        0.600      4.64
    RMSprop()           native       0.131      1.00
    Adam()              head         0.383      2.85
    Adam()              numpy        0.346      2.55
    Adam()              native       0.134      1.00
    SGD(momentum=0.9)   numpy        0.210      1.65
    SGD(momentum=0.9)   head         0.206      1.65
    SGD(momentum=0.9)   native       0.126      1.00

Of native's ~0.13 ms, the kernel itself is ~0.05 ms; the rest is ``apply``'s Python
(argument checks, clipping/decay switches, slot look-ups: ~25-45 us with tiny arrays).
"""
import argparse
import importlib.util
import os
import random
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from _fit_common import CONVNET, keras_init  # noqa: E402

import tensorlib  # noqa: E402
from tensorlib import optimizers  # noqa: E402

OPTIMIZERS = {
    "RMSprop()": lambda mod: mod.RMSprop(),
    "Adam()": lambda mod: mod.Adam(),
    "SGD(momentum=0.9)": lambda mod: mod.SGD(momentum=0.9),
}


def head_optimizers():
    """git HEAD's ``tensorlib/optimizers.py`` as a module of the tensorlib package, or None."""
    try:
        src = subprocess.run(["git", "-C", ROOT, "show", "HEAD:src/tensorlib/optimizers.py"],
                             capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    spec = importlib.util.spec_from_loader("tensorlib._optimizers_head", loader=None)
    mod = importlib.util.module_from_spec(spec)
    mod.__package__ = "tensorlib"
    exec(compile(src, "HEAD:src/tensorlib/optimizers.py", "exec"), mod.__dict__)
    return mod


def run(name, rounds, seed):
    rng = np.random.default_rng(seed)
    weights = keras_init(CONVNET, seed)
    grads = [(rng.standard_normal(w.shape) * 1e-2).astype(np.float32) for w in weights]
    head = head_optimizers()
    paths = {"native": ("native", optimizers), "numpy": ("numpy", optimizers)}
    if head is not None:
        paths["head"] = ("native", head)
    setups = {}
    for path, (backend, mod) in paths.items():
        variables = [tensorlib.Tensor(w.copy()) for w in weights]
        setups[path] = (backend, OPTIMIZERS[name](mod), variables)
    times = {p: [] for p in setups}
    order = list(setups)
    shuffle = random.Random(seed)
    for r in range(rounds + 5):               # 5 warm-up rounds, not recorded
        shuffle.shuffle(order)
        for path in order:
            backend, opt, variables = setups[path]
            tensorlib.set_backend(backend)
            t0 = time.perf_counter()
            opt.apply(grads, variables)
            dt = time.perf_counter() - t0
            if r >= 5:
                times[path].append(dt)
    tensorlib.set_backend("native")
    med = {p: float(np.median(t)) * 1e3 for p, t in times.items()}
    native = np.array(times["native"])
    ratio = {p: float(np.median(np.array(t) / native)) for p, t in times.items()}
    return med, ratio


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.threads:
        tensorlib.set_num_threads(args.threads)
    print(f"threads {tensorlib.get_num_threads()}, rounds {args.rounds}, "
          f"load {os.getloadavg()[0]:.2f}")
    print(f"{'optimizer':<20}{'path':<8}{'median ms':>10}{'x native':>10}")
    for name in OPTIMIZERS:
        med, ratio = run(name, args.rounds, args.seed)
        for path in sorted(med, key=lambda p: -med[p]):
            print(f"{name:<20}{path:<8}{med[path]:>10.3f}{ratio[path]:>10.2f}")


if __name__ == "__main__":
    main()
