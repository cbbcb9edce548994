"""Build the Cython + OpenMP kernels of tensorlib.

Every ``src/tensorlib/_kernels/*.pyx`` becomes one extension module; the C files in
``csrc/`` that a module lists in ``C_SOURCES`` are compiled into it. OpenMP flags are
added when the compiler accepts them; otherwise the kernels build serially and a
warning says so. Cython directives are set here, once. ``TENSORLIB_DEBUG=1`` turns
bounds checking back on (and drops -O3) for debugging.
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
HERE = os.path.dirname(os.path.abspath(__file__))

# C sources from csrc/ compiled into each kernel module (module name -> files).
C_SOURCES = {
    "gemm": ["csrc/cpu_features.c", "csrc/gemm_ukernels.c"],
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


class BuildExt(build_ext):
    def build_extensions(self):
        cflags, lflags = _openmp_flags(self.compiler)
        if not cflags:
            warnings.warn(
                "tensorlib: the C compiler does not support OpenMP; "
                "kernels are built serial (single-threaded).", stacklevel=1)
        opt = ["-O0", "-g"] if DEBUG else ["-O3"]
        if self.compiler.compiler_type == "msvc":
            opt = ["/O2"]
        else:
            opt += ["-fno-strict-aliasing", "-Wno-unused-function", "-Wno-unreachable-code"]
        for ext in self.extensions:
            ext.extra_compile_args = opt + cflags + ext.extra_compile_args
            ext.extra_link_args = lflags + ext.extra_link_args
        super().build_extensions()


def _extensions():
    exts = []
    for pyx in sorted(glob.glob(os.path.join("src", "tensorlib", "_kernels", "*.pyx"))):
        name = os.path.splitext(os.path.basename(pyx))[0]
        exts.append(Extension(
            f"tensorlib._kernels.{name}",
            sources=[pyx] + C_SOURCES.get(name, []),
            include_dirs=[np.get_include(), "csrc"],
            define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        ))
    return cythonize(exts, compiler_directives=DIRECTIVES, quiet=True)


setup(ext_modules=_extensions(), cmdclass={"build_ext": BuildExt})
