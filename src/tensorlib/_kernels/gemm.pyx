# GEMM: C = alpha * op(A) @ op(B) + beta * C, float32 (SIMD micro-kernels) and float64.
#
# Design (BLIS): five loops around an MR x NR micro-kernel from csrc/gemm_ukernels.c.
#   jc over N by NC:       a kc x nc block of op(B) is packed once and shared by threads
#    pc over K by KC:      beta is applied on the first K block only, then 1
#     ic over M by MC:     each task packs its mc x kc block of op(A) into its thread's
#                          private buffer
#      jr over nc by NR, ir over mc by MR: one micro-kernel call per C tile
# Narrow C (n <= DIRECT_A_MAX_N, the conv shapes) instead packs op(B) whole and lets the
# kernel read op(A) in place, in chunks of rows. Either way the call becomes an ordered
# list of pack-B and compute tasks (_gemm_driver.pxi: Plan) that the threads claim in
# index order through one atomic counter and synchronise by acquire/release counters
# (csrc/tl_tasks.h states the protocol and its invariant): threads split M x N blocks,
# never K, and wait for each other only on real dependencies, yielding the CPU while they
# wait. A K-dominant product (small C, long K) is instead cut into K slices, a function
# of the shape only, each computed into its own partial C, the partials added in slice
# order: bit-identical at any thread count (_ksplit_gemm). Work (m*n*k multiply-adds)
# below NOPACK_BELOW: a plain serial loop; below SERIAL_BELOW: one thread. Block sizes
# live in the single table _BLOCK_TABLE. Threads flush denormals to zero while they work
# (tl_ftz.h). The def wrappers validate in Python and release the GIL around the native
# call.
#
# Files: _gemm_driver.pxi (planning, task list, K split: the native driver),
# _gemm_ukernels.pxd (C declarations), this file (tables, thresholds, Python API).
from cython.parallel cimport parallel, threadid
from libc.stdlib cimport malloc, free
from libc.string cimport memset
from libc.stdint cimport int64_t, uintptr_t
cimport numpy as cnp
import numpy as np

from tensorlib._kernels._common cimport (real, TL_MAX_THREADS, tl_ftz_enter, tl_ftz_leave,
                                         tl_openmp_enabled, tl_team_size, threads_for)
from tensorlib._kernels._gemm_ukernels cimport (
    tl_cpu_simd_level, tl_simd_kernel_level, tl_simd_set_level, tl_simd_level_name,
    tl_simd_parse_level, tl_skernel, tl_dkernel, tl_sgemm_kernel, tl_dgemm_kernel,
    tl_simd_set_emulate_avx512, tl_spack_a, tl_dpack_a, tl_spack_b, tl_dpack_b)

cnp.import_array()

cdef extern from "tl_tasks.h" nogil:
    int64_t tl_tasks_claim(int64_t *next)
    void tl_tasks_done(int64_t *counter)
    int64_t tl_tasks_load(int64_t *counter)
    void tl_tasks_wait(int64_t *counter, int64_t target)
    void tl_tasks_leave(int64_t *arrived)

# Cache blocks, one row per micro-kernel id (TL_K_* in gemm_ukernels.h): MC x KC of A
# stays in L2, a KC x NR micro-panel of B in L1, KC x NC of B in L3.
# MC must be a multiple of MR, NC of NR.
_BLOCK_TABLE = (
    # kernel               MC    KC    NC
    ("f32 ref 4x16",       128,  256,  2048),
    ("f32 avx2 6x16",      144,  384,  4080),
    ("f32 avx512 12x32",   144,  256,  4096),
    ("f32 avx512-emu",     144,  256,  4096),
    ("f64 ref 4x8",         96,  256,  2048),
    ("f64 avx2 6x8",        96,  256,  2048),
)

cdef struct Blocks:
    Py_ssize_t mc, kc, nc

