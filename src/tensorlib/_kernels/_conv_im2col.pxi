# conv.pyx, part 3 (included): im2col + GEMM. Chunks of output pixels are unrolled into a
# thread-private patch matrix and multiplied by a serial GEMM (gemm.pxd's strided entry
# points, which never split K), the weight gradient summing chunks into per-slot partials.

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


cdef Py_ssize_t _chunk_rows(Py_ssize_t k, Py_ssize_t itemsize) noexcept:
    """Pixels per im2col chunk: a patch matrix of about 256 KiB (16..512 rows)."""
    return max(16, min(512, (256 * 1024) // max(k * itemsize, 1)))


cdef _im2col_gemm(const real[:, :, :, ::1] x, const real* wg, real* out, const real* bp,
                  real* gbp, CGeo g, bint wgrad, bint relu, int nthreads):
    """Chunks of MC output pixels: thread-private im2col, then a serial GEMM.
    forward (wgrad False): out rows = act(bp + col @ w), wg = w (K x O);
    weight gradient: out = [gw | gb] += col^T @ gy rows per slot, wg = gy (M x O)."""
    cdef Py_ssize_t M = g.N * g.OH * g.OW, KO = g.K * g.O, ch, p0, nrows, slot
    cdef bint pointwise = _is_pointwise(g)     # then x itself is the patch matrix
    cdef Py_ssize_t mc = min(_chunk_rows(g.K, x.itemsize), max(M, 1))
    cdef Py_ssize_t nch = (M + mc - 1) // mc
    cdef int nt = min(threads_for(SERIAL_BELOW, <double>M * KO, nthreads), max(nch, 1)), fail = 0
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
