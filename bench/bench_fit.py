"""Training and inference benchmark of the seed models on Fashion-MNIST, by the protocol of
the design card: one implementation per process, the same threads and allocator settings
for all, warm-up excluded, rounds alternated in random order, raw JSON, medians and
bootstrap 95% intervals of every ratio.

    python bench/bench_fit.py --task fit --model convnet --rounds 5 --threads 2 --env both
    python bench/bench_fit.py --task predict --model convnet --rounds 5

Implementations (``--impls``): ``tensorlib`` (native kernels), ``tensorlib-numpy`` (its
pure-NumPy backend), ``numpy`` (``peer_numpy.py``: a careful pure-NumPy program with no
tensorlib code), ``torch-nchw`` and ``torch-cl`` (PyTorch eager, NCHW and channels_last),
``keras`` (Keras 3 on the torch backend), and ``tensorlib-functional`` (the same layers as a
functional model, ``Model(inputs, outputs)``, against tensorlib's ``Sequential``). PyTorch
and Keras run under ``--peer-python`` (a separate virtual environment; the project never
depends on them) and tensorlib is never imported into their processes.

The same work everywhere: the seed model in Keras layout, the same Glorot-uniform initial
weights (``_fit_common.keras_init``), RMSprop (lr 1e-3, rho 0.9, eps 1e-7), batch 64, a
fresh random order each epoch, the loss and the number of correct predictions read back
every batch (what Keras's progress bookkeeping does). tensorlib and Keras train through
``model.fit``; PyTorch and NumPy through their own loops. ``--warmup`` steps run before
the timed epoch (same data) and are excluded.

Threads: ``--threads`` goes to ``OMP/OPENBLAS/MKL/TENSORLIB_NUM_THREADS`` and to
``tensorlib.set_num_threads`` / ``torch.set_num_threads``. Allocator: ``--env default``
leaves glibc as users have it; ``--env equal`` gives every process ``MALLOC_ENV``. FTZ:
each library's own policy (tensorlib flushes denormals inside its kernels, PyTorch and
NumPy do not); denormals do not arise in this model's steady state.
"""
import argparse
import datetime
import json
import os
import random
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from _fit_common import (BATCH, CONVNET, Usage, bootstrap_ratio, keras_init,  # noqa: E402
                         load_fashion_mnist, machine, verdict)

MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(32 << 20), "MALLOC_TRIM_THRESHOLD_": str(1 << 30)}
IMPLS = ["tensorlib", "torch-nchw", "torch-cl", "keras", "numpy", "tensorlib-numpy",
         "tensorlib-functional"]
PEERS = ("torch-nchw", "torch-cl", "keras")
SEED = 0


# ---------------------------------------------------------------- children
def _epoch_order(n, epoch):
    return np.random.default_rng(SEED + 1000 + epoch).permutation(n)


def _onehot(y):
    out = np.zeros((len(y), 10), np.float32)
    out[np.arange(len(y)), y] = 1
    return out


def _keras_like_model(mod, model, functional=False):
    """The seed model built with a Keras-compatible module (tensorlib or keras), as a
    ``Sequential`` or, with ``functional``, the same layers called on an ``Input``."""
    L = mod.layers
    if model == CONVNET:
        seq = [L.Input((28, 28, 1)), L.Conv2D(32, (3, 3), activation="relu"),
               L.MaxPooling2D((2, 2)), L.Conv2D(64, (3, 3), activation="relu"),
               L.MaxPooling2D((2, 2)), L.Conv2D(64, (3, 3), activation="relu"),
               L.Flatten(), L.Dense(64, activation="relu"), L.Dense(10, activation="softmax")]
    else:
        seq = [L.Input((784,)), L.Dense(512, activation="relu"),
               L.Dense(10, activation="softmax")]
    if functional:
        x = inp = seq[0]
        for layer in seq[1:]:
            x = layer(x)
        m = mod.Model(inp, x)
    else:
        m = mod.models.Sequential(seq)
    m.set_weights(keras_init(model, SEED))
    m.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    return m


def child_keras_like(args, mod, no_grad, functional=False):
    xt, yt, xs, ys = load_fashion_mnist(args.model)
    xt, xt_y = xt[:args.limit], _onehot(yt[:args.limit])
    m = _keras_like_model(mod, args.model, functional)
    out = {}
    if args.task == "fit":
        w = args.warmup * BATCH
        m.fit(xt[:w], xt_y[:w], batch_size=BATCH, epochs=1, verbose=0)
        with Usage() as u:
            m.fit(xt, xt_y, batch_size=BATCH, epochs=1, verbose=0)
        out = u.record()
        out["accuracy"] = float(np.mean(m.predict(xs, batch_size=256, verbose=0).argmax(1)
                                        == ys))
    else:
        out = _time_inference(lambda x: m.predict(x, batch_size=256, verbose=0),
                              lambda x: _call(m, x, no_grad), xs, ys)
    return out


