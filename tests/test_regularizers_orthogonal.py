"""regularizers.OrthogonalRegularizer against real Keras 3 penalties
(tests/make_optimizer_fixtures.py), a float64 NumPy formula and finite differences."""
import json
import os

import numpy as np
import pytest

import tensorlib as tl
from tensorlib import layers, regularizers
from gradcheck import check_gradients

DATA = os.path.join(os.path.dirname(__file__), "data")
with open(os.path.join(DATA, "optimizers_more.json")) as _f:
    FIX = json.load(_f)["orthogonal"]
X = np.load(os.path.join(DATA, "optimizers_more.npz"))["orthogonal/x"]


@pytest.mark.parametrize("key", sorted(FIX["values"]))
def test_penalty_equals_keras(key):
    mode, factor = key.rsplit("_", 1)
    reg = regularizers.OrthogonalRegularizer(factor=float(factor), mode=mode)
    got = reg(tl.tensor(X))                    # X has a zero row: the epsilon bound
    assert got.dtype == np.float32
    np.testing.assert_allclose(got.item(), FIX["values"][key], rtol=1e-6)


def reference(x, factor, mode):
    """The formula, written out in float64."""
    u = x.T if mode == "columns" else x
    u = u / np.maximum(np.linalg.norm(u, axis=1, keepdims=True), 1e-7)
    n = u.shape[0]
    off = [abs(u[i] @ u[j]) for i in range(n) for j in range(n) if i != j]
    return factor * 0.5 * sum(off) / (n * (n - 1) / 2)


@pytest.mark.parametrize("mode", ["rows", "columns"])
def test_formula_and_gradient_in_float64(mode):
    x = np.random.default_rng(1).normal(size=(3, 5))
    reg = regularizers.OrthogonalRegularizer(factor=0.7, mode=mode)
    np.testing.assert_allclose(reg(tl.tensor(x)).item(), reference(x, 0.7, mode), rtol=1e-12)
    check_gradients(lambda t: reg(t), [x])


def test_record_registry_and_layer_use():
    reg = regularizers.get(FIX["record"])
    assert isinstance(reg, regularizers.OrthogonalRegularizer) and reg.mode == "columns"
    record = regularizers.serialize(reg)
    assert record["config"]["factor"] == pytest.approx(FIX["record"]["config"]["factor"])
    assert {k: v for k, v in record.items() if k != "config"} == \
        {k: v for k, v in FIX["record"].items() if k != "config"}
    assert isinstance(regularizers.get("orthogonal_regularizer"),
                      regularizers.OrthogonalRegularizer)
    dense = layers.Dense(4, kernel_regularizer=regularizers.OrthogonalRegularizer(0.1))
    model = tl.Sequential([tl.Input((3,)), dense])
    penalty = [float(v.item()) for v in model.losses]
    np.testing.assert_allclose(penalty, [reference(dense.kernel.numpy(), 0.1, "rows")],
                               rtol=1e-5)


@pytest.mark.parametrize("make, match", [
    (lambda: regularizers.OrthogonalRegularizer(mode="diag"), "Received: mode='diag'"),
    (lambda: regularizers.OrthogonalRegularizer(factor=-1), "Received: factor=-1"),
    (lambda: regularizers.OrthogonalRegularizer()(tl.tensor(np.ones(3))),
     r"rank 2\. Received: inputs.shape=\(3,\)"),
])
def test_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()
