/* Run-time SIMD level detection (see cpu_features.h for the contract).
 *
 * The probe and the env var are read lazily on first use; both are idempotent, so a
 * race between two first callers only repeats the same work.
 */
#include "cpu_features.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static int g_cpu_level = -1;      /* probed hardware level, -1 = not yet */
static int g_requested = -1;      /* tl_simd_set_level() request, -1 = none */
static int g_env_level = -2;      /* parsed TENSORLIB_SIMD, -1 = unset/invalid, -2 = not read */
static int g_emulate_avx512 = 0;  /* tl_simd_set_emulate_avx512() */

static int probe_cpu(void)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    /* libgcc / compiler-rt also check XCR0 (OS support for ymm/zmm state). */
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2")
        && __builtin_cpu_supports("fma"))
        return TL_SIMD_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return TL_SIMD_AVX2;
#endif
    return TL_SIMD_REF;
}

int tl_cpu_simd_level(void)
{
    if (g_cpu_level < 0)
        g_cpu_level = probe_cpu();
    return g_cpu_level;
}

int tl_simd_parse_level(const char *name)
{
    char buf[16];
    size_t i, n;
    if (name == NULL)
        return -1;
    while (isspace((unsigned char)*name))
        name++;
    n = strlen(name);
    while (n > 0 && isspace((unsigned char)name[n - 1]))
        n--;
    if (n == 0 || n >= sizeof(buf))
        return -1;
    for (i = 0; i < n; i++)
        buf[i] = (char)tolower((unsigned char)name[i]);
    buf[n] = '\0';
    if (strcmp(buf, "ref") == 0 || strcmp(buf, "c") == 0 || strcmp(buf, "generic") == 0)
        return TL_SIMD_REF;
    if (strcmp(buf, "avx2") == 0)
        return TL_SIMD_AVX2;
    if (strcmp(buf, "avx512") == 0 || strcmp(buf, "avx512f") == 0)
        return TL_SIMD_AVX512;
    return -1;
}

static int env_level(void)
{
    if (g_env_level == -2)
        g_env_level = tl_simd_parse_level(getenv("TENSORLIB_SIMD"));
    return g_env_level;
}

int tl_simd_level(void)
{
    int hw = tl_cpu_simd_level();
    int want = g_requested >= 0 ? g_requested : env_level();
    if (want < 0 || want > hw)
        return hw;
    return want;
}

int tl_simd_set_level(int level)
{
    g_requested = level < 0 ? -1 : (level > TL_SIMD_AVX512 ? TL_SIMD_AVX512 : level);
    return tl_simd_level();
}

int tl_simd_set_emulate_avx512(int on)
{
    g_emulate_avx512 = (on && tl_cpu_simd_level() >= TL_SIMD_AVX2) ? 1 : 0;
    return g_emulate_avx512;
}

int tl_simd_kernel_level(void)
{
    return g_emulate_avx512 ? TL_SIMD_AVX512_EMU : tl_simd_level();
}

const char *tl_simd_level_name(int level)
{
    switch (level) {
    case TL_SIMD_REF: return "ref";
    case TL_SIMD_AVX2: return "avx2";
    case TL_SIMD_AVX512: return "avx512";
    case TL_SIMD_AVX512_EMU: return "avx512-emu";
    default: return "?";
    }
}
