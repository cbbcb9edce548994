# GEMM entry points other Cython modules (conv) may cimport and call without the GIL.
#
# op(A)(i, p) = a[i*rsa + p*csa] and op(B)(p, j) = b[p*rsb + j*csb] (element strides,
# any sign), so a transpose is just swapped strides. C is row-major with row stride
# ldc. All return 0, or -1 if the packing buffers could not be allocated. Called from
# inside another parallel region, pass nthreads=1 (the call then runs on the calling
# thread and opens no parallel region). These entry points never split K (gemm.sgemm
# does, for K-dominant shapes): the summation order of each C element is the same at any
# thread count, and their callers (conv's chunks) already run one call per thread.

cdef int sgemm_strided(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, float alpha,
                       const float *a, Py_ssize_t rsa, Py_ssize_t csa,
                       const float *b, Py_ssize_t rsb, Py_ssize_t csb,
                       float beta, float *c, Py_ssize_t ldc, int nthreads) noexcept nogil

cdef int dgemm_strided(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, double alpha,
                       const double *a, Py_ssize_t rsa, Py_ssize_t csa,
                       const double *b, Py_ssize_t rsb, Py_ssize_t csb,
                       double beta, double *c, Py_ssize_t ldc, int nthreads) noexcept nogil

# The SIMD level every kernel module uses (cpu_features.h: 0 ref, 1 AVX2+FMA, 2 AVX-512F,
# 3 the AVX-512 kernels' source built for AVX2 + FMA, a testing hook): the one dispatcher,
# whose state (CPU probe, TENSORLIB_SIMD, _set_simd_level) lives here.
cdef int simd_level() noexcept nogil
