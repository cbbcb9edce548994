/* GEMM micro-kernels and packing (contract in gemm_ukernels.h).
 *
 * Design:
 *  - Every kernel body is written once and instantiated twice (TL_DEFINE_UKR): reading
 *    A from a packed micro-panel, or in place from the caller's strided matrix (_sa).
 *  - ref: plain C, one C row at a time so its NR accumulators stay in registers; the
 *    compiler vectorises it for the baseline ISA. Used for float32 and float64.
 *  - avx2 (float32): 6 x 16 tile, 12 ymm accumulators, per k two aligned B loads and
 *    six broadcasts of A feeding 12 FMAs.
 *  - avx512 (float32): 12 x 32 tile, 24 zmm accumulators; avx2 (float64): 6 x 8 tile,
 *    12 ymm. Both use GCC/Clang generic vectors, so the AVX-512 source also builds for
 *    AVX2 (two ymm per zmm): that copy is only a testing hook, to check the logic on
 *    CPUs without AVX-512. Generic-vector a*b+c relies on the default GNU-mode
 *    -ffp-contract=fast to become an FMA; it is correct (just slower) without it.
 * x86 code is guarded by __x86_64__ so other targets build with the ref kernels only.
 */
#include "gemm_ukernels.h"
#include "cpu_features.h"

#include <string.h>

#if defined(__GNUC__) || defined(__clang__)
#define TL_INLINE static inline __attribute__((always_inline))
#define TL_ALIGN64 __attribute__((aligned(64)))
#define TL_RESTRICT __restrict__
#else
#define TL_INLINE static inline
#define TL_ALIGN64
#define TL_RESTRICT
#endif

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define TL_X86 1
#include <immintrin.h>
#endif

/* ---------------------------------------------------------------- edge tiles --- */

/* c[i, j] = t[i*ldt + j] + beta * c[i, j] for i < mr, j < nr (t already has alpha). */
#define TL_DEFINE_EDGE(T, SFX)                                                         \
    static void edge_store_##SFX(const T *t, int64_t ldt, T *c, int64_t ldc,           \
                                 int64_t mr, int64_t nr, T beta)                       \
    {                                                                                  \
        int64_t i, j;                                                                  \
        for (i = 0; i < mr; i++) {                                                     \
            T *cr = c + i * ldc;                                                       \
            const T *tr = t + i * ldt;                                                 \
            if (beta == 0)                                                             \
                for (j = 0; j < nr; j++) cr[j] = tr[j];                                \
            else                                                                       \
                for (j = 0; j < nr; j++) cr[j] = tr[j] + beta * cr[j];                 \
        }                                                                              \
    }
TL_DEFINE_EDGE(float, f32)
TL_DEFINE_EDGE(double, f64)

/* Every body below reads A in one of two ways, fixed at compile time by SA:
 *   SA == 0: packed micro-panel, A(i, p) = a[p*MR + i];
 *   SA == 1: straight from the caller's matrix, A(i, p) = a[i*rsa + p*csa]; rows
 *            i >= mr re-read row 0 (valid memory) and their results are dropped. */
#define TL_ROW_OFF(i) ((i) < mr ? (int64_t)(i) * rsa : 0)

/* ------------------------------------------------------------ ref (portable) --- */

/* C[:mr, :nr] = alpha * A @ B_panel + beta * C, tile MR x NR (compile-time), one row
 * of C at a time: the NR accumulators of a row stay in (vector) registers, the B panel
 * is re-read from L1 for every row. */
#define TL_DEFINE_REF_BODY(T, SFX)                                                     \
    TL_INLINE void ref_body_##SFX(int64_t kc, const T *TL_RESTRICT a, int64_t rsa,     \
                                  int64_t csa, const T *TL_RESTRICT b,                 \
                                  T *TL_RESTRICT c, int64_t ldc, int64_t mr,           \
                                  int64_t nr, T alpha, T beta, const int MR,           \
                                  const int NR, const int SA)                          \
    {                                                                                  \
        T acc[16 * 16] TL_ALIGN64;                                                     \
        int64_t p, i;                                                                  \
        int j;                                                                         \
        for (i = 0; i < mr; i++) {                                                     \
            T row[16] TL_ALIGN64;                                                      \
            const T *ai = SA ? a + i * rsa : a + i;                                    \
            const int64_t step = SA ? csa : MR;                                        \
            for (j = 0; j < NR; j++) row[j] = 0;                                       \
            for (p = 0; p < kc; p++) {                                                 \
                const T av = ai[p * step];                                             \
                for (j = 0; j < NR; j++) row[j] += av * b[p * NR + j];                 \
            }                                                                          \
            for (j = 0; j < NR; j++) acc[i * NR + j] = alpha * row[j];                 \
        }                                                                              \
        edge_store_##SFX(acc, NR, c, ldc, mr, nr, beta);                               \
    }
