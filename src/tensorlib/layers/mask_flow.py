"""Keras's mask protocol: how masks travel between layers.

A layer that makes a mask (``Embedding(mask_zero=True)``, ``Masking``) has
``_produces_mask``; a layer with ``supports_masking`` passes one on. The mask of a layer's
outputs is its ``compute_mask(inputs, mask)``; a layer whose ``call`` names ``mask`` gets
its input's mask there (the recurrent layers then skip the masked timesteps). Layers
that neither make nor support masks drop them, as in Keras.

Models run this only when one of their layers makes masks (``sequential_call``,
``run_graph``); an eager layer call carries the mask on its output Tensor as
``_keras_mask`` (``eager_call``), as Keras does. Masks are (batch, timesteps) booleans.

This module sits below ``layers.base``: it never imports it.
"""
from .. import graph
from ..tensor import Tensor
from . import tracking


def output_mask(layer, inputs, mask):
    """The mask of ``layer``'s outputs for ``inputs`` carrying ``mask`` (Keras's rule)."""
    if layer._produces_mask or layer.supports_masking:
        return layer.compute_mask(inputs, mask)
    return None


def _with_mask(layer, kwargs, mask):
    if mask is not None and "mask" not in (kwargs or {}) \
            and tracking.call_spec(type(layer)).accepts("mask"):
        return {**(kwargs or {}), "mask": mask}
    return kwargs


def eager_call(layer, x, mask, training, args, kwargs):
    """A layer's eager call with masks: ``mask`` (the input's ``_keras_mask``) to ``call``
    when it takes one, and the output mask attached to the outputs."""
    out = tracking.run_call(layer, x, training, args, _with_mask(layer, kwargs, mask))
    masks = output_mask(layer, x, mask)
    outs, masks = (out, masks) if isinstance(out, (list, tuple)) else ([out], [masks])
    for t, m in zip(outs, masks if isinstance(masks, (list, tuple)) else [masks]):
        if m is not None and isinstance(t, Tensor):
            t._keras_mask = m
    return out


def sequential_call(model, x, training):
    """``Sequential.call`` when a layer makes masks: each mask goes to the next layer."""
    mask = None
    for layer in model._layers:
        out = layer._run(x, training, kwargs=_with_mask(layer, None, mask))
        mask = output_mask(layer, x, mask)
        x = out
    return x


def run_graph(g, values, training):
    """``graph.Graph.run`` with masks: a node's layer gets the mask of its (single) input
    tensor; its outputs' masks come from ``compute_mask``."""
    masks = {}

    def compute(node, env):
        args = graph.node_args(node, env)
        single_input = isinstance(node.args, graph.SymbolicTensor)
        mask = masks.get(id(node.args)) if single_input else None
        out = node.layer._run_node(node, args, training, mask=mask)
        outs = [out] if node.single_output else out
        if single_input:
            new = output_mask(node.layer, args, mask)
            new = new if isinstance(new, (list, tuple)) else [new] * len(outs)
            for t, m in zip(node.outputs, new):
                if m is not None:
                    masks[id(t)] = m
        return outs
    return g.walk(values, compute)


def makes_masks(layers):
    """Whether any of ``layers`` makes a mask (the models then run the mask code)."""
    return any(layer._produces_mask for layer in layers)
