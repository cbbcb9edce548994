"""The functional API: symbolic inputs, nodes, graphs, merge layers, nested models,
multi-input/multi-output training and the errors raised when a model is built."""
import numpy as np
import pytest

import tensorlib as keras
from tensorlib import Tensor, graph, layers, models
from tensorlib.models.functional import Functional

L = layers


def np_dense(x, layer, act=None):
    k, b = layer.get_weights()
    y = x @ k + b
    if act == "relu":
        y = np.maximum(y, 0)
    if act == "softmax":
        e = np.exp(y - y.max(-1, keepdims=True))
        y = e / e.sum(-1, keepdims=True)
    return y


# ----------------------------------------------------------------- symbolic tensors
def test_input_is_symbolic_and_records_an_input_layer():
    x = keras.Input((4, 3), name="img")
    assert isinstance(x, graph.SymbolicTensor) and x.shape == (None, 4, 3)
    assert x.dtype == np.float32 and isinstance(x.node.layer, L.InputLayer)
    assert x.node.layer.name == "img" and x.node.layer.output is x
    assert keras.Input(batch_shape=(8, 2)).shape == (8, 2)
    assert keras.Input((2,), batch_size=5).shape == (5, 2)
    with pytest.raises(TypeError):
        bool(x)


@pytest.mark.parametrize("kwargs, match", [
    ({}, "must pass a `shape`.*Received"),
    ({"shape": (3,), "batch_shape": (None, 3)}, "both `shape` and `batch_shape`.*Received"),
    ({"batch_size": 2, "batch_shape": (None, 3)}, "both `batch_size`.*Received"),
    ({"shape": 3}, "Received"),
    ({"shape": (-1,)}, "Received"),
    ({"shape": ("a",)}, "Received"),
    ({"shape": (3,), "sparse": True}, "sparse.*Received"),
])
def test_input_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        keras.Input(**kwargs)


def test_input_layer_accepts_keras2_input_shape():
    il = L.InputLayer(input_shape=(5,))
    assert il.batch_shape == (None, 5) and il.output.shape == (None, 5)
    m = models.Sequential([il, L.Dense(2)])
    assert m.built and m.output_shape == (None, 2)


def test_calling_a_layer_records_a_node():
    x = keras.Input((4,))
    d = L.Dense(3, name="d")
    y = d(x)
    assert y.shape == (None, 3) and d.built and d.output is y and d.input is x
    node = y.node
    assert node.layer is d and node.inputs == [x] and node.outputs == [y]
    with pytest.raises(AttributeError, match="never been called"):
        L.Dense(2).output


# ----------------------------------------------------------------- merge layers
MERGES = [(L.Add, np.add), (L.Subtract, np.subtract), (L.Multiply, np.multiply),
          (L.Average, lambda a, b: (a + b) / 2), (L.Maximum, np.maximum),
          (L.Minimum, np.minimum)]


@pytest.mark.parametrize("cls, fn", MERGES)
def test_merge_forward_and_backward_match_numpy(cls, fn, rng):
    a = rng.normal(size=(3, 4))
    b = rng.normal(size=(3, 4))
    ta, tb = Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)
    layer = cls(dtype="float64")
    out = layer([ta, tb])
    np.testing.assert_allclose(out.data, fn(a, b), rtol=1e-12)
    w = rng.normal(size=(3, 4))
    (out * Tensor(w)).sum().backward()
    eps = 1e-6                          # central differences on the weighted sum
    for t, arr, other_first in ((ta, a, True), (tb, b, False)):
        num = np.zeros_like(arr)
        for i in np.ndindex(arr.shape):
            hi, lo = arr.copy(), arr.copy()
            hi[i] += eps
            lo[i] -= eps
            f = (lambda v: (fn(v, b) * w).sum()) if other_first else \
                (lambda v: (fn(a, v) * w).sum())
            num[i] = (f(hi) - f(lo)) / (2 * eps)
        np.testing.assert_allclose(t.grad.data, num, rtol=1e-5, atol=1e-7)


def test_add_three_inputs_and_broadcast_shape():
    xs = [keras.Input((1, 3)), keras.Input((4, 3)), keras.Input((4, 3))]
    assert L.Add()(xs).shape == (None, 4, 3)
    arrays = [np.ones((2, 1, 3)), np.full((2, 4, 3), 2.0), np.full((2, 4, 3), 3.0)]
    np.testing.assert_allclose(L.Add()(arrays).data, np.full((2, 4, 3), 6.0))


