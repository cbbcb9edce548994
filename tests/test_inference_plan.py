"""Planned inference of Sequential models (no autograd records, checks done once per input
shape) gives the same results, bit for bit, as running the layers, and falls back to the
layers whenever it does not apply."""
import numpy as np
import pytest

import tensorlib as tl
from tensorlib import functional as F
from tensorlib import layers as L


def _unplanned(model, x):
    with tl.no_grad():
        return model.call(tl.tensor(x), training=False).numpy()


@pytest.fixture
def autograd_calls(monkeypatch):
    """Counts conv2d Function applications (the unplanned path's)."""
    calls = []
    real = F.Conv2D.apply.__func__
    monkeypatch.setattr(F.Conv2D, "apply",
                        classmethod(lambda cls, *a, **k: calls.append(1) or real(cls, *a, **k)))
    return calls


def _every_layer_model():
    return tl.Sequential([
        tl.Input((12, 10, 3)),
        L.Conv2D(4, 3, padding="same", activation="relu"),
        L.Conv2D(5, (2, 3), strides=(2, 1), activation="sigmoid"),
        L.AveragePooling2D((2, 2), padding="same"),
        L.Conv2D(6, 1, activation="tanh", use_bias=False),
        L.MaxPooling2D((2, 2), strides=(1, 2)),
        L.Activation("relu"),
        L.Dropout(0.5),
        L.Reshape((-1,)),
        L.Dense(7, activation="relu"),
        L.Flatten(),
        L.Dense(5),
        L.Dense(3, activation="softmax"),
    ])


@pytest.mark.parametrize("make", [_every_layer_model,
                                  lambda: tl.Sequential([tl.Input((784,)),
                                                         L.Dense(32, activation="relu"),
                                                         L.Dense(10, activation="softmax")])])
def test_planned_predict_and_call_equal_the_layers(rng, make, autograd_calls):
    tl.utils.set_random_seed(1)
    model = make()
    x = rng.standard_normal((9,) + model.input_shape[1:]).astype(np.float32)
    ref = _unplanned(model, x)
    n = len(autograd_calls)
    got = model.predict(x, batch_size=4, verbose=0)        # batches of 4, 4 and 1
    np.testing.assert_array_equal(got, ref)
    with tl.no_grad():
        np.testing.assert_array_equal(model(x, training=False).numpy(), ref)
    assert len(autograd_calls) == n                  # the planned path made no Function
    assert list(model._plans.values())[0] is not None


def test_plan_follows_weight_changes_and_structure_changes(rng):
    model = tl.Sequential([tl.Input((6,)), L.Dense(4, activation="relu"), L.Dense(2)])
    x = rng.standard_normal((3, 6)).astype(np.float32)
    before = model.predict(x, verbose=0)
    model.set_weights([w * 2 for w in model.get_weights()])
    after = model.predict(x, verbose=0)
    np.testing.assert_array_equal(after, _unplanned(model, x))
    assert not np.array_equal(before, after)
    model.pop()
    assert model._plans == {}
    np.testing.assert_array_equal(model.predict(x, verbose=0), _unplanned(model, x))
    model.add(L.Dense(3, activation="softmax"))
    np.testing.assert_array_equal(model.predict(x, verbose=0), _unplanned(model, x))


def test_fallback_where_no_plan_applies(rng, autograd_calls):
    """A layer without an array function (BatchNormalization), training=True (dropout
    active) and grad mode on (the caller may differentiate) run the layers."""
    model = tl.Sequential([tl.Input((5, 5, 2)), L.Conv2D(3, 3), L.BatchNormalization(),
                           L.Flatten(), L.Dense(2)])
    x = rng.standard_normal((4, 5, 5, 2)).astype(np.float32)
    np.testing.assert_array_equal(model.predict(x, verbose=0), _unplanned(model, x))
    assert list(model._plans.values()) == [None] and autograd_calls
    seq = tl.Sequential([tl.Input((5, 5, 2)), L.Conv2D(3, 3), L.Flatten(), L.Dropout(0.5)])
    n = len(autograd_calls)
    y = seq(x)                                    # grad mode on: a graph to differentiate
    assert y.requires_grad and len(autograd_calls) == n + 1
    y.sum().backward()
    assert seq.layers[0].kernel.grad is not None
    with tl.no_grad():
        t = seq(x, training=True).numpy()         # dropout zeroes about half
    assert (t == 0).mean() > 0.2 and len(autograd_calls) == n + 2