cdef Blocks BLOCKS[8]                       # >= len(_BLOCK_TABLE)
# Size thresholds. Work is counted in ops = m*n*k multiply-adds (the unit of every kernel
# module's thresholds, _common.pxd). Beside each: the bench command that sets it, and its
# last reading (2026-11-29, shared 2-core Xeon with AVX-512, load ~0.5; noisy).
# ops below which no packing, one thread. Packing already won at 1 thread down to 12^3
# (packed / no-pack time 0.6-0.8, at load 3): a candidate for lowering, kept here as this
# issue changes no kernel choice.
#   python bench/bench_gemm.py --threads 1 --sizes 12,16,20,24,28,32 --no-conv \
#       --alt nopack_below=0          (alt/native < 1: packing wins)
cdef double NOPACK_BELOW = 24.0 * 24 * 24
# ops below which one thread: 2 threads lost up to 96^3 (8.9e5), won from 160^3 (4.1e6);
# in between (112^3, 128^3) the two runs disagreed (serial/parallel 0.86-1.54).
#   python bench/bench_serial.py --threads 2 --kernels gemm
cdef double SERIAL_BELOW = 1.5e6
cdef Py_ssize_t DIRECT_A_MAX_N = 128         # n <= this: A is not packed (Plan.direct)
cdef Py_ssize_t DIRECT_B_MAX = 1 << 21       # elements of packed B when direct
cdef Py_ssize_t DIRECT_CHUNK_ROWS = 96       # rows per compute task when direct
# K split (_kslices): C of at most KSPLIT_MAX_MN elements and K >= 2 * KSPLIT_MIN_K is cut
# into min(KSPLIT_MAX, K // KSPLIT_MIN_K) slices (each partial C stays in L2; 8 slices
# keep 2, 3 or 4 threads busy). Set by (alt/native > 1: the split wins):
#   python bench/bench_gemm.py --threads 1,2 --shapes 288x7744x64,288x7744x64t \
#       --repeats 25 --alt ksplit_max=1       (and --alt ksplit_max=4 for KSPLIT_MAX)
cdef double KSPLIT_MAX_MN = 65536
cdef Py_ssize_t KSPLIT_MIN_K = 512
cdef Py_ssize_t KSPLIT_MAX = 8

include "_gemm_driver.pxi"
include "_probes.pxi"


def _reset_blocks():
    """Restore the cache-block sizes of every kernel from _BLOCK_TABLE."""
    for i, (_, mc, kc, nc) in enumerate(_BLOCK_TABLE):
        BLOCKS[i].mc = mc
        BLOCKS[i].kc = kc
        BLOCKS[i].nc = nc


_reset_blocks()


cdef int sgemm_strided(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, float alpha,
                       const float *a, Py_ssize_t rsa, Py_ssize_t csa,
                       const float *b, Py_ssize_t rsb, Py_ssize_t csb,
                       float beta, float *c, Py_ssize_t ldc, int nthreads) noexcept nogil:
    """C = alpha * op(A) @ op(B) + beta * C, float32, op(A)(i, p) = a[i*rsa + p*csa]."""
    return _gemm(m, n, k, alpha, a, rsa, csa, b, rsb, csb, beta, c, ldc, nthreads, False)


cdef int dgemm_strided(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, double alpha,
                       const double *a, Py_ssize_t rsa, Py_ssize_t csa,
                       const double *b, Py_ssize_t rsb, Py_ssize_t csb,
                       double beta, double *c, Py_ssize_t ldc, int nthreads) noexcept nogil:
    """C = alpha * op(A) @ op(B) + beta * C, float64, op(A)(i, p) = a[i*rsa + p*csa]."""
    return _gemm(m, n, k, alpha, a, rsa, csa, b, rsb, csb, beta, c, ldc, nthreads, False)


cdef int simd_level() noexcept nogil:
    """The active SIMD level of every kernel module (see gemm.pxd)."""
    return tl_simd_kernel_level()


# ------------------------------------------------------------------ Python API ---

def _operand(str op, str name, x, dtype):
    """Validate a 2-D operand; return it with element strides (copying if needed)."""
    if not isinstance(x, np.ndarray):
        raise ValueError(f"{op}: {name} must be a 2-D numpy.ndarray of dtype "
                         f"{np.dtype(dtype).name}. Received: {type(x).__name__}")
    if x.ndim != 2:
        raise ValueError(f"{op}: {name} must be 2-D. Received: ndim={x.ndim}, "
                         f"shape={x.shape}")
    if x.dtype != dtype:
        raise ValueError(f"{op}: {name} must have dtype {np.dtype(dtype).name}. "
                         f"Received: dtype={x.dtype}")
    if x.strides[0] % x.itemsize or x.strides[1] % x.itemsize or not x.flags.aligned:
        x = np.ascontiguousarray(x)
    return x


def _scalar(str op, str name, value):
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{op}: {name} must be a real number. Received: {value!r}") from None


