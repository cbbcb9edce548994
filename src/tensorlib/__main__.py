"""``python -m tensorlib``: a short build and runtime report to quote in bug reports.

Prints the version, Python/NumPy/platform, the kernel backend, the SIMD level the
dispatcher picked (and the CPU's best), whether the kernels were built with OpenMP,
which OpenMP runtime the process loaded (a vendored, name-mangled libgomp in a repaired
wheel) and the thread count kernels will use. ``--json`` prints the same as one JSON
object. Nothing here fails: a part that cannot be determined says so.
"""
import argparse
import json
import os
import platform
import re
import sys
from typing import Any, Dict, List, Optional

_OMP_LIB = re.compile(r"(lib(gomp|omp|iomp5)[^/]*\.(so|dylib)[.0-9]*|vcomp[0-9]*\.dll)$")
_BACKENDS = {"tensorlib.backend.native": "native", "tensorlib.backend.numpy_ref": "numpy"}
_ENV = ("TENSORLIB_BACKEND", "TENSORLIB_SIMD", "TENSORLIB_NUM_THREADS", "OMP_NUM_THREADS")


def _openmp_libraries() -> Optional[List[str]]:
    """Paths of the OpenMP runtimes mapped into this process (Linux: /proc/self/maps),
    or None where that cannot be read."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split(None, 5)[5].strip() for line in f if len(line.split()) == 6}
    except OSError:
        return None
    return sorted(p for p in paths if _OMP_LIB.search(os.path.basename(p)))


def _kernels() -> Dict[str, Any]:
    """SIMD and OpenMP facts from the compiled kernels, or why they are unavailable."""
    try:
        from .backend import native    # the one module that imports tensorlib._kernels
    except ImportError as e:
        return {"kernels": f"not available ({e})"}
    gemm, conv = native._gemm, native._conv
    info = gemm.simd_info()
    return {
        "kernels": "compiled",
        "simd_kernel": info["kernel"],
        "simd_cpu": info["cpu"],
        "conv_tile_level": conv.tile_info()["level"],
        "openmp": bool(gemm.openmp_enabled()),
    }


def report() -> Dict[str, Any]:
    """The build and runtime facts, as a dict (the keys ``main`` prints)."""
    import numpy as np

    from . import _threads
    from ._version import __version__
    from .backend import get_backend

    out: Dict[str, Any] = {
        "tensorlib": __version__,
        "location": os.path.dirname(os.path.abspath(__file__)),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "numpy": np.__version__,
        "platform": f"{platform.system()} {platform.machine()}",
        "backend": _BACKENDS.get(get_backend().__name__, "?"),
    }
    out.update(_kernels())
    threads = _threads.get_num_threads()
    out["threads"] = threads
    out["available_cpus"] = _threads.available_cpus()
    if out.get("openmp"):
        from .backend import native
        out["openmp_team"] = native._gemm._team_size(threads)    # a parallel region's size
    libs = _openmp_libraries()
    out["openmp_runtime"] = "unknown (no /proc/self/maps)" if libs is None else \
        (", ".join(libs) or "none loaded")
    out["env"] = {k: os.environ[k] for k in _ENV if k in os.environ}
    return out


def format_report(info: Dict[str, Any]) -> str:
    """The report as aligned ``key: value`` lines."""
    width = max(len(k) for k in info)
    lines = []
    for key, value in info.items():
        if key == "env":
            value = " ".join(f"{k}={v}" for k, v in value.items()) or "(none set)"
        lines.append(f"{key + ':':<{width + 1}} {value}")
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tensorlib",
                                     description="tensorlib's build and runtime report")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    info = report()
    if args.json:
        print(json.dumps(info))
    else:
        print(format_report(info))
    return 0


if __name__ == "__main__":
    sys.exit(main())
