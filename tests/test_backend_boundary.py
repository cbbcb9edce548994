"""The kernel boundary: everything above ``tensorlib.backend`` reaches compiled code only
through the active backend, only ``backend.native`` imports ``tensorlib._kernels``, and
the ``numpy`` backend trains and predicts with every compiled module made unimportable."""
import ast
import inspect
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import tensorlib as tl
from tensorlib import backend
from tensorlib.backend import native, numpy_ref

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src",
                   "tensorlib")
HERE = os.path.dirname(os.path.abspath(__file__))


# ------------------------------------------------------------- the numpy backend --

NO_KERNELS = textwrap.dedent("""
    import importlib.abc, sys

    class NoKernels(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "tensorlib._kernels" or name.startswith("tensorlib._kernels."):
                raise ImportError(f"compiled kernels are forbidden here: {name}")
            return None

    sys.meta_path.insert(0, NoKernels())
""")

SEED_FIT = textwrap.dedent("""
    import numpy as np
    import tensorlib
    from seed_models import seed_convnet

    assert tensorlib.get_backend().__name__ == "tensorlib.backend.numpy_ref"
    rng = np.random.default_rng(0)
    x = rng.random((96, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, 96)
    model = seed_convnet()
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    loss = history.history["loss"][0]
    assert np.isfinite(loss), loss
    probs = model.predict(x[:10], verbose=0)
    assert probs.shape == (10, 10) and np.allclose(np.sum(probs, axis=1), 1, atol=1e-5)
    for opt in (tensorlib.optimizers.Adam(), tensorlib.optimizers.SGD(momentum=0.9)):
        model.compile(optimizer=opt, loss="sparse_categorical_crossentropy")
        model.fit(x, y, epochs=1, batch_size=48, verbose=0)
    loaded = sorted(m for m in sys.modules if m.startswith("tensorlib._kernels"))
    assert not loaded, loaded
    try:
        import tensorlib._kernels.elementwise   # the hook was really active
    except ImportError:
        print("OK", loss)
""")


def _run(code, backend_name):
    env = dict(os.environ, TENSORLIB_BACKEND=backend_name, PYTHONPATH=HERE + os.pathsep
               + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-c", NO_KERNELS + "import sys\n" + code],
                          capture_output=True, text=True, env=env, timeout=600)


def test_numpy_backend_fits_and_predicts_without_any_compiled_module():
    proc = _run(SEED_FIT, "numpy")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("OK")


def test_the_import_hook_really_blocks_the_native_backend():
    # The same hook makes the native backend fail: the test above can fail.
    proc = _run("import tensorlib\ntensorlib.get_backend()\n", "native")
    assert proc.returncode != 0
    assert "compiled kernels are forbidden here" in proc.stderr


# ------------------------------------------------------ who imports tensorlib._kernels --

def _kernel_imports(path):
    """(line, text) of every import of tensorlib._kernels in one Python file (absolute,
    relative, ``from .. import _kernels`` and ``importlib.import_module(...)``)."""
    rel = os.path.relpath(path, SRC).split(os.sep)
    package = ["tensorlib"] + rel[:-1]
    tree = ast.parse(open(path, encoding="utf-8").read(), path)
    found = []
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            mod = ".".join(base + ([node.module] if node.module else []))
            names = [mod] + [f"{mod}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(
                node.func, "id", None)) in ("import_module", "__import__"):
            names = [a.value for a in node.args if isinstance(a, ast.Constant)
                     and isinstance(a.value, str)]
        if any(n == "tensorlib._kernels" or n.startswith("tensorlib._kernels.")
               for n in names):
            found.append((node.lineno, ast.unparse(node)))
    return found


def test_only_backend_native_imports_the_compiled_kernels():
    offenders = {}
    for root, _, files in os.walk(SRC):
        for name in files:
            path = os.path.join(root, name)
            rel = os.path.relpath(path, SRC)
            if not name.endswith(".py") or rel.startswith("_kernels" + os.sep) \
                    or rel == os.path.join("backend", "native.py"):
                continue
            hits = _kernel_imports(path)
            if hits:
                offenders[rel] = hits
    assert not offenders, f"imports of tensorlib._kernels outside backend/native.py: {offenders}"
    assert _kernel_imports(os.path.join(SRC, "backend", "native.py"))   # the scan sees them


def test_the_scan_recognises_every_import_form(tmp_path, monkeypatch):
    pkg = tmp_path / "layers"
    pkg.mkdir()
    f = pkg / "x.py"
    f.write_text("import tensorlib._kernels.conv\nfrom .._kernels import pool\n"
                 "from tensorlib._kernels import gemm\nfrom .. import _kernels\n"
                 "import importlib\nimportlib.import_module('tensorlib._kernels.optim')\n"
                 "from ..backend import get_backend\n")
    monkeypatch.setattr(sys.modules[__name__], "SRC", str(tmp_path))
    assert [line for line, _ in _kernel_imports(str(f))] == [1, 2, 3, 4, 6]


# ------------------------------------------------------------- the kernel interface --

def test_both_backends_offer_every_kernel_with_one_signature():
    for name in backend.KERNELS:
        a, b = getattr(native, name), getattr(numpy_ref, name)
        assert inspect.signature(a) == inspect.signature(b), name
    assert set(backend.KERNELS) == set(native.__all__) == set(numpy_ref.__all__)


def test_set_backend_rejects_unknown_names():
    with pytest.raises(ValueError, match="Received: name='torch'"):
        tl.set_backend("torch")


