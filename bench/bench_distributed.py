"""Data-parallel training throughput of the seed convnet on Fashion-MNIST, by the protocol
of the design card: one configuration per launch, warm-up excluded, rounds alternated in
random order, raw JSON, medians and bootstrap 95% intervals of every ratio.

    python bench/bench_distributed.py --rounds 5                 # full 60k-image epochs
    python bench/bench_distributed.py --rounds 1 --limit 2000    # a quick check

Configurations (``--configs``, processes x threads): ``1x1`` and ``1x2`` run
``python bench_distributed.py --child``; ``2x1`` runs it under ``mpiexec -n 2`` with
``tensorlib.distribution.DataParallel`` (global batch 64: 32 per process). Threads go to
``TENSORLIB/OMP/OPENBLAS/MKL_NUM_THREADS``. Every configuration trains the same model
(Keras's Glorot-uniform initial weights, ``_fit_common.keras_init``) with RMSprop through
``model.fit``, ``--warmup`` untimed steps first, then one timed epoch of ``--limit`` images.

Reported per configuration: images/s, seconds per step, and under MPI the time per step in
the gradient Allreduce as ``model.fit`` saw it (transfer plus waiting for the slower
process) and its share of the step, and, after training, the cost of the Allreduce alone
(one fused buffer the size of the gradients; median of 200 calls after a barrier) against
the same bytes in 4 buckets with non-blocking ``Iallreduce`` + ``Waitall``. Last, the
expected weak-scaling efficiency at 8, 32 and 128 machines over 10 and 25 Gbit/s Ethernet
for the seed convnet and a ~10M-parameter model, from these measurements (``project``).
"""
import argparse
import datetime
import json
import math
import os
import random
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from _fit_common import (BATCH, CONVNET, bootstrap_ratio, keras_init,  # noqa: E402
                         load_fashion_mnist, machine)

CONFIGS = ["1x1", "1x2", "2x1"]
SEED = 0


# ---------------------------------------------------------------- child (each process)
def _allreduce_costs(comm, size, calls=200):
    """Median seconds of one fused Allreduce of ``size`` float32s, and of the same bytes
    in 4 buckets (Iallreduce + Waitall)."""
    from mpi4py import MPI
    buf = np.ones(size, np.float32)
    buckets = np.array_split(np.ones(size, np.float32), 4)
    fused, bucketed = [], []
    for _ in range(calls):
        comm.Barrier()
        t0 = time.perf_counter()
        comm.Allreduce(MPI.IN_PLACE, buf)
        fused.append(time.perf_counter() - t0)
        comm.Barrier()
        t0 = time.perf_counter()
        MPI.Request.Waitall([comm.Iallreduce(MPI.IN_PLACE, b) for b in buckets])
        bucketed.append(time.perf_counter() - t0)
    return statistics.median(fused), statistics.median(bucketed)