def _call(m, x, no_grad):
    with no_grad():
        return m(x, training=False)


def _time_inference(predict, call, xs, ys):
    """Test-set ``predict`` at batch 256 (median of 3 after a warm-up) and batch-1 latency
    of an eager call (median of 300 after 20 warm-up calls)."""
    predict(xs)
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        pred = predict(xs)
        times.append(time.perf_counter() - t0)
    one = xs[:1]
    for _ in range(20):
        call(one)
    lat = []
    for i in range(300):
        x1 = xs[i:i + 1]
        t0 = time.perf_counter()
        call(x1)
        lat.append(time.perf_counter() - t0)
    return {"predict_s": statistics.median(times), "latency_ms": 1e3 * statistics.median(lat),
            "accuracy": float(np.mean(np.asarray(pred).argmax(1) == ys))}


def child_tensorlib(args, backend, functional=False):
    import tensorlib
    tensorlib.set_backend(backend)
    tensorlib.set_num_threads(args.threads)
    return child_keras_like(args, tensorlib, tensorlib.no_grad, functional)


def child_keras(args):
    os.environ["KERAS_BACKEND"] = "torch"
    import keras
    import torch
    torch.set_num_threads(args.threads)
    keras.utils.set_random_seed(SEED)
    return child_keras_like(args, keras, torch.no_grad)


