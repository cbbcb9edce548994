"""Build the Cython + OpenMP kernels of tensorlib.

Every ``src/tensorlib/_kernels/*.pyx`` becomes one extension module (its ``_*.pxi``
includes and ``_*.pxd`` declarations are part of it: no module of their own); the C files
in ``csrc/`` that a module lists in ``C_SOURCES`` are compiled into it. OpenMP flags are
added when the compiler accepts them; otherwise the kernels build serially and a
warning says so. Cython directives are set here, once. Environment switches:

* ``TENSORLIB_DEBUG=1``: bounds checking back on (and -O0 -g instead of -O3), for debugging;
  any other build is a release build: compiled with -g0 and linked stripped (-s; on macOS
  -Wl,-S,-x), as wheels ship, whatever -g Python's own CFLAGS carry;
* ``TENSORLIB_REQUIRE_OPENMP=1``: a compiler without OpenMP is a build error instead of
  a warning (pip hides warnings; CI sets this);
* ``TENSORLIB_SANITIZE=address`` (or ``undefined``, or ``address,undefined``): build with
  ``-fsanitize=... -fno-omit-frame-pointer -g -O1`` (compile and link). Python itself is
  not instrumented, so run the tests with the runtime preloaded::

      LD_PRELOAD=$(gcc -print-file-name=libasan.so) ASAN_OPTIONS=detect_leaks=0 \
          python -m pytest tests/test_conv_pool.py -q
"""
import os
import sys
import glob
import shutil
import tempfile
import warnings

import numpy as np
from Cython.Build import cythonize
from setuptools import setup, Extension
from setuptools.command.build_ext import build_ext

DEBUG = os.environ.get("TENSORLIB_DEBUG", "0") not in ("", "0")
REQUIRE_OPENMP = os.environ.get("TENSORLIB_REQUIRE_OPENMP", "0").strip() not in ("", "0")
SANITIZERS = ("address", "undefined")


def _sanitizers():
    """The sanitizers asked for by TENSORLIB_SANITIZE (comma-separated), validated."""
    raw = os.environ.get("TENSORLIB_SANITIZE", "").strip().lower()
    names = [v.strip() for v in raw.split(",") if v.strip() and v.strip() != "0"]
    bad = [v for v in names if v not in SANITIZERS]
    if bad:
        raise SystemExit(f"setup.py: TENSORLIB_SANITIZE must be a comma-separated subset of "
                         f"{SANITIZERS}. Received: TENSORLIB_SANITIZE={raw!r}")
    return names


SANITIZE = _sanitizers()
HERE = os.path.dirname(os.path.abspath(__file__))

# C sources from csrc/ compiled into each kernel module (module name -> files).
C_SOURCES = {
    "gemm": ["csrc/cpu_features.c", "csrc/gemm_ukernels.c"],
}

# Extra gcc/clang flags per kernel module. optim must match NumPy bit for bit: no FMA
# contraction whatever -m flags are added later (-fno-math-errno only lets sqrt vectorise).
GCC_FLAGS = {
    "optim": ["-ffp-contract=off", "-fno-math-errno"],
}

DIRECTIVES = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": False,
    "cdivision": not DEBUG,
    "initializedcheck": DEBUG,
    "nonecheck": DEBUG,
    "embedsignature": True,
}


def _openmp_flags(compiler):
    """Return (compile_args, link_args) for OpenMP, or ([], []) if unsupported."""
    if compiler.compiler_type == "msvc":
        return ["/openmp"], []
    candidates = [(["-fopenmp"], ["-fopenmp"])]
    if sys.platform == "darwin":
        candidates.append((["-Xpreprocessor", "-fopenmp"], ["-lomp"]))
    src = "#include <omp.h>\nint main(void){return omp_get_max_threads() > 0 ? 0 : 1;}\n"
    for cflags, lflags in candidates:
        tmp = tempfile.mkdtemp()
        try:
            path = os.path.join(tmp, "omp_test.c")
            with open(path, "w") as f:
                f.write(src)
            objs = compiler.compile([path], output_dir=tmp, extra_postargs=cflags)
            compiler.link_executable(objs, "omp_test", output_dir=tmp, extra_postargs=lflags)
            return cflags, lflags
        except Exception:  # noqa: BLE001 - any compiler failure means "no OpenMP"
            continue
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return [], []


def _strip_flags(compiler):
    """(compile_args, link_args) that keep debug symbols out of a release build: none for
    TENSORLIB_DEBUG or sanitizer builds, nor for MSVC (it writes no debug info unless
    asked). They come after Python's CFLAGS, so -g0 overrides the -g those often carry."""
    if DEBUG or SANITIZE or compiler.compiler_type == "msvc":
        return [], []
    return ["-g0"], (["-Wl,-S,-x"] if sys.platform == "darwin" else ["-s"])


class BuildExt(build_ext):
    def build_extensions(self):
        cflags, lflags = _openmp_flags(self.compiler)
        if not cflags:
            msg = ("tensorlib: the C compiler does not support OpenMP; "
                   "kernels are built serial (single-threaded).")
            if REQUIRE_OPENMP:
                raise SystemExit(msg + " TENSORLIB_REQUIRE_OPENMP is set: failing the build.")
            warnings.warn(msg, stacklevel=1)
        opt = ["-O0", "-g"] if DEBUG else ["-O3"]
        san = []
        if self.compiler.compiler_type == "msvc":
            opt = ["/O2"]
            if SANITIZE:
                raise SystemExit("setup.py: TENSORLIB_SANITIZE needs gcc or clang")
        else:
            opt += ["-fno-strict-aliasing", "-Wno-unused-function", "-Wno-unreachable-code"]
            if SANITIZE:
                san = [f"-fsanitize={','.join(SANITIZE)}", "-fno-omit-frame-pointer"]
                opt = [o for o in opt if not o.startswith("-O")] + ["-g", "-O1"]
        strip_c, strip_l = _strip_flags(self.compiler)
        for ext in self.extensions:
            own = [] if self.compiler.compiler_type == "msvc" else \
                GCC_FLAGS.get(ext.name.rsplit(".", 1)[-1], [])
            ext.extra_compile_args = opt + san + cflags + own + strip_c + ext.extra_compile_args
            ext.extra_link_args = san + lflags + strip_l + ext.extra_link_args
        super().build_extensions()


def _extensions():
    # cythonize regenerates a module's .c when its .pyx or any .pxi it includes / .pxd it
    # cimports changes; `depends` makes setuptools recompile it when a csrc header changes.
    kernels = os.path.join("src", "tensorlib", "_kernels")
    headers = sorted(glob.glob(os.path.join("csrc", "*.h")))
    exts = []
    for pyx in sorted(glob.glob(os.path.join(kernels, "*.pyx"))):
        name = os.path.splitext(os.path.basename(pyx))[0]
        exts.append(Extension(
            f"tensorlib._kernels.{name}",
            sources=[pyx] + C_SOURCES.get(name, []),
            depends=headers,
            include_dirs=[np.get_include(), "csrc"],
            define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        ))
    return cythonize(exts, compiler_directives=DIRECTIVES, quiet=True)


setup(ext_modules=_extensions(), cmdclass={"build_ext": BuildExt})
