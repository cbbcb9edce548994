"""The float32 max-pool forward kernel (csrc/pool_ukernels.h) at every SIMD level this CPU
can run (4-lane baseline, AVX2, AVX-512 and its AVX2 emulation), against a NumPy loop:
values and argmax on channel counts around every vector width, ties (first max wins),
NaN (the first NaN wins), -inf, padding and overlapping windows, at 1 and 2 threads."""
import numpy as np
import pytest

from tensorlib._kernels import gemm, pool

FLAGS = set()
try:
    with open("/proc/cpuinfo") as f:
        FLAGS = next((set(line.split(":", 1)[1].split()) for line in f
                      if line.startswith("flags")), set())
except OSError:
    pass
HAS_AVX2 = {"avx2", "fma"} <= FLAGS
LEVELS = ["ref"] + (["avx2", "avx512-emu"] if HAS_AVX2 else []) \
    + (["avx512"] if HAS_AVX2 and "avx512f" in FLAGS else [])


@pytest.fixture(params=LEVELS)
def level(request):
    gemm._set_simd_level(request.param)
    assert gemm.simd_info()["kernel"] == request.param
    yield request.param
    gemm._set_simd_level(None)


def _reference(x, kh, kw, sh, sw, pt, pl, oh, ow):
    n, h, w, c = x.shape
    y = np.full((n, oh, ow, c), -np.inf, np.float32)
    a = np.full((n, oh, ow, c), -1, np.int32)
    for i in range(n):
        for p in range(oh):
            for q in range(ow):
                for ch in range(c):
                    for dh in range(kh):
                        for dw in range(kw):
                            hh, ww = p * sh - pt + dh, q * sw - pl + dw
                            if not (0 <= hh < h and 0 <= ww < w):
                                continue
                            v, cur = x[i, hh, ww, ch], y[i, p, q, ch]
                            if a[i, p, q, ch] < 0:
                                a[i, p, q, ch] = hh * w + ww
                            if v > cur or (np.isnan(v) and not np.isnan(cur)):
                                y[i, p, q, ch] = v
                                a[i, p, q, ch] = hh * w + ww
    return y, a


CASES = [  # (H, W, kh, kw, sh, sw, pt, pl)
    (6, 6, 2, 2, 2, 2, 0, 0),
    (7, 5, 3, 3, 1, 1, 1, 1),
    (5, 7, 3, 2, 2, 3, 1, 0),
    (4, 4, 4, 4, 1, 1, 3, 3),      # windows wholly in the padding at the corners
]


@pytest.mark.parametrize("channels", [1, 3, 4, 5, 8, 15, 16, 17, 33])
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("nthreads", [1, 2])
def test_max_pool_forward_matches_reference(level, channels, case, nthreads):
    h, w, kh, kw, sh, sw, pt, pl = case
    rng = np.random.default_rng(channels * 31 + h)
    x = rng.integers(-3, 4, size=(2, h, w, channels)).astype(np.float32)   # many ties
    flat = x.reshape(-1)
    flat[rng.choice(flat.size, size=max(1, flat.size // 40), replace=False)] = np.nan
    flat[rng.choice(flat.size, size=max(1, flat.size // 40), replace=False)] = -np.inf
    oh = (h + 2 * pt - kh) // sh + 1
    ow = (w + 2 * pl - kw) // sw + 1
    y = np.empty((2, oh, ow, channels), np.float32)
    a = np.empty(y.shape, np.int32)
    pool.max_pool2d_forward(x, y, a, kh, kw, sh, sw, pt, pl, nthreads=nthreads)
    ry, ra = _reference(x, kh, kw, sh, sw, pt, pl, oh, ow)
    np.testing.assert_array_equal(y, ry)
    np.testing.assert_array_equal(a, ra)
