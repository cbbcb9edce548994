# What every kernel module shares (cimported: C declarations and inline functions only,
# so there is no _common module at run time; the def probes are in _probes.pxi).
#
# * `real`: the fused float32 / float64 type of every kernel.
# * FTZ/DAZ while a thread works (tl_ftz.h); the thread clamp and OpenMP probes
#   (tl_threads.h).
# * The serial-work rule, threads_for: a kernel runs on the calling thread when its work
#   is below its module's SERIAL_BELOW. Work is counted in ONE unit everywhere:
#       "ops" = estimated multiply-adds (m*n*k for a GEMM, N*OH*OW*kh*kw*C*O for a
#       convolution); a kernel without multiplies (pooling, ReLU, reductions, copies)
#       counts one op per element it reads or writes.
#   The thresholds differ per module (a multiply-add in a register tile is ~30x cheaper
#   than a memory-bound element op): each sits beside the bench command that set it.
# * Argument checks of the def wrappers (check_ints, check_threads). The kernels are public
#   (tensorlib._kernels.*), so their def entry points re-check the sizes they are given,
#   cheaply and in Python ints, before any native code runs: a window, stride or dilation
#   in [1, 2**31 - 1], pads in [0, 2**62], and extents such that every index the kernel
#   computes fits in int64 (each module's _geo). tensorlib.backend._shapes applies the
#   same bounds (and more) to the public ops first.
from cpython.number cimport PyNumber_Index

ctypedef fused real:
    float
    double

cdef extern from "tl_ftz.h" nogil:
    unsigned int tl_ftz_enter()
    void tl_ftz_leave(unsigned int old)

cdef extern from "tl_threads.h" nogil:
    int TL_MAX_THREADS
    int tl_clamp_threads(int n)
    int tl_openmp_enabled()
    int tl_team_size(int n)


cdef inline int threads_for(double serial_below, double ops, int nthreads) noexcept nogil:
    """Threads for a kernel of `ops` estimated multiply-adds (or element ops): 1 below
    serial_below (the module's SERIAL_BELOW), else nthreads clamped to [1, TL_MAX_THREADS]."""
    return 1 if ops < serial_below else tl_clamp_threads(nthreads)


cdef inline double set_threshold(double old, value):
    """A _set_thresholds hook's new value: old when value is None, else max(0, value)."""
    return old if value is None else max(0.0, <double>value)


cdef inline tuple check_ints(str fn, str name, values, lo, hi):
    """``values`` (a sequence) as a tuple of Python ints in [lo, hi], else ValueError."""
    cdef list out = []
    try:
        for v in values:
            if isinstance(v, bool) or type(v).__name__ == "bool_":
                raise TypeError
            out.append(PyNumber_Index(v))
    except TypeError:
        raise ValueError(f"{fn}: {name} must be a tuple of ints. Received: "
                         f"{name}={values!r}") from None
    for v in out:
        if not lo <= v <= hi:
            raise ValueError(f"{fn}: {name} must lie in [{lo}, {hi}]. Received: "
                             f"{name}={values!r}")
    return tuple(out)


cdef inline int check_threads(str fn, nthreads) except -1:
    """A thread count for a kernel: an int >= 1, clamped to TL_MAX_THREADS."""
    if isinstance(nthreads, bool) or type(nthreads).__name__ == "bool_":
        raise ValueError(f"{fn}: nthreads must be a positive int. Received: "
                         f"nthreads={nthreads!r}")
    try:
        n = PyNumber_Index(nthreads)
    except TypeError:
        raise ValueError(f"{fn}: nthreads must be a positive int. Received: "
                         f"nthreads={nthreads!r}") from None
    if n < 1:
        raise ValueError(f"{fn}: nthreads must be a positive int. Received: "
                         f"nthreads={nthreads!r}")
    return min(n, TL_MAX_THREADS)
