/* An ordered task list run by a team of threads (the GEMM driver's synchronisation).
 *
 * Protocol. The tasks of one call are numbered 0 .. n-1. Every thread of the team loops:
 *     t = tl_tasks_claim(&next); if (t >= n) break; run task t;
 * tl_tasks_claim is one atomic fetch-add on a shared counter, so tasks are claimed in
 * increasing index order and each exactly once, whatever the OpenMP runtime (libgomp,
 * libomp, ...) and whatever order its schedule(dynamic) would hand chunks out in: the
 * driver no longer uses an OpenMP worksharing loop at all. The thread that claims a task
 * runs it to completion.
 * A task that produces data for later tasks publishes it with tl_tasks_done on a counter
 * after its last write (atomic increment, RELEASE); a task that needs that data calls
 * tl_tasks_wait(counter, target) before its first read (ACQUIRE loads until the counter
 * reaches target), so every write of the producers happens-before every read of the
 * consumer (C11 / GCC __atomic memory model). The same pairing orders a producer after
 * the last readers of a buffer it is about to overwrite (write-after-read).
 *
 * Invariant (the task plan must keep it): a task waits only for tasks of LOWER index.
 * Then the team always finishes, for any team size >= 1: let t be the lowest-numbered
 * claimed but unfinished task. Every task t waits for has a lower index, so it has been
 * claimed (claims are in index order and t is claimed) and, t being the lowest
 * unfinished one, has finished: t's waits all succeed and t completes. By induction all
 * claimed tasks complete, and every task is eventually claimed. (With a runtime-defined
 * dynamic schedule, a thread could hold task t while a task t waits for was never handed
 * out, and with every thread so blocked the call would hang.)
 *
 * Waiting spins briefly, then yields the CPU, so a descheduled producer sharing this core
 * can run (OpenMP barriers spin without yielding, which collapses on a busy machine).
 * tl_tasks_leave is the team's join: each thread counts itself out and waits, yielding,
 * until the whole team has (so the region's closing barrier finds nobody left to wait for).
 */
#ifndef TL_TASKS_H
#define TL_TASKS_H

#include <stdint.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#if defined(_WIN32)
#include <windows.h>
#define TL_YIELD() SwitchToThread()
#else
#include <sched.h>
#define TL_YIELD() sched_yield()
#endif

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define TL_RELAX() _mm_pause()
#else
#define TL_RELAX() ((void)0)
#endif

#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
/* x86-64 MSVC: interlocked operations are full barriers; volatile loads are acquire. */
static inline int64_t tl_tasks_claim(int64_t *next)
{
    return _InterlockedExchangeAdd64((volatile __int64 *)next, 1);
}
static inline void tl_tasks_done(int64_t *counter)
{
    _InterlockedIncrement64((volatile __int64 *)counter);
}
static inline int64_t tl_tasks_load(int64_t *counter)
{
    return *(volatile int64_t *)counter;
}
#else
/* The claim only has to be atomic: data is ordered by the done counters. */
static inline int64_t tl_tasks_claim(int64_t *next)
{
    return __atomic_fetch_add(next, 1, __ATOMIC_RELAXED);
}
static inline void tl_tasks_done(int64_t *counter)
{
    __atomic_add_fetch(counter, 1, __ATOMIC_RELEASE);
}
static inline int64_t tl_tasks_load(int64_t *counter)
{
    return __atomic_load_n(counter, __ATOMIC_ACQUIRE);
}
#endif

static inline void tl_tasks_wait(int64_t *counter, int64_t target)
{
    int spins = 0;
    while (tl_tasks_load(counter) < target) {
        if (++spins < 256)
            TL_RELAX();
        else
            TL_YIELD();
    }
}

static inline void tl_tasks_leave(int64_t *arrived)
{
#ifdef _OPENMP
    tl_tasks_done(arrived);
    tl_tasks_wait(arrived, omp_get_num_threads());
#else
    (void)arrived;
#endif
}

#endif
