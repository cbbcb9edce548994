"""Sizes that overflow the kernels' index arithmetic are refused in Python, never crash.

Strides, dilation rates, window and pool sizes are ints in [1, 2**31 - 1]; every buffer
a kernel may allocate or index (input, output, padded input, patch matrix, kernel) holds
at most 2**59 elements (backend._shapes); the public Cython entry points re-check what
they receive. Each case runs in a subprocess, so a segfault (or an ASan report, when the
suite runs under AddressSanitizer) is a test failure, not a dead test run: the test
asserts return code 0 and the error type and message the snippet saw.
"""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import tensorlib
from tensorlib.backend import native, numpy_ref

SRC = os.path.dirname(os.path.dirname(os.path.abspath(tensorlib.__file__)))

PRELUDE = """
import numpy as np
import tensorlib as tl
from tensorlib import functional as F
from tensorlib.backend import native, numpy_ref
from tensorlib._kernels import conv, pool, gemm, elementwise

def expect(fn, exc, *fragments):
    try:
        fn()
    except exc as e:
        msg = str(e)
        assert all(f in msg for f in fragments), (type(e).__name__, msg)
        print("RAISED", type(e).__name__, msg)
    else:
        raise AssertionError("no error raised")
"""


def run_snippet(code, **env):
    """Run PRELUDE + code in a fresh interpreter on this tensorlib; return its stdout."""
    full = dict(os.environ, **env)
    full["PYTHONPATH"] = SRC + os.pathsep + full.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, "-c", PRELUDE + textwrap.dedent(code)], env=full,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, (f"return code {out.returncode}\nstdout:\n{out.stdout}\n"
                                 f"stderr:\n{out.stderr[-3000:]}")
    return out.stdout


X1 = "np.ones((1, 1, 1, 1), np.float32)"
W3 = "np.ones((3, 3, 1, 1), np.float32)"

# ------------------------------------------------------------- functional ops --

FUNCTIONAL_CASES = {
    # the reported crash: the scratch size wrapped to 1, the gather wrote past it
    "conv_dilation_2**62-1": (
        f"F.conv2d({X1}, {W3}, dilation_rate=2**62 - 1, padding='same')",
        "ValueError", ["conv2d", "dilation_rate", "Received: dilation_rate=4611686018427387903"]),
    "conv_dilation_10**10": (
        f"F.conv2d({X1}, {W3}, dilation_rate=10**10, padding='same')",
        "ValueError", ["conv2d", "dilation_rate", "Received: dilation_rate=10000000000"]),
    "conv_dilation_2**31-1_padded_too_big": (
        f"F.conv2d({X1}, {W3}, dilation_rate=2**31 - 1, padding='same')",
        "ValueError", ["conv2d", "padded input", "Received:", "dilation_rate=(2147483647"]),
    "conv_strides_2**63": (
        f"F.conv2d({X1}, np.ones((1, 1, 1, 1), np.float32), strides=2**63)",
        "ValueError", ["conv2d", "strides", "Received: strides=9223372036854775808"]),
    "conv_strides_float": (
        f"F.conv2d({X1}, np.ones((1, 1, 1, 1), np.float32), strides=1.0)",
        "ValueError", ["conv2d", "strides", "Received: strides=1.0"]),
    "conv_dilation_none": (
        f"F.conv2d({X1}, np.ones((1, 1, 1, 1), np.float32), dilation_rate=None)",
        "ValueError", ["conv2d", "dilation_rate", "Received: dilation_rate=None"]),
    "conv_strides_bool": (
        f"F.conv2d({X1}, np.ones((1, 1, 1, 1), np.float32), strides=(True, 1))",
        "ValueError", ["conv2d", "strides", "Received: strides=(True, 1)"]),
    "avg_pool_10**12_same_backward": (
        "x = tl.tensor(np.ones((1, 2, 2, 1), np.float32), requires_grad=True)\n"
        "F.avg_pool2d(x, pool_size=10**12, padding='same').sum().backward()",
        "ValueError", ["avg_pool2d", "pool_size", "Received: pool_size=1000000000000"]),
    "max_pool_size_2**63": (
        "F.max_pool2d(np.ones((1, 2, 2, 1), np.float32), pool_size=2**63)",
        "ValueError", ["max_pool2d", "pool_size", "Received: pool_size=9223372036854775808"]),
    "max_pool_size_none": (
        "F.max_pool2d(np.ones((1, 2, 2, 1), np.float32), pool_size=None)",
        "ValueError", ["max_pool2d", "pool_size", "Received: pool_size=None"]),
    "max_pool_size_bool": (
        "F.max_pool2d(np.ones((1, 2, 2, 1), np.float32), pool_size=True)",
        "ValueError", ["max_pool2d", "pool_size", "Received: pool_size=True"]),
    "avg_pool_strides_float": (
        "F.avg_pool2d(np.ones((1, 2, 2, 1), np.float32), 2, strides=2.0)",
        "ValueError", ["avg_pool2d", "strides", "Received: strides=2.0"]),
    "avg_pool_strides_2**63": (
        "F.avg_pool2d(np.ones((1, 2, 2, 1), np.float32), 2, strides=(1, 2**63))",
        "ValueError", ["avg_pool2d", "strides", "Received: strides=(1, 9223372036854775808)"]),
    "max_pool_strides_str": (
        "F.max_pool2d(np.ones((1, 2, 2, 1), np.float32), 2, strides='2')",
        "ValueError", ["max_pool2d", "strides", "Received: strides='2'"]),
    "max_pool_argmax_plane_past_int32": (     # zero channels: no memory, huge plane
        "F.max_pool2d(np.ones((1, 2**16, 2**16, 0), np.float32), 2)",
        "ValueError", ["max_pool2d", "int32 argmax", "Received:"]),
}


