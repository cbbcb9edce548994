"""Packaging and metadata: the version's single source, ``python -m tensorlib``'s report,
``py.typed`` in the installed package, and tensorlib's OpenMP kernels sharing a process
with NumPy's OpenBLAS threads (the runtime clash scikit-learn documents) without a crash,
a deadlock or a wrong result, in both import orders. CI builds, repairs and smoke-tests the
wheel itself (.ci/run, .ci/wheel_smoke.py); nothing heavy is built here.
"""
import ast
import json
import os
import subprocess
import sys
import textwrap
from importlib import metadata

import pytest

import tensorlib
from test_build_info import _expected_simd

PKG = os.path.dirname(os.path.abspath(tensorlib.__file__))
ROOT = os.path.dirname(os.path.dirname(PKG))
SRC_TREE = os.path.isfile(os.path.join(ROOT, "pyproject.toml"))   # not an installed copy
MODULE_PATH = os.path.dirname(PKG)


def _version_in_file():
    """The string assigned to __version__ in _version.py, read without importing it."""
    with open(os.path.join(PKG, "_version.py"), encoding="utf-8") as f:
        tree = ast.parse(f.read())
    values = [n.value.value for n in tree.body if isinstance(n, ast.Assign)
              and [t.id for t in n.targets if isinstance(t, ast.Name)] == ["__version__"]]
    assert len(values) == 1, "_version.py must assign __version__ once"
    return values[0]


def _run(args, env=None, timeout=120):
    env = dict(os.environ, **(env or {}))
    env["PYTHONPATH"] = MODULE_PATH + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, *args], capture_output=True, text=True,
                          env=env, timeout=timeout)


# ------------------------------------------------------------------ version and metadata
def test_version_has_one_source():
    v = _version_in_file()
    assert tensorlib.__version__ == v == tensorlib.version()
    parts = v.split(".")
    assert len(parts) >= 3 and all(p.isdigit() for p in parts[:3]), v


@pytest.mark.skipif(not SRC_TREE, reason="needs the source tree's pyproject.toml")
def test_pyproject_reads_the_version_from_the_package():
    tomllib = pytest.importorskip("tomllib")
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        conf = tomllib.load(f)
    project = conf["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert conf["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "tensorlib._version.__version__"}
    assert "py.typed" in conf["tool"]["setuptools"]["package-data"]["tensorlib"]
    assert project["license"] == {"text": "MIT"}
    assert "License :: OSI Approved :: MIT License" in project["classifiers"]
    with open(os.path.join(ROOT, "LICENSE"), encoding="utf-8") as f:
        assert f.readline().strip() == "MIT License"


def test_installed_metadata_matches():
    try:
        installed = metadata.version("tensorlib")
    except metadata.PackageNotFoundError:
        pytest.skip("tensorlib is not installed (PYTHONPATH run)")
    assert installed == tensorlib.__version__


def test_py_typed_ships_with_the_package():
    """PEP 561: the marker sits next to tensorlib/__init__.py in whatever was imported."""
    assert os.path.isfile(os.path.join(PKG, "py.typed"))


# ------------------------------------------------------------------ python -m tensorlib
def test_module_report_as_text():
    out = _run(["-m", "tensorlib"])
    assert out.returncode == 0, out.stderr[-2000:]
    fields = dict(line.split(":", 1) for line in out.stdout.splitlines())
    fields = {k: v.strip() for k, v in fields.items()}
    for key in ("tensorlib", "python", "numpy", "platform", "backend", "kernels",
                "simd_kernel", "openmp", "openmp_runtime", "threads"):
        assert key in fields, (key, out.stdout)
    assert fields["tensorlib"] == _version_in_file()
    assert fields["backend"] == "native" and fields["openmp"] == "True"


def test_module_report_json_matches_the_build():
    out = _run(["-m", "tensorlib", "--json"], env={"TENSORLIB_NUM_THREADS": "3"})
    assert out.returncode == 0, out.stderr[-2000:]
    info = json.loads(out.stdout)
    assert info["tensorlib"] == _version_in_file()
    assert info["threads"] == 3 and info["openmp_team"] == 3   # 3 > this machine's cores
    assert info["env"]["TENSORLIB_NUM_THREADS"] == "3"
    assert os.path.realpath(info["location"]) == os.path.realpath(PKG)
    want = _expected_simd()
    if want is not None and not os.environ.get("TENSORLIB_SIMD", "").strip():
        assert (info["simd_kernel"], info["simd_cpu"], info["conv_tile_level"]) == \
            (want[0], want[0], want[1])
    if sys.platform.startswith("linux"):
        libs = info["openmp_runtime"].split(", ")
        assert any("libgomp" in os.path.basename(p) or "libomp" in os.path.basename(p)
                   for p in libs), info["openmp_runtime"]
        assert all(os.path.isfile(p) for p in libs), libs


