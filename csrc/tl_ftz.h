/* Flush-to-zero / denormals-are-zero for the duration of a kernel.
 *
 * MXCSR is per thread, so every OpenMP thread that runs float work calls
 * tl_ftz_enter() at the start of its region and tl_ftz_leave() at the end.
 * On non-x86 targets both are no-ops.
 */
#ifndef TL_FTZ_H
#define TL_FTZ_H

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#include <xmmintrin.h>
static inline unsigned int tl_ftz_enter(void) {
    unsigned int old = _mm_getcsr();
    _mm_setcsr(old | 0x8040u); /* FTZ (bit 15) | DAZ (bit 6) */
    return old;
}
static inline void tl_ftz_leave(unsigned int old) { _mm_setcsr(old); }
#else
static inline unsigned int tl_ftz_enter(void) { return 0u; }
static inline void tl_ftz_leave(unsigned int old) { (void)old; }
#endif

#endif
