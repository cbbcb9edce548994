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
    if real is float:
        tl_spack_a(mc, kc, a, rsa, csa, mr, out)
    else:
        tl_dpack_a(mc, kc, a, rsa, csa, mr, out)


cdef inline void _pack_b(Py_ssize_t kc, Py_ssize_t nc, const real *b, Py_ssize_t rsb,
                         Py_ssize_t csb, Py_ssize_t nr, real *out) noexcept nogil:
    if real is float:
        tl_spack_b(kc, nc, b, rsb, csb, nr, out)
    else:
        tl_dpack_b(kc, nc, b, rsb, csb, nr, out)


cdef inline void _ukr(const void *ker, Py_ssize_t kc, const real *a, const real *b,
                      real *c, Py_ssize_t ldc, Py_ssize_t mr, Py_ssize_t nr, real alpha,
                      real beta) noexcept nogil:
    if real is float:
        (<const tl_skernel *>ker).fn(kc, a, b, c, ldc, mr, nr, alpha, beta)
    else:
        (<const tl_dkernel *>ker).fn(kc, a, b, c, ldc, mr, nr, alpha, beta)


cdef inline void _ukr_sa(const void *ker, Py_ssize_t kc, const real *a, Py_ssize_t rsa,
                         Py_ssize_t csa, const real *b, real *c, Py_ssize_t ldc,
                         Py_ssize_t mr, Py_ssize_t nr, real alpha, real beta) noexcept nogil:
    if real is float:
        (<const tl_skernel *>ker).fn_sa(kc, a, rsa, csa, b, c, ldc, mr, nr, alpha, beta)
    else:
        (<const tl_dkernel *>ker).fn_sa(kc, a, rsa, csa, b, c, ldc, mr, nr, alpha, beta)