def test_module_report_names_the_numpy_backend():
    out = _run(["-m", "tensorlib", "--json"], env={"TENSORLIB_BACKEND": "numpy"})
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout)["backend"] == "numpy"


# ------------------------------------------------------------------ OpenBLAS + OpenMP
SAME_PROCESS = textwrap.dedent("""
    import ctypes, json, os, sys, threading
    if sys.argv[1] == "numpy-first":
        import numpy as np
        import tensorlib as tl
    else:
        import tensorlib as tl
        import numpy as np

    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((320, 320)), rng.standard_normal((320, 320))
    ref, v = a @ b, rng.standard_normal(320)
    assert np.allclose(ref @ v, a @ (b @ v)), "OpenBLAS product wrong before tensorlib ran"
    x = rng.random((48, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, 48)

    def fit():
        tl.manual_seed(0)
        L = tl.layers
        model = tl.Sequential([tl.Input((28, 28, 1)),
                               L.Conv2D(8, 3, activation="relu"), L.MaxPooling2D(2),
                               L.Flatten(), L.Dense(10, activation="softmax")])
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
        return model.get_weights()

    alone = fit()
    stop, bad, done = threading.Event(), [], [0]

    def matmuls():                      # OpenBLAS's threads, while tensorlib's OpenMP runs
        while not stop.is_set() or done[0] < 3:
            if not np.allclose(a @ b, ref, rtol=1e-12, atol=1e-12):
                bad.append(done[0])
            done[0] += 1

    t = threading.Thread(target=matmuls)
    t.start()
    try:
        busy = [fit() for _ in range(2)]
    finally:
        stop.set()
        t.join()
    assert not bad, f"OpenBLAS products changed under tensorlib's threads: {bad}"
    for weights in busy:
        for w0, w1 in zip(alone, weights):
            np.testing.assert_allclose(w1, w0, rtol=1e-5, atol=1e-6)

    maps = open("/proc/self/maps").read().split() if os.path.exists("/proc/self/maps") else []
    blas = sorted({p for p in maps if "openblas" in os.path.basename(p).lower()})
    threads = parallel = None
    if blas:
        lib = ctypes.CDLL(blas[0])
        for prefix in ("scipy_openblas_", "openblas_", ""):
            for suffix in ("64_", ""):
                f = getattr(lib, f"{prefix}get_num_threads{suffix}", None)
                g = getattr(lib, f"{prefix}get_parallel{suffix}", None)
                if f is not None and g is not None and threads is None:
                    threads, parallel = f(), g()
    omp = sorted({p for p in maps if "gomp" in os.path.basename(p)
                  or "libomp" in os.path.basename(p)})
    print(json.dumps({"matmuls": done[0], "openblas": blas, "openblas_threads": threads,
                      "openblas_parallel": parallel, "openmp": omp}))
""")


@pytest.mark.parametrize("order", ["numpy-first", "tensorlib-first"])
def test_openblas_threads_and_tensorlib_share_a_process(order, tmp_path):
    """NumPy matmuls on OpenBLAS's threads run in a Python thread while tensorlib fits
    a small convnet on its OpenMP threads: no crash or hang (timeout), OpenBLAS's products
    unchanged, and tensorlib's weights the same as from the fit that ran alone."""
    script = tmp_path / "same_process.py"
    script.write_text(SAME_PROCESS)
    env = {"OPENBLAS_NUM_THREADS": "2", "TENSORLIB_NUM_THREADS": "2", "OMP_NUM_THREADS": "2"}
    try:
        out = _run([str(script), order], env=env, timeout=300)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{order}: OpenBLAS + tensorlib in one process hung (> 300 s)")
    assert out.returncode == 0, out.stderr[-3000:]
    info = json.loads(out.stdout.strip().splitlines()[-1])
    assert info["matmuls"] >= 3
    if info["openblas"] and info["openblas_threads"] is not None:
        assert info["openblas_threads"] == 2, info       # it really ran threaded
    if sys.platform.startswith("linux"):
        assert info["openmp"], info                      # tensorlib's runtime was loaded
