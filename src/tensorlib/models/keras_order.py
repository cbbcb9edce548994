"""Keras's order of a functional model's layers and the depth of its nodes.

Keras lists a functional model's layers (in ``config.json``, in ``model.weights.h5`` and in
``summary()``) by depth: a depth-first walk back from the outputs numbers each layer when
first reached and lists the nodes after their inputs; every node then gets a depth one
more than the deepest node it feeds (a shared layer takes the largest depth of its nodes),
and layers are listed from the deepest down, ties by the walk's numbering. Model inputs no
output depends on come last. This module only reads the graph (``tensorlib.graph``).
"""


def walk(model):
    """``(layers, node depths)``: the model's layers in Keras's order and {id(node): depth}
    for every node of the model (input nodes included)."""
    g = model._graph
    input_ids = {id(t) for t in g.inputs}
    first_seen, layers, post, finished = {}, {}, [], set()
    stack = [(t, False) for t in reversed(g.outputs)]
    while stack:
        t, done = stack.pop()
        node = t.node
        if node is None or (not done and id(node) in finished):
            continue
        if done:
            if id(node) not in finished:
                finished.add(id(node))
                post.append(node)
            continue
        layers.setdefault(id(node.layer), node.layer)
        first_seen.setdefault(id(node.layer), len(first_seen))
        stack.append((t, True))
        if not node.layer._is_input_layer and id(t) not in input_ids:
            stack.extend((x, False) for x in reversed(node.inputs))
    node_depth, layer_depth = {}, {}
    for node in reversed(post):
        d = max(node_depth.get(id(node), 0), layer_depth.get(id(node.layer), 0))
        node_depth[id(node)] = layer_depth[id(node.layer)] = d
        for parent in node.parents:
            node_depth[id(parent)] = max(d + 1, node_depth.get(id(parent), 0))
    for t in g.inputs:              # inputs no output depends on
        if t.node is not None and id(t.node.layer) not in layer_depth:
            layers[id(t.node.layer)] = t.node.layer
            layer_depth[id(t.node.layer)], first_seen[id(t.node.layer)] = 0, -1
            node_depth[id(t.node)] = 0
    order = sorted(layers, key=lambda k: (-layer_depth[k], first_seen[k]))
    return [layers[k] for k in order], node_depth


def keras_layer_order(model):
    """The model's layers in Keras's order; ``keras.ops`` calls are in the config's
    ``layers`` list (``walk``) but are not layers (no weights file group), as in Keras."""
    if not hasattr(model, "_graph"):
        return model.layers
    return [la for la in walk(model)[0] if not la._is_op]
