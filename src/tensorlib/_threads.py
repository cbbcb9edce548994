"""The one thread-count helper used by every kernel call.

Order of precedence: ``set_num_threads(n)``, then ``TENSORLIB_NUM_THREADS``, then
``OMP_NUM_THREADS``, then the CPUs this process may use (its affinity mask, capped by a
cgroup CPU quota when one is set).

Every count lies in ``[1, MAX_THREADS]`` (1024: OpenMP runtimes fail, libgomp with a
crash, when asked for ~100000 threads; the kernels clamp to the same bound again).
``set_num_threads`` raises ``ValueError`` for anything else (bools, floats, strings,
0, > MAX_THREADS); NumPy integers are accepted. An environment variable that is not a
positive integer <= MAX_THREADS (its first comma-separated entry, as libgomp reads
OMP_NUM_THREADS) is ignored, as libgomp ignores a malformed OMP_NUM_THREADS: a
``RuntimeWarning`` says so once per variable and value, and the next source in the order
above applies. ``get_num_threads`` runs before every kernel call and re-reads the
environment, so parsed values are cached by their raw string.
"""
import functools
import math
import operator
import os
import re
import warnings

MAX_THREADS = 1024
ENV_VARS = ("TENSORLIB_NUM_THREADS", "OMP_NUM_THREADS")

_explicit = None
_parsed = {}          # (name, raw value) -> int, or None when the value is ignored
_COUNT = re.compile(r"\s*\+?([0-9]+)\s*(?:,.*)?", re.ASCII | re.DOTALL)


def _cgroup_cpu_limit():
    """CPUs allowed by a cgroup v2 (cpu.max) or v1 (cfs quota) limit, or None."""
    try:
        with open("/sys/fs/cgroup/cpu.max") as f:
            quota, period = f.read().split()[:2]
        if quota != "max":
            return max(1, math.ceil(int(quota) / int(period)))
        return None
    except (OSError, ValueError):
        pass
    try:
        with open("/sys/fs/cgroup/cpu/cpu.cfs_quota_us") as f:
            quota = int(f.read())
        with open("/sys/fs/cgroup/cpu/cpu.cfs_period_us") as f:
            period = int(f.read())
        if quota > 0 and period > 0:
            return max(1, math.ceil(quota / period))
    except (OSError, ValueError):
        pass
    return None


@functools.lru_cache(maxsize=1)
def available_cpus():
    """CPUs this process may run on: affinity mask, capped by the cgroup quota (read once)."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        n = os.cpu_count() or 1
    limit = _cgroup_cpu_limit()
    return max(1, min(n, limit) if limit else n)


def _parse_env(name, raw):
    """The thread count an env var's raw value asks for, or None (unset or ignored)."""
    if not raw.strip():
        return None
    m = _COUNT.fullmatch(raw)
    digits = m.group(1).lstrip("0") if m else ""
    if digits and len(digits) <= 9 and int(digits) <= MAX_THREADS:
        return int(digits)
    rest = ENV_VARS[ENV_VARS.index(name) + 1:]
    fallback = " or ".join(rest + (f"the available CPUs ({min(available_cpus(), MAX_THREADS)})",))
    shown = raw if len(raw) <= 40 else raw[:37] + "..."
    warnings.warn(f"tensorlib: ignoring {name}={shown!r} (not a positive integer <= "
                  f"{MAX_THREADS}), as libgomp does; the thread count falls back to "
                  f"{fallback}.", RuntimeWarning, stacklevel=4)
    return None


def _from_env(name):
    raw = os.environ.get(name)
    if raw is None:
        return None
    try:
        return _parsed[name, raw]
    except KeyError:
        n = _parsed[name, raw] = _parse_env(name, raw)
        return n


def set_num_threads(n):
    """Set the number of threads kernels use (an int in [1, MAX_THREADS]); ``None``
    returns to the default (environment, then available CPUs)."""
    global _explicit
    if n is not None:
        try:
            if isinstance(n, bool) or type(n).__name__ == "bool_":
                raise TypeError
            v = operator.index(n)
        except TypeError:
            raise ValueError(f"set_num_threads: n must be an int in [1, {MAX_THREADS}] or "
                             f"None. Received: n={n!r}") from None
        if not 1 <= v <= MAX_THREADS:
            raise ValueError(f"set_num_threads: n must be an int in [1, {MAX_THREADS}] or "
                             f"None. Received: n={n!r}")
        n = v
    _explicit = n


def get_num_threads():
    """Threads the kernels will use for the next call."""
    if _explicit is not None:
        return _explicit
    for name in ENV_VARS:
        n = _from_env(name)
        if n is not None:
            return n
    return min(available_cpus(), MAX_THREADS)
