"""Shared fixtures and hypothesis settings for the tensorlib test suite."""
import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# Keep property-based tests fast and free of timing flakiness.
settings.register_profile(
    "tensorlib",
    deadline=None,
    max_examples=25,
    # The autouse grad-mode fixture below is harmless to share between examples.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile("tensorlib")


@pytest.fixture
def rng():
    """A freshly seeded NumPy generator (same draws in every test)."""
    return np.random.default_rng(20240611)


@pytest.fixture(autouse=True)
def _grad_mode_not_leaked():
    """Fail loudly if a test leaves gradient recording switched off."""
    import tensorlib as tl

    assert tl.is_grad_enabled(), "grad mode was already disabled before this test started"
    yield
    if not tl.is_grad_enabled():
        # Switch recording back on so one leak does not cascade into every later test.
        enable = getattr(tl, "enable_grad", None)
        ctx = enable() if enable is not None else None
        if hasattr(ctx, "__enter__"):
            ctx.__enter__()
        pytest.fail("tl.is_grad_enabled() was False after the test: grad mode leaked")
