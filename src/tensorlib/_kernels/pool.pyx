# 2-D max / average pooling on NHWC float32/float64 tensors.
#
# Design: the channel axis is innermost and contiguous, so every kernel walks one window
# (h, w) position at a time and runs a unit-stride loop over the C channels (vectorised by
# the compiler); float32 max pooling keeps each window's running max and index in SIMD
# registers and stores them once (csrc/pool_ukernels.h, at the dispatcher's SIMD level).
# Window bounds are clipped to the input once per output row/column, so padding is never
# read: max pooling treats it as -inf (never selected) and average
# pooling divides by the number of in-bounds elements (Keras/TensorFlow "same" rule).
# Forward kernels parallelise over the N*OH output rows (disjoint writes); backward
# kernels scatter and parallelise over images, each thread zeroing and owning whole
# gx[n] planes, so overlapping windows accumulate without races and the result does not
# depend on the thread count. Small tensors run serially on the calling thread.
#
# argmax (int32, shape of y) is the flat index h * W + w, inside the (H, W) plane of the
# same sample and channel, of the element that holds the max; ties go to the FIRST max
# in row-major window order (so H*W must fit an int). NaN propagates, as in np.max and
# torch: a window holding a NaN gives NaN, with argmax at its first NaN. An index outside
# [0, H*W) is ignored by the backward. The def wrappers check window, strides and pads
# (Python ints, _geo) so that every index below fits in int64, and clamp the thread count.
from cython.parallel cimport prange, parallel
from libc.math cimport INFINITY
from libc.string cimport memset

from tensorlib._kernels._common cimport (real, check_ints, check_threads, tl_ftz_enter,
                                         tl_ftz_leave, tl_openmp_enabled, tl_team_size,
                                         threads_for, set_threshold)
from tensorlib._kernels.gemm cimport simd_level

cdef extern from "pool_ukernels.h" nogil:
    void tl_maxpool_pixel_f32(int level, const float* x, Py_ssize_t rs, Py_ssize_t cs,
                              Py_ssize_t nh, Py_ssize_t nw, Py_ssize_t k0, Py_ssize_t W,
                              float* y, int* a, Py_ssize_t C)

cdef extern from *:
    """
    /* One window element for every channel: where x > y (strict, so the first max wins
       ties), or x is the first NaN (NaN propagates), y = x and a = k (float64; float32
       runs the register kernel of pool_ukernels.h). */
    static inline void tl_maxpool_update_f64(const double *x, double *y, int *a, int k,
                                             Py_ssize_t n) {
        for (Py_ssize_t c = 0; c < n; ++c)
            if (x[c] > y[c] || (x[c] != x[c] && y[c] == y[c])) { y[c] = x[c]; a[c] = k; }
    }
    """
    void tl_maxpool_update_f64(const double* x, double* y, int* a, int k,
                               Py_ssize_t n) nogil

# ops (_common.pxd: one per element read or written) below which a kernel stays serial.
# Last reading (2026-11-29, shared 2-core Xeon, load ~0.5; noisy): 2x2 max pooling on 2
# threads broke even at 3.1e3 ops and won from 2.5e4 (serial/parallel 1.2-2.1).
#   python bench/bench_serial.py --threads 2 --kernels pool
cdef double SERIAL_BELOW = 1 << 15
cdef object MAX_WINDOW = 2**31 - 1
cdef object MAX_EXTENT = 2**62

ctypedef struct Geo:
    Py_ssize_t N, H, W, C, OH, OW, kh, kw, sh, sw, pt, pl


cdef tuple _shape4(Py_ssize_t* s):
    return (s[0], s[1], s[2], s[3])


include "_probes.pxi"


def _set_thresholds(serial_below=None):
    """Testing hook: set SERIAL_BELOW (ops: elements touched below which a kernel stays
    on the calling thread); returns the old values, so ``_set_thresholds(**old)``
    restores them."""
    global SERIAL_BELOW
    old = dict(serial_below=SERIAL_BELOW)
    SERIAL_BELOW = set_threshold(SERIAL_BELOW, serial_below)
    return old