def child(args):
    import tensorlib as keras
    keras.distribution.initialize()
    dp = keras.distribution.DataParallel()
    keras.distribution.set_distribution(dp)
    rank, procs = keras.distribution.process_id(), keras.distribution.num_processes()
    xt, yt, _, _ = load_fashion_mnist(CONVNET)
    xt = xt[:args.limit]
    y = np.zeros((len(xt), 10), np.float32)
    y[np.arange(len(xt)), yt[:args.limit]] = 1
    keras.manual_seed(SEED)
    L = keras.layers
    model = keras.Sequential([
        L.Input((28, 28, 1)), L.Conv2D(32, (3, 3), activation="relu"),
        L.MaxPooling2D((2, 2)), L.Conv2D(64, (3, 3), activation="relu"),
        L.MaxPooling2D((2, 2)), L.Conv2D(64, (3, 3), activation="relu"), L.Flatten(),
        L.Dense(64, activation="relu"), L.Dense(10, activation="softmax")])
    model.set_weights(keras_init(CONVNET, SEED))
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    w = args.warmup * BATCH
    model.fit(xt[:w], y[:w], batch_size=BATCH, epochs=1, verbose=0)
    if dp.comm is not None:
        dp.comm.Barrier()
    seconds0, calls0 = dp.allreduce_seconds, dp.allreduce_calls
    t0 = time.perf_counter()
    history = model.fit(xt, y, batch_size=BATCH, epochs=1, verbose=0)
    seconds = time.perf_counter() - t0
    steps = -(-len(xt) // BATCH)
    out = {"processes": procs, "threads": keras.get_num_threads(), "images": len(xt),
           "seconds": seconds, "images_per_s": len(xt) / seconds,
           "step_ms": 1e3 * seconds / steps, "loss": history.history["loss"][-1]}
    if procs > 1:
        reduce_s = dp.allreduce_seconds - seconds0
        n_params = sum(v.data.size for v in model.trainable_weights)
        fused, bucketed = _allreduce_costs(dp.comm, n_params + len(model.trainable_weights))
        out.update(allreduce_calls=dp.allreduce_calls - calls0,
                   allreduce_ms_per_step=1e3 * reduce_s / steps,
                   allreduce_share=reduce_s / seconds, params=n_params,
                   fused_allreduce_ms=1e3 * fused, bucketed_iallreduce_ms=1e3 * bucketed)
    if rank == 0:
        print(json.dumps(out), flush=True)


# ---------------------------------------------------------------- orchestration
def _mpiexec():
    local = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    return local if os.access(local, os.X_OK) else "mpiexec"


def run_config(args, config, base_env):
    procs, threads = (int(v) for v in config.split("x"))
    n = str(threads)
    env = dict(base_env, TENSORLIB_NUM_THREADS=n, OMP_NUM_THREADS=n,
               OPENBLAS_NUM_THREADS=n, MKL_NUM_THREADS=n)
    cmd = [sys.executable, os.path.abspath(__file__), "--child", "--limit", str(args.limit),
           "--warmup", str(args.warmup)]
    if procs > 1:
        cmd = [_mpiexec(), "-n", str(procs)] + cmd
    load = os.getloadavg()[0]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{config} failed:\n{out.stderr[-3000:]}")
    rec = json.loads(out.stdout.strip().splitlines()[-1])
    rec["loadavg_before"] = load
    return rec


def report(results, path):
    print(f"\n## seed convnet, global batch {BATCH}  (raw: {os.path.relpath(path)})")
    for config, recs in results.items():
        v = [r["images_per_s"] for r in recs]
        line = (f"  {config}: {statistics.median(v):7.1f} images/s ({min(v):.1f}-{max(v):.1f})"
                f"  {statistics.median(r['step_ms'] for r in recs):6.1f} ms/step")
        if "allreduce_ms_per_step" in recs[0]:
            med = {k: statistics.median(r[k] for r in recs) for k in (
                "allreduce_ms_per_step", "allreduce_share", "fused_allreduce_ms",
                "bucketed_iallreduce_ms")}
            line += (f"  allreduce {med['allreduce_ms_per_step']:.2f} ms/step "
                     f"({100 * med['allreduce_share']:.1f}% of the time; alone: fused "
                     f"{med['fused_allreduce_ms']:.3f} ms, 4 buckets "
                     f"{med['bucketed_iallreduce_ms']:.3f} ms)")
        print(line)
    if "2x1" in results:
        two = [r["images_per_s"] for r in results["2x1"]]
        for ref in ("1x1", "1x2"):
            if ref in results:
                ratio, (lo, hi) = bootstrap_ratio(two, [r["images_per_s"]
                                                        for r in results[ref]])
                print(f"  2x1 / {ref} = {ratio:.2f}x  95% CI [{lo:.2f}, {hi:.2f}]")


def project(results, latency_us=30.0, flop_per_param_sample=6.0):
    """On paper, from the measured 2x1 step: weak scaling (32 images per process per
    step) to K machines over Ethernet, allreduce without overlap moving 2(K-1)/K of the
    gradient bytes (ring, or Rabenseifner's reduce-scatter + allgather, which MPI picks for
    large messages) in 2 log2(K) latency-bound rounds:
    t(K) = compute + 2(K-1)/K * bytes / bandwidth + 2 log2(K) * latency. The ~10M-parameter
    model is a dense network (about ``flop_per_param_sample`` FLOPs per parameter and
    image for forward + backward) at the FLOP rate measured on the convnet."""
    recs = results.get("2x1")
    if not recs:
        return
    step_ms = statistics.median(r["step_ms"] for r in recs)
    compute_s = (step_ms - statistics.median(r["fused_allreduce_ms"] for r in recs)) / 1e3
    flops = 16.4e6 * BATCH // 2 / compute_s           # seed convnet: 16.4 MFLOP/image/step
    params = recs[0]["params"]
    big = 10_000_000
    models = {"seed convnet": (params, compute_s),
              "10M-param dense": (big, flop_per_param_sample * big * BATCH // 2 / flops)}
    print(f"\n## projection (32 images per process per step, {latency_us:.0f} us per "
          "allreduce round, no overlap)")
    for name, (n, comp) in models.items():
        for gbit in (10, 25):
            cells = []
            for k in (8, 32, 128):
                comm = (2 * (k - 1) / k * 4 * n / (gbit * 1e9 / 8)
                        + 2 * math.log2(k) * latency_us * 1e-6)
                cells.append(f"K={k}: {100 * comp / (comp + comm):5.1f}%")
            print(f"  {name:16s} {gbit:2d} Gbit/s  compute {1e3 * comp:7.1f} ms/step  "
                  f"efficiency {'  '.join(cells)}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--configs", default=",".join(CONFIGS), help="processes x threads")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--warmup", type=int, default=20, help="untimed steps before the epoch")
    p.add_argument("--limit", type=int, default=60000, help="training images per epoch")
    p.add_argument("--out", default=None, help="raw JSON (default bench/results/...)")
    p.add_argument("--child", action="store_true")
    args = p.parse_args()
    if args.child:
        return child(args)
    configs = args.configs.split(",")
    base = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    base["PYTHONPATH"] = os.path.join(HERE, "..", "src")
    info = {"date": str(datetime.date.today()), "machine": machine(),
            "command": "python bench/bench_distributed.py " + " ".join(sys.argv[1:]),
            "args": vars(args)}
    print(f"# {info['command']}\n# {info['date']}  {json.dumps(info['machine'])}", flush=True)
    results = {c: [] for c in configs}
    order_rng = random.Random(12345)
    for r in range(args.rounds):
        order = configs[:]
        order_rng.shuffle(order)
        for config in order:
            rec = run_config(args, config, base)
            rec["round"] = r
            results[config].append(rec)
            print(f"round {r} {config} {json.dumps(rec)}", flush=True)
    info["results"] = results
    out = args.out or os.path.join(HERE, "results",
                                   f"distributed-convnet-{info['date']}.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump(info, f, indent=1)
    report(results, out)
    project(results)


if __name__ == "__main__":
    main()
