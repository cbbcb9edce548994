/* Thread-count clamp and OpenMP build probes shared by every kernel module.
 *
 * TL_MAX_THREADS is the hard upper bound of any parallel region a kernel opens: the
 * Python layer (tensorlib._threads.MAX_THREADS, the same value) refuses larger counts,
 * and the kernels clamp again so that no caller can hand OpenMP an absurd team size
 * (libgomp crashes creating ~100000 threads). tl_openmp_enabled() says whether this
 * translation unit was compiled with OpenMP; tl_team_size(n) opens a parallel region
 * of n threads and returns how many threads actually ran it.
 */
#ifndef TL_THREADS_H
#define TL_THREADS_H

#ifdef _OPENMP
#include <omp.h>
#endif

#define TL_MAX_THREADS 1024

static inline int tl_clamp_threads(int n)
{
    return n < 1 ? 1 : (n > TL_MAX_THREADS ? TL_MAX_THREADS : n);
}

static inline int tl_openmp_enabled(void)
{
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

static int tl_team_size(int n)
{
    int ran = 0;
    n = tl_clamp_threads(n);
#ifdef _OPENMP
    #pragma omp parallel num_threads(n)
    {
        #pragma omp atomic
        ran += 1;
    }
#else
    (void)n;
    ran = 1;
#endif
    return ran;
}

#endif