def test_concatenate_and_dot_match_numpy(rng):
    a, b = rng.normal(size=(2, 3)).astype("f4"), rng.normal(size=(2, 5)).astype("f4")
    np.testing.assert_allclose(L.Concatenate()([a, b]).data, np.concatenate([a, b], 1))
    c = rng.normal(size=(2, 3)).astype("f4")
    np.testing.assert_allclose(L.Dot(axes=1)([a, c]).data, (a * c).sum(1, keepdims=True),
                               rtol=1e-6)
    na = a / np.linalg.norm(a, axis=1, keepdims=True)
    nc = c / np.linalg.norm(c, axis=1, keepdims=True)
    np.testing.assert_allclose(L.Dot(axes=1, normalize=True)([a, c]).data,
                               (na * nc).sum(1, keepdims=True), rtol=1e-5)
    p, q = rng.normal(size=(2, 3, 4)).astype("f4"), rng.normal(size=(2, 5, 3)).astype("f4")
    np.testing.assert_allclose(L.Dot(axes=(1, 2))([p, q]).data,
                               np.einsum("bij,bki->bjk", p, q), rtol=1e-5)
    assert L.Dot(axes=(1, 2))([keras.Input((3, 4)), keras.Input((5, 3))]).shape == \
        (None, 4, 5)


@pytest.mark.parametrize("make, match", [
    (lambda: L.Add()([keras.Input((3,)), keras.Input((4,))]), "incompatible shapes.*Received"),
    (lambda: L.Subtract()([keras.Input((3,))] * 3), "exactly 2 inputs.*Received"),
    (lambda: L.Add()(keras.Input((3,))), "list of inputs.*Received"),
    (lambda: L.Concatenate()([keras.Input((3,)), keras.Input((2, 3))]), "Concatenate.*Received"),
    (lambda: L.Dot(axes=1)([keras.Input((3,)), keras.Input((4,))]), "axis values.*Received"),
    (lambda: L.Dense(2)([keras.Input((3,)), keras.Input((3,))]), "expects 1 input.*Received"),
])
def test_bad_merge_calls_raise_at_build_time(make, match):
    with pytest.raises(ValueError, match=match):
        make()


# ----------------------------------------------------------------- models
def two_input_model():
    a, b = keras.Input((4,), name="a"), keras.Input((4,), name="b")
    shared = L.Dense(3, activation="relu", name="shared")
    h = L.Concatenate(name="cat")([shared(a), shared(b)])
    out = L.Dense(2, activation="softmax", name="out")(h)
    return keras.Model([a, b], out, name="two"), shared


def test_model_of_inputs_and_outputs_is_functional_with_shared_weights(rng):
    model, shared = two_input_model()
    assert isinstance(model, Functional) and isinstance(model, keras.Model)
    assert [la.name for la in model.layers] == ["a", "b", "shared", "cat", "out"]
    assert len(model.weights) == 4 and model.count_params() == 4 * 3 + 3 + 6 * 2 + 2
    assert len(shared._inbound_nodes) == 2
    a, b = rng.normal(size=(5, 4)).astype("f4"), rng.normal(size=(5, 4)).astype("f4")
    h = np.concatenate([np_dense(a, shared, "relu"), np_dense(b, shared, "relu")], 1)
    expected = np_dense(h, model.get_layer("out"), "softmax")
    np.testing.assert_allclose(model.predict([a, b], verbose=0), expected, rtol=1e-5)
    np.testing.assert_allclose(model([a, b]).data, expected, rtol=1e-5)
    np.testing.assert_allclose(model.predict({"a": a, "b": b}, verbose=0), expected, rtol=1e-5)


def test_inputs_outputs_get_layer():
    model, shared = two_input_model()
    assert [t.name for t in model.inputs] == ["a", "b"] and model.input == model.inputs
    assert model.outputs == [model.get_layer("out").output] and model.output is model.outputs[0]
    assert model.get_layer(index=2) is shared and model.get_layer(index=-1).name == "out"
    assert model.input_shape == [(None, 4), (None, 4)] and model.output_shape == (None, 2)
    for kwargs, match in (({}, "Provide either"), ({"name": "zz"}, "No such layer: zz"),
                          ({"index": 9}, "index 9")):
        with pytest.raises(ValueError, match=match + ".*Received"):
            model.get_layer(**kwargs)