@pytest.mark.parametrize("name", sorted(FUNCTIONAL_CASES))
def test_functional_refuses_unrepresentable_sizes(name):
    call, exc, fragments = FUNCTIONAL_CASES[name]
    code = f"expect(lambda: exec({call!r}), {exc}, *{fragments!r})\n"
    assert f"RAISED {exc}" in run_snippet(code)


@pytest.mark.parametrize("backend", ["native", "numpy"])
def test_backend_backward_refuses_huge_x_shape(backend):
    """Backward passes take x_shape as a tuple: geometry bounds it before np.empty."""
    out = run_snippet(f"""
        be = {backend if backend == "native" else "numpy_ref"}
        gy = np.ones((1, 1, 1, 1), np.float32)
        huge = (2**40, 2**40, 2**40, 1)
        expect(lambda: be.avg_pool2d_backward(gy, huge, (2, 2), (2, 2), "valid"),
               ValueError, "avg_pool2d", "input would hold", "Received: input shape")
        expect(lambda: be.max_pool2d_backward(gy, np.zeros((1, 1, 1, 1), np.int32), huge,
                                              (2, 2), (2, 2), "valid"),
               ValueError, "max_pool2d", "Received:")
        expect(lambda: be.conv2d_backward_input(gy, np.ones((1, 1, 1, 1), np.float32), huge,
                                                (1, 1), "valid", (1, 1)),
               ValueError, "conv2d", "input would hold", "Received: input shape")
        expect(lambda: be.conv2d_forward(np.ones((1, 3, 3, 1), np.float32),
                                         np.ones((3, 3, 1, 1), np.float32), None,
                                         (1, 1), "same", (2**31, 1)),
               ValueError, "conv2d", "dilation_rate", "Received: dilation_rate=(2147483648, 1)")
    """)
    assert out.count("RAISED ValueError") == 4


def test_huge_but_representable_allocation_is_a_memory_error():
    """Dilation 2**27 on a 1x1 'same' input: the direct kernel's 2**56-element padded
    image is representable, so allocating it fails cleanly (MemoryError), never wraps;
    im2col + GEMM needs no padded image and gives the right answer (only the centre tap
    is in bounds); the public op (whichever kernel the backend picks, and the NumPy
    reference) either raises MemoryError or gives that answer. (Under AddressSanitizer,
    malloc must return NULL for it rather than abort.)"""
    asan = os.environ.get("ASAN_OPTIONS", "")
    out = run_snippet(f"""
        x, w = {X1}, {W3}
        g = native.geometry(x.shape, (3, 3), (1, 1), "same", (2**27, 2**27))
        args = ((g.sh, g.sw), (g.dh, g.dw), (g.pt, g.pl))
        y = np.full((1, 1, 1, 1), np.nan, np.float32)
        expect(lambda: conv.conv2d_forward_direct(x, w, None, y, *args), MemoryError)
        conv.conv2d_forward_gemm(x, w, None, y, *args)
        assert y.ravel().tolist() == [1.0], y
        for name in ("native", "numpy"):
            tl.set_backend(name)
            try:
                got = F.conv2d(x, w, dilation_rate=2**27, padding="same").numpy()
            except MemoryError:
                print("RAISED", name)
            else:
                assert got.ravel().tolist() == [1.0], (name, got)
                print("RIGHT", name)
    """, ASAN_OPTIONS=(asan + ":" if asan else "") + "allocator_may_return_null=1")
    assert out.count("RAISED") + out.count("RIGHT") == 3, out