TL_DEFINE_REF_BODY(float, f32)
TL_DEFINE_REF_BODY(double, f64)

/* Kernel entry points: packed A (name) and strided A (name_sa), same body. */
#define TL_DEFINE_UKR(T, NAME, ATTR, BODY, MR, NR)                                     \
    ATTR static void NAME(int64_t kc, const T *a, const T *b, T *c, int64_t ldc,       \
                          int64_t mr, int64_t nr, T alpha, T beta)                     \
    {                                                                                  \
        BODY(kc, a, 0, 0, b, c, ldc, mr, nr, alpha, beta, MR, NR, 0);                  \
    }                                                                                  \
    ATTR static void NAME##_sa(int64_t kc, const T *a, int64_t rsa, int64_t csa,       \
                               const T *b, T *c, int64_t ldc, int64_t mr, int64_t nr,  \
                               T alpha, T beta)                                        \
    {                                                                                  \
        BODY(kc, a, rsa, csa, b, c, ldc, mr, nr, alpha, beta, MR, NR, 1);              \
    }

#define TL_NOATTR
TL_DEFINE_UKR(float, sukr_ref, TL_NOATTR, ref_body_f32, 4, 16)
TL_DEFINE_UKR(double, dukr_ref, TL_NOATTR, ref_body_f64, 4, 8)

#ifdef TL_X86
#define TL_AVX2 __attribute__((target("avx2,fma")))
#define TL_AVX512 __attribute__((target("avx512f,avx2,fma")))

/* ---------------------------------------------------------- avx2 (float32) --- */

#define TL_AVX2_ROW(i)                                                                 \
    t = _mm256_broadcast_ss(SA ? a + r##i + off : a + (i));                            \
    c##i##0 = _mm256_fmadd_ps(t, b0, c##i##0);                                         \
    c##i##1 = _mm256_fmadd_ps(t, b1, c##i##1);

#define TL_AVX2_STORE(i)                                                               \
    do {                                                                               \
        float *cr = c + (i) * ldc;                                                     \
        __m256 r0 = c##i##0, r1 = c##i##1;                                             \
        if (alpha != 1) {                                                              \
            r0 = _mm256_mul_ps(va, r0);                                                \
            r1 = _mm256_mul_ps(va, r1);                                                \
        }                                                                              \
        if (full) {                                                                    \
            if (beta != 0) {                                                           \
                r0 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(cr), r0);                     \
                r1 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(cr + 8), r1);                 \
            }                                                                          \
            _mm256_storeu_ps(cr, r0);                                                  \
            _mm256_storeu_ps(cr + 8, r1);                                              \
        } else {                                                                       \
            _mm256_store_ps(tmp + (i) * 16, r0);                                       \
            _mm256_store_ps(tmp + (i) * 16 + 8, r1);                                   \
        }                                                                              \
    } while (0)

TL_AVX2 TL_INLINE void avx2_body_6x16(int64_t kc, const float *TL_RESTRICT a,
                                      int64_t rsa, int64_t csa,
                                      const float *TL_RESTRICT b, float *TL_RESTRICT c,
                                      int64_t ldc, int64_t mr, int64_t nr, float alpha,
                                      float beta, const int MR, const int NR, const int SA)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
    __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
    __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
    __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
    __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
    __m256 va, vb, b0, b1, t;
    float tmp[6 * 16] TL_ALIGN64;
    const int full = (mr == MR && nr == NR); /* MR = 6, NR = 16 */
    const int64_t r0 = 0, r1 = TL_ROW_OFF(1), r2 = TL_ROW_OFF(2), r3 = TL_ROW_OFF(3);
    const int64_t r4 = TL_ROW_OFF(4), r5 = TL_ROW_OFF(5);
    int64_t p, off = 0;

    if (full && beta != 0) { /* the C tile is read at the end: start fetching it now */
        for (p = 0; p < 6; p++) {
            _mm_prefetch((const char *)(c + p * ldc), _MM_HINT_T0);
            _mm_prefetch((const char *)(c + p * ldc + 15), _MM_HINT_T0);
        }
    }