def test_topological_order_is_computed_once_and_reused():
    model, _ = two_input_model()
    order = model._graph.nodes
    names = [n.layer.name for n in order]
    assert names == ["shared", "shared", "cat", "out"]
    model.predict([np.ones((2, 4))] * 2, verbose=0)
    assert model._graph.nodes is order


def test_feature_extraction_from_sequential_and_functional(rng):
    seq = models.Sequential([keras.Input((6,)), L.Dense(5, activation="relu", name="f1"),
                             L.Dense(4, name="f2"), L.Dense(3, activation="softmax",
                                                           name="f3")])
    feats = keras.Model(inputs=seq.inputs, outputs=[la.output for la in seq.layers])
    x = rng.normal(size=(7, 6)).astype("f4")
    outs = feats.predict(x, verbose=0)
    h1 = np_dense(x, seq.layers[0], "relu")
    h2 = np_dense(h1, seq.layers[1])
    for got, want in zip(outs, [h1, h2, np_dense(h2, seq.layers[2], "softmax")]):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    model, shared = two_input_model()
    sub = keras.Model(model.inputs, model.get_layer("cat").output)
    assert sub.output_shape == (None, 6) and sub.get_layer("shared") is shared


def test_sequential_nested_in_sequential_and_in_functional(rng):
    inner = models.Sequential([L.Dense(4, activation="relu", name="i1"), L.Dense(3, name="i2")],
                              name="inner")
    outer = models.Sequential([keras.Input((5,)), inner, L.Dense(2, name="o")], name="outer")
    assert outer.output_shape == (None, 2) and len(outer.weights) == 6
    x = rng.normal(size=(3, 5)).astype("f4")
    want = np_dense(np_dense(np_dense(x, inner.layers[0], "relu"), inner.layers[1]),
                    outer.layers[1])
    np.testing.assert_allclose(outer.predict(x, verbose=0), want, rtol=1e-5, atol=1e-6)
    i = keras.Input((5,))
    fmodel = keras.Model(i, outer(i))           # a model as a layer (weights shared)
    np.testing.assert_allclose(fmodel.predict(x, verbose=0), want, rtol=1e-5, atol=1e-6)
    assert len(fmodel.weights) == 6 and fmodel.layers[1] is outer
    j = keras.Input((5,))
    twice = keras.Model(j, L.Add()([fmodel(j), fmodel(j)]))     # functional in functional
    np.testing.assert_allclose(twice.predict(x, verbose=0), 2 * want, rtol=1e-5, atol=1e-6)


def test_multi_input_multi_output_training_names_and_order(rng):
    a, b = keras.Input((4,), name="a"), keras.Input((3,), name="b")
    h = L.Concatenate()([a, b])
    o1 = L.Dense(3, activation="softmax", name="out1")(h)
    o2 = L.Dense(1, name="out2")(h)
    model = keras.Model([a, b], [o1, o2])
    model.compile("sgd", loss=["categorical_crossentropy", "mse"],
                  metrics=[["accuracy"], ["mae"]], loss_weights=[1.0, 0.5])
    x = [rng.normal(size=(8, 4)).astype("f4"), rng.normal(size=(8, 3)).astype("f4")]
    y = [np.eye(3, dtype="f4")[np.arange(8) % 3], rng.normal(size=(8, 1)).astype("f4")]
    hist = model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    assert sorted(hist.history) == ["loss", "out1_accuracy", "out1_loss", "out2_loss",
                                    "out2_mae"]
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert logs["loss"] == pytest.approx(logs["out1_loss"] + 0.5 * logs["out2_loss"], rel=1e-5)
    values = model.evaluate(x, y, verbose=0)
    assert values == pytest.approx([logs[k] for k in ("loss", "out1_loss", "out2_loss",
                                                       "out1_accuracy", "out2_mae")])
    p1, p2 = model.predict(x, verbose=0)
    assert p1.shape == (8, 3) and p2.shape == (8, 1)


