# GEMM: C = alpha * op(A) @ op(B) + beta * C, float32 (SIMD micro-kernels) and float64.
#
# Design (BLIS): five loops around an MR x NR micro-kernel from csrc/gemm_ukernels.c.
#   jc over N by NC:       a kc x nc block of op(B) is packed once and shared by threads
#    pc over K by KC:      beta is applied on the first K block only, then 1
#     ic over M by MC:     each thread packs its own mc x kc block of op(A) (private)
#      jr over nc by NR, ir over mc by MR: one micro-kernel call per C tile
# Threads split each (jc, pc) step's M x N tile grid into tm x tn contiguous ranges
# (rows preferred), never K. B panels are packed by all threads into one of two
# alternating buffers; one explicit barrier per step orders pack B -> compute.
# Narrow C (n <= DIRECT_A_MAX_N, the conv shapes) takes _gemm_direct instead: op(B) is
# packed whole, the kernel reads op(A) in place, and threads take row chunks
# dynamically (one barrier). m*n*k < NOPACK_BELOW: a plain serial loop; < SERIAL_BELOW:
# one thread. Block sizes live in the single table _BLOCK_TABLE. Threads flush
# denormals to zero while they work (tl_ftz.h). The def wrappers validate in Python
# and release the GIL around the native call.
from cython.parallel cimport prange, parallel, threadid
from libc.stdlib cimport malloc, free
from libc.stdint cimport int64_t, uintptr_t
cimport numpy as cnp
import numpy as np

cnp.import_array()

cdef extern from "tl_ftz.h" nogil:
    unsigned int tl_ftz_enter()
    void tl_ftz_leave(unsigned int old)

