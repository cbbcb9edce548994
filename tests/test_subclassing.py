"""Layers and models written by subclassing (Keras 3 style): custom ``Layer`` classes
with ``build``/``call``/``get_config``, ``Model`` subclasses with their own ``call``,
attribute tracking of sublayers, and their use in Sequential and functional models."""
import os

import numpy as np
import pytest

import tensorlib as keras
from tensorlib import layers, ops

DATA = os.path.join(os.path.dirname(__file__), "data")


class Linear(layers.Layer):
    """Keras's guide layer: ``x @ w + b``, plus one non-trainable weight."""

    def __init__(self, units=4, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units),
                                 initializer="glorot_uniform", name="w")
        self.b = self.add_weight(shape=(self.units,), initializer="zeros", name="b")
        self.c = self.add_weight(shape=(2,), initializer="zeros", trainable=False,
                                 name="c")

    def call(self, inputs):
        return ops.matmul(inputs, self.w) + self.b

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units})
        return config


class MLP(keras.Model):
    def __init__(self, hidden=8, **kwargs):
        super().__init__(**kwargs)
        self.d1 = layers.Dense(hidden, activation="relu")
        self.d2 = layers.Dense(hidden, activation="tanh")
        self.out = layers.Dense(2)

    def call(self, inputs, training=None):
        return self.out(self.d2(self.d1(inputs)))


def _data(n=12, d=3, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, d)).astype("float32"),
            rng.normal(size=(n, 2)).astype("float32"))


def _twin_sequential(model, d=3):
    seq = keras.Sequential([keras.Input((d,))] + [
        layers.Dense(la.units, activation=la.activation) for la in model.layers])
    seq.set_weights(model.get_weights())
    return seq


# ---------------------------------------------------------------- models defined by call
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_subclassed_model_matches_an_equivalent_sequential(optimizer):
    x, y = _data()
    keras.manual_seed(1)
    model = MLP(hidden=5)
    model(x[:2])
    seq = _twin_sequential(model)
    np.testing.assert_allclose(model.predict(x, verbose=0), seq.predict(x, verbose=0),
                               rtol=1e-6, atol=1e-6)
    for m in (model, seq):
        m.compile(optimizer=optimizer, loss="mse", metrics=["mae"])
    a, b = model.train_on_batch(x, y), seq.train_on_batch(x, y)
    np.testing.assert_allclose(a, b, rtol=1e-6)
    for wa, wb in zip(model.get_weights(), seq.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0),
                               seq.evaluate(x, y, verbose=0), rtol=1e-5)
    assert model.test_on_batch(x, y) == pytest.approx(seq.test_on_batch(x, y), rel=1e-5)


def test_fit_builds_from_the_data_and_trains():
    x, y = _data(n=32)
    keras.manual_seed(0)
    model = MLP()
    assert not model.built and model.count_params() == 0
    model.compile("adam", "mse")
    history = model.fit(x, y, epochs=5, batch_size=8, verbose=0)
    assert model.built and model.count_params() == 3 * 8 + 8 + 8 * 8 + 8 + 8 * 2 + 2
    losses = history.history["loss"]
    assert len(losses) == 5 and losses[-1] < losses[0]
    assert model.predict(x, verbose=0).shape == (32, 2)


def test_explicit_build_creates_every_weight():
    model = MLP(hidden=4)
    model.build((None, 6))
    assert model.built
    assert [w.shape for w in model.weights] == [(6, 4), (4,), (4, 4), (4,), (4, 2), (2,)]
    assert len(model.trainable_weights) == 6 and model.non_trainable_weights == []


def test_summary_matches_keras_unbuilt_then_called():
    class Lin(Linear):
        pass

    class M(keras.Model):
        def __init__(self, hidden=8, **kwargs):
            super().__init__(**kwargs)
            self.d1 = layers.Dense(hidden, activation="relu", name="dense")
            self.blocks = [layers.Dense(hidden, name="dense_1"),
                           layers.Dense(hidden, name="dense_2")]
            self.lin = Lin(3, name="lin")
            self.out = layers.Dense(2, name="dense_3")

        def call(self, x, training=None):
            x = self.d1(x)
            for block in self.blocks:
                x = block(x)
            return self.out(self.lin(x))

    model, lines = M(hidden=5, name="m"), []
    model.summary(line_length=76, print_fn=lines.append)
    model(np.ones((2, 3), "float32"))
    model.summary(line_length=76, print_fn=lines.append)
    with open(os.path.join(DATA, "summary_subclassed_76.txt"), encoding="utf-8") as f:
        golden = [line for line in f.read().splitlines() if line]
    assert "\n".join(lines).splitlines() == golden


