"""Memory stays flat over long loops: the resident set after 2,000 steps is within a few MB
of the resident set after 200 (graphs, saved arrays, optimizer slots, progress bars and
kernel scratch buffers are all released every step).

Each loop runs in a fresh interpreter so that other tests' allocations cannot hide or fake a
leak; RSS is read from /proc/self/statm after a garbage collection.
"""
import json
import os
import subprocess
import sys

import pytest

LOOPS = r'''
import gc, json, os, sys
import numpy as np
import tensorlib as tl
from tensorlib import functional as F, layers as L
from tensorlib.models import Sequential

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mb():
    gc.collect()
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE / 2**20


def growth(step, warmup=200, steps=2000):
    """RSS after ``steps`` calls minus RSS after ``warmup`` calls, in MB."""
    for _ in range(warmup):
        step()
    base = rss_mb()
    for _ in range(steps - warmup):
        step()
    return rss_mb() - base


tl.manual_seed(0)
rng = np.random.default_rng(0)
x = rng.standard_normal((16, 12, 12, 1)).astype(np.float32)
y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 16)]
model = Sequential([L.Input((12, 12, 1)), L.Conv2D(8, 3, activation="relu"), L.MaxPooling2D(),
                    L.Flatten(), L.Dense(10, activation="softmax")])
model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])

xs = x[:4, :8, :8]
w = tl.Tensor(rng.standard_normal((3, 3, 1, 4)).astype(np.float32), requires_grad=True)


def autograd_step():
    h = F.max_pool2d(F.conv2d(xs, w, padding="same", activation="relu"))
    loss = (h.reshape(4, -1).log_softmax() * -1.0).mean()
    loss.backward()
    w.grad = None


result = {
    "train_on_batch": growth(lambda: model.train_on_batch(x, y)),
    "predict": growth(lambda: model.predict(x, verbose=0)),
    "autograd": growth(autograd_step),
}
print(json.dumps(result))
'''

LIMIT_MB = 8


@pytest.fixture(scope="module")
def growth_mb():
    env = dict(os.environ, TENSORLIB_NUM_THREADS="2")
    env.pop("TENSORLIB_BACKEND", None)
    proc = subprocess.run([sys.executable, "-c", LOOPS], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("loop", ["train_on_batch", "predict", "autograd"])
def test_rss_flat_over_2000_steps(growth_mb, loop):
    assert growth_mb[loop] < LIMIT_MB, (
        f"RSS grew by {growth_mb[loop]:.1f} MB between step 200 and step 2000 of the "
        f"{loop} loop (limit {LIMIT_MB} MB): something is kept alive every step")