@pytest.fixture(params=["native", "numpy"])
def each_backend(request):
    before = tl.get_backend()
    tl.set_backend(request.param)
    yield tl.get_backend()
    backend._current = before


def _bits(a):
    return np.ascontiguousarray(a).view(np.uint8).tobytes()


SPECIALS = [np.nan, -np.nan, -0.0, 0.0, np.inf, -np.inf, 3.5, -2.0]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_kernels_agree_bit_for_bit_with_torch_nan_rules(dtype, rng):
    x = np.concatenate([np.array(SPECIALS), rng.standard_normal(70001)]).astype(dtype)
    g = rng.standard_normal(x.shape).astype(dtype)
    for be in (native, numpy_ref):
        y = be.relu_forward(x)
        assert y.dtype == dtype and y.shape == x.shape
        assert np.isnan(y[:2]).all() and np.signbit(y[2]) and y[4] == np.inf and y[5] == 0
        gx = be.relu_backward(y, g)
        assert gx.dtype == dtype
        np.testing.assert_array_equal(gx[:2], g[:2])          # passes where y is NaN
        assert (gx[np.where(y <= 0)] == 0).all()
    assert _bits(native.relu_forward(x)) == _bits(numpy_ref.relu_forward(x))
    y = numpy_ref.relu_forward(x)
    assert _bits(native.relu_backward(y, g)) == _bits(numpy_ref.relu_backward(y, g))


def test_relu_of_a_subnormal_is_zero_up_to_the_kernels_flush_to_zero():
    # The native kernels run with denormals-are-zero: a negative subnormal compares as
    # -0.0 and passes through unchanged, where NumPy gives 0. Same value up to the flush.
    x = np.array([-1e-40, 1e-40], np.float32)
    want = np.array([0, 1e-40], np.float32)
    np.testing.assert_array_equal(numpy_ref.relu_forward(x), want)
    np.testing.assert_allclose(native.relu_forward(x), want, rtol=0, atol=1e-39)


def test_relu_kernels_take_any_layout_and_rank(rng):
    x = rng.standard_normal((6, 5, 4)).astype(np.float32).transpose(2, 0, 1)[:, ::2]
    g = rng.standard_normal(x.shape).astype(np.float64)        # cast to y's dtype
    for be in (native, numpy_ref):
        y = be.relu_forward(x)
        assert y.shape == x.shape and y.flags.c_contiguous
        np.testing.assert_array_equal(y, np.where(x < 0, 0, x))
        gx = be.relu_backward(y, g)
        assert gx.dtype == np.float32
        np.testing.assert_array_equal(gx, np.where(y <= 0, 0, g).astype(np.float32))
        assert be.relu_forward(np.float32(-2.0) * np.ones((), np.float32)).shape == ()


def test_tensor_relu_goes_through_the_active_backend(each_backend, monkeypatch):
    calls = []
    for name in ("relu_forward", "relu_backward"):
        fn = getattr(each_backend, name)
        monkeypatch.setattr(each_backend, name,
                            lambda *a, _fn=fn, _n=name: calls.append(_n) or _fn(*a))
    x = tl.tensor([-1.0, 2.0, np.nan], requires_grad=True)
    y = x.relu()
    y.backward(np.ones(3, np.float32))
    np.testing.assert_array_equal(x.grad.numpy(), [0, 1, 1])
    k = tl.tensor(np.ones((3, 3, 1, 1), np.float32))
    out = tl.functional.conv2d(tl.tensor(-np.ones((1, 4, 4, 1), np.float32),
                                         requires_grad=True), k, activation="relu")
    out.sum().backward()
    assert calls == ["relu_forward", "relu_backward", "relu_backward"]


# ------------------------------------------------------------- one-way imports --

CORE = ["autograd", "ops", "ops_shape", "tensor", "functional", "optimizers", "random",
        "_threads", "backend", "backend.native", "backend.numpy_ref", "backend._shapes"]


def _imports(name):
    """The core modules that ``tensorlib.<name>`` imports, at import time or lazily inside
    a function."""
    path = os.path.join(SRC, *name.split(".")) + ".py"
    if not os.path.exists(path):
        path = os.path.join(SRC, *name.split("."), "__init__.py")
    package = ["tensorlib"] + name.split(".")[:-1] if not path.endswith("__init__.py") \
        else ["tensorlib"] + name.split(".")
    tree = ast.parse(open(path, encoding="utf-8").read())
    out = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.ImportFrom) and n.level:
            base = ".".join(package[:len(package) - n.level + 1][1:]
                            + ([n.module] if n.module else []))
            for a in n.names:
                full = f"{base}.{a.name}" if base else a.name
                out.add(full if full in CORE else base)
        elif isinstance(n, ast.Import):
            out.update(a.name[len("tensorlib."):] for a in n.names
                       if a.name.startswith("tensorlib."))
    return {m for m in out if m in CORE and m != name}


def test_the_core_modules_import_one_way_only():
    graph = {m: _imports(m) for m in CORE}
    assert "tensor" not in graph["autograd"] and graph["autograd"] == set()
    assert "tensor" in graph["functional"] and "autograd" in graph["ops"]
    state = {}

    def visit(m, path):
        if state.get(m) == "done":
            return
        assert state.get(m) != "open", f"import cycle: {' -> '.join(path + [m])}"
        state[m] = "open"
        for dep in sorted(graph[m]):
            visit(dep, path + [m])
        state[m] = "done"
    for m in CORE:
        visit(m, [])