# The work of one call, as a list of tasks claimed in index order (csrc/tl_tasks.h): for
# each step s (packed: a (jc, pc) block pair; direct: a K super-block) P tasks pack op(B)
# into buffer s % nbuf, then Q tasks compute C blocks. Task index = s * (P + Q) + r.
# Dependencies only point backwards (tl_tasks.h's invariant, so the team cannot deadlock):
#   compute(s) waits for pack_done[s] == P (the shared B panels are written) and, on the
#     same C block, for comp_done[s - 1] == Q (K blocks accumulate into C in order);
#   pack(s) waits for comp_done[s - nbuf] == Q (the buffer's last readers are done).
# Each wait is an acquire of a counter that the producers raise with release after their
# last write, so no thread reads a panel before it is complete, nor overwrites one that
# is still being read. A thread descheduled by other load only delays the tasks that
# really depend on it.
cdef struct Plan:
    bint direct
    const void *ker
    Py_ssize_t m, n, k, rsa, csa, rsb, csb, ldc, mr, nr
    Py_ssize_t kcb, ncb, nkb, mcb, ncc     # packed: K/N/M blocks, column chunks per block
    Py_ssize_t ksup, rows, npad            # direct: K per super-block, rows per chunk
    Py_ssize_t P, Q, nsteps, nbuf, b_len, a_len
    void *bbuf
    int64_t *pack_done                     # [nsteps] finished pack tasks
    int64_t *comp_done                     # [nsteps] finished compute tasks
    int64_t next, arrived                  # next task to claim; threads done


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
                tl_tasks_wait(&T.comp_done[s - T.nbuf], T.Q)
            pc = (r // pn) * kcb
            jp = r % pn
            if pc < kl:
                kc = _min(kcb, kl - pc)
                _pack_b(kc, _min(nr, T.n - jp * nr), b + (ks + pc) * T.rsb + jp * nr * T.csb,
                        T.rsb, T.csb, nr, bpk + pc * T.npad + jp * nr * kc)
            tl_tasks_done(&T.pack_done[s])
            return
        tl_tasks_wait(&T.pack_done[s], T.P)      # rows chunk: A read in place
        if s >= 1:
            tl_tasks_wait(&T.comp_done[s - 1], T.Q)
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
        tl_tasks_done(&T.comp_done[s])
        return
    jc = (s // T.nkb) * T.ncb                    # loop 5 (jc) and loop 4 (pc)
    nc = _min(T.ncb, T.n - jc)
    pc = (s % T.nkb) * kcb
    kc = _min(kcb, T.k - pc)
    pn = _cdiv(nc, nr)
    if r < T.P:                                  # pack a range of B panels
        if s >= T.nbuf:
            tl_tasks_wait(&T.comp_done[s - T.nbuf], T.Q)
        j0 = (r * pn // T.P) * nr
        j1 = _min(((r + 1) * pn // T.P) * nr, nc)
        if j1 > j0:
            _pack_b(kc, j1 - j0, b + pc * T.rsb + (jc + j0) * T.csb, T.rsb, T.csb, nr,
                    bpk + j0 * kc)
        tl_tasks_done(&T.pack_done[s])
        return
    tl_tasks_wait(&T.pack_done[s], T.P)
    if pc > 0:
        tl_tasks_wait(&T.comp_done[s - 1], T.Q)
    r -= T.P
    i0 = (r // T.ncc) * T.mcb                    # loop 3 (ic): this task's block
    i1 = _min(i0 + T.mcb, T.m)
    j0 = (r % T.ncc) * pn // T.ncc
    j1 = (r % T.ncc + 1) * pn // T.ncc
    if i0 < i1 and j0 < j1:
        _pack_a(i1 - i0, kc, a + i0 * T.rsa + pc * T.csa, T.rsa, T.csa, mr, apk)
        for jp in range(j0, j1):                 # loop 2 (jr)
            for ip in range(_cdiv(i1 - i0, mr)):  # loop 1 (ir)
                _ukr(T.ker, kc, apk + ip * mr * kc, bpk + jp * nr * kc,
                     c + (i0 + ip * mr) * ldc + jc + jp * nr, ldc,
                     _min(mr, i1 - i0 - ip * mr), _min(nr, nc - jp * nr), alpha,
                     beta if pc == 0 else 1)
    tl_tasks_done(&T.comp_done[s])


cdef int _plan(Plan *T, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
               Py_ssize_t rsa, Py_ssize_t csa, Py_ssize_t rsb, Py_ssize_t csb,
               Py_ssize_t ldc, Py_ssize_t nt, real dummy) noexcept nogil:
    """Fill T's task list for op(A) m x k, op(B) k x n on up to nt threads; return the
    team size (the summation order of every C element does not depend on nt)."""
    cdef const tl_skernel *sk
    cdef const tl_dkernel *dk
    cdef Blocks blk
    cdef Py_ssize_t nib
    if real is float:
        sk = tl_sgemm_kernel()
        T.ker, T.mr, T.nr, blk = sk, sk.mr, sk.nr, BLOCKS[sk.id]
    else:
        dk = tl_dgemm_kernel()
        T.ker, T.mr, T.nr, blk = dk, dk.mr, dk.nr, BLOCKS[dk.id]
    T.m, T.n, T.k, T.rsa, T.csa, T.rsb, T.csb, T.ldc = m, n, k, rsa, csa, rsb, csb, ldc
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
    return <int>_min(nt, T.Q)


cdef int _packed_gemm(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, real alpha,
                      const real *a, Py_ssize_t rsa, Py_ssize_t csa,
                      const real *b, Py_ssize_t rsb, Py_ssize_t csb,
                      real beta, real *c, Py_ssize_t ldc, int nt) noexcept nogil:
    """The task list of one product run by nt threads (nt = 1: the calling thread, no
    parallel region); 0, or -1 if out of memory."""
    cdef Plan T
    cdef Py_ssize_t t = 0, ntasks
    cdef unsigned int csr = 0
    cdef void *raw
    cdef real *apk = NULL
    nt = _plan(&T, m, n, k, rsa, csa, rsb, csb, ldc, nt, alpha)
    ntasks = T.nsteps * (T.P + T.Q)
    raw = malloc((T.nbuf * T.b_len + nt * T.a_len) * sizeof(real) + 64
                 + 2 * T.nsteps * sizeof(int64_t))
    if raw == NULL:
        return -1
    T.pack_done = <int64_t *>raw
    T.comp_done = T.pack_done + T.nsteps
    memset(raw, 0, 2 * T.nsteps * sizeof(int64_t))
    T.bbuf = <void *>((<uintptr_t>(T.comp_done + T.nsteps) + 63) & ~(<uintptr_t>63))
    T.next, T.arrived = 0, 0
    if nt == 1:
        csr = tl_ftz_enter()
        apk = <real *>T.bbuf + T.nbuf * T.b_len
        for t in range(ntasks):
            _task(&T, t, a, b, c, alpha, beta, apk)
        tl_ftz_leave(csr)
    else:
        with parallel(num_threads=nt):
            csr = tl_ftz_enter()
            apk = <real *>T.bbuf + T.nbuf * T.b_len + threadid() * T.a_len
            t = tl_tasks_claim(&T.next)              # tasks in index order (tl_tasks.h)
            while t < ntasks:
                _task(&T, t, a, b, c, alpha, beta, apk)
                t = tl_tasks_claim(&T.next)
            tl_tasks_leave(&T.arrived)
            tl_ftz_leave(csr)
    free(raw)
    return 0


# ---------------------------------------------------------------------- K split --
# A K-dominant product (small C, long K: a convolution's weight gradient as one GEMM)
# has too few M/N tasks for the threads. _kslices cuts K into S slices, a function of the
# shape only; each slice is one serial product into its own partial C (the slices run in
# parallel), then C = beta * C + the partials in slice order. So the result does not
# depend on the thread count, bit for bit (like conv's weight-gradient slots). Threads
# claim the slices and then the row chunks of the sum from one task list, with the
# protocol of csrc/tl_tasks.h (no OpenMP barrier, whose spinning collapses on a busy
# machine).

cdef Py_ssize_t _kslices(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k) noexcept nogil:
    """K slices for this shape (never the thread count): 1 = no split."""
    if <double>m * n > KSPLIT_MAX_MN or k < 2 * KSPLIT_MIN_K:
        return 1
    return _min(KSPLIT_MAX, k // KSPLIT_MIN_K)


cdef void _sum_partials(Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t n, const real *parts,
                        Py_ssize_t S, Py_ssize_t plen, real beta, real *c,
                        Py_ssize_t ldc) noexcept nogil:
    """Rows [r0, r1) of C = beta * C + parts[0] + parts[1] + ... (added in this order; C
    not read when beta == 0); parts[s] is row-major with row stride n."""
    cdef Py_ssize_t i, j, s
    cdef real *cr
    cdef const real *pr
    for i in range(r0, r1):
        cr = c + i * ldc
        pr = parts + i * n
        if beta == 0:
            for j in range(n):
                cr[j] = pr[j]
        else:
            for j in range(n):
                cr[j] = beta * cr[j] + pr[j]
        for s in range(1, S):
            pr = parts + s * plen + i * n
            for j in range(n):
                cr[j] += pr[j]


cdef struct KSplit:
    Py_ssize_t m, n, k, S, plen, nch       # slices, partial stride, 16-row sum chunks
    int64_t next, done, failed, arrived    # next task; slices done / failed; threads out


cdef void _ksplit_task(KSplit *q, Py_ssize_t t, real alpha, const real *a, Py_ssize_t rsa,
                       Py_ssize_t csa, const real *b, Py_ssize_t rsb, Py_ssize_t csb,
                       real beta, real *c, Py_ssize_t ldc, real *parts) noexcept nogil:
    """Task t of a K split: t < S computes slice t into its partial (serially); the
    following tasks wait for every slice (lower indices: tl_tasks.h's invariant) and add
    the partials of one 16-row chunk of C."""
    cdef Py_ssize_t k0, k1, r0
    if t < q.S:
        k0 = q.k * t // q.S
        k1 = q.k * (t + 1) // q.S
        if _packed_gemm(q.m, q.n, k1 - k0, alpha, a + k0 * csa, rsa, csa, b + k0 * rsb,
                        rsb, csb, 0, parts + t * q.plen, q.n, 1) != 0:
            tl_tasks_done(&q.failed)
        tl_tasks_done(&q.done)                   # release: the partial is written
        return
    tl_tasks_wait(&q.done, q.S)                  # acquire: every partial is complete
    if tl_tasks_load(&q.failed) == 0:
        r0 = (t - q.S) * 16
        _sum_partials(r0, _min(q.m, r0 + 16), q.n, parts, q.S, q.plen, beta, c, ldc)


cdef int _ksplit_gemm(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, Py_ssize_t S, real alpha,
                      const real *a, Py_ssize_t rsa, Py_ssize_t csa,
                      const real *b, Py_ssize_t rsb, Py_ssize_t csb,
                      real beta, real *c, Py_ssize_t ldc, int nt) noexcept nogil:
    """C = alpha * op(A) @ op(B) + beta * C as S K-slice partials, added in slice order,
    run as one task list (slices, then row chunks of the sum); 0, or -1 if out of
    memory."""
    cdef KSplit q
    cdef Py_ssize_t t = 0
    cdef unsigned int csr = 0
    cdef real *parts
    q.m, q.n, q.k, q.S = m, n, k, S
    q.plen, q.nch = _cdiv(m * n, 16) * 16, _cdiv(m, 16)
    q.next, q.done, q.failed, q.arrived = 0, 0, 0, 0
    parts = <real *>malloc(S * q.plen * sizeof(real))
    if parts == NULL:
        return -1
    nt = _min(nt, S)
    if nt == 1:
        csr = tl_ftz_enter()
        for t in range(S + q.nch):
            _ksplit_task(&q, t, alpha, a, rsa, csa, b, rsb, csb, beta, c, ldc, parts)
        tl_ftz_leave(csr)
    else:
        with parallel(num_threads=nt):
            csr = tl_ftz_enter()
            t = tl_tasks_claim(&q.next)
            while t < S + q.nch:
                _ksplit_task(&q, t, alpha, a, rsa, csa, b, rsb, csb, beta, c, ldc, parts)
                t = tl_tasks_claim(&q.next)
            tl_tasks_leave(&q.arrived)
            tl_ftz_leave(csr)
    free(parts)
    return -1 if q.failed else 0


cdef int _gemm(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, real alpha,
               const real *a, Py_ssize_t rsa, Py_ssize_t csa,
               const real *b, Py_ssize_t rsb, Py_ssize_t csb,
               real beta, real *c, Py_ssize_t ldc, int nthreads,
               bint ksplit) noexcept nogil:
    """C = alpha * op(A) @ op(B) + beta * C; 0, or -1 if out of memory. ksplit: allow
    the K split of K-dominant shapes (the choice then depends on the shape only)."""
    cdef unsigned int csr = 0
    cdef double work = <double>m * n * k                     # ops (multiply-adds)
    cdef Py_ssize_t S
    cdef int nt
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
    nt = threads_for(SERIAL_BELOW, work, nthreads)
    S = _kslices(m, n, k) if ksplit else 1
    if S > 1:
        return _ksplit_gemm(m, n, k, S, alpha, a, rsa, csa, b, rsb, csb, beta, c, ldc, nt)
    return _packed_gemm(m, n, k, alpha, a, rsa, csa, b, rsb, csb, beta, c, ldc, nt)
