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
# list of pack-B and compute tasks (see Plan) run by one dynamic prange: threads split
# M x N blocks, never K, and wait for each other only on real dependencies, yielding
# the CPU while they wait. m*n*k < NOPACK_BELOW: a plain serial loop; < SERIAL_BELOW:
# one thread. Block sizes live in the single table _BLOCK_TABLE. Threads flush
# denormals to zero while they work (tl_ftz.h). The def wrappers validate in Python
# and release the GIL around the native call.
from cython.parallel cimport prange, parallel, threadid
from libc.stdlib cimport malloc, free
from libc.string cimport memset
from libc.stdint cimport int64_t, uintptr_t
cimport numpy as cnp
import numpy as np

from tensorlib._kernels._checks cimport (TL_MAX_THREADS, tl_clamp_threads, tl_openmp_enabled,
                                         tl_team_size)

cnp.import_array()

cdef extern from "tl_ftz.h" nogil:
    unsigned int tl_ftz_enter()
    void tl_ftz_leave(unsigned int old)

cdef extern from "cpu_features.h" nogil:
    int tl_cpu_simd_level()
    int tl_simd_level()
    int tl_simd_set_level(int level)
    const char *tl_simd_level_name(int level)
    int tl_simd_parse_level(const char *name)

cdef extern from "gemm_ukernels.h" nogil:
    ctypedef void (*tl_sukr_fn)(int64_t kc, const float *a, const float *b, float *c,
                                int64_t ldc, int64_t mr, int64_t nr,
                                float alpha, float beta) noexcept nogil
    ctypedef void (*tl_dukr_fn)(int64_t kc, const double *a, const double *b, double *c,
                                int64_t ldc, int64_t mr, int64_t nr,
                                double alpha, double beta) noexcept nogil
    ctypedef void (*tl_sukr_sa_fn)(int64_t kc, const float *a, int64_t rsa, int64_t csa,
                                   const float *b, float *c, int64_t ldc, int64_t mr,
                                   int64_t nr, float alpha, float beta) noexcept nogil
    ctypedef void (*tl_dukr_sa_fn)(int64_t kc, const double *a, int64_t rsa, int64_t csa,
                                   const double *b, double *c, int64_t ldc, int64_t mr,
                                   int64_t nr, double alpha, double beta) noexcept nogil
    ctypedef struct tl_skernel:
        const char *name
        int id, mr, nr
        tl_sukr_fn fn
        tl_sukr_sa_fn fn_sa
    ctypedef struct tl_dkernel:
        const char *name
        int id, mr, nr
        tl_dukr_fn fn
        tl_dukr_sa_fn fn_sa
    const tl_skernel *tl_sgemm_kernel()
    const tl_dkernel *tl_dgemm_kernel()
    int tl_sgemm_set_emulate_avx512(int on)
    void tl_spack_a(int64_t mc, int64_t kc, const float *a, int64_t rsa, int64_t csa,
                    int64_t mr, float *out)
    void tl_dpack_a(int64_t mc, int64_t kc, const double *a, int64_t rsa, int64_t csa,
                    int64_t mr, double *out)
    void tl_spack_b(int64_t kc, int64_t nc, const float *b, int64_t rsb, int64_t csb,
                    int64_t nr, float *out)
    void tl_dpack_b(int64_t kc, int64_t nc, const double *b, int64_t rsb, int64_t csb,
                    int64_t nr, double *out)

