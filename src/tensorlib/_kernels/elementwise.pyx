# Elementwise kernels used on the hot path of activations.
#
# Design: each kernel is a `noexcept nogil` loop over a flat contiguous buffer,
# parallelised with prange in static chunks when the buffer is large enough to pay for
# the thread start-up (SERIAL_BELOW elements); otherwise it runs on the calling thread.
# The `def` wrappers take C-contiguous float32/float64 arrays of equal size and the
# thread count chosen by tensorlib._threads. Denormals are flushed inside each thread.
from cython.parallel cimport prange, parallel

ctypedef fused real:
    float
    double

cdef extern from "tl_ftz.h" nogil:
    unsigned int tl_ftz_enter()
    void tl_ftz_leave(unsigned int old)

cdef Py_ssize_t SERIAL_BELOW = 1 << 15


cdef inline int _threads_for(Py_ssize_t n, int nthreads) noexcept nogil:
    return 1 if n < SERIAL_BELOW else max(nthreads, 1)


def relu_forward(real[::1] x, real[::1] out, int nthreads=1):
    """out[i] = max(x[i], 0)."""
    cdef Py_ssize_t i, n = x.shape[0]
    cdef int nt = _threads_for(n, nthreads)
    cdef unsigned int csr
    if out.shape[0] != n:
        raise ValueError(f"relu_forward: out has {out.shape[0]} elements, x has {n}")
    with nogil, parallel(num_threads=nt):
        csr = tl_ftz_enter()
        for i in prange(n, schedule="static"):
            out[i] = x[i] if x[i] > 0 else 0
        tl_ftz_leave(csr)


def relu_backward(real[::1] y, real[::1] grad_out, real[::1] grad_in, int nthreads=1):
    """grad_in[i] = grad_out[i] if y[i] > 0 else 0 (y is the ReLU output)."""
    cdef Py_ssize_t i, n = y.shape[0]
    cdef int nt = _threads_for(n, nthreads)
    cdef unsigned int csr
    if grad_out.shape[0] != n or grad_in.shape[0] != n:
        raise ValueError(
            f"relu_backward: sizes differ: y {n}, grad_out {grad_out.shape[0]}, "
            f"grad_in {grad_in.shape[0]}")
    with nogil, parallel(num_threads=nt):
        csr = tl_ftz_enter()
        for i in prange(n, schedule="static"):
            grad_in[i] = grad_out[i] if y[i] > 0 else 0
        tl_ftz_leave(csr)
