/* Max-pooling window kernel (float32, NHWC), header-only, used by pool.pyx.
 *
 *   for c < C: y[c] = max over the window of x[h*rs + w*cs + c] (h < nh, w < nw), and
 *              a[c] = k0 + h*W + w of the first max (strictly greater wins, so ties keep
 *              the first; the first NaN wins and stays: NaN propagates as in np.max);
 *              an empty window (nh or nw 0) gives y = -inf, a = -1.
 *
 * The running max and its index stay in registers over the whole window, one vector of
 * channels at a time, and are stored once (the previous form loaded and stored y and a at
 * every window element). One source in GCC generic vectors, built for three widths: 4
 * lanes (SSE2, the x86-64 baseline; or any target), 8 with AVX2 and 16 with AVX-512F; the
 * 16-lane source is also built for AVX2 as the testing level TL_SIMD_AVX512_EMU. The
 * caller passes the SIMD level of the one dispatcher (cpu_features.c).
 */
#ifndef TL_POOL_UKERNELS_H
#define TL_POOL_UKERNELS_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#define TL_MAXPOOL_BODY(L)                                                               \
    typedef float vf __attribute__((vector_size(4 * (L))));                             \
    typedef int32_t vi __attribute__((vector_size(4 * (L))));                           \
    int64_t c = 0, h, w;                                                                 \
    const int32_t first = (nh > 0 && nw > 0) ? k0 : -1;                                  \
    for (; c + (L) <= C; c += (L)) {                                                     \
        vf m, v;                                                                         \
        vi idx, sel;                                                                     \
        int j;                                                                           \
        for (j = 0; j < (L); ++j) { m[j] = -INFINITY; idx[j] = first; }                  \
        for (h = 0; h < nh; ++h)                                                         \
            for (w = 0; w < nw; ++w) {                                                   \
                const vi kv = (vi){0} + (int32_t)(k0 + h * W + w);                       \
                memcpy(&v, x + h * rs + w * cs + c, sizeof(v));                          \
                sel = (v > m) | ((v != v) & (m == m));                                   \
                m = (vf)(((vi)v & sel) | ((vi)m & ~sel));                                \
                idx = (kv & sel) | (idx & ~sel);                                         \
            }                                                                            \
        memcpy(y + c, &m, sizeof(m));                                                    \
        memcpy(a + c, &idx, sizeof(idx));                                                \
    }                                                                                    \
    for (; c < C; ++c) {                                                                 \
        float mv = -INFINITY;                                                            \
        int32_t iv = first;                                                              \
        for (h = 0; h < nh; ++h)                                                         \
            for (w = 0; w < nw; ++w) {                                                   \
                const float xv = x[h * rs + w * cs + c];                                 \
                if (xv > mv || (xv != xv && mv == mv)) {                                 \
                    mv = xv;                                                             \
                    iv = (int32_t)(k0 + h * W + w);                                      \
                }                                                                        \
            }                                                                            \
        y[c] = mv;                                                                       \
        a[c] = iv;                                                                       \
    }

#define TL_MAXPOOL_ARGS const float *x, int64_t rs, int64_t cs, int64_t nh, int64_t nw,  \
                        int64_t k0, int64_t W, float *y, int32_t *a, int64_t C

static void tl_maxpool_px4(TL_MAXPOOL_ARGS) { TL_MAXPOOL_BODY(4) }

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define TL_POOL_HAVE_X86 1
__attribute__((target("avx2"))) static void tl_maxpool_px8(TL_MAXPOOL_ARGS)
{ TL_MAXPOOL_BODY(8) }
__attribute__((target("avx512f,avx2"))) static void tl_maxpool_px16(TL_MAXPOOL_ARGS)
{ TL_MAXPOOL_BODY(16) }
__attribute__((target("avx2"))) static void tl_maxpool_px16emu(TL_MAXPOOL_ARGS)
{ TL_MAXPOOL_BODY(16) }
#else
#define TL_POOL_HAVE_X86 0
#endif

/* One output pixel at SIMD level `level` (0 ref, 1 AVX2, 2 AVX-512F, 3 emulated). */
static inline void tl_maxpool_pixel_f32(int level, TL_MAXPOOL_ARGS)
{
#if TL_POOL_HAVE_X86
    if (level == 2) { tl_maxpool_px16(x, rs, cs, nh, nw, k0, W, y, a, C); return; }
    if (level == 3) { tl_maxpool_px16emu(x, rs, cs, nh, nw, k0, W, y, a, C); return; }
    if (level == 1) { tl_maxpool_px8(x, rs, cs, nh, nw, k0, W, y, a, C); return; }
#endif
    (void)level;
    tl_maxpool_px4(x, rs, cs, nh, nw, k0, W, y, a, C);
}

#endif
