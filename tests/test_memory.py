"""The caching allocator for NumPy array data that training and predict loops run under
(``tensorlib.functional.memory_scope``, native backend: _kernels/memory.pyx over
csrc/tl_cache_alloc.h). Counted, not timed: large blocks freed inside a scope are served
again from the cache, contents and NumPy semantics are unchanged, and nothing stays
cached once the last scope closes."""
import numpy as np
import pytest

import tensorlib
from tensorlib import backend, functional
from tensorlib._kernels import memory

handler_name = (np._core if hasattr(np, "_core") else np.core).multiarray.get_handler_name

BIG = 1 << 20            # float64 elements: 8 MiB, far above the 256 KiB caching floor


@pytest.fixture
def native():
    old = backend.get_backend()
    backend.set_backend("native")
    yield
    backend._current = old


def test_scope_installs_and_restores_the_handler(native):
    before = handler_name()
    with functional.memory_scope():
        assert handler_name() == "tensorlib_caching"
        with functional.memory_scope():
            assert memory.stats()["scopes"] == 2
        assert handler_name() == "tensorlib_caching"
    assert handler_name() == before
    assert memory.stats()["scopes"] == 0
    assert memory.stats()["cached_blocks"] == 0


def test_large_blocks_freed_inside_are_reused(native):
    with functional.memory_scope():
        a = np.ones(BIG)
        del a
        s0 = memory.stats()
        for _ in range(10):
            b = np.empty(BIG)
            b[:] = 1
            del b
        s1 = memory.stats()
    assert s1["hits"] - s0["hits"] == 10
    assert s1["misses"] == s0["misses"]
    assert memory.stats()["cached_blocks"] == 0


def test_arrays_outlive_the_scope_with_their_values(native):
    with functional.memory_scope():
        keep = np.arange(BIG, dtype=np.float64)
        small = np.arange(10)
    assert handler_name(keep) == "tensorlib_caching"
    assert keep[-1] == BIG - 1 and keep.sum() == BIG * (BIG - 1) / 2
    assert small.tolist() == list(range(10))
    frees = memory.stats()["frees_system"]
    del keep                           # freed after the scope: back to the system
    assert memory.stats()["frees_system"] == frees + 1


def test_zeros_from_a_reused_block_are_zero(native):
    with functional.memory_scope():
        a = np.full(BIG, 7.0)
        del a
        hits = memory.stats()["hits"]
        z = np.zeros(BIG)
        assert memory.stats()["hits"] == hits + 1
        assert not z.any()


def test_resize_keeps_contents(native):
    with functional.memory_scope():
        a = np.arange(BIG, dtype=np.float64)
        a.resize(3 * BIG, refcheck=False)
        assert a[BIG - 1] == BIG - 1 and not a[BIG:].any()
        a.resize(10, refcheck=False)
        assert a.tolist() == list(range(10))
        b = np.arange(100.0)
        b.resize(2 * BIG, refcheck=False)
        assert b[99] == 99 and not b[100:].any()


def test_numpy_backend_leaves_numpy_alone():
    old = backend.get_backend()
    backend.set_backend("numpy")
    try:
        before = handler_name()
        with functional.memory_scope():
            assert handler_name() == before
    finally:
        backend._current = old


def _fit_misses(n_batches):
    rng = np.random.default_rng(0)
    x = rng.random((64 * n_batches, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, 64 * n_batches)
    model = tensorlib.Sequential([
        tensorlib.Input((28, 28, 1)),
        tensorlib.layers.Conv2D(32, 3, activation="relu"),
        tensorlib.layers.MaxPooling2D(2),
        tensorlib.layers.Flatten(),
        tensorlib.layers.Dense(10, activation="softmax")])
    model.compile("rmsprop", "sparse_categorical_crossentropy")
    model.fit(x[:64], y[:64], batch_size=64, verbose=0)      # build, optimizer slots
    s0 = memory.stats()
    model.fit(x, y, batch_size=64, epochs=1, verbose=0)
    s1 = memory.stats()
    return s1["misses"] - s0["misses"], s1["hits"] - s0["hits"]


def test_a_training_epoch_allocates_from_the_system_only_in_its_first_steps(native):
    """The blocks a step needs come from the system in the first step(s) of an epoch and
    from the cache after that: as many system allocations for 12 batches as for 3."""
    misses_3, hits_3 = _fit_misses(3)
    misses_12, hits_12 = _fit_misses(12)
    assert misses_12 == misses_3
    assert hits_12 > hits_3 > 0
