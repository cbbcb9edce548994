"""Tests of the native GEMM (tensorlib._kernels.gemm) against a float64 numpy.matmul.

Every SIMD kernel the CPU can run is tested in-process through the ``_set_simd_level``
hook (including "avx512-emu": the AVX-512 kernel source built for AVX2), and the
TENSORLIB_SIMD env var is checked in subprocesses. Small cache blocks (``_set_blocks``)
make small matrices cross every MC/KC/NC boundary.
"""
import os
import platform
import subprocess
import sys

import numpy as np
import pytest

from tensorlib._kernels import gemm


def _cpu_level():
    """The SIMD level this CPU supports, from /proc/cpuinfo (independently of the
    library's own detection, so that a detection bug cannot silently drop the tests of
    a kernel); the library's answer only where there is no /proc/cpuinfo."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((set(line.split(":", 1)[1].split()) for line in f
                          if line.startswith("flags")), set())
    except OSError:
        return gemm.simd_info()["cpu"]
    if platform.machine() not in ("x86_64", "AMD64") or not {"avx2", "fma"} <= flags:
        return "ref"
    return "avx512" if "avx512f" in flags else "avx2"


CPU = _cpu_level()
LEVELS = ["ref"] + (["avx2", "avx512-emu"] if CPU in ("avx2", "avx512") else []) \
    + (["avx512"] if CPU == "avx512" else [])


def test_library_detects_the_cpu_level():
    """simd_info()["cpu"] agrees with /proc/cpuinfo, and the default float32 kernel is
    the best one the CPU runs (unless TENSORLIB_SIMD asks for less)."""
    assert gemm.simd_info()["cpu"] == CPU
    if not os.environ.get("TENSORLIB_SIMD", "").strip():
        assert gemm._set_simd_level(None) == CPU


@pytest.fixture(params=LEVELS)
def level(request):
    """Run the test with one float32 kernel forced; yields (name, MR, NR)."""
    name = gemm._set_simd_level(request.param)
    info = gemm.simd_info()
    assert name == info["kernel"] == request.param
    yield name, info["mr"], info["nr"]
    gemm._set_simd_level(None)
    gemm._reset_blocks()


@pytest.fixture(params=["packed", "direct"])
def path(request):
    """Force the packed-A five-loop path or the unpacked-A (narrow C) path."""
    old = gemm._tuning(direct_a_max_n=0 if request.param == "packed" else 10**9)
    yield request.param
    gemm._tuning(**old)


@pytest.fixture
def small_blocks():
    """Shrink MC/KC/NC so small products span several blocks in every loop."""
    yield gemm._set_blocks
    gemm._reset_blocks()


def _ref(A, B, C0, alpha, beta, ta, tb):
    a = (A.T if ta else A).astype(np.float64)
    b = (B.T if tb else B).astype(np.float64)
    out = alpha * (a @ b)
    bound = abs(alpha) * (np.abs(a) @ np.abs(b))
    if C0 is not None and beta != 0:
        out = out + beta * C0.astype(np.float64)
        bound = bound + abs(beta) * np.abs(C0.astype(np.float64))
    return out, bound


def _check(C, ref, bound, k, dtype):
    eps = np.finfo(dtype).eps
    tol = (2 * max(k, 1) + 4) * eps * bound + np.finfo(dtype).tiny
    err = np.abs(C.astype(np.float64) - ref)
    assert np.all(np.isfinite(C)), "non-finite values in the result"
    assert np.all(err <= tol), f"max error {err.max():.3g} (tolerance {tol.max():.3g})"


def _operands(rng, m, n, k, ta, tb, dtype=np.float32):
    A = rng.standard_normal((k, m) if ta else (m, k)).astype(dtype)
    B = rng.standard_normal((n, k) if tb else (k, n)).astype(dtype)
    return A, B


def _sizes(mr, nr):
    return [(1, 1, 1), (7, 13, 97), (97, 251, 13), (mr - 1, nr + 1, 7), (mr + 1, nr - 1, 13),
            (2 * mr + 1, 3 * nr - 1, 31), (251, 7, 97), (13, 97, 251), (1, 251, 97),
            (97, 1, 251)]


@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
def test_awkward_sizes_all_transposes(level, path, rng, ta, tb):
    _, mr, nr = level
    for m, n, k in _sizes(mr, nr):
        A, B = _operands(rng, m, n, k, ta, tb)
        ref, bound = _ref(A, B, None, 1.0, 0.0, ta, tb)
        for nt in (1, 2):
            C = gemm.sgemm(A, B, trans_a=ta, trans_b=tb, nthreads=nt)
            assert C.shape == (m, n) and C.dtype == np.float32
            _check(C, ref, bound, k, np.float32)


@pytest.mark.parametrize("ta,tb", [(False, False), (True, False), (False, True), (True, True)])
def test_small_blocks_cross_every_loop(level, path, small_blocks, rng, ta, tb):
    _, mr, nr = level
    small_blocks(mc=2 * mr, kc=7, nc=3 * nr)
    for m, n, k in [(97, 251, 13), (6 * mr + 5, 7 * nr + 3, 50), (13, 97, 251), (251, 7, 97)]:
        A, B = _operands(rng, m, n, k, ta, tb)
        C0 = rng.standard_normal((m, n)).astype(np.float32)
        ref, bound = _ref(A, B, C0, 1.5, -0.5, ta, tb)
        for nt in (1, 2, 3):
            C = C0.copy()
            out = gemm.sgemm(A, B, C, alpha=1.5, beta=-0.5, trans_a=ta, trans_b=tb,
                             nthreads=nt)
            assert out is C
            _check(C, ref, bound, k, np.float32)


def test_direct_path_k_super_blocks(level, rng):
    """The unpacked-A path packs op(B) whole; a small cap forces several K passes (the K
    split, which would take (50, 3, 3000), is off)."""
    old = gemm._tuning(direct_a_max_n=10**9, direct_b_max=1000, direct_chunk_rows=7,
                       ksplit_max=1)
    try:
        for (m, n, k), ta in [((97, 40, 1001), False), ((13, 70, 257), True),
                              ((50, 3, 3000), False)]:
            A, B = _operands(rng, m, n, k, ta, False)
            C0 = rng.standard_normal((m, n)).astype(np.float32)
            ref, bound = _ref(A, B, C0, 0.5, 2.0, ta, False)
            for nt in (1, 2):
                C = C0.copy()
                gemm.sgemm(A, B, C, alpha=0.5, beta=2.0, trans_a=ta, nthreads=nt)
                _check(C, ref, bound, k, np.float32)
    finally:
        gemm._tuning(**old)


def test_default_blocks_non_multiples(level, rng):
    """m, k, n past MC, KC, NC and not multiples of them."""
    info = gemm.simd_info()
    m, k, n = info["mc"] + 7, 2 * info["kc"] + 3, info["nc"] + info["nr"] + 5
    A, B = _operands(rng, m, n, k, False, False)
    ref, bound = _ref(A, B, None, 1.0, 0.0, False, False)
    for nt in (1, 2):
        _check(gemm.sgemm(A, B, nthreads=nt), ref, bound, k, np.float32)


@pytest.mark.parametrize("alpha,beta", [(1.0, 0.0), (2.5, 0.0), (1.0, 1.0), (-0.5, 2.0),
                                        (0.0, 3.0), (0.0, 0.0), (1.0, -1.0)])
def test_alpha_beta(level, path, rng, alpha, beta):
    for m, n, k in [(13, 97, 251), (97, 251, 13), (5, 3, 2)]:
        A, B = _operands(rng, m, n, k, False, True)
        C0 = rng.standard_normal((m, n)).astype(np.float32)
        ref, bound = _ref(A, B, C0, alpha, beta, False, True)
        for nt in (1, 2):
            C = C0.copy()
            gemm.sgemm(A, B, C, alpha=alpha, beta=beta, trans_b=True, nthreads=nt)
            _check(C, ref, bound, k, np.float32)


@pytest.mark.parametrize("m,n,k", [(97, 251, 13), (13, 7, 97), (3, 2, 5), (300, 70, 600)])
def test_beta_zero_never_reads_c(level, path, rng, m, n, k):
    A, B = _operands(rng, m, n, k, True, False)
    ref, bound = _ref(A, B, None, 0.75, 0.0, True, False)
    for nt in (1, 2):
        C = np.full((m, n), np.nan, np.float32)
        gemm.sgemm(A, B, C, alpha=0.75, beta=0.0, trans_a=True, nthreads=nt)
        _check(C, ref, bound, k, np.float32)
    C = np.full((m, n), np.nan, np.float32)
    gemm.sgemm(A, B, C, alpha=0.0, beta=0.0, trans_a=True)   # alpha = beta = 0: zeros
    assert np.all(C == 0)


def test_non_contiguous_views(level, path, rng):
    base_a = rng.standard_normal((120, 90)).astype(np.float32)
    base_b = rng.standard_normal((100, 140)).astype(np.float32)
    cases = [
        (base_a[::2, 1::3], base_b[1:31, ::2]),              # sliced: (60, 30) @ (30, 70)
        (base_a[::-1, :40], base_b[:40, ::-1]),              # negative strides
        (np.asfortranarray(base_a[:50, :60]), base_b[:60, :33].T.copy().T),
        (base_a[:90, :77].T, base_b[:90, :55]),               # transposed view: (77, 90)
        (np.broadcast_to(base_a[:1, :20], (37, 20)), base_b[:20, :29]),   # zero stride
    ]
    for A, B in cases:
        ref, bound = _ref(A, B, None, 1.0, 0.0, False, False)
        for nt in (1, 2):
            _check(gemm.sgemm(A, B, nthreads=nt), ref, bound, A.shape[1], np.float32)
    # strides that are not a multiple of the item size (a struct field): copied first
    rec = np.zeros((31, 17), dtype=[("x", "<f4"), ("pad", "i1")])
    rec["x"] = rng.standard_normal((31, 17))
    A = rec["x"]
    assert A.strides[1] == 5
    B = base_b[:17, :23]
    ref, bound = _ref(A, B, None, 1.0, 0.0, False, False)
    _check(gemm.sgemm(A, B), ref, bound, 17, np.float32)


def test_zero_sizes():
    A = np.ones((0, 5), np.float32)
    assert gemm.sgemm(A, np.ones((5, 3), np.float32)).shape == (0, 3)
    assert gemm.sgemm(np.ones((4, 5), np.float32), np.ones((5, 0), np.float32)).shape == (4, 0)
    C = np.full((4, 3), 2.0, np.float32)
    gemm.sgemm(np.ones((4, 0), np.float32), np.ones((0, 3), np.float32), C, beta=1.5)
    assert np.all(C == 3.0)                                  # k = 0: C = beta * C
    C = np.full((4, 3), np.nan, np.float32)
    gemm.sgemm(np.ones((4, 0), np.float32), np.ones((0, 3), np.float32), C)
    assert np.all(C == 0.0)


@pytest.mark.parametrize("m,n,k", [(301, 203, 517), (1001, 70, 300)])
def test_threads_give_identical_bits(rng, m, n, k):
    A, B = _operands(rng, m, n, k, False, False)
    C1 = gemm.sgemm(A, B, nthreads=1)
    for nt in (2, 3, 4):
        assert np.array_equal(gemm.sgemm(A, B, nthreads=nt), C1)


# ------------------------------------------------------------------------ K split ---
# A K-dominant product (C of <= ksplit_max_mn elements, K >= 2 * ksplit_min_k) is cut
# into S = min(ksplit_max, K // ksplit_min_k) slices of K, a function of the shape only.

KSPLIT_SHAPES = [(5, 3, 2000), (97, 151, 1100), (1, 300, 2100), (33, 17, 5003)]


@pytest.mark.parametrize("ta,tb", [(False, False), (True, False), (False, True)])
@pytest.mark.parametrize("m,n,k", KSPLIT_SHAPES)
def test_ksplit_matches_numpy_and_threads(level, path, rng, m, n, k, ta, tb):
    """Correct (alpha, beta, transposes, every kernel, both paths) and bit-identical at
    1, 2, 3 and 7 threads."""
    A, B = _operands(rng, m, n, k, ta, tb)
    C0 = rng.standard_normal((m, n)).astype(np.float32)
    ref, bound = _ref(A, B, C0, -0.75, 0.5, ta, tb)
    runs = []
    for nt in (1, 2, 3, 7):
        C = C0.copy()
        gemm.sgemm(A, B, C, alpha=-0.75, beta=0.5, trans_a=ta, trans_b=tb, nthreads=nt)
        _check(C, ref, bound, k, np.float32)
        runs.append(C)
    for C in runs[1:]:
        np.testing.assert_array_equal(C, runs[0])


def test_ksplit_is_the_ordered_sum_of_its_slices(rng):
    """The issue's weight-gradient shape A (288 x 7744) @ B (7744 x 64) is computed as 8
    K slices (each a GEMM too short to split again), added in slice order: exactly
    that sum, at every thread count (the slicing depends on the shape only)."""
    m, k, n = 288, 7744, 64
    t = gemm._tuning()
    S = min(t["ksplit_max"], k // t["ksplit_min_k"])
    assert S > 1 and k // S < 2 * t["ksplit_min_k"] and m * n <= t["ksplit_max_mn"]
    A, B = _operands(rng, m, n, k, False, False)
    bounds = [k * s // S for s in range(S + 1)]
    want = gemm.sgemm(A[:, :bounds[1]], B[:bounds[1]])
    for s in range(1, S):
        want += gemm.sgemm(A[:, bounds[s]:bounds[s + 1]], B[bounds[s]:bounds[s + 1]])
    for nt in (1, 2, 3, 7):
        np.testing.assert_array_equal(gemm.sgemm(A, B, nthreads=nt), want)


def test_ksplit_float64_and_beta_zero_never_reads_c(rng):
    A, B = _operands(rng, 40, 24, 3001, False, False, np.float64)
    ref, bound = _ref(A, B, None, 2.0, 0.0, False, False)
    outs = []
    for nt in (1, 3):
        C = np.full((40, 24), np.nan)
        gemm.dgemm(A, B, C, alpha=2.0, beta=0.0, nthreads=nt)
        _check(C, ref, bound, 3001, np.float64)
        outs.append(C)
    np.testing.assert_array_equal(outs[0], outs[1])


def test_tasks_repeat_identically_under_contention(rng):
    """Many steps through two shared B buffers (tiny blocks), more threads than cores,
    run repeatedly: the task protocol (csrc/tl_tasks.h) gives the same bits every time
    and never hangs."""
    old = gemm._tuning(serial_below=0, nopack_below=0, direct_a_max_n=0)
    gemm._set_blocks(mc=16, kc=16, nc=64)
    try:
        A, B = _operands(rng, 70, 300, 190, False, False)
        ref, bound = _ref(A, B, None, 1.0, 0.0, False, False)
        first = gemm.sgemm(A, B, nthreads=1)
        _check(first, ref, bound, 190, np.float32)
        for i in range(30):
            np.testing.assert_array_equal(gemm.sgemm(A, B, nthreads=(3, 7)[i % 2]), first)
    finally:
        gemm._tuning(**old)
        gemm._reset_blocks()


def test_c_aliasing_an_input(rng):
    A = rng.standard_normal((40, 40)).astype(np.float32)
    B = rng.standard_normal((40, 40)).astype(np.float32)
    ref, bound = _ref(A, B, A, 1.0, 1.0, False, False)
    gemm.sgemm(A, B, A, beta=1.0, nthreads=2)                  # A is also C
    _check(A, ref, bound, 40, np.float32)


@pytest.mark.parametrize("nt", [1, 2])
def test_large_random_vector_residual(rng, nt):
    """C x == A (B x) for a big product, checked in O(n^2)."""
    m, k, n = 1031, 1283, 1109
    A, B = _operands(rng, m, n, k, False, False)
    C = gemm.sgemm(A, B, nthreads=nt)
    x = rng.standard_normal(n)
    lhs = C.astype(np.float64) @ x
    rhs = A.astype(np.float64) @ (B.astype(np.float64) @ x)
    scale = np.abs(A).astype(np.float64) @ (np.abs(B).astype(np.float64) @ np.abs(x))
    assert np.all(np.abs(lhs - rhs) <= 1e-5 * scale)


# ----------------------------------------------------------------------- float64 ---

@pytest.mark.parametrize("ta,tb", [(False, False), (True, False), (False, True), (True, True)])
def test_dgemm(rng, path, small_blocks, ta, tb):
    for lv in ["ref"] + (["avx2"] if CPU != "ref" else []):
        gemm._set_simd_level(lv)
        for blocks in (None, dict(mc=8, kc=5, nc=24)):
            gemm._reset_blocks()
            if blocks:
                small_blocks(**blocks)
            sizes = [(1, 1, 1), (7, 13, 97), (97, 251, 13), (251, 7, 97), (5, 9, 7)]
            for m, n, k in sizes + ([] if blocks else [(150, 130, 300)]):
                A, B = _operands(rng, m, n, k, ta, tb, np.float64)
                C0 = rng.standard_normal((m, n))
                ref, bound = _ref(A, B, C0, -1.25, 0.5, ta, tb)
                for nt in (1, 2):
                    C = C0.copy()
                    gemm.dgemm(A, B, C, alpha=-1.25, beta=0.5, trans_a=ta, trans_b=tb,
                               nthreads=nt)
                    _check(C, ref, bound, k, np.float64)
                C = np.full((m, n), np.nan)
                gemm.dgemm(A, B, C, trans_a=ta, trans_b=tb)
                ref, bound = _ref(A, B, None, 1.0, 0.0, ta, tb)
                _check(C, ref, bound, k, np.float64)
    gemm._set_simd_level(None)


def test_dgemm_views(rng):
    base = rng.standard_normal((80, 90))
    A, B = base[::-2, 3:50], base[10:57, ::3]
    ref, bound = _ref(A, B, None, 1.0, 0.0, False, False)
    _check(gemm.dgemm(A, B, nthreads=2), ref, bound, A.shape[1], np.float64)


# -------------------------------------------------------- SIMD selection / errors ---

def _run_with_env(code, **env):
    src = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(gemm.__file__))))
    full = dict(os.environ, **env)
    full["PYTHONPATH"] = src + os.pathsep + full.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, "-c", code], env=full, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


_SUBPROCESS_CHECK = """
import numpy as np
from tensorlib._kernels import gemm
rng = np.random.default_rng(1)
A = rng.standard_normal((97, 251)).astype(np.float32)
B = rng.standard_normal((251, 61)).astype(np.float32)
ref = A.astype(np.float64) @ B.astype(np.float64)
for nt in (1, 2):
    C = gemm.sgemm(A, B, nthreads=nt)
    assert np.abs(C - ref).max() < 1e-3, np.abs(C - ref).max()
