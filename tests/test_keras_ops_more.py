"""The comparison, logical, statistics and activation functions of ``keras.ops`` against
NumPy formulas in float64, with gradients where Keras's are defined."""
import math

import numpy as np
import pytest

import tensorlib as keras
from gradcheck import check_gradients

ops = keras.ops
X = np.array([[-2.0, -0.5, 0.0], [0.3, 1.5, 4.0]])
Y = np.array([[-1.0, -0.5, 1.0], [0.3, 2.0, 3.0]])


@pytest.mark.parametrize("name, want", [
    ("greater_equal", X >= Y), ("less_equal", X <= Y),
    ("logical_and", np.logical_and(X > 0, Y > 0)), ("logical_or", np.logical_or(X > 0, Y > 0)),
])
def test_binary_predicates(name, want):
    a, b = (X, Y) if "logical" not in name else (X > 0, Y > 0)
    got = getattr(ops, name)(a, b).numpy()
    assert got.dtype == bool and (got == want).all()


def test_unary_and_reductions():
    assert (ops.logical_not(X > 0).numpy() == (X <= 0)).all()
    np.testing.assert_array_equal(ops.sign(X).numpy(), np.sign(X))
    np.testing.assert_array_equal(ops.round(X).numpy(), np.round(X))
    np.testing.assert_array_equal(ops.floor(X).numpy(), np.floor(X))
    np.testing.assert_array_equal(ops.ceil(X).numpy(), np.ceil(X))
    assert ops.any(X > 3).numpy() and not ops.all(X > 3).numpy()
    np.testing.assert_array_equal(ops.any(X > 1, axis=1).numpy(), [False, True])
    assert int(ops.count_nonzero(X).numpy()) == 5
    np.testing.assert_allclose(ops.var(X, axis=0).numpy(), X.var(axis=0))
    np.testing.assert_allclose(ops.std(X, keepdims=True).numpy(), X.std(keepdims=True))
    np.testing.assert_array_equal(ops.broadcast_to(X[0], (4, 3)).numpy(), np.tile(X[0], (4, 1)))


@pytest.mark.parametrize("reps", [(2,), (2, 3), (3, 1, 2), 2])
def test_tile_matches_numpy_and_backpropagates(reps):
    np.testing.assert_array_equal(ops.tile(X, reps).numpy(), np.tile(X, reps))
    check_gradients(lambda t: ops.tile(t, reps) * ops.tile(t, reps), [X + 0.1])


def test_split_matches_numpy_and_backpropagates():
    for parts, got in ((2, ops.split(X, 2)), ([1, 2], ops.split(X, [1, 2], axis=1))):
        want = np.split(X, parts, axis=0 if parts == 2 else 1)
        assert len(got) == len(want)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g.numpy(), w)
    check_gradients(lambda t: ops.split(t, [2], axis=1)[0] * 3.0, [X + 0.1])
    with pytest.raises(ValueError, match=r"split: .*Received: indices_or_sections=4"):
        ops.split(X, 4, axis=1)


def test_take_matches_numpy_and_accumulates_gradients():
    idx = np.array([[0, 2], [2, 2]])
    for axis in (None, 0, 1, -1):
        np.testing.assert_array_equal(ops.take(X, idx if axis != 0 else idx % 2, axis).numpy(),
                                      np.take(X, idx if axis != 0 else idx % 2, axis))
    check_gradients(lambda t: ops.take(t, idx, axis=1), [X + 0.1])
    with pytest.raises(ValueError, match=r"take: `indices` must be integers"):
        ops.take(X, np.array([0.5]))


def _phi(z):
    return 0.5 * (1 + np.vectorize(math.erf)(z / math.sqrt(2)))


@pytest.mark.parametrize("name, formula", [
    ("gelu", lambda z: 0.5 * z * (1 + np.tanh(math.sqrt(2 / math.pi) * (z + 0.044715 * z**3)))),
    ("silu", lambda z: z / (1 + np.exp(-z))),
    ("swish", lambda z: z / (1 + np.exp(-z))),
    ("elu", lambda z: np.where(z > 0, z, np.expm1(z))),
    ("softplus", lambda z: np.log1p(np.exp(z))),
    ("softsign", lambda z: z / (1 + np.abs(z))),
    ("relu6", lambda z: np.clip(z, 0, 6)),
    ("leaky_relu", lambda z: np.where(z > 0, z, 0.2 * z)),
    ("mish", lambda z: z * np.tanh(np.log1p(np.exp(z)))),
    ("log_sigmoid", lambda z: -np.log1p(np.exp(-z))),
])
def test_activation_ops(name, formula):
    np.testing.assert_allclose(getattr(ops, name)(X).numpy(), formula(X), rtol=1e-7, atol=1e-12)


def test_gelu_exact_and_gradients():
    np.testing.assert_allclose(ops.gelu(X, approximate=False).numpy(), X * _phi(X), rtol=1e-9)
    check_gradients(lambda t: ops.std(ops.broadcast_to(t, (3, 2, 3)) * t, axis=2), [X + 0.1])
    check_gradients(lambda t: ops.log_sigmoid(t), [X + 0.1])


def test_ops_record_in_functional_models():
    inp = keras.Input((3,))
    model = keras.Model(inp, ops.relu6(ops.silu(inp) * 7.0))
    out = model.predict(X.astype(np.float32), verbose=0)
    np.testing.assert_allclose(out, np.clip(7 * X / (1 + np.exp(-X)), 0, 6), rtol=1e-6)


def test_tensor_equality_is_elementwise_and_identity_hashed():
    a = keras.Tensor(np.array([1.0, 2.0, 3.0]))
    assert (a == 2.0).numpy().tolist() == [False, True, False]
    assert (a != np.array([1.0, 0.0, 3.0])).numpy().tolist() == [False, True, False]
    assert {a: 1}[a] == 1 and a in [a] and (a == None) is False  # noqa: E711
    with pytest.raises(ValueError, match="ambiguous"):
        bool(a == a)


def test_custom_metric_written_with_equality_counts():
    """The Keras guide's CategoricalTruePositives compares casts with ``==``."""
    class CategoricalTruePositives(keras.metrics.Metric):
        def __init__(self, name="categorical_true_positives", **kwargs):
            super().__init__(name=name, **kwargs)
            self.true_positives = self.add_variable(shape=(), name="ctp",
                                                    initializer="zeros")

        def update_state(self, y_true, y_pred, sample_weight=None):
            y_pred = ops.reshape(ops.argmax(y_pred, axis=1), (-1, 1))
            values = ops.cast(y_true, "int32") == ops.cast(y_pred, "int32")
            self.true_positives.assign_add(ops.sum(ops.cast(values, "float32")))

        def result(self):
            return self.true_positives
    m = CategoricalTruePositives()
    m.update_state(np.array([[0], [2], [1]]), np.array([[0.9, 0.1, 0], [0, 0.2, 0.8],
                                                        [0.6, 0.3, 0.1]]))
    assert float(np.asarray(m.result())) == 2.0


def test_keras_initializer_aliases():
    u = keras.initializers.get("uniform")
    assert type(u).__name__ == "RandomUniform" and (u.minval, u.maxval) == (-0.05, 0.05)
    assert type(keras.initializers.get("normal")).__name__ == "RandomNormal"
    w = keras.initializers.get("lecun_uniform")((400, 50))
    limit = np.sqrt(3.0 / 400)                   # Keras: uniform in +-sqrt(3 / fan_in)
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.9 * limit
