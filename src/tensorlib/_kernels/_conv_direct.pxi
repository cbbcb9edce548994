# conv.pyx, part 2 (included): the direct (implicit GEMM) kernels. A work item (whole
# images, or a band of one image's output rows) is cut into register tiles of csrc's
# conv_ukernels.h: forward and stride-1 input gradient "gather", any-stride input gradient
# "scatter", and the weight gradient's (tap, channel) x cout tiles.

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
    void tl_conv_wtile_f32(int level, int64_t nk, const float* const* xk, int64_t nimg,
                           int64_t xis, int64_t nrows, int64_t xrs, int64_t ncols, int64_t xcs,
                           const float* g, int64_t gis, int64_t grs, int64_t ldg, int64_t no,
                           float* acc, int64_t lda)
    void tl_conv_wtile_f64(int level, int64_t nk, const double* const* xk, int64_t nimg,
                           int64_t xis, int64_t nrows, int64_t xrs, int64_t ncols, int64_t xcs,
                           const double* g, int64_t gis, int64_t grs, int64_t ldg,
                           int64_t no, double* acc, int64_t lda)

assert TL_CP == 6 and TL_CO == 16 and TL_CP_MAX == 12, "arrays below hold 12-pixel tiles"


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
                                  d.sh * d.Wp * d.C, d.OW, d.sw * d.C, g + o0,
                                  d.OH * d.OW * d.O, d.OW * d.O, d.O, min(d.co, d.O - o0),
                                  part + k0 * d.O + o0, d.O)
            else:
                tl_conv_wtile_f64(d.lvl, nk, xk, m.n1 - m.n0, xis, m.oh1 - m.oh0,
                                  d.sh * d.Wp * d.C, d.OW, d.sw * d.C, g + o0,
                                  d.OH * d.OW * d.O, d.OW * d.O, d.O, min(d.co, d.O - o0),
                                  part + k0 * d.O + o0, d.O)


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
                  Py_ssize_t ow, Py_ssize_t o, CGeo g, Py_ssize_t itemsize, Py_ssize_t sh,
                  Py_ssize_t sw, Py_ssize_t pt, Py_ssize_t pl, Py_ssize_t items,
                  Py_ssize_t budget=16384):
    """Direct problem: source (n, h, w, c) at (pt, pl), output (n, oh, ow, o), g's taps,
    cut into work items of about `budget` elements of input + output, at least `items` of
    them when possible: groups of whole images, or row bands of one image."""
    cdef DConv d
    d.O, d.N, d.H, d.W, d.C, d.OH, d.OW = o, n, h, w, c, oh, ow
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
