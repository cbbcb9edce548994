# 2-D convolution on NHWC float32/float64 tensors with (kh, kw, cin, cout) kernels.
#
# Design: two kernel families, chosen per shape (by measurement) in backend/native.py.
# * direct = implicit GEMM (micro-kernels in csrc/conv_ukernels.h): a register tile of
#   6 pixels x 16 channels (32 with AVX-512) accumulates over every (tap, channel) pair straight from the
#   NHWC data, with no patch matrix. Forward ("gather"): tiles of output pixels, crossing
#   rows and images, x cout; weights packed once; bias + ReLU in the tile epilogue.
#   Input gradient: "gather" for stride 1 (zero-padded gy correlated with the flipped
#   kernel) or "scatter" for any stride (each gy tile @ w[i,j]^T added into gx). Weight
#   gradient: 6 (tap, cin) x 16 (or 32) cout tiles summed over all pixels of a work item.
# * im2col + GEMM (tensorlib._kernels.gemm): chunks of output pixels are unrolled into a
#   thread-private patch matrix (~256 KiB) and multiplied by a serial GEMM call; it wins
#   for 1x1 convolutions (x already is the patch matrix), wide inputs and, in the weight
#   gradient, once kh*kw*cin passes a few hundred.
# Threads take work items (groups of whole images, or row bands of big images / small
# batches) dynamically; padded inputs are copied per item into thread-private scratch.
# Weight and bias gradients sum fixed slots of items into per-slot partials, added in slot
# order: like the forward and input gradient (one writer per output element), they do not
# depend on the thread count (the number of slots depends on the problem only). Small
# work runs serially; every thread flushes denormals while it works (tl_ftz.h). The def
# wrappers check every size they are given (_geo, in Python ints) so that no index or
# buffer size below can overflow int64, and clamp the thread count (tl_threads.h).
from cython.parallel cimport prange, parallel, threadid
from libc.stdint cimport int64_t
from libc.string cimport memset, memcpy

import numpy as np

from tensorlib._kernels._checks cimport (check_ints, check_threads, tl_clamp_threads,
                                         tl_openmp_enabled, tl_team_size)
from tensorlib._kernels.gemm cimport sgemm_strided, dgemm_strided, simd_level

ctypedef fused real:
    float
    double

cdef extern from "tl_ftz.h" nogil:
    unsigned int tl_ftz_enter()
    void tl_ftz_leave(unsigned int old)

cdef extern from "conv_ukernels.h" nogil:
    enum:
        TL_CP
        TL_CO
        TL_CP_MAX
    int64_t tl_conv_cp(int level)
    int64_t tl_conv_co(int level)
    void tl_conv_tile_f32(int level, int64_t nt, const int64_t* toff, int64_t C, const float* x,
                          const int64_t* poff, const float* w, int64_t ldw, float* y,
                          const int64_t* yoff, int64_t npix, int64_t no, const float* bias,
                          int mode)
    void tl_conv_tile_f64(int level, int64_t nt, const int64_t* toff, int64_t C, const double* x,
                          const int64_t* poff, const double* w, int64_t ldw, double* y,
                          const int64_t* yoff, int64_t npix, int64_t no, const double* bias,
                          int mode)
    void tl_conv_wtile_f32(int level, int64_t nk, const float* const* xk, int64_t nimg, int64_t xis,
                           int64_t nrows, int64_t xrs, int64_t ncols, int64_t xcs,
                           const float* g, int64_t gis, int64_t grs, int64_t ldg, int64_t no,
                           float* acc, int64_t lda)
    void tl_conv_wtile_f64(int level, int64_t nk, const double* const* xk, int64_t nimg, int64_t xis,
                           int64_t nrows, int64_t xrs, int64_t ncols, int64_t xcs,
                           const double* g, int64_t gis, int64_t grs, int64_t ldg,
                           int64_t no, double* acc, int64_t lda)

assert TL_CP == 6 and TL_CO == 16 and TL_CP_MAX == 12, "arrays below hold 12-pixel tiles"

_gather_items = 8       # gather (forward) work items wanted per thread
_wgrad_budget = 65536   # elements of input + gy per weight-gradient work item
_wgrad_items = 8        # weight-gradient work items wanted (when the batch allows)
_scatter_budget = 16384  # elements of gy + gx per scatter (input-gradient) pixel block
cdef double SERIAL_BELOW = 1 << 17   # multiply-adds below which we stay serial
cdef Py_ssize_t WGRAD_SLOTS = 16       # max slots (partials) of a weight / bias gradient
cdef Py_ssize_t WGRAD_MIN_SLOTS = 4    # slots allowed even past the partials' 2M budget
cdef object MAX_WINDOW = 2**31 - 1
cdef object MAX_EXTENT = 2**62

ctypedef struct CGeo:
    Py_ssize_t N, H, W, C, OH, OW, O, kh, kw, sh, sw, dh, dw, pt, pl, K


cdef tuple _shape4(Py_ssize_t* s):
    return (s[0], s[1], s[2], s[3])


cdef inline const real* _c4(const real[:, :, :, ::1] a) noexcept:
    """Data pointer of a 4-D view, NULL when it is empty (never indexes out of bounds)."""
    return &a[0, 0, 0, 0] if a.shape[0] and a.shape[1] and a.shape[2] and a.shape[3] else NULL


cdef inline const real* _c2(const real[:, ::1] a) noexcept:
    return &a[0, 0] if a.shape[0] and a.shape[1] else NULL


cdef inline int _threads_for(double work, int nthreads) noexcept nogil:
    return 1 if work < SERIAL_BELOW else tl_clamp_threads(nthreads)


