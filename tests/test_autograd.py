"""Autograd engine behaviour: accumulation, zeroing, no_grad, errors, graph release,
determinism, shared subexpressions, deep graphs, gradient dtype/shape, detach."""
import sys

import numpy as np
import pytest

import tensorlib as tl
from gradcheck import check_gradients


def leaf(values, dtype=np.float64):
    return tl.tensor(np.asarray(values, dtype=dtype), requires_grad=True)


def grad_of(t):
    assert t.grad is not None, "expected .grad to be set"
    assert isinstance(t.grad, tl.Tensor), f".grad should be a Tensor, got {type(t.grad)!r}"
    return t.grad.numpy()


# --------------------------------------------------------------------------------------
# accumulation and zeroing
# --------------------------------------------------------------------------------------
def test_leaf_grad_is_none_before_backward():
    x = leaf([1.0, 2.0])
    assert x.grad is None
    assert x.requires_grad


def test_gradients_accumulate_across_backward_calls():
    x = leaf([1.0, -2.0, 3.0])
    (x * x).sum().backward()
    np.testing.assert_array_equal(grad_of(x), [2.0, -4.0, 6.0])
    (x * 3.0).sum().backward()  # a second, independent graph
    np.testing.assert_array_equal(grad_of(x), [5.0, -1.0, 9.0])


def test_setting_grad_to_none_resets_accumulation():
    x = leaf([1.0, 2.0])
    (x * 4.0).sum().backward()
    x.grad = None
    assert x.grad is None
    (x * x).sum().backward()
    np.testing.assert_array_equal(grad_of(x), [2.0, 4.0])


def test_zero_grad_resets_accumulation():
    x = leaf([1.0, 2.0])
    (x * 4.0).sum().backward()
    x.zero_grad()
    assert x.grad is None or np.all(x.grad.numpy() == 0)
    (x * x).sum().backward()
    np.testing.assert_array_equal(grad_of(x), [2.0, 4.0])


def test_backward_does_not_alias_previous_grad_object():
    """Accumulating must not write into an array the user took from a previous .grad."""
    x = leaf([1.0, 2.0])
    (x * 2.0).sum().backward()
    first = x.grad.numpy().copy()
    held = x.grad
    x.grad = None
    (x * 5.0).sum().backward()
    np.testing.assert_array_equal(held.numpy(), first)
    np.testing.assert_array_equal(grad_of(x), [5.0, 5.0])


def test_accumulation_does_not_leak_between_leaves_sharing_an_upstream_grad():
    """a + b hands the same upstream gradient to both leaves; accumulating later into
    a.grad must not change b.grad (no shared buffers between .grad arrays)."""
    a = leaf([1.0, 2.0])
    b = leaf([3.0, 4.0])
    (a + b).sum().backward()
    (a * 3.0).sum().backward()
    np.testing.assert_array_equal(grad_of(a), [4.0, 4.0])
    np.testing.assert_array_equal(grad_of(b), [1.0, 1.0])


def test_accumulation_does_not_modify_user_supplied_grad():
    x = leaf([1.0, 2.0])
    upstream_np = np.array([1.0, 1.0])
    upstream = tl.tensor(upstream_np.copy())
    (x + 0.0).backward(upstream)
    (x * 2.0).sum().backward()
    np.testing.assert_array_equal(upstream.numpy(), upstream_np)
    np.testing.assert_array_equal(grad_of(x), [3.0, 3.0])


def test_explicit_grad_argument_for_non_scalar():
    x = leaf([[1.0, 2.0], [3.0, 4.0]])
    y = x * x
    upstream = np.array([[1.0, 10.0], [100.0, 1000.0]])
    y.backward(tl.tensor(upstream))
    np.testing.assert_array_equal(grad_of(x), 2.0 * x.numpy() * upstream)


def test_explicit_grad_argument_for_scalar_scales_result():
    x = leaf([1.0, 2.0])
    (x * 3.0).sum().backward(tl.tensor(np.array(2.0)))
    np.testing.assert_array_equal(grad_of(x), [6.0, 6.0])


# --------------------------------------------------------------------------------------
# no_grad
# --------------------------------------------------------------------------------------
def test_is_grad_enabled_default_true():
    assert tl.is_grad_enabled() is True


def test_no_grad_context():
    x = leaf([1.0, 2.0])
    with tl.no_grad():
        assert tl.is_grad_enabled() is False
        y = x * 2.0 + 1.0
        z = (y.exp() @ tl.tensor(np.ones(2))).sum()
    assert tl.is_grad_enabled() is True
    assert y.requires_grad is False
    assert z.requires_grad is False
    np.testing.assert_array_equal(y.numpy(), [3.0, 5.0])
    with pytest.raises(RuntimeError):
        z.backward()
    assert x.grad is None


