/* Direct (implicit-GEMM) convolution micro-kernels, header-only, used by conv.pyx.
 *
 * Design: a tile is P = 6 output pixels x 16 output channels, accumulated in registers
 * (12 AVX2 ymm registers for float32) over every (tap, input channel) pair; nothing is
 * packed per call except the weights, which the caller lays out once as a zero-padded
 * (taps*cin) x ldw matrix (ldw a multiple of 16), so weight loads never need masks.
 *
 *   tile:  s[q, o] = sum_t sum_c x[poff[q] + toff[t] + c] * w[(t*C + c)*ldw + o],
 *          then y[yoff[q] + o] = s + bias[o] (mode 0), max(that, 0) (mode 1) or
 *          y[yoff[q] + o] += s (mode 2), for q < np <= 6 with yoff[q] >= 0, o < no <= 16
 *          (poff holds 6 entries; callers repeat the last pixel when np < 6)
 *   wtile: acc[r*lda + o] += sum_{i<nimg, a<nrows, b<ncols} xk[r][i*xis + a*xrs + b*xcs]
 *                                                       * g[i*gis + a*grs + b*ldg + o]
 *          for r < nk <= 6, o < no <= 16 (g is read with masks past `no`)
 *
 * Float32 has an AVX2+FMA version behind a target attribute (no -march flag needed) and a
 * portable C version; float64 is portable only (it serves gradient checks).
 * tl_conv_simd() is 1 when the AVX2 kernels run: CPU support, unless TENSORLIB_SIMD=ref
 * or tl_conv_set_simd(0) asks for the portable ones.
 */
#ifndef TL_CONV_UKERNELS_H
#define TL_CONV_UKERNELS_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define TL_CP 6    /* pixels per tile */
#define TL_CO 16   /* output channels per tile */

/* --------------------------------------------------------------- portable kernels -- */

#define TL_DEFINE_PORTABLE(T, SFX)                                                       \
static void tl_conv_tile_ref_##SFX(int64_t nt, const int64_t *toff, int64_t C,           \
        const T *x, const int64_t *poff, const T *w, int64_t ldw, T *y,                  \
        const int64_t *yoff, int64_t np, int64_t no, const T *bias, int mode)            \
{                                                                                        \
    T acc[TL_CP][TL_CO];                                                                 \
    int64_t q, o, t, c;                                                                  \
    memset(acc, 0, sizeof(acc));                                                         \
    for (t = 0; t < nt; ++t) {                                                           \
        const T *wt = w + t * C * ldw;                                                   \
        for (c = 0; c < C; ++c) {                                                        \
            const T *wr = wt + c * ldw;                                                  \
            for (q = 0; q < TL_CP; ++q) {                                                \
                const T xv = x[poff[q] + toff[t] + c];                                   \
                for (o = 0; o < TL_CO; ++o) acc[q][o] += xv * wr[o];                     \
            }                                                                            \
        }                                                                                \
    }                                                                                    \
    for (q = 0; q < np; ++q) {                                                           \
        T *yq;                                                                           \
        if (yoff[q] < 0) continue;                                                       \
        yq = y + yoff[q];                                                                \
        for (o = 0; o < no; ++o) {                                                       \
            T v = acc[q][o];                                                             \
            if (mode == 2) { yq[o] += v; continue; }                                     \
            v += bias ? bias[o] : (T)0;                                                  \
            yq[o] = (mode == 1 && v < 0) ? (T)0 : v;                                     \
        }                                                                                \
    }                                                                                    \
}                                                                                        \
static void tl_conv_wtile_ref_##SFX(int64_t nk, const T *const *xk, int64_t nimg,        \
        int64_t xis, int64_t nrows, int64_t xrs, int64_t ncols, int64_t xcs, const T *g, \
        int64_t gis, int64_t grs, int64_t ldg, int64_t no, T *acc, int64_t lda)          \
{                                                                                        \
    T s[TL_CP][TL_CO];                                                                   \
    int64_t i, a, b, r, o;                                                               \
    memset(s, 0, sizeof(s));                                                             \
    for (i = 0; i < nimg; ++i)                                                           \
        for (a = 0; a < nrows; ++a)                                                      \
            for (b = 0; b < ncols; ++b) {                                                \
                const T *gr = g + i * gis + a * grs + b * ldg;                           \
                for (r = 0; r < nk; ++r) {                                               \
                    const T xv = xk[r][i * xis + a * xrs + b * xcs];                     \
                    for (o = 0; o < no; ++o) s[r][o] += xv * gr[o];                      \
                }                                                                        \
            }                                                                            \
    for (r = 0; r < nk; ++r)                                                             \
        for (o = 0; o < no; ++o) acc[r * lda + o] += s[r][o];                            \
}

TL_DEFINE_PORTABLE(float, f32)
TL_DEFINE_PORTABLE(double, f64)

/* ------------------------------------------------------------ AVX2 + FMA, float32 -- */

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define TL_CONV_HAVE_AVX2 1