def test_dict_inputs_and_outputs(rng):
    a, b = keras.Input((2,), name="a"), keras.Input((2,), name="b")
    s = L.Add(name="s")([a, b])
    model = keras.Model({"a": a, "b": b}, {"sum": L.Dense(1, name="d1")(s),
                                           "prod": L.Dense(1, name="d2")(s)})
    model.compile("sgd", loss={"sum": "mse", "prod": "mae"})
    x = {"a": rng.normal(size=(4, 2)), "b": rng.normal(size=(4, 2))}
    y = {"sum": np.zeros((4, 1)), "prod": np.ones((4, 1))}
    hist = model.fit(x, y, verbose=0)
    assert sorted(hist.history) == ["loss", "prod_loss", "sum_loss"]
    out = model.predict(x, verbose=0)
    assert sorted(out) == ["prod", "sum"] and out["sum"].shape == (4, 1)
    with pytest.raises(ValueError, match='Missing data for input "b".*Received'):
        model.predict({"a": x["a"]}, verbose=0)
    with pytest.raises(ValueError, match="Unknown entries in the loss.*Received"):
        model.compile("sgd", loss={"sum": "mse", "nope": "mae"})
    with pytest.raises(ValueError, match="Invalid `metrics`.*Received"):
        model.compile("sgd", loss="mse", metrics=["mae"] * 3)


def test_functional_fused_training_equals_sequential(rng, monkeypatch):
    """The same network as Sequential and as a functional model trains identically, both
    through the fused softmax cross-entropy (one call per step)."""
    from tensorlib import functional as F
    calls, real = [], F.softmax_cross_entropy
    monkeypatch.setattr(F, "softmax_cross_entropy", lambda *a: calls.append(1) or real(*a))
    keras.utils.set_random_seed(3)
    seq = models.Sequential([keras.Input((6, 6, 1)), L.Conv2D(3, 3, activation="relu"),
                             L.MaxPooling2D(), L.Flatten(), L.Dense(4, activation="softmax")])
    i = keras.Input((6, 6, 1))
    x = i
    clones = [L.Conv2D(3, 3, activation="relu"), L.MaxPooling2D(), L.Flatten(),
              L.Dense(4, activation="softmax")]
    for la in clones:
        x = la(x)
    fun = keras.Model(i, x)
    fun.set_weights(seq.get_weights())
    data = rng.normal(size=(16, 6, 6, 1)).astype("f4")
    y = np.eye(4, dtype="f4")[rng.integers(0, 4, 16)]
    for m in (seq, fun):
        m.compile(keras.optimizers.Adam(0.01), "categorical_crossentropy", ["accuracy"])
    h1 = seq.fit(data, y, batch_size=4, epochs=2, shuffle=False, verbose=0).history
    assert len(calls) == 8
    h2 = fun.fit(data, y, batch_size=4, epochs=2, shuffle=False, verbose=0).history
    assert len(calls) == 16
    assert sorted(h1) == sorted(h2)
    for k in h1:
        assert h1[k] == pytest.approx(h2[k], rel=1e-6)
    for a, b in zip(seq.get_weights(), fun.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


# ----------------------------------------------------------------- errors at build time
def test_incompatible_shape_names_layer_and_shapes():
    d = L.Dense(2, name="dd")
    d(keras.Input((4,)))
    with pytest.raises(ValueError, match=r"'dd'.*value 4.*Received: input with shape "
                                         r"\(None, 5\)"):
        d(keras.Input((5,)))
    with pytest.raises(ValueError, match="conv.*Received"):
        L.Conv2D(2, 3, name="conv")(keras.Input((4,)))


def test_disconnected_graph_is_refused():
    a, b = keras.Input((3,), name="in_a"), keras.Input((3,), name="in_b")
    out = L.Add()([a, b])
    with pytest.raises(ValueError, match="disconnected.*in_b.*Received: inputs="):
        keras.Model(a, out)
    with pytest.raises(ValueError, match="symbolic tensors.*Received"):
        keras.Model(a, np.zeros(3))


def test_duplicate_layer_names_are_refused():
    i = keras.Input((2,))
    out = L.Add()([L.Dense(2, name="x")(i), L.Dense(2, name="x")(i)])
    with pytest.raises(ValueError, match='"x" is used 2 times.*Received'):
        keras.Model(i, out)


def test_wrong_data_for_a_multi_input_model():
    model, _ = two_input_model()
    with pytest.raises(ValueError, match="2 inputs.*Received"):
        model.predict(np.ones((2, 4)), verbose=0)
    with pytest.raises(ValueError, match="incompatible.*expected shape=\\(None, 4\\).*Received"):
        model.predict([np.ones((2, 4)), np.ones((2, 5))], verbose=0)
    with pytest.raises(ValueError, match="cardinality.*Received"):
        model.predict([np.ones((2, 4)), np.ones((3, 4))], verbose=0)
