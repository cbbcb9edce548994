"""Functional models for the Keras-file and summary oracle tests, written once against the
Keras 3 API: each builder takes the ``keras`` module (real Keras in the fixture script,
``tensorlib`` in the tests). Every layer and model is named, so names match both ways.
"""
import numpy as np


def convnet(keras):
    """A single-path functional convnet (summary: Keras's three-column table)."""
    L = keras.layers
    x = keras.Input((8, 8, 1), name="img")
    h = L.Conv2D(4, 3, activation="relu", name="conv")(x)
    h = L.BatchNormalization(name="bn")(h)
    h = L.MaxPooling2D(name="pool")(h)
    h = L.Dropout(0.25, name="drop")(h)
    h = L.Flatten(name="flat")(h)
    return keras.Model(x, L.Dense(3, activation="softmax", name="probs")(h), name="convnet_fn")


def two_inputs(keras):
    """Two inputs joined by Concatenate."""
    L = keras.layers
    a = keras.Input((6,), name="left")
    b = keras.Input((4,), name="right")
    ha = L.Dense(5, activation="relu", name="left_dense")(a)
    hb = L.Dense(3, activation="tanh", name="right_dense")(b)
    h = L.Concatenate(name="joined")([ha, hb])
    return keras.Model([a, b], L.Dense(2, name="out")(h), name="two_inputs")


def shared(keras):
    """One Dense called on two inputs, every merge layer, two outputs."""
    L = keras.layers
    a = keras.Input((6,), name="a")
    b = keras.Input((6,), name="b")
    dense = L.Dense(5, activation="relu", name="shared")
    ha, hb = dense(a), dense(b)
    merged = [L.Add(name="add")([ha, hb]), L.Subtract(name="sub")([ha, hb]),
              L.Multiply(name="mul")([ha, hb]), L.Average(name="avg")([ha, hb]),
              L.Maximum(name="max")([ha, hb]), L.Minimum(name="min")([ha, hb]),
              L.Dot(axes=1, normalize=True, name="cos")([ha, hb])]
    h = L.Concatenate(name="cat")(merged)
    out1 = L.Dense(3, activation="softmax", name="o1")(h)
    out2 = L.Dense(2, name="o2")(merged[0])
    return keras.Model([a, b], [out1, out2], name="shared_model")


def nested(keras):
    """A Sequential inside a functional model, in a graph whose Keras layer order (by
    depth) differs from a depth-first one: Dense weights are keyed by that order."""
    L = keras.layers
    x = keras.Input((5,), name="x")
    h = L.Dense(6, activation="relu", name="h")(x)
    short = L.Dense(4, name="short")(h)
    long = L.Dense(4, activation="relu", name="long2")(L.Dense(5, name="long1")(h))
    block = keras.Sequential([L.Dense(4, activation="relu", name="inner1"),
                              L.Dense(3, name="inner2")], name="block")
    h2 = L.Concatenate(name="cat")([short, block(long)])
    return keras.Model(x, L.Dense(2, activation="softmax", name="out")(h2), name="nested_model")


def scale_class(keras):
    """An element-wise scale layer, registered as ``my_pkg>Scale``."""
    @keras.saving.register_keras_serializable(package="my_pkg")
    class Scale(keras.layers.Layer):
        def __init__(self, offset=0.0, **kwargs):
            super().__init__(**kwargs)
            self.offset = offset

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones",
                                     trainable=True, name="w")

        def call(self, x):
            return x * self.w + self.offset

        def get_config(self):
            return {**super().get_config(), "offset": self.offset}
    return Scale


def custom(keras, scale):
    L = keras.layers
    x = keras.Input((4,), name="x")
    h = scale(offset=0.5, name="scale")(L.Dense(3, name="d")(x))
    return keras.Model(x, L.Dense(2, name="out")(h), name="custom_model")


GRAPHS = {"convnet": convnet, "two_inputs": two_inputs, "shared": shared, "nested": nested}
COMPILED = {"convnet": "sparse_categorical_crossentropy",
            "nested": "sparse_categorical_crossentropy"}


def data(name, n=6, seed=0):
    rng = np.random.default_rng(seed)
    f = lambda *s: rng.normal(size=(n,) + s).astype("float32")  # noqa: E731
    x = {"convnet": lambda: f(8, 8, 1), "two_inputs": lambda: [f(6), f(4)],
         "shared": lambda: [f(6), f(6)], "nested": lambda: f(5),
         "custom": lambda: f(4)}[name]()
    classes = {"convnet": 3, "nested": 2}.get(name, 2)
    return x, rng.integers(0, classes, n)
