/* Run-time SIMD level detection for the GEMM micro-kernels.
 *
 * Design: the hardware level is probed once (GCC/Clang __builtin_cpu_supports on
 * x86-64, which also checks that the OS saves the wide registers); anything else is
 * TL_SIMD_REF. The active level is min(hardware, requested), where the request comes
 * from tl_simd_set_level() if called, else from the env var TENSORLIB_SIMD
 * (avx512 | avx2 | ref), else "as high as the CPU allows". Asking for a level the CPU
 * lacks silently gives the highest level it has, so forcing can never crash.
 */
#ifndef TL_CPU_FEATURES_H
#define TL_CPU_FEATURES_H

#ifdef __cplusplus
extern "C" {
#endif

enum {
    TL_SIMD_REF = 0,    /* portable C */
    TL_SIMD_AVX2 = 1,   /* AVX2 + FMA */
    TL_SIMD_AVX512 = 2  /* AVX-512F (+ AVX2 + FMA) */
};

/* Highest level this CPU and OS support. */
int tl_cpu_simd_level(void);

/* Level the kernels use now: min(tl_cpu_simd_level(), requested level). */
int tl_simd_level(void);

/* Request a level (clamped to the CPU); a negative value returns to the env/default.
 * Returns the resulting active level. */
int tl_simd_set_level(int level);

/* "ref", "avx2", "avx512"; "?" for an unknown level. */
const char *tl_simd_level_name(int level);

/* Parse a level name (case-insensitive); -1 if it is not one. */
int tl_simd_parse_level(const char *name);

#ifdef __cplusplus
}
#endif

#endif