def test_no_grad_restores_state_after_exception():
    with pytest.raises(KeyError):
        with tl.no_grad():
            raise KeyError("boom")
    assert tl.is_grad_enabled() is True


def test_no_grad_nested():
    with tl.no_grad():
        with tl.no_grad():
            assert not tl.is_grad_enabled()
        assert not tl.is_grad_enabled()
    assert tl.is_grad_enabled()


def test_no_grad_decorator():
    calls = []

    @tl.no_grad()
    def double(t):
        calls.append(tl.is_grad_enabled())
        return t * 2.0

    x = leaf([1.0, 3.0])
    y = double(x)
    assert calls == [False]
    assert y.requires_grad is False
    np.testing.assert_array_equal(y.numpy(), [2.0, 6.0])
    assert tl.is_grad_enabled() is True
    # the decorated function is reusable and still records nothing
    assert double(x).requires_grad is False
    assert double.__name__ == "double"


def test_no_grad_decorator_on_recursive_function():
    @tl.no_grad()
    def depth(n):
        assert not tl.is_grad_enabled()
        return depth(n - 1) + 1 if n else 0

    assert depth(3) == 3
    assert tl.is_grad_enabled() is True


def test_no_grad_decorator_without_parentheses():
    @tl.no_grad
    def double(t):
        return t * 2.0

    assert double(leaf([1.0])).requires_grad is False
    assert tl.is_grad_enabled() is True


def test_graph_outside_no_grad_still_works():
    x = leaf([1.0, 2.0])
    with tl.no_grad():
        c = x * 10.0  # a constant as far as autograd is concerned
    y = (x * c).sum()
    y.backward()
    np.testing.assert_array_equal(grad_of(x), [10.0, 20.0])


# --------------------------------------------------------------------------------------
# backward errors and graph release
# --------------------------------------------------------------------------------------
def test_backward_on_non_scalar_without_grad_raises():
    x = leaf([1.0, 2.0])
    y = x * 2.0
    with pytest.raises(RuntimeError, match=r"(?i)scalar|grad"):
        y.backward()
    assert x.grad is None


def test_backward_on_tensor_without_requires_grad_raises():
    t = tl.tensor(np.array([1.0, 2.0])).sum()
    assert t.requires_grad is False
    with pytest.raises(RuntimeError, match=r"requires_grad|does not require grad"):
        t.backward()


def test_second_backward_raises_mentioning_retain_graph():
    x = leaf([1.0, 2.0])
    y = (x.exp() * x).sum()
    y.backward()
    g = grad_of(x).copy()
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()
    np.testing.assert_array_equal(grad_of(x), g)  # the failed call changed nothing


def test_second_backward_through_released_intermediate_raises():
    x = leaf([1.0, 2.0])
    h = x.exp()
    (h * 2.0).sum().backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        (h * 3.0).sum().backward()


def test_retain_graph_allows_second_backward_and_accumulates():
    x = leaf([0.5, -1.0])
    y = (x.tanh() * x).sum()
    y.backward(retain_graph=True)
    once = grad_of(x).copy()
    y.backward()
    np.testing.assert_allclose(grad_of(x), 2.0 * once, rtol=0, atol=0)
    expected = np.tanh(x.numpy()) + x.numpy() * (1 - np.tanh(x.numpy()) ** 2)
    np.testing.assert_allclose(once, expected, rtol=1e-12)
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()


# --------------------------------------------------------------------------------------
# leaves vs intermediates, requires_grad propagation
# --------------------------------------------------------------------------------------
def test_intermediates_do_not_keep_grad():
    x = leaf([1.0, 2.0])
    h = x * 3.0
    k = h.exp()
    k.sum().backward()
    assert h.grad is None
    assert k.grad is None
    np.testing.assert_allclose(grad_of(x), 3.0 * np.exp(3.0 * x.numpy()), rtol=1e-14)


def test_requires_grad_propagation():
    x = leaf([1.0])
    c = tl.tensor(np.array([2.0]))
    assert c.requires_grad is False
    assert (c * 2.0 + c).requires_grad is False
    assert (x * c).requires_grad is True
    assert (c + x).requires_grad is True
    assert x[0].requires_grad is True


def test_constant_branch_gets_no_grad():
    x = leaf([1.0, 2.0])
    c = tl.tensor(np.array([3.0, 4.0]))
    (x * c).sum().backward()
    assert c.grad is None
    np.testing.assert_array_equal(grad_of(x), [3.0, 4.0])


