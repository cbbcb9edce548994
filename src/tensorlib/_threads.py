"""The one thread-count helper used by every kernel call.

Order of precedence: ``set_num_threads(n)``, then ``TENSORLIB_NUM_THREADS``, then
``OMP_NUM_THREADS``, then the CPUs this process may use (its affinity mask, capped by a
cgroup CPU quota when one is set).
"""
import functools
import math
import os

_explicit = None


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


def _from_env(name):
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    try:
        n = int(value.split(",")[0])
    except ValueError:
        raise ValueError(f"{name} must be a positive integer. Received: {value!r}") from None
    if n < 1:
        raise ValueError(f"{name} must be a positive integer. Received: {value!r}")
    return n


def set_num_threads(n):
    """Set the number of threads kernels use; ``None`` returns to the default."""
    global _explicit
    if n is not None:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"set_num_threads expects a positive int. Received: {n!r}")
    _explicit = n


def get_num_threads():
    """Threads the kernels will use for the next call."""
    if _explicit is not None:
        return _explicit
    for name in ("TENSORLIB_NUM_THREADS", "OMP_NUM_THREADS"):
        n = _from_env(name)
        if n is not None:
            return n
    return available_cpus()
