"""Functional models with ``keras.ops`` calls and operators between layers, written once
against the Keras 3 API: each builder takes the ``keras`` module (real Keras in
``make_keras_op_files.py`` and ``check_keras_op_roundtrip.py``, ``tensorlib`` in the
tests). Layers are named; ops get Keras's automatic names, the same both ways after
``keras.backend.clear_session()``.
"""
import numpy as np


def arith(keras):
    """Binary and elementwise ops, Python operators with constants on either side."""
    ops = keras.ops
    x = keras.Input((3, 4), name="x")
    d = keras.layers.Dense(2, name="d")(x)
    outs = [d * 0.5, 2.0 - d, ops.add(d, d), ops.subtract(d, 1), ops.multiply(3, d),
            ops.divide(d, 2.0), ops.true_divide(d, 4), d ** 2, ops.power(d, 3),
            ops.maximum(d, 0.0), ops.minimum(d, 0.25), -d, ops.negative(d),
            ops.square(d), ops.sqrt(ops.exp(d)), ops.log(ops.square(d) + 1.0), abs(d),
            ops.absolute(d), ops.abs(d), ops.relu(d), ops.sigmoid(d), ops.tanh(d),
            ops.matmul(d, ops.transpose(d, (0, 2, 1))),
            d @ np.array([[1.0, -1.0, 0.5], [2.0, 0.0, -0.5]], "float32")]
    return keras.Model(x, outs, name="arith")


def shapes(keras):
    """Reductions, reshaping, indexing (slices, ``...``, None), joins, clip, cast, where."""
    ops = keras.ops
    x = keras.Input((3, 4), name="x")
    d = keras.layers.Dense(2, name="d")(x)
    outs = [d * ops.sum(d), ops.mean(d, axis=1), ops.max(d, axis=(1, 2), keepdims=True),
            ops.min(d, axis=-1), ops.sum(d, axis=[1], keepdims=True),
            ops.softmax(d, axis=1), ops.log_softmax(d), ops.reshape(d, (-1, 6)),
            ops.expand_dims(d, 1), ops.squeeze(d[:, :1], axis=1), ops.squeeze(d[:, 1:2]),
            d[..., None, 0:2:1], d[:, 0], d[:, -1, ::2], ops.stack([d, d], axis=1),
            ops.concatenate([d, x], axis=-1), ops.clip(d, -0.5, 0.5),
            ops.cast(d, "float64"), ops.where(ops.greater(d, 0), d, 0.0),
            ops.where(ops.less(d, 0.1), -d, d)]
    return keras.Model(x, outs, name="shapes")


def mixed(keras):
    """Ops feeding layers and layers feeding ops, two inputs, a residual: the layer
    order of the record (by depth) interleaves ops and layers."""
    L, ops = keras.layers, keras.ops
    a = keras.Input((4,), name="a")
    b = keras.Input((3, 2), name="b")
    h = L.Dense(5, activation="tanh", name="h")(a)
    pooled = ops.mean(b, axis=1)
    joined = ops.concatenate([ops.relu(h) * 2.0, pooled], axis=-1)
    g = L.Dense(5, name="g")(joined)
    res = h + g
    out = L.Dense(3, activation="softmax", name="out")(res[:, 1:] - 0.5)
    return keras.Model([a, b], [out, ops.sigmoid(g)], name="mixed")


GRAPHS = {"arith": arith, "shapes": shapes, "mixed": mixed}


def data(name):
    rng = np.random.default_rng(7)
    if name == "mixed":
        return [rng.normal(size=(3, 4)).astype("float32"),
                rng.normal(size=(3, 3, 2)).astype("float32")]
    return rng.normal(size=(3, 3, 4)).astype("float32")
