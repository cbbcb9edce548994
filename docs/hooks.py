"""MkDocs hooks for the tensorlib site.

- Publish the benchmark charts of bench/ (drawn by bench/charts.py) under benchmarks/,
  so the pages show the same PNGs as bench/RESULTS.md.
- Expand a line ``<!-- members: tensorlib.layers -->`` of an API page into one
  mkdocstrings block per public class or function of that module, read from the imported
  module (its ``__all__``, else its public classes and functions), so the reference picks
  up new layers, losses, metrics... without editing the page. Aliases (``MaxPool2D``) are
  listed under the object they name.
"""
import functools
import importlib
import inspect
import re
from pathlib import Path

import griffe
from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parents[1]
BENCH, SRC = ROOT / "bench", ROOT / "src"
MARKER = re.compile(r"^<!-- members: ([\w.]+) -->$", re.M)


def on_files(files, config):
    for png in sorted(BENCH.glob("*.png")):
        files.append(File.generated(config, f"benchmarks/{png.name}", abs_src_path=str(png)))
    return files


@functools.cache
def _static_members(module_name):
    """Names that mkdocstrings (griffe) finds in the module's source, imports included."""
    return set(_loader().load(module_name).members)


@functools.cache
def _loader():
    return griffe.GriffeLoader(search_paths=[str(SRC)])


def public_members(module_name):
    """[(public path, [other names])] of the module's public classes and functions."""
    module = importlib.import_module(module_name)
    names = getattr(module, "__all__", None)
    # without __all__: what the module or its submodules define, not what they import
    home = "tensorlib" if names is not None else module_name
    if names is None:
        names = [n for n in vars(module) if not n.startswith("_")]
    groups = {}                      # id -> [object, names]; dicts keep the first order
    for name in names:
        obj = getattr(module, name)
        where = getattr(obj, "__module__", None) or ""
        if (inspect.isclass(obj) or inspect.isfunction(obj)) and \
                (where == home or where.startswith(home + ".")):
            groups.setdefault(id(obj), [obj, []])[1].append(name)
    out = []
    for obj, found in groups.values():
        main = obj.__name__ if obj.__name__ in found else found[0]
        path = f"{module_name}.{main}"
        if main not in _static_members(module_name):  # made at import time: where it lives
            path = f"{obj.__module__}.{obj.__qualname__}"
        out.append((path, [n for n in found if n != main]))
    return out


def _expand(match):
    blocks = []
    for path, aliases in public_members(match.group(1)):
        blocks.append(f"::: {path}")
        if aliases:
            blocks.append(f"Also available as {', '.join(f'`{a}`' for a in aliases)}.")
    return "\n\n".join(blocks)


def on_page_markdown(markdown, page, config, files):
    return MARKER.sub(_expand, markdown)
