"""Forward (against NumPy, float32 and float64) and backward (finite differences, float64)
checks for every differentiable Tensor op.

Inputs are sampled away from the non-differentiable points of each op (abs/relu at 0, clip
bounds, ties in max/maximum) so the central differences of ``check_gradients`` are valid.
"""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tensorlib as tl
from gradcheck import check_gradients, weights_for

DTYPES = [np.float32, np.float64]
TOL = {
    np.dtype(np.float32): dict(rtol=1e-5, atol=1e-6),
    np.dtype(np.float64): dict(rtol=1e-10, atol=1e-12),
}
SEEDS = st.integers(min_value=0, max_value=2**32 - 1)


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------
def assert_matches(result, expected):
    """``result`` is a Tensor equal (dtype, shape, values) to the NumPy array ``expected``."""
    expected = np.asarray(expected)
    assert isinstance(result, tl.Tensor), f"expected a tl.Tensor, got {type(result)!r}"
    got = np.asarray(result.numpy())
    assert got.shape == expected.shape, f"shape {got.shape} != expected {expected.shape}"
    assert got.dtype == expected.dtype, f"dtype {got.dtype} != expected {expected.dtype}"
    np.testing.assert_allclose(got, expected, **TOL[expected.dtype])


def _f64(x):
    return np.asarray(x, dtype=np.float64)


def g_normal(rng, shape):
    return _f64(rng.standard_normal(shape))


def g_wide(rng, shape):
    return _f64(2.0 * rng.standard_normal(shape))


def g_positive(rng, shape):
    return _f64(rng.uniform(0.5, 2.0, shape))


def g_nonzero(rng, shape):
    """|x| in [0.2, 2]: far from the kinks of abs/relu at 0 and from division by 0."""
    return _f64(rng.uniform(0.2, 2.0, shape) * rng.choice(np.array([-1.0, 1.0]), shape))


def g_exponent(rng, shape):
    return _f64(rng.uniform(-2.0, 2.0, shape))


def g_grid(rng, shape):
    """Multiples of 0.1 in [-2, 2]."""
    return _f64(rng.integers(-20, 21, shape) * 0.1)


def g_grid_half(rng, shape):
    """Multiples of 0.1 plus 0.05: always at least 0.05 away from any g_grid value."""
    return _f64(rng.integers(-20, 21, shape) * 0.1 + 0.05)


def g_distinct(rng, shape):
    """All values distinct, pairwise at least ~0.09 apart (no ties for max)."""
    n = math.prod(shape)
    values = (rng.permutation(n) - n / 2.0) * 0.1 + rng.uniform(0.0, 0.01, n)
    return _f64(values.reshape(shape))


def g_clip(rng, shape):
    """Values in [-1.5, 1.5] at least 0.05 away from the clip bounds +-0.5."""
    pieces = np.stack([
        rng.uniform(-1.5, -0.55, shape),
        rng.uniform(-0.45, 0.45, shape),
        rng.uniform(0.55, 1.5, shape),
    ])
    pick = rng.integers(0, 3, shape)
    return _f64(np.take_along_axis(pieces, pick[None], axis=0)[0])


