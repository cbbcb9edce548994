"""``models.clone_model``, ``to_json`` / ``model_from_json``, ``utils.normalize`` and
``utils.split_dataset`` (Keras 3's semantics and messages)."""
import json

import numpy as np
import pytest

import tensorlib as keras
from tensorlib import layers


def seq():
    return keras.Sequential([keras.Input((4,)), layers.Dense(5, activation="relu"),
                             layers.Dropout(0.1), layers.Dense(2)], name="seq")


def functional():
    a, b = keras.Input((4,), name="a"), keras.Input((3,), name="b")
    shared = layers.Dense(3, name="shared")
    h = layers.Concatenate(name="cat")([shared(layers.Dense(3, name="pa")(a)), shared(b)])
    inner = keras.Sequential([keras.Input((6,)), layers.Dense(2, name="inner_d")],
                             name="inner")
    return keras.Model([a, b], [inner(h), layers.Dense(1, name="out2")(h)], name="fn")


def same_structure(m1, m2):
    assert [type(la) for la in m1.layers] == [type(la) for la in m2.layers]
    assert [w.shape for w in m1.weights] == [w.shape for w in m2.weights]


def test_clone_sequential_has_new_weights_and_same_architecture():
    keras.utils.set_random_seed(0)
    m = seq()
    c = keras.models.clone_model(m)
    same_structure(m, c)
    assert [la.name for la in c.layers] == [la.name for la in m.layers]
    assert all(w1 is not w2 for w1, w2 in zip(m.weights, c.weights))
    assert not np.allclose(m.layers[0].kernel.numpy(), c.layers[0].kernel.numpy())
    c.set_weights(m.get_weights())
    x = np.random.RandomState(0).rand(5, 4).astype("float32")
    np.testing.assert_array_equal(c.predict(x, verbose=0), m.predict(x, verbose=0))


def test_clone_functional_keeps_sharing_and_uses_clone_function():
    m = functional()
    seen = []

    def fn(layer):
        seen.append(layer.name)
        return layer.__class__.from_config(layer.get_config())
    c = keras.models.clone_model(m, clone_function=fn)
    same_structure(m, c)
    assert seen.count("shared") == 1 and "inner" in seen
    c.set_weights(m.get_weights())
    rng = np.random.RandomState(1)
    x = [rng.rand(3, 4).astype("float32"), rng.rand(3, 3).astype("float32")]
    for got, want in zip(c.predict(x, verbose=0), m.predict(x, verbose=0)):
        np.testing.assert_allclose(got, want, rtol=1e-6)
    assert c.get_layer("shared") is not m.get_layer("shared")


def test_clone_recursive_clones_nested_models():
    m = functional()
    c = keras.models.clone_model(m, recursive=True)
    assert c.get_layer("inner") is not m.get_layer("inner")
    same_structure(m, c)


def test_clone_subclassed_model_from_config():
    class Net(keras.Model):
        def __init__(self, units=3, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.d = layers.Dense(units)

        def call(self, x):
            return self.d(x)
    m = Net(4)
    m(np.zeros((2, 3), "float32"))
    c = keras.models.clone_model(m)
    assert type(c) is Net and c.units == 4
    with pytest.raises(ValueError, match=r"clone_function.*Sequential and functional"):
        keras.models.clone_model(m, clone_function=lambda la: la)


@pytest.mark.parametrize("kwargs, match", [
    ({"input_tensors": [1]}, r"input_tensors.*not supported"),
    ({"clone_function": 3}, r"clone_function.*callable"),
])
def test_clone_refusals(kwargs, match):
    with pytest.raises(ValueError, match=match):
        keras.models.clone_model(seq(), **kwargs)


def test_to_json_round_trip_with_compile():
    m = functional()
    m.compile(optimizer="adam", loss="mse")
    text = m.to_json()
    record = json.loads(text)
    assert record["class_name"] == "Functional" and "compile_config" in record
    c = keras.models.model_from_json(text)
    same_structure(m, c)
    assert c.compiled and type(c.optimizer).__name__ == "Adam"
    s = keras.models.model_from_json(seq().to_json(indent=2))
    assert [type(la).__name__ for la in s.layers] == ["Dense", "Dropout", "Dense"]
    assert not s.compiled and "compile_config" not in json.loads(seq().to_json())


@pytest.mark.parametrize("text, match", [
    ("{not json", r"model_from_json: not valid JSON"),
    ('{"class_name": "Sequential"}', r"model_from_json: .*config"),
    ("[" * 200 + "]" * 200, r"nested too deeply"),
])
def test_model_from_json_refusals(text, match):
    with pytest.raises(ValueError, match=match):
        keras.models.model_from_json(text)


# ---------------------------------------------------------------- utils
def test_normalize_arrays_and_tensors():
    x = np.array([[3.0, 4.0], [0.0, 0.0], [1.0, -1.0]])
    out = keras.utils.normalize(x)
    np.testing.assert_allclose(out, [[0.6, 0.8], [0, 0], [2**-0.5, -2**-0.5]])
    np.testing.assert_allclose(keras.utils.normalize(x, axis=0, order=1),
                               x / np.array([4.0, 5.0]))
    t = keras.Tensor(x.astype(np.float64), requires_grad=True)
    y = keras.utils.normalize(t)
    np.testing.assert_allclose(y.numpy(), out)
    (y * keras.Tensor(np.array([[1.0, 0.0], [0, 0], [0, 0]]))).sum().backward()
    # d(x0 / |x|)/dx at (3, 4): (|x|^2 - x0 x) / |x|^3
    np.testing.assert_allclose(t.grad[0], [(25 - 9) / 125, -12 / 125], rtol=1e-12)


def test_split_dataset_sizes_order_and_structures():
    x = np.arange(10)
    left, right = keras.utils.split_dataset(x, left_size=0.8)
    assert left.tolist() == list(range(8)) and right.tolist() == [8, 9]
    left, right = keras.utils.split_dataset(x, left_size=3, right_size=2)
    assert left.tolist() == [0, 1, 2] and right.tolist() == [8, 9]
    y = np.arange(10) * 10
    (lx, ly), (rx, ry) = keras.utils.split_dataset((x, y), right_size=0.3, shuffle=True,
                                                   seed=1)
    assert len(lx) == 7 and len(rx) == 3 and (ly == lx * 10).all() and (ry == rx * 10).all()
    assert sorted(lx.tolist() + rx.tolist()) == list(range(10))
    again = keras.utils.split_dataset((x, y), right_size=0.3, shuffle=True, seed=1)
    assert again[0][0].tolist() == lx.tolist()
    d_left, d_right = keras.utils.split_dataset({"a": x, "b": y}, left_size=0.5)
    assert d_left["b"].tolist() == [0, 10, 20, 30, 40] and set(d_right) == {"a", "b"}


@pytest.mark.parametrize("kwargs, err, match", [
    ({}, ValueError, r"At least one of the `left_size` or `right_size`"),
    ({"left_size": 1.5}, ValueError, r"`left_size` should be .*Received: left_size=1.5"),
    ({"left_size": 10}, ValueError, r"smaller than 10"),
    ({"left_size": 0.6, "right_size": 0.6}, ValueError, r"greater than 1"),
    ({"left_size": "a"}, TypeError, r"Invalid `left_size` Type"),
    ({"left_size": 0.01}, ValueError, r"left side dataset split will be empty"),
])
def test_split_dataset_refusals(kwargs, err, match):
    with pytest.raises(err, match=match):
        keras.utils.split_dataset(np.arange(10), **kwargs)
