"""Functional models used by the Keras oracle tests, written once against the Keras 3 API.

Each builder takes the ``keras`` module, so the fixture script runs them with real Keras
and the tests with ``import tensorlib as keras``: the same code builds both models. Every
layer is named, so weights are matched by layer name.
"""
import numpy as np


def merges(keras):
    """Two inputs through one shared Dense, every merge layer, a softmax head."""
    L = keras.layers
    a = keras.Input((6,), name="a")
    b = keras.Input((6,), name="b")
    shared = L.Dense(5, activation="relu", name="shared")
    ha, hb = shared(a), shared(b)
    merged = [L.Add(name="add")([ha, hb]), L.Subtract(name="sub")([ha, hb]),
              L.Multiply(name="mul")([ha, hb]), L.Average(name="avg")([ha, hb]),
              L.Maximum(name="max")([ha, hb]), L.Minimum(name="min")([ha, hb])]
    h = L.Concatenate(name="cat")(merged)
    out = L.Dense(3, activation="softmax", name="out")(h)
    model = keras.Model(inputs=[a, b], outputs=out, name="merges")
    compile_args = dict(loss="categorical_crossentropy", metrics=["accuracy"])
    return model, compile_args


def multi_output(keras):
    """One input, two named outputs (dict structure), a Dot product inside."""
    L = keras.layers
    x = keras.Input((8,), name="x")
    h = L.Dense(6, activation="tanh", name="trunk")(x)
    p = L.Dense(4, name="p")(h)
    q = L.Dense(4, name="q")(h)
    d = L.Dot(axes=1, normalize=True, name="cos")([p, q])
    cls = L.Dense(3, activation="softmax", name="cls")(h)
    reg = L.Dense(2, name="reg")(L.Concatenate(name="cat2")([h, d]))
    model = keras.Model(inputs={"x": x}, outputs={"cls": cls, "reg": reg}, name="multi")
    compile_args = dict(loss={"cls": "categorical_crossentropy", "reg": "mse"},
                        loss_weights={"cls": 1.0, "reg": 0.5},
                        metrics={"cls": ["accuracy"], "reg": ["mae"]})
    return model, compile_args


def nested(keras):
    """A Sequential used as a layer inside a functional model, and a Dot of rank 3."""
    L = keras.layers
    x = keras.Input((5,), name="x")
    block = keras.Sequential([L.Dense(4, activation="relu", name="inner1"),
                              L.Dense(6, name="inner2")], name="block")
    h = block(x)
    r = L.Reshape((2, 3), name="r")(h)
    s = L.Dot(axes=(2, 2), name="dot3")([r, r])
    f = L.Flatten(name="flat")(s)
    out = L.Dense(2, activation="softmax", name="head")(L.Concatenate(name="cat3")([f, h]))
    model = keras.Model(x, out, name="nested")
    compile_args = dict(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model, compile_args


GRAPHS = {"merges": merges, "multi_output": multi_output, "nested": nested}


def data(name, n=6, seed=0):
    """Inputs and targets for graph ``name`` (as the model's structures expect them)."""
    rng = np.random.default_rng(seed)
    if name == "merges":
        x = [rng.normal(size=(n, 6)).astype("float32"), rng.normal(size=(n, 6)).astype("float32")]
        y = np.eye(3, dtype="float32")[rng.integers(0, 3, n)]
    elif name == "multi_output":
        x = {"x": rng.normal(size=(n, 8)).astype("float32")}
        y = {"cls": np.eye(3, dtype="float32")[rng.integers(0, 3, n)],
             "reg": rng.normal(size=(n, 2)).astype("float32")}
    else:
        x = rng.normal(size=(n, 5)).astype("float32")
        y = rng.integers(0, 2, n).astype("int64")
    return x, y


def weights_by_layer(model):
    """{"layer/i": array} for every layer with weights (nested models as one layer)."""
    out = {}
    for layer in model.layers:
        for i, w in enumerate(layer.get_weights()):
            out[f"{layer.name}/{i}"] = np.asarray(w)
    return out


def set_weights_by_layer(model, arrays):
    for layer in model.layers:
        ws = [arrays[f"{layer.name}/{i}"] for i in range(len(layer.get_weights()))]
        if ws:
            layer.set_weights(ws)


def optimizer(keras, name):
    return {"sgd": lambda: keras.optimizers.SGD(0.1, momentum=0.9),
            "rmsprop": lambda: keras.optimizers.RMSprop(0.01),
            "adam": lambda: keras.optimizers.Adam(0.01)}[name]()
