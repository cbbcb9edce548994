"""The installed kernels were built with OpenMP, and their parallel regions really run.

A build without OpenMP still works (serially) and setup.py only warns, which pip hides;
these tests make such a build a failure. CI also sets TENSORLIB_REQUIRE_OPENMP=1, which
turns the warning into a build error.
"""
import pytest

from tensorlib._kernels import conv, elementwise, gemm, pool

MODULES = [conv, pool, gemm, elementwise]


@pytest.mark.parametrize("mod", MODULES, ids=lambda m: m.__name__.rsplit(".", 1)[1])
def test_kernel_module_was_compiled_with_openmp(mod):
    assert mod.openmp_enabled() is True


@pytest.mark.parametrize("mod", MODULES, ids=lambda m: m.__name__.rsplit(".", 1)[1])
def test_parallel_region_runs_the_threads_it_asks_for(mod):
    assert mod._team_size(1) == 1
    assert mod._team_size(2) == 2
    assert mod._team_size(3) == 3      # more threads than this 2-core machine has


def test_team_size_is_clamped():
    assert conv._team_size(0) == 1
    assert conv._team_size(-5) == 1