def np_softmax(x, axis=-1):
    z = x - x.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def np_log_softmax(x, axis=-1):
    z = x - x.max(axis=axis, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


def np_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


# --------------------------------------------------------------------------------------
# binary elementwise ops with broadcasting
# --------------------------------------------------------------------------------------
BINARY = {
    # name: (tensorlib fn, numpy reference, generator for a, generator for b)
    "add": (lambda a, b: a + b, np.add, g_normal, g_normal),
    "sub": (lambda a, b: a - b, np.subtract, g_normal, g_normal),
    "mul": (lambda a, b: a * b, np.multiply, g_normal, g_normal),
    "div": (lambda a, b: a / b, np.divide, g_normal, g_nonzero),
    "pow": (lambda a, b: a ** b, np.power, g_positive, g_exponent),
    "maximum": (lambda a, b: tl.maximum(a, b), np.maximum, g_grid, g_grid_half),
}

BROADCAST_CASES = [
    ((3, 4), (3, 4)),
    ((3, 1), (1, 4)),
    ((2, 3, 4), (4,)),
    ((4,), (2, 3, 4)),
    ((2, 3, 4), (3, 1)),
    ((4, 1, 3), (2, 1)),
    ((2, 3), (1,)),
    ((1,), (2, 3)),
    ((2, 3), ()),
    ((), (2, 3)),
    ((), ()),
    ((1,), ()),
    ((1, 1), (3,)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes", BROADCAST_CASES, ids=str)
@pytest.mark.parametrize("name", list(BINARY))
def test_binary_forward(name, shapes, dtype):
    fn, ref, ga, gb = BINARY[name]
    rng = np.random.default_rng(1)
    a = ga(rng, shapes[0]).astype(dtype)
    b = gb(rng, shapes[1]).astype(dtype)
    assert_matches(fn(tl.tensor(a), tl.tensor(b)), ref(a, b))


@pytest.mark.parametrize("shapes", BROADCAST_CASES, ids=str)
@pytest.mark.parametrize("name", list(BINARY))
def test_binary_backward(name, shapes):
    fn, _, ga, gb = BINARY[name]
    rng = np.random.default_rng(2)
    check_gradients(fn, [ga(rng, shapes[0]), gb(rng, shapes[1])])


@pytest.mark.parametrize("name", list(BINARY))
@given(
    shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=3),
    seed=SEEDS,
)
def test_binary_broadcasting_property(name, shapes, seed):
    fn, ref, ga, gb = BINARY[name]
    rng = np.random.default_rng(seed)
    sa, sb = shapes.input_shapes
    a, b = ga(rng, sa), gb(rng, sb)
    for dtype in DTYPES:
        a_d, b_d = a.astype(dtype), b.astype(dtype)
        out = fn(tl.tensor(a_d), tl.tensor(b_d))
        assert tuple(out.shape) == shapes.result_shape
        assert_matches(out, ref(a_d, b_d))
    check_gradients(fn, [a, b])


def test_same_tensor_on_both_sides():
    x = np.array([0.5, -1.5, 2.0])
    check_gradients(lambda t: t * t, [x])
    check_gradients(lambda t: t / (t + 3.0), [x])
    check_gradients(lambda t: t - t * 0.5, [x])


# --------------------------------------------------------------------------------------
# binary ops with Python / NumPy scalars and ndarrays (including reflected operators)
# --------------------------------------------------------------------------------------
SCALAR_CASES = {
    "t+2.5": (lambda t: t + 2.5, lambda x: x + 2.5, g_normal),
    "2.5+t": (lambda t: 2.5 + t, lambda x: 2.5 + x, g_normal),
    "t-2.5": (lambda t: t - 2.5, lambda x: x - 2.5, g_normal),
    "2-t": (lambda t: 2 - t, lambda x: 2 - x, g_normal),
    "2.5-t": (lambda t: 2.5 - t, lambda x: 2.5 - x, g_normal),
    "t*2.5": (lambda t: t * 2.5, lambda x: x * 2.5, g_normal),
    "2.5*t": (lambda t: 2.5 * t, lambda x: 2.5 * x, g_normal),
    "t*3": (lambda t: t * 3, lambda x: x * 3, g_normal),
    "t/2.5": (lambda t: t / 2.5, lambda x: x / 2.5, g_normal),
    "2.5/t": (lambda t: 2.5 / t, lambda x: 2.5 / x, g_nonzero),
    "t**2": (lambda t: t ** 2, lambda x: x ** 2, g_normal),
    "t**3": (lambda t: t ** 3, lambda x: x ** 3, g_normal),
    "t**0.5": (lambda t: t ** 0.5, lambda x: x ** 0.5, g_positive),
    "t**-1.5": (lambda t: t ** -1.5, lambda x: x ** -1.5, g_positive),
    "2.0**t": (lambda t: 2.0 ** t, lambda x: 2.0 ** x, g_normal),
    "-t": (lambda t: -t, lambda x: -x, g_normal),
    "maximum(t,0.05)": (lambda t: tl.maximum(t, 0.05), lambda x: np.maximum(x, 0.05), g_grid),
    "maximum(0.05,t)": (lambda t: tl.maximum(0.05, t), lambda x: np.maximum(0.05, x), g_grid),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(SCALAR_CASES))
def test_scalar_operand_forward(name, dtype):
    """A float32 tensor combined with a Python scalar stays float32 (NumPy/NEP 50 rule)."""
    fn, ref, gen = SCALAR_CASES[name]
    x = gen(np.random.default_rng(3), (2, 3)).astype(dtype)
    expected = np.asarray(ref(x))
    assert expected.dtype == dtype  # sanity of the reference itself
    assert_matches(fn(tl.tensor(x)), expected)


@pytest.mark.parametrize("name", list(SCALAR_CASES))
def test_scalar_operand_backward(name):
    fn, _, gen = SCALAR_CASES[name]
    check_gradients(fn, [gen(np.random.default_rng(4), (2, 3))])


@pytest.mark.parametrize("name", list(SCALAR_CASES))
def test_scalar_operand_on_0d_tensor(name):
    fn, ref, gen = SCALAR_CASES[name]
    x = gen(np.random.default_rng(5), ())
    assert_matches(fn(tl.tensor(x)), ref(x))
    check_gradients(fn, [x])


NDARRAY_CASES = {
    # name: (fn(arr, t), generator for arr, generator for t, arr shape, t shape)
    "arr+t": (lambda a, t: a + t, g_normal, g_normal, (3, 1), (4,)),
    "t+arr": (lambda a, t: t + a, g_normal, g_normal, (3, 1), (4,)),
    "arr-t": (lambda a, t: a - t, g_normal, g_normal, (3, 1), (4,)),
    "t-arr": (lambda a, t: t - a, g_normal, g_normal, (3, 4), (3, 4)),
    "arr*t": (lambda a, t: a * t, g_normal, g_normal, (2, 3, 4), (4,)),
    "t*arr": (lambda a, t: t * a, g_normal, g_normal, (4,), (2, 3, 4)),
    "arr/t": (lambda a, t: a / t, g_normal, g_nonzero, (3, 4), (3, 1)),
    "t/arr": (lambda a, t: t / a, g_nonzero, g_normal, (3, 4), (3, 4)),
    "arr**t": (lambda a, t: a ** t, g_positive, g_normal, (3, 4), (4,)),
    "t**arr": (lambda a, t: t ** a, g_exponent, g_positive, (3, 4), (3, 4)),
    "arr@t": (lambda a, t: a @ t, g_normal, g_normal, (2, 3), (3, 4)),
    "t@arr": (lambda a, t: t @ a, g_normal, g_normal, (3, 4), (2, 3)),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(NDARRAY_CASES))
def test_ndarray_operand_forward(name, dtype):
    """``ndarray OP Tensor`` must return a Tensor (NumPy must defer to the Tensor)."""
    fn, ga, gt, sa, st_ = NDARRAY_CASES[name]
    rng = np.random.default_rng(6)
    a, x = ga(rng, sa).astype(dtype), gt(rng, st_).astype(dtype)
    assert_matches(fn(a, tl.tensor(x)), fn(a, x))


@pytest.mark.parametrize("name", list(NDARRAY_CASES))
def test_ndarray_operand_backward(name):
    fn, ga, gt, sa, st_ = NDARRAY_CASES[name]
    rng = np.random.default_rng(7)
    a = ga(rng, sa)
    check_gradients(lambda t: fn(a, t), [gt(rng, st_)])


def test_numpy_scalar_on_left_returns_tensor():
    x = np.array([1.0, -2.0, 0.5])
    out = np.float64(2.0) * tl.tensor(x)
    assert_matches(out, 2.0 * x)
    out = np.float64(2.0) - tl.tensor(x)
    assert_matches(out, 2.0 - x)


# --------------------------------------------------------------------------------------
# unary ops (method and function forms)
# --------------------------------------------------------------------------------------
UNARY = {
    # name: (method form, function form, numpy reference, generator)
    "exp": (lambda t: t.exp(), lambda t: tl.exp(t), np.exp, g_normal),
    "log": (lambda t: t.log(), lambda t: tl.log(t), np.log, g_positive),
    "sqrt": (lambda t: t.sqrt(), lambda t: tl.sqrt(t), np.sqrt, g_positive),
    "abs": (lambda t: t.abs(), lambda t: tl.abs(t), np.abs, g_nonzero),
    "relu": (lambda t: t.relu(), lambda t: tl.relu(t), lambda x: np.maximum(x, 0), g_nonzero),
    "sigmoid": (lambda t: t.sigmoid(), lambda t: tl.sigmoid(t), np_sigmoid, g_wide),
    "tanh": (lambda t: t.tanh(), lambda t: tl.tanh(t), np.tanh, g_wide),
    "clip": (lambda t: t.clip(-0.5, 0.5), lambda t: tl.clip(t, -0.5, 0.5),
             lambda x: np.clip(x, -0.5, 0.5), g_clip),
    "clip_min_only": (lambda t: t.clip(-0.5, None), lambda t: tl.clip(t, -0.5, None),
                      lambda x: np.maximum(x, -0.5), g_clip),
    "clip_max_only": (lambda t: t.clip(None, 0.5), lambda t: tl.clip(t, None, 0.5),
                      lambda x: np.minimum(x, 0.5), g_clip),
}
FORMS = {"method": 0, "function": 1}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(2, 3), (4,), (), (1,), (2, 1, 3)], ids=str)
@pytest.mark.parametrize("form", list(FORMS))
@pytest.mark.parametrize("name", list(UNARY))
def test_unary_forward(name, form, shape, dtype):
    fn = UNARY[name][FORMS[form]]
    ref, gen = UNARY[name][2], UNARY[name][3]
    x = gen(np.random.default_rng(8), shape).astype(dtype)
    assert_matches(fn(tl.tensor(x)), ref(x))