def openmp_enabled():
    """Whether this module was compiled with OpenMP."""
    return bool(tl_openmp_enabled())


def _team_size(int n):
    """Testing hook: how many threads ran a parallel region asked for n (clamped)."""
    return tl_team_size(n)


def _set_thresholds(serial_below=None):
    """Testing hook: set SERIAL_BELOW (multiply-adds below which a kernel stays on the
    calling thread); returns the old values, so ``_set_thresholds(**old)`` restores them."""
    global SERIAL_BELOW
    old = dict(serial_below=SERIAL_BELOW)
    if serial_below is not None:
        SERIAL_BELOW = max(0.0, serial_below)
    return old


cdef Py_ssize_t _slots(Py_ssize_t items, Py_ssize_t ko) noexcept:
    """Partials of a weight gradient over `items` work items: a function of the problem
    only (never of the thread count), so the sum order is fixed; at least 1."""
    return max(1, min(items, WGRAD_SLOTS, max((2 << 20) // max(ko, 1), WGRAD_MIN_SLOTS)))


cdef CGeo _geo(tuple xs, tuple ys, tuple ws, strides, dilation, pads, str name) except *:
    """Check that x (N,H,W,C), y (N,OH,OW,O) and w (kh,kw,C,O) agree, that strides,
    dilation and pads are in range and that every padded extent, scratch buffer and
    index of either direction fits in int64 (Python ints: exact); build the geometry."""
    cdef CGeo g
    if xs[0] != ys[0] or xs[3] != ws[2] or ys[3] != ws[3]:
        raise ValueError(f"{name}: shapes x {xs}, y/gy {ys} and "
                         f"w {ws} do not fit together")
    kh, kw = check_ints(name, "kernel_size", ws[:2], 1, MAX_WINDOW)
    sh, sw = check_ints(name, "strides", strides, 1, MAX_WINDOW)
    dh, dw = check_ints(name, "dilation", dilation, 1, MAX_WINDOW)
    pt, pl = check_ints(name, "pads", pads, 0, MAX_EXTENT)
    n, h, w, c = xs
    oh, ow, o = ys[1], ys[2], ys[3]
    eh, ew = (kh - 1) * dh + 1, (kw - 1) * dw + 1
    # rows / columns of the padded source either direction reads: (O - 1) * s + e of x
    # (forward, weight gradient), H - 1 + e of the zero-padded gy (input gradient)
    ph = max(max(oh - 1, 0) * sh + eh, h + eh) + pt
    pw = max(max(ow - 1, 0) * sw + ew, w + ew) + pl
    k = kh * kw * c
    if (n * ph * pw * max(c, o, 1) > MAX_EXTENT or n * oh * ow > MAX_EXTENT
            or k * min(512, max(n * oh * ow, 1)) > MAX_EXTENT
            or (k + 1) * (o + 1) > MAX_EXTENT):
        raise ValueError(f"{name}: the sizes reach past 2**62 elements. Received: x shape "
                         f"{xs}, y/gy shape {ys}, w shape {ws}, strides={(sh, sw)}, "
                         f"dilation={(dh, dw)}, pads={(pt, pl)}")
    g.N, g.H, g.W, g.C = xs[0], xs[1], xs[2], xs[3]
    g.OH, g.OW, g.O = ys[1], ys[2], ys[3]
    g.kh, g.kw = ws[0], ws[1]
    g.sh, g.sw, g.dh, g.dw, g.pt, g.pl = sh, sw, dh, dw, pt, pl
    g.K = g.kh * g.kw * g.C
    return g


# ------------------------------------------------------------------ building blocks --

cdef inline int _gemm(bint ta, bint tb, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                      const real* a, Py_ssize_t lda, const real* b, Py_ssize_t ldb,
                      real* c, Py_ssize_t ldc, bint accumulate) noexcept nogil:
    """c[m,n] (+)= op(a)[m,k] @ op(b)[k,n] on the calling thread; 0, or -1 if out of memory."""
    if real is float:
        return sgemm_strided(m, n, k, 1.0, a, 1 if ta else lda, lda if ta else 1,
                             b, 1 if tb else ldb, ldb if tb else 1,
                             1.0 if accumulate else 0.0, c, ldc, 1)
    else:
        return dgemm_strided(m, n, k, 1.0, a, 1 if ta else lda, lda if ta else 1,
                             b, 1 if tb else ldb, ldb if tb else 1,
                             1.0 if accumulate else 0.0, c, ldc, 1)


cdef void _im2col(const real* x, real* col, CGeo g, Py_ssize_t p0,
                  Py_ssize_t p1) noexcept nogil:
    """col[p - p0, (i*kw + j)*C + c] = xpad[n, oh*sh + i*dh, ow*sw + j*dw, c], p = (n,oh,ow)."""
    cdef Py_ssize_t p, n, oh, ow, i, j, h, w, w0, c
    cdef Py_ssize_t C = g.C, rowlen = g.kw * g.C
    cdef real* dst
    cdef const real* src
    for p in range(p0, p1):
        ow = p % g.OW
        oh = (p // g.OW) % g.OH
        n = p // (g.OW * g.OH)
        dst = col + (p - p0) * g.K
        w0 = ow * g.sw - g.pl
        for i in range(g.kh):
            h = oh * g.sh - g.pt + i * g.dh
            if h < 0 or h >= g.H:
                memset(dst, 0, rowlen * sizeof(real))
            elif g.dw == 1 and w0 >= 0 and w0 + g.kw <= g.W:
                memcpy(dst, x + ((n * g.H + h) * g.W + w0) * C, rowlen * sizeof(real))
            else:
                for j in range(g.kw):
                    w = w0 + j * g.dw
                    if w < 0 or w >= g.W:
                        memset(dst + j * C, 0, C * sizeof(real))
                    else:
                        src = x + ((n * g.H + h) * g.W + w) * C
                        for c in range(C):
                            dst[j * C + c] = src[c]
            dst += rowlen


cdef void _bias_relu(real* y, const real* b, Py_ssize_t rows, Py_ssize_t o,
                     bint relu) noexcept nogil:
    """y[r, :] = max(y[r, :] + b, 0) (bias when b != NULL, max only when relu; NaN kept)."""
    cdef Py_ssize_t r, c
    cdef real* yr
    for r in range(rows):
        yr = y + r * o
        if b != NULL:
            for c in range(o):
                yr[c] += b[c]
        if relu:                            # max(y, 0) that keeps NaN (and -0.0)
            for c in range(o):
                yr[c] = 0 if yr[c] < 0 else yr[c]


cdef void _colsum_rows(const real* gy, real* acc, Py_ssize_t o, Py_ssize_t r0,
                       Py_ssize_t r1) noexcept nogil:
    """acc[:] += sum_{r0 <= r < r1} gy[r, :] (four rows per pass over acc)."""
    cdef Py_ssize_t r = r0, c
    cdef const real* g
    while r + 4 <= r1:
        g = gy + r * o
        for c in range(o):
            acc[c] += (g[c] + g[o + c]) + (g[2 * o + c] + g[3 * o + c])
        r += 4
    for r in range(r, r1):
        for c in range(o):
            acc[c] += gy[r * o + c]


cdef void _reduce_partials(const real* parts, real* out, Py_ssize_t nparts,
                           Py_ssize_t size, Py_ssize_t stride) noexcept nogil:
    """out[i] = sum_t parts[t*stride + i] for i < size, added in order t = 0, 1, ..."""
    cdef Py_ssize_t t, i
    memcpy(out, parts, size * sizeof(real))
    for t in range(1, nparts):
        for i in range(size):
            out[i] += parts[t * stride + i]


# ------------------------------------------------------------ direct (implicit GEMM) --

ctypedef struct DConv:
    # A stride-(sh, sw) correlation of a zero-padded source image with T taps at offsets
    # toff[t] (elements, relative to an output pixel's top-left input element).
    Py_ssize_t N, H, W, C       # source (unpadded): x for forward/wgrad, gy for bwd-input
    Py_ssize_t OH, OW, O        # output rows, columns, channels (gy's for the wgrad)
    Py_ssize_t sh, sw, pt, pl   # strides; the source sits at (pt, pl) in the padded image
    Py_ssize_t Wp, T, ldw       # padded image width, taps, packed weight row length
    Py_ssize_t rows_in          # padded input rows one output row reads: (kh-1)*dh + 1
    bint padded                 # the source must be copied into a padded scratch image
    Py_ssize_t G, nb            # work item = G whole images, or 1/nb of one image's rows
    int lvl                     # SIMD level of every tile of this call
    Py_ssize_t co, cp           # output channels (16 or 32), pixels (6 or 12) per tile

ctypedef struct Item:
    Py_ssize_t n0, n1, oh0, oh1


cdef inline void _tile(int lvl, Py_ssize_t nt, const int64_t* toff, Py_ssize_t c, const real* x,
                       const int64_t* poff, const real* w, Py_ssize_t ldw, real* y,
                       const int64_t* yoff, Py_ssize_t npix, Py_ssize_t no, const real* bias,
                       int mode) noexcept nogil:
    """s[q,o] = sum_{t,c} x[poff[q] + toff[t] + c] w[t*C + c, o]; y[yoff[q] + o] = act(s + b)."""
    if real is float:
        tl_conv_tile_f32(lvl, nt, toff, c, x, poff, w, ldw, y, yoff, npix, no, bias, mode)
    else:
        tl_conv_tile_f64(lvl, nt, toff, c, x, poff, w, ldw, y, yoff, npix, no, bias, mode)


cdef inline Item _item(DConv d, Py_ssize_t it) noexcept nogil:
    """Work item `it`: images [n0, n1), output rows [oh0, oh1)."""
    cdef Item r
    if d.nb == 1:
        r.n0, r.n1, r.oh0, r.oh1 = it * d.G, min(d.N, (it + 1) * d.G), 0, d.OH
    else:
        r.n0, r.n1 = it // d.nb, it // d.nb + 1
        r.oh0, r.oh1 = (it % d.nb) * d.OH // d.nb, (it % d.nb + 1) * d.OH // d.nb
    return r


cdef const real* _item_input(const real* src, real* scratch, DConv d, Item m,
                             Py_ssize_t* xis) noexcept nogil:
    """The padded input rows item m reads (image stride in xis[0]): src itself when
    unpadded, else copied into scratch."""
    cdef Py_ssize_t a, h, n, row = d.Wp * d.C, b0, b1, a0 = m.oh0 * d.sh
    cdef Py_ssize_t nrows = (m.oh1 - 1) * d.sh + d.rows_in - a0
    cdef real* dst
    if not d.padded:
        xis[0] = d.H * d.W * d.C
        return src + (m.n0 * d.H + a0) * d.W * d.C
    xis[0] = nrows * row
    b0 = min(max(d.pl, 0), d.Wp)                 # source columns land in [b0, b1)
    b1 = min(max(d.pl + d.W, b0), d.Wp)
    for n in range(m.n0, m.n1):
        for a in range(a0, a0 + nrows):
            dst = scratch + ((n - m.n0) * nrows + a - a0) * row
            h = a - d.pt
            if h < 0 or h >= d.H or b1 == b0:
                memset(dst, 0, row * sizeof(real))
                continue
            memset(dst, 0, b0 * d.C * sizeof(real))
            memcpy(dst + b0 * d.C, src + ((n * d.H + h) * d.W + b0 - d.pl) * d.C,
                   (b1 - b0) * d.C * sizeof(real))
            memset(dst + b1 * d.C, 0, (d.Wp - b1) * d.C * sizeof(real))
    return scratch


cdef void _gather_item(const real* src, real* scratch, const int64_t* toff, const real* wp,
                       const real* bp, real* y, DConv d, Item m, int mode,
                       int64_t* offs) noexcept nogil:
    """Output pixels of item m (contiguous in y): y = act(bp + correlation with wp).
    offs: room for 2 * (pixels + 12) offsets."""
    cdef Py_ssize_t xis, o0, ob, p, pb, i = 0, oh = 0, ow = 0
    cdef Py_ssize_t npix = (m.n1 - m.n0) * (m.oh1 - m.oh0) * d.OW
    cdef const real* base = _item_input(src, scratch, d, m, &xis)
    cdef real* ybase = y + ((m.n0 * d.OH + m.oh0) * d.OW) * d.O
    cdef int64_t* yoffs = offs + npix + 12
    for p in range(npix + 12):      # input / output offset of every pixel (tiles of 6/12
        if p < npix:                # cross rows and images; the tail repeats the last)
            offs[p] = i * xis + (oh * d.sh * d.Wp + ow * d.sw) * d.C
            ow += 1
            if ow == d.OW:
                ow, oh = 0, oh + 1
                if oh == m.oh1 - m.oh0:
                    oh, i = 0, i + 1
        else:
            offs[p] = offs[npix - 1]
        yoffs[p] = p * d.O
    for ob in range((d.O + d.co - 1) // d.co):
        o0 = ob * d.co
        for pb in range((npix + d.cp - 1) // d.cp):
            p = pb * d.cp
            _tile(d.lvl, d.T, toff, d.C, base, offs + p, wp + o0, d.ldw, ybase + o0, yoffs + p,
                  min(d.cp, npix - p), min(d.co, d.O - o0), bp + o0 if bp != NULL else NULL,
                  mode)


cdef void _wgrad_item(const real* src, real* scratch, const int64_t* toff, const real* gy,
                      real* part, DConv d, Item m) noexcept nogil:
    """part[t*C + c, o] += sum over the pixels of item m of xpad[.. tap t .., c] gy[.., o]."""
    cdef Py_ssize_t xis, K = d.T * d.C, k0, kb, k, r, o0, ob, nk
    cdef const real* base = _item_input(src, scratch, d, m, &xis)
    cdef const real* xk[12]       # TL_CP_MAX
    cdef const real* g = gy + (m.n0 * d.OH + m.oh0) * d.OW * d.O
    for kb in range((K + d.cp - 1) // d.cp):
        k0 = kb * d.cp
        nk = min(d.cp, K - k0)
        for r in range(d.cp):
            k = k0 + min(r, nk - 1)
            xk[r] = base + toff[k // d.C] + k % d.C
        for ob in range((d.O + d.co - 1) // d.co):
            o0 = ob * d.co
            if real is float:
                tl_conv_wtile_f32(d.lvl, nk, xk, m.n1 - m.n0, xis, m.oh1 - m.oh0,
                                  d.sh * d.Wp * d.C, d.OW, d.sw * d.C, g + o0, d.OH * d.OW * d.O, d.OW * d.O,
                                  d.O, min(d.co, d.O - o0), part + k0 * d.O + o0, d.O)
            else:
                tl_conv_wtile_f64(d.lvl, nk, xk, m.n1 - m.n0, xis, m.oh1 - m.oh0,
                                  d.sh * d.Wp * d.C, d.OW, d.sw * d.C, g + o0, d.OH * d.OW * d.O, d.OW * d.O,
                                  d.O, min(d.co, d.O - o0), part + k0 * d.O + o0, d.O)


cdef void _scatter_item(const real* gy, const real* wt, real* gx, CGeo g, Py_ssize_t ldw,
                        Py_ssize_t n0, Py_ssize_t n1, Py_ssize_t block, int lvl,
                        Py_ssize_t co, Py_ssize_t cp) noexcept nogil:
    """gx[n0:n1] = sum over taps (i, j) of gy[n, p, q, :] @ w[i, j]^T added at
    gx[n, p*sh - pt + i*dh, q*sw - pl + j*dw, :] (wt: per-tap w^T, O x ldw), in blocks of
    `block` gy pixels so that a block's gy and gx stay in cache across the taps."""
    cdef Py_ssize_t m = g.OH * g.OW, npix = (n1 - n0) * m, t, c0, cb, bi, b0, p0, pb, q
    cdef Py_ssize_t n, oh, ow, h, w
    cdef Py_ssize_t plane = g.H * g.W * g.C
    cdef int64_t poff[12]     # TL_CP_MAX
    cdef int64_t yoff[12]
    cdef int64_t zero = 0
    cdef const real* gyb = gy + n0 * m * g.O
    memset(gx + n0 * plane, 0, (n1 - n0) * plane * sizeof(real))
    for bi in range((npix + block - 1) // block):
        b0 = bi * block
        for t in range(g.kh * g.kw):
            for cb in range((g.C + co - 1) // co):
                c0 = cb * co
                n, oh, ow = n0 + b0 // m, (b0 % m) // g.OW, b0 % g.OW
                for pb in range((min(npix, b0 + block) - b0 + cp - 1) // cp):
                    p0 = b0 + pb * cp
                    for q in range(cp):
                        if p0 + q < min(npix, b0 + block):
                            poff[q] = (p0 + q) * g.O
                            h = oh * g.sh - g.pt + (t // g.kw) * g.dh
                            w = ow * g.sw - g.pl + (t % g.kw) * g.dw
                            yoff[q] = ((n * g.H + h) * g.W + w) * g.C \
                                if 0 <= h < g.H and 0 <= w < g.W else -1
                            ow += 1
                            if ow == g.OW:
                                ow, oh = 0, oh + 1
                                if oh == g.OH:
                                    oh, n = 0, n + 1
                        else:
                            poff[q] = poff[q - 1]
                    _tile(lvl, 1, &zero, g.O, gyb, poff, wt + t * g.O * ldw + c0, ldw, gx + c0,
                          yoff, min(cp, min(npix, b0 + block) - p0), min(co, g.C - c0),
                          NULL, 2)


cdef Py_ssize_t _chunk_rows(Py_ssize_t k, Py_ssize_t itemsize) noexcept:
    """Pixels per im2col chunk: a patch matrix of about 256 KiB (16..512 rows)."""
    return max(16, min(512, (256 * 1024) // max(k * itemsize, 1)))


def _dtype(Py_ssize_t itemsize):
    return np.float32 if itemsize == 4 else np.float64


cdef const real* _bias_ptr(const real[::1] b, Py_ssize_t o) except? NULL:
    """Pointer to b's data (NULL for None) after checking it has o elements."""
    if b is None:
        return NULL
    if b.shape[0] != o:
        raise ValueError(f"conv2d: bias (gradient) has {b.shape[0]} elements, expected {o}")
    return &b[0] if o else NULL


cdef bint _is_pointwise(CGeo g) noexcept:
    """1x1 kernel, stride 1, no padding: x itself is the patch matrix."""
    return (g.kh == 1 and g.kw == 1 and g.sh == 1 and g.sw == 1 and g.pt == 0 and g.pl == 0
            and g.OH == g.H and g.OW == g.W)


cdef Py_ssize_t _group(Py_ssize_t n, Py_ssize_t per_image, Py_ssize_t items,
                       Py_ssize_t budget) noexcept:
    """Images per work item: at least `items` items, and about `budget` elements each."""
    return max(1, min(n // max(items, 1), budget // max(per_image, 1)))


cdef Py_ssize_t _co(int lvl, Py_ssize_t itemsize) noexcept nogil:
    """Output channels per tile: 32 for float32 AVX-512 tiles, else 16 (TL_CO)."""
    return tl_conv_co(lvl) if itemsize == 4 else 16


cdef Py_ssize_t _cp(int lvl, Py_ssize_t itemsize) noexcept nogil:
    """Pixels (weight-gradient rows) per tile: 12 for float32 AVX-512 tiles, else 6."""
    return tl_conv_cp(lvl) if itemsize == 4 else 6


cdef DConv _dconv(Py_ssize_t n, Py_ssize_t h, Py_ssize_t w, Py_ssize_t c, Py_ssize_t oh,
                  Py_ssize_t ow, Py_ssize_t o, CGeo g, Py_ssize_t itemsize, Py_ssize_t sh, Py_ssize_t sw,
                  Py_ssize_t pt, Py_ssize_t pl, Py_ssize_t items, Py_ssize_t budget=16384):
    """Direct problem: source (n, h, w, c) at (pt, pl), output (n, oh, ow, o), g's taps,
    cut into work items of about `budget` elements of input + output, at least `items` of
    them when possible: groups of whole images, or row bands of one image."""
    cdef DConv d
    d.N, d.H, d.W, d.C, d.OH, d.OW, d.O = n, h, w, c, oh, ow, o
    d.sh, d.sw, d.pt, d.pl, d.T = sh, sw, pt, pl, g.kh * g.kw
    d.rows_in = (g.kh - 1) * g.dh + 1
    need_w = (ow - 1) * sw + (g.kw - 1) * g.dw + 1
    d.padded = pt != 0 or pl != 0 or need_w > w or (oh - 1) * sh + d.rows_in > h
    d.Wp = need_w if d.padded else w
    d.lvl = simd_level()
    d.co = _co(d.lvl, itemsize)
    d.cp = _cp(d.lvl, itemsize)
    d.ldw = (o + d.co - 1) // d.co * d.co
    per_image = h * w * c + oh * ow * o
    d.G = _group(n, per_image, items, budget)
    d.nb = max(1, min(oh, max((items + n - 1) // n if 2 * n <= items else 1,
                              (per_image + budget - 1) // budget)))
    if d.nb > 1:
        d.G = 1
    return d


cdef Py_ssize_t _nitems(DConv d) noexcept nogil:
    return d.N * d.nb if d.nb > 1 else (d.N + d.G - 1) // d.G


def _scratch(DConv d, int nt, Py_ssize_t itemsize):
    """Per-thread buffer for one item's padded input rows (sized in Python ints)."""
    rows = (<object>d.OH + d.nb - 1) // d.nb
    size = <object>d.G * ((rows - 1) * d.sh + d.rows_in) * d.Wp * d.C if d.padded else 1
    return np.empty((nt, max(size, 1)), dtype=_dtype(itemsize))


def _toff(CGeo g, Py_ssize_t wp, Py_ssize_t c):
    """Element offset of each tap (i, j) from an output pixel's first input element."""
    out = np.empty(g.kh * g.kw, dtype=np.int64)
    cdef int64_t[::1] o = out
    cdef Py_ssize_t i, j
    for i in range(g.kh):
        for j in range(g.kw):
            o[i * g.kw + j] = (i * g.dh * wp + j * g.dw) * c
    return out


def _packed(w2d, Py_ssize_t ldw, dtype):
    """w2d (rows x cols) copied into a zero-padded rows x ldw C-contiguous matrix."""
    out = np.zeros((w2d.shape[0], ldw), dtype=dtype)
    out[:, :w2d.shape[1]] = w2d
    return out


cdef _run_gather(const real[:, :, :, ::1] src, const real[:, ::1] wp, const real[::1] bp,
                 real[:, :, :, ::1] out, DConv d, int64_t[::1] toff, int mode, int nt):
    """out = act(bp + correlation of src with wp), parallel over work items."""
    cdef real[:, ::1] scratch = _scratch(d, nt, src.itemsize)
    cdef int64_t[:, ::1] offs = np.empty(
        (nt, 2 * (d.G * ((d.OH + d.nb - 1) // d.nb) * d.OW + 12)), dtype=np.int64)
    cdef const real* bptr = &bp[0] if bp is not None else NULL
    cdef const real* sp = _c4(src)
    cdef const real* wpp = _c2(wp)
    cdef real* op = <real*>_c4(out)
    cdef Py_ssize_t it
    cdef unsigned int csr = 0
    if out.size == 0:
        return
    with nogil, parallel(num_threads=nt):
        csr = tl_ftz_enter()
        for it in prange(_nitems(d), schedule="dynamic"):
            _gather_item(sp, &scratch[threadid(), 0], &toff[0], wpp, bptr, op, d, _item(d, it),
                         mode, &offs[threadid(), 0])
        tl_ftz_leave(csr)


def tile_info():
    """The direct kernels' float32 tile at the active SIMD level (set for every kernel
    module by TENSORLIB_SIMD or tensorlib._kernels.gemm._set_simd_level):
    {'level': 0 ref / 1 AVX2 / 2 AVX-512, 'pixels': 6 or 12, 'channels': 16 or 32}."""
    cdef int lvl = simd_level()
    return {"level": lvl, "pixels": _cp(lvl, 4), "channels": _co(lvl, 4)}


def conv2d_forward_direct(const real[:, :, :, ::1] x, const real[:, :, :, ::1] w,
                          const real[::1] b,
                          real[:, :, :, ::1] y, strides, dilation, pads, bint relu=False,
                          nthreads=1):
    """y = act(b + conv(x, w)) (b may be None; act = ReLU if relu) by 6x16 register tiles."""
    cdef CGeo g = _geo(_shape4(x.shape), _shape4(y.shape), _shape4(w.shape), strides,
                       dilation, pads, "conv2d_forward")
    _bias_ptr(b, g.O)
    cdef int nt = _threads_for(<double>g.N * g.OH * g.OW * g.K * g.O,
                               check_threads("conv2d_forward", nthreads))
    if y.size == 0:
        return
    cdef DConv d = _dconv(g.N, g.H, g.W, g.C, g.OH, g.OW, g.O, g, x.itemsize, g.sh, g.sw,
                          g.pt, g.pl, _gather_items * nt)
    dt = _dtype(x.itemsize)
    cdef real[:, ::1] wp = _packed(np.asarray(w).reshape(g.K, g.O), d.ldw, dt)
    cdef real[::1] bp = None
    if b is not None:
        bp = _packed(np.asarray(b).reshape(1, g.O), d.ldw, dt)[0]
    cdef int64_t[::1] toff = _toff(g, d.Wp, g.C)
    _run_gather(x, wp, bp, y, d, toff, 1 if relu else 0, nt)


def conv2d_backward_input_direct(const real[:, :, :, ::1] gy, const real[:, :, :, ::1] w,
                                 real[:, :, :, ::1] gx, strides, dilation, pads,
                                 nthreads=1):
    """gx = d<conv(x, w), gy>/dx for stride 1: the correlation of gy, zero-padded by
    (k-1)*d - pad before, with the flipped, transposed kernel."""
    cdef CGeo g = _geo(_shape4(gx.shape), _shape4(gy.shape), _shape4(w.shape), strides,
                       dilation, pads, "conv2d_backward_input")
    if g.sh != 1 or g.sw != 1:
        raise ValueError("conv2d_backward_input_direct: strides must be (1, 1)")
    cdef int nt = _threads_for(<double>g.N * g.H * g.W * g.K * g.O,
                               check_threads("conv2d_backward_input", nthreads))
    if gx.size == 0:
        return
    cdef DConv d = _dconv(g.N, g.OH, g.OW, g.O, g.H, g.W, g.C, g, gx.itemsize, 1, 1,
                          (g.kh - 1) * g.dh - g.pt, (g.kw - 1) * g.dw - g.pl,
                          _gather_items * nt)
    wf = np.asarray(w)[::-1, ::-1].transpose(0, 1, 3, 2).reshape(g.kh * g.kw * g.O, g.C)
    cdef real[:, ::1] wp = _packed(wf, d.ldw, _dtype(gx.itemsize))
    cdef real[::1] nob = None
    cdef int64_t[::1] toff = _toff(g, d.Wp, g.O)
    _run_gather(gy, wp, nob, gx, d, toff, 0, nt)


def conv2d_backward_input_scatter(const real[:, :, :, ::1] gy, const real[:, :, :, ::1] w,
                                  real[:, :, :, ::1] gx, strides, dilation, pads,
                                  nthreads=1):
    """gx = d<conv(x, w), gy>/dx, any stride: every gy pixel tile times each tap's w^T is
    added into gx (6x16 register tiles; each thread owns whole gx images)."""
    cdef CGeo g = _geo(_shape4(gx.shape), _shape4(gy.shape), _shape4(w.shape), strides,
                       dilation, pads, "conv2d_backward_input")
    cdef int nt = min(_threads_for(<double>g.N * g.OH * g.OW * g.K * g.O,
                                   check_threads("conv2d_backward_input", nthreads)),
                      max(g.N, 1))
    cdef int lvl = simd_level()
    cdef Py_ssize_t co = _co(lvl, gx.itemsize), cp = _cp(lvl, gx.itemsize)
    cdef Py_ssize_t ldw = (g.C + co - 1) // co * co, it, G = max(1, g.N // 16)   # nt-free
    cdef Py_ssize_t block = max(1, _scatter_budget // max(g.O + g.C, 1) // 12) * 12
    wt = np.asarray(w).transpose(0, 1, 3, 2).reshape(g.kh * g.kw * g.O, g.C)
    cdef real[:, ::1] wp = _packed(wt, ldw, _dtype(gx.itemsize))
    cdef const real* gyp = _c4(gy)
    cdef const real* wpp = _c2(wp)
    cdef real* gxp = <real*>_c4(gx)
    cdef unsigned int csr = 0
    if gx.size == 0:
        return
    with nogil, parallel(num_threads=nt):
        csr = tl_ftz_enter()
        for it in prange((g.N + G - 1) // G, schedule="dynamic"):
            _scatter_item(gyp, wpp, gxp, g, ldw, it * G, min(g.N, it * G + G), block, lvl, co,
                          cp)
        tl_ftz_leave(csr)


def conv2d_backward_weight_direct(const real[:, :, :, ::1] x, const real[:, :, :, ::1] gy,
                                  real[:, :, :, ::1] gw, real[::1] gb, strides, dilation,
                                  pads, nthreads=1):
    """gw[i,j,c,o] = sum_{n,p,q} xpad[n, p*sh + i*dh, q*sw + j*dw, c] gy[n,p,q,o] (and
    gb = gy summed over n, p, q unless gb is None), by 6x16 register tiles.

    The work items are split into S slots, each summed into its own partial [gw | gb] by
    whichever thread takes it; the partials are then added in slot order. S does not
    depend on the thread count (_slots), so neither does the result."""
    cdef CGeo g = _geo(_shape4(x.shape), _shape4(gy.shape), _shape4(gw.shape), strides,
                       dilation, pads, "conv2d_backward_weight")
    cdef real* gbp = <real*>_bias_ptr(gb, g.O)
    cdef Py_ssize_t KO = g.K * g.O, it, slot
    cdef int nt = _threads_for(<double>g.N * g.OH * g.OW * KO,
                               check_threads("conv2d_backward_weight", nthreads))
    cdef DConv d = _dconv(g.N, g.H, g.W, g.C, g.OH, g.OW, g.O, g, x.itemsize, g.sh, g.sw,
                          g.pt, g.pl, _wgrad_items, _wgrad_budget)
    cdef Py_ssize_t nit = _nitems(d)
    cdef Py_ssize_t S = _slots(nit, KO)
    cdef int64_t[::1] toff = _toff(g, d.Wp, g.C)
    cdef real[:, ::1] parts = np.zeros((max(S, 1), KO + g.O + 1), dtype=_dtype(x.itemsize)) \
        if gy.size == 0 else np.empty((S, KO + g.O + 1), dtype=_dtype(x.itemsize))
    cdef real[:, ::1] scratch = _scratch(d, nt, x.itemsize)
    cdef const real* xp = _c4(x)
    cdef const real* gyp = _c4(gy)
    cdef real* part
    cdef Item m
    cdef unsigned int csr = 0
    if gy.size > 0:
        with nogil, parallel(num_threads=nt):
            csr = tl_ftz_enter()
            for slot in prange(S, schedule="dynamic"):
                part = &parts[slot, 0]
                memset(part, 0, parts.shape[1] * sizeof(real))   # zeroed by its thread
                for it in range(slot * nit // S, (slot + 1) * nit // S):
                    m = _item(d, it)
                    _wgrad_item(xp, &scratch[threadid(), 0], &toff[0], gyp, part, d, m)
                    if gbp != NULL:
                        _colsum_rows(gyp, part + KO, g.O,
                                     (m.n0 * g.OH + m.oh0) * g.OW,
                                     ((m.n1 - 1) * g.OH + m.oh1) * g.OW)
            tl_ftz_leave(csr)
    _finish_wgrad(parts, <real*>_c4(gw), gbp, KO, g.O, S, nt)


cdef _finish_wgrad(real[:, ::1] parts, real* gw, real* gbp, Py_ssize_t ko, Py_ssize_t o,
                   Py_ssize_t nparts, int nthreads):
    """gw (and gb) = the partials [gw | gb] added in order (in parallel over columns)."""
    cdef Py_ssize_t ld = parts.shape[1], ch, c0, nch = (ko + 4095) // 4096
    cdef int nt = min(_threads_for(<double>nparts * ko, nthreads), max(nch, 1))
    if ko:
        with nogil, parallel(num_threads=nt):
            for ch in prange(nch, schedule="static"):
                c0 = ch * 4096
                _reduce_partials(&parts[0, c0], gw + c0, nparts, min(4096, ko - c0), ld)
    if gbp != NULL:
        _reduce_partials(&parts[0, ko], gbp, nparts, o, ld)


# ------------------------------------------------------------------ im2col + GEMM --

cdef _im2col_gemm(const real[:, :, :, ::1] x, const real* wg, real* out, const real* bp,
                  real* gbp, CGeo g, bint wgrad, bint relu, int nthreads):
    """Chunks of MC output pixels: thread-private im2col, then a serial GEMM.
    forward (wgrad False): out rows = act(bp + col @ w), wg = w (K x O);
    weight gradient: out = [gw | gb] += col^T @ gy rows per slot, wg = gy (M x O)."""
    cdef Py_ssize_t M = g.N * g.OH * g.OW, KO = g.K * g.O, ch, p0, nrows, slot
    cdef bint pointwise = _is_pointwise(g)     # then x itself is the patch matrix
    cdef Py_ssize_t mc = min(_chunk_rows(g.K, x.itemsize), max(M, 1))
    cdef Py_ssize_t nch = (M + mc - 1) // mc
    cdef int nt = min(_threads_for(<double>M * KO, nthreads), max(nch, 1)), fail = 0
    cdef Py_ssize_t S = _slots(nch, KO)
    cdef real[:, ::1] scratch = np.empty((nt, 1 if pointwise else mc * g.K),
                                         dtype=_dtype(x.itemsize))
    cdef real[:, ::1] parts = np.empty((S if wgrad else 1, KO + g.O + 1),
                                       dtype=_dtype(x.itemsize))
    cdef const real* col
    cdef const real* xp = _c4(x)
    cdef unsigned int csr = 0
    if M == 0:
        if wgrad:
            parts[...] = 0
            _finish_wgrad(parts, out, gbp, KO, g.O, 1, 1)
        return
    with nogil, parallel(num_threads=nt):
        csr = tl_ftz_enter()
        for slot in prange(S if wgrad else nch, schedule="dynamic"):
            if wgrad:
                memset(&parts[slot, 0], 0, parts.shape[1] * sizeof(real))
            for ch in range(slot * nch // S if wgrad else slot,
                            (slot + 1) * nch // S if wgrad else slot + 1):
                p0 = ch * mc
                nrows = min(mc, M - p0)
                if pointwise:
                    col = xp + p0 * g.K
                else:
                    _im2col(xp, &scratch[threadid(), 0], g, p0, p0 + nrows)
                    col = &scratch[threadid(), 0]
                if wgrad:
                    fail += 0 != _gemm(True, False, g.K, g.O, nrows, col, g.K, wg + p0 * g.O,
                                       g.O, &parts[slot, 0], g.O, True)
                    if gbp != NULL:
                        _colsum_rows(wg, &parts[slot, KO], g.O, p0, p0 + nrows)
                else:
                    fail += 0 != _gemm(False, False, nrows, g.O, g.K, col, g.K, wg, g.O,
                                       out + p0 * g.O, g.O, False)
                    _bias_relu(out + p0 * g.O, bp, nrows, g.O, relu)
        tl_ftz_leave(csr)
    if fail:
        raise MemoryError("conv2d: GEMM could not allocate its packing buffers")
    if wgrad:
        _finish_wgrad(parts, out, gbp, KO, g.O, S, nthreads)


def conv2d_forward_gemm(const real[:, :, :, ::1] x, const real[:, :, :, ::1] w,
                        const real[::1] b,
                        real[:, :, :, ::1] y, strides, dilation, pads, bint relu=False,
                        nthreads=1):
    """y = act(b + conv(x, w)) (b may be None; act = ReLU if relu) by im2col + GEMM."""
    cdef CGeo g = _geo(_shape4(x.shape), _shape4(y.shape), _shape4(w.shape), strides,
                       dilation, pads, "conv2d_forward")
    cdef const real* bp = _bias_ptr(b, g.O)
    cdef int nt = check_threads("conv2d_forward", nthreads)
    if y.size:
        _im2col_gemm(x, _c4(w), <real*>_c4(y), bp, NULL, g, False, relu, nt)


def conv2d_backward_weight_gemm(const real[:, :, :, ::1] x, const real[:, :, :, ::1] gy,
                                real[:, :, :, ::1] gw, real[::1] gb, strides, dilation,
                                pads, nthreads=1):
    """As conv2d_backward_weight_direct, by im2col chunks and col^T @ gy GEMMs."""
    cdef CGeo g = _geo(_shape4(x.shape), _shape4(gy.shape), _shape4(gw.shape), strides,
                       dilation, pads, "conv2d_backward_weight")
    cdef real* gbp = <real*>_bias_ptr(gb, g.O)
    cdef int nt = check_threads("conv2d_backward_weight", nthreads)
    _im2col_gemm(x, _c4(gy), <real*>_c4(gw), NULL, gbp, g, True, False, nt)


def conv2d_backward_bias(const real[:, ::1] gy, real[::1] gb, nthreads=1):
    """gb[o] = sum_r gy[r, o] (gy viewed as rows x cout): 16 row slots (a thread-count-free
    split) summed into partials that are added in order."""
    if gb.shape[0] != gy.shape[1]:
        raise ValueError(f"conv2d_backward_bias: gb has {gb.shape[0]} elements, "
                         f"gy has {gy.shape[1]} columns")
    cdef Py_ssize_t R = gy.shape[0], O = gy.shape[1], t, S = WGRAD_SLOTS
    cdef int nt = _threads_for(<double>R * O * 8,
                               check_threads("conv2d_backward_bias", nthreads))
    cdef real[:, ::1] parts = np.zeros((S, O + 1), dtype=_dtype(gy.itemsize))
    cdef unsigned int csr = 0
    if O == 0:
        return
    if R > 0:
        with nogil, parallel(num_threads=nt):
            csr = tl_ftz_enter()
            for t in prange(S, schedule="dynamic"):
                _colsum_rows(&gy[0, 0], &parts[t, 0], O, R * t // S, R * (t + 1) // S)
            tl_ftz_leave(csr)
    _reduce_partials(&parts[0, 0], &gb[0], S, O, O + 1)
