"""Thread counts: the one helper (tensorlib._threads) and the kernels' parallel paths.

* set_num_threads / TENSORLIB_NUM_THREADS / OMP_NUM_THREADS are bounded by MAX_THREADS
  (1024); malformed environment values are ignored with one warning, as libgomp does
  (checked in subprocesses with real environment variables, so a crash is a failure).
* Below their SERIAL_BELOW thresholds the kernels run on one thread, so small test
  cases never reach the parallel code. The ``parallel`` fixture sets every threshold
  to 0 (each kernel module's ``_set_thresholds`` hook) and the kernels are compared
  with the NumPy reference at 1, 2, 3 and 7 threads, and with themselves: GEMM, conv,
  pooling and ReLU claim results that do not depend on the thread count, bit for bit.
"""
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

import tensorlib
import tensorlib._threads as th
from tensorlib._kernels import conv as kconv
from tensorlib._kernels import elementwise as kew
from tensorlib._kernels import gemm as kgemm
from tensorlib._kernels import pool as kpool
from tensorlib.backend import native, numpy_ref

SRC = os.path.dirname(os.path.dirname(os.path.abspath(tensorlib.__file__)))
THREADS = [1, 2, 3, 7]


def run_snippet(code, **env):
    """Run code in a fresh interpreter with env (None values are removed); its stdout."""
    full = dict(os.environ)
    for name in ("TENSORLIB_NUM_THREADS", "OMP_NUM_THREADS"):
        full.pop(name, None)
    full.update({k: v for k, v in env.items() if v is not None})
    full["PYTHONPATH"] = SRC + os.pathsep + full.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=full,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, (f"return code {out.returncode}\nstdout:\n{out.stdout}\n"
                                 f"stderr:\n{out.stderr[-3000:]}")
    return out.stdout


# ------------------------------------------------------------ the thread count --

def test_set_num_threads_bounds_and_types():
    try:
        th.set_num_threads(np.int64(3))
        assert th.get_num_threads() == 3 and type(th.get_num_threads()) is int
        th.set_num_threads(th.MAX_THREADS)
        assert th.get_num_threads() == 1024
        for bad in (0, -1, 1025, 100000, 2**63, True, np.bool_(True), 2.0, "2", [2]):
            with pytest.raises(ValueError, match=r"^set_num_threads: .*Received: n="):
                th.set_num_threads(bad)
        assert th.get_num_threads() == 1024             # unchanged by the failures
    finally:
        th.set_num_threads(None)


def test_huge_thread_count_is_refused_not_a_crash():
    """set_num_threads(100000) then a ReLU / conv on 1M elements used to segfault in
    GOMP_parallel; now the call is refused, and the kernels clamp what they are given."""
    out = run_snippet("""
        import numpy as np, tensorlib as tl
        from tensorlib import functional as F
        from tensorlib._kernels import elementwise
        try:
            tl.set_num_threads(100000)
        except ValueError as e:
            assert "Received: n=100000" in str(e), e
            print("refused")
        x = np.random.default_rng(0).standard_normal(1 << 20).astype(np.float32)
        out = np.empty_like(x)
        elementwise.relu_forward(x, out, 100000)       # clamped to 1024 threads
        assert np.array_equal(out, np.maximum(x, 0))
        y = F.conv2d(np.ones((4, 64, 64, 8), np.float32), np.ones((3, 3, 8, 8), np.float32))
        assert y.shape == (4, 62, 62, 8)
        print("ok")
    """)
    assert "refused" in out and "ok" in out


