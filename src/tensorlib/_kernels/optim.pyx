# Fused optimizer updates (SGD, RMSprop, Adam): every variable of a step in one call.
#
# Design: the def wrappers take lists with one entry per variable (the variables, their
# gradients, each kind of slot array) and update them in place. They check every array
# (an ndarray of the first variable's dtype, float32 or float64, C-contiguous, of its
# variable's shape, writeable unless it is a gradient), gather the raw pointers into one
# table and cut the work into chunks of CHUNK elements that never cross a variable. One
# `noexcept nogil` loop per chunk then does the whole update of those elements. A step of
# SERIAL_BELOW elements or more runs its chunks in a prange (static schedule); smaller
# steps stay on the calling thread, and so does a step whose buffers overlap (a variable
# listed twice, a gradient that is another variable's data...), so that it keeps NumPy's
# variable-by-variable order.
#
# Numerics: each kernel performs the operations of the NumPy reference
# (tensorlib.backend.numpy_ref), in the same order and in the arrays' precision (float
# stays float: C float arithmetic, sqrtf), with no FMA contraction (setup.py builds this
# module with -ffp-contract=off; never -ffast-math) and no flush-to-zero (NumPy keeps
# denormals), so results are bit-identical to NumPy's at every thread count. The scalar
# hyper-parameters arrive as doubles and are rounded to the arrays' dtype first, as the
# optimizers' dtype casts do.
cimport cython
cimport numpy as cnp
from cython.parallel cimport prange
from libc.math cimport sqrt, sqrtf
from libc.stdlib cimport free, malloc, qsort

import numpy as np

from tensorlib._kernels._common cimport (real, check_threads, set_threshold, threads_for,
                                         tl_openmp_enabled, tl_team_size)

cnp.import_array()

# Work in _common's unit: one op per element read or written (Adam: 4 reads + 3 writes
# per parameter). A step is a few memory-bound passes, ~0.6 ns per float32 parameter on
# one EPYC core: the seed convnet's 93K parameters (~0.65M ops with Adam) take ~50 us,
# which a second thread cannot win back once its wake-up is paid (and on a loaded machine
# a parallel region can wait milliseconds for a descheduled worker; measured with
# bench/bench_optimizer.py). Threads only from 2M ops (~300K parameters) on.
cdef double SERIAL_BELOW = 1 << 21
cdef Py_ssize_t CHUNK = 1 << 14


cdef struct Batch:
    Py_ssize_t nvars
    char** p          # p[role * nvars + j]: the array of `role` for variable j, or NULL
    Py_ssize_t* n     # n[j]: elements of variable j
    Py_ssize_t nchunks
    Py_ssize_t* cvar  # chunk c covers elements [clo[c], clo[c] + CHUNK) of variable cvar[c]
    Py_ssize_t* clo
    int nthreads


cdef struct Span:
    char* lo
    char* hi


include "_probes.pxi"


def _set_thresholds(serial_below=None, chunk=None):
    """Testing hook: set SERIAL_BELOW (ops: elements read or written, below which a step
    stays on the calling thread) and CHUNK (elements of one variable per chunk); returns
    the old values, so ``_set_thresholds(**old)`` restores them."""
    global SERIAL_BELOW, CHUNK
    old = dict(serial_below=SERIAL_BELOW, chunk=CHUNK)
    SERIAL_BELOW = set_threshold(SERIAL_BELOW, serial_below)
    if chunk is not None:
        CHUNK = max(1, chunk)
    return old


# ------------------------------------------------------------------- per-chunk math --

@cython.cdivision(True)
cdef inline void _sgd_chunk(real* w, const real* g, real* m, Py_ssize_t n, real lr,
                            real mom, bint nesterov) noexcept nogil:
    """m = m*mom - g*lr; w += m*mom - g*lr (nesterov) or w += m; w -= g*lr without m."""
    cdef Py_ssize_t i
    if m == NULL:
        for i in range(n):
            w[i] = w[i] - g[i] * lr
    elif nesterov:
        for i in range(n):
            m[i] = m[i] * mom - g[i] * lr
            w[i] = w[i] + (m[i] * mom - g[i] * lr)
    else:
        for i in range(n):
            m[i] = m[i] * mom - g[i] * lr
            w[i] = w[i] + m[i]


cdef inline real _sqrt(real x) noexcept nogil:
    if real is float:
        return sqrtf(x)
    else:
        return sqrt(x)


