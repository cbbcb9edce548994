/* A caching allocator for NumPy array data (NumPy's NEP 49 handler), used while a model
 * trains or predicts so that the same large temporaries, allocated and freed at every
 * step, reuse the same memory instead of going back to the operating system and being
 * faulted in again (glibc returns large freed blocks with munmap or trims its heap,
 * depending on thresholds that move with the allocation history).
 *
 * Every block carries a 64-byte header {magic, capacity, large}. Blocks below
 * TL_CACHE_MIN bytes are plain malloc/free. Larger ones are 64-byte aligned, their
 * capacity rounded up to TL_CACHE_GRAIN, and, while at least one caching scope is open,
 * kept on a free list when freed (at most TL_CACHE_SLOTS blocks and TL_CACHE_MAX bytes;
 * a request takes the smallest cached block that holds it with at most 1/4 waste). When
 * the last scope closes the cached blocks are freed; blocks freed later go straight back
 * to the system. All entry points take one spin lock (NumPy calls them with the GIL held,
 * but nothing requires it).
 */
#ifndef TL_CACHE_ALLOC_H
#define TL_CACHE_ALLOC_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define TL_CACHE_MIN ((size_t)1 << 18)     /* 256 KiB */
#define TL_CACHE_GRAIN ((size_t)1 << 16)   /* 64 KiB */
#define TL_CACHE_SLOTS 128
#define TL_CACHE_MAX ((size_t)1 << 31)     /* 2 GiB */
#define TL_HDR 64
#define TL_MAGIC 0x746c636163686531ULL

typedef struct { uint64_t magic, cap, large, pad[5]; } tl_hdr;

static struct {
    volatile int lock;
    int64_t scopes;
    int64_t n;                        /* cached blocks */
    void *blk[TL_CACHE_SLOTS];        /* raw pointers (header first) */
    size_t cap[TL_CACHE_SLOTS];
    size_t cached_bytes;
    int64_t hits, misses, frees_cached, frees_system;
} tl_cache;

#if defined(_MSC_VER)
#include <intrin.h>
static void tl_lock(void) { while (_InterlockedExchange((volatile long *)&tl_cache.lock, 1)) ; }
static void tl_unlock(void) { _InterlockedExchange((volatile long *)&tl_cache.lock, 0); }
#else
static void tl_lock(void) { while (__atomic_exchange_n(&tl_cache.lock, 1, __ATOMIC_ACQUIRE)) ; }
static void tl_unlock(void) { __atomic_store_n(&tl_cache.lock, 0, __ATOMIC_RELEASE); }
#endif

static void *tl_raw_large(size_t cap)
{
#if defined(_MSC_VER)
    return _aligned_malloc(cap + TL_HDR, 64);
#else
    void *p = NULL;
    return posix_memalign(&p, 64, cap + TL_HDR) == 0 ? p : NULL;
#endif
}

static void tl_raw_free(void *raw, int large)
{
#if defined(_MSC_VER)
    if (large) { _aligned_free(raw); return; }
#endif
    (void)large;
    free(raw);
}

/* The user pointer of a raw block after writing its header. */
static void *tl_ready(void *raw, size_t cap, int large)
{
    tl_hdr *h = (tl_hdr *)raw;
    if (raw == NULL) return NULL;
    h->magic = TL_MAGIC;
    h->cap = cap;
    h->large = (uint64_t)large;
    return (char *)raw + TL_HDR;
}

static void *tl_cache_malloc(void *ctx, size_t size)
{
    size_t cap;
    int64_t i, best = -1;
    void *raw;
    (void)ctx;
    if (size > SIZE_MAX - TL_HDR - TL_CACHE_GRAIN) return NULL;
    if (size < TL_CACHE_MIN)
        return tl_ready(malloc(size + TL_HDR), size, 0);
    cap = (size + TL_CACHE_GRAIN - 1) / TL_CACHE_GRAIN * TL_CACHE_GRAIN;
    tl_lock();
    for (i = 0; i < tl_cache.n; ++i)
        if (tl_cache.cap[i] >= cap && tl_cache.cap[i] - cap <= cap / 4
                && (best < 0 || tl_cache.cap[i] < tl_cache.cap[best]))
            best = i;
    if (best >= 0) {
        raw = tl_cache.blk[best];
        cap = tl_cache.cap[best];
        tl_cache.n--;
        tl_cache.blk[best] = tl_cache.blk[tl_cache.n];
        tl_cache.cap[best] = tl_cache.cap[tl_cache.n];
        tl_cache.cached_bytes -= cap;
        tl_cache.hits++;
        tl_unlock();
        return tl_ready(raw, cap, 1);
    }
    tl_cache.misses++;
    tl_unlock();
    return tl_ready(tl_raw_large(cap), cap, 1);
}

static void *tl_cache_calloc(void *ctx, size_t nelem, size_t elsize)
{
    void *p;
    if (elsize != 0 && nelem > SIZE_MAX / elsize) return NULL;
    p = tl_cache_malloc(ctx, nelem * elsize);
    if (p != NULL) memset(p, 0, nelem * elsize);
    return p;
}

static void tl_cache_free(void *ctx, void *ptr, size_t size)
{
    tl_hdr *h;
    size_t cap;
    (void)ctx; (void)size;
    if (ptr == NULL) return;
    h = (tl_hdr *)((char *)ptr - TL_HDR);
    cap = (size_t)h->cap;
    if (!h->large) { free(h); return; }
    tl_lock();
    if (tl_cache.scopes > 0 && tl_cache.n < TL_CACHE_SLOTS
            && tl_cache.cached_bytes + cap <= TL_CACHE_MAX) {
        tl_cache.blk[tl_cache.n] = h;
        tl_cache.cap[tl_cache.n] = cap;
        tl_cache.n++;
        tl_cache.cached_bytes += cap;
        tl_cache.frees_cached++;
        tl_unlock();
        return;
    }
    tl_cache.frees_system++;
    tl_unlock();
    tl_raw_free(h, 1);
}

static void *tl_cache_realloc(void *ctx, void *ptr, size_t new_size)
{
    void *p;
    size_t old;
    if (ptr == NULL) return tl_cache_malloc(ctx, new_size);
    old = (size_t)((tl_hdr *)((char *)ptr - TL_HDR))->cap;
    if (new_size <= old && (old < TL_CACHE_MIN || new_size >= old / 2))
        return ptr;
    p = tl_cache_malloc(ctx, new_size);
    if (p == NULL) return NULL;    /* the old block stays valid, as realloc promises */
    memcpy(p, ptr, old < new_size ? old : new_size);
    tl_cache_free(ctx, ptr, old);
    return p;
}

/* Open / close a caching scope; closing the last one frees every cached block. */
static void tl_cache_enter(void)
{
    tl_lock();
    tl_cache.scopes++;
    tl_unlock();
}

static void tl_cache_exit(void)
{
    void *blk[TL_CACHE_SLOTS];
    int64_t i, n = 0;
    tl_lock();
    if (tl_cache.scopes > 0 && --tl_cache.scopes == 0) {
        n = tl_cache.n;
        memcpy(blk, tl_cache.blk, (size_t)n * sizeof(void *));
        tl_cache.n = 0;
        tl_cache.cached_bytes = 0;
    }
    tl_unlock();
    for (i = 0; i < n; ++i) tl_raw_free(blk[i], 1);
}

#endif
