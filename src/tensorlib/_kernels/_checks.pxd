# Argument checks and thread probes shared by the kernel modules (cimported: inline
# functions only, so there is no _checks module at run time).
#
# The kernels are public (tensorlib._kernels.*), so their def entry points re-check the
# sizes they are given, cheaply and in Python ints, before any native code runs: a
# window, stride or dilation in [1, 2**31 - 1], pads in [0, 2**62], and extents such
# that every index the kernel computes fits in int64 (each module's _geo).
# tensorlib.backend._shapes applies the same bounds (and more) to the public ops first.
from cpython.number cimport PyNumber_Index

cdef extern from "tl_threads.h" nogil:
    int TL_MAX_THREADS
    int tl_clamp_threads(int n)
    int tl_openmp_enabled()
    int tl_team_size(int n)


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
