/* Direct (implicit-GEMM) convolution micro-kernels, header-only, used by conv.pyx.
 *
 * Design: a tile is P output pixels x CO output channels, accumulated in registers over
 * every (tap, input channel) pair; nothing is packed per call except the weights, which
 * the caller lays out once as a zero-padded (taps*cin) x ldw matrix (ldw a multiple of
 * CO), so weight loads never need masks. P x CO is 6 x 16 (12 AVX2 ymm accumulators, or
 * the portable C loops) and 12 x 32 with AVX-512 (24 zmm accumulators: two weight loads
 * and twelve broadcasts feed 24 FMAs, which keeps the weight stream from L2 at half the
 * 6 x 32 tile's rate; measured 1.4-1.7x the AVX2 tile on the seed convnet's layers).
 * The 12 x 32 tiles are written once in generic vectors and also built for AVX2 + FMA,
 * so that a machine without AVX-512 can test them (level TL_SIMD_AVX512_EMU).
 *
 *   tile:  s[q, o] = sum_t sum_c x[poff[q] + toff[t] + c] * w[(t*C + c)*ldw + o],
 *          then y[yoff[q] + o] = s + bias[o] (mode 0), max(that, 0) (mode 1) or
 *          y[yoff[q] + o] += s (mode 2), for q < np <= P with yoff[q] >= 0, o < no <= CO
 *          (poff holds P entries; callers repeat the last pixel when np < P)
 *   wtile: acc[r*lda + o] += sum_{i<nimg, a<nrows, b<ncols} xk[r][i*xis + a*xrs + b*xcs]
 *                                                       * g[i*gis + a*grs + b*ldg + o]
 *          for r < nk <= P, o < no <= CO, ldg >= no (g is read only from each row's first
 *          element to its last, g[i*gis + a*grs + (ncols - 1)*ldg + no - 1])
 *
 * Float32 has AVX2+FMA and AVX-512F versions behind target attributes (no -march flag
 * needed) and a portable C version; float64 is portable only (it serves gradient checks).
 * The level comes from cpu_features.c, the one dispatcher of every kernel module (the
 * caller reads it once per call and passes it to each tile with tl_conv_co / tl_conv_cp).
 * No tile reads or writes y or g past a row's last valid element (only w and bias are
 * padded).
 */
#ifndef TL_CONV_UKERNELS_H
#define TL_CONV_UKERNELS_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_features.h"

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

/* ------------------------------------ 12 x 32 tiles, float32: AVX-512F and emulated -- */

/* One source in GCC / Clang generic vectors of 16 floats, instantiated twice: for
 * AVX-512F (a vector is one zmm) and for AVX2 + FMA (a vector is two ymm, with spills):
 * the latter, level TL_SIMD_AVX512_EMU, is a testing hook that runs the AVX-512 tiles'
 * code, tiling and summation order on a machine without AVX-512. No masks: a full
 * 32-channel block is loaded and stored as whole vectors; a partial one (no < 32) writes
 * y lane by lane past its first 16 channels, and the weight-gradient tile reads the last
 * columns of a g row through a zero-padded copy. */

#if TL_CONV_HAVE_AVX2
#define TL_CONV_HAVE_AVX512 1
#define TL_AVX512 __attribute__((target("avx512f,avx2,fma")))
#define TL_CONV_BODY static inline __attribute__((always_inline))
#define TL_CP512 12   /* pixels (or weight-gradient rows) per 12 x 32 tile */
#define TL_CO512 32   /* output channels per 12 x 32 tile */

typedef float tl_cv16 __attribute__((vector_size(64)));
typedef float tl_cv16u __attribute__((vector_size(64), aligned(4), may_alias));
typedef int32_t tl_cv16i __attribute__((vector_size(64)));
#define TL_LOADU(P) ((tl_cv16)*(const tl_cv16u *)(P))

/* Twelve statements M(0) .. M(11): the register tile unrolled without compiler pragmas. */
#define TL_REP12(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7) M(8) M(9) M(10) M(11)

/* tile with 12 pixels x 32 output channels (24 vector accumulators): as the 6 x 16 tile,
 * with poff / yoff holding 12 entries, np <= 12, no <= 32, w rows of >= 32 floats (ldw a
 * multiple of 32) and so does bias when given. */