@pytest.mark.parametrize("shape", [(2, 3), ()], ids=str)
@pytest.mark.parametrize("form", list(FORMS))
@pytest.mark.parametrize("name", list(UNARY))
def test_unary_backward(name, form, shape):
    fn, gen = UNARY[name][FORMS[form]], UNARY[name][3]
    check_gradients(fn, [gen(np.random.default_rng(9), shape)])


@pytest.mark.parametrize("name", list(UNARY))
@given(shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=3), seed=SEEDS)
def test_unary_property(name, shape, seed):
    fn, _, ref, gen = UNARY[name]
    x = gen(np.random.default_rng(seed), shape)
    for dtype in DTYPES:
        assert_matches(fn(tl.tensor(x.astype(dtype))), ref(x.astype(dtype)))
    check_gradients(fn, [x])


def test_sigmoid_tanh_saturate_without_overflow():
    x = np.array([-800.0, -40.0, 0.0, 40.0, 800.0])
    for dtype in DTYPES:
        with np.errstate(over="ignore"):
            expected_sig = np_sigmoid(x).astype(dtype)
        sig = tl.tensor(x.astype(dtype)).sigmoid().numpy()
        assert np.all(np.isfinite(sig))
        np.testing.assert_allclose(sig, expected_sig, rtol=1e-6, atol=1e-30)
        np.testing.assert_allclose(tl.tensor(x.astype(dtype)).tanh().numpy(),
                                   np.tanh(x).astype(dtype), rtol=1e-6, atol=0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["contiguous", "transposed", "strided"])
