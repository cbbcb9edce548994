"""Smoke test of an installed tensorlib wheel (run by .ci/run and by cibuildwheel).

Checks that tensorlib is imported from site-packages (not a source tree), that its
kernels are compiled with OpenMP and report a SIMD level, that the OpenMP runtime is the
one the wheel vendors (``--vendored-openmp``: a repaired Linux wheel's mangled libgomp in
``tensorlib.libs``), and that one training step of the seed convnet runs and changes the
weights. Exits non-zero with a message on any failure.
"""
import argparse
import os
import sys
import sysconfig

import numpy as np


def fail(msg):
    sys.exit(f"wheel smoke test FAILED: {msg}")


def seed_convnet(tl):
    """The seed notebook's convnet (tests/seed_models.py), written out: no test imports."""
    L = tl.layers
    return tl.Sequential([
        tl.Input((28, 28, 1)),
        L.Conv2D(32, (3, 3), activation="relu"), L.MaxPooling2D((2, 2)),
        L.Conv2D(64, (3, 3), activation="relu"), L.MaxPooling2D((2, 2)),
        L.Conv2D(64, (3, 3), activation="relu"), L.Flatten(),
        L.Dense(64, activation="relu"), L.Dense(10, activation="softmax"),
    ])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--vendored-openmp", action="store_true",
                        help="require the OpenMP runtime to be loaded from tensorlib.libs")
    args = parser.parse_args()

    import tensorlib as tl
    from tensorlib.__main__ import format_report, report

    info = report()
    print(format_report(info), flush=True)
    site = os.path.realpath(sysconfig.get_paths()["purelib"])
    if not os.path.realpath(info["location"]).startswith(site + os.sep):
        fail(f"tensorlib imported from {info['location']}, not from {site}")
    if info.get("kernels") != "compiled" or info["backend"] != "native":
        fail(f"no compiled native backend: {info.get('kernels')}, {info['backend']}")
    if info["openmp"] is not True or info["openmp_team"] != info["threads"]:
        fail(f"OpenMP: openmp={info['openmp']}, team={info.get('openmp_team')}, "
             f"threads={info['threads']}")
    if info["simd_kernel"] not in ("ref", "avx2", "avx512"):
        fail(f"unknown SIMD kernel {info['simd_kernel']!r}")
    if args.vendored_openmp:
        libs = os.path.join(os.path.dirname(info["location"]), "tensorlib.libs")
        runtime = info["openmp_runtime"].split(", ")
        if not any(os.path.dirname(p) == libs and "libgomp-" in os.path.basename(p)
                   for p in runtime):
            fail(f"no mangled libgomp from {libs} loaded: {info['openmp_runtime']}")

    rng = np.random.default_rng(0)
    x = rng.random((16, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, 16)
    tl.manual_seed(0)
    model = seed_convnet(tl)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    before = [w.copy() for w in model.get_weights()]
    hist = model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    loss = hist.history["loss"][0]
    if not np.isfinite(loss) or abs(loss - np.log(10)) > 1.0:
        fail(f"one fit step of the seed convnet gave loss {loss} (expected near ln 10)")
    if any(np.array_equal(a, b) for a, b in zip(before, model.get_weights())):
        fail("a weight did not change in one fit step")
    print(f"fit step: loss {loss:.4f}; wheel smoke test passed")


if __name__ == "__main__":
    main()