cdef inline void _span(Py_ssize_t o, Py_ssize_t s, Py_ssize_t p, Py_ssize_t k, Py_ssize_t n,
                       Py_ssize_t* lo, Py_ssize_t* hi) noexcept nogil:
    """[lo, hi) = [o*s - p, o*s - p + k) clipped to [0, n)."""
    cdef Py_ssize_t a = o * s - p
    lo[0] = max(a, 0)
    hi[0] = min(a + k, n)


cdef Geo _geo(tuple xs, tuple ys, window, strides, pads, str name) except *:
    """Check that x (N,H,W,C) and y (N,OH,OW,C) agree, that window, strides and pads are
    in range, and that every window start and end (o*s - p, o*s - p + k for o < O) and
    input index fits in int64; build the geometry."""
    if xs[0] != ys[0] or xs[3] != ys[3]:
        raise ValueError(f"{name}: x and y disagree on N or C. Received: x shape {xs}, "
                         f"y shape {ys}")
    kh, kw = check_ints(name, "pool_size", window, 1, MAX_WINDOW)
    sh, sw = check_ints(name, "strides", strides, 1, MAX_WINDOW)
    pt, pl = check_ints(name, "pads", pads, 0, MAX_EXTENT)
    if max(ys[1] - 1, 0) * sh + kh + pt + xs[1] > MAX_EXTENT \
            or max(ys[2] - 1, 0) * sw + kw + pl + xs[2] > MAX_EXTENT:
        raise ValueError(f"{name}: the windows reach past 2**62. Received: x shape {xs}, "
                         f"y shape {ys}, pool_size={(kh, kw)}, strides={(sh, sw)}, "
                         f"pads={(pt, pl)}")
    cdef Geo g
    g.N, g.H, g.W, g.C = xs[0], xs[1], xs[2], xs[3]
    g.OH, g.OW = ys[1], ys[2]
    g.kh, g.kw, g.sh, g.sw, g.pt, g.pl = kh, kw, sh, sw, pt, pl
    return g


# ------------------------------------------------------------------------- max pool --

cdef void _max_fwd_row(const real* x, real* y, int* am, Geo g, Py_ssize_t r,
                       int level) noexcept nogil:
    """y[n,p,q,:] = max over the in-bounds window of x[n,:,:,:]; am = h*W+w of the first max."""
    cdef Py_ssize_t n = r // g.OH, p = r % g.OH, q, h, w, c, h0, h1, w0, w1
    cdef Py_ssize_t C = g.C
    cdef real* yr
    cdef int* ar
    cdef const real* xr
    cdef int k
    _span(p, g.sh, g.pt, g.kh, g.H, &h0, &h1)
    for q in range(g.OW):
        _span(q, g.sw, g.pl, g.kw, g.W, &w0, &w1)
        yr = y + (r * g.OW + q) * C
        ar = am + (r * g.OW + q) * C
        if real is float:     # the window's max kept in registers (pool_ukernels.h)
            tl_maxpool_pixel_f32(level, x + ((n * g.H + h0) * g.W + w0) * C, g.W * C, C,
                                 h1 - h0 if h1 > h0 else 0, w1 - w0 if w1 > w0 else 0,
                                 h0 * g.W + w0, g.W, yr, ar, C)
        else:
            k = <int>(h0 * g.W + w0) if (h0 < h1 and w0 < w1) else -1
            for c in range(C):
                yr[c] = <real>-INFINITY
                ar[c] = k
            for h in range(h0, h1):
                for w in range(w0, w1):
                    xr = x + ((n * g.H + h) * g.W + w) * C
                    k = <int>(h * g.W + w)
                    tl_maxpool_update_f64(xr, yr, ar, k, C)