TL_CONV_BODY void tl_conv_tile12x32_body(int64_t nt, const int64_t *toff, int64_t C,
        const float *x, const int64_t *poff, const float *w, int64_t ldw, float *y,
        const int64_t *yoff, int64_t np, int64_t no, const float *bias, int mode)
{
#define TL_DECL(Q) tl_cv16 a##Q##0 = z, a##Q##1 = z; const int64_t s##Q = poff[Q] - poff[0];
#define TL_STEP(Q) { const float xv = p[s##Q]; a##Q##0 += xv * v0; a##Q##1 += xv * v1; }
/* Pixel Q's epilogue, on its two accumulators: + bias, then max(0, v) keeping NaN (as
 * np.maximum does) in mode 1; or += y in mode 2 (y is read only where it is written). */
#define TL_OUT(Q)                                                                        \
    if (Q < np && yoff[Q] >= 0) {                                                        \
        float *yq = y + yoff[Q];                                                         \
        if (mode != 2) {                                                                 \
            a##Q##0 += b0; a##Q##1 += b1;                                                \
            if (mode == 1) {                                                             \
                a##Q##0 = (tl_cv16)((tl_cv16i)a##Q##0 & ~(a##Q##0 < z));                 \
                a##Q##1 = (tl_cv16)((tl_cv16i)a##Q##1 & ~(a##Q##1 < z));                 \
            }                                                                            \
        }                                                                                \
        if (no == TL_CO512) {                                                            \
            if (mode == 2) { a##Q##0 += TL_LOADU(yq); a##Q##1 += TL_LOADU(yq + 16); }    \
            *(tl_cv16u *)yq = a##Q##0;                                                   \
            *(tl_cv16u *)(yq + 16) = a##Q##1;                                            \
        } else {                  /* lanes o < no only; the first 16 as a vector */      \
            o = 0;                                                                       \
            if (no >= 16) {                                                              \
                if (mode == 2) a##Q##0 += TL_LOADU(yq);                                  \
                *(tl_cv16u *)yq = a##Q##0;                                               \
                o = 16;                                                                  \
            }                                                                            \
            part[0] = a##Q##0; part[1] = a##Q##1;                                        \
            if (mode == 2) for (; o < no; ++o) yq[o] += part[o >> 4][o & 15];            \
            else           for (; o < no; ++o) yq[o] = part[o >> 4][o & 15];             \
        }                                                                                \
    }
    const tl_cv16 z = {0};
    TL_REP12(TL_DECL)
    tl_cv16 b0 = z, b1 = z, part[2];
    int64_t t, c, o;
    x += poff[0];
    for (t = 0; t < nt; ++t) {
        const float *p = x + toff[t];
        const float *wr = w + t * C * ldw;
        for (c = 0; c < C; ++c, ++p, wr += ldw) {
            const tl_cv16 v0 = TL_LOADU(wr), v1 = TL_LOADU(wr + 16);
            TL_REP12(TL_STEP)
        }
    }
    if (mode != 2 && bias) {
        b0 = TL_LOADU(bias);
        b1 = TL_LOADU(bias + 16);
    }
    TL_REP12(TL_OUT)
#undef TL_DECL
#undef TL_STEP
#undef TL_OUT
}

/* wtile with 12 rows x 32 output channels: xk holds 12 valid pointers (callers repeat
 * the last one when nk < 12); g rows hold `no` (<= 32) valid channels at stride ldg >= no.
 * A partial block (no < 32) still loads whole vectors: lanes past `no` then hold other
 * channels of the same g row, whose sums are never stored. Only the last columns of a
 * row, where a vector would pass the row's last element, are loaded from a zero-padded
 * copy, made before the row's other columns so that its stores have retired by then. */
TL_CONV_BODY void tl_conv_wtile12x32_body(int64_t nk, const float *const *xk,
        int64_t nimg, int64_t xis, int64_t nrows, int64_t xrs, int64_t ncols, int64_t xcs,
        const float *g, int64_t gis, int64_t grs, int64_t ldg, int64_t no, float *acc,
        int64_t lda)
{
#define TL_DECL(Q) tl_cv16 a##Q##0 = z, a##Q##1 = z; const int64_t d##Q = xk[Q] - xk[0];
#define TL_STEP(Q) { const float xv = p[d##Q]; a##Q##0 += xv * v0; a##Q##1 += xv * v1; }
#define TL_SAVE(Q) s[2 * Q] = a##Q##0; s[2 * Q + 1] = a##Q##1;
    const tl_cv16 z = {0};
    TL_REP12(TL_DECL)
    tl_cv16 s[2 * TL_CP512];
    float gpad[TL_CO512 * TL_CO512];   /* up to 32 tail columns, zero past `no` */
    /* columns b < nwhole: g[b*ldg .. b*ldg + 32) lies within the row, whose last element
     * is g[(ncols - 1)*ldg + no - 1]; the other ncols - nwhole, copied ntail at a time */
    const int64_t back = no == TL_CO512 ? 0
                       : ldg > 0 ? (TL_CO512 - no + ldg - 1) / ldg : ncols;
    const int64_t nwhole = ncols > back ? ncols - back : 0;
    const int64_t ntail = ncols - nwhole < TL_CO512 ? ncols - nwhole : TL_CO512;
    int64_t i, a, b, k, nb, r, o;
    if (ntail > 0)
        memset(gpad, 0, (size_t)ntail * TL_CO512 * sizeof(gpad[0]));
    for (i = 0; i < nimg; ++i)
    for (a = 0; a < nrows; ++a) {
        const float *grow = g + i * gis + a * grs, *gr = grow;
        const float *p = xk[0] + i * xis + a * xrs;
        for (k = 0; k < ntail; ++k)
            memcpy(gpad + k * TL_CO512, grow + (nwhole + k) * ldg, (size_t)no * sizeof(*g));
        for (b = 0; b < nwhole; ++b, gr += ldg, p += xcs) {
            const tl_cv16 v0 = TL_LOADU(gr), v1 = TL_LOADU(gr + 16);
            TL_REP12(TL_STEP)
        }
        for (b = nwhole; b < ncols; b += nb) {
            nb = ncols - b < ntail ? ncols - b : ntail;
            for (k = 0; k < nb && b > nwhole; ++k)   /* more than 32 tail columns */
                memcpy(gpad + k * TL_CO512, grow + (b + k) * ldg, (size_t)no * sizeof(*g));
            for (k = 0; k < nb; ++k, p += xcs) {
                const tl_cv16 v0 = TL_LOADU(gpad + k * TL_CO512);
                const tl_cv16 v1 = TL_LOADU(gpad + k * TL_CO512 + 16);
                TL_REP12(TL_STEP)
            }
        }
    }
    TL_REP12(TL_SAVE)
#undef TL_DECL
#undef TL_STEP
#undef TL_SAVE
    for (r = 0; r < nk; ++r) {
        float *ar = acc + r * lda;
        if (no == TL_CO512) {
            *(tl_cv16u *)ar = TL_LOADU(ar) + s[2 * r];
            *(tl_cv16u *)(ar + 16) = TL_LOADU(ar + 16) + s[2 * r + 1];
        } else {
            for (o = 0; o < no; ++o) ar[o] += s[2 * r + (o >> 4)][o & 15];
        }
    }
}

#define TL_CONV_TILE_ARGS int64_t nt, const int64_t *toff, int64_t C, const float *x,     \
        const int64_t *poff, const float *w, int64_t ldw, float *y, const int64_t *yoff,  \
        int64_t np, int64_t no, const float *bias, int mode
#define TL_CONV_WTILE_ARGS int64_t nk, const float *const *xk, int64_t nimg, int64_t xis, \
        int64_t nrows, int64_t xrs, int64_t ncols, int64_t xcs, const float *g,           \
        int64_t gis, int64_t grs, int64_t ldg, int64_t no, float *acc, int64_t lda

TL_AVX512 static void tl_conv_tile_avx512_f32(TL_CONV_TILE_ARGS)
{
    tl_conv_tile12x32_body(nt, toff, C, x, poff, w, ldw, y, yoff, np, no, bias, mode);
}

TL_AVX512 static void tl_conv_wtile_avx512_f32(TL_CONV_WTILE_ARGS)
{
    tl_conv_wtile12x32_body(nk, xk, nimg, xis, nrows, xrs, ncols, xcs, g, gis, grs, ldg, no,
                            acc, lda);
}

/* Testing hook (TL_SIMD_AVX512_EMU): the same two bodies compiled for AVX2 + FMA. */
TL_AVX2 static void tl_conv_tile_avx512emu_f32(TL_CONV_TILE_ARGS)
{
    tl_conv_tile12x32_body(nt, toff, C, x, poff, w, ldw, y, yoff, np, no, bias, mode);
}

TL_AVX2 static void tl_conv_wtile_avx512emu_f32(TL_CONV_WTILE_ARGS)
{
    tl_conv_wtile12x32_body(nk, xk, nimg, xis, nrows, xrs, ncols, xcs, g, gis, grs, ldg, no,
                            acc, lda);
}
#else
#define TL_CONV_HAVE_AVX512 0
#endif

/* ----------------------------------------------------------------------- dispatch -- */

/* The caller reads the SIMD level once per call (tl_simd_kernel_level() of
 * cpu_features.c, the one dispatcher of every kernel module) and passes it to every tile
 * of that call, with the channel block tl_conv_co(level) that its loops and weight
 * packing use. */

#define TL_CP_MAX 12   /* the most pixels (rows) any tile takes: poff / yoff / xk sizes */

/* Output channels and pixels per float32 tile at this SIMD level (float64: TL_CO, TL_CP);
 * 32 and 12 for the AVX-512 tiles, real or emulated. */
static inline int64_t tl_conv_co(int level)
{
    return (TL_CONV_HAVE_AVX512 && level >= TL_SIMD_AVX512) ? 2 * TL_CO : TL_CO;
}

static inline int64_t tl_conv_cp(int level)
{
    return (TL_CONV_HAVE_AVX512 && level >= TL_SIMD_AVX512) ? 12 : TL_CP;
}

static inline void tl_conv_tile_f32(int level, int64_t nt, const int64_t *toff, int64_t C,
        const float *x, const int64_t *poff, const float *w, int64_t ldw, float *y,
        const int64_t *yoff, int64_t np, int64_t no, const float *bias, int mode)
{
#if TL_CONV_HAVE_AVX512
    if (level == TL_SIMD_AVX512_EMU) {
        tl_conv_tile_avx512emu_f32(nt, toff, C, x, poff, w, ldw, y, yoff, np, no, bias,
                                   mode);
        return;
    }
    if (level == TL_SIMD_AVX512) {
        tl_conv_tile_avx512_f32(nt, toff, C, x, poff, w, ldw, y, yoff, np, no, bias, mode);
        return;
    }
#endif
#if TL_CONV_HAVE_AVX2
    if (level == TL_SIMD_AVX2) {
        tl_conv_tile_avx2_f32(nt, toff, C, x, poff, w, ldw, y, yoff, np, no, bias, mode);
        return;
    }
#endif
    tl_conv_tile_ref_f32(nt, toff, C, x, poff, w, ldw, y, yoff, np, no, bias, mode);
}

static inline void tl_conv_wtile_f32(int level, int64_t nk, const float *const *xk,
        int64_t nimg, int64_t xis, int64_t nrows, int64_t xrs, int64_t ncols, int64_t xcs,
        const float *g, int64_t gis, int64_t grs, int64_t ldg, int64_t no, float *acc,
        int64_t lda)
{
#if TL_CONV_HAVE_AVX512
    if (level == TL_SIMD_AVX512_EMU) {
        tl_conv_wtile_avx512emu_f32(nk, xk, nimg, xis, nrows, xrs, ncols, xcs, g, gis, grs,
                                    ldg, no, acc, lda);
        return;
    }
    if (level == TL_SIMD_AVX512) {
        tl_conv_wtile_avx512_f32(nk, xk, nimg, xis, nrows, xrs, ncols, xcs, g, gis, grs, ldg,
                                 no, acc, lda);
        return;
    }
#endif
#if TL_CONV_HAVE_AVX2
    if (level == TL_SIMD_AVX2) {
        tl_conv_wtile_avx2_f32(nk, xk, nimg, xis, nrows, xrs, ncols, xcs, g, gis, grs, ldg,
                               no, acc, lda);
        return;
    }
#endif
    tl_conv_wtile_ref_f32(nk, xk, nimg, xis, nrows, xrs, ncols, xcs, g, gis, grs, ldg, no,
                          acc, lda);
}

#define tl_conv_tile_f64(level, ...) tl_conv_tile_ref_f64(__VA_ARGS__)
#define tl_conv_wtile_f64(level, ...) tl_conv_wtile_ref_f64(__VA_ARGS__)

#endif