# ------------------------------------------------------- huge windows that fit --

def test_huge_windows_that_fit_work_natively(rng):
    """Pool size 2**31 - 1 along one axis and dilation 2**16 are legal: the native
    kernels clip the windows to the input and agree with the reference."""
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    k, s = (2**31 - 1, 1), (1, 1)
    y = native.avg_pool2d_forward(x, k, s, "same")
    np.testing.assert_allclose(y, np.broadcast_to(x.mean(axis=1, keepdims=True), x.shape),
                               rtol=1e-6)
    ym, am = native.max_pool2d_forward(x, k, s, "same")
    np.testing.assert_array_equal(ym, np.broadcast_to(x.max(axis=1, keepdims=True), x.shape))
    gx = native.avg_pool2d_backward(np.ones_like(y), x.shape, k, s, "same")
    np.testing.assert_allclose(gx, np.ones_like(x), rtol=1e-6)
    gx = native.max_pool2d_backward(np.ones_like(y), am, x.shape, k, s, "same")
    np.testing.assert_array_equal(gx.sum(axis=1), np.full((2, 4, 5), 3.0))
    w = rng.standard_normal((3, 3, 5, 4)).astype(np.float32)
    d = (2**16, 1)
    np.testing.assert_allclose(native.conv2d_forward(x, w, None, (1, 1), "same", d),
                               numpy_ref.conv2d_forward(x, w, None, (1, 1), "same", d),
                               rtol=1e-5, atol=1e-5)


# --------------------------------------------------- public Cython entry points --

def test_pool_kernels_check_their_arguments():
    out = run_snippet("""
        x = np.ones((1, 4, 4, 2), np.float32)
        y = np.empty((1, 2, 2, 2), np.float32)
        am = np.empty((1, 2, 2, 2), np.int32)
        f = pool.max_pool2d_forward
        expect(lambda: f(x, y, am, 2**63, 2, 2, 2, 0, 0), ValueError,
               "max_pool2d_forward", "pool_size", "Received:")
        expect(lambda: f(x, y, am, 2, 2, 0, 2, 0, 0), ValueError, "strides", "Received:")
        expect(lambda: f(x, y, am, 2, 2, 2.0, 2, 0, 0), ValueError, "strides", "Received:")
        expect(lambda: f(x, y, am, 2, 2, 2, 2, -1, 0), ValueError, "pads", "Received:")
        expect(lambda: f(x, y, am, 2, 2, 2**31 - 1, 1, 2**62, 0), ValueError,
               "reach past 2**62", "Received:")
        expect(lambda: f(x, y, am, 2, 2, 2, 2, 0, 0, nthreads=0), ValueError, "nthreads")
        expect(lambda: f(x, y, am, 2, 2, 2, 2, 0, 0, nthreads=True), ValueError, "nthreads")
        g = pool.avg_pool2d_backward
        expect(lambda: g(y, x, 10**12, 10**12, 10**12, 10**12, 2**62, 2**62), ValueError,
               "avg_pool2d_backward", "Received:")
        expect(lambda: g(y, x, 2, 2, 2, 2, 0, None), ValueError, "pads", "Received:")
        big = np.ones((1, 2**16, 2**16, 0), np.float32)
        expect(lambda: f(big, np.empty((1, 1, 1, 0), np.float32),
                         np.empty((1, 1, 1, 0), np.int32), 2, 2, 2, 2, 0, 0),
               ValueError, "int32 argmax")
        f(x, y, am, 2, 2, 2, 2, 0, 0, nthreads=2**40)       # clamped, not an overflow
        assert np.all(y == 1)
        print("OK")
    """)
    assert out.count("RAISED ValueError") == 10 and "OK" in out


