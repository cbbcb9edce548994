"""2-D convolution and pooling kernels: numpy_ref vs naive loops, native vs numpy_ref.

The naive oracles below are written from the definitions (Keras output-size rules
re-derived here, not imported), on small awkward shapes. The native backend is checked
against numpy_ref in float32 and float64, at 1 and 2 threads, with the micro-kernels of
every SIMD level the CPU has (AVX-512, AVX2, portable), for every kernel variant it may
pick, on contiguous and non-contiguous inputs. Backward passes are also checked by the
adjoint identity. The AVX-512 12 x 32 tiles also run emulated (their source built for
AVX2) wherever the CPU has AVX2, so they are tested on machines without AVX-512.
"""
import os
import platform
import subprocess
import sys

import numpy as np
import pytest

import tensorlib._threads as th
from tensorlib._kernels import conv as kconv
from tensorlib._kernels import gemm as kgemm
from tensorlib.backend import native, numpy_ref


def _cpu_flags():
    """The CPU's feature flags from /proc/cpuinfo (read independently of the library),
    or None where there is no such file."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return None


FLAGS = _cpu_flags()
# Whether the AVX2 conv micro-kernels must run here: x86-64 with AVX2 and FMA.
HAS_AVX2 = (FLAGS is not None and platform.machine() in ("x86_64", "AMD64")
            and {"avx2", "fma"} <= FLAGS)

CONV_CASES = [
    # N, H, W, cin, cout, kh, kw, strides, padding, dilation
    (2, 7, 5, 3, 5, 3, 3, (1, 1), "valid", (1, 1)),
    (2, 7, 5, 3, 5, 3, 3, (1, 1), "same", (1, 1)),
    (1, 1, 1, 1, 1, 1, 1, (1, 1), "valid", (1, 1)),
    (3, 11, 13, 1, 17, 5, 5, (2, 3), "same", (1, 1)),
    (2, 9, 6, 5, 3, 2, 3, (3, 1), "valid", (1, 1)),
    (2, 8, 9, 17, 1, 3, 3, (1, 2), "same", (2, 2)),
    (1, 5, 7, 3, 17, 1, 1, (2, 2), "same", (1, 1)),
    (2, 6, 5, 5, 5, 1, 1, (1, 1), "valid", (1, 1)),
    (2, 4, 4, 5, 5, 5, 5, (1, 1), "same", (1, 1)),
    (1, 6, 7, 3, 20, 3, 3, (2, 2), "valid", (2, 1)),
    (2, 3, 17, 17, 33, 3, 3, (1, 3), "same", (1, 2)),
    (2, 13, 13, 32, 64, 3, 3, (1, 1), "valid", (1, 1)),
    (5, 5, 5, 64, 16, 3, 3, (1, 1), "valid", (1, 1)),
    (2, 6, 6, 40, 31, 3, 3, (1, 1), "same", (1, 1)),        # partial 32-lane blocks
    (1, 2, 2, 1, 3, 3, 3, (1, 1), "valid", (1, 1)),          # empty output
]
POOL_CASES = [
    # N, H, W, C, pool, strides, padding
    (2, 11, 11, 3, (2, 2), (2, 2), "valid"),
    (2, 7, 9, 5, (3, 3), (1, 2), "same"),
    (1, 1, 1, 1, (1, 1), (1, 1), "valid"),
    (2, 5, 4, 17, (2, 3), (3, 1), "same"),
    (1, 6, 6, 2, (3, 3), (2, 2), "same"),
    (3, 13, 13, 32, (2, 2), (2, 2), "valid"),
    (1, 3, 3, 1, (5, 5), (1, 1), "same"),
    (2, 9, 7, 3, (3, 2), (2, 3), "valid"),
]


def _out_pad(n, k, s, d, padding):
    eff = (k - 1) * d + 1
    if padding == "valid":
        return max(0, (n - eff) // s + 1), 0
    out = (n + s - 1) // s
    return out, max(0, (out - 1) * s + eff - n) // 2


def _taps(x_shape, k, s, d, padding):
    """Naive geometry: (OH, OW, list of (p, q, i, j, h, w) with (h, w) inside the input)."""
    _, H, W, _ = x_shape
    oh, pt = _out_pad(H, k[0], s[0], d[0], padding)
    ow, pl = _out_pad(W, k[1], s[1], d[1], padding)
    taps = []
    for p in range(oh):
        for q in range(ow):
            for i in range(k[0]):
                for j in range(k[1]):
                    h, w = p * s[0] - pt + i * d[0], q * s[1] - pl + j * d[1]
                    if 0 <= h < H and 0 <= w < W:
                        taps.append((p, q, i, j, h, w))
    return oh, ow, taps


def naive_conv(x, w, b, s, padding, d, relu=False):
    oh, ow, taps = _taps(x.shape, w.shape[:2], s, d, padding)
    y = np.zeros((x.shape[0], oh, ow, w.shape[3]))
    for p, q, i, j, h, ww in taps:
        y[:, p, q, :] += x[:, h, ww, :] @ w[i, j]
    if b is not None:
        y += b
    return np.maximum(y, 0) if relu else y


def naive_conv_grads(x, w, gy, s, padding, d):
    _, _, taps = _taps(x.shape, w.shape[:2], s, d, padding)
    gx, gw = np.zeros(x.shape), np.zeros(w.shape)
    for p, q, i, j, h, ww in taps:
        gx[:, h, ww, :] += gy[:, p, q, :] @ w[i, j].T
        gw[i, j] += x[:, h, ww, :].T @ gy[:, p, q, :]
    return gx, gw


def naive_pool(x, k, s, padding, mode):
    oh, ow, taps = _taps(x.shape, k, s, (1, 1), padding)
    N, H, W, C = x.shape
    y, am = np.zeros((N, oh, ow, C)), np.zeros((N, oh, ow, C), dtype=np.int64)
    for p in range(oh):
        for q in range(ow):
            pos = [(h, w) for (pp, qq, _, _, h, w) in taps if (pp, qq) == (p, q)]
            vals = np.stack([x[:, h, w, :] for h, w in pos], axis=1)      # (N, k, C)
            if mode == "avg":
                y[:, p, q, :] = vals.mean(axis=1)
            else:
                first = vals.argmax(axis=1)                 # first max in row-major order
                y[:, p, q, :] = vals.max(axis=1)
                am[:, p, q, :] = np.array([h * W + w for h, w in pos])[first]
    return y, am


def naive_maxpool_backward(gy, am, x_shape):
    gx = np.zeros(x_shape)
    N, H, W, C = x_shape
    for n, p, q, c in np.ndindex(*gy.shape):
        gx[n, am[n, p, q, c] // W, am[n, p, q, c] % W, c] += gy[n, p, q, c]
    return gx


def _close(a, b, dtype):
    assert a.shape == b.shape and a.dtype == dtype, (a.shape, b.shape, a.dtype, dtype)
    scale = max(1.0, float(np.max(np.abs(b)))) if b.size else 1.0
    tol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol * scale)


@pytest.fixture(params=[1, 2], ids=["1thread", "2threads"])
def nthreads(request):
    th.set_num_threads(request.param)
    yield request.param
    th.set_num_threads(None)


HAS_AVX512 = HAS_AVX2 and "avx512f" in FLAGS
# Conv tile per forced level: (tile_info()['level'], pixels, channels). 'avx512-emu' is the
# AVX-512 tiles' source built for AVX2 (gemm._set_simd_level's testing hook): it runs the
# 12 x 32 tiles wherever the CPU has AVX2, and follows level 2's kernel choices.
TILES = {"ref": (0, 6, 16), "avx2": (1, 6, 16), "avx512": (2, 12, 32),
         "avx512-emu": (2, 12, 32)}


@pytest.fixture(params=["avx512", "avx512-emu", "avx2", "ref"])
def simd(request):
    """The direct conv kernels at each SIMD level, forced through the one dispatcher that
    every kernel module shares (gemm._set_simd_level). Skipped only on a CPU that lacks the
    level according to /proc/cpuinfo: where it has it, not getting it is a failure."""
    level = request.param
    has = {"ref": True, "avx2": HAS_AVX2, "avx512": HAS_AVX512, "avx512-emu": HAS_AVX2}
    if FLAGS is not None and not has[level]:
        pytest.skip(f"CPU without {'avx2' if level == 'avx512-emu' else level} "
                    "(/proc/cpuinfo)")
    try:
        kgemm._set_simd_level(level)
    except ValueError:
        if FLAGS is None:
            pytest.skip(f"no /proc/cpuinfo, and the library finds no AVX2 for {level}")
        raise
    try:
        info = kconv.tile_info()
        if FLAGS is None and info["kernel"] != level:
            pytest.skip(f"no /proc/cpuinfo, and the library finds no {level}")
        assert info["kernel"] == level, f"the CPU has {level} but the conv tiles do not"
        assert (info["level"], info["pixels"], info["channels"]) == TILES[level], info
        yield level
    finally:
        kgemm._set_simd_level(None)


@pytest.mark.skipif(not HAS_AVX2, reason="CPU without avx2 + fma (/proc/cpuinfo)")
def test_avx512_emulation_runs_the_12x32_tiles():
    """'avx512-emu' switches the GEMM and the conv tiles together to the AVX-512 source
    (12 x 32), on any AVX2 CPU; forcing another level or None turns it off again."""
    default = kconv.tile_info()
    try:
        assert kgemm._set_simd_level("avx512-emu") == "avx512-emu"
        assert kgemm.simd_info()["kernel"] == "avx512-emu"
        assert kconv.tile_info() == {"level": 2, "kernel": "avx512-emu", "pixels": 12,
                                     "channels": 32}
        assert kgemm._set_simd_level("avx2") == "avx2"
        assert kconv.tile_info() == {"level": 1, "kernel": "avx2", "pixels": 6,
                                     "channels": 16}
        kgemm._set_simd_level("avx512-emu")
    finally:
        kgemm._set_simd_level(None)
    assert kconv.tile_info() == default
    assert default["kernel"] == ("avx512" if HAS_AVX512 else "avx2")


def test_one_simd_dispatcher_for_gemm_and_conv():
    """TENSORLIB_SIMD=generic lowers the GEMM and the conv tiles alike (a subprocess, as
    the variable is read once per process)."""
    code = ("from tensorlib._kernels import conv, gemm; "
            "print(gemm.simd_info()['kernel'], conv.tile_info()['level'])")
    for name, want in (("generic", "ref 0"), ("ref", "ref 0"), ("avx2", "avx2 1")):
        if name == "avx2" and not HAS_AVX2:
            continue
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env=dict(os.environ, TENSORLIB_SIMD=name), check=True)
        assert out.stdout.split() == want.split(), (name, out.stdout)


def _conv_data(case, dtype, rng):
    N, H, W, cin, cout, kh, kw, s, pad, d = case
    x = rng.standard_normal((N, H, W, cin)).astype(dtype)
    w = rng.standard_normal((kh, kw, cin, cout)).astype(dtype)
    b = rng.standard_normal(cout).astype(dtype)
    return x, w, b, s, pad, d


# ---------------------------------------------------------- numpy_ref vs naive loops --

@pytest.mark.parametrize("case", CONV_CASES)
def test_numpy_ref_conv_matches_naive(case, rng):
    x, w, b, s, pad, d = _conv_data(case, np.float64, rng)
    for relu in (False, True):
        _close(numpy_ref.conv2d_forward(x, w, b, s, pad, d, relu),
               naive_conv(x, w, b, s, pad, d, relu), np.float64)
    y = naive_conv(x, w, None, s, pad, d)
    gy = rng.standard_normal(y.shape)
    gx, gw = naive_conv_grads(x, w, gy, s, pad, d)
    _close(numpy_ref.conv2d_backward_input(gy, w, x.shape, s, pad, d), gx, np.float64)
    _close(numpy_ref.conv2d_backward_weight(gy, x, w.shape, s, pad, d), gw, np.float64)
    _close(numpy_ref.conv2d_backward_bias(gy), gy.sum(axis=(0, 1, 2)), np.float64)


@pytest.mark.parametrize("case", POOL_CASES)
def test_numpy_ref_pool_matches_naive(case, rng):
    N, H, W, C, k, s, pad = case
    x = rng.standard_normal((N, H, W, C))
    y0, am0 = naive_pool(x, k, s, pad, "max")
    y, am = numpy_ref.max_pool2d_forward(x, k, s, pad)
    _close(y, y0, np.float64)
    np.testing.assert_array_equal(am, am0)
    gy = rng.standard_normal(y.shape)
    _close(numpy_ref.max_pool2d_backward(gy, am, x.shape, k, s, pad),
           naive_maxpool_backward(gy, am0, x.shape), np.float64)
    _close(numpy_ref.avg_pool2d_forward(x, k, s, pad), naive_pool(x, k, s, pad, "avg")[0],
           np.float64)


def test_keras_output_sizes():
    x = np.zeros((1, 11, 11, 1))
    assert numpy_ref.max_pool2d_forward(x, (2, 2), (2, 2), "valid")[0].shape == (1, 5, 5, 1)
    assert numpy_ref.avg_pool2d_forward(x, (2, 2), (2, 2), "same").shape == (1, 6, 6, 1)
    w = np.zeros((3, 3, 1, 4))
    assert native.conv2d_forward(x, w, None, (2, 2), "valid", (1, 1)).shape == (1, 5, 5, 4)
    assert native.conv2d_forward(x, w, None, (1, 1), "valid", (2, 2)).shape == (1, 7, 7, 4)
    assert native.conv2d_forward(x, w, None, (3, 3), "same", (1, 1)).shape == (1, 4, 4, 4)


# ---------------------------------------------------------------- native vs numpy_ref --

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CONV_CASES)
def test_native_conv_matches_reference(case, dtype, nthreads, simd, rng):
    x, w, b, s, pad, d = _conv_data(case, dtype, rng)
    for relu in (False, True):
        for bias in (b, None):
            _close(native.conv2d_forward(x, w, bias, s, pad, d, relu),
                   numpy_ref.conv2d_forward(x, w, bias, s, pad, d, relu), dtype)
    gy = rng.standard_normal(numpy_ref.conv2d_forward(x, w, b, s, pad, d).shape).astype(dtype)
    _close(native.conv2d_backward_input(gy, w, x.shape, s, pad, d),
           numpy_ref.conv2d_backward_input(gy, w, x.shape, s, pad, d), dtype)
    _close(native.conv2d_backward_weight(gy, x, w.shape, s, pad, d),
           numpy_ref.conv2d_backward_weight(gy, x, w.shape, s, pad, d), dtype)
    _close(native.conv2d_backward_bias(gy), numpy_ref.conv2d_backward_bias(gy), dtype)
    gw, gb = native.conv2d_backward_weight_bias(gy, x, w.shape, s, pad, d)
    gw0, gb0 = numpy_ref.conv2d_backward_weight_bias(gy, x, w.shape, s, pad, d)
    _close(gw, gw0, dtype)
    _close(gb, gb0, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CONV_CASES)
def test_every_native_conv_variant(case, dtype, nthreads, simd, rng):
    """Each kernel variant the dispatcher may choose, called directly."""
    x, w, b, s, pad, d = _conv_data(case, dtype, rng)
    g = native.geometry(x.shape, w.shape[:2], s, pad, d)
    args = ((g.sh, g.sw), (g.dh, g.dw), (g.pt, g.pl))
    y0 = numpy_ref.conv2d_forward(x, w, b, s, pad, d, True)
    gy = rng.standard_normal(y0.shape).astype(dtype)
    gx0 = numpy_ref.conv2d_backward_input(gy, w, x.shape, s, pad, d)
    gw0 = numpy_ref.conv2d_backward_weight(gy, x, w.shape, s, pad, d)
    for f in native.FORWARD_KERNELS:
        y = np.full_like(y0, np.nan)
        f(x, w, b, y, *args, relu=True, nthreads=nthreads)
        _close(y, y0, dtype)
    for f in native.INPUT_GRAD_KERNELS:
        if f is kconv.conv2d_backward_input_direct and s != (1, 1):
            continue
        gx = np.full_like(x, np.nan)
        f(gy, w, gx, *args, nthreads=nthreads)
        _close(gx, gx0, dtype)
    for f in native.WEIGHT_GRAD_KERNELS:
        gw, gb = np.full_like(w, np.nan), np.full_like(b, np.nan)
        f(x, gy, gw, gb, *args, nthreads=nthreads)
        _close(gw, gw0, dtype)
        _close(gb, gy.sum(axis=(0, 1, 2)), dtype)


# Channel counts around the 16- and 32-channel blocks, and geometries whose pixel counts
# (1, 7, 52, 30, 80) leave every kind of tail of 6- and 12-pixel tiles (30: whole 6-pixel
# tiles, a 6-pixel tail of 12). With cin = ch the weight-gradient rows kh*kw*ch leave
# tails of 12-row tiles too (9 * 17 = 153 = 12 * 12 + 9).
EDGE_CHANNELS = [1, 15, 16, 17, 31, 32, 33, 63, 65]
EDGE_GEOMETRIES = [
    # N, H, W, kh, kw, strides, padding, dilation
    (1, 3, 3, 3, 3, (1, 1), "valid", (1, 1)),
    (1, 3, 9, 3, 3, (1, 1), "valid", (1, 1)),
    (1, 4, 13, 3, 3, (1, 1), "same", (1, 1)),
    (2, 5, 7, 3, 3, (1, 1), "valid", (1, 1)),
    (2, 9, 8, 3, 2, (2, 1), "same", (1, 2)),
]


def _guarded(shape, fill=np.nan):
    """A float32 array of `shape` with one more slab along axis 0 as a guard, and the
    C-contiguous view a kernel writes: (buffer, view)."""
    buf = np.full((shape[0] + 1,) + tuple(shape[1:]), fill, dtype=np.float32)
    return buf, buf[:shape[0]]


@pytest.mark.parametrize("ch", EDGE_CHANNELS)
def test_direct_tiles_on_block_edges(ch, nthreads, simd, rng):
    """The direct float32 kernels in every tile mode (bias, no bias, fused ReLU, and the
    accumulating scatter of the input gradient) against the float64 NumPy reference, with
    cout = ch and with cin = ch, on pixel counts that are not multiples of the tile; a
    guard slab after each output must stay untouched."""
    for N, H, W, kh, kw, s, pad, d in EDGE_GEOMETRIES:
        for cin, cout in ((3, ch), (ch, 5)):
            x = rng.standard_normal((N, H, W, cin)).astype(np.float32)
            w = rng.standard_normal((kh, kw, cin, cout)).astype(np.float32)
            b = rng.standard_normal(cout).astype(np.float32)
            x64, w64, b64 = (v.astype(np.float64) for v in (x, w, b))
            g = native.geometry(x.shape, (kh, kw), s, pad, d)
            args = ((g.sh, g.sw), (g.dh, g.dw), (g.pt, g.pl))
            yshape = (N, g.OH, g.OW, cout)
            for bias, relu in ((b, False), (None, False), (b, True)):
                buf, y = _guarded(yshape)
                kconv.conv2d_forward_direct(x, w, bias, y, *args, relu=relu,
                                            nthreads=nthreads)
                ref = numpy_ref.conv2d_forward(x64, w64, None if bias is None else b64,
                                               s, pad, d, relu)
                _close(y, ref, np.float32)
                assert np.isnan(buf[N]).all(), "written past the output"
            gy = rng.standard_normal(yshape).astype(np.float32)
            gy64 = gy.astype(np.float64)
            gx0 = numpy_ref.conv2d_backward_input(gy64, w64, x.shape, s, pad, d)
            for f in (kconv.conv2d_backward_input_direct, kconv.conv2d_backward_input_scatter):
                if f is kconv.conv2d_backward_input_direct and s != (1, 1):
                    continue
                buf, gx = _guarded(x.shape)
                f(gy, w, gx, *args, nthreads=nthreads)
                _close(gx, gx0, np.float32)
                assert np.isnan(buf[N]).all(), "written past the input gradient"
            gw0 = numpy_ref.conv2d_backward_weight(gy64, x64, w.shape, s, pad, d)
            for gb in (None, np.full(cout, np.nan, dtype=np.float32)):
                buf, gw = _guarded(w.shape)
                kconv.conv2d_backward_weight_direct(x, gy, gw, gb, *args, nthreads=nthreads)
                _close(gw, gw0, np.float32)
                assert np.isnan(buf[kh]).all(), "written past the weight gradient"
                if gb is not None:
                    _close(gb, gy64.sum(axis=(0, 1, 2)), np.float32)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", POOL_CASES)
def test_native_pool_matches_reference(case, dtype, nthreads, rng):
    N, H, W, C, k, s, pad = case
    x = rng.standard_normal((N, H, W, C)).astype(dtype)
    y, am = native.max_pool2d_forward(x, k, s, pad)
    y0, am0 = numpy_ref.max_pool2d_forward(x, k, s, pad)
    _close(y, y0, dtype)
    np.testing.assert_array_equal(am, am0)
    gy = rng.standard_normal(y.shape).astype(dtype)
    _close(native.max_pool2d_backward(gy, am, x.shape, k, s, pad),
           numpy_ref.max_pool2d_backward(gy, am0, x.shape, k, s, pad), dtype)
    _close(native.avg_pool2d_forward(x, k, s, pad),
           numpy_ref.avg_pool2d_forward(x, k, s, pad), dtype)
    _close(native.avg_pool2d_backward(gy, x.shape, k, s, pad),
           numpy_ref.avg_pool2d_backward(gy, x.shape, k, s, pad), dtype)


# ----------------------------------------------------------------- backward identities --

@pytest.mark.parametrize("bk", [native, numpy_ref], ids=["native", "numpy"])
@pytest.mark.parametrize("case", CONV_CASES)
def test_conv_backward_adjoint_identity(case, bk, rng):
    """conv is bilinear: <conv(x, w), gy> == <x, gx(gy)> == <w, gw(gy)> (float64)."""
    x, w, _, s, pad, d = _conv_data(case, np.float64, rng)
    y = bk.conv2d_forward(x, w, None, s, pad, d)
    gy = rng.standard_normal(y.shape)
    lhs = np.vdot(y, gy)
    scale = max(1.0, float(np.abs(y).sum() * np.abs(gy).max())) if y.size else 1.0
    gx = bk.conv2d_backward_input(gy, w, x.shape, s, pad, d)
    gw = bk.conv2d_backward_weight(gy, x, w.shape, s, pad, d)
    assert abs(lhs - np.vdot(x, gx)) <= 1e-12 * scale
    assert abs(lhs - np.vdot(w, gw)) <= 1e-12 * scale


@pytest.mark.parametrize("bk", [native, numpy_ref], ids=["native", "numpy"])
@pytest.mark.parametrize("case", POOL_CASES)
def test_pool_backward_finite_differences(case, bk, rng):
    """Directional derivative of <pool(x), gy> by central differences (float64)."""
    N, H, W, C, k, s, pad = case
    x = rng.permutation(N * H * W * C).reshape(N, H, W, C) / 7.0   # distinct: no ties
    v = rng.standard_normal(x.shape)
    hstep = 1e-4                                # < half the gap between values: same argmax
    y, am = bk.max_pool2d_forward(x, k, s, pad)
    gy = rng.standard_normal(y.shape)
    fd = np.vdot(bk.max_pool2d_forward(x + hstep * v, k, s, pad)[0]
                 - bk.max_pool2d_forward(x - hstep * v, k, s, pad)[0], gy) / (2 * hstep)
    assert np.isclose(fd, np.vdot(v, bk.max_pool2d_backward(gy, am, x.shape, k, s, pad)),
                      rtol=1e-8, atol=1e-8)
    fd = np.vdot(bk.avg_pool2d_forward(x + hstep * v, k, s, pad)
                 - bk.avg_pool2d_forward(x - hstep * v, k, s, pad), gy) / (2 * hstep)
    assert np.isclose(fd, np.vdot(v, bk.avg_pool2d_backward(gy, x.shape, k, s, pad)),
                      rtol=1e-8, atol=1e-8)


# ----------------------------------------------------------------------- special cases --

@pytest.mark.parametrize("bk", [native, numpy_ref], ids=["native", "numpy"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_pool_ties_go_to_first_in_row_major_order(bk, dtype):
    x = np.array([[1, 5, 0, 0],
                  [5, 2, 0, 0],
                  [3, 3, 7, 1],
                  [3, 3, 1, 7]], dtype=dtype).reshape(1, 4, 4, 1)
    y, am = bk.max_pool2d_forward(x, (2, 2), (2, 2), "valid")
    np.testing.assert_array_equal(y.ravel(), [5, 0, 3, 7])
    np.testing.assert_array_equal(am.ravel(), [1, 2, 8, 10])     # h * W + w of the first max
    gx = bk.max_pool2d_backward(np.ones_like(y), am, x.shape, (2, 2), (2, 2), "valid")
    expect = np.zeros((4, 4))
    expect[0, 1] = expect[0, 2] = expect[2, 0] = expect[2, 2] = 1
    np.testing.assert_array_equal(gx.reshape(4, 4), expect)


@pytest.mark.parametrize("bk", [native, numpy_ref], ids=["native", "numpy"])
def test_max_pool_padding_is_never_selected(bk):
    x = np.full((1, 3, 3, 2), -np.inf)
    x[0, 1, 1, 1] = -1.0
    y, am = bk.max_pool2d_forward(x, (2, 2), (2, 2), "same")     # pads bottom/right
    assert y.shape == (1, 2, 2, 2)
    assert np.all((am >= 0) & (am < 9))
    np.testing.assert_array_equal(am[0, :, :, 0], [[0, 2], [6, 8]])  # first in-bounds element
    gx = bk.max_pool2d_backward(np.ones_like(y), am, x.shape, (2, 2), (2, 2), "same")
    assert gx.sum() == 8 and np.all(np.isfinite(gx))


@pytest.mark.parametrize("bk", [native, numpy_ref], ids=["native", "numpy"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_pool_propagates_nan(bk, dtype):
    """As np.max and torch: a window holding NaN gives NaN, argmax at its first NaN (9
    channels: the float32 SSE lanes and the scalar tail)."""
    x = np.arange(1 * 4 * 4 * 9, dtype=dtype).reshape(1, 4, 4, 9)
    x[0, 0, 1, :] = np.nan                 # window (0, 0): first NaN at h * W + w = 1
    x[0, 1, 0, :] = np.nan
    x[0, 3, 3, ::2] = np.nan               # window (1, 1), even channels only
    y, am = bk.max_pool2d_forward(x, (2, 2), (2, 2), "valid")
    assert np.isnan(y[0, 0, 0]).all() and (am[0, 0, 0] == 1).all()
    assert np.isnan(y[0, 1, 1, ::2]).all() and (am[0, 1, 1, ::2] == 15).all()
    np.testing.assert_array_equal(y[0, 1, 1, 1::2], x[0, 3, 3, 1::2])
    assert not np.isnan(y[0, 0, 1]).any() and not np.isnan(y[0, 1, 0]).any()
    gx = bk.max_pool2d_backward(np.ones_like(y), am, x.shape, (2, 2), (2, 2), "valid")
    assert (gx[0, 0, 1] == 1).all() and (gx[0, 1, 0] == 0).all()


@pytest.mark.parametrize("case", [(16, 13, 13, 32, 64, 3, 3, (1, 1), "valid", (1, 1)),
                                  (3, 9, 8, 5, 17, 3, 2, (2, 1), "same", (1, 2))])
def test_native_results_do_not_depend_on_thread_count(case, rng):
    """Bit-identical results at 1, 2 and 3 threads, for every kernel variant."""
    x, w, b, s, pad, d = _conv_data(case, np.float32, rng)
    g = native.geometry(x.shape, w.shape[:2], s, pad, d)
    args = ((g.sh, g.sw), (g.dh, g.dw), (g.pt, g.pl))
    gy = rng.standard_normal((g.N, g.OH, g.OW, w.shape[3])).astype(np.float32)
    out = []
    for n in (1, 2, 3):
        res = []
        for f in native.FORWARD_KERNELS:
            res.append(np.empty_like(gy))
            f(x, w, b, res[-1], *args, relu=True, nthreads=n)
        for f in native.INPUT_GRAD_KERNELS:
            if s == (1, 1) or f is not kconv.conv2d_backward_input_direct:
                res.append(np.empty_like(x))
                f(gy, w, res[-1], *args, nthreads=n)
        for f in native.WEIGHT_GRAD_KERNELS:
            res += [np.empty_like(w), np.empty_like(b)]
            f(x, gy, res[-2], res[-1], *args, nthreads=n)
        th.set_num_threads(n)
        try:
            res.append(native.max_pool2d_forward(x, (2, 2), (2, 2), "valid")[0])
            res.append(native.conv2d_backward_bias(gy))
        finally:
            th.set_num_threads(None)
        out.append(res)
    for other in out[1:]:
        for a, b_ in zip(out[0], other):
            np.testing.assert_array_equal(a, b_)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_native_accepts_non_contiguous_inputs(dtype, rng):
    big = rng.standard_normal((3, 14, 11, 6)).astype(dtype)
    x = big[::2, ::2, :, 1:4]                       # strided view, shape (2, 7, 11, 3)
    w = np.asfortranarray(rng.standard_normal((3, 2, 3, 5)).astype(dtype))
    b = rng.standard_normal(10).astype(dtype)[::2]
    s, pad, d = (2, 1), "same", (1, 1)
    _close(native.conv2d_forward(x, w, b, s, pad, d, True),
           numpy_ref.conv2d_forward(np.ascontiguousarray(x), np.ascontiguousarray(w),
                                    np.ascontiguousarray(b), s, pad, d, True), dtype)
    gy = rng.standard_normal((2, 4, 11, 5, 2)).astype(dtype)[..., 0]   # strided view
    _close(native.conv2d_backward_input(gy, w, x.shape, s, pad, d),
           numpy_ref.conv2d_backward_input(gy, w, x.shape, s, pad, d), dtype)
    _close(native.conv2d_backward_weight(gy, x, w.shape, s, pad, d),
           numpy_ref.conv2d_backward_weight(gy, x, w.shape, s, pad, d), dtype)
    _close(native.conv2d_backward_bias(gy), numpy_ref.conv2d_backward_bias(gy), dtype)
    y, am = native.max_pool2d_forward(x, (2, 2), (1, 2), "same")
    y0, am0 = numpy_ref.max_pool2d_forward(x, (2, 2), (1, 2), "same")
    _close(y, y0, dtype)
    np.testing.assert_array_equal(am, am0)
    gyp = np.asfortranarray(rng.standard_normal(y.shape).astype(dtype))
    _close(native.max_pool2d_backward(gyp, np.asfortranarray(am), x.shape, (2, 2), (1, 2),
                                      "same"),
           numpy_ref.max_pool2d_backward(gyp, am0, x.shape, (2, 2), (1, 2), "same"), dtype)
    _close(native.avg_pool2d_forward(x, (3, 2), (2, 2), "same"),
           numpy_ref.avg_pool2d_forward(x, (3, 2), (2, 2), "same"), dtype)


def test_native_accepts_read_only_inputs(rng):
    def ro(a):
        a = np.array(a)
        a.flags.writeable = False
        return a
    x, w, b, s, pad, d = (ro(v) if isinstance(v, np.ndarray) else v for v in
                          _conv_data((2, 7, 6, 3, 5, 3, 3, (1, 1), "same", (1, 1)),
                                     np.float32, rng))
    gy = ro(rng.standard_normal((2, 7, 6, 5)).astype(np.float32))
    _close(native.conv2d_forward(x, w, b, s, pad, d, True),
           numpy_ref.conv2d_forward(x, w, b, s, pad, d, True), np.float32)
    _close(native.conv2d_backward_input(gy, w, x.shape, s, pad, d),
           numpy_ref.conv2d_backward_input(gy, w, x.shape, s, pad, d), np.float32)
    gw, gb = native.conv2d_backward_weight_bias(gy, x, w.shape, s, pad, d)
    _close(gw, numpy_ref.conv2d_backward_weight(gy, x, w.shape, s, pad, d), np.float32)
    _close(gb, numpy_ref.conv2d_backward_bias(gy), np.float32)
    y, am = native.max_pool2d_forward(x, (2, 2), (2, 2), "same")
    gyp = ro(np.ones_like(y))
    _close(native.max_pool2d_backward(gyp, ro(am), x.shape, (2, 2), (2, 2), "same"),
           numpy_ref.max_pool2d_backward(gyp, am, x.shape, (2, 2), (2, 2), "same"), np.float32)
    _close(native.avg_pool2d_backward(gyp, x.shape, (2, 2), (2, 2), "same"),
           numpy_ref.avg_pool2d_backward(gyp, x.shape, (2, 2), (2, 2), "same"), np.float32)
