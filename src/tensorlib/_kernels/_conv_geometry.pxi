# conv.pyx, part 1 (included): geometry and size checks, pointers of views, and the
# ordered reductions of per-slot partials (weight and bias gradients).

ctypedef struct CGeo:
    Py_ssize_t N, H, W, C, OH, OW, O, kh, kw, sh, sw, dh, dw, pt, pl, K


cdef tuple _shape4(Py_ssize_t* s):
    return (s[0], s[1], s[2], s[3])


cdef inline const real* _c4(const real[:, :, :, ::1] a) noexcept:
    """Data pointer of a 4-D view, NULL when it is empty (never indexes out of bounds)."""
    return &a[0, 0, 0, 0] if a.shape[0] and a.shape[1] and a.shape[2] and a.shape[3] else NULL


cdef inline const real* _c2(const real[:, ::1] a) noexcept:
    return &a[0, 0] if a.shape[0] and a.shape[1] else NULL


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
    g.O, g.OH, g.OW = ys[3], ys[1], ys[2]
    g.kh, g.kw = ws[0], ws[1]
    g.sh, g.sw, g.dh, g.dw, g.pt, g.pl = sh, sw, dh, dw, pt, pl
    g.K = g.kh * g.kw * g.C
    return g


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


cdef _finish_wgrad(real[:, ::1] parts, real* gw, real* gbp, Py_ssize_t ko, Py_ssize_t o,
                   Py_ssize_t nparts, int nthreads):
    """gw (and gb) = the partials [gw | gb] added in order (in parallel over columns)."""
    cdef Py_ssize_t ld = parts.shape[1], ch, c0, nch = (ko + 4095) // 4096
    cdef int nt = min(threads_for(REDUCE_BELOW, <double>nparts * ko, nthreads), max(nch, 1))
    if ko:
        with nogil, parallel(num_threads=nt):
            for ch in prange(nch, schedule="static"):
                c0 = ch * 4096
                _reduce_partials(&parts[0, c0], gw + c0, nparts, min(4096, ko - c0), ld)
    if gbp != NULL:
        _reduce_partials(&parts[0, ko], gbp, nparts, o, ld)
