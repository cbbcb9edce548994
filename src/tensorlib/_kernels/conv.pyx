# 2-D convolution on NHWC float32/float64 tensors with (kh, kw, cin, cout) kernels.
#
# Design: two kernel families, chosen per shape (by measurement) in backend/native.py.
# * direct = implicit GEMM (micro-kernels in csrc/conv_ukernels.h): a register tile of
#   6 pixels x 16 channels (12 x 32 with AVX-512) accumulates over every (tap, channel)
#   pair straight from the NHWC data, with no patch matrix. Forward ("gather"): tiles of
#   output pixels, crossing rows and images, x cout; weights packed once; bias + ReLU in
#   the tile epilogue.
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
#
# Files: _conv_geometry.pxi (checks, geometry, ordered reductions), _conv_direct.pxi
# (direct kernels), _conv_im2col.pxi (im2col + GEMM), this file (thresholds, def API).
from cython.parallel cimport prange, parallel, threadid
from libc.stdint cimport int64_t
from libc.string cimport memset, memcpy

import numpy as np

from tensorlib._kernels._common cimport (real, check_ints, check_threads, tl_ftz_enter,
                                         tl_ftz_leave, tl_openmp_enabled, tl_team_size,
                                         threads_for, set_threshold)
from tensorlib._kernels.gemm cimport sgemm_strided, dgemm_strided, simd_level

_gather_items = 8       # gather (forward) work items wanted per thread
_wgrad_budget = 65536   # elements of input + gy per weight-gradient work item
_wgrad_items = 8        # weight-gradient work items wanted (when the batch allows)
_scatter_budget = 16384  # elements of gy + gx per scatter (input-gradient) pixel block
# Serial thresholds in ops (_common.pxd): multiply-adds for the conv kernels, element
# adds for the bias / partial-sum reductions (which give the same bits at any thread
# count, so only speed depends on them). Beside each: the bench command that sets it, and
# its last reading (2026-11-29, shared 2-core Xeon with AVX-512, load ~0.5; noisy).
# 3x3 forward: 2 threads lost at 1.15e5, won from 2.3e5 (serial/parallel 1.03-1.54).
#   python bench/bench_serial.py --threads 2 --kernels conv
cdef double SERIAL_BELOW = 1 << 17
# Bias column sums: 2 threads lost up to 2.1e6 (0.22-0.69), broke even at 4.2e6 (1.06),
# won at 1.7e7 (2.48). The weight-gradient partial sums (_finish_wgrad: the same element
# adds, in column chunks) follow it unmeasured. (Before: the bias kernel counted R*O*8
# against SERIAL_BELOW, i.e. 16384 elements; the partial sums used SERIAL_BELOW itself.)
#   python bench/bench_serial.py --threads 2 --kernels bias
cdef double REDUCE_BELOW = 1 << 22
cdef Py_ssize_t WGRAD_SLOTS = 16       # max slots (partials) of a weight / bias gradient
cdef Py_ssize_t WGRAD_MIN_SLOTS = 4    # slots allowed even past the partials' 2M budget
cdef object MAX_WINDOW = 2**31 - 1
cdef object MAX_EXTENT = 2**62
_KERNEL_NAMES = ("ref", "avx2", "avx512", "avx512-emu")    # by simd_level() (gemm.pxd)

include "_conv_geometry.pxi"
include "_conv_direct.pxi"
include "_conv_im2col.pxi"
include "_probes.pxi"


def _set_thresholds(serial_below=None, reduce_below=None):
    """Testing hook: set SERIAL_BELOW / REDUCE_BELOW (ops below which a conv kernel / a
    reduction stays on the calling thread); returns the old values, so
    ``_set_thresholds(**old)`` restores them."""
    global SERIAL_BELOW, REDUCE_BELOW
    old = dict(serial_below=SERIAL_BELOW, reduce_below=REDUCE_BELOW)
    SERIAL_BELOW = set_threshold(SERIAL_BELOW, serial_below)
    REDUCE_BELOW = set_threshold(REDUCE_BELOW, reduce_below)
    return old


def tile_info():
    """The direct kernels' float32 tile at the active SIMD level (set for every kernel
    module by TENSORLIB_SIMD or tensorlib._kernels.gemm._set_simd_level): {'level': 0 ref
    / 1 AVX2 / 2 AVX-512, 'kernel': 'ref' / 'avx2' / 'avx512' / 'avx512-emu', 'pixels': 6
    or 12, 'channels': 16 or 32}. The testing hook 'avx512-emu' runs the AVX-512 tiles'
    source built for AVX2: its level is 2, whose kernel choices it follows."""
    cdef int lvl = simd_level()
    return {"level": min(lvl, 2), "kernel": _KERNEL_NAMES[lvl], "pixels": _cp(lvl, 4),
            "channels": _co(lvl, 4)}


def conv2d_forward_direct(const real[:, :, :, ::1] x, const real[:, :, :, ::1] w,
                          const real[::1] b,
                          real[:, :, :, ::1] y, strides, dilation, pads, bint relu=False,
                          nthreads=1):
    """y = act(b + conv(x, w)) (b may be None; act = ReLU if relu) by 6x16 register tiles."""
    cdef CGeo g = _geo(_shape4(x.shape), _shape4(y.shape), _shape4(w.shape), strides,
                       dilation, pads, "conv2d_forward")
    _bias_ptr(b, g.O)
    cdef int nt = threads_for(SERIAL_BELOW, <double>g.N * g.OH * g.OW * g.K * g.O,
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
    cdef int nt = threads_for(SERIAL_BELOW, <double>g.N * g.H * g.W * g.K * g.O,
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
    cdef int nt = min(threads_for(SERIAL_BELOW, <double>g.N * g.OH * g.OW * g.K * g.O,
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
    cdef int nt = threads_for(SERIAL_BELOW, <double>g.N * g.OH * g.OW * KO,
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
    cdef Py_ssize_t rows = gy.shape[0], cout = gy.shape[1], t, S = WGRAD_SLOTS
    cdef int nt = threads_for(REDUCE_BELOW, <double>rows * cout,
                              check_threads("conv2d_backward_bias", nthreads))
    cdef real[:, ::1] parts = np.zeros((S, cout + 1), dtype=_dtype(gy.itemsize))
    cdef unsigned int csr = 0
    if cout == 0:
        return
    if rows > 0:
        with nogil, parallel(num_threads=nt):
            csr = tl_ftz_enter()
            for t in prange(S, schedule="dynamic"):
                _colsum_rows(&gy[0, 0], &parts[t, 0], cout, rows * t // S,
                             rows * (t + 1) // S)
            tl_ftz_leave(csr)
    _reduce_partials(&parts[0, 0], &gb[0], S, cout, cout + 1)
