# The build probes every kernel module exposes (included, so each module answers for its
# own compilation; needs `from tensorlib._kernels._common cimport tl_openmp_enabled,
# tl_team_size` in the including module).

def openmp_enabled():
    """Whether this module was compiled with OpenMP."""
    return bool(tl_openmp_enabled())


def _team_size(int n):
    """Testing hook: how many threads ran a parallel region asked for n (clamped)."""
    return tl_team_size(n)
