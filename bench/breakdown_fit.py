"""Where a tensorlib training step spends its time: the seed convnet (or MLP) trained with
``model.fit`` on Fashion-MNIST, with timers wrapped around each layer's forward, the loss,
each layer's backward (every autograd ``Function`` is tagged with the layer that made it),
the optimizer update and the metric bookkeeping. What the timers do not cover inside the
step is Python and autograd overhead; what lies outside the steps (batch gather, the fit
loop, callbacks) is measured as the epoch time minus the steps. The parts add up to the
measured epoch by construction; the timers' own cost is shown by timing the same epoch
once without them.

    python bench/breakdown_fit.py --model convnet --threads 2 --limit 20000
"""
import argparse
import collections
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "src"))
from _fit_common import BATCH, load_fashion_mnist, machine  # noqa: E402
from bench_fit import _keras_like_model, _onehot  # noqa: E402

import tensorlib  # noqa: E402
from tensorlib import autograd  # noqa: E402

totals = collections.defaultdict(float)
state = {"tag": None}


def timed(key, fn):
    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            totals[key] += time.perf_counter() - t0
    return wrapper


def tagging(tag, fn):
    def wrapper(*args, **kwargs):
        old, state["tag"] = state["tag"], tag
        try:
            return fn(*args, **kwargs)
        finally:
            state["tag"] = old
    return wrapper


def instrument(model):
    """Wrap the model's pieces; returns a function that undoes it."""
    undo = []
    for layer in model.layers:
        orig = layer.call
        layer.call = tagging(layer.name, timed(f"forward {layer.name}", orig))
        undo.append(lambda la=layer: la.__dict__.pop("call"))
    loss = model._losses[0]       # the seed's categorical cross-entropy: its fused kernel
    orig_loss = loss.from_logits_call
    loss.from_logits_call = tagging("loss", timed("loss forward", orig_loss))
    undo.append(lambda: loss.__dict__.pop("from_logits_call"))
    opt = model.optimizer
    opt.apply_gradients = timed("optimizer", opt.apply_gradients)
    undo.append(lambda: opt.__dict__.pop("apply_gradients"))
    model._train_batch = timed("step", model._train_batch)
    undo.append(lambda: model.__dict__.pop("_train_batch"))

    orig_apply = autograd.Function.apply.__func__

    def apply(cls, *inputs, **params):
        out = orig_apply(cls, *inputs, **params)
        if out._ctx is not None:
            out._ctx.tag = state["tag"] or "other"
        return out

    autograd.Function.apply = classmethod(apply)
    undo.append(lambda: setattr(autograd.Function, "apply", classmethod(orig_apply)))
    patched = set()
    for cls in _subclasses(autograd.Function):
        if "backward" in cls.__dict__:
            orig_bw = cls.__dict__["backward"]

            def backward(self, g, _orig=orig_bw):
                t0 = time.perf_counter()
                try:
                    return _orig(self, g)
                finally:
                    totals[f"backward {getattr(self, 'tag', 'other')}"] += \
                        time.perf_counter() - t0
            cls.backward = backward
            patched.add((cls, orig_bw))
    undo.append(lambda: [setattr(c, "backward", f) for c, f in patched])
    return lambda: [u() for u in reversed(undo)]


def _subclasses(cls):
    out = []
    for sub in cls.__subclasses__():
        out += [sub] + _subclasses(sub)
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", choices=["convnet", "mlp"], default="convnet")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--limit", type=int, default=20000)
    p.add_argument("--warmup", type=int, default=20)
    args = p.parse_args()
    tensorlib.set_num_threads(args.threads)
    xt, yt, _, _ = load_fashion_mnist(args.model)
    xt, y1 = xt[:args.limit], _onehot(yt[:args.limit])
    model = _keras_like_model(tensorlib, args.model)
    w = args.warmup * BATCH
    model.fit(xt[:w], y1[:w], batch_size=BATCH, epochs=1, verbose=0)
    t0 = time.perf_counter()
    model.fit(xt, y1, batch_size=BATCH, epochs=1, verbose=0, shuffle=True)
    plain = time.perf_counter() - t0
    metrics = [m for per_output in model._metrics for m in per_output]
    undo = instrument(model)
    for m in metrics:
        m.update_state = timed("metrics", m.update_state)
    t0 = time.perf_counter()
    model.fit(xt, y1, batch_size=BATCH, epochs=1, verbose=0, shuffle=True)
    epoch = time.perf_counter() - t0
    undo()
    steps = -(-len(xt) // BATCH)
    parts = {k: v for k, v in totals.items() if k != "step"}
    inside = sum(v for k, v in parts.items() if k != "metrics")
    rows = list(parts.items())
    rows.append(("python/autograd overhead in the step", totals["step"] - inside))
    rows.append(("batch gather + fit loop (outside the steps)",
                 epoch - totals["step"] - totals["metrics"]))
    print(f"# python bench/breakdown_fit.py {' '.join(sys.argv[1:])}")
    print(f"# {machine()}")
    print(f"# {steps} steps of batch {BATCH}; epoch {epoch:.2f} s instrumented, "
          f"{plain:.2f} s without timers")
    print(f"{'part':48s} {'ms/step':>8s} {'share':>6s}")
    for k, v in sorted(rows, key=lambda kv: -kv[1]):
        print(f"{k:48s} {1e3 * v / steps:8.3f} {100 * v / epoch:5.1f}%")
    total = sum(v for _, v in rows)
    print(f"{'sum of parts':48s} {1e3 * total / steps:8.3f} {100 * total / epoch:5.1f}%")
    print(f"{'measured epoch / steps':48s} {1e3 * epoch / steps:8.3f}")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