cdef extern from *:
    """
    /* Task counters for the GEMM driver: a producer signals (release) when a task is
       done, a consumer waits (acquire) for a count. Waiting spins briefly, then yields
       the CPU, so a descheduled producer sharing this core can run (OpenMP barriers
       spin without yielding, which collapses on a busy machine). */
    #ifdef _OPENMP
    #include <omp.h>
    #endif
    #if defined(_WIN32)
    #include <windows.h>
    #define TL_YIELD() SwitchToThread()
    #else
    #include <sched.h>
    #define TL_YIELD() sched_yield()
    #endif
    #if defined(__x86_64__) || defined(_M_X64)
    #include <immintrin.h>
    #define TL_RELAX() _mm_pause()
    #else
    #define TL_RELAX() ((void)0)
    #endif
    #if defined(_MSC_VER) && !defined(__clang__)
    #include <intrin.h>
    static void tl_signal(Py_ssize_t *c) { _InterlockedIncrement64((volatile __int64 *)c); }
    static Py_ssize_t tl_load(Py_ssize_t *c) { return *(volatile Py_ssize_t *)c; }
    #else
    static void tl_signal(Py_ssize_t *c) { __atomic_add_fetch(c, 1, __ATOMIC_RELEASE); }
    static Py_ssize_t tl_load(Py_ssize_t *c) { return __atomic_load_n(c, __ATOMIC_ACQUIRE); }
    #endif
    static void tl_wait_ge(Py_ssize_t *c, Py_ssize_t target) {
        int spins = 0;
        while (tl_load(c) < target) {
            if (++spins < 256) TL_RELAX(); else TL_YIELD();
        }
    }
    /* Every thread of the team has left the task loop (so the join does not spin). */
    static void tl_team_wait(Py_ssize_t *arrived) {
    #ifdef _OPENMP
        tl_signal(arrived);
        tl_wait_ge(arrived, omp_get_num_threads());
    #else
        (void)arrived;
    #endif
    }
    """
    void tl_signal(Py_ssize_t *c) noexcept nogil
    void tl_wait_ge(Py_ssize_t *c, Py_ssize_t target) noexcept nogil
    void tl_team_wait(Py_ssize_t *arrived) noexcept nogil

ctypedef fused real:
    float
    double

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
cdef double NOPACK_BELOW = 24.0 * 24 * 24   # m*n*k: no packing, one thread
cdef double SERIAL_BELOW = 1.5e6             # m*n*k: one thread (~20 us of work)
cdef Py_ssize_t DIRECT_A_MAX_N = 128         # n <= this: A is not packed (Plan.direct)
cdef Py_ssize_t DIRECT_B_MAX = 1 << 21       # elements of packed B when direct
cdef Py_ssize_t DIRECT_CHUNK_ROWS = 96       # rows per compute task when direct


def _reset_blocks():
    """Restore the cache-block sizes of every kernel from _BLOCK_TABLE."""
    for i, (_, mc, kc, nc) in enumerate(_BLOCK_TABLE):
        BLOCKS[i].mc = mc
        BLOCKS[i].kc = kc
        BLOCKS[i].nc = nc

_reset_blocks()