cdef extern from "cpu_features.h" nogil:
    int tl_cpu_simd_level()
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
    /* Cython's prange inside a parallel block is an `omp for nowait`: the driver
       places its barriers explicitly (an orphaned barrier binds to the caller's team). */
    static inline void tl_gemm_barrier(void) {
    #ifdef _OPENMP
    #pragma omp barrier
    #endif
    }
    """
    void tl_gemm_barrier() noexcept nogil

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
cdef Py_ssize_t DIRECT_A_MAX_N = 128         # n <= this: A is not packed (_gemm_direct)
cdef Py_ssize_t DIRECT_B_MAX = 1 << 21       # elements of packed B in _gemm_direct
cdef Py_ssize_t DIRECT_CHUNK_ROWS = 96       # rows per dynamic task in _gemm_direct


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


cdef void _grid(Py_ssize_t nt, Py_ssize_t pm, Py_ssize_t pn,
                Py_ssize_t *tm, Py_ssize_t *tn) noexcept nogil:
    """Split nt threads as tm x tn over pm row panels x pn column panels."""
    cdef Py_ssize_t d, cost, best = -1
    tm[0] = nt
    tn[0] = 1
    for d in range(1, nt + 1):
        if nt % d == 0:
            cost = _cdiv(pm, d) * _cdiv(pn, nt // d)
            if best < 0 or cost <= best:   # ties go to more row splitting
                best = cost
                tm[0] = d
                tn[0] = nt // d


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


cdef void _macro(Py_ssize_t w, Py_ssize_t tm, Py_ssize_t tn, Py_ssize_t m, Py_ssize_t nc,
                 Py_ssize_t kc, Py_ssize_t MC, Py_ssize_t mr, Py_ssize_t nr, real alpha,
                 const real *a, Py_ssize_t rsa, Py_ssize_t csa, const real *bpk,
                 real beta, real *c, Py_ssize_t ldc, real *apk,
                 const void *ker) noexcept nogil:
    """C[rows, cols of w] = alpha * op(A)[rows, :kc] @ Bpacked[:, cols] + beta * C."""
    cdef Py_ssize_t pm = _cdiv(m, mr), pn = _cdiv(nc, nr)
    cdef Py_ssize_t wi = w // tn, wj = w % tn
    cdef Py_ssize_t r0 = (wi * pm // tm) * mr, r1 = _min(((wi + 1) * pm // tm) * mr, m)
    cdef Py_ssize_t j0 = wj * pn // tn, j1 = (wj + 1) * pn // tn
    cdef Py_ssize_t mcb, ic, mc, jp, ip
    if r0 >= r1 or j0 >= j1:
        return
    mcb = _cdiv(_cdiv(r1 - r0, _cdiv(r1 - r0, MC)), mr) * mr   # equal MC blocks
    ic = r0
    while ic < r1:                               # loop 3 (ic)
        mc = _min(mcb, r1 - ic)
        _pack_a(mc, kc, a + ic * rsa, rsa, csa, mr, apk)
        for jp in range(j0, j1):                 # loop 2 (jr)
            for ip in range(_cdiv(mc, mr)):      # loop 1 (ir)
                _ukr(ker, kc, apk + ip * mr * kc, bpk + jp * nr * kc,
                     c + (ic + ip * mr) * ldc + jp * nr, ldc, _min(mr, mc - ip * mr),
                     _min(nr, nc - jp * nr), alpha, beta)
        ic += mc


cdef int _gemm_packed(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, real alpha,
                      const real *a, Py_ssize_t rsa, Py_ssize_t csa,
                      const real *b, Py_ssize_t rsb, Py_ssize_t csb,
                      real beta, real *c, Py_ssize_t ldc, Py_ssize_t nt,
                      const void *ker, Py_ssize_t mr, Py_ssize_t nr,
                      Blocks blk) noexcept nogil:
    """C = alpha * op(A) @ op(B) + beta * C, the five BLIS loops; 0 or -1 (no memory)."""
    cdef Py_ssize_t kcb = _cdiv(k, _cdiv(k, blk.kc))                   # equal K blocks
    cdef Py_ssize_t ncb = _cdiv(_cdiv(n, _cdiv(n, blk.nc)), nr) * nr   # equal N blocks
    cdef Py_ssize_t tm, tn, a_len, b_len, nbuf, jc, pc, nc, kc, pnc, t, j0, j1, w, step
    cdef unsigned int csr
    cdef void *raw
    cdef real *bbase
    cdef real *bpk
    cdef real *apk
    nt = max(1, _min(nt, _cdiv(m, mr) * _cdiv(ncb, nr)))
    _grid(nt, _cdiv(m, mr), _cdiv(_min(ncb, n), nr), &tm, &tn)
    a_len = _cdiv(blk.mc * kcb, 16) * 16         # keeps every buffer 64-byte aligned
    b_len = _cdiv(ncb * kcb, 16) * 16
    # Two B buffers (step parity) when threads share more than one step: packing step
    # s+1 then only has to wait for the readers of step s-1, which the single barrier
    # of step s already guarantees.
    nbuf = 2 if nt > 1 and (n > ncb or k > kcb) else 1
    raw = malloc((nt * a_len + nbuf * b_len) * sizeof(real) + 64)
    if raw == NULL:
        return -1
    bbase = <real *>((<uintptr_t>raw + 63) & ~(<uintptr_t>63))
    with parallel(num_threads=nt):
        csr = tl_ftz_enter()
        apk = bbase + nbuf * b_len + threadid() * a_len
        step = 0
        jc = 0
        while jc < n:                            # loop 5 (jc)
            nc = _min(ncb, n - jc)
            pnc = _cdiv(nc, nr)
            pc = 0
            while pc < k:                        # loop 4 (pc)
                kc = _min(kcb, k - pc)
                bpk = bbase + (step % nbuf) * b_len
                for t in prange(nt, schedule="static"):   # each thread packs a B range
                    j0 = (t * pnc // nt) * nr
                    j1 = _min(((t + 1) * pnc // nt) * nr, nc)
                    if j1 > j0:
                        _pack_b(kc, j1 - j0, b + pc * rsb + (jc + j0) * csb, rsb, csb, nr,
                                bpk + j0 * kc)
                tl_gemm_barrier()   # B packed before anyone reads it (see nbuf)
                for w in prange(tm * tn, schedule="static"):
                    _macro(w, tm, tn, m, nc, kc, blk.mc, mr, nr, alpha, a + pc * csa, rsa,
                           csa, bpk, beta if pc == 0 else 1, c + jc, ldc, apk, ker)
                if nbuf == 1:
                    tl_gemm_barrier()   # everyone done with B before it is repacked
                step = step + 1
                pc = pc + kc
            jc = jc + nc
        tl_ftz_leave(csr)
    free(raw)
    return 0


cdef void _direct_rows(Py_ssize_t i0, Py_ssize_t i1, Py_ssize_t n, Py_ssize_t kl,
                       Py_ssize_t kcb, Py_ssize_t mr, Py_ssize_t nr, real alpha,
                       const real *a, Py_ssize_t rsa, Py_ssize_t csa, const real *bpk,
                       real beta, real *c, Py_ssize_t ldc, const void *ker) noexcept nogil:
    """C[i0:i1] = alpha * op(A)[i0:i1, :kl] @ Bpacked + beta * C[i0:i1], A unpacked."""
    cdef Py_ssize_t npad = _cdiv(n, nr) * nr, pc = 0, kc, i, jp
    while pc < kl:                               # K blocks (B block stays in L2)
        kc = _min(kcb, kl - pc)
        i = i0
        while i < i1:                            # row panels (A panel stays in L1)
            for jp in range(npad // nr):
                _ukr_sa(ker, kc, a + i * rsa + pc * csa, rsa, csa,
                        bpk + pc * npad + jp * nr * kc, c + i * ldc + jp * nr, ldc,
                        _min(mr, i1 - i), _min(nr, n - jp * nr), alpha,
                        beta if pc == 0 else 1)
            i += mr
        pc += kc


cdef int _gemm_direct(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, real alpha,
                      const real *a, Py_ssize_t rsa, Py_ssize_t csa,
                      const real *b, Py_ssize_t rsb, Py_ssize_t csb,
                      real beta, real *c, Py_ssize_t ldc, Py_ssize_t nt,
                      const void *ker, Py_ssize_t mr, Py_ssize_t nr,
                      Blocks blk) noexcept nogil:
    """C = alpha * op(A) @ op(B) + beta * C for narrow C: op(B) packed whole (K in
    super-blocks of at most DIRECT_B_MAX elements), op(A) read in place by the kernel,
    rows handed out in dynamic chunks: one barrier per super-block, usually one."""
    cdef Py_ssize_t npad = _cdiv(n, nr) * nr, pn = npad // nr
    cdef Py_ssize_t kcb = _cdiv(k, _cdiv(k, blk.kc))
    cdef Py_ssize_t ksup = _min(k, max(kcb, DIRECT_B_MAX // npad // kcb * kcb))
    cdef Py_ssize_t rows = max(mr, _min(DIRECT_CHUNK_ROWS, _cdiv(_cdiv(m, 4 * nt), mr) * mr))
    cdef Py_ssize_t nch = _cdiv(m, rows), ks, kl, t, jp, pc, ch
    cdef unsigned int csr
    cdef void *raw = malloc(ksup * npad * sizeof(real) + 64)
    cdef real *bpk = <real *>((<uintptr_t>raw + 63) & ~(<uintptr_t>63))
    if raw == NULL:
        return -1
    with parallel(num_threads=nt):
        csr = tl_ftz_enter()
        ks = 0
        while ks < k:                            # K super-blocks
            kl = _min(ksup, k - ks)
            for t in prange(_cdiv(kl, kcb) * pn, schedule="static"):   # (K block, panel)
                pc = (t // pn) * kcb
                jp = t % pn
                _pack_b(_min(kcb, kl - pc), _min(nr, n - jp * nr),
                        b + (ks + pc) * rsb + jp * nr * csb, rsb, csb, nr,
                        bpk + pc * npad + jp * nr * _min(kcb, kl - pc))
            tl_gemm_barrier()
            for ch in prange(nch, schedule="dynamic"):
                _direct_rows(ch * rows, _min(ch * rows + rows, m), n, kl, kcb, mr, nr, alpha,
                             a + ks * csa, rsa, csa, bpk, beta if ks == 0 else 1, c, ldc,
                             ker)
            if ks + kl < k:
                tl_gemm_barrier()   # all rows done before B is repacked
            ks = ks + kl
        tl_ftz_leave(csr)
    free(raw)
    return 0


cdef int _gemm(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, real alpha,
               const real *a, Py_ssize_t rsa, Py_ssize_t csa,
               const real *b, Py_ssize_t rsb, Py_ssize_t csb,
               real beta, real *c, Py_ssize_t ldc, int nthreads) noexcept nogil:
    """C = alpha * op(A) @ op(B) + beta * C; 0, or -1 if out of memory."""
    cdef unsigned int csr
    cdef const tl_skernel *sk
    cdef const tl_dkernel *dk
    cdef const void *ker
    cdef Py_ssize_t nt, mr, nr
    cdef Blocks blk
    cdef double work = <double>m * n * k
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
        ker, mr, nr, blk = sk, sk.mr, sk.nr, BLOCKS[sk.id]
    else:
        dk = tl_dgemm_kernel()
        ker, mr, nr, blk = dk, dk.mr, dk.nr, BLOCKS[dk.id]
    nt = nthreads if work >= SERIAL_BELOW else 1
    # Narrow C: each A element would feed only a few micro-kernel calls, so packing A
    # costs more than it saves and the kernel reads A in place. Columns of op(A)
    # (rsa == 1) only when their stride is not a multiple of 512 bytes: such strides put
    # the kc rows one kernel call touches into a few L1 sets.
    if n <= DIRECT_A_MAX_N and (
            csa == 1 or (rsa == 1 and (csa * <Py_ssize_t>sizeof(real)) % 512 != 0)):
        return _gemm_direct(m, n, k, alpha, a, rsa, csa, b, rsb, csb, beta, c, ldc, nt,
                            ker, mr, nr, blk)
    return _gemm_packed(m, n, k, alpha, a, rsa, csa, b, rsb, csb, beta, c, ldc, nt,
                        ker, mr, nr, blk)


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


cdef int sgemm_nogil(bint trans_a, bint trans_b, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                     float alpha, const float *a, Py_ssize_t lda,
                     const float *b, Py_ssize_t ldb,
                     float beta, float *c, Py_ssize_t ldc, int nthreads) noexcept nogil:
    """C = alpha * op(A) @ op(B) + beta * C, row-major A (lda), B (ldb), C (ldc)."""
    return _gemm(m, n, k, alpha, a, 1 if trans_a else lda, lda if trans_a else 1,
                 b, 1 if trans_b else ldb, ldb if trans_b else 1, beta, c, ldc, nthreads)


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
    nt = nthreads
    a = _operand(op, "A", A, dtype)
    b = _operand(op, "B", B, dtype)
    m, k = (a.shape[1], a.shape[0]) if trans_a else (a.shape[0], a.shape[1])
    kb, n = (b.shape[1], b.shape[0]) if trans_b else (b.shape[0], b.shape[1])
    if k != kb:
        raise ValueError(
            f"{op}: inner dimensions differ: op(A) is {m}x{k} and op(B) is {kb}x{n} "
            f"(A.shape={A.shape}, B.shape={B.shape}, trans_a={bool(trans_a)}, "
            f"trans_b={bool(trans_b)})")
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
