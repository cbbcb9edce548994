# C declarations of the GEMM module's micro-kernels, packing routines and the one SIMD
# dispatcher (csrc/gemm_ukernels.h, csrc/cpu_features.h; both compiled into gemm only).
# Declarations only: cimported by gemm.pyx, no module at run time.
from libc.stdint cimport int64_t

cdef extern from "cpu_features.h" nogil:
    int tl_cpu_simd_level()
    int tl_simd_level()
    int tl_simd_set_level(int level)
    const char *tl_simd_level_name(int level)
    int tl_simd_parse_level(const char *name)
    int tl_simd_set_emulate_avx512(int on)
    int tl_simd_kernel_level()

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
    void tl_spack_a(int64_t mc, int64_t kc, const float *a, int64_t rsa, int64_t csa,
                    int64_t mr, float *out)
    void tl_dpack_a(int64_t mc, int64_t kc, const double *a, int64_t rsa, int64_t csa,
                    int64_t mr, double *out)
    void tl_spack_b(int64_t kc, int64_t nc, const float *b, int64_t rsb, int64_t csb,
                    int64_t nr, float *out)
    void tl_dpack_b(int64_t kc, int64_t nc, const double *b, int64_t rsb, int64_t csb,
                    int64_t nr, double *out)
