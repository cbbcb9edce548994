"""Subclassed models and layers with sublayers, written once for both Keras 3 and
tensorlib (``define(keras)`` takes either module): the cases behind the
``sub_*.keras`` fixtures (``make_keras_subclassed_files.py``) and their tests."""
import numpy as np


def define(keras):
    reg = keras.saving.register_keras_serializable(package="tlsub")

    @reg
    class Block(keras.layers.Layer):
        """Own weight, attribute sublayers and a list of them."""

        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.d1 = keras.layers.Dense(units, activation="relu")
            self.d2 = keras.layers.Dense(units)
            self.extra = [keras.layers.Dense(3), keras.layers.Dense(3, activation="tanh")]

        def build(self, input_shape):
            self.scale = self.add_weight(shape=(self.units,), initializer="ones",
                                         name="scale")

        def call(self, x):
            return self.extra[1](self.extra[0](self.d2(self.d1(x)) * self.scale))

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    @reg
    class Net(keras.Model):
        """A custom layer, a dict of layers, a BatchNormalization reached through the
        model's ``layers`` before its own attribute ``norm``."""

        def __init__(self, hidden=8, **kwargs):
            super().__init__(**kwargs)
            self.hidden = hidden
            self.block = Block(hidden)
            self.head = keras.layers.Dense(2)
            self.norm = keras.layers.BatchNormalization()
            self.blocks = {"a": keras.layers.Dense(4)}

        def call(self, x, training=None):
            h = self.norm(self.block(x), training=training)
            return self.head(self.blocks["a"](h))

        def get_config(self):
            return {**super().get_config(), "hidden": self.hidden}

    @reg
    class Private(keras.Model):
        """A private attribute, an attribute sorting after ``layers``, a shared layer and
        a nested list."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self._inner = keras.layers.Dense(5, activation="relu")
            self.shared = keras.layers.Dense(5)
            self.stack = [[keras.layers.Dense(4)], keras.layers.Dropout(0.0)]
            self.z_out = keras.layers.Dense(3)

        def call(self, x):
            h = self.shared(self.shared(self._inner(x)))
            return self.z_out(self.stack[1](self.stack[0][0](h)))

    @reg
    class TwoInputs(keras.Model):
        """A list of two inputs."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.left = keras.layers.Dense(4)
            self.right = keras.layers.Dense(4)
            self.merge = keras.layers.Concatenate()
            self.out = keras.layers.Dense(2)

        def call(self, inputs):
            a, b = inputs
            return self.out(self.merge([self.left(a), self.right(b)]))

    @reg
    class FnSub(keras.Model):
        """A "functional subclass": its __init__ builds a graph and calls
        super().__init__(inputs, outputs)."""

        def __init__(self, units=4, **kwargs):
            inp = keras.Input((5,))
            hidden = keras.layers.Dense(units, activation="relu")(inp)
            super().__init__(inp, keras.layers.Dense(2)(hidden), **kwargs)
            self.units = units

        def get_config(self):
            return {"units": self.units, "name": self.name}

    return {"Block": Block, "Net": Net, "Private": Private, "TwoInputs": TwoInputs,
            "FnSub": FnSub}


def cases(keras, classes):
    """{name: (model, inputs, targets)}: built, not compiled."""
    rng = np.random.RandomState(7)
    x5 = rng.rand(6, 5).astype("float32")
    out = {}
    out["net"] = (classes["Net"](8), x5, rng.rand(6, 2).astype("float32"))
    out["private"] = (classes["Private"](), x5, rng.rand(6, 3).astype("float32"))
    two = [rng.rand(6, 3).astype("float32"), rng.rand(6, 2).astype("float32")]
    out["two_inputs"] = (classes["TwoInputs"](), two, rng.rand(6, 2).astype("float32"))
    out["fn_sub"] = (classes["FnSub"](6), x5, rng.rand(6, 2).astype("float32"))
    inp = keras.Input((5,), name="x")
    fn = keras.Model(inp, keras.layers.Dense(2)(classes["Block"](6)(inp)), name="fn_block")
    out["fn_block"] = (fn, x5, rng.rand(6, 2).astype("float32"))
    seq = keras.Sequential([keras.Input((5,)), classes["Block"](4), keras.layers.Dense(2)],
                           name="seq_block")
    out["seq_block"] = (seq, x5, rng.rand(6, 2).astype("float32"))
    for model, x, _ in out.values():
        model(x)
    return out