def test_relu_large_array_forward_backward(dtype, layout):
    """Arrays above the kernels' serial threshold (2**15 elements), any memory layout."""
    rng = np.random.default_rng(10)
    base = g_nonzero(rng, (260, 300)).astype(dtype)
    x = {"contiguous": base, "transposed": base.T, "strided": base[::2, ::-1]}[layout]
    t = tl.tensor(x, requires_grad=True)
    y = t.relu()
    assert_matches(y, np.maximum(x, 0))
    W = weights_for(x.shape, seed=3).astype(dtype)
    (y * tl.tensor(W)).sum().backward()
    grad = t.grad.numpy()
    assert grad.dtype == dtype and grad.shape == x.shape
    np.testing.assert_array_equal(grad, np.where(x > 0, W, 0).astype(dtype))


def test_relu_kernels_do_not_leak_flush_to_zero():
    """Kernels may flush denormals internally but must restore the FP mode of the caller."""
    x = g_nonzero(np.random.default_rng(11), (300, 300))
    for dtype in DTYPES:
        t = tl.tensor(x.astype(dtype), requires_grad=True)
        t.relu().sum().backward()
        tl.tensor(x[:3].astype(dtype)).relu()
    tiny = np.array([1e-310, 5e-324])
    assert np.all(tiny * 1.0 == tiny)
    assert np.all(tiny > 0)
    assert np.float32(1e-40) * np.float32(1.0) != 0


# --------------------------------------------------------------------------------------
# reductions
# --------------------------------------------------------------------------------------
REDUCTIONS = {
    "sum": (g_normal, lambda x, **kw: x.sum(**kw)),
    "mean": (g_normal, lambda x, **kw: x.mean(**kw)),
    "max": (g_distinct, lambda x, **kw: x.max(**kw)),
}
REDUCTION_AXES = [None, 0, 1, 2, -1, -3, (0, 2), (2, 0), (-1, 0), (0, 1, 2)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", REDUCTION_AXES, ids=str)
@pytest.mark.parametrize("op", list(REDUCTIONS))
def test_reduction_forward(op, axis, keepdims, dtype):
    gen, call = REDUCTIONS[op]
    x = gen(np.random.default_rng(12), (2, 3, 4)).astype(dtype)
    assert_matches(call(tl.tensor(x), axis=axis, keepdims=keepdims),
                   call(x, axis=axis, keepdims=keepdims))


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", REDUCTION_AXES, ids=str)
@pytest.mark.parametrize("op", list(REDUCTIONS))
def test_reduction_backward(op, axis, keepdims):
    gen, call = REDUCTIONS[op]
    x = gen(np.random.default_rng(13), (2, 3, 4))
    check_gradients(lambda t: call(t, axis=axis, keepdims=keepdims), [x])


@pytest.mark.parametrize("op", list(REDUCTIONS))
def test_reduction_defaults_and_positional_axis(op):
    gen, _ = REDUCTIONS[op]
    x = gen(np.random.default_rng(14), (3, 4))
    t = tl.tensor(x)
    full = getattr(t, op)()
    assert tuple(full.shape) == ()
    assert_matches(full, getattr(x, op)())
    assert_matches(getattr(t, op)(1), getattr(x, op)(1))
    assert_matches(getattr(t, op)(-2), getattr(x, op)(-2))
    check_gradients(lambda u: getattr(u, op)(0), [x])


@pytest.mark.parametrize("shape", [(), (1,), (1, 1)], ids=str)
@pytest.mark.parametrize("op", list(REDUCTIONS))
def test_reduction_of_single_element(op, shape):
    x = np.full(shape, 1.75)
    assert_matches(getattr(tl.tensor(x), op)(), getattr(x, op)())
    check_gradients(lambda t: getattr(t, op)(), [x])


@st.composite
def shape_and_axis(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=3))
    ndim = len(shape)
    axis = draw(st.one_of(
        st.none(),
        st.integers(min_value=-ndim, max_value=ndim - 1),
        hnp.valid_tuple_axes(ndim, min_size=1),
    ))
    return shape, axis


@pytest.mark.parametrize("op", list(REDUCTIONS))
@given(case=shape_and_axis(), keepdims=st.booleans(), seed=SEEDS)
def test_reduction_property(op, case, keepdims, seed):
    shape, axis = case
    gen, call = REDUCTIONS[op]
    x = gen(np.random.default_rng(seed), shape)
    for dtype in DTYPES:
        xd = x.astype(dtype)
        assert_matches(call(tl.tensor(xd), axis=axis, keepdims=keepdims),
                       call(xd, axis=axis, keepdims=keepdims))
    check_gradients(lambda t: call(t, axis=axis, keepdims=keepdims), [x])


def test_max_gradient_goes_to_the_max_element():
    x = np.array([[0.3, 2.0, -1.0], [5.0, 4.0, 4.5]])
    t = tl.tensor(x, requires_grad=True)
    t.max(axis=1).sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    t.grad = None
    t.max().backward()
    np.testing.assert_array_equal(t.grad.numpy(), [[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]])


