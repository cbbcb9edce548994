"""keras.constraints (MaxNorm, NonNeg, UnitNorm, MinMaxNorm) against real Keras 3 outputs
(tests/make_optimizer_fixtures.py), their records and registry, and their use: applied to
Dense / Conv2D / add_weight weights after each optimizer update, kept in .keras files."""
import json
import os

import numpy as np
import pytest

import tensorlib as tl
from tensorlib import constraints, layers, models, optimizers

DATA = os.path.join(os.path.dirname(__file__), "data")
with open(os.path.join(DATA, "optimizers_more.json")) as _f:
    RECORDS = json.load(_f)["constraints"]
ARR = np.load(os.path.join(DATA, "optimizers_more.npz"))


@pytest.mark.parametrize("case", sorted(RECORDS))
def test_outputs_and_records_equal_keras(case):
    obj = constraints.deserialize(RECORDS[case])
    assert constraints.serialize(obj) == RECORDS[case]
    w = ARR["constraint/w4" if case.endswith("conv") else "constraint/w2"]
    out = obj(w)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, ARR[f"constraint/{case}"], rtol=1e-6, atol=1e-7)


def _norms(w, axis):
    return np.sqrt(np.sum(w.astype(np.float64) ** 2, axis=axis, keepdims=True))


def test_formulas_in_float64():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(5, 3)) * 3
    n0 = _norms(w, 0)
    np.testing.assert_allclose(constraints.MaxNorm(1.5)(w),
                               w * np.clip(n0, 0, 1.5) / (1e-7 + n0), rtol=1e-12)
    np.testing.assert_allclose(constraints.UnitNorm(axis=1)(w),
                               w / (1e-7 + _norms(w, 1)), rtol=1e-12)
    np.testing.assert_array_equal(constraints.NonNeg()(w), np.where(w > 0, w, 0))
    desired = 0.3 * np.clip(n0, 2.0, 4.0) + 0.7 * n0
    np.testing.assert_allclose(constraints.MinMaxNorm(2.0, 4.0, rate=0.3)(w),
                               w * desired / (1e-7 + n0), rtol=1e-12)


def test_tensor_in_tensor_out_and_registry():
    t = tl.tensor(np.array([[-1.0, 2.0]]))
    out = constraints.NonNeg()(t)
    assert isinstance(out, tl.Tensor) and out.tolist() == [[0.0, 2.0]]
    assert isinstance(constraints.get("max_norm"), constraints.MaxNorm)
    assert isinstance(constraints.get("NonNeg"), constraints.NonNeg)
    assert isinstance(constraints.get(constraints.UnitNorm), constraints.UnitNorm)
    assert constraints.get(None) is None
    fn = lambda w: w  # noqa: E731 - any callable is a constraint
    assert constraints.get(fn) is fn
    assert constraints.MaxNorm().get_config() == {"max_value": 2, "axis": 0}
    assert constraints.min_max_norm(0.5).get_config() == {
        "min_value": 0.5, "max_value": 1.0, "rate": 1.0, "axis": 0}


@pytest.mark.parametrize("make, error, match", [
    (lambda: constraints.get("bogus"), ValueError,
     "Could not interpret constraint identifier: 'bogus'"),
    (lambda: constraints.get(3), ValueError, "Received: constraint=3"),
    (lambda: constraints.deserialize({"class_name": "Lambda", "config": {}}), ValueError,
     "not a constraint record"),
    (lambda: constraints.MaxNorm(axis="x"), ValueError, "Received: axis='x'"),
    (lambda: constraints.MinMaxNorm(rate=None), ValueError, "Received: rate=None"),
    (lambda: constraints.serialize(lambda w: w), ValueError, "built-in"),
    (lambda: layers.Dense(2, kernel_constraint="bogus"), ValueError,
     "Dense.*kernel_constraint.*Received: kernel_constraint='bogus'"),
])
def test_errors(make, error, match):
    with pytest.raises(error, match=match):
        make()


def _data(seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(8, 4)).astype(np.float32) * 3,
            rng.normal(size=(8, 3)).astype(np.float32) * 5)


def test_dense_kernel_constraint_applied_after_each_update():
    """A constrained Dense steps like an unconstrained twin whose kernel is then projected
    by hand."""
    x, y = _data()
    tl.manual_seed(1)
    model = tl.Sequential([tl.Input((4,)), layers.Dense(
        3, kernel_constraint=constraints.MaxNorm(0.5), bias_constraint="non_neg")])
    twin = tl.Sequential([tl.Input((4,)), layers.Dense(3)])
    twin.set_weights(model.get_weights())
    model.compile(optimizer=optimizers.SGD(0.5), loss="mse")
    twin.compile(optimizer=optimizers.SGD(0.5), loss="mse")
    for _ in range(3):
        model.train_on_batch(x, y)
        twin.train_on_batch(x, y)
        k, b = twin.get_weights()
        n = np.sqrt(np.sum(k * k, axis=0, keepdims=True))
        twin.set_weights([k * (np.clip(n, 0, 0.5) / (1e-7 + n)), np.maximum(b, 0)])
    for got, want in zip(model.get_weights(), twin.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    assert np.all(np.sqrt(np.sum(model.get_weights()[0] ** 2, axis=0)) <= 0.5 + 1e-6)


def test_conv2d_and_add_weight_constraints_in_fit():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(4, 5, 5, 2)).astype(np.float32)

    class Scale(layers.Layer):
        def build(self, input_shape):
            self.s = self.add_weight(shape=(input_shape[-1],), initializer="ones",
                                     constraint="non_neg", name="s")

        def call(self, t):
            return t * self.s

    conv = layers.Conv2D(3, 3, kernel_constraint=constraints.UnitNorm(axis=[0, 1, 2]))
    model = tl.Sequential([tl.Input((5, 5, 2)), conv, layers.Flatten(), Scale()])
    model.compile(optimizer=optimizers.SGD(5.0), loss="mse")
    model.fit(x, np.full((4, 27), -50.0, np.float32), epochs=2, verbose=0)
    norms = np.sqrt(np.sum(conv.kernel.numpy() ** 2, axis=(0, 1, 2)))
    np.testing.assert_allclose(norms, 1.0, rtol=1e-5)
    assert np.all(model.layers[-1].s.numpy() >= 0) and np.any(model.layers[-1].s.numpy() == 0)


def test_constraints_round_trip_through_config_and_keras_file(tmp_path):
    dense = layers.Dense(2, kernel_constraint=constraints.MinMaxNorm(0.1, 0.9, axis=1))
    cfg = dense.get_config()
    assert cfg["kernel_constraint"] == {
        "module": "keras.constraints", "class_name": "MinMaxNorm",
        "config": {"min_value": 0.1, "max_value": 0.9, "rate": 1.0, "axis": 1},
        "registered_name": None}
    assert cfg["bias_constraint"] is None
    clone = layers.Dense.from_config(cfg)
    assert clone.kernel_constraint.get_config() == dense.kernel_constraint.get_config()
    model = tl.Sequential([tl.Input((3, 3, 1)), layers.Conv2D(
        2, 2, bias_constraint=constraints.NonNeg()), layers.Flatten(), dense])
    model.compile(optimizer="adam", loss="mse")
    path = tmp_path / "c.keras"
    model.save(path)
    loaded = models.load_model(path)
    assert isinstance(loaded.layers[0].bias_constraint, constraints.NonNeg)
    assert loaded.layers[0].bias.constraint is loaded.layers[0].bias_constraint
    assert loaded.layers[-1].kernel_constraint.get_config() == \
        dense.kernel_constraint.get_config()
