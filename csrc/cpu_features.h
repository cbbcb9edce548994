/* Run-time SIMD level detection for the GEMM micro-kernels.
 *
 * Design: the hardware level is probed once (GCC/Clang __builtin_cpu_supports on
 * x86-64, which also checks that the OS saves the wide registers); anything else is
 * TL_SIMD_REF. The active level is min(hardware, requested), where the request comes
 * from tl_simd_set_level() if called, else from the env var TENSORLIB_SIMD
 * (avx512 | avx2 | ref), else "as high as the CPU allows". Asking for a level the CPU
 * lacks silently gives the highest level it has, so forcing can never crash.
 * A testing hook, tl_simd_set_emulate_avx512(), makes the kernels run the AVX-512
 * kernels' source built for AVX2 + FMA (level TL_SIMD_AVX512_EMU), so their logic and
 * blocking can be checked on a machine without AVX-512; kernels dispatch on
 * tl_simd_kernel_level(), which reports it.
 */
#ifndef TL_CPU_FEATURES_H
#define TL_CPU_FEATURES_H

#ifdef __cplusplus
extern "C" {
#endif

enum {
    TL_SIMD_REF = 0,    /* portable C */
    TL_SIMD_AVX2 = 1,   /* AVX2 + FMA */
    TL_SIMD_AVX512 = 2, /* AVX-512F (+ AVX2 + FMA) */
    TL_SIMD_AVX512_EMU = 3 /* testing: the AVX-512 kernels' source built for AVX2 + FMA */
};

/* Highest level this CPU and OS support. */
int tl_cpu_simd_level(void);

/* Level the kernels use now: min(tl_cpu_simd_level(), requested level). */
int tl_simd_level(void);

/* Request a level (clamped to the CPU); a negative value returns to the env/default.
 * Returns the resulting active level. */
int tl_simd_set_level(int level);

/* Testing hook: while on (and the CPU has AVX2 + FMA), tl_simd_kernel_level() is
 * TL_SIMD_AVX512_EMU. Returns 1 if the emulation is now active. */
int tl_simd_set_emulate_avx512(int on);

/* Level the kernels dispatch on: TL_SIMD_AVX512_EMU while the emulation is on, else
 * tl_simd_level(). */
int tl_simd_kernel_level(void);

/* "ref", "avx2", "avx512", "avx512-emu"; "?" for an unknown level. */
const char *tl_simd_level_name(int level);

/* Parse a level name (case-insensitive); -1 if it is not one. */
int tl_simd_parse_level(const char *name);

#ifdef __cplusplus
}
#endif

#endif