#define TL_AVX2 __attribute__((target("avx2,fma")))

/* acc pair (A0, A1) += broadcast(*PTR) * (w0, w1). */
#define TL_FMA2(A0, A1, PTR)                                                             \
    do { __m256 xv_ = _mm256_broadcast_ss(PTR);                                          \
         A0 = _mm256_fmadd_ps(xv_, w0, A0); A1 = _mm256_fmadd_ps(xv_, w1, A1); } while (0)

#define TL_ZERO12                                                                        \
    __m256 a00 = _mm256_setzero_ps(), a01 = a00, a10 = a00, a11 = a00, a20 = a00;        \
    __m256 a21 = a00, a30 = a00, a31 = a00, a40 = a00, a41 = a00, a50 = a00, a51 = a00

TL_AVX2 static void tl_conv_tile_avx2_f32(int64_t nt, const int64_t *toff, int64_t C,
        const float *x, const int64_t *poff, const float *w, int64_t ldw, float *y,
        const int64_t *yoff, int64_t np, int64_t no, const float *bias, int mode)
{
    TL_ZERO12;
    const int64_t s1 = poff[1] - poff[0], s2 = poff[2] - poff[0], s3 = poff[3] - poff[0];
    const int64_t s4 = poff[4] - poff[0], s5 = poff[5] - poff[0];
    __m256 r[2 * TL_CP];
    float out[TL_CO];
    int64_t t, c, q, o;
    x += poff[0];
    for (t = 0; t < nt; ++t) {
        const float *p = x + toff[t];
        const float *wr = w + t * C * ldw;
        for (c = 0; c < C; ++c, ++p, wr += ldw) {
            const __m256 w0 = _mm256_loadu_ps(wr), w1 = _mm256_loadu_ps(wr + 8);
            TL_FMA2(a00, a01, p);
            TL_FMA2(a10, a11, p + s1);
            TL_FMA2(a20, a21, p + s2);
            TL_FMA2(a30, a31, p + s3);
            TL_FMA2(a40, a41, p + s4);
            TL_FMA2(a50, a51, p + s5);
        }
    }
    r[0] = a00; r[1] = a01; r[2] = a10; r[3] = a11; r[4] = a20; r[5] = a21;
    r[6] = a30; r[7] = a31; r[8] = a40; r[9] = a41; r[10] = a50; r[11] = a51;
    if (mode != 2) {
        const __m256 z = _mm256_setzero_ps();
        const __m256 b0 = bias ? _mm256_loadu_ps(bias) : z;
        const __m256 b1 = bias ? _mm256_loadu_ps(bias + 8) : z;
        for (q = 0; q < 2 * TL_CP; q += 2) {
            r[q] = _mm256_add_ps(r[q], b0);
            r[q + 1] = _mm256_add_ps(r[q + 1], b1);
            if (mode == 1) {   /* max(0, v) keeps NaN, as np.maximum does */
                r[q] = _mm256_max_ps(z, r[q]);
                r[q + 1] = _mm256_max_ps(z, r[q + 1]);
            }
        }
    }
    for (q = 0; q < np; ++q) {
        float *yq;
        if (yoff[q] < 0) continue;
        yq = y + yoff[q];
        if (no == TL_CO) {
            if (mode == 2) {
                r[2 * q] = _mm256_add_ps(r[2 * q], _mm256_loadu_ps(yq));
                r[2 * q + 1] = _mm256_add_ps(r[2 * q + 1], _mm256_loadu_ps(yq + 8));
            }
            _mm256_storeu_ps(yq, r[2 * q]);
            _mm256_storeu_ps(yq + 8, r[2 * q + 1]);
        } else {
            _mm256_storeu_ps(out, r[2 * q]);
            _mm256_storeu_ps(out + 8, r[2 * q + 1]);
            if (mode == 2) for (o = 0; o < no; ++o) yq[o] += out[o];
            else           for (o = 0; o < no; ++o) yq[o] = out[o];
        }
    }
}

/* One running pointer p (pixel b of row a) plus fixed offsets d1..d5 to the other five
 * x streams: base + index addressing, so the loop has a single induction variable. */
#define TL_WTILE_BODY(LOAD0, LOAD1)                                                      \
    for (i = 0; i < nimg; ++i)                                                           \
    for (a = 0; a < nrows; ++a) {                                                        \
        const float *gr = g + i * gis + a * grs;                                         \
        const float *p = xk[0] + i * xis + a * xrs;                                      \
        for (b = 0; b < ncols; ++b, gr += ldg, p += xcs) {                               \
            const __m256 w0 = LOAD0, w1 = LOAD1;                                         \
            TL_FMA2(a00, a01, p);      TL_FMA2(a10, a11, p + d1);                        \
            TL_FMA2(a20, a21, p + d2); TL_FMA2(a30, a31, p + d3);                        \
            TL_FMA2(a40, a41, p + d4); TL_FMA2(a50, a51, p + d5);                        \
        }                                                                                \
    }