# --------------------------------------------------------------------------------------
# matmul
# --------------------------------------------------------------------------------------
MATMUL_CASES = [
    ((2, 3), (3, 4)),
    ((1, 3), (3, 1)),
    ((4, 1), (1, 5)),
    ((2, 2, 3), (2, 3, 4)),
    ((2, 2, 3), (3, 4)),
    ((3, 4), (2, 4, 5)),
    ((2, 1, 3, 4), (5, 4, 2)),
    ((3,), (3,)),
    ((3,), (3, 4)),
    ((2, 3), (3,)),
    ((2, 2, 3), (3,)),
    ((3,), (2, 3, 4)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes", MATMUL_CASES, ids=str)
def test_matmul_forward(shapes, dtype):
    rng = np.random.default_rng(15)
    a = g_normal(rng, shapes[0]).astype(dtype)
    b = g_normal(rng, shapes[1]).astype(dtype)
    assert_matches(tl.tensor(a) @ tl.tensor(b), np.matmul(a, b))


@pytest.mark.parametrize("shapes", MATMUL_CASES, ids=str)
def test_matmul_backward(shapes):
    rng = np.random.default_rng(16)
    check_gradients(lambda a, b: a @ b, [g_normal(rng, shapes[0]), g_normal(rng, shapes[1])])


def test_matmul_bigger_against_numpy():
    rng = np.random.default_rng(17)
    for dtype in DTYPES:
        a = rng.standard_normal((67, 129)).astype(dtype)
        b = rng.standard_normal((129, 35)).astype(dtype)
        expected = np.matmul(a.astype(np.float64), b.astype(np.float64)).astype(dtype)
        out = (tl.tensor(a) @ tl.tensor(b)).numpy()
        assert out.dtype == dtype
        np.testing.assert_allclose(out, expected, rtol=1e-4 if dtype == np.float32 else 1e-11,
                                   atol=1e-4 if dtype == np.float32 else 1e-11)


# --------------------------------------------------------------------------------------
# shape ops
# --------------------------------------------------------------------------------------
SHAPE_CASES = {
    # name: (input shape, tensorlib fn, numpy reference)
    "reshape_varargs": ((2, 3, 4), lambda t: t.reshape(6, 4), lambda x: x.reshape(6, 4)),
    "reshape_tuple": ((2, 3, 4), lambda t: t.reshape((4, 6)), lambda x: x.reshape(4, 6)),
    "reshape_minus1": ((2, 3, 4), lambda t: t.reshape(-1), lambda x: x.reshape(-1)),
    "reshape_minus1_mid": ((2, 3, 4), lambda t: t.reshape(2, -1, 2),
                           lambda x: x.reshape(2, -1, 2)),
    "reshape_minus1_tuple": ((2, 3, 4), lambda t: t.reshape((-1, 3)),
                             lambda x: x.reshape(-1, 3)),
    "reshape_to_0d": ((1,), lambda t: t.reshape(()), lambda x: x.reshape(())),
    "reshape_from_0d": ((), lambda t: t.reshape(1, 1), lambda x: x.reshape(1, 1)),
    "transpose_noargs": ((2, 3, 4), lambda t: t.transpose(), lambda x: x.transpose()),
    "transpose_varargs": ((2, 3, 4), lambda t: t.transpose(1, 0, 2),
                          lambda x: x.transpose(1, 0, 2)),
    "transpose_tuple": ((2, 3, 4), lambda t: t.transpose((2, 0, 1)),
                        lambda x: x.transpose(2, 0, 1)),
    "T_2d": ((3, 5), lambda t: t.T, lambda x: x.T),
    "T_3d": ((2, 3, 4), lambda t: t.T, lambda x: x.T),
    "T_1d": ((4,), lambda t: t.T, lambda x: x.T),
    "permute": ((2, 3, 4), lambda t: t.permute(2, 0, 1), lambda x: x.transpose(2, 0, 1)),
    "permute_negative": ((2, 3, 4), lambda t: t.permute(0, -1, -2),
                         lambda x: x.transpose(0, 2, 1)),
    "flatten_all": ((2, 3, 4, 5), lambda t: t.flatten(), lambda x: x.reshape(-1)),
    "flatten_start1": ((2, 3, 4, 5), lambda t: t.flatten(1), lambda x: x.reshape(2, 60)),
    "flatten_1_2": ((2, 3, 4, 5), lambda t: t.flatten(1, 2), lambda x: x.reshape(2, 12, 5)),
    "flatten_neg_start": ((2, 3, 4, 5), lambda t: t.flatten(-2),
                          lambda x: x.reshape(2, 3, 20)),
    "flatten_0_1": ((2, 3, 4, 5), lambda t: t.flatten(0, 1), lambda x: x.reshape(6, 4, 5)),
    "flatten_kwargs": ((2, 3, 4, 5), lambda t: t.flatten(start_dim=1, end_dim=-2),
                       lambda x: x.reshape(2, 12, 5)),
    "flatten_noop": ((2, 3), lambda t: t.flatten(1, 1), lambda x: x.reshape(2, 3)),
    "flatten_1d": ((5,), lambda t: t.flatten(), lambda x: x.reshape(5)),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(SHAPE_CASES))
def test_shape_op_forward(name, dtype):
    shape, fn, ref = SHAPE_CASES[name]
    x = g_normal(np.random.default_rng(18), shape).astype(dtype)
    assert_matches(fn(tl.tensor(x)), ref(x))


@pytest.mark.parametrize("name", list(SHAPE_CASES))
def test_shape_op_backward(name):
    shape, fn, _ = SHAPE_CASES[name]
    check_gradients(fn, [g_normal(np.random.default_rng(19), shape)])


def test_shape_ops_compose_with_elementwise():
    """A reshape of a transpose must follow the transposed (logical) element order."""
    x = g_normal(np.random.default_rng(20), (3, 4))
    fn_np = lambda a: (a.T.reshape(2, 6) * np.arange(12.0).reshape(2, 6)).sum(axis=0)  # noqa: E731
    fn_tl = lambda t: (t.T.reshape(2, 6) * tl.tensor(np.arange(12.0).reshape(2, 6))).sum(axis=0)  # noqa: E731,E501
    assert_matches(fn_tl(tl.tensor(x)), fn_np(x))
    check_gradients(fn_tl, [x])


# --------------------------------------------------------------------------------------
# indexing
# --------------------------------------------------------------------------------------
INDEX_CASES = {
    "slices": (slice(1, 3), slice(None, None, 2)),
    "int": 1,
    "negative_int": -1,
    "two_ints": (1, 2),
    "all_ints": (3, 4, 2),
    "int_array": np.array([2, 0, 3]),
    "repeated_list": [0, 0, 1],
    "repeated_2d_index_array": np.array([[0, 1], [1, 1]]),
    "colon_list": (slice(None), [0, 2]),
    "colon_list_repeated": (slice(None), [4, 4, 0]),
    "none": None,
    "none_in_middle": (slice(None), None),
    "ellipsis_int": (Ellipsis, 1),
    "ellipsis_slice": (Ellipsis, slice(0, 2)),
    "reversed": slice(None, None, -1),
    "mixed_int_slice": (2, slice(1, None), 0),
    "negative_step_inner": (slice(None), slice(None, None, -2)),
    "two_arrays_repeated": (np.array([0, 3, 0]), np.array([1, 1, 1])),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(INDEX_CASES))
def test_indexing_forward(name, dtype):
    idx = INDEX_CASES[name]
    x = g_normal(np.random.default_rng(21), (4, 5, 3)).astype(dtype)
    assert_matches(tl.tensor(x)[idx], x[idx])


@pytest.mark.parametrize("name", list(INDEX_CASES))
def test_indexing_backward(name):
    idx = INDEX_CASES[name]
    check_gradients(lambda t: t[idx], [g_normal(np.random.default_rng(22), (4, 5, 3))])


def test_indexing_repeated_indices_accumulate():
    x = np.arange(1.0, 4.0)  # [1, 2, 3]
    t = tl.tensor(x, requires_grad=True)
    t[[0, 0, 1, 0]].sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), [3.0, 1.0, 0.0])
    t2 = tl.tensor(np.ones((3, 2)), requires_grad=True)
    (t2[np.array([2, 2])] * tl.tensor(np.array([[1.0, 2.0], [10.0, 20.0]]))).sum().backward()
    np.testing.assert_array_equal(t2.grad.numpy(), [[0, 0], [0, 0], [11.0, 22.0]])