# --------------------------------------------------------------------------------------
# graph shapes: diamonds, reuse, determinism, depth
# --------------------------------------------------------------------------------------
def test_diamond_graph():
    # x -> a, b -> c   (x used along two paths that merge again)
    xv = np.array([0.3, -1.2, 2.0])
    x = leaf(xv)
    a = x * 2.0
    b = x.exp()
    c = a * b + a
    c.sum().backward()
    expected = 2.0 * np.exp(xv) + 2.0 * xv * np.exp(xv) + 2.0
    np.testing.assert_allclose(grad_of(x), expected, rtol=1e-14)


def test_diamond_graph_gradcheck():
    def fn(x, y):
        s = x * y
        u = s.tanh()
        v = s * x
        return u * v + (u + v).sum(axis=0)

    rng = np.random.default_rng(0)
    check_gradients(fn, [rng.standard_normal((2, 3)), rng.standard_normal((3,))])


def test_intermediate_consumed_by_two_ops():
    """a feeds both a*3 and the final add; both contributions must reach x."""
    x = leaf([1.0])
    a = x * 2.0
    (a * 3.0 + a).sum().backward()
    np.testing.assert_array_equal(grad_of(x), [8.0])


def test_intermediate_consumed_at_different_depths():
    xv = np.array([0.5, -0.25])
    x = leaf(xv)
    a = x * x  # used directly by the root and, three ops later, again
    b = ((a + 1.0) * 2.0).tanh()
    (b + a).sum().backward()
    u = 2.0 * (xv**2 + 1.0)
    expected = (1 - np.tanh(u) ** 2) * 2.0 * 2.0 * xv + 2.0 * xv
    np.testing.assert_allclose(grad_of(x), expected, rtol=1e-13)


DAG_OPS = [
    lambda a, b: (a * b).tanh(),
    lambda a, b: (a + b) * 0.5,
    lambda a, b: a - b * 0.5,
    lambda a, b: (a.exp() * 0.1 + b).tanh(),
    lambda a, b: a * 0.5 + b.sigmoid(),
]


def random_dag(seed, n_inputs=2, n_nodes=14):
    """A random expression DAG in which intermediates are reused by several later nodes."""
    rng = np.random.default_rng(seed)
    plan = []
    for k in range(n_nodes):
        available = n_inputs + k
        plan.append((int(rng.integers(len(DAG_OPS))), int(rng.integers(available)),
                     int(rng.integers(max(0, available - 3), available))))
    roots = [int(i) for i in rng.choice(n_inputs + n_nodes, size=3, replace=False)]

    def fn(*xs):
        nodes = list(xs)
        for op, i, j in plan:
            nodes.append(DAG_OPS[op](nodes[i], nodes[j]))
        out = nodes[-1]
        for r in roots:
            out = out + nodes[r]
        for x in xs:  # every input reaches the output
            out = out + x * 0.1
        return out

    return fn


@pytest.mark.parametrize("seed", range(30))
def test_random_dag_gradients(seed):
    rng = np.random.default_rng(1000 + seed)
    check_gradients(random_dag(seed), [rng.standard_normal((2, 1)), rng.standard_normal((3,))])


def test_tensor_used_many_times_in_one_expression():
    xv = np.array([1.5, -0.5])
    x = leaf(xv)
    y = x * x * x + x + x * 2.0 - x / 4.0
    y.sum().backward()
    np.testing.assert_allclose(grad_of(x), 3 * xv**2 + 1 + 2 - 0.25, rtol=1e-14)


def _build_and_grad(seed, dtype=np.float32):
    rng = np.random.default_rng(seed)
    x = tl.tensor(rng.standard_normal((50, 7)).astype(dtype), requires_grad=True)
    w = tl.tensor(rng.standard_normal((7, 7)).astype(dtype), requires_grad=True)
    h = x
    branches = []
    for i in range(12):
        h = (h @ w).tanh() + h * 0.5
        branches.append(h.sum(axis=0) * float(i + 1))
    total = branches[0]
    for b in branches[1:]:
        total = total + b
    (total * tl.tensor(rng.standard_normal(7).astype(dtype))).sum().backward()
    return x.grad.numpy().copy(), w.grad.numpy().copy()


def test_deterministic_gradients():
    gx1, gw1 = _build_and_grad(0)
    gx2, gw2 = _build_and_grad(0)
    np.testing.assert_array_equal(gx1, gx2)
    np.testing.assert_array_equal(gw1, gw2)