#if defined(__clang__)
#pragma unroll 4
#else
#pragma GCC unroll 4
#endif
    for (p = 0; p < kc; p++) {
        b0 = _mm256_load_ps(b);
        b1 = _mm256_load_ps(b + 8);
        TL_AVX2_ROW(0) TL_AVX2_ROW(1) TL_AVX2_ROW(2)
        TL_AVX2_ROW(3) TL_AVX2_ROW(4) TL_AVX2_ROW(5)
        if (SA)
            off += csa;
        else
            a += 6;
        b += 16;
    }
    va = _mm256_set1_ps(alpha);
    vb = _mm256_set1_ps(beta);
    TL_AVX2_STORE(0); TL_AVX2_STORE(1); TL_AVX2_STORE(2);
    TL_AVX2_STORE(3); TL_AVX2_STORE(4); TL_AVX2_STORE(5);
    if (!full)
        edge_store_f32(tmp, 16, c, ldc, mr, nr, beta);
}
TL_DEFINE_UKR(float, sukr_avx2, TL_AVX2, avx2_body_6x16, 6, 16)

/* ------------------------------------------ avx512 (float32, generic vectors) --- */

typedef float tl_v16 __attribute__((vector_size(64)));
typedef float tl_v16u __attribute__((vector_size(64), aligned(4), may_alias));

/* Generic-vector helpers: a row of the tile is two vectors x0, x1 of type VT (VL
 * lanes), VU is the same vector type with element alignment (for C). */
#define TL_V_ROW(i, x0, x1)                                                            \
    {                                                                                  \
        const __typeof__(*a) ai = SA ? a[r[i] + off] : a[i];                           \
        x0 += ai * b0;                                                                 \
        x1 += ai * b1;                                                                 \
    }

#define TL_V_STORE(VT, VU, VL, i, x0, x1)                                              \
    do {                                                                               \
        VU *cr = (VU *)(c + (i) * ldc);                                                \
        VT r0 = x0, r1 = x1;                                                           \
        if (alpha != 1) {                                                              \
            r0 *= alpha;                                                               \
            r1 *= alpha;                                                               \
        }                                                                              \
        if (full) {                                                                    \
            if (beta != 0) {                                                           \
                r0 += beta * cr[0];                                                    \
                r1 += beta * cr[1];                                                    \
            }                                                                          \
            cr[0] = r0;                                                                \
            cr[1] = r1;                                                                \
        } else {                                                                       \
            *(VT *)(tmp + (i) * 2 * (VL)) = r0;                                        \
            *(VT *)(tmp + (i) * 2 * (VL) + (VL)) = r1;                                 \
        }                                                                              \
    } while (0)
#define TL_V16_STORE(i, x0, x1) TL_V_STORE(tl_v16, tl_v16u, 16, i, x0, x1)
#define TL_V16_ROW TL_V_ROW

TL_INLINE void v16_body_12x32(int64_t kc, const float *TL_RESTRICT a, int64_t rsa,
                              int64_t csa, const float *TL_RESTRICT b,
                              float *TL_RESTRICT c, int64_t ldc, int64_t mr, int64_t nr,
                              float alpha, float beta, const int MR, const int NR,
                              const int SA)
{
    const tl_v16 z = {0};
    tl_v16 c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z;
    tl_v16 c40 = z, c41 = z, c50 = z, c51 = z, c60 = z, c61 = z, c70 = z, c71 = z;
    tl_v16 c80 = z, c81 = z, c90 = z, c91 = z, cA0 = z, cA1 = z, cB0 = z, cB1 = z;
    tl_v16 b0, b1;
    float tmp[12 * 32] TL_ALIGN64;
    const int full = (mr == MR && nr == NR); /* MR = 12, NR = 32 */
    int64_t r[12], p, off = 0;
    int i;

    for (i = 0; i < 12; i++)
        r[i] = TL_ROW_OFF(i);
    for (p = 0; p < kc; p++) {
        b0 = *(const tl_v16 *)b;
        b1 = *(const tl_v16 *)(b + 16);
        TL_V16_ROW(0, c00, c01) TL_V16_ROW(1, c10, c11) TL_V16_ROW(2, c20, c21)
        TL_V16_ROW(3, c30, c31) TL_V16_ROW(4, c40, c41) TL_V16_ROW(5, c50, c51)
        TL_V16_ROW(6, c60, c61) TL_V16_ROW(7, c70, c71) TL_V16_ROW(8, c80, c81)
        TL_V16_ROW(9, c90, c91) TL_V16_ROW(10, cA0, cA1) TL_V16_ROW(11, cB0, cB1)
        if (SA)
            off += csa;
        else
            a += 12;
        b += 32;
    }
    TL_V16_STORE(0, c00, c01); TL_V16_STORE(1, c10, c11); TL_V16_STORE(2, c20, c21);
    TL_V16_STORE(3, c30, c31); TL_V16_STORE(4, c40, c41); TL_V16_STORE(5, c50, c51);
    TL_V16_STORE(6, c60, c61); TL_V16_STORE(7, c70, c71); TL_V16_STORE(8, c80, c81);
    TL_V16_STORE(9, c90, c91); TL_V16_STORE(10, cA0, cA1); TL_V16_STORE(11, cB0, cB1);
    if (!full)
        edge_store_f32(tmp, 32, c, ldc, mr, nr, beta);
}
TL_DEFINE_UKR(float, sukr_avx512, TL_AVX512, v16_body_12x32, 12, 32)
/* Testing hook: the same source for AVX2 (each zmm becomes two ymm, spills and all). */
TL_DEFINE_UKR(float, sukr_avx512_emu, TL_AVX2, v16_body_12x32, 12, 32)