@cython.cdivision(True)
cdef inline void _rmsprop_chunk(real* w, const real* g, real* v, real* mg, real* m,
                                Py_ssize_t n, real lr, real rho, real omr, real mom,
                                real eps) noexcept nogil:
    """v = rho*v + (1-rho)*g^2; (centered) mg = rho*mg + (1-rho)*g;
    inc = lr*g / sqrt(v - mg^2 + eps) (or sqrt(v + eps)); m = mom*m + inc, w -= m
    (or w -= inc)."""
    cdef Py_ssize_t i
    cdef real den, inc
    for i in range(n):
        v[i] = rho * v[i] + omr * (g[i] * g[i])
        if mg != NULL:
            mg[i] = rho * mg[i] + omr * g[i]
            den = v[i] - mg[i] * mg[i] + eps
        else:
            den = v[i] + eps
        inc = lr * g[i] / _sqrt(den)
        if m != NULL:
            m[i] = mom * m[i] + inc
            w[i] = w[i] - m[i]
        else:
            w[i] = w[i] - inc


@cython.cdivision(True)
cdef inline void _adam_chunk(real* w, const real* g, real* m, real* v, real* vh,
                             Py_ssize_t n, real alpha, real c1, real c2,
                             real eps) noexcept nogil:
    """m += (g-m)*c1; v += (g^2-v)*c2; (amsgrad) vh = max(vh, v), NaN-propagating;
    w -= (m*alpha) / (sqrt(vh or v) + eps)."""
    cdef Py_ssize_t i
    cdef real d
    for i in range(n):
        m[i] = m[i] + (g[i] - m[i]) * c1
        v[i] = v[i] + (g[i] * g[i] - v[i]) * c2
        d = v[i]
        if vh != NULL:
            if not (vh[i] >= d or vh[i] != vh[i]):
                vh[i] = d
            d = vh[i]
        w[i] = w[i] - (m[i] * alpha) / (_sqrt(d) + eps)


# ------------------------------------------------------------- one chunk of a batch --

cdef inline char* _at(const Batch* b, int role, Py_ssize_t c, Py_ssize_t itemsize) noexcept nogil:
    """Start of chunk c in its variable's array of ``role``, or NULL if that is absent."""
    cdef char* p = b.p[role * b.nvars + b.cvar[c]]
    return NULL if p == NULL else p + b.clo[c] * itemsize


cdef inline Py_ssize_t _len(const Batch* b, Py_ssize_t c) noexcept nogil:
    return min(CHUNK, b.n[b.cvar[c]] - b.clo[c])


cdef inline void _sgd_one(const Batch* b, Py_ssize_t c, real lr, real mom,
                          bint nesterov) noexcept nogil:
    cdef Py_ssize_t z = sizeof(real)
    _sgd_chunk(<real*>_at(b, 0, c, z), <real*>_at(b, 1, c, z), <real*>_at(b, 2, c, z),
               _len(b, c), lr, mom, nesterov)


cdef inline void _rmsprop_one(const Batch* b, Py_ssize_t c, real lr, real rho, real omr,
                              real mom, real eps) noexcept nogil:
    cdef Py_ssize_t z = sizeof(real)
    _rmsprop_chunk(<real*>_at(b, 0, c, z), <real*>_at(b, 1, c, z), <real*>_at(b, 2, c, z),
                   <real*>_at(b, 3, c, z), <real*>_at(b, 4, c, z), _len(b, c),
                   lr, rho, omr, mom, eps)


cdef inline void _adam_one(const Batch* b, Py_ssize_t c, real alpha, real c1, real c2,
                           real eps) noexcept nogil:
    cdef Py_ssize_t z = sizeof(real)
    _adam_chunk(<real*>_at(b, 0, c, z), <real*>_at(b, 1, c, z), <real*>_at(b, 2, c, z),
                <real*>_at(b, 3, c, z), <real*>_at(b, 4, c, z), _len(b, c),
                alpha, c1, c2, eps)


cdef void _sgd_run(const Batch* b, real lr, real mom, bint nesterov) noexcept nogil:
    cdef Py_ssize_t c
    if b.nthreads == 1:
        for c in range(b.nchunks):
            _sgd_one(b, c, lr, mom, nesterov)
    else:
        for c in prange(b.nchunks, num_threads=b.nthreads, schedule="static"):
            _sgd_one(b, c, lr, mom, nesterov)


cdef void _rmsprop_run(const Batch* b, real lr, real rho, real omr, real mom,
                       real eps) noexcept nogil:
    cdef Py_ssize_t c
    if b.nthreads == 1:
        for c in range(b.nchunks):
            _rmsprop_one(b, c, lr, rho, omr, mom, eps)
    else:
        for c in prange(b.nchunks, num_threads=b.nthreads, schedule="static"):
            _rmsprop_one(b, c, lr, rho, omr, mom, eps)


