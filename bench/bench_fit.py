"""Benchmark: the seed convnet trained on Fashion-MNIST (batch 64, RMSprop), epoch time
and test accuracy, for tensorlib (native kernels), tensorlib on its pure-NumPy backend and
PyTorch 2.13 CPU (same architecture, Glorot-uniform init, RMSprop lr 1e-3 rho 0.9) in one
run; also the seed's dense network (Dense 512 relu, Dense 10 softmax) with tensorlib.

    python bench/bench_fit.py [--epochs 5] [--threads 2] [--runs native,numpy,torch,dense]

Each framework trains in its own subprocess (one at a time, same thread count), so one
cannot slow another down. The epoch time is the median epoch; the first epoch includes
warm-up. Data: Debian's dataset-fashion-mnist, found by tensorlib.datasets.
"""
import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "src"))   # the in-place build (setup.py build_ext -i)


def load():
    from tensorlib.datasets import fashion_mnist
    from tensorlib.utils import to_categorical
    (xt, yt), (xs, ys) = fashion_mnist.load_data()
    xt = xt.reshape((60000, 28, 28, 1)).astype("float32") / 255
    xs = xs.reshape((10000, 28, 28, 1)).astype("float32") / 255
    return xt, to_categorical(yt), xs, to_categorical(ys), yt, ys


def run_tensorlib(epochs, backend, dense=False):
    import tensorlib
    from tensorlib import layers, models, callbacks
    tensorlib.set_backend(backend)
    tensorlib.manual_seed(0)
    xt, yt, xs, ys, _, _ = load()
    model = models.Sequential()
    if dense:
        xt, xs = xt.reshape(60000, 784), xs.reshape(10000, 784)
        model.add(layers.Dense(512, activation="relu", input_shape=(28 * 28,)))
        model.add(layers.Dense(10, activation="softmax"))
    else:
        model.add(layers.Conv2D(32, (3, 3), activation="relu", input_shape=(28, 28, 1)))
        model.add(layers.MaxPooling2D((2, 2)))
        model.add(layers.Conv2D(64, (3, 3), activation="relu"))
        model.add(layers.MaxPooling2D((2, 2)))
        model.add(layers.Conv2D(64, (3, 3), activation="relu"))
        model.add(layers.Flatten())
        model.add(layers.Dense(64, activation="relu"))
        model.add(layers.Dense(10, activation="softmax"))
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    times = []

    class Timer(callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.t)

    model.fit(xt, yt, epochs=epochs, batch_size=64, verbose=0, callbacks=[Timer()])
    _, acc = model.evaluate(xs, ys, verbose=0)
    return times, acc


def run_torch(epochs, threads):
    import numpy as np
    import torch
    from torch import nn
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    xt, _, xs, _, yt, ys = load()
    xt = torch.from_numpy(xt.transpose(0, 3, 1, 2).copy())
    xs = torch.from_numpy(xs.transpose(0, 3, 1, 2).copy())
    yt, ys = torch.from_numpy(yt.astype(np.int64)), torch.from_numpy(ys.astype(np.int64))
    model = nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 64, 3), nn.ReLU(), nn.Flatten(),
        nn.Linear(576, 64), nn.ReLU(), nn.Linear(64, 10))
    for m in model:
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)
    opt = torch.optim.RMSprop(model.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)
    loss_fn = nn.CrossEntropyLoss()
    times = []
    for _ in range(epochs):
        t = time.perf_counter()
        perm = torch.randperm(len(xt))
        for i in range(0, len(xt), 64):
            idx = perm[i:i + 64]
            opt.zero_grad()
            loss = loss_fn(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
        times.append(time.perf_counter() - t)
    with torch.no_grad():
        pred = torch.cat([model(xs[i:i + 1000]).argmax(1) for i in range(0, len(xs), 1000)])
    return times, float((pred == ys).float().mean())


def child(args):
    if args.child == "torch":
        times, acc = run_torch(args.epochs, args.threads)
    elif args.child == "dense":
        times, acc = run_tensorlib(args.epochs, "native", dense=True)
    else:
        times, acc = run_tensorlib(args.epochs, args.child)
    print(json.dumps({"times": times, "acc": acc}))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", default="native,numpy,torch,dense")
    p.add_argument("--child", default=None)
    args = p.parse_args()
    if args.child:
        return child(args)
    sys.path.insert(0, HERE)
    from bench_gemm import cpu_model
    env = dict(os.environ, TENSORLIB_NUM_THREADS=str(args.threads),
               OMP_NUM_THREADS=str(args.threads), OPENBLAS_NUM_THREADS=str(args.threads))
    print(f"# bench_fit  {datetime.date.today()}  CPU: {cpu_model()}  threads: {args.threads}")
    print(f"# command: python bench/bench_fit.py {' '.join(sys.argv[1:])}")
    results = {}
    for run in args.runs.split(","):
        out = subprocess.run([sys.executable, __file__, "--child", run, "--epochs",
                              str(args.epochs), "--threads", str(args.threads)],
                             env=env, capture_output=True, text=True)
        if out.returncode != 0:
            print(f"{run}: failed\n{out.stderr[-2000:]}")
            continue
        results[run] = json.loads(out.stdout.strip().splitlines()[-1])
        r = results[run]
        print(f"{run:8s} epochs {[round(t, 1) for t in r['times']]}  median "
              f"{statistics.median(r['times']):.1f} s/epoch  test accuracy {r['acc']:.4f}",
              flush=True)
    if "native" in results:
        base = statistics.median(results["native"]["times"])
        names = {"numpy": "numpy backend", "torch": "PyTorch"}
        for run, label in names.items():
            if run in results:
                other = statistics.median(results[run]["times"])
                print(f"epoch time {label} / tensorlib native: {other / base:.2f}x")


if __name__ == "__main__":
    main()