cdef void _max_bwd_image(const real* gy, const int* am, real* gx, Geo g,
                         Py_ssize_t n) noexcept nogil:
    """gx[n] = 0, then gx[n, am[n,p,q,c], c] += gy[n,p,q,c] for every output element."""
    cdef Py_ssize_t plane = g.H * g.W, C = g.C, i, c
    cdef Py_ssize_t m = g.OH * g.OW
    cdef real* gxn = gx + n * plane * C
    cdef const real* gr
    cdef const int* ar
    cdef int k
    memset(gxn, 0, plane * C * sizeof(real))
    for i in range(m):
        gr = gy + (n * m + i) * C
        ar = am + (n * m + i) * C
        for c in range(C):
            k = ar[c]
            if 0 <= k < plane:
                gxn[k * C + c] += gr[c]


def max_pool2d_forward(const real[:, :, :, ::1] x, real[:, :, :, ::1] y,
                       int[:, :, :, ::1] argmax, kh, kw, sh, sw, pt, pl, nthreads=1):
    """Fill y and argmax (see the module comment) for windows (kh, kw), strides, pads."""
    cdef Geo g = _geo(_shape4(x.shape), _shape4(y.shape), (kh, kw), (sh, sw), (pt, pl),
                      "max_pool2d_forward")
    if _shape4(argmax.shape) != _shape4(y.shape):
        raise ValueError("max_pool2d_forward: argmax and y shapes differ")
    if <object>g.H * g.W > MAX_WINDOW:
        raise ValueError(f"max_pool2d_forward: the int32 argmax needs H * W <= "
                         f"{MAX_WINDOW}. Received: x shape {_shape4(x.shape)}")
    cdef Py_ssize_t r, rows = g.N * g.OH
    cdef int nt = threads_for(SERIAL_BELOW, <double>x.size + 2.0 * y.size,
                              check_threads("max_pool2d_forward", nthreads))
    cdef unsigned int csr = 0
    cdef int level = simd_level()
    if y.size == 0:
        return
    with nogil, parallel(num_threads=nt):
        csr = tl_ftz_enter()
        for r in prange(rows, schedule="static"):
            _max_fwd_row(&x[0, 0, 0, 0], &y[0, 0, 0, 0], &argmax[0, 0, 0, 0], g, r, level)
        tl_ftz_leave(csr)


def max_pool2d_backward(const real[:, :, :, ::1] gy, const int[:, :, :, ::1] argmax,
                        real[:, :, :, ::1] gx, nthreads=1):
    """gx = scatter-add of gy to the argmax positions (gx is overwritten)."""
    cdef Geo g = _geo(_shape4(gx.shape), _shape4(gy.shape), (1, 1), (1, 1), (0, 0),
                      "max_pool2d_backward")
    if _shape4(argmax.shape) != _shape4(gy.shape):
        raise ValueError("max_pool2d_backward: argmax and gy shapes differ")
    cdef Py_ssize_t n
    cdef int nt = threads_for(SERIAL_BELOW, <double>gx.size + 2.0 * gy.size,
                              check_threads("max_pool2d_backward", nthreads))
    cdef unsigned int csr = 0
    if gx.size == 0:
        return
    if gy.size == 0:
        gx[...] = 0
        return
    with nogil, parallel(num_threads=nt):
        csr = tl_ftz_enter()
        for n in prange(g.N, schedule="static"):
            _max_bwd_image(&gy[0, 0, 0, 0], &argmax[0, 0, 0, 0], &gx[0, 0, 0, 0], g, n)
        tl_ftz_leave(csr)


# ------------------------------------------------------------------------- avg pool --