cdef void _adam_run(const Batch* b, real alpha, real c1, real c2, real eps) noexcept nogil:
    cdef Py_ssize_t c
    if b.nthreads == 1:
        for c in range(b.nchunks):
            _adam_one(b, c, alpha, c1, c2, eps)
    else:
        for c in prange(b.nchunks, num_threads=b.nthreads, schedule="static"):
            _adam_one(b, c, alpha, c1, c2, eps)


# ------------------------------------------------------------- checks and the batch --

cdef int _cmp_span(const void* a, const void* b) noexcept nogil:
    cdef char* x = (<const Span*>a).lo
    cdef char* y = (<const Span*>b).lo
    return -1 if x < y else (1 if x > y else 0)


cdef bint _overlapping(Span* s, Py_ssize_t k) noexcept nogil:
    """Whether any two of the k byte ranges overlap (sorts ``s``)."""
    cdef Py_ssize_t i
    cdef char* end
    if k < 2:
        return False
    qsort(s, k, sizeof(Span), _cmp_span)
    end = s[0].hi
    for i in range(1, k):
        if s[i].lo < end:
            return True
        if s[i].hi > end:
            end = s[i].hi
    return False


cdef str _describe(a):
    if not isinstance(a, np.ndarray):
        return f"a {type(a).__name__}"
    return (f"a {a.dtype} array of shape {a.shape}"
            f"{'' if a.flags.c_contiguous else ', not C-contiguous'}"
            f"{'' if a.flags.writeable else ', read-only'}")


cdef class _Batch:
    """Owns the C tables of one call (freed with the object)."""
    cdef Batch b
    cdef Span* spans
    cdef int typenum

    def __cinit__(self):
        self.b.p = NULL
        self.b.n = NULL
        self.b.cvar = NULL
        self.b.clo = NULL
        self.spans = NULL

    def __dealloc__(self):
        free(self.b.p)
        free(self.b.n)
        free(self.b.cvar)
        free(self.b.clo)
        free(self.spans)


cdef _Batch _gather(str fn, tuple names, tuple roles, nthreads):
    """Check the arrays of ``roles`` (lists, or None for an absent kind of slot; role 0 =
    variables, role 1 = gradients, read-only) and build the chunk table."""
    cdef _Batch out = _Batch()
    cdef Batch* b = &out.b
    cdef list variables = roles[0]
    cdef Py_ssize_t nv = len(variables), nroles = len(roles), r, j, c, k, total = 0
    cdef Py_ssize_t nspan_roles = sum(x is not None for x in roles)
    cdef int nspan = 0
    cdef cnp.ndarray a, var
    for r in range(nroles):
        if roles[r] is not None and len(roles[r]) != nv:
            raise ValueError(f"{fn}: {names[r]} must have one array per variable ({nv}). "
                             f"Received: {len(roles[r])} arrays")
    b.nvars = nv
    b.p = <char**>malloc(max(nroles * nv, 1) * sizeof(char*))
    b.n = <Py_ssize_t*>malloc(max(nv, 1) * sizeof(Py_ssize_t))
    out.spans = <Span*>malloc(max(nroles * nv, 1) * sizeof(Span))
    if b.p == NULL or b.n == NULL or out.spans == NULL:
        raise MemoryError()
    out.typenum = cnp.NPY_FLOAT
    for j in range(nv):
        for r in range(nroles):
            if roles[r] is None:
                b.p[r * nv + j] = NULL
                continue
            obj = roles[r][j]
            ok = isinstance(obj, np.ndarray)
            if ok:
                a = <cnp.ndarray>obj
                if r == 0 and j == 0 and cnp.PyArray_TYPE(a) == cnp.NPY_DOUBLE:
                    out.typenum = cnp.NPY_DOUBLE
                var = a if r == 0 else <cnp.ndarray>variables[j]
                ok = (cnp.PyArray_TYPE(a) == out.typenum and cnp.PyArray_IS_C_CONTIGUOUS(a)
                      and (r == 1 or cnp.PyArray_ISWRITEABLE(a))
                      and (r == 0 or cnp.PyArray_SAMESHAPE(a, var)))
            if not ok:
                dt = "float64" if out.typenum == cnp.NPY_DOUBLE else "float32"
                shape = "" if r == 0 else f" of shape {variables[j].shape}"
                raise ValueError(
                    f"{fn}: {names[r]}[{j}] must be a C-contiguous"
                    f"{'' if r == 1 else ', writeable'} {dt} array{shape} (the dtype of "
                    f"variables[0], float32 or float64). Received: {names[r]}[{j}] = "
                    f"{_describe(obj)}")
            b.p[r * nv + j] = <char*>cnp.PyArray_DATA(a)
            if r == 0:
                b.n[j] = cnp.PyArray_SIZE(a)
                total += b.n[j]
            if b.n[j] > 0:
                out.spans[nspan].lo = b.p[r * nv + j]
                out.spans[nspan].hi = out.spans[nspan].lo + cnp.PyArray_NBYTES(a)
                nspan += 1
    b.nchunks = 0
    for j in range(nv):
        b.nchunks += (b.n[j] + CHUNK - 1) // CHUNK
    b.cvar = <Py_ssize_t*>malloc(max(b.nchunks, 1) * sizeof(Py_ssize_t))
    b.clo = <Py_ssize_t*>malloc(max(b.nchunks, 1) * sizeof(Py_ssize_t))
    if b.cvar == NULL or b.clo == NULL:
        raise MemoryError()
    c = 0
    for j in range(nv):
        k = 0
        while k < b.n[j]:
            b.cvar[c], b.clo[c] = j, k
            c += 1
            k += CHUNK
    # ops: each array is read, every one but the gradient is written.
    b.nthreads = threads_for(SERIAL_BELOW, <double>total * (2 * nspan_roles - 1),
                             check_threads(fn, nthreads))
    if b.nchunks < 2 or _overlapping(out.spans, nspan):
        b.nthreads = 1
    b.nthreads = <int>min(<Py_ssize_t>b.nthreads, b.nchunks)
    return out


