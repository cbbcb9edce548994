"""``keras.utils.plot_model`` and ``model_to_dot``: a model's layer graph as a picture.

``model_to_dot`` gives the graph in Graphviz's DOT language as text (Keras returns a
``pydot`` object; tensorlib does not depend on pydot). ``plot_model`` writes it with
Graphviz's ``dot`` program to ``to_file`` (the format from its extension: ``.png``,
``.svg``, ``.pdf``...; a ``.dot`` file is written without Graphviz). One box per layer (and
per ``keras.ops`` call of a functional model), an arrow per tensor passed from one to the
next; a model defined by ``call`` has no recorded graph and shows its layers unconnected.
"""
import os
import shutil
import subprocess
import tempfile


def _quote(text):
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _shape(shape):
    if isinstance(shape, list):
        return ", ".join(_shape(s) for s in shape)
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")" \
        if isinstance(shape, tuple) else "?"


def _label(layer, node, show_shapes, show_dtype, show_layer_names, show_layer_activations,
           show_trainable):
    cls = type(layer).__name__
    lines = [f"{layer.name} ({cls})" if show_layer_names else cls]
    if show_layer_activations and hasattr(layer, "activation_name"):
        lines.append(f"Activation: {layer.activation_name}")
    if show_shapes:
        if node is not None:
            ins = [t.shape for t in node.inputs]
            if ins:
                lines.append("Input shape: " + _shape(ins[0] if len(ins) == 1 else ins))
            outs = [t.shape for t in node.outputs]
            lines.append("Output shape: " + _shape(outs[0] if len(outs) == 1 else outs))
        else:
            lines.append("Output shape: " + _shape(getattr(layer, "output_shape", None)))
    if show_dtype:
        lines.append(f"dtype: {layer.dtype.name}")
    if show_trainable:
        lines.append(f"Trainable: {'Y' if layer.trainable else 'N'}")
    return "\\n".join(line.replace("\\", "\\\\").replace('"', '\\"') for line in lines)


def _nodes(model):
    """[(layer, node or None)] and the edges [(from layer, to layer)] of the model."""
    g = getattr(model, "_graph", None)
    if g is not None:
        order = [(t.node.layer, t.node) for t in g.inputs if t.node is not None]
        order += [(n.layer, n) for n in g.nodes]
        edges = [(t.node.layer, n.layer) for n in g.nodes for t in n.inputs
                 if t.node is not None]
        return order, edges
    nodes = list(getattr(model, "_nodes", None) or [])
    if nodes:                                            # a built Sequential
        layers = [(n.layer, n) for n in nodes]
        first = nodes[0].inputs[0].node if nodes[0].inputs else None
        if first is not None:
            layers.insert(0, (first.layer, first))
        return layers, [(a, b) for (a, _), (b, _) in zip(layers, layers[1:])]
    return [(la, None) for la in model.layers], []


def model_to_dot(model, show_shapes=False, show_dtype=False, show_layer_names=True,
                 rankdir="TB", expand_nested=False, dpi=200, subgraph=False,
                 show_layer_activations=False, show_trainable=False, **kwargs):
    """The model's layer graph as DOT text (see the module docstring)."""
    if kwargs:
        raise TypeError(f"model_to_dot: unexpected arguments. Received: {sorted(kwargs)}")
    if rankdir not in ("TB", "LR"):
        raise ValueError(f"model_to_dot: rankdir must be 'TB' or 'LR'. Received: "
                         f"rankdir={rankdir!r}")
    if not hasattr(model, "layers"):
        raise ValueError(f"model_to_dot: expected a model. Received: "
                         f"{type(model).__name__}")
    nodes, edges = _nodes(model)
    ids, lines = {}, [f"digraph {_quote(model.name)} {{", f"  graph [rankdir={rankdir}, "
                      f"dpi={int(dpi)}];", "  node [shape=box];"]
    for layer, node in nodes:
        if id(layer) in ids:
            continue
        ids[id(layer)] = f"n{len(ids)}"
        label = _label(layer, node, show_shapes, show_dtype, show_layer_names,
                       show_layer_activations, show_trainable)
        lines.append(f'  {ids[id(layer)]} [label="{label}"];')
    seen = set()
    for a, b in edges:
        key = (ids.get(id(a)), ids.get(id(b)))
        if None not in key and key not in seen:
            seen.add(key)
            lines.append(f"  {key[0]} -> {key[1]};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def plot_model(model, to_file="model.png", show_shapes=False, show_dtype=False,
               show_layer_names=False, rankdir="TB", expand_nested=False, dpi=200,
               show_layer_activations=False, show_trainable=False, **kwargs):
    """Draw the model's layer graph into ``to_file`` with Graphviz's ``dot`` (a ``.dot``
    file is the DOT text itself); returns ``to_file``."""
    text = model_to_dot(model, show_shapes=show_shapes, show_dtype=show_dtype,
                        show_layer_names=show_layer_names, rankdir=rankdir,
                        expand_nested=expand_nested, dpi=dpi,
                        show_layer_activations=show_layer_activations,
                        show_trainable=show_trainable, **kwargs)
    to_file = os.fspath(to_file)
    ext = os.path.splitext(to_file)[1][1:].lower() or "png"
    if ext == "dot":
        with open(to_file, "w", encoding="utf-8") as f:
            f.write(text)
        return to_file
    dot = shutil.which("dot")
    if dot is None:
        raise ImportError("plot_model: Graphviz's `dot` program is needed to draw a "
                          f"{ext} file (apt install graphviz, brew install graphviz, or "
                          "https://graphviz.org/download/); a .dot file needs nothing. "
                          f"Received: to_file={to_file!r}")
    with tempfile.NamedTemporaryFile("w", suffix=".dot", delete=False,
                                     encoding="utf-8") as f:
        f.write(text)
    try:
        out = subprocess.run([dot, f"-T{ext}", "-o", to_file, f.name], capture_output=True,
                             text=True, timeout=120)
    finally:
        os.unlink(f.name)
    if out.returncode != 0:
        raise ValueError(f"plot_model: Graphviz could not write {to_file!r}: "
                         f"{out.stderr.strip()[:300]}. Received: to_file={to_file!r}")
    return to_file


__all__ = ["plot_model", "model_to_dot"]