/* ------------------------------------------- avx2 (float64, generic vectors) --- */

typedef double tl_v4d __attribute__((vector_size(32)));
typedef double tl_v4du __attribute__((vector_size(32), aligned(8), may_alias));
#define TL_V4D_STORE(i, x0, x1) TL_V_STORE(tl_v4d, tl_v4du, 4, i, x0, x1)

TL_INLINE void v4d_body_6x8(int64_t kc, const double *TL_RESTRICT a, int64_t rsa,
                            int64_t csa, const double *TL_RESTRICT b,
                            double *TL_RESTRICT c, int64_t ldc, int64_t mr, int64_t nr,
                            double alpha, double beta, const int MR, const int NR,
                            const int SA)
{
    const tl_v4d z = {0};
    tl_v4d c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z;
    tl_v4d c30 = z, c31 = z, c40 = z, c41 = z, c50 = z, c51 = z;
    tl_v4d b0, b1;
    double tmp[6 * 8] TL_ALIGN64;
    const int full = (mr == MR && nr == NR); /* MR = 6, NR = 8 */
    int64_t r[6], p, off = 0;
    int i;

    for (i = 0; i < 6; i++)
        r[i] = TL_ROW_OFF(i);
    for (p = 0; p < kc; p++) {
        b0 = *(const tl_v4d *)b;
        b1 = *(const tl_v4d *)(b + 4);
        TL_V_ROW(0, c00, c01) TL_V_ROW(1, c10, c11) TL_V_ROW(2, c20, c21)
        TL_V_ROW(3, c30, c31) TL_V_ROW(4, c40, c41) TL_V_ROW(5, c50, c51)
        if (SA)
            off += csa;
        else
            a += 6;
        b += 8;
    }
    TL_V4D_STORE(0, c00, c01); TL_V4D_STORE(1, c10, c11); TL_V4D_STORE(2, c20, c21);
    TL_V4D_STORE(3, c30, c31); TL_V4D_STORE(4, c40, c41); TL_V4D_STORE(5, c50, c51);
    if (!full)
        edge_store_f64(tmp, 8, c, ldc, mr, nr, beta);
}
TL_DEFINE_UKR(double, dukr_avx2, TL_AVX2, v4d_body_6x8, 6, 8)
#endif /* TL_X86 */

/* ------------------------------------------------------------------ dispatch --- */

static const tl_skernel S_KERNELS[] = {
    {"ref", TL_K_S_REF, 4, 16, sukr_ref, sukr_ref_sa},
#ifdef TL_X86
    {"avx2", TL_K_S_AVX2, 6, 16, sukr_avx2, sukr_avx2_sa},
    {"avx512", TL_K_S_AVX512, 12, 32, sukr_avx512, sukr_avx512_sa},
    {"avx512-emu", TL_K_S_AVX512_EMU, 12, 32, sukr_avx512_emu, sukr_avx512_emu_sa},
#endif
};

static const tl_dkernel D_KERNELS[] = {
    {"ref", TL_K_D_REF, 4, 8, dukr_ref, dukr_ref_sa},
#ifdef TL_X86
    {"avx2", TL_K_D_AVX2, 6, 8, dukr_avx2, dukr_avx2_sa},
#endif
};