/* xk must hold 6 valid pointers (callers repeat the last one when nk < 6). */
TL_AVX2 static void tl_conv_wtile_avx2_f32(int64_t nk, const float *const *xk,
        int64_t nimg, int64_t xis, int64_t nrows, int64_t xrs, int64_t ncols, int64_t xcs,
        const float *g, int64_t gis, int64_t grs, int64_t ldg, int64_t no, float *acc,
        int64_t lda)
{
    TL_ZERO12;
    const int64_t d1 = xk[1] - xk[0], d2 = xk[2] - xk[0], d3 = xk[3] - xk[0];
    const int64_t d4 = xk[4] - xk[0], d5 = xk[5] - xk[0];
    float s[TL_CP][TL_CO];
    int64_t i, a, b, r, o;
    if (no == TL_CO) {
        TL_WTILE_BODY(_mm256_loadu_ps(gr), _mm256_loadu_ps(gr + 8))
    } else {
        int32_t lanes[TL_CO];
        __m256i m0, m1;
        for (o = 0; o < TL_CO; ++o) lanes[o] = o < no ? -1 : 0;
        m0 = _mm256_loadu_si256((const __m256i *)lanes);
        m1 = _mm256_loadu_si256((const __m256i *)(lanes + 8));
        TL_WTILE_BODY(_mm256_maskload_ps(gr, m0), _mm256_maskload_ps(gr + 8, m1))
    }
    _mm256_storeu_ps(s[0], a00); _mm256_storeu_ps(s[0] + 8, a01);
    _mm256_storeu_ps(s[1], a10); _mm256_storeu_ps(s[1] + 8, a11);
    _mm256_storeu_ps(s[2], a20); _mm256_storeu_ps(s[2] + 8, a21);
    _mm256_storeu_ps(s[3], a30); _mm256_storeu_ps(s[3] + 8, a31);
    _mm256_storeu_ps(s[4], a40); _mm256_storeu_ps(s[4] + 8, a41);
    _mm256_storeu_ps(s[5], a50); _mm256_storeu_ps(s[5] + 8, a51);
    for (r = 0; r < nk; ++r)
        for (o = 0; o < no; ++o) acc[r * lda + o] += s[r][o];
}
#else
#define TL_CONV_HAVE_AVX2 0
#endif

/* ----------------------------------------------------------------------- dispatch -- */

static int tl_conv_simd_req = -1;   /* -1: not decided yet; 0: portable; 1: AVX2 */

static int tl_conv_cpu_avx2(void)
{
#if TL_CONV_HAVE_AVX2
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

/* Use the AVX2 kernels (1) or the portable ones (0); a negative value returns to the
 * default (CPU support, unless TENSORLIB_SIMD=ref). Returns the resulting setting. */
static int tl_conv_set_simd(int on)
{
    if (on < 0) {
        const char *env = getenv("TENSORLIB_SIMD");
        on = !(env && (env[0] == 'r' || env[0] == 'R'));
    }
    tl_conv_simd_req = on && tl_conv_cpu_avx2();
    return tl_conv_simd_req;
}

static inline int tl_conv_simd(void)
{
    if (tl_conv_simd_req < 0) tl_conv_set_simd(-1);
    return tl_conv_simd_req;
}

static inline void tl_conv_tile_f32(int64_t nt, const int64_t *toff, int64_t C,
        const float *x, const int64_t *poff, const float *w, int64_t ldw, float *y,
        const int64_t *yoff, int64_t np, int64_t no, const float *bias, int mode)
{
#if TL_CONV_HAVE_AVX2
    if (tl_conv_simd_req == 1) {
        tl_conv_tile_avx2_f32(nt, toff, C, x, poff, w, ldw, y, yoff, np, no, bias, mode);
        return;
    }
#endif
    tl_conv_tile_ref_f32(nt, toff, C, x, poff, w, ldw, y, yoff, np, no, bias, mode);
}

static inline void tl_conv_wtile_f32(int64_t nk, const float *const *xk, int64_t nimg,
        int64_t xis, int64_t nrows, int64_t xrs, int64_t ncols, int64_t xcs,
        const float *g, int64_t gis, int64_t grs, int64_t ldg, int64_t no, float *acc,
        int64_t lda)
{
#if TL_CONV_HAVE_AVX2
    if (tl_conv_simd_req == 1) {
        tl_conv_wtile_avx2_f32(nk, xk, nimg, xis, nrows, xrs, ncols, xcs, g, gis, grs, ldg,
                               no, acc, lda);
        return;
    }
#endif
    tl_conv_wtile_ref_f32(nk, xk, nimg, xis, nrows, xrs, ncols, xcs, g, gis, grs, ldg, no,
                          acc, lda);
}

#define tl_conv_tile_f64 tl_conv_tile_ref_f64
#define tl_conv_wtile_f64 tl_conv_wtile_ref_f64

#endif
