"""Compiled Cython + OpenMP kernels. Kernels never import Tensor."""
