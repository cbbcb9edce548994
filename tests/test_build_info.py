"""The installed build: OpenMP compiled in and running the threads it is asked for, and
the best SIMD kernels the CPU offers selected by default. No timing: these assertions hold
on any machine, however loaded.

A build without OpenMP still works (serially) and setup.py only warns, which pip hides;
these tests make such a build a failure. CI also sets TENSORLIB_REQUIRE_OPENMP=1, which
turns the warning into a build error. Likewise a dispatcher bug that silently falls back
to the portable kernels would only show as slowness: the CPU's flags are read here from
/proc/cpuinfo, independently of the library, and compared with what a fresh process picks.
"""
import importlib
import os
import pkgutil
import platform
import subprocess
import sys

import pytest

import tensorlib
import tensorlib._kernels
from tensorlib._kernels import conv, elementwise, gemm, pool

# Every compiled kernel module (each includes _probes.pxi), found on disk so that a new
# one is covered without editing this list; the four core ones must be among them.
MODULES = [importlib.import_module(f"tensorlib._kernels.{m.name}")
           for m in pkgutil.iter_modules(tensorlib._kernels.__path__)
           if not m.name.startswith("_")]
assert {conv, pool, gemm, elementwise} <= set(MODULES), MODULES


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


def _expected_simd():
    """(gemm kernel, conv tile level) the CPU's /proc/cpuinfo flags call for, or None."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((set(line.split(":", 1)[1].split()) for line in f
                          if line.startswith("flags")), None)
    except OSError:
        return None
    if flags is None:
        return None
    if platform.machine() not in ("x86_64", "AMD64") or not {"avx2", "fma"} <= flags:
        return ("ref", 0)
    return ("avx512", 2) if "avx512f" in flags else ("avx2", 1)


def test_default_simd_level_is_the_best_the_cpu_offers():
    """A fresh process (no testing hook has touched the one dispatcher) runs the GEMM
    micro-kernel and the conv tiles of the best level the CPU has: avx512f -> 'avx512' /
    level 2, avx2 + fma -> 'avx2' / level 1, else 'ref' / 0."""
    if os.environ.get("TENSORLIB_SIMD", "").strip():
        pytest.skip("TENSORLIB_SIMD asks for a given level")
    want = _expected_simd()
    if want is None:
        pytest.skip("no /proc/cpuinfo to compare the library's CPU detection with")
    code = ("from tensorlib._kernels import conv, gemm; i = gemm.simd_info(); "
            "print(i['kernel'], i['cpu'], conv.tile_info()['level'])")
    src = os.path.dirname(os.path.dirname(os.path.abspath(tensorlib.__file__)))
    env = dict(os.environ, PYTHONPATH=src + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    kernel, cpu, level = out.stdout.split()
    assert (kernel, cpu, int(level)) == (want[0], want[0], want[1]), out.stdout