cdef void _avg_fwd_row(const real* x, real* y, Geo g, Py_ssize_t r) noexcept nogil:
    """y[n,p,q,:] = sum of the in-bounds window of x[n] / its element count."""
    cdef Py_ssize_t n = r // g.OH, p = r % g.OH, q, h, w, c, h0, h1, w0, w1
    cdef Py_ssize_t C = g.C
    cdef real* yr
    cdef const real* xr
    cdef real inv
    _span(p, g.sh, g.pt, g.kh, g.H, &h0, &h1)
    for q in range(g.OW):
        _span(q, g.sw, g.pl, g.kw, g.W, &w0, &w1)
        yr = y + (r * g.OW + q) * C
        for c in range(C):
            yr[c] = 0
        for h in range(h0, h1):
            for w in range(w0, w1):
                xr = x + ((n * g.H + h) * g.W + w) * C
                for c in range(C):
                    yr[c] += xr[c]
        if h1 > h0 and w1 > w0:
            inv = (<real>1) / <real>((h1 - h0) * (w1 - w0))
            for c in range(C):
                yr[c] *= inv


cdef void _avg_bwd_image(const real* gy, real* gx, Geo g, Py_ssize_t n) noexcept nogil:
    """gx[n] = 0, then each window's gy / count added to its in-bounds elements."""
    cdef Py_ssize_t C = g.C, p, q, h, w, c, h0, h1, w0, w1
    cdef real* gxr
    cdef const real* gr
    cdef real v
    memset(gx + n * g.H * g.W * C, 0, g.H * g.W * C * sizeof(real))
    for p in range(g.OH):
        _span(p, g.sh, g.pt, g.kh, g.H, &h0, &h1)
        for q in range(g.OW):
            _span(q, g.sw, g.pl, g.kw, g.W, &w0, &w1)
            if h1 <= h0 or w1 <= w0:
                continue
            gr = gy + ((n * g.OH + p) * g.OW + q) * C
            v = (<real>1) / <real>((h1 - h0) * (w1 - w0))
            for h in range(h0, h1):
                for w in range(w0, w1):
                    gxr = gx + ((n * g.H + h) * g.W + w) * C
                    for c in range(C):
                        gxr[c] += gr[c] * v


def avg_pool2d_forward(const real[:, :, :, ::1] x, real[:, :, :, ::1] y,
                       kh, kw, sh, sw, pt, pl, nthreads=1):
    """Fill y with the window means over in-bounds elements."""
    cdef Geo g = _geo(_shape4(x.shape), _shape4(y.shape), (kh, kw), (sh, sw), (pt, pl),
                      "avg_pool2d_forward")
    cdef Py_ssize_t r, rows = g.N * g.OH
    cdef int nt = threads_for(SERIAL_BELOW, <double>x.size + <double>y.size,
                              check_threads("avg_pool2d_forward", nthreads))
    cdef unsigned int csr = 0
    if y.size == 0:
        return
    with nogil, parallel(num_threads=nt):
        csr = tl_ftz_enter()
        for r in prange(rows, schedule="static"):
            _avg_fwd_row(&x[0, 0, 0, 0], &y[0, 0, 0, 0], g, r)
        tl_ftz_leave(csr)


def avg_pool2d_backward(const real[:, :, :, ::1] gy, real[:, :, :, ::1] gx,
                        kh, kw, sh, sw, pt, pl, nthreads=1):
    """gx = gradient of avg_pool2d_forward for output gradient gy (gx is overwritten)."""
    cdef Geo g = _geo(_shape4(gx.shape), _shape4(gy.shape), (kh, kw), (sh, sw), (pt, pl),
                      "avg_pool2d_backward")
    cdef Py_ssize_t n
    cdef int nt = threads_for(SERIAL_BELOW, <double>gx.size + <double>gy.size * g.kh * g.kw,
                              check_threads("avg_pool2d_backward", nthreads))
    cdef unsigned int csr = 0
    if gx.size == 0:
        return
    if gy.size == 0:
        gx[...] = 0
        return
    with nogil, parallel(num_threads=nt):
        csr = tl_ftz_enter()
        for n in prange(g.N, schedule="static"):
            _avg_bwd_image(&gy[0, 0, 0, 0], &gx[0, 0, 0, 0], g, n)
        tl_ftz_leave(csr)