@pytest.mark.parametrize("value", ["abc", "0", "-4", "2.5", "100000", "1e3", "0x4", "²"])
@pytest.mark.parametrize("var", ["OMP_NUM_THREADS", "TENSORLIB_NUM_THREADS"])
def test_malformed_env_is_ignored_with_one_warning(var, value):
    """As libgomp: warn once, fall back (OMP_NUM_THREADS=3 stands behind a bad
    TENSORLIB_NUM_THREADS; the CPU count behind a bad OMP_NUM_THREADS)."""
    fallback = "3" if var == "TENSORLIB_NUM_THREADS" else None
    out = run_snippet("""
        import warnings
        import numpy as np, tensorlib as tl
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            counts = {tl.get_num_threads() for _ in range(5)}
            y = tl.tensor(np.linspace(-1, 1, 1 << 20, dtype=np.float32)).relu()
            counts.add(tl.get_num_threads())
        msgs = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
        from tensorlib._threads import available_cpus
        print(sorted(counts), len(msgs), available_cpus())
        print(msgs[0] if msgs else "")
    """, **{var: value, "OMP_NUM_THREADS": fallback} if fallback else {var: value})
    first, message = out.splitlines()[:2]
    counts, nwarn, cpus = first.rsplit(" ", 2)
    assert counts == f"[{fallback or min(int(cpus), 1024)}]"
    assert nwarn == "1", out
    assert var in message and "ignoring" in message


@pytest.mark.parametrize("value,want", [(" 3 ", 3), ("2,4", 2), ("+2", 2), ("0003", 3),
                                        ("1024", 1024), ("", None)])
def test_env_values_libgomp_accepts(monkeypatch, value, want):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setenv("TENSORLIB_NUM_THREADS", value)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                 # accepted values never warn
        assert th.get_num_threads() == (want or min(th.available_cpus(), 1024))


