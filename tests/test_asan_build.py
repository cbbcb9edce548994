"""When CI runs the kernel tests on its AddressSanitizer build (TENSORLIB_EXPECT_ASAN=1),
make sure that build is the one imported, so the sanitizer run cannot silently test the
ordinary build instead."""
import os
import subprocess

import pytest

import tensorlib._kernels.conv
import tensorlib._kernels.elementwise
import tensorlib._kernels.gemm
import tensorlib._kernels.optim
import tensorlib._kernels.pool

MODULES = [tensorlib._kernels.conv, tensorlib._kernels.elementwise, tensorlib._kernels.gemm,
           tensorlib._kernels.optim, tensorlib._kernels.pool]


@pytest.mark.skipif(os.environ.get("TENSORLIB_EXPECT_ASAN") != "1",
                    reason="only in the AddressSanitizer run of .ci/run")
@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_the_imported_kernels_are_instrumented(module):
    symbols = subprocess.run(["nm", "-D", module.__file__], capture_output=True, text=True,
                             check=True).stdout
    assert "__asan_init" in symbols, module.__file__