const tl_skernel *tl_sgemm_kernel(void)
{
#ifdef TL_X86
    switch (tl_simd_kernel_level()) {
    case TL_SIMD_AVX512_EMU: return &S_KERNELS[3];
    case TL_SIMD_AVX512: return &S_KERNELS[2];
    case TL_SIMD_AVX2: return &S_KERNELS[1];
    default: break;
    }
#endif
    return &S_KERNELS[0];
}

const tl_dkernel *tl_dgemm_kernel(void)
{
#ifdef TL_X86
    if (tl_simd_level() >= TL_SIMD_AVX2)
        return &D_KERNELS[1];
#endif
    return &D_KERNELS[0];
}

/* ------------------------------------------------------------------- packing --- */

#ifdef TL_X86
/* Full float panel, rows contiguous (csa == 1): 4 x 4 SSE transposes (+ a row pair),
 * out[p*MR + i] = a[i*rsa + p]. MR is a multiple of 2. */
TL_INLINE void pack_a_rows_s_sse(int64_t kc, const float *a, int64_t rsa, const int MR,
                                 float *TL_RESTRICT out)
{
    int64_t p = 0;
    int g, i;
    for (; p + 4 <= kc; p += 4) {
        for (g = 0; g + 4 <= MR; g += 4) {
            __m128 r0 = _mm_loadu_ps(a + (g + 0) * rsa + p);
            __m128 r1 = _mm_loadu_ps(a + (g + 1) * rsa + p);
            __m128 r2 = _mm_loadu_ps(a + (g + 2) * rsa + p);
            __m128 r3 = _mm_loadu_ps(a + (g + 3) * rsa + p);
            _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
            _mm_storeu_ps(out + (p + 0) * MR + g, r0);
            _mm_storeu_ps(out + (p + 1) * MR + g, r1);
            _mm_storeu_ps(out + (p + 2) * MR + g, r2);
            _mm_storeu_ps(out + (p + 3) * MR + g, r3);
        }
        if (g < MR) { /* the last two rows */
            __m128 r0 = _mm_loadu_ps(a + g * rsa + p), r1 = _mm_loadu_ps(a + (g + 1) * rsa + p);
            __m128 lo = _mm_unpacklo_ps(r0, r1), hi = _mm_unpackhi_ps(r0, r1);
            _mm_storel_pi((__m64 *)(out + (p + 0) * MR + g), lo);
            _mm_storeh_pi((__m64 *)(out + (p + 1) * MR + g), lo);
            _mm_storel_pi((__m64 *)(out + (p + 2) * MR + g), hi);
            _mm_storeh_pi((__m64 *)(out + (p + 3) * MR + g), hi);
        }
    }
    for (; p < kc; p++)
        for (i = 0; i < MR; i++) out[p * MR + i] = a[i * rsa + p];
}
#endif

/* Packing for one element type T. A: panels of MR rows, out[ip*kc + p*MR + i];
 * B: panels of NR columns, out[jp*kc + p*NR + j]; both zero-pad partial panels.
 * Loops run along whichever index is contiguous in memory. */
