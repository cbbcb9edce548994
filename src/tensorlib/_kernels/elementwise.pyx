# Elementwise kernels used on the hot path of activations.
#
# Design: each kernel is a `noexcept nogil` loop over a flat contiguous buffer,
# parallelised with prange in static chunks when the buffer is large enough to pay for
# the thread start-up (SERIAL_BELOW elements); otherwise it runs on the calling thread.
# The `def` wrappers take C-contiguous float32/float64 arrays of equal size and the
# thread count chosen by tensorlib._threads; each thread runs whole chunks through a plain
# pointer loop that the compiler vectorises. Denormals are flushed inside each thread.
from cython.parallel cimport prange, parallel

ctypedef fused real:
    float
    double

cdef extern from "tl_ftz.h" nogil:
    unsigned int tl_ftz_enter()
    void tl_ftz_leave(unsigned int old)

cdef extern from "tl_elementwise.h" nogil:
    void tl_relu_grad_f32(const float* y, const float* g, float* out, Py_ssize_t n)
    void tl_relu_grad_f64(const double* y, const double* g, double* out, Py_ssize_t n)

cdef Py_ssize_t SERIAL_BELOW = 1 << 15
cdef Py_ssize_t CHUNK = 1 << 14


cdef inline int _threads_for(Py_ssize_t n, int nthreads) noexcept nogil:
    return 1 if n < SERIAL_BELOW else max(nthreads, 1)


cdef inline void _relu_chunk(const real* x, real* out, Py_ssize_t n) noexcept nogil:
    """out[i] = max(x[i], 0) on one contiguous chunk (a plain loop the compiler vectorises)."""
    cdef Py_ssize_t i
    for i in range(n):
        out[i] = x[i] if x[i] > 0 else 0


cdef inline void _relu_grad_chunk(const real* y, const real* g, real* out,
                                  Py_ssize_t n) noexcept nogil:
    """out[i] = g[i] if y[i] > 0 else 0 on one contiguous chunk (C loop, restrict)."""
    if real is float:
        tl_relu_grad_f32(y, g, out, n)
    else:
        tl_relu_grad_f64(y, g, out, n)


def relu_forward(const real[::1] x, real[::1] out, int nthreads=1):
    """out[i] = max(x[i], 0)."""
    cdef Py_ssize_t c, lo, n = x.shape[0]
    cdef Py_ssize_t nchunks = (n + CHUNK - 1) // CHUNK
    cdef int nt = _threads_for(n, nthreads)
    cdef unsigned int csr
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
                  int nthreads=1):
    """grad_in[i] = grad_out[i] if y[i] > 0 else 0 (y is the ReLU output)."""
    cdef Py_ssize_t c, lo, n = y.shape[0]
    cdef Py_ssize_t nchunks = (n + CHUNK - 1) // CHUNK
    cdef int nt = _threads_for(n, nthreads)
    cdef unsigned int csr
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