def test_model_weights_put_its_own_first_trainable_before_frozen():
    class Scaled(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(2, name="inner")

        def build(self, input_shape):
            self.count = self.add_weight(shape=(), initializer="zeros", trainable=False,
                                         name="count")
            self.scale = self.add_weight(shape=(2,), initializer="ones", name="scale")
            super().build(input_shape)

        def call(self, x):
            return self.dense(x) * self.scale

    model = Scaled()
    out = model(np.ones((3, 4), "float32"))
    assert out.shape == (3, 2)
    names = [w.name.split("/")[-1] for w in model.weights]
    assert names == ["scale", "count", "kernel", "bias"]     # Keras's order
    assert [w.name.split("/")[-1] for w in model.non_trainable_weights] == ["count"]


def test_multiple_inputs_and_outputs_as_lists():
    class Two(keras.Model):
        def __init__(self):
            super().__init__()
            self.a = layers.Dense(2, kernel_initializer="ones")
            self.b = layers.Dense(1, kernel_initializer="ones")

        def call(self, inputs, training=None):
            x1, x2 = inputs
            return [self.a(x1), self.b(x2)]

    rng = np.random.default_rng(0)
    x1, x2 = rng.normal(size=(6, 3)), rng.normal(size=(6, 4))
    y1, y2 = rng.normal(size=(6, 2)), rng.normal(size=(6, 1))
    model = Two()
    model.compile("sgd", ["mse", "mae"], loss_weights=[1.0, 0.5])
    p1, p2 = model.predict([x1, x2], verbose=0)
    np.testing.assert_allclose(p1, np.repeat(x1.sum(1, keepdims=True), 2, 1), rtol=1e-5)
    np.testing.assert_allclose(p2, x2.sum(1, keepdims=True), rtol=1e-5)
    loss, l1, l2 = model.evaluate([x1, x2], [y1, y2], verbose=0)
    assert l1 == pytest.approx(np.mean((p1 - y1) ** 2), rel=1e-5)
    assert l2 == pytest.approx(np.mean(np.abs(p2 - y2)), rel=1e-5)
    assert loss == pytest.approx(l1 + 0.5 * l2, rel=1e-5)
    logs = model.fit([x1, x2], [y1, y2], verbose=0).history
    assert sorted(logs) == ["loss", "output_1_loss", "output_2_loss"]


def test_dict_inputs_and_outputs_take_their_keys_as_names():
    class Heads(keras.Model):
        def __init__(self):
            super().__init__()
            self.a = layers.Dense(2)
            self.b = layers.Dense(1)

        def call(self, inputs):
            return {"pa": self.a(inputs["u"]), "pb": self.b(inputs["v"])}

    rng = np.random.default_rng(1)
    x = {"u": rng.normal(size=(6, 3)), "v": rng.normal(size=(6, 4))}
    y = {"pa": rng.normal(size=(6, 2)), "pb": rng.normal(size=(6, 1))}
    model = Heads()
    model.compile("sgd", {"pa": "mse", "pb": "mae"})
    history = model.fit(x, y, batch_size=3, verbose=0)
    assert sorted(history.history) == ["loss", "pa_loss", "pb_loss"]
    pred = model.predict(x, verbose=0)
    assert sorted(pred) == ["pa", "pb"] and pred["pa"].shape == (6, 2)
    loss, la, lb = model.evaluate(x, y, verbose=0)
    assert la == pytest.approx(np.mean((pred["pa"] - y["pa"]) ** 2), rel=1e-5)
    assert loss == pytest.approx(la + lb, rel=1e-5)


def test_training_reaches_layers_called_without_it():
    seen = []

    class Probe(layers.Layer):
        def call(self, x, training=None):
            seen.append(training)
            return x

    class M(keras.Model):
        def __init__(self):
            super().__init__()
            self.probe = Probe()
            self.drop = layers.Dropout(0.5, seed=3)
            self.out = layers.Dense(1)

        def call(self, x, training=None):
            return self.out(self.drop(self.probe(x)))

    x, y = np.ones((4, 3), "float32"), np.ones((4, 1), "float32")
    model = M()
    model.compile("sgd", "mse")
    model.build((None, 3))          # runs call on samples, in inference mode
    assert seen == [False, False]
    seen.clear()
    model.train_on_batch(x, y)
    assert seen == [True]
    seen.clear()
    model.predict(x, verbose=0)
    assert seen == [False]
    seen.clear()
    model(x)
    assert seen == [None]         # no training given anywhere: the call's default
    # Dropout is active in fit: the output of training mode differs from inference
    train_out = model(x, training=True).numpy()
    assert not np.allclose(train_out, model(x, training=False).numpy())


def test_a_model_in_a_model_and_in_a_functional_graph():
    x, _ = _data()
    inner = MLP(hidden=4)

    class Outer(keras.Model):
        def __init__(self):
            super().__init__()
            self.inner = inner
            self.head = layers.Dense(1)

        def call(self, x):
            return self.head(inner(x))

    outer = Outer()
    out = outer.predict(x, verbose=0)
    assert out.shape == (12, 1) and outer.layers == [inner, outer.head]
    assert len(outer.weights) == 8
    inp = keras.Input((3,))
    fn = keras.Model(inp, layers.Dense(1)(inner(inp)))
    assert fn.output_shape == (None, 1)
    np.testing.assert_allclose(fn.predict(x, verbose=0),
                               fn.layers[-1](inner(x)).numpy(), rtol=1e-6)


def test_functional_subclass_form():
    class FS(keras.Model):
        def __init__(self, units=3, **kwargs):
            inputs = keras.Input((4,))
            outputs = layers.Dense(units)(inputs)
            super().__init__(inputs=inputs, outputs=outputs, **kwargs)
            self.units = units

        def describe(self):
            return f"{self.units} units"

    model = FS(units=2)
    assert isinstance(model, FS) and isinstance(model, keras.models.Functional)
    assert type(model).__name__ == "FS" and model.describe() == "2 units"
    assert model.output_shape == (None, 2) and model.count_params() == 10
    model.compile("sgd", "mse")
    model.fit(np.ones((4, 4)), np.ones((4, 2)), verbose=0)


def test_training_false_in_a_symbolic_call_is_kept():
    base = keras.Sequential([keras.Input((3,)), layers.BatchNormalization()])
    inp = keras.Input((3,))
    model = keras.Model(inp, layers.Dense(1)(base(inp, training=False)))
    model.compile("sgd", "mse")
    before = [w.copy() for w in base.get_weights()]
    model.train_on_batch(np.random.default_rng(0).normal(size=(8, 3)) * 5 + 3,
                         np.ones((8, 1)))
    after = base.get_weights()
    np.testing.assert_array_equal(before[2], after[2])        # moving mean untouched
    np.testing.assert_array_equal(before[3], after[3])


# ---------------------------------------------------------------- custom layers
def test_custom_layer_in_sequential_and_functional_models():
    keras.manual_seed(0)
    seq = keras.Sequential([keras.Input((3,)), Linear(4), layers.Dense(1)])
    assert seq.layers[0].output_shape == (None, 4)
    assert seq.count_params() == 3 * 4 + 4 + 2 + 4 + 1
    x, y = _data(n=16)
    seq.compile("adam", "mse")
    losses = seq.fit(x, y[:, :1], epochs=4, verbose=0).history["loss"]
    assert losses[-1] < losses[0]
    inp = keras.Input((None, 3))                   # an unknown axis besides the batch
    out = Linear(2)(inp)
    assert out.shape == (None, None, 2)
    model = keras.Model(inp, out)
    lin = model.layers[-1]
    xs = np.ones((2, 5, 3), "float32")
    np.testing.assert_allclose(model.predict(xs, verbose=0),
                               xs @ lin.w.numpy() + lin.b.numpy(), rtol=1e-6)


def test_compute_output_shape_is_used_when_defined():
    calls = []

    class Pair(layers.Layer):
        def call(self, x):
            calls.append(x.shape)
            return [x * 2.0, ops.sum(x, axis=-1, keepdims=True)]

        def compute_output_shape(self, input_shape):
            return [tuple(input_shape), tuple(input_shape[:-1]) + (1,)]

    inp = keras.Input((3,))
    a, b = Pair()(inp)
    assert calls == [] and a.shape == (None, 3) and b.shape == (None, 1)
    model = keras.Model(inp, [a, b])
    pa, pb = model.predict(np.ones((2, 3)), verbose=0)
    np.testing.assert_array_equal(pa, 2 * np.ones((2, 3)))
    np.testing.assert_array_equal(pb, 3 * np.ones((2, 1)))


def test_a_layer_that_owns_sublayers_tracks_their_weights():
    class Residual(layers.Layer):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.first = layers.Dense(units, activation="relu")
            self.second = layers.Dense(units)
            self.not_layers = [1, "two", None]

        def call(self, x):
            return x + self.second(self.first(x))

    block = Residual(3)
    x = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
    out = block(x).numpy()
    k1, b1, k2, b2 = block.get_weights()
    ref = x + np.maximum(x @ k1 + b1, 0) @ k2 + b2
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)
    assert [w.name for w in block.weights] == [
        f"{block.first.name}/kernel", f"{block.first.name}/bias",
        f"{block.second.name}/kernel", f"{block.second.name}/bias"]
    assert block.count_params() == 24
    block.first.trainable = False
    assert len(block.trainable_weights) == 2 and len(block.non_trainable_weights) == 2
    block.trainable = False
    assert block.trainable_weights == [] and not block.second.trainable