# ------------------------------------------------------------------- entry points --

def sgd_update(list variables not None, list grads not None, list momentums,
               double learning_rate, double momentum, bint nesterov, nthreads=1):
    """In place, per element: ``m = m*momentum - g*lr`` then ``w += m*momentum - g*lr``
    (nesterov) or ``w += m``; ``w -= g*lr`` when ``momentums`` is None."""
    cdef _Batch t = _gather("sgd_update", ("variables", "grads", "momentums"),
                            (variables, grads, momentums), nthreads)
    if t.typenum == cnp.NPY_FLOAT:
        with nogil:
            _sgd_run(&t.b, <float>learning_rate, <float>momentum, nesterov)
    else:
        with nogil:
            _sgd_run(&t.b, learning_rate, momentum, nesterov)


def rmsprop_update(list variables not None, list grads not None,
                   list velocities not None, list average_gradients,
                   list momentums, double learning_rate, double rho, double one_minus_rho,
                   double momentum, double epsilon, nthreads=1):
    """In place: ``v = rho*v + (1-rho)*g^2``; with ``average_gradients`` (centered)
    ``mg = rho*mg + (1-rho)*g`` and ``den = v - mg^2 + eps``, else ``den = v + eps``;
    ``inc = lr*g / sqrt(den)``; with ``momentums`` ``m = momentum*m + inc; w -= m``,
    else ``w -= inc``."""
    cdef _Batch t = _gather(
        "rmsprop_update",
        ("variables", "grads", "velocities", "average_gradients", "momentums"),
        (variables, grads, velocities, average_gradients, momentums), nthreads)
    if t.typenum == cnp.NPY_FLOAT:
        with nogil:
            _rmsprop_run(&t.b, <float>learning_rate, <float>rho, <float>one_minus_rho,
                         <float>momentum, <float>epsilon)
    else:
        with nogil:
            _rmsprop_run(&t.b, learning_rate, rho, one_minus_rho, momentum, epsilon)


def adam_update(list variables not None, list grads not None, list momentums not None,
                list velocities not None, list velocity_hats, double alpha, double one_minus_beta_1,
                double one_minus_beta_2, double epsilon, nthreads=1):
    """In place: ``m += (g-m)*(1-b1)``; ``v += (g^2-v)*(1-b2)``; with ``velocity_hats``
    (amsgrad) ``vh = max(vh, v)`` replaces ``v`` below; ``w -= (m*alpha)/(sqrt(v)+eps)``."""
    cdef _Batch t = _gather(
        "adam_update", ("variables", "grads", "momentums", "velocities", "velocity_hats"),
        (variables, grads, momentums, velocities, velocity_hats), nthreads)
    if t.typenum == cnp.NPY_FLOAT:
        with nogil:
            _adam_run(&t.b, <float>alpha, <float>one_minus_beta_1, <float>one_minus_beta_2,
                      <float>epsilon)
    else:
        with nogil:
            _adam_run(&t.b, alpha, one_minus_beta_1, one_minus_beta_2, epsilon)