def _run(str op, A, B, C, alpha, beta, trans_a, trans_b, nthreads, dtype):
    cdef cnp.ndarray a, b, c
    cdef Py_ssize_t m, n, k, kb, rsa, csa, rsb, csb
    cdef int nt, rc = 0
    cdef double al = _scalar(op, "alpha", alpha), be = _scalar(op, "beta", beta)
    if isinstance(nthreads, bool) or not isinstance(nthreads, (int, np.integer)) \
            or nthreads < 1:
        raise ValueError(f"{op}: nthreads must be a positive int. Received: {nthreads!r}")
    nt = min(nthreads, TL_MAX_THREADS)
    a = _operand(op, "A", A, dtype)
    b = _operand(op, "B", B, dtype)
    m, k = (a.shape[1], a.shape[0]) if trans_a else (a.shape[0], a.shape[1])
    kb, n = (b.shape[1], b.shape[0]) if trans_b else (b.shape[0], b.shape[1])
    if k != kb:
        raise ValueError(
            f"{op}: inner dimensions differ: op(A) is {m}x{k} and op(B) is {kb}x{n} "
            f"(A.shape={A.shape}, B.shape={B.shape}, trans_a={bool(trans_a)}, "
            f"trans_b={bool(trans_b)})")
    if <object>m * n > 2**59:
        raise ValueError(f"{op}: the result would have {m} x {n} elements, more than "
                         f"2**59. Received: A.shape={A.shape}, B.shape={B.shape}")
    if C is None:
        c = np.empty((m, n), dtype=dtype)
        be = 0.0
    else:
        if not isinstance(C, np.ndarray):
            raise ValueError(f"{op}: C must be a numpy.ndarray or None. "
                             f"Received: {type(C).__name__}")
        if C.dtype != dtype:
            raise ValueError(f"{op}: C must have dtype {np.dtype(dtype).name}. "
                             f"Received: dtype={C.dtype}")
        if C.shape != (m, n):
            raise ValueError(f"{op}: C must have shape ({m}, {n}). Received: shape={C.shape}")
        if not C.flags.c_contiguous:
            raise ValueError(f"{op}: C must be C-contiguous. Received: strides={C.strides}")
        if not C.flags.writeable:
            raise ValueError(f"{op}: C must be writeable. Received: a read-only array")
        c = C
        # BLAS forbids C aliasing the inputs: give the kernel private copies instead.
        if np.may_share_memory(c, a):
            a = a.copy()
        if np.may_share_memory(c, b):
            b = b.copy()
    rsa, csa = a.strides[0] // a.itemsize, a.strides[1] // a.itemsize
    rsb, csb = b.strides[0] // b.itemsize, b.strides[1] // b.itemsize
    if trans_a:
        rsa, csa = csa, rsa
    if trans_b:
        rsb, csb = csb, rsb
    if dtype is np.float32:
        with nogil:
            rc = _gemm(m, n, k, <float>al, <const float *>cnp.PyArray_DATA(a), rsa, csa,
                       <const float *>cnp.PyArray_DATA(b), rsb, csb, <float>be,
                       <float *>cnp.PyArray_DATA(c), n, nt, True)
    else:
        with nogil:
            rc = _gemm(m, n, k, al, <const double *>cnp.PyArray_DATA(a), rsa, csa,
                       <const double *>cnp.PyArray_DATA(b), rsb, csb, be,
                       <double *>cnp.PyArray_DATA(c), n, nt, True)
    if rc != 0:
        raise MemoryError(f"{op}: could not allocate the packing buffers")
    return c


def sgemm(A, B, C=None, alpha=1.0, beta=0.0, trans_a=False, trans_b=False, nthreads=1):
    """C = alpha * op(A) @ op(B) + beta * C for 2-D float32 arrays (any strides).

    op(X) is X.T when trans_X. C (float32, C-contiguous, shape (m, n)) is updated in
    place and returned; when None a new array is returned (beta is then ignored).
    C is never read when beta == 0.
    """
    return _run("sgemm", A, B, C, alpha, beta, trans_a, trans_b, nthreads, np.float32)


def dgemm(A, B, C=None, alpha=1.0, beta=0.0, trans_a=False, trans_b=False, nthreads=1):
    """C = alpha * op(A) @ op(B) + beta * C for 2-D float64 arrays (see sgemm)."""
    return _run("dgemm", A, B, C, alpha, beta, trans_a, trans_b, nthreads, np.float64)


def simd_info():
    """Active float32 kernel: {'kernel', 'mr', 'nr', 'mc', 'kc', 'nc', 'cpu', 'dgemm_kernel'}."""
    cdef const tl_skernel *sk = tl_sgemm_kernel()
    cdef const tl_dkernel *dk = tl_dgemm_kernel()
    return {
        "kernel": sk.name.decode(), "mr": sk.mr, "nr": sk.nr,
        "mc": BLOCKS[sk.id].mc, "kc": BLOCKS[sk.id].kc, "nc": BLOCKS[sk.id].nc,
        "cpu": tl_simd_level_name(tl_cpu_simd_level()).decode(),
        "dgemm_kernel": f"{dk.name.decode()} {dk.mr}x{dk.nr}",
    }