# --------------------------------------------------------------------------------------
# softmax / log_softmax
# --------------------------------------------------------------------------------------
SOFTMAX = {
    "softmax_method": (lambda t, axis: t.softmax(axis=axis), np_softmax),
    "softmax_function": (lambda t, axis: tl.softmax(t, axis=axis), np_softmax),
    "log_softmax_method": (lambda t, axis: t.log_softmax(axis=axis), np_log_softmax),
    "log_softmax_function": (lambda t, axis: tl.log_softmax(t, axis=axis), np_log_softmax),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis", [-1, 0, 1, 2, -2])
@pytest.mark.parametrize("name", list(SOFTMAX))
def test_softmax_forward(name, axis, dtype):
    fn, ref = SOFTMAX[name]
    x = g_wide(np.random.default_rng(23), (2, 3, 4)).astype(dtype)
    assert_matches(fn(tl.tensor(x), axis), ref(x, axis))


@pytest.mark.parametrize("axis", [-1, 0, 1])
@pytest.mark.parametrize("name", list(SOFTMAX))
def test_softmax_backward(name, axis):
    fn, _ = SOFTMAX[name]
    check_gradients(lambda t: fn(t, axis), [g_wide(np.random.default_rng(24), (2, 3, 4))])


def test_softmax_default_axis_is_last():
    x = g_wide(np.random.default_rng(25), (3, 4))
    assert_matches(tl.tensor(x).softmax(), np_softmax(x, -1))
    assert_matches(tl.softmax(tl.tensor(x)), np_softmax(x, -1))
    assert_matches(tl.tensor(x).log_softmax(), np_log_softmax(x, -1))
    assert_matches(tl.log_softmax(tl.tensor(x)), np_log_softmax(x, -1))


@pytest.mark.parametrize("name", list(SOFTMAX))
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4),
       data=st.data(), seed=SEEDS)
def test_softmax_property(name, shape, data, seed):
    fn, ref = SOFTMAX[name]
    axis = data.draw(st.integers(min_value=-len(shape), max_value=len(shape) - 1), label="axis")
    x = g_wide(np.random.default_rng(seed), shape)
    for dtype in DTYPES:
        assert_matches(fn(tl.tensor(x.astype(dtype)), axis), ref(x.astype(dtype), axis))
    check_gradients(lambda t: fn(t, axis), [x])