def test_tracking_of_lists_and_dicts_in_assignment_order():
    class M(keras.Model):
        def __init__(self):
            super().__init__()
            self.head = layers.Dense(1, name="head")
            self.blocks = []
            for i in range(2):
                self.blocks.append(layers.Dense(2, name=f"block{i}"))
            self.by_name = {"z": layers.Dense(2, name="z"), "a": layers.Dense(2, name="a")}
            self.alias = self.head                 # the same layer once
            self.junk = [3, "x"]

        def call(self, x):
            for layer in self.blocks + [self.by_name["z"], self.by_name["a"]]:
                x = layer(x)
            return self.head(x)

    model = M()
    assert [la.name for la in model.layers] == ["head", "block0", "block1", "z", "a"]
    model(np.ones((1, 2), "float32"))
    assert len(model.weights) == 10


def test_frozen_layer_keeps_its_weights_in_training():
    x, y = _data()
    model = MLP()
    model(x[:1])
    model.d1.trainable = False
    frozen = model.d1.get_weights()
    model.compile("adam", "mse")
    model.fit(x, y, epochs=2, verbose=0)
    for a, b in zip(frozen, model.d1.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert len(model.trainable_weights) == 4 and len(model.non_trainable_weights) == 2
    model.trainable = False
    assert model.trainable_weights == [] and not model.out.trainable


def test_add_weight_keyword_and_positional_forms():
    class W(layers.Layer):
        def build(self, input_shape):
            self.a = self.add_weight((2, 3), "ones")
            self.b = self.add_weight(shape=(3,), initializer=keras.initializers.Constant(2.0),
                                     dtype="float64", name="b", regularizer=None,
                                     constraint=None, aggregation="mean", autocast=False)
            self.s = self.add_weight(name="scalar")

        def call(self, x):
            return x

    layer = W()
    layer(np.ones((1, 2)))
    assert layer.a.shape == (2, 3) and np.all(layer.a.numpy() == 1)
    assert layer.b.dtype == np.float64 and np.all(layer.b.numpy() == 2)
    assert layer.s.shape == ()


@pytest.mark.parametrize("kwargs, error, match", [
    ({"shape": (2, None)}, ValueError, r"add_weight\(\).*shape.*Received: shape=\(2, None\)"),
    ({"shape": "ab"}, ValueError, "Received: shape='ab'"),
    ({"shape": (2,), "regularizer": "bogus"}, ValueError, "Received: regularizer='bogus'"),
    ({"shape": (2,), "constraint": "bogus"}, ValueError, "Received: constraint='bogus'"),
    ({"shape": (2,), "dtype": "int32"}, ValueError, "floating-point.*Received: dtype='int32'"),
    ({"shape": (2,), "initializer": lambda s, dtype=None: np.zeros(3)}, ValueError,
     r"shape \(3,\) for a weight of shape \(2,\)"),
])
def test_add_weight_errors_name_the_layer_and_value(kwargs, error, match):
    layer = layers.Layer(name="holder")
    with pytest.raises(error, match=match) as info:
        layer.add_weight(**kwargs)
    assert "holder" in str(info.value)


def test_add_weight_positional_name_is_refused():
    with pytest.raises(ValueError, match="`name` must be passed as a keyword"):
        layers.Layer().add_weight("kernel", (2, 2))


def test_call_returning_a_non_tensor_is_a_clear_error():
    class Bad(keras.Model):
        def __init__(self):
            super().__init__()
            self.d = layers.Dense(1)

        def call(self, x):
            return self.d(x).numpy()

    model = Bad()
    model.compile("sgd", "mse")
    with pytest.raises(TypeError, match=r"Bad\.call\(\) must return a tensor.*Received: "
                                        r"ndarray"):
        model.fit(np.ones((2, 3)), np.ones((2, 1)), verbose=0)


def test_unknown_call_keyword_is_a_clear_error():
    layer = Linear(2, name="lin_kw")
    with pytest.raises(TypeError, match=r"'lin_kw' \(Linear\).*\['scale'\].*Received: "
                                        r"scale=2"):
        layer(np.ones((1, 3)), scale=2)


def test_call_extra_keyword_arguments_are_passed():
    class Masked(layers.Layer):
        def call(self, inputs, mask=None, scale=1.0):
            return inputs * scale if mask is None else inputs * mask

    layer = Masked()
    np.testing.assert_array_equal(layer(np.ones((1, 2)), scale=3.0).numpy(), [[3, 3]])
    np.testing.assert_array_equal(layer(np.ones((1, 2)), mask=np.array([[1.0, 0.0]])).numpy(),
                                  [[1, 0]])
    inp = keras.Input((2,))
    model = keras.Model(inp, layer(inp, scale=5.0))
    np.testing.assert_array_equal(model.predict(np.ones((1, 2)), verbose=0), [[5, 5]])


# ---------------------------------------------------------------- config and saving
def test_layer_config_roundtrip():
    layer = Linear(7, name="lin_cfg", trainable=False)
    config = layer.get_config()
    assert config == {"name": "lin_cfg", "trainable": False, "dtype": "float32", "units": 7}
    clone = Linear.from_config(config)
    assert clone.units == 7 and clone.name == "lin_cfg" and not clone.trainable


def test_automatic_config_of_simple_constructor_arguments():
    class Auto(layers.Layer):
        def __init__(self, units, act="relu", sizes=(1, 2), **kwargs):
            super().__init__(**kwargs)
            self.units = units

        def call(self, x):
            return x

    config = Auto(3, sizes=[4], name="auto").get_config()
    assert config == {"name": "auto", "units": 3, "act": "relu", "sizes": [4],
                      "trainable": True, "dtype": "float32"}
    assert Auto.from_config(config).units == 3
    assert MLP(hidden=5, name="mlp_cfg").get_config() == {
        "name": "mlp_cfg", "hidden": 5, "trainable": True, "dtype": "float32"}
    assert MLP.from_config(MLP(hidden=6).get_config()).d1.units == 6


def test_non_serializable_constructor_arguments_need_get_config():
    class Holder(keras.Model):
        def __init__(self, thing):
            super().__init__()
            self.thing = thing
            self.d = layers.Dense(1)

        def call(self, x):
            return self.d(x)

    with pytest.raises(NotImplementedError, match=r"Holder.*non-serializable.*get_config"):
        Holder(object()).get_config()


@pytest.mark.parametrize("suffix", [".npz", ".weights.h5"])
def test_save_and_load_weights(tmp_path, suffix):
    if suffix.endswith("h5"):
        pytest.importorskip("h5py")
    x, _ = _data()
    model = MLP(hidden=4)
    model(x[:1])
    path = str(tmp_path / f"m{suffix}")
    model.save_weights(path)
    other = MLP(hidden=4)
    other.build((None, 3))
    other.load_weights(path)
    np.testing.assert_array_equal(other.predict(x, verbose=0), model.predict(x, verbose=0))


def test_set_weights_checks_before_assigning():
    model = MLP(hidden=2)
    model.build((None, 3))
    weights = model.get_weights()
    with pytest.raises(ValueError, match="Model"):
        model.set_weights(weights[:-1])
    model.set_weights([w + 1 for w in weights])
    np.testing.assert_array_equal(model.get_weights()[0], weights[0] + 1)


def test_symbolic_tensors_in_several_arguments_of_a_custom_layer():
    """``layer(targets, logits)`` in a functional model (Keras's endpoint pattern): both
    symbolic arguments are node inputs and reach ``call`` when the model runs."""
    class Weighted(keras.layers.Layer):
        def call(self, a, b, scale=1.0):
            return a * scale + b

    x = keras.Input((3,), name="x")
    y = keras.Input((3,), name="y")
    out = Weighted()(x, keras.layers.Dense(3, name="d")(y), scale=2.0)
    model = keras.Model([x, y], out)
    xa = np.arange(6, dtype=np.float32).reshape(2, 3)
    ya = np.ones((2, 3), np.float32)
    w, b = model.get_layer("d").get_weights()
    np.testing.assert_allclose(model.predict([xa, ya], verbose=0), xa * 2.0 + ya @ w + b,
                               rtol=1e-6)
