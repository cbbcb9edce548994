"""The version of tensorlib: the one place it is written (pyproject.toml reads it from here,
``tensorlib.__version__`` and ``python -m tensorlib`` report it)."""
__version__ = "0.1.0"