STABILITY_INPUTS = {
    "1000_0": np.array([1000.0, 0.0]),
    "minus1000_0": np.array([-1000.0, 0.0]),
    "rows": np.array([[1000.0, 0.0, -1000.0], [1.0, 2.0, 3.0], [-900.0, -905.0, -1000.0]]),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", list(STABILITY_INPUTS))
def test_softmax_numerically_stable_forward(case, dtype):
    x = STABILITY_INPUTS[case].astype(dtype)
    ls = tl.tensor(x).log_softmax().numpy()
    sm = tl.tensor(x).softmax().numpy()
    assert np.all(np.isfinite(ls)) and np.all(np.isfinite(sm))
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(ls, np_log_softmax(x64), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(sm, np_softmax(x64), rtol=1e-6, atol=1e-7)
    assert ls.dtype == dtype and sm.dtype == dtype


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", list(STABILITY_INPUTS))
def test_log_softmax_gradient_at_extreme_inputs(case, dtype):
    """d/dx sum(W * log_softmax(x)) = W - softmax(x) * sum(W) along the axis."""
    x = STABILITY_INPUTS[case]
    W = weights_for(x.shape, seed=5)
    t = tl.tensor(x.astype(dtype), requires_grad=True)
    (t.log_softmax() * tl.tensor(W.astype(dtype))).sum().backward()
    expected = W - np_softmax(x) * W.sum(axis=-1, keepdims=True)
    grad = t.grad.numpy()
    assert grad.dtype == dtype and np.all(np.isfinite(grad))
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(grad, expected, **tol)


@pytest.mark.parametrize("case", list(STABILITY_INPUTS))
def test_softmax_gradients_at_extreme_inputs_gradcheck(case):
    x = STABILITY_INPUTS[case]
    check_gradients(lambda t: t.log_softmax(), [x])
    check_gradients(lambda t: t.softmax(), [x])


def test_softmax_shift_invariance():
    x = g_wide(np.random.default_rng(26), (3, 5))
    a = tl.tensor(x).softmax(axis=1).numpy()
    b = tl.tensor(x + 5000.0).softmax(axis=1).numpy()
    np.testing.assert_allclose(b, np_softmax(x, 1), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(a, np_softmax(x, 1), rtol=1e-12, atol=1e-15)


# --------------------------------------------------------------------------------------
# concatenate / stack / where
# --------------------------------------------------------------------------------------
CONCAT_CASES = {
    "axis0": ([(2, 3), (4, 3)], 0),
    "axis1": ([(2, 3), (2, 1)], 1),
    "axis_neg1_three": ([(2, 1, 2), (2, 1, 3), (2, 1, 1)], -1),
    "axis1_3d": ([(2, 1, 2), (2, 3, 2)], 1),
    "single": ([(3, 2)], 0),
    "1d": ([(3,), (2,), (4,)], 0),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(CONCAT_CASES))
def test_concatenate_forward(name, dtype):
    shapes, axis = CONCAT_CASES[name]
    rng = np.random.default_rng(27)
    xs = [g_normal(rng, s).astype(dtype) for s in shapes]
    assert_matches(tl.concatenate([tl.tensor(x) for x in xs], axis=axis),
                   np.concatenate(xs, axis=axis))
    assert_matches(tl.concatenate(tuple(tl.tensor(x) for x in xs), axis),
                   np.concatenate(xs, axis=axis))


@pytest.mark.parametrize("name", list(CONCAT_CASES))
def test_concatenate_backward(name):
    shapes, axis = CONCAT_CASES[name]
    rng = np.random.default_rng(28)
    check_gradients(lambda *ts: tl.concatenate(list(ts), axis=axis),
                    [g_normal(rng, s) for s in shapes])


def test_concatenate_default_axis_is_0():
    a, b = np.ones((1, 2)), np.zeros((2, 2))
    assert_matches(tl.concatenate([tl.tensor(a), tl.tensor(b)]), np.concatenate([a, b]))


STACK_CASES = {
    "axis0": ((2, 3), 2, 0),
    "axis1": ((2, 3), 3, 1),
    "axis_last": ((2, 3), 2, 2),
    "axis_neg1": ((2, 3), 3, -1),
    "0d": ((), 4, 0),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(STACK_CASES))
def test_stack_forward(name, dtype):
    shape, n, axis = STACK_CASES[name]
    rng = np.random.default_rng(29)
    xs = [g_normal(rng, shape).astype(dtype) for _ in range(n)]
    assert_matches(tl.stack([tl.tensor(x) for x in xs], axis=axis), np.stack(xs, axis=axis))


@pytest.mark.parametrize("name", list(STACK_CASES))
def test_stack_backward(name):
    shape, n, axis = STACK_CASES[name]
    rng = np.random.default_rng(30)
    check_gradients(lambda *ts: tl.stack(list(ts), axis=axis),
                    [g_normal(rng, shape) for _ in range(n)])


def test_stack_default_axis_is_0():
    a, b = np.ones((2,)), np.zeros((2,))
    assert_matches(tl.stack([tl.tensor(a), tl.tensor(b)]), np.stack([a, b]))


WHERE_SHAPES = [
    ((3, 4), (3, 4), (3, 4)),
    ((3, 1), (1, 4), (4,)),
    ((4,), (3, 4), ()),
    ((2, 3, 1), (3, 4), (2, 1, 4)),
    ((), (2, 2), (2, 2)),
]


@pytest.mark.parametrize("cond_as_tensor", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes", WHERE_SHAPES, ids=str)
def test_where_forward(shapes, dtype, cond_as_tensor):
    rng = np.random.default_rng(31)
    cond = rng.random(shapes[0]) > 0.5
    cond = np.asarray(cond)
    a, b = g_normal(rng, shapes[1]).astype(dtype), g_normal(rng, shapes[2]).astype(dtype)
    c = tl.tensor(cond) if cond_as_tensor else cond
    assert_matches(tl.where(c, tl.tensor(a), tl.tensor(b)), np.where(cond, a, b))
    assert_matches(tl.where(c, tl.tensor(a), 0.5), np.where(cond, a, dtype(0.5)))
    assert_matches(tl.where(c, -1.5, tl.tensor(b)), np.where(cond, dtype(-1.5), b))


@pytest.mark.parametrize("shapes", WHERE_SHAPES, ids=str)
def test_where_backward(shapes):
    rng = np.random.default_rng(32)
    cond = np.asarray(rng.random(shapes[0]) > 0.5)
    a, b = g_normal(rng, shapes[1]), g_normal(rng, shapes[2])
    check_gradients(lambda x, y: tl.where(cond, x, y), [a, b])
    check_gradients(lambda x: tl.where(cond, x, 0.5), [a])
    check_gradients(lambda y: tl.where(cond, -1.5, y), [b])
    check_gradients(lambda x, y: tl.where(tl.tensor(cond), x, y), [a, b])


@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=3, max_side=3),
       seed=SEEDS)
def test_where_property(shapes, seed):
    rng = np.random.default_rng(seed)
    sc, sa, sb = shapes.input_shapes
    cond = np.asarray(rng.random(sc) > 0.5)
    a, b = g_normal(rng, sa), g_normal(rng, sb)
    for dtype in DTYPES:
        ad, bd = a.astype(dtype), b.astype(dtype)
        assert_matches(tl.where(cond, tl.tensor(ad), tl.tensor(bd)), np.where(cond, ad, bd))
    check_gradients(lambda x, y: tl.where(cond, x, y), [a, b])


# --------------------------------------------------------------------------------------
# non-contiguous inputs (transposed / strided NumPy views handed to tl.tensor)
# --------------------------------------------------------------------------------------
def _views(rng, dtype=np.float64):
    base = g_normal(rng, (6, 8)).astype(dtype)
    pos = g_positive(rng, (6, 8)).astype(dtype)
    return {
        "transposed": base.T,  # (8, 6), F-contiguous
        "strided": base[::2, 1::3],  # (3, 3)
        "reversed": base[::-1, ::-2],  # (6, 4), negative strides
        "pos_transposed": pos.T,
    }


NONCONTIG_CASES = {
    # name: (view names, tensorlib fn, numpy reference)
    "add_T_T": (("transposed", "transposed"), lambda a, b: a + b * 2.0, lambda a, b: a + b * 2.0),
    "mul_bcast": (("strided", "strided"), lambda a, b: a * b[0], lambda a, b: a * b[0]),
    "matmul": (("transposed", "reversed"), lambda a, b: a @ b[:, :3], lambda a, b: a @ b[:, :3]),
    "exp": (("reversed",), lambda a: a.exp(), np.exp),
    "log": (("pos_transposed",), lambda a: a.log(), np.log),
    "tanh": (("strided",), lambda a: a.tanh(), np.tanh),
    "sum_axis0": (("transposed",), lambda a: a.sum(axis=0), lambda a: a.sum(axis=0)),
    "max_axis1": (("reversed",), lambda a: a.max(axis=1), lambda a: a.max(axis=1)),
    "reshape": (("transposed",), lambda a: a.reshape(4, 12), lambda a: a.reshape(4, 12)),
    "flatten": (("reversed",), lambda a: a.flatten(), lambda a: a.reshape(-1)),
    "index": (("transposed",), lambda a: a[[1, 1, 5], 2:], lambda a: a[[1, 1, 5], 2:]),
    "softmax": (("transposed",), lambda a: a.softmax(axis=0), lambda a: np_softmax(a, 0)),
    "log_softmax": (("strided",), lambda a: a.log_softmax(), np_log_softmax),
    "concat": (("strided", "transposed"), lambda a, b: tl.concatenate([a, b[:3, :3]], axis=1),
               lambda a, b: np.concatenate([a, b[:3, :3]], axis=1)),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(NONCONTIG_CASES))
def test_noncontiguous_forward(name, dtype):
    names, fn, ref = NONCONTIG_CASES[name]
    views = _views(np.random.default_rng(33), dtype)
    arrays = [views[n] for n in names]
    assert all(not a.flags.c_contiguous for a in arrays)
    assert_matches(fn(*[tl.tensor(a) for a in arrays]), ref(*arrays))


@pytest.mark.parametrize("name", list(NONCONTIG_CASES))
def test_noncontiguous_backward(name):
    names, fn, _ = NONCONTIG_CASES[name]
    views = _views(np.random.default_rng(34))
    arrays = [views[n] for n in names]
    assert all(not a.flags.c_contiguous for a in arrays)
    check_gradients(fn, arrays)