def test_env_is_reread_and_cached_by_raw_value(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setenv("TENSORLIB_NUM_THREADS", "2")
    assert th.get_num_threads() == 2
    monkeypatch.setenv("TENSORLIB_NUM_THREADS", "5")
    assert th.get_num_threads() == 5
    assert th._parsed["TENSORLIB_NUM_THREADS", "5"] == 5
    with pytest.warns(RuntimeWarning, match="TENSORLIB_NUM_THREADS='junk'"):
        monkeypatch.setenv("TENSORLIB_NUM_THREADS", "junk")
        th._parsed.pop(("TENSORLIB_NUM_THREADS", "junk"), None)
        th.get_num_threads()
    with warnings.catch_warnings():
        warnings.simplefilter("error")                 # cached: no second warning
        assert th.get_num_threads() == min(th.available_cpus(), 1024)


def test_env_thread_count_runs_kernels():
    """A valid env count reaches the kernels (subprocess, real environment)."""
    out = run_snippet("""
        import numpy as np, tensorlib as tl
        from tensorlib import functional as F
        assert tl.get_num_threads() == 3, tl.get_num_threads()
        y = F.conv2d(np.ones((8, 32, 32, 4), np.float32), np.ones((3, 3, 4, 4), np.float32))
        assert np.all(y.numpy() == 36)
        print("ok")
    """, TENSORLIB_NUM_THREADS="3", OMP_NUM_THREADS="abc")
    assert "ok" in out


# --------------------------------------------------- forced parallel kernel paths --

@pytest.fixture
def parallel():
    """Every kernel module's serial thresholds at 0 (small ReLU chunks too), restored."""
    saved = [(kconv, kconv._set_thresholds(serial_below=0, reduce_below=0)),
             (kpool, kpool._set_thresholds(serial_below=0))]
    saved.append((kgemm, kgemm._set_thresholds(serial_below=0, nopack_below=0)))
    saved.append((kew, kew._set_thresholds(serial_below=0, chunk=1000)))
    yield
    for m, old in saved:
        m._set_thresholds(**old)


def test_threshold_hooks_round_trip():
    for m in (kconv, kpool, kew, kgemm):
        old = m._set_thresholds(serial_below=0)
        assert m._set_thresholds(**old)["serial_below"] == 0
        assert m._set_thresholds() == old
    assert kew._set_thresholds()["chunk"] == 1 << 14


def _same_bits(results):
    for r in results[1:]:
        for a, b in zip(results[0], r):
            np.testing.assert_array_equal(a, b)


GEMM_SHAPES = [(1, 1, 1), (7, 13, 97), (5, 3, 2000), (97, 251, 13), (33, 1, 517),
               (1, 300, 7), (150, 130, 300), (13, 70, 1001), (200, 17, 3),
               (29, 41, 3333)]       # (5, 3, 2000) and (29, 41, 3333) take the K split


_CPU = kgemm.simd_info()["cpu"]      # test_gemm checks it against /proc/cpuinfo
GEMM_LEVELS = ["ref"] + (["avx2"] if _CPU != "ref" else []) \
    + (["avx512"] if _CPU == "avx512" else [])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("direct", [False, True], ids=["packed", "direct"])
@pytest.mark.parametrize("level", GEMM_LEVELS)
def test_gemm_parallel_paths(parallel, rng, dtype, direct, level):
    """Awkward and K-dominant shapes (K split), with small blocks so that every thread
    gets tasks, for every micro-kernel the CPU runs."""
    assert kgemm._set_simd_level(level) == level
    old = kgemm._tuning(direct_a_max_n=10**9 if direct else 0, direct_b_max=2000,
                        direct_chunk_rows=5)
    kgemm._set_blocks(mc=16, kc=32, nc=48)
    f = kgemm.sgemm if dtype == np.float32 else kgemm.dgemm
    eps = np.finfo(dtype).eps
    try:
        for m, n, k in GEMM_SHAPES:
            for ta, tb in ((False, False), (True, True)):
                A = rng.standard_normal((k, m) if ta else (m, k)).astype(dtype)
                B = rng.standard_normal((n, k) if tb else (k, n)).astype(dtype)
                a64, b64 = (A.T if ta else A).astype(np.float64), (B.T if tb else B)
                ref, bound = a64 @ b64, np.abs(a64) @ np.abs(b64.astype(np.float64))
                C0 = rng.standard_normal((m, n)).astype(dtype)
                runs = []
                for nt in THREADS:
                    C = C0.copy()
                    f(A, B, C, alpha=1.0, beta=0.5, trans_a=ta, trans_b=tb, nthreads=nt)
                    err = np.abs(C - (ref + 0.5 * C0.astype(np.float64)))
                    assert np.all(err <= (2 * k + 4) * eps * (bound + np.abs(C0)) + 1e-30)
                    runs.append([C])
                _same_bits(runs)
    finally:
        kgemm._tuning(**old)
        kgemm._set_simd_level(None)
        kgemm._reset_blocks()


CONV_CASES = [
    # N, H, W, cin, cout, kh, kw, strides, padding, dilation
    (1, 23, 19, 3, 5, 3, 3, (1, 1), "same", (1, 1)),      # one image: row bands
    (9, 7, 6, 4, 17, 3, 2, (1, 1), "valid", (1, 1)),      # many images: groups
    (3, 11, 13, 5, 6, 5, 3, (2, 3), "same", (1, 2)),
    (2, 9, 10, 17, 33, 1, 1, (1, 1), "valid", (1, 1)),    # pointwise
    (4, 8, 8, 2, 3, 3, 3, (1, 1), "same", (2, 2)),
]


def _conv_args(case, dtype, rng):
    N, H, W, cin, cout, kh, kw, s, pad, d = case
    x = rng.standard_normal((N, H, W, cin)).astype(dtype)
    w = rng.standard_normal((kh, kw, cin, cout)).astype(dtype)
    b = rng.standard_normal(cout).astype(dtype)
    g = native.geometry(x.shape, (kh, kw), s, pad, d)
    return x, w, b, s, pad, d, ((g.sh, g.sw), (g.dh, g.dw), (g.pt, g.pl))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CONV_CASES)