def test_deep_chain_of_adds_no_recursion_error():
    x = leaf([1.0, 2.0])
    y = x
    for _ in range(5000):
        y = y + 1.0
    np.testing.assert_array_equal(y.numpy(), [5001.0, 5002.0])
    y.sum().backward()
    np.testing.assert_array_equal(grad_of(x), [1.0, 1.0])


def test_deep_chain_of_muls_value_and_grad():
    recursion_limit = sys.getrecursionlimit()
    x = leaf([1.0])
    y = x
    for _ in range(6000):
        y = y * 1.0001
    y.sum().backward()
    np.testing.assert_allclose(grad_of(x), [1.0001**6000], rtol=1e-10)
    assert sys.getrecursionlimit() == recursion_limit


def test_deep_chain_with_many_leaves():
    """A long chain where every step also adds a fresh leaf: all leaves get grads."""
    leaves = [leaf([float(i)]) for i in range(3000)]
    y = leaves[0]
    for t in leaves[1:]:
        y = y * 1.0 + t
    y.sum().backward()
    for t in (leaves[0], leaves[1], leaves[1500], leaves[-1]):
        np.testing.assert_array_equal(grad_of(t), [1.0])


def test_deep_graph_can_be_freed():
    import gc

    x = leaf([1.0])
    y = x
    for _ in range(20000):
        y = y + 1.0
    del y
    gc.collect()  # must not crash (e.g. recursive deallocation)
    assert x.grad is None


# --------------------------------------------------------------------------------------
# gradient dtype and shape
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_grad_dtype_matches_tensor(dtype):
    x = leaf(np.array([[1.0, 2.0], [3.0, 4.0]]), dtype=dtype)
    ((x * 2.5).exp() @ tl.tensor(np.ones((2, 1), dtype=dtype))).sum().backward()
    assert grad_of(x).dtype == dtype
    assert grad_of(x).shape == (2, 2)


def test_grad_dtype_with_mixed_precision_inputs():
    a = leaf(np.array([1.0, 2.0]), dtype=np.float32)
    b = leaf(np.array([3.0, 4.0]), dtype=np.float64)
    out = (a * b).sum()
    assert out.dtype == np.float64
    out.backward()
    assert grad_of(a).dtype == np.float32
    assert grad_of(b).dtype == np.float64
    np.testing.assert_array_equal(grad_of(a), np.array([3.0, 4.0], dtype=np.float32))
    np.testing.assert_array_equal(grad_of(b), [1.0, 2.0])


@pytest.mark.parametrize("shape_a, shape_b", [
    ((3, 1), (1, 4)),
    ((1,), (2, 3)),
    ((), (2, 3)),
    ((2, 1, 3), (4, 1)),
])
def test_broadcast_grad_shapes(shape_a, shape_b):
    a = leaf(np.ones(shape_a))
    b = leaf(np.full(shape_b, 2.0))
    out = a * b
    out.sum().backward()
    out_size = np.broadcast_shapes(shape_a, shape_b)
    assert grad_of(a).shape == shape_a
    assert grad_of(b).shape == shape_b
    # d/da sum(a*b) = sum of b over the broadcast axes
    n_a = np.prod(out_size) / max(1, np.prod(shape_a))
    np.testing.assert_array_equal(grad_of(a), np.full(shape_a, 2.0 * n_a))
    n_b = np.prod(out_size) / max(1, np.prod(shape_b))
    np.testing.assert_array_equal(grad_of(b), np.full(shape_b, 1.0 * n_b))


def test_grad_of_0d_leaf():
    x = leaf(np.array(3.0))
    (x * x).backward()
    assert grad_of(x).shape == ()
    np.testing.assert_array_equal(grad_of(x), 6.0)


# --------------------------------------------------------------------------------------
# detach
# --------------------------------------------------------------------------------------
def test_detach_values_and_flags():
    x = leaf([1.0, 2.0])
    y = x * 3.0
    d = y.detach()
    assert d.requires_grad is False
    assert d.grad is None
    np.testing.assert_array_equal(d.numpy(), y.numpy())
    assert d.dtype == y.dtype and tuple(d.shape) == tuple(y.shape)


def test_detach_blocks_gradient_flow():
    xv = np.array([1.0, 2.0])
    x = leaf(xv)
    d = (x * x).detach()
    (d * x).sum().backward()
    np.testing.assert_array_equal(grad_of(x), xv * xv)  # not 3 x^2


def test_detached_tensor_cannot_backward():
    x = leaf([1.0, 2.0])
    d = (x * 2.0).sum().detach()
    with pytest.raises(RuntimeError):
        d.backward()
