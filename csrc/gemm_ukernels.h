/* GEMM micro-kernels and packing routines (BLIS style), float32 and float64.
 *
 * Design: a micro-kernel computes one MR x NR tile of C from an A micro-panel and a
 * packed B micro-panel (kc x NR, stored k-major: b[p*NR + j], 64-byte aligned):
 *
 *     C[i, j] = alpha * sum_p A(i, p) * b[p*NR + j] + beta * C[i, j]
 *
 * for i < mr <= MR, j < nr <= NR (edge tiles are computed in full into a local buffer
 * and only the valid part is written). A(i, p) is a[p*MR + i] for a packed A panel
 * (fn), or a[i*rsa + p*csa] read in place (fn_sa; rows past mr are never used).
 * C has row stride ldc and unit column stride; C is never read when beta == 0.
 * Every ISA kernel lives in gemm_ukernels.c behind a target attribute, so the library
 * needs no -march flag; tl_sgemm_kernel() picks the best one for the current
 * tl_simd_kernel_level() (cpu_features.h: avx512-emu, its testing hook, runs the
 * AVX-512 kernel's source built for AVX2).
 */
#ifndef TL_GEMM_UKERNELS_H
#define TL_GEMM_UKERNELS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*tl_sukr_fn)(int64_t kc, const float *a, const float *b, float *c,
                           int64_t ldc, int64_t mr, int64_t nr, float alpha, float beta);
typedef void (*tl_dukr_fn)(int64_t kc, const double *a, const double *b, double *c,
                           int64_t ldc, int64_t mr, int64_t nr, double alpha, double beta);

/* Kernel ids: index of the cache-block table in gemm.pyx. */
enum {
    TL_K_S_REF = 0,        /* float32, portable C, 4 x 16 */
    TL_K_S_AVX2 = 1,       /* float32, AVX2 + FMA, 6 x 16 */
    TL_K_S_AVX512 = 2,     /* float32, AVX-512F, 12 x 32 */
    TL_K_S_AVX512_EMU = 3, /* test only: the 12 x 32 source compiled for AVX2 */
    TL_K_D_REF = 4,        /* float64, portable C, 4 x 8 */
    TL_K_D_AVX2 = 5,       /* float64, AVX2 + FMA, 6 x 8 */
    TL_K_COUNT = 6
};

/* The same kernels reading A unpacked, A(i, p) = a[i*rsa + p*csa] (B still packed). */
typedef void (*tl_sukr_sa_fn)(int64_t kc, const float *a, int64_t rsa, int64_t csa,
                              const float *b, float *c, int64_t ldc, int64_t mr,
                              int64_t nr, float alpha, float beta);
typedef void (*tl_dukr_sa_fn)(int64_t kc, const double *a, int64_t rsa, int64_t csa,
                              const double *b, double *c, int64_t ldc, int64_t mr,
                              int64_t nr, double alpha, double beta);

typedef struct {
    const char *name; int id; int mr; int nr; tl_sukr_fn fn; tl_sukr_sa_fn fn_sa;
} tl_skernel;
typedef struct {
    const char *name; int id; int mr; int nr; tl_dukr_fn fn; tl_dukr_sa_fn fn_sa;
} tl_dkernel;

/* Kernel for the active SIMD level. */
const tl_skernel *tl_sgemm_kernel(void);
const tl_dkernel *tl_dgemm_kernel(void);

/* Pack mc x kc of op(A) (element (i, p) at a[i*rsa + p*csa]) into ceil(mc/mr) panels
 * out[ip*mr*kc + p*mr + i], rows past mc zero-filled. */
void tl_spack_a(int64_t mc, int64_t kc, const float *a, int64_t rsa, int64_t csa,
                int64_t mr, float *out);
void tl_dpack_a(int64_t mc, int64_t kc, const double *a, int64_t rsa, int64_t csa,
                int64_t mr, double *out);

/* Pack kc x nc of op(B) (element (p, j) at b[p*rsb + j*csb]) into ceil(nc/nr) panels
 * out[jp*nr*kc + p*nr + j], columns past nc zero-filled. */
void tl_spack_b(int64_t kc, int64_t nc, const float *b, int64_t rsb, int64_t csb,
                int64_t nr, float *out);
void tl_dpack_b(int64_t kc, int64_t nc, const double *b, int64_t rsb, int64_t csb,
                int64_t nr, double *out);

#ifdef __cplusplus
}
#endif

#endif