def _set_simd_level(level=None):
    """Testing hook: force 'ref' / 'avx2' / 'avx512' (clamped to the CPU), or
    'avx512-emu' (the AVX-512 GEMM and conv kernels' source built for AVX2, to test them
    on machines without AVX-512); None restores the TENSORLIB_SIMD / CPU default.
    Returns the active float32 kernel name."""
    cdef int lv
    if level is None:
        tl_simd_set_emulate_avx512(0)
        tl_simd_set_level(-1)
    elif level == "avx512-emu":
        if not tl_simd_set_emulate_avx512(1):
            raise ValueError("_set_simd_level: 'avx512-emu' needs a CPU with AVX2")
    else:
        lv = tl_simd_parse_level(str(level).encode()) if isinstance(level, str) else -1
        if lv < 0:
            raise ValueError(f"_set_simd_level: level must be 'ref', 'avx2', 'avx512', "
                             f"'avx512-emu' or None. Received: {level!r}")
        tl_simd_set_emulate_avx512(0)
        tl_simd_set_level(lv)
    return tl_sgemm_kernel().name.decode()


def _tuning(**changes):
    """Tuning/testing hook: read or set the size thresholds (nopack_below,
    serial_below, direct_a_max_n, direct_b_max, direct_chunk_rows, ksplit_max_mn,
    ksplit_min_k, ksplit_max). Returns the values before the change, so
    ``_tuning(**old)`` restores them."""
    global NOPACK_BELOW, SERIAL_BELOW, DIRECT_A_MAX_N, DIRECT_B_MAX, DIRECT_CHUNK_ROWS
    global KSPLIT_MAX_MN, KSPLIT_MIN_K, KSPLIT_MAX
    old = dict(nopack_below=NOPACK_BELOW, serial_below=SERIAL_BELOW,
               direct_a_max_n=DIRECT_A_MAX_N, direct_b_max=DIRECT_B_MAX,
               direct_chunk_rows=DIRECT_CHUNK_ROWS, ksplit_max_mn=KSPLIT_MAX_MN,
               ksplit_min_k=KSPLIT_MIN_K, ksplit_max=KSPLIT_MAX)
    unknown = set(changes) - set(old)
    if unknown:
        raise ValueError(f"_tuning: unknown setting(s) {sorted(unknown)}; "
                         f"known: {sorted(old)}")
    NOPACK_BELOW = changes.get("nopack_below", NOPACK_BELOW)
    SERIAL_BELOW = changes.get("serial_below", SERIAL_BELOW)
    DIRECT_A_MAX_N = changes.get("direct_a_max_n", DIRECT_A_MAX_N)
    DIRECT_B_MAX = max(1, changes.get("direct_b_max", DIRECT_B_MAX))
    DIRECT_CHUNK_ROWS = max(1, changes.get("direct_chunk_rows", DIRECT_CHUNK_ROWS))
    KSPLIT_MAX_MN = changes.get("ksplit_max_mn", KSPLIT_MAX_MN)
    KSPLIT_MIN_K = max(1, changes.get("ksplit_min_k", KSPLIT_MIN_K))
    KSPLIT_MAX = max(1, changes.get("ksplit_max", KSPLIT_MAX))
    return old


def _set_thresholds(serial_below=None, nopack_below=None):
    """Testing hook, as in the other kernel modules: set SERIAL_BELOW / NOPACK_BELOW
    (m*n*k below which a call is serial / not packed); returns their old values, so
    ``_set_thresholds(**old)`` restores them (_tuning sets every threshold)."""
    old = _tuning()
    _tuning(**{k: v for k, v in (("serial_below", serial_below),
                                 ("nopack_below", nopack_below)) if v is not None})
    return dict(serial_below=old["serial_below"], nopack_below=old["nopack_below"])


def _set_blocks(mc=None, kc=None, nc=None):
    """Tuning/testing hook: override MC/KC/NC of the active float32 and float64 kernels
    (rounded to multiples of MR/NR); _reset_blocks() restores the table."""
    cdef const tl_skernel *sk = tl_sgemm_kernel()
    cdef const tl_dkernel *dk = tl_dgemm_kernel()
    for kid, mr, nr in ((sk.id, sk.mr, sk.nr), (dk.id, dk.mr, dk.nr)):
        if mc is not None:
            BLOCKS[kid].mc = max(1, _cdiv(mc, mr)) * mr
        if kc is not None:
            BLOCKS[kid].kc = max(1, kc)
        if nc is not None:
            BLOCKS[kid].nc = max(1, _cdiv(nc, nr)) * nr
