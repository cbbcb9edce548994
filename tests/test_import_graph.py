"""Imports inside tensorlib go one way: no module imports, at top level or inside a
function, a module that (transitively) imports it back. Package ``__init__`` files only
re-export their own submodules, so an edge from a module to a package stands for the
names it takes from that package's ``__init__``."""
import ast
import os

import tensorlib

ROOT = os.path.dirname(tensorlib.__file__)


def _module_name(path):
    rel = os.path.relpath(path, os.path.dirname(ROOT))[:-3].replace(os.sep, ".")
    return rel[:-len(".__init__")] if rel.endswith(".__init__") else rel


def _modules():
    out = {}
    for dirpath, _, files in os.walk(ROOT):
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(dirpath, f)
                out[_module_name(path)] = path
    return out


def _resolve(current, is_pkg, level, module):
    base = current.split(".")
    base = base if is_pkg else base[:-1]
    if level:
        base = base[:len(base) - (level - 1)]
        return ".".join(base + ([module] if module else []))
    return module or ""


def _edges(mods):
    edges = {m: set() for m in mods}
    for name, path in mods.items():
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read())
        is_pkg = path.endswith("__init__.py")
        for node in ast.walk(tree):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                src = _resolve(name, is_pkg, node.level, node.module)
                for a in node.names:       # `from pkg import sub` imports the submodule
                    sub = f"{src}.{a.name}"
                    targets.append(sub if sub in mods else src)
            for t in targets:
                if t in mods and t != name and not (is_pkg and t.startswith(name + ".")):
                    edges[name].add(t)
    return edges


def _cycle(edges):
    """One cycle as a list of modules, or None (iterative depth-first search)."""
    state = {}
    for start in sorted(edges):
        if state.get(start):
            continue
        stack, path = [(start, iter(sorted(edges[start])))], [start]
        state[start] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
                path.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            elif not state.get(nxt):
                state[nxt] = 1
                stack.append((nxt, iter(sorted(edges[nxt]))))
                path.append(nxt)
    return None


def test_no_import_cycles():
    mods = _modules()
    edges = _edges(mods)
    # edges to the top-level package (e.g. `from .. import losses`) name its submodules;
    # an edge to `tensorlib` itself would be a cycle through tensorlib/__init__.py
    assert all("tensorlib" not in e for n, e in edges.items() if n != "tensorlib"), \
        {n: "tensorlib" for n, e in edges.items() if "tensorlib" in e and n != "tensorlib"}
    cycle = _cycle(edges)
    assert cycle is None, " -> ".join(cycle)


def test_the_checker_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_published_keras_functions_shadow_no_builtin_the_module_uses():
    """``import tensorlib`` publishes keras.ops / keras.backend / keras.random functions
    onto ``ops``, ``backend`` and ``random``: a name such as ``all`` or ``max`` would then
    replace the builtin for that module's own code. None of them may use such a name."""
    import ast
    import builtins

    from tensorlib import keras_backend, keras_ops, keras_random
    for path, facade in (("ops.py", keras_ops), (os.path.join("backend", "__init__.py"),
                                                 keras_backend), ("random.py", keras_random)):
        with open(os.path.join(ROOT, path)) as f:
            tree = ast.parse(f.read())
        used = {n.id for n in ast.walk(tree)
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
        clash = used & set(facade.__all__) & set(dir(builtins))
        assert not clash, f"{path} uses the builtins {sorted(clash)}, which " \
                          f"{facade.__name__} replaces there"