#define TL_DEFINE_PACK(T, SFX)                                                         \
    TL_INLINE void pack_a_##SFX##_impl(int64_t mc, int64_t kc, const T *a, int64_t rsa,  \
                                       int64_t csa, const int64_t MR, T *TL_RESTRICT out) \
    {                                                                                  \
        int64_t p, i, ip;                                                              \
        if (rsa == 1 && csa != 1) { /* columns of op(A) contiguous */                  \
            for (p = 0; p < kc; p++) {                                                 \
                const T *src = a + p * csa;                                            \
                for (ip = 0; ip < mc; ip += MR) {                                      \
                    T *dst = out + ip * kc + p * MR;                                   \
                    const int64_t rows = mc - ip < MR ? mc - ip : MR;                  \
                    if (rows == MR)                                                    \
                        for (i = 0; i < MR; i++) dst[i] = src[ip + i];                 \
                    else                                                               \
                        for (i = 0; i < MR; i++) dst[i] = i < rows ? src[ip + i] : (T)0; \
                }                                                                      \
            }                                                                          \
            return;                                                                    \
        }                                                                              \
        for (ip = 0; ip < mc; ip += MR) {                                              \
            const T *src = a + ip * rsa;                                               \
            T *dst = out + ip * kc;                                                    \
            const int64_t rows = mc - ip < MR ? mc - ip : MR;                          \
            if (rows == MR && csa == 1 && pack_a_rows_##SFX(kc, src, rsa, MR, dst))    \
                continue;                                                              \
            for (p = 0; p < kc; p++)                                                   \
                for (i = 0; i < MR; i++)                                               \
                    dst[p * MR + i] = i < rows ? src[i * rsa + p * csa] : (T)0;        \
        }                                                                              \
    }                                                                                  \
                                                                                       \
    void tl_##SFX##pack_a(int64_t mc, int64_t kc, const T *a, int64_t rsa,             \
                          int64_t csa, int64_t mr, T *out)                             \
    {                                                                                  \
        if (mr == 4) pack_a_##SFX##_impl(mc, kc, a, rsa, csa, 4, out);                 \
        else if (mr == 6) pack_a_##SFX##_impl(mc, kc, a, rsa, csa, 6, out);            \
        else if (mr == 12) pack_a_##SFX##_impl(mc, kc, a, rsa, csa, 12, out);          \
        else pack_a_##SFX##_impl(mc, kc, a, rsa, csa, mr, out);                        \
    }                                                                                  \
                                                                                       \
    TL_INLINE void pack_b_##SFX##_impl(int64_t kc, int64_t nc, const T *b, int64_t rsb,  \
                                       int64_t csb, const int64_t NR, T *TL_RESTRICT out) \
    {                                                                                  \
        int64_t p, j, jp;                                                              \
        const int64_t nfull = nc - nc % NR;                                            \
        if (csb == 1) { /* rows of op(B) contiguous: one row at a time */              \
            for (p = 0; p < kc; p++) {                                                 \
                const T *src = b + p * rsb;                                            \
                for (jp = 0; jp < nfull; jp += NR)                                     \
                    for (j = 0; j < NR; j++) out[jp * kc + p * NR + j] = src[jp + j];  \
                if (jp < nc)                                                           \
                    for (j = 0; j < NR; j++)                                           \
                        out[jp * kc + p * NR + j] = jp + j < nc ? src[jp + j] : (T)0;  \
            }                                                                          \
            return;                                                                    \
        }                                                                              \
        for (jp = 0; jp < nc; jp += NR) { /* one column at a time */                   \
            T *dst = out + jp * kc;                                                    \
            for (j = 0; j < NR; j++) {                                                 \
                const T *src = b + (jp + j) * csb;                                     \
                if (jp + j < nc)                                                       \
                    for (p = 0; p < kc; p++) dst[p * NR + j] = src[p * rsb];           \
                else                                                                   \
                    for (p = 0; p < kc; p++) dst[p * NR + j] = 0;                      \
            }                                                                          \
        }                                                                              \
    }                                                                                  \
                                                                                       \
    void tl_##SFX##pack_b(int64_t kc, int64_t nc, const T *b, int64_t rsb,             \
                          int64_t csb, int64_t nr, T *out)                             \
    {                                                                                  \
        if (nr == 8) pack_b_##SFX##_impl(kc, nc, b, rsb, csb, 8, out);                 \
        else if (nr == 16) pack_b_##SFX##_impl(kc, nc, b, rsb, csb, 16, out);          \
        else if (nr == 32) pack_b_##SFX##_impl(kc, nc, b, rsb, csb, 32, out);          \
        else pack_b_##SFX##_impl(kc, nc, b, rsb, csb, nr, out);                        \
    }

/* Fast full-panel packers for rows-contiguous A; 0 = not available, use the loop. */
TL_INLINE int pack_a_rows_s(int64_t kc, const float *a, int64_t rsa, const int64_t MR,
                            float *out)
{
#ifdef TL_X86
    if (MR == 4) { pack_a_rows_s_sse(kc, a, rsa, 4, out); return 1; }
    if (MR == 6) { pack_a_rows_s_sse(kc, a, rsa, 6, out); return 1; }
    if (MR == 12) { pack_a_rows_s_sse(kc, a, rsa, 12, out); return 1; }
#endif
    (void)kc; (void)a; (void)rsa; (void)MR; (void)out;
    return 0;
}

TL_INLINE int pack_a_rows_d(int64_t kc, const double *a, int64_t rsa, const int64_t MR,
                            double *out)
{
    (void)kc; (void)a; (void)rsa; (void)MR; (void)out;
    return 0;
}

TL_DEFINE_PACK(float, s)
TL_DEFINE_PACK(double, d)
