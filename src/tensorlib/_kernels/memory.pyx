# NumPy array memory while a model trains or predicts: a caching allocator.
#
# Design: every step of a training loop allocates and frees the same large temporaries
# (activations, gradients, kernel scratch). glibc hands large freed blocks back to the
# system (munmap, heap trim) depending on thresholds that move with the allocation
# history, and every reuse then faults the pages in again: up to millions of page faults
# per epoch. csrc/tl_cache_alloc.h is a NumPy memory handler (NEP 49) that keeps freed
# large blocks on a free list while a caching scope is open. `enter()` opens a scope and
# makes the handler current for this context (NumPy keeps the handler in a context
# variable, so other threads and contexts are not affected); `leave(token)` restores the
# previous handler and, when the last scope closes, frees the cached blocks. Arrays
# made inside a scope stay valid after it: NumPy frees each array through the handler
# that allocated it.
cimport numpy as cnp

from cpython.pycapsule cimport PyCapsule_New
from libc.string cimport strcpy

from tensorlib._kernels._common cimport tl_openmp_enabled, tl_team_size

cnp.import_array()

cdef extern from "numpy/arrayobject.h":
    ctypedef struct PyDataMemAllocator:
        void *ctx
        void *(*malloc)(void *ctx, size_t size) noexcept nogil
        void *(*calloc)(void *ctx, size_t nelem, size_t elsize) noexcept nogil
        void *(*realloc)(void *ctx, void *ptr, size_t new_size) noexcept nogil
        void (*free)(void *ctx, void *ptr, size_t size) noexcept nogil
    ctypedef struct PyDataMem_Handler:
        char name[127]
        unsigned char version
        PyDataMemAllocator allocator
    object PyDataMem_SetHandler(object handler)

cdef extern from "tl_cache_alloc.h" nogil:
    void *tl_cache_malloc(void *ctx, size_t size)
    void *tl_cache_calloc(void *ctx, size_t nelem, size_t elsize)
    void *tl_cache_realloc(void *ctx, void *ptr, size_t new_size)
    void tl_cache_free(void *ctx, void *ptr, size_t size)
    void tl_cache_enter()
    void tl_cache_exit()
    long long tl_cache_n "tl_cache.n"
    size_t tl_cache_bytes "tl_cache.cached_bytes"
    long long tl_cache_scopes "tl_cache.scopes"
    long long tl_cache_hits "tl_cache.hits"
    long long tl_cache_misses "tl_cache.misses"
    long long tl_cache_frees_cached "tl_cache.frees_cached"
    long long tl_cache_frees_system "tl_cache.frees_system"

include "_probes.pxi"

cdef PyDataMem_Handler _HANDLER
strcpy(_HANDLER.name, b"tensorlib_caching")
_HANDLER.version = 1
_HANDLER.allocator.ctx = NULL
_HANDLER.allocator.malloc = tl_cache_malloc
_HANDLER.allocator.calloc = tl_cache_calloc
_HANDLER.allocator.realloc = tl_cache_realloc
_HANDLER.allocator.free = tl_cache_free
# NumPy keeps a reference to this capsule in every array it allocates with the handler.
_CAPSULE = PyCapsule_New(&_HANDLER, b"mem_handler", NULL)


def enter():
    """Open a caching scope and make the caching handler current; returns the token
    that ``leave`` takes (the previous handler)."""
    tl_cache_enter()
    return PyDataMem_SetHandler(_CAPSULE)


def leave(token):
    """Close the scope ``enter`` opened: restore the previous handler; the last scope
    to close frees every cached block."""
    PyDataMem_SetHandler(token)
    tl_cache_exit()


def stats():
    """The allocator's counters: cached blocks and bytes, open scopes, and since the
    process started, large requests served from the cache (hits) or the system (misses)
    and large frees kept (cached) or returned (system)."""
    return {"cached_blocks": tl_cache_n, "cached_bytes": tl_cache_bytes,
            "scopes": tl_cache_scopes, "hits": tl_cache_hits, "misses": tl_cache_misses,
            "frees_cached": tl_cache_frees_cached, "frees_system": tl_cache_frees_system}
