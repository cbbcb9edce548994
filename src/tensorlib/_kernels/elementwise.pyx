# Elementwise kernels used on the hot path of activations.
#
# Design: each kernel is a `noexcept nogil` loop over a flat contiguous buffer,
# parallelised with prange in static chunks when the work is large enough to pay for the
# thread start-up (SERIAL_BELOW ops, the unit of _common.pxd: one op per element read or
# written, 2n for relu forward and 3n for its gradient); otherwise it runs on the calling
# thread.
# The `def` wrappers take C-contiguous float32/float64 arrays of equal size and the
# thread count chosen by tensorlib._threads; each thread runs whole chunks through a plain
# pointer loop that the compiler vectorises. Denormals are flushed inside each thread.
# NaN semantics follow PyTorch: relu(NaN) = NaN (as np.maximum), relu(-0.0) = -0.0, and
# the gradient is masked where y <= 0 only, so it passes through where y is NaN
# (torch's threshold_backward(grad, result, 0)).
from cython.parallel cimport prange, parallel

from tensorlib._kernels._common cimport (real, check_threads, set_threshold, threads_for,
                                         tl_ftz_enter, tl_ftz_leave, tl_openmp_enabled,
                                         tl_team_size)

cdef extern from "tl_elementwise.h" nogil:
    void tl_relu_grad_f32(const float* y, const float* g, float* out, Py_ssize_t n)
    void tl_relu_grad_f64(const double* y, const double* g, double* out, Py_ssize_t n)

# 2**16 ops = a 32K-element relu forward (the previous element threshold); set by
#   python bench/bench_serial.py --threads 2 --kernels relu
cdef double SERIAL_BELOW = 1 << 16
cdef Py_ssize_t CHUNK = 1 << 14


include "_probes.pxi"


def _set_thresholds(serial_below=None, chunk=None):
    """Testing hook: set SERIAL_BELOW (ops below which a kernel stays on the calling
    thread) and CHUNK (elements per parallel chunk); returns the old values, so
    ``_set_thresholds(**old)`` restores them."""
    global SERIAL_BELOW, CHUNK
    old = dict(serial_below=SERIAL_BELOW, chunk=CHUNK)
    SERIAL_BELOW = set_threshold(SERIAL_BELOW, serial_below)
    if chunk is not None:
        CHUNK = max(1, chunk)
    return old


cdef inline void _relu_chunk(const real* x, real* out, Py_ssize_t n) noexcept nogil:
    """out[i] = 0 if x[i] < 0 else x[i] on one contiguous chunk (NaN stays NaN; a plain
    loop the compiler vectorises)."""
    cdef Py_ssize_t i
    for i in range(n):
        out[i] = 0 if x[i] < 0 else x[i]


cdef inline void _relu_grad_chunk(const real* y, const real* g, real* out,
                                  Py_ssize_t n) noexcept nogil:
    """out[i] = 0 if y[i] <= 0 else g[i] on one contiguous chunk (C loop, restrict)."""
    if real is float:
        tl_relu_grad_f32(y, g, out, n)
    else:
        tl_relu_grad_f64(y, g, out, n)


def relu_forward(const real[::1] x, real[::1] out, nthreads=1):
    """out[i] = 0 if x[i] < 0 else x[i] (max(x, 0) that keeps NaN and -0.0)."""
    cdef Py_ssize_t c, lo, n = x.shape[0]
    cdef Py_ssize_t nchunks = (n + CHUNK - 1) // CHUNK
    cdef int nt = threads_for(SERIAL_BELOW, 2.0 * n, check_threads("relu_forward", nthreads))
    cdef unsigned int csr = 0
    if out.shape[0] != n:
        raise ValueError(f"relu_forward: out has {out.shape[0]} elements, x has {n}")
    if n == 0:
        return
    with nogil, parallel(num_threads=nt):
        csr = tl_ftz_enter()
        for c in prange(nchunks, schedule="static"):
            lo = c * CHUNK
            _relu_chunk(&x[lo], &out[lo], min(CHUNK, n - lo))
        tl_ftz_leave(csr)


def relu_backward(const real[::1] y, const real[::1] grad_out, real[::1] grad_in,
                  nthreads=1):
    """grad_in[i] = 0 if y[i] <= 0 else grad_out[i] (y is the ReLU output; NaN passes)."""
    cdef Py_ssize_t c, lo, n = y.shape[0]
    cdef Py_ssize_t nchunks = (n + CHUNK - 1) // CHUNK
    cdef int nt = threads_for(SERIAL_BELOW, 3.0 * n, check_threads("relu_backward", nthreads))
    cdef unsigned int csr = 0
    if grad_out.shape[0] != n or grad_in.shape[0] != n:
        raise ValueError(
            f"relu_backward: sizes differ: y {n}, grad_out {grad_out.shape[0]}, "
            f"grad_in {grad_in.shape[0]}")
    if n == 0:
        return
    with nogil, parallel(num_threads=nt):
        csr = tl_ftz_enter()
        for c in prange(nchunks, schedule="static"):
            lo = c * CHUNK
            _relu_grad_chunk(&y[lo], &grad_out[lo], &grad_in[lo], min(CHUNK, n - lo))
        tl_ftz_leave(csr)