def test_float64_models_plan_in_float64(rng):
    model = tl.Sequential([tl.Input((4, 4, 1)), L.Conv2D(2, 3, dtype="float64"),
                           L.Flatten(dtype="float64"), L.Dense(2, dtype="float64")])
    x = rng.standard_normal((2, 4, 4, 1))
    with tl.no_grad():
        out = model.call(tl.tensor(x), training=False)
        planned = model._forward([tl.tensor(x)], False)[0]
    assert planned.dtype == np.float64
    np.testing.assert_array_equal(planned.numpy(), out.numpy())


def _functional_graph_model():
    """Planned layers (conv, pools, dense), a merge, an op on symbolic tensors, a nested
    Sequential and BatchNormalization (no array function: run through ``call``)."""
    a = tl.Input((8, 8, 2), name="img")
    b = tl.Input((5,), name="vec")
    x = L.Conv2D(4, 3, padding="same", activation="relu")(a)
    x = L.MaxPooling2D(2)(x)
    x = L.BatchNormalization()(x)
    x = L.Flatten()(x)
    x = L.Dense(6, activation="relu")(x)
    inner = tl.Sequential([tl.Input((5,)), L.Dense(6, activation="tanh")])
    y = L.Concatenate()([x, inner(b) * 0.5])
    out1 = L.Dense(3, activation="softmax", name="probs")(y)
    out2 = L.Dense(1, name="score")(y)
    return tl.Model([a, b], [out1, out2])


def test_functional_planned_predict_equals_the_graph_run(rng, autograd_calls):
    tl.utils.set_random_seed(2)
    model = _functional_graph_model()
    xs = [rng.standard_normal((7, 8, 8, 2)).astype(np.float32),
          rng.standard_normal((7, 5)).astype(np.float32)]
    with tl.no_grad():
        ref = [t.numpy() for t in model._graph.run([tl.tensor(x) for x in xs], False)]
    n = len(autograd_calls)
    got = model.predict(xs, batch_size=3, verbose=0)
    for g, r in zip(got, ref):
        np.testing.assert_array_equal(g, r)
    assert len(autograd_calls) == n                  # the conv ran planned
    plan = list(model._plans.values())[0]
    planned = [node.layer.name for node, fn in zip(model._graph.nodes, plan.steps) if fn]
    assert "probs" in planned and "score" in planned
    kinds = {type(node.layer).__name__ for node, fn in zip(model._graph.nodes, plan.steps)
             if fn is None}
    assert {"BatchNormalization", "Concatenate", "Sequential"} <= kinds


def test_functional_plan_follows_weights_and_dtype(rng):
    inp = tl.Input((4,))
    model = tl.Model(inp, L.Dense(2)(L.Dense(3, activation="relu")(inp)))
    x = rng.standard_normal((5, 4)).astype(np.float32)
    before = model.predict(x, verbose=0)
    model.set_weights([w * 3 for w in model.get_weights()])
    after = model.predict(x, verbose=0)
    with tl.no_grad():
        want = model._graph.run([tl.tensor(x)], False)[0].numpy()
    np.testing.assert_array_equal(after, want)
    assert not np.array_equal(before, after)
    with tl.no_grad():                            # float64 data: the layers cast, as call
        out64 = model(x.astype(np.float64), training=False).numpy()
    np.testing.assert_allclose(out64, want, rtol=1e-6)


def test_functional_plan_keeps_a_fixed_training_argument(rng):
    """Dropout called with training=True in the graph (Monte-Carlo dropout) stays active
    in predict: the plan runs that node through the layer, not its inference function."""
    inp = tl.Input((200,))
    model = tl.Model(inp, L.Dropout(0.5)(inp, training=True))
    out = model.predict(np.ones((4, 200), np.float32), verbose=0)
    assert 0.2 < (out == 0).mean() < 0.8
    assert set(np.unique(out)) <= {0.0, 2.0}