def child_torch(args, channels_last):
    import torch
    from torch import nn
    torch.set_num_threads(args.threads)
    torch.manual_seed(SEED)
    xt, yt, xs, ys = load_fashion_mnist(args.model)
    xt, yt = xt[:args.limit], yt[:args.limit]
    w = keras_init(args.model, SEED)
    if args.model == CONVNET:
        def to_t(a):
            return torch.from_numpy(a.transpose(0, 3, 1, 2).copy())
        model = nn.Sequential(
            nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 64, 3), nn.ReLU(), nn.Flatten(),
            nn.Linear(576, 64), nn.ReLU(), nn.Linear(64, 10))
    else:
        to_t = torch.from_numpy
        model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 10))
    params = [m for m in model if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        for i, m in enumerate(params):
            k = w[2 * i]
            k = k.transpose(3, 2, 0, 1) if k.ndim == 4 else k.T
            m.weight.copy_(torch.from_numpy(np.ascontiguousarray(k)))
            m.bias.copy_(torch.from_numpy(w[2 * i + 1]))
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    if args.model == CONVNET:
        model = model.to(memory_format=fmt)
    xt_t, yt_t, xs_t = to_t(xt), torch.from_numpy(yt), to_t(xs)
    opt = torch.optim.RMSprop(model.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)
    loss_fn = nn.CrossEntropyLoss()

    def batch(x):
        return x.contiguous(memory_format=fmt) if x.ndim == 4 else x

    def epoch(n_steps, order):
        total, correct = 0.0, 0
        for s in range(n_steps):
            idx = torch.from_numpy(order[s * BATCH:(s + 1) * BATCH])
            xb, yb = batch(xt_t[idx]), yt_t[idx]
            opt.zero_grad()
            out = model(xb)
            loss = loss_fn(out, yb)
            loss.backward()
            opt.step()
            total += loss.item()
            correct += int((out.argmax(1) == yb).sum().item())
        return total, correct

    def predict(x):
        with torch.no_grad():
            return torch.cat([model(batch(x[i:i + 256])) for i in range(0, len(x), 256)])

    def call(x):
        with torch.no_grad():
            return model(batch(x))

    if args.task == "fit":
        return _timed_epoch(args, epoch, len(xt),
                            lambda: (predict(xs_t).argmax(1).numpy() == ys).mean())
    # predict times the test set already in torch layout (converted once, untimed)
    return _time_inference(lambda _xs: predict(xs_t).numpy(), lambda x: call(to_t(x)),
                           xs, ys)


def _timed_epoch(args, epoch, n, accuracy):
    """Run ``epoch(steps, order)`` for the warm-up steps, then time one shuffled epoch of
    ``n`` samples; ``accuracy()`` (untimed) reads the test accuracy afterwards."""
    epoch(args.warmup, np.arange(args.warmup * BATCH))
    order = _epoch_order(n, 0)
    with Usage() as u:
        epoch(-(-n // BATCH), order)
    out = u.record()
    out["accuracy"] = float(accuracy())
    return out


def child_numpy(args):
    import peer_numpy
    xt, yt, xs, ys = load_fashion_mnist(args.model)
    xt, yt = xt[:args.limit], yt[:args.limit]
    net = peer_numpy.Net(args.model, keras_init(args.model, SEED))

    def epoch(n_steps, order):
        total = correct = 0
        for s in range(n_steps):
            idx = order[s * BATCH:(s + 1) * BATCH]
            loss, c = net.train_step(xt[idx], yt[idx])
            total, correct = total + loss, correct + c
        return total, correct

    if args.task == "fit":
        return _timed_epoch(args, epoch, len(xt),
                            lambda: (net.predict(xs).argmax(1) == ys).mean())
    return _time_inference(net.predict, net.forward, xs, ys)


def child(args):
    if args.child in ("tensorlib", "tensorlib-numpy", "tensorlib-functional"):
        out = child_tensorlib(args, "numpy" if args.child == "tensorlib-numpy" else "native",
                              functional=args.child == "tensorlib-functional")
    elif args.child == "keras":
        out = child_keras(args)
    elif args.child.startswith("torch"):
        out = child_torch(args, args.child == "torch-cl")
    else:
        out = child_numpy(args)
    print(json.dumps(out))


# ---------------------------------------------------------------- orchestration
def run_child(args, impl, env):
    py = args.peer_python if impl in PEERS else sys.executable
    cmd = [py, __file__, "--child", impl, "--task", args.task, "--model", args.model,
           "--threads", str(args.threads), "--warmup", str(args.warmup),
           "--limit", str(args.limit)]
    load = os.getloadavg()[0]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{impl} failed:\n{out.stderr[-3000:]}")
    rec = json.loads(out.stdout.strip().splitlines()[-1])
    rec["loadavg_before"] = load
    return rec


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--task", choices=["fit", "predict"], default="fit")
    p.add_argument("--model", choices=["convnet", "mlp"], default="convnet")
    p.add_argument("--impls", default=",".join(IMPLS))
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--env", choices=["default", "equal", "both"], default="both")
    p.add_argument("--warmup", type=int, default=20, help="untimed steps before the epoch")
    p.add_argument("--limit", type=int, default=60000, help="training images per epoch")
    p.add_argument("--peer-python", default="/work/peers/bin/python")
    p.add_argument("--out", default=None, help="raw JSON (default bench/results/...)")
    p.add_argument("--child", default=None)
    args = p.parse_args()
    if args.child:
        return child(args)
    impls = args.impls.split(",")
    envs = ["default", "equal"] if args.env == "both" else [args.env]
    base = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    n = str(args.threads)
    base.update(OMP_NUM_THREADS=n, OPENBLAS_NUM_THREADS=n, MKL_NUM_THREADS=n,
                TENSORLIB_NUM_THREADS=n, PYTHONPATH=os.path.join(HERE, "..", "src"))
    info = {"date": str(datetime.date.today()), "machine": machine(),
            "command": "python bench/bench_fit.py " + " ".join(sys.argv[1:]),
            "malloc_env": MALLOC_ENV, "args": vars(args)}
    print(f"# {info['command']}\n# {info['date']}  {json.dumps(info['machine'])}", flush=True)
    results = {e: {i: [] for i in impls} for e in envs}
    order_rng = random.Random(12345)
    for r in range(args.rounds):
        for e in envs:
            env = dict(base, **MALLOC_ENV) if e == "equal" else base
            order = impls[:]
            order_rng.shuffle(order)
            for impl in order:
                rec = run_child(args, impl, env)
                rec["round"] = r
                results[e][impl].append(rec)
                print(f"round {r} env {e:7s} {impl:15s} {json.dumps(rec)}", flush=True)
    info["results"] = results
    out = args.out or os.path.join(
        HERE, "results", f"{args.task}-{args.model}-t{args.threads}-{info['date']}.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump(info, f, indent=1)
    report(results, args.task, out)


def report(results, task, path):
    key = "seconds" if task == "fit" else "predict_s"
    keys = [key] if task == "fit" else [key, "latency_ms"]
    for e, by_impl in results.items():
        print(f"\n## env={e}  (raw: {os.path.relpath(path)})")
        for k in keys:
            print(f"{k}: median (min-max) over rounds")
            for impl, recs in by_impl.items():
                v = [r[k] for r in recs]
                extra = ""
                if task == "fit":
                    faults = statistics.median(r["minor_faults"] for r in recs)
                    extra = (f"  minor faults {faults:.0f}"
                             f"  sys {statistics.median(r['sys_s'] for r in recs):.2f} s"
                             f"  acc {statistics.median(r['accuracy'] for r in recs):.4f}")
                print(f"  {impl:15s} {statistics.median(v):8.3f} ({min(v):.3f}-{max(v):.3f})"
                      f"  spread {max(v) / min(v):.2f}{extra}")
            if "tensorlib" in by_impl:
                tl = [r[k] for r in by_impl["tensorlib"]]
                for impl, recs in by_impl.items():
                    if impl == "tensorlib":
                        continue
                    ratio, (lo, hi) = bootstrap_ratio([r[k] for r in recs], tl)
                    print(f"  {impl:15s} / tensorlib = {ratio:.2f}x  95% CI [{lo:.2f}, {hi:.2f}]"
                          f"  -> {verdict(lo, hi, len(tl))}")


if __name__ == "__main__":
    main()