print(gemm.simd_info()["kernel"])
"""


@pytest.mark.parametrize("value", ["ref", "avx2", "avx512", "AVX2", "bogus", ""])
def test_env_var_forces_lower_or_equal_level(value):
    got = _run_with_env(_SUBPROCESS_CHECK, TENSORLIB_SIMD=value)
    order = ["ref", "avx2", "avx512"]
    want = value.lower() if value.lower() in order else CPU
    if order.index(want) > order.index(CPU):
        want = CPU                          # asking for more than the CPU has: falls back
    assert got == want


def test_tuning_hook():
    old = gemm._tuning()
    assert {"ksplit_max_mn", "ksplit_min_k", "ksplit_max"} <= set(old)
    assert gemm._tuning(serial_below=5.0) == old
    assert gemm._tuning(**old)["serial_below"] == 5.0
    assert gemm._tuning() == old
    with pytest.raises(ValueError, match="unknown setting"):
        gemm._tuning(bogus=1)


def test_simd_info_and_hook():
    info = gemm.simd_info()
    assert {"kernel", "mr", "nr", "mc", "kc", "nc", "cpu"} <= set(info)
    assert info["mc"] % info["mr"] == 0 and info["nc"] % info["nr"] == 0
    assert gemm._set_simd_level("ref") == "ref"
    assert gemm.simd_info()["mr"] == 4
    assert gemm._set_simd_level("avx512") == (CPU if CPU != "ref" else "ref")
    with pytest.raises(ValueError, match="_set_simd_level.*'sse9'"):
        gemm._set_simd_level("sse9")
    assert gemm._set_simd_level(None) == info["kernel"]


@pytest.mark.parametrize("fn,dt,other", [(gemm.sgemm, np.float32, np.float64),
                                         (gemm.dgemm, np.float64, np.float32)])
def test_error_messages(fn, dt, other):
    op = fn.__name__
    a = np.ones((3, 4), dt)
    b = np.ones((4, 5), dt)
    cases = [
        ((np.ones(4, dt), b), {}, r"A must be 2-D. Received: ndim=1"),
        ((a, np.ones((2, 4, 5), dt)), {}, r"B must be 2-D. Received: ndim=3"),
        ((a.astype(other), b), {}, rf"A must have dtype {np.dtype(dt).name}. Received: "
                                   rf"dtype={np.dtype(other).name}"),
        ((a, b.astype(np.int32)), {}, r"B must have dtype .* Received: dtype=int32"),
        (([[1.0]], b), {}, r"A must be a 2-D numpy.ndarray .* Received: list"),
        ((a, np.ones((5, 5), dt)), {}, r"inner dimensions differ: op\(A\) is 3x4 and "
                                       r"op\(B\) is 5x5"),
        ((a, b), {"trans_a": True}, r"inner dimensions differ: op\(A\) is 4x3"),
        ((a, b, np.ones((3, 4), dt)), {}, r"C must have shape \(3, 5\). Received: "
                                          r"shape=\(3, 4\)"),
        ((a, b, np.ones((3, 5), other)), {}, r"C must have dtype .* Received: dtype="),
        ((a, b, np.ones((5, 3), dt).T), {}, r"C must be C-contiguous"),
        ((a, b, [[0.0] * 5] * 3), {}, r"C must be a numpy.ndarray or None. Received: list"),
        ((a, b), {"nthreads": 0}, r"nthreads must be a positive int. Received: 0"),
        ((a, b), {"nthreads": True}, r"nthreads must be a positive int. Received: True"),
        ((a, b), {"alpha": "x"}, r"alpha must be a real number. Received: 'x'"),
        ((a, b), {"beta": None}, r"beta must be a real number. Received: None"),
    ]
    for args, kwargs, pattern in cases:
        with pytest.raises(ValueError, match=rf"^{op}: " + pattern):
            fn(*args, **kwargs)
    ro = np.ones((3, 5), dt)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match=rf"^{op}: C must be writeable"):
        fn(a, b, ro)