cdef inline Py_ssize_t _cdiv(Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    return (a + b - 1) // b


cdef inline Py_ssize_t _min(Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    return a if a < b else b


cdef void _scale(Py_ssize_t m, Py_ssize_t n, real beta, real *c,
                 Py_ssize_t ldc) noexcept nogil:
    """C = beta * C (C not read when beta == 0)."""
    cdef Py_ssize_t i, j
    for i in range(m):
        if beta == 0:
            for j in range(n):
                c[i * ldc + j] = 0
        elif beta != 1:
            for j in range(n):
                c[i * ldc + j] = beta * c[i * ldc + j]


cdef void _small(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, real alpha,
                 const real *a, Py_ssize_t rsa, Py_ssize_t csa,
                 const real *b, Py_ssize_t rsb, Py_ssize_t csb,
                 real beta, real *c, Py_ssize_t ldc) noexcept nogil:
    """C = alpha * op(A) @ op(B) + beta * C without packing (small products)."""
    cdef Py_ssize_t i, j, p
    cdef real aip
    cdef real *cr
    cdef const real *br
    _scale(m, n, beta, c, ldc)
    for i in range(m):
        cr = c + i * ldc
        for p in range(k):
            aip = alpha * a[i * rsa + p * csa]
            br = b + p * rsb
            if csb == 1:
                for j in range(n):
                    cr[j] += aip * br[j]
            else:
                for j in range(n):
                    cr[j] += aip * br[j * csb]


# float / double dispatch: `ker` is a tl_skernel* or tl_dkernel* matching `real`.
cdef inline void _pack_a(Py_ssize_t mc, Py_ssize_t kc, const real *a, Py_ssize_t rsa,
                         Py_ssize_t csa, Py_ssize_t mr, real *out) noexcept nogil:
    if real is float: tl_spack_a(mc, kc, a, rsa, csa, mr, out)
    else: tl_dpack_a(mc, kc, a, rsa, csa, mr, out)


cdef inline void _pack_b(Py_ssize_t kc, Py_ssize_t nc, const real *b, Py_ssize_t rsb,
                         Py_ssize_t csb, Py_ssize_t nr, real *out) noexcept nogil:
    if real is float: tl_spack_b(kc, nc, b, rsb, csb, nr, out)
    else: tl_dpack_b(kc, nc, b, rsb, csb, nr, out)


cdef inline void _ukr(const void *ker, Py_ssize_t kc, const real *a, const real *b,
                      real *c, Py_ssize_t ldc, Py_ssize_t mr, Py_ssize_t nr, real alpha,
                      real beta) noexcept nogil:
    if real is float: (<const tl_skernel *>ker).fn(kc, a, b, c, ldc, mr, nr, alpha, beta)
    else: (<const tl_dkernel *>ker).fn(kc, a, b, c, ldc, mr, nr, alpha, beta)


cdef inline void _ukr_sa(const void *ker, Py_ssize_t kc, const real *a, Py_ssize_t rsa,
                         Py_ssize_t csa, const real *b, real *c, Py_ssize_t ldc,
                         Py_ssize_t mr, Py_ssize_t nr, real alpha, real beta) noexcept nogil:
    if real is float:
        (<const tl_skernel *>ker).fn_sa(kc, a, rsa, csa, b, c, ldc, mr, nr, alpha, beta)
    else:
        (<const tl_dkernel *>ker).fn_sa(kc, a, rsa, csa, b, c, ldc, mr, nr, alpha, beta)


# The work of one call, as a list of tasks run in order by a dynamic prange: for each
# step s (packed: a (jc, pc) block pair; direct: a K super-block) P tasks pack op(B) into
# buffer s % nbuf, then Q tasks compute C blocks. Dependencies only point backwards:
# compute(s) needs pack(s) and, on the same C block, compute(s - 1); pack(s) needs the
# buffer's last readers, compute(s - nbuf). Tasks are handed out in order, so every
# task waited on is already claimed: no deadlock, and a thread that is descheduled by
# other load only delays the tasks that really depend on it.
cdef struct Plan:
    bint direct
    const void *ker
    Py_ssize_t m, n, k, rsa, csa, rsb, csb, ldc, mr, nr
    Py_ssize_t kcb, ncb, nkb, mcb, ncc     # packed: K/N/M blocks, column chunks per block
    Py_ssize_t ksup, rows, npad            # direct: K per super-block, rows per chunk
    Py_ssize_t P, Q, nsteps, nbuf, b_len, a_len
    void *bbuf
    Py_ssize_t *pack_done                  # [nsteps] finished pack tasks
    Py_ssize_t *comp_done                  # [nsteps] finished compute tasks
    Py_ssize_t arrived


cdef void _task(Plan *T, Py_ssize_t t, const real *a, const real *b, real *c, real alpha,
                real beta, real *apk) noexcept nogil:
    """Run task t of the plan (waiting for the tasks it depends on)."""
    cdef Py_ssize_t s = t // (T.P + T.Q), r = t % (T.P + T.Q)
    cdef Py_ssize_t mr = T.mr, nr = T.nr, kcb = T.kcb, ldc = T.ldc
    cdef Py_ssize_t ks, kl, pc, kc, jc, nc, pn, j0, j1, i0, i1, i, jp, ip
    cdef real *bpk = <real *>T.bbuf + (s % T.nbuf) * T.b_len
    if T.direct:
        ks = s * T.ksup
        kl = _min(T.ksup, T.k - ks)
        pn = T.npad // nr
        if r < T.P:                              # pack K block r // pn, panel r % pn
            if s >= T.nbuf:
                tl_wait_ge(&T.comp_done[s - T.nbuf], T.Q)
            pc = (r // pn) * kcb
            jp = r % pn
            if pc < kl:
                kc = _min(kcb, kl - pc)
                _pack_b(kc, _min(nr, T.n - jp * nr), b + (ks + pc) * T.rsb + jp * nr * T.csb,
                        T.rsb, T.csb, nr, bpk + pc * T.npad + jp * nr * kc)
            tl_signal(&T.pack_done[s])
            return
        tl_wait_ge(&T.pack_done[s], T.P)         # rows chunk: A read in place
        if s >= 1:
            tl_wait_ge(&T.comp_done[s - 1], T.Q)
        i0 = (r - T.P) * T.rows
        i1 = _min(i0 + T.rows, T.m)
        pc = 0
        while pc < kl:                           # K blocks (B block stays in L2)
            kc = _min(kcb, kl - pc)
            i = i0
            while i < i1:                        # row panels (A panel stays in L1)
                for jp in range(pn):
                    _ukr_sa(T.ker, kc, a + i * T.rsa + (ks + pc) * T.csa, T.rsa, T.csa,
                            bpk + pc * T.npad + jp * nr * kc, c + i * ldc + jp * nr, ldc,
                            _min(mr, i1 - i), _min(nr, T.n - jp * nr), alpha,
                            beta if ks + pc == 0 else 1)
                i += mr
            pc += kc
        tl_signal(&T.comp_done[s])
        return
    jc = (s // T.nkb) * T.ncb                    # loop 5 (jc) and loop 4 (pc)
    nc = _min(T.ncb, T.n - jc)
    pc = (s % T.nkb) * kcb
    kc = _min(kcb, T.k - pc)
    pn = _cdiv(nc, nr)
    if r < T.P:                                  # pack a range of B panels
        if s >= T.nbuf:
            tl_wait_ge(&T.comp_done[s - T.nbuf], T.Q)
        j0 = (r * pn // T.P) * nr
        j1 = _min(((r + 1) * pn // T.P) * nr, nc)
        if j1 > j0:
            _pack_b(kc, j1 - j0, b + pc * T.rsb + (jc + j0) * T.csb, T.rsb, T.csb, nr,
                    bpk + j0 * kc)
        tl_signal(&T.pack_done[s])
        return
    tl_wait_ge(&T.pack_done[s], T.P)
    if pc > 0:
        tl_wait_ge(&T.comp_done[s - 1], T.Q)
    r -= T.P
    i0 = (r // T.ncc) * T.mcb                    # loop 3 (ic): this task's block
    i1 = _min(i0 + T.mcb, T.m)
    j0 = (r % T.ncc) * pn // T.ncc
    j1 = (r % T.ncc + 1) * pn // T.ncc
    if i0 < i1 and j0 < j1:
        _pack_a(i1 - i0, kc, a + i0 * T.rsa + pc * T.csa, T.rsa, T.csa, mr, apk)
        for jp in range(j0, j1):                 # loop 2 (jr)
            for ip in range(_cdiv(i1 - i0, mr)): # loop 1 (ir)
                _ukr(T.ker, kc, apk + ip * mr * kc, bpk + jp * nr * kc,
                     c + (i0 + ip * mr) * ldc + jc + jp * nr, ldc,
                     _min(mr, i1 - i0 - ip * mr), _min(nr, nc - jp * nr), alpha,
                     beta if pc == 0 else 1)
    tl_signal(&T.comp_done[s])


cdef int _gemm(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, real alpha,
               const real *a, Py_ssize_t rsa, Py_ssize_t csa,
               const real *b, Py_ssize_t rsb, Py_ssize_t csb,
               real beta, real *c, Py_ssize_t ldc, int nthreads) noexcept nogil:
    """C = alpha * op(A) @ op(B) + beta * C; 0, or -1 if out of memory."""
    cdef unsigned int csr
    cdef const tl_skernel *sk
    cdef const tl_dkernel *dk
    cdef Plan T
    cdef Blocks blk
    cdef Py_ssize_t nt, nib, t
    cdef double work = <double>m * n * k
    cdef void *raw
    cdef real *apk
    if m <= 0 or n <= 0:
        return 0
    if k <= 0 or alpha == 0 or work < NOPACK_BELOW:
        csr = tl_ftz_enter()
        if k <= 0 or alpha == 0:
            _scale(m, n, beta, c, ldc)
        else:
            _small(m, n, k, alpha, a, rsa, csa, b, rsb, csb, beta, c, ldc)
        tl_ftz_leave(csr)
        return 0
    if real is float:
        sk = tl_sgemm_kernel()
        T.ker, T.mr, T.nr, blk = sk, sk.mr, sk.nr, BLOCKS[sk.id]
    else:
        dk = tl_dgemm_kernel()
        T.ker, T.mr, T.nr, blk = dk, dk.mr, dk.nr, BLOCKS[dk.id]
    T.m, T.n, T.k, T.rsa, T.csa, T.rsb, T.csb, T.ldc = m, n, k, rsa, csa, rsb, csb, ldc
    nt = tl_clamp_threads(nthreads) if work >= SERIAL_BELOW else 1
    T.kcb = _cdiv(k, _cdiv(k, blk.kc))                        # equal K blocks <= KC
    # Narrow C: each A element would feed only a few micro-kernel calls, so packing A
    # costs more than it saves and the kernel reads A in place. Columns of op(A)
    # (rsa == 1) only when their stride is not a multiple of 512 bytes: such strides put
    # the kc rows one kernel call touches into a few L1 sets.
    T.direct = n <= DIRECT_A_MAX_N and (
        csa == 1 or (rsa == 1 and (csa * <Py_ssize_t>sizeof(real)) % 512 != 0))
    if T.direct:      # op(B) packed whole per K super-block, rows in chunks
        T.npad = _cdiv(n, T.nr) * T.nr
        T.ksup = _min(k, max(T.kcb, DIRECT_B_MAX // T.npad // T.kcb * T.kcb))
        T.rows = max(T.mr, _min(DIRECT_CHUNK_ROWS, _cdiv(_cdiv(m, 4 * nt), T.mr) * T.mr))
        T.nsteps, T.nbuf = _cdiv(k, T.ksup), 1
        T.P = _cdiv(T.ksup, T.kcb) * (T.npad // T.nr)
        T.Q = _cdiv(m, T.rows)
        T.b_len, T.a_len = _cdiv(T.ksup * T.npad, 16) * 16, 0
    else:             # the five loops: (jc, pc) steps, (ic, column chunk) tasks
        T.ncb = _cdiv(_cdiv(n, _cdiv(n, blk.nc)), T.nr) * T.nr   # equal N blocks
        nib = _cdiv(m, blk.mc)
        T.mcb = _cdiv(_cdiv(m, nib), T.mr) * T.mr                # equal M blocks
        T.ncc = 1 if nib >= 2 * nt else _min(_cdiv(2 * nt, nib), _cdiv(T.ncb, T.nr))
        T.nkb = _cdiv(k, T.kcb)
        T.nsteps = _cdiv(n, T.ncb) * T.nkb
        T.nbuf = 2 if T.nsteps > 1 and nt > 1 else 1
        T.P = _min(nt, _cdiv(T.ncb, T.nr))
        T.Q = nib * T.ncc
        T.b_len = _cdiv(T.ncb * T.kcb, 16) * 16                  # buffers stay 64B-aligned
        T.a_len = _cdiv(T.mcb * T.kcb, 16) * 16
    nt = _min(nt, T.Q)
    raw = malloc((T.nbuf * T.b_len + nt * T.a_len) * sizeof(real) + 64
                 + 2 * T.nsteps * sizeof(Py_ssize_t))
    if raw == NULL:
        return -1
    T.pack_done = <Py_ssize_t *>raw
    T.comp_done = T.pack_done + T.nsteps
    memset(raw, 0, 2 * T.nsteps * sizeof(Py_ssize_t))
    T.bbuf = <void *>((<uintptr_t>(T.comp_done + T.nsteps) + 63) & ~(<uintptr_t>63))
    T.arrived = 0
    with parallel(num_threads=nt):
        csr = tl_ftz_enter()
        apk = <real *>T.bbuf + T.nbuf * T.b_len + threadid() * T.a_len
        for t in prange(T.nsteps * (T.P + T.Q), schedule="dynamic"):
            _task(&T, t, a, b, c, alpha, beta, apk)
        tl_team_wait(&T.arrived)
        tl_ftz_leave(csr)
    free(raw)
    return 0


cdef int sgemm_strided(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, float alpha,
                       const float *a, Py_ssize_t rsa, Py_ssize_t csa,
                       const float *b, Py_ssize_t rsb, Py_ssize_t csb,
                       float beta, float *c, Py_ssize_t ldc, int nthreads) noexcept nogil:
    """C = alpha * op(A) @ op(B) + beta * C, float32, op(A)(i, p) = a[i*rsa + p*csa]."""
    return _gemm(m, n, k, alpha, a, rsa, csa, b, rsb, csb, beta, c, ldc, nthreads)


cdef int dgemm_strided(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, double alpha,
                       const double *a, Py_ssize_t rsa, Py_ssize_t csa,
                       const double *b, Py_ssize_t rsb, Py_ssize_t csb,
                       double beta, double *c, Py_ssize_t ldc, int nthreads) noexcept nogil:
    """C = alpha * op(A) @ op(B) + beta * C, float64, op(A)(i, p) = a[i*rsa + p*csa]."""
    return _gemm(m, n, k, alpha, a, rsa, csa, b, rsb, csb, beta, c, ldc, nthreads)


cdef int simd_level() noexcept nogil:
    """The active SIMD level of every kernel module (see gemm.pxd)."""
    return tl_simd_level()


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
                       <float *>cnp.PyArray_DATA(c), n, nt)
    else:
        with nogil:
            rc = _gemm(m, n, k, al, <const double *>cnp.PyArray_DATA(a), rsa, csa,
                       <const double *>cnp.PyArray_DATA(b), rsb, csb, be,
                       <double *>cnp.PyArray_DATA(c), n, nt)
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
    'avx512-emu' (the AVX-512 kernel source built for AVX2); None restores the
    TENSORLIB_SIMD / CPU default. Returns the active float32 kernel name."""
    cdef int lv
    if level is None:
        tl_sgemm_set_emulate_avx512(0)
        tl_simd_set_level(-1)
    elif level == "avx512-emu":
        if not tl_sgemm_set_emulate_avx512(1):
            raise ValueError("_set_simd_level: 'avx512-emu' needs a CPU with AVX2")
    else:
        lv = tl_simd_parse_level(str(level).encode()) if isinstance(level, str) else -1
        if lv < 0:
            raise ValueError(f"_set_simd_level: level must be 'ref', 'avx2', 'avx512', "
                             f"'avx512-emu' or None. Received: {level!r}")
        tl_sgemm_set_emulate_avx512(0)
        tl_simd_set_level(lv)
    return tl_sgemm_kernel().name.decode()


def _tuning(**changes):
    """Tuning/testing hook: read or set the size thresholds (nopack_below,
    serial_below, direct_a_max_n, direct_b_max, direct_chunk_rows). Returns the values
    before the change, so ``_tuning(**old)`` restores them."""
    global NOPACK_BELOW, SERIAL_BELOW, DIRECT_A_MAX_N, DIRECT_B_MAX, DIRECT_CHUNK_ROWS
    old = dict(nopack_below=NOPACK_BELOW, serial_below=SERIAL_BELOW,
               direct_a_max_n=DIRECT_A_MAX_N, direct_b_max=DIRECT_B_MAX,
               direct_chunk_rows=DIRECT_CHUNK_ROWS)
    unknown = set(changes) - set(old)
    if unknown:
        raise ValueError(f"_tuning: unknown setting(s) {sorted(unknown)}; "
                         f"known: {sorted(old)}")
    NOPACK_BELOW = changes.get("nopack_below", NOPACK_BELOW)
    SERIAL_BELOW = changes.get("serial_below", SERIAL_BELOW)
    DIRECT_A_MAX_N = changes.get("direct_a_max_n", DIRECT_A_MAX_N)
    DIRECT_B_MAX = max(1, changes.get("direct_b_max", DIRECT_B_MAX))
    DIRECT_CHUNK_ROWS = max(1, changes.get("direct_chunk_rows", DIRECT_CHUNK_ROWS))
    return old


def _set_thresholds(serial_below=None, nopack_below=None):
    """Testing hook, as in the other kernel modules: set SERIAL_BELOW / NOPACK_BELOW
    (m*n*k below which a call is serial / not packed); returns their old values, so
    ``_set_thresholds(**old)`` restores them (_tuning sets every threshold)."""
    old = _tuning()
    _tuning(**{k: v for k, v in (("serial_below", serial_below),
                                 ("nopack_below", nopack_below)) if v is not None})
    return dict(serial_below=old["serial_below"], nopack_below=old["nopack_below"])


def openmp_enabled():
    """Whether this module was compiled with OpenMP."""
    return bool(tl_openmp_enabled())


def _team_size(int n):
    """Testing hook: how many threads ran a parallel region asked for n (clamped)."""
    return tl_team_size(n)


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