def test_conv_parallel_paths(parallel, rng, case, dtype):
    """Every conv kernel variant at 1, 2, 3, 7 threads: equal to the reference, and
    bit-identical across thread counts."""
    x, w, b, s, pad, d, args = _conv_args(case, dtype, rng)
    y0 = numpy_ref.conv2d_forward(x, w, b, s, pad, d, True)
    gy = rng.standard_normal(y0.shape).astype(dtype)
    gx0 = numpy_ref.conv2d_backward_input(gy, w, x.shape, s, pad, d)
    gw0 = numpy_ref.conv2d_backward_weight(gy, x, w.shape, s, pad, d)
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
    runs = []
    for nt in THREADS:
        res = []
        for f in native.FORWARD_KERNELS:
            res.append(np.full_like(y0, np.nan))
            f(x, w, b, res[-1], *args, relu=True, nthreads=nt)
            np.testing.assert_allclose(res[-1], y0, **tol)
        for f in native.INPUT_GRAD_KERNELS:
            if f is kconv.conv2d_backward_input_direct and s != (1, 1):
                continue
            res.append(np.full_like(x, np.nan))
            f(gy, w, res[-1], *args, nthreads=nt)
            np.testing.assert_allclose(res[-1], gx0, **tol)
        for f in native.WEIGHT_GRAD_KERNELS:
            res += [np.full_like(w, np.nan), np.full_like(b, np.nan)]
            f(x, gy, res[-2], res[-1], *args, nthreads=nt)
            np.testing.assert_allclose(res[-2], gw0, **tol)
            np.testing.assert_allclose(res[-1], gy.sum(axis=(0, 1, 2)), **tol)
        res.append(np.empty_like(b))
        kconv.conv2d_backward_bias(gy.reshape(-1, gy.shape[-1]), res[-1], nthreads=nt)
        np.testing.assert_allclose(res[-1], gy.sum(axis=(0, 1, 2)), **tol)
        runs.append(res)
    _same_bits(runs)


def test_weight_gradient_slots_do_not_depend_on_threads(parallel, rng):
    """A kernel with K*O past the partials' budget (2M elements / slot) used to get one
    slot per thread, so its bits changed with the thread count."""
    x = rng.standard_normal((6, 3, 3, 256)).astype(np.float32)
    w_shape = (3, 3, 256, 256)
    gy = rng.standard_normal((6, 1, 1, 256)).astype(np.float32)
    runs = []
    for nt in (1, 4, 7):
        res = []
        for f in native.WEIGHT_GRAD_KERNELS:
            res += [np.empty(w_shape, np.float32), np.empty(256, np.float32)]
            f(x, gy, res[-2], res[-1], (1, 1), (1, 1), (0, 0), nthreads=nt)
        runs.append(res)
    _same_bits(runs)


POOL_CASES = [
    # N, H, W, C, pool, strides, padding
    (1, 17, 13, 3, (3, 3), (1, 1), "same"),
    (7, 8, 9, 5, (2, 2), (2, 2), "valid"),
    (3, 11, 7, 17, (3, 2), (2, 3), "same"),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", POOL_CASES)
def test_pool_parallel_paths(parallel, rng, case, dtype):
    N, H, W, C, k, s, pad = case
    x = rng.standard_normal((N, H, W, C)).astype(dtype)
    y0, am0 = numpy_ref.max_pool2d_forward(x, k, s, pad)
    gy = rng.standard_normal(y0.shape).astype(dtype)
    ref = [y0, am0, numpy_ref.max_pool2d_backward(gy, am0, x.shape, k, s, pad),
           numpy_ref.avg_pool2d_forward(x, k, s, pad),
           numpy_ref.avg_pool2d_backward(gy, x.shape, k, s, pad)]
    runs = []
    for nt in THREADS:
        th.set_num_threads(nt)
        try:
            y, am = native.max_pool2d_forward(x, k, s, pad)
            res = [y, am, native.max_pool2d_backward(gy, am, x.shape, k, s, pad),
                   native.avg_pool2d_forward(x, k, s, pad),
                   native.avg_pool2d_backward(gy, x.shape, k, s, pad)]
        finally:
            th.set_num_threads(None)
        for got, want in zip(res, ref):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
        runs.append(res)
    _same_bits(runs)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 999, 1000, 1001, 4567])
def test_relu_parallel_paths(parallel, rng, dtype, n):
    x = rng.standard_normal(n).astype(dtype)
    x[::7] = np.nan
    x[1::11] = -0.0
    g = rng.standard_normal(n).astype(dtype)
    want_y = np.where(x < 0, 0, x).astype(dtype)
    want_g = np.where(want_y <= 0, 0, g).astype(dtype)
    for nt in THREADS:
        y, gi = np.empty_like(x), np.empty_like(x)
        kew.relu_forward(x, y, nt)
        kew.relu_backward(y, g, gi, nt)
        np.testing.assert_array_equal(y, want_y)
        np.testing.assert_array_equal(np.signbit(y), np.signbit(want_y))
        np.testing.assert_array_equal(gi, want_g)