def test_conv_kernels_check_their_arguments():
    out = run_snippet("""
        x = np.ones((1, 1, 1, 1), np.float32)
        w = np.ones((3, 3, 1, 1), np.float32)
        y = np.empty((1, 1, 1, 1), np.float32)
        big = 2**62 - 1
        for f in (conv.conv2d_forward_direct, conv.conv2d_forward_gemm):
            expect(lambda: f(x, w, None, y, (1, 1), (big, big), (big, big)), ValueError,
                   "conv2d_forward", "dilation", "Received:")
            expect(lambda: f(x, w, None, y, (1, 1), (2**31 - 1, 1), (2**62, 0)), ValueError,
                   "conv2d_forward", "2**62", "Received:")
            expect(lambda: f(x, w, None, y, (0, 1), (1, 1), (1, 1)), ValueError, "strides")
            expect(lambda: f(x, w, None, y, 1, (1, 1), (1, 1)), ValueError, "strides")
            expect(lambda: f(x, w, None, y, (1, 1), (1, 1), (1, 1), nthreads=-2),
                   ValueError, "nthreads")
        for f in (conv.conv2d_backward_input_direct, conv.conv2d_backward_input_scatter):
            expect(lambda: f(y, w, x, (1, 1), (2**31, 1), (1, 1)), ValueError,
                   "conv2d_backward_input", "dilation", "Received:")
        for f in (conv.conv2d_backward_weight_direct, conv.conv2d_backward_weight_gemm):
            expect(lambda: f(x, y, w, None, (1, 1), (1, 1), (1, 2**63)), ValueError,
                   "conv2d_backward_weight", "pads", "Received:")
        # dilation in range, but the dilated 3x3 window spans 2**64 padded elements
        for f in native.FORWARD_KERNELS:
            expect(lambda: f(x, w, None, y, (1, 1), (2**31 - 1, 2**31 - 1), (0, 0)),
                   ValueError, "2**62", "Received:")
        print("OK")
    """)
    assert out.count("RAISED ValueError") == 16 and "OK" in out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv_kernels_tolerate_any_in_range_output_shape(dtype, rng):
    """A y / gy shape that the x shape, strides and pads would not produce (but that is
    in range) is computed with implicit zero padding, never read out of bounds (this is
    what the ASan run checks): every variant agrees with the naive definition."""
    x = rng.standard_normal((2, 3, 2, 3)).astype(dtype)
    w = rng.standard_normal((2, 3, 3, 4)).astype(dtype)
    s, d, p = (1, 2), (2, 1), (1, 2)
    oh, ow = 5, 4                        # larger than 'same' would give

    def xpad(n, h, ww):
        return x[n, h, ww] if 0 <= h < 3 and 0 <= ww < 2 else np.zeros(3)
    y0 = np.zeros((2, oh, ow, 4))
    for n, a, b, i, j in np.ndindex(2, oh, ow, 2, 3):
        y0[n, a, b] += xpad(n, a * s[0] - p[0] + i * d[0], b * s[1] - p[1] + j * d[1]) @ w[i, j]
    for f in native.FORWARD_KERNELS:
        y = np.full((2, oh, ow, 4), np.nan, dtype)
        f(x, w, None, y, s, d, p, nthreads=2)
        np.testing.assert_allclose(y, y0, rtol=1e-4, atol=1e-4)
    gy = rng.standard_normal((2, oh, ow, 4)).astype(dtype)
    gx0, gw0 = np.zeros(x.shape), np.zeros(w.shape)
    for n, a, b, i, j in np.ndindex(2, oh, ow, 2, 3):
        h, ww = a * s[0] - p[0] + i * d[0], b * s[1] - p[1] + j * d[1]
        if 0 <= h < 3 and 0 <= ww < 2:
            gx0[n, h, ww] += w[i, j] @ gy[n, a, b]
            gw0[i, j] += np.outer(x[n, h, ww], gy[n, a, b])
    for f in native.INPUT_GRAD_KERNELS:
        if f.__name__ == "conv2d_backward_input_direct":
            continue                      # stride 1 only
        gx = np.full(x.shape, np.nan, dtype)
        f(gy, w, gx, s, d, p, nthreads=2)
        np.testing.assert_allclose(gx, gx0, rtol=1e-4, atol=1e-4)
    for f in native.WEIGHT_GRAD_KERNELS:
        gw, gb = np.full(w.shape, np.nan, dtype), np.full(4, np.nan, dtype)
        f(x, gy, gw, gb, s, d, p, nthreads=2)
        np.testing.assert_allclose(gw, gw0, rtol=1e-4, atol=1e-4)


def test_gemm_sizes_and_thread_counts():
    out = run_snippet("""
        a, b = np.ones((2**40, 0), np.float32), np.ones((0, 2**40), np.float32)
        expect(lambda: gemm.sgemm(a, b), ValueError, "sgemm", "Received:")
        A = np.ones((30, 20), np.float32)
        C = gemm.sgemm(A, A.T, nthreads=2**40)        # clamped, not an OverflowError
        assert np.all(C == 20)
        print("OK")
    """)
    assert "RAISED ValueError" in out and "OK" in out
