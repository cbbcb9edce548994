"""Tensor construction, dtypes, random generation, properties, repr/item/__array__,
integer tensors, dtype promotion and error messages."""
import re

import numpy as np
import pytest

import tensorlib as tl


def mentions_shape(message, shape):
    """True if ``message`` spells ``shape`` as a tuple ``(2, 3)`` or a list ``[2, 3]``."""
    shape = tuple(shape)
    return str(shape) in message or str(list(shape)) in message


# --------------------------------------------------------------------------------------
# tl.tensor and dtype rules
# --------------------------------------------------------------------------------------
def test_dtype_aliases_are_numpy_dtypes():
    assert np.dtype(tl.float32) == np.dtype(np.float32)
    assert np.dtype(tl.float64) == np.dtype(np.float64)
    assert np.dtype(tl.int64) == np.dtype(np.int64)
    assert np.dtype(tl.int32) == np.dtype(np.int32)


@pytest.mark.parametrize("data, shape", [
    ([1.0, 2.0, 3.0], (3,)),
    ([[1, 2], [3, 4]], (2, 2)),  # Python ints also become float32
    (2.5, ()),
    (7, ()),
    ([[0.5]], (1, 1)),
    ([True, False], (2,)),
])
def test_python_data_becomes_float32(data, shape):
    t = tl.tensor(data)
    assert isinstance(t, tl.Tensor)
    assert t.dtype == np.float32
    assert isinstance(t.dtype, np.dtype)
    assert t.shape == shape
    np.testing.assert_array_equal(t.numpy(), np.array(data, dtype=np.float32))


@pytest.mark.parametrize("np_dtype", [np.float32, np.float64, np.int64, np.int32])
def test_ndarray_keeps_its_dtype(np_dtype):
    a = np.arange(6).reshape(2, 3).astype(np_dtype)
    t = tl.tensor(a)
    assert t.dtype == np_dtype
    assert t.shape == (2, 3)
    np.testing.assert_array_equal(t.numpy(), a)
    assert t.numpy().dtype == np_dtype


@pytest.mark.parametrize("dtype", [tl.float64, tl.int64, tl.int32, tl.float32])
def test_explicit_dtype(dtype):
    t = tl.tensor([[1, 2, 3]], dtype=dtype)
    assert t.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(t.numpy(), np.array([[1, 2, 3]], dtype=dtype))
    t2 = tl.tensor(np.array([1.0, 2.0]), dtype=dtype)
    assert t2.dtype == np.dtype(dtype)


def test_explicit_dtype_overrides_ndarray_dtype():
    t = tl.tensor(np.array([1.5, 2.5], dtype=np.float64), dtype=tl.float32)
    assert t.dtype == np.float32
    np.testing.assert_array_equal(t.numpy(), np.array([1.5, 2.5], dtype=np.float32))


def test_requires_grad_flag():
    assert tl.tensor([1.0]).requires_grad is False
    t = tl.tensor([1.0, 2.0], requires_grad=True)
    assert t.requires_grad is True
    assert t.grad is None
    t64 = tl.tensor(np.zeros(3), requires_grad=True)
    assert t64.requires_grad is True and t64.dtype == np.float64


@pytest.mark.parametrize("make", [
    lambda: tl.tensor(np.array([1, 2, 3]), requires_grad=True),
    lambda: tl.tensor(np.array([1, 2], dtype=np.int32), requires_grad=True),
    lambda: tl.tensor([1, 2], dtype=tl.int64, requires_grad=True),
    lambda: tl.zeros(3, dtype=tl.int64, requires_grad=True),
    lambda: tl.ones((2, 2), dtype=tl.int32, requires_grad=True),
], ids=["int64_array", "int32_array", "list_int64", "zeros_int64", "ones_int32"])
def test_requires_grad_on_integer_tensor_raises(make):
    with pytest.raises(ValueError):
        make()


# --------------------------------------------------------------------------------------
# creation functions
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("fn, value", [(lambda *a, **k: tl.zeros(*a, **k), 0.0),
                                       (lambda *a, **k: tl.ones(*a, **k), 1.0)],
                         ids=["zeros", "ones"])
@pytest.mark.parametrize("args, shape", [
    ((3,), (3,)),
    (((2, 3),), (2, 3)),
    ((2, 3), (2, 3)),
    ((2, 3, 4), (2, 3, 4)),
    (((),), ()),
    (((1, 0),), (1, 0)),
], ids=str)
def test_zeros_ones_shapes(fn, value, args, shape):
    t = fn(*args)
    assert isinstance(t, tl.Tensor)
    assert t.shape == shape
    assert t.dtype == np.float32
    assert t.requires_grad is False
    np.testing.assert_array_equal(t.numpy(), np.full(shape, value, dtype=np.float32))


@pytest.mark.parametrize("name", ["zeros", "ones"])
def test_zeros_ones_dtype_and_requires_grad(name):
    fn = getattr(tl, name)
    t = fn((2, 2), dtype=tl.float64, requires_grad=True)
    assert t.dtype == np.float64 and t.requires_grad is True
    ti = fn(4, dtype=tl.int64)
    assert ti.dtype == np.int64 and ti.shape == (4,)


def test_full():
    t = tl.full((2, 3), 1.5)
    assert t.shape == (2, 3) and t.dtype == np.float32
    np.testing.assert_array_equal(t.numpy(), np.full((2, 3), 1.5, dtype=np.float32))
    t = tl.full(4, -2.0, dtype=tl.float64)
    assert t.shape == (4,) and t.dtype == np.float64
    np.testing.assert_array_equal(t.numpy(), np.full(4, -2.0))
    t = tl.full((2,), 7, dtype=tl.int64)
    assert t.dtype == np.int64
    np.testing.assert_array_equal(t.numpy(), [7, 7])


@pytest.mark.parametrize("args, kwargs, expected", [
    ((5,), {}, np.arange(5)),
    ((2, 7), {}, np.arange(2, 7)),
    ((1, 10, 3), {}, np.arange(1, 10, 3)),
    ((10, 0, -2), {}, np.arange(10, 0, -2)),
    ((0.0, 1.0, 0.25), {}, np.arange(0.0, 1.0, 0.25, dtype=np.float32)),
    ((3.0,), {}, np.arange(3.0, dtype=np.float32)),
    ((1, 2.5, 0.5), {}, np.arange(1, 2.5, 0.5, dtype=np.float32)),
    ((4,), {"dtype": tl.float64}, np.arange(4, dtype=np.float64)),
    ((0, 3), {"step": 1, "dtype": tl.float32}, np.arange(0, 3, dtype=np.float32)),
], ids=str)
def test_arange(args, kwargs, expected):
    t = tl.arange(*args, **kwargs)
    assert isinstance(t, tl.Tensor)
    assert t.dtype == expected.dtype, f"{t.dtype} != {expected.dtype}"
    assert t.shape == expected.shape
    np.testing.assert_array_equal(t.numpy(), expected)


def test_arange_int_default_is_int64():
    assert tl.arange(3).dtype == np.int64


# --------------------------------------------------------------------------------------
# random numbers
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["randn", "rand"])
def test_random_shape_dtype(name):
    fn = getattr(tl, name)
    t = fn(2, 3)
    assert isinstance(t, tl.Tensor)
    assert t.shape == (2, 3) and t.dtype == np.float32 and t.requires_grad is False
    t = fn(4, dtype=tl.float64, requires_grad=True)
    assert t.shape == (4,) and t.dtype == np.float64 and t.requires_grad is True


@pytest.mark.parametrize("name", ["randn", "rand"])
def test_manual_seed_reproducible(name):
    fn = getattr(tl, name)
    tl.manual_seed(123)
    a = fn(3, 4).numpy().copy()
    b = fn(3, 4).numpy().copy()
    tl.manual_seed(123)
    a2 = fn(3, 4).numpy().copy()
    b2 = fn(3, 4).numpy().copy()
    np.testing.assert_array_equal(a, a2)
    np.testing.assert_array_equal(b, b2)
    assert not np.array_equal(a, b), "consecutive draws should differ"
    tl.manual_seed(124)
    assert not np.array_equal(fn(3, 4).numpy(), a), "different seeds should differ"


@pytest.mark.parametrize("name", ["randn", "rand"])
def test_generators_with_same_seed_agree(name):
    fn = getattr(tl, name)
    g1, g2, g3 = tl.Generator(7), tl.Generator(7), tl.Generator(8)
    tl.manual_seed(0)
    a = fn(5, 2, generator=g1).numpy().copy()
    tl.manual_seed(999)  # the global seed must not influence an explicit generator
    b = fn(5, 2, generator=g2).numpy().copy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, fn(5, 2, generator=g3).numpy())
    # the generators advance identically as well
    np.testing.assert_array_equal(fn(3, generator=g1).numpy(), fn(3, generator=g2).numpy())
    assert not np.array_equal(fn(5, 2, generator=g1).numpy(), a)


def test_generator_does_not_touch_global_stream():
    tl.manual_seed(42)
    expected = tl.randn(4).numpy().copy()
    tl.manual_seed(42)
    tl.randn(100, generator=tl.Generator(1))
    np.testing.assert_array_equal(tl.randn(4).numpy(), expected)


def test_randn_statistics():
    x = tl.randn(200_000, dtype=tl.float64, generator=tl.Generator(3)).numpy()
    assert abs(x.mean()) < 0.01
    assert abs(x.std() - 1.0) < 0.01
    assert x.min() < -3.5 and x.max() > 3.5


def test_rand_statistics():
    x = tl.rand(200_000, dtype=tl.float64, generator=tl.Generator(4)).numpy()
    assert x.min() >= 0.0 and x.max() < 1.0
    assert abs(x.mean() - 0.5) < 0.005
    assert abs(x.var() - 1.0 / 12.0) < 0.002
    counts, _ = np.histogram(x, bins=10, range=(0.0, 1.0))
    assert counts.min() > 19_000


def test_rand_float32_in_unit_interval():
    x = tl.rand(100_000, generator=tl.Generator(5)).numpy()
    assert x.dtype == np.float32
    assert x.min() >= 0.0 and x.max() < 1.0


def test_rand_float32_never_returns_one():
    """float32 draws must stay < 1.0: rounding a float64 uniform near 1 to float32 gives
    exactly 1.0 about once in 2**25 draws, so look at 2**24 of them (fixed seed)."""
    g = tl.Generator(0)
    for _ in range(4):
        x = tl.rand(1 << 22, generator=g).numpy()
        assert x.dtype == np.float32
        assert x.max() < 1.0, f"rand() returned {x.max()!r}; the interval is [0, 1)"
        assert x.min() >= 0.0


# --------------------------------------------------------------------------------------
# properties and conversions
# --------------------------------------------------------------------------------------
def test_basic_properties():
    a = np.arange(24, dtype=np.float64).reshape(2, 3, 4)
    t = tl.tensor(a)
    assert t.shape == (2, 3, 4) and type(t.shape) is tuple
    assert t.ndim == 3
    assert t.size == 24 and isinstance(t.size, int)
    assert t.dtype == np.float64
    assert isinstance(t.numpy(), np.ndarray)
    np.testing.assert_array_equal(t.numpy(), a)
    s = tl.tensor(3.0)
    assert s.shape == () and s.ndim == 0 and s.size == 1


def test_T_property():
    a = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(tl.tensor(a).T.numpy(), a.T)
    b = np.arange(24.0).reshape(2, 3, 4)
    assert tl.tensor(b).T.shape == (4, 3, 2)
    np.testing.assert_array_equal(tl.tensor(b).T.numpy(), b.T)


def test_array_protocol():
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    t = tl.tensor(a)
    arr = np.asarray(t)
    assert isinstance(arr, np.ndarray) and arr.dtype == np.float64
    np.testing.assert_array_equal(arr, a)
    np.testing.assert_array_equal(np.array(t), a)
    conv = np.asarray(t, dtype=np.float32)
    assert conv.dtype == np.float32
    np.testing.assert_array_equal(conv, a.astype(np.float32))


def test_np_array_of_tensor_is_a_copy():
    """np.array(x) copies by default (NumPy 2 passes copy=True to __array__)."""
    t = tl.tensor(np.array([1.0, 2.0]))
    arr = np.array(t)
    arr[0] = 99.0
    np.testing.assert_array_equal(t.numpy(), [1.0, 2.0])


def test_array_protocol_on_requires_grad_tensor():
    t = tl.tensor([1.0, 2.0], requires_grad=True)
    np.testing.assert_array_equal(np.asarray(t), np.array([1.0, 2.0], dtype=np.float32))


def test_item():
    v = tl.tensor(np.array(2.5)).item()
    assert v == 2.5 and type(v) is float
    v = tl.tensor(np.array([[4.0]], dtype=np.float32)).item()
    assert v == 4.0 and type(v) is float
    v = tl.tensor(np.array([7])).item()
    assert v == 7 and type(v) is int
    v = (tl.tensor([1.0, 2.0], requires_grad=True) * 2.0).sum().item()
    assert v == 6.0 and type(v) is float


def test_item_multi_element_raises():
    with pytest.raises((ValueError, RuntimeError, TypeError)):
        tl.tensor([1.0, 2.0]).item()


def test_repr():
    r = repr(tl.tensor([[1.0, 2.0]], requires_grad=True))
    assert r.startswith("tensor(")
    assert re.search(r"1\.", r) and re.search(r"2\.", r)
    assert "requires_grad=True" in r
    assert "dtype" not in r  # float32 is the default and is not shown

    r = repr(tl.tensor(np.array([0.25, -3.5])))
    assert r.startswith("tensor(")
    assert "0.25" in r and "-3.5" in r
    assert "dtype=float64" in r
    assert "requires_grad" not in r

    r = repr(tl.tensor(np.array([3, 4])))
    assert r.startswith("tensor(") and "3" in r and "4" in r
    assert "dtype=int64" in r


def test_repr_of_scalar():
    r = repr(tl.tensor(1.5))
    assert r.startswith("tensor(") and "1.5" in r


# --------------------------------------------------------------------------------------
# integer tensors and dtype promotion
# --------------------------------------------------------------------------------------
def test_integer_tensor_arithmetic():
    a = np.array([1, 2, 3], dtype=np.int64)
    b = np.array([10, 20, 30], dtype=np.int64)
    out = tl.tensor(a) + tl.tensor(b)
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out.numpy(), a + b)
    out = tl.tensor(a) * 3
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out.numpy(), a * 3)
    assert tl.tensor(a).requires_grad is False
    np.testing.assert_array_equal(tl.tensor(a)[[2, 0]].numpy(), a[[2, 0]])
    assert tl.tensor(a).sum().item() == 6


@pytest.mark.parametrize("left, right", [
    (np.float32, np.float64),
    (np.float64, np.float32),
    (np.float32, np.int64),
    (np.float32, np.int32),
    (np.float64, np.int64),
    (np.int32, np.int64),
], ids=str)
def test_tensor_tensor_promotion_follows_numpy(left, right):
    a = np.array([1.5, 2.0, -3.0]).astype(left)
    b = np.array([2, 3, 4]).astype(right)
    for name, op in [("add", lambda x, y: x + y), ("mul", lambda x, y: x * y),
                     ("sub", lambda x, y: x - y)]:
        expected = op(a, b)
        out = op(tl.tensor(a), tl.tensor(b))
        assert out.dtype == expected.dtype, f"{name}: {out.dtype} != {expected.dtype}"
        np.testing.assert_array_equal(out.numpy(), expected)


@pytest.mark.parametrize("dtype, scalar", [
    (np.float32, 2.5),
    (np.float32, 2),
    (np.float64, 2.5),
    (np.int64, 2),
    (np.int64, 2.5),
], ids=str)
def test_tensor_python_scalar_promotion_follows_numpy(dtype, scalar):
    a = np.array([1, 2, 3]).astype(dtype)
    for expected, out in [
        (a * scalar, tl.tensor(a) * scalar),
        (scalar * a, scalar * tl.tensor(a)),
        (a + scalar, tl.tensor(a) + scalar),
        (scalar - a, scalar - tl.tensor(a)),
    ]:
        assert out.dtype == expected.dtype
        np.testing.assert_array_equal(out.numpy(), expected)


def test_float32_times_python_float_stays_float32():
    t = tl.tensor([1.0, 2.0], requires_grad=True)
    out = t * 0.1
    assert out.dtype == np.float32
    out.sum().backward()
    assert t.grad.dtype == np.float32


# --------------------------------------------------------------------------------------
# error messages
# --------------------------------------------------------------------------------------
BINARY_ERROR_OPS = {
    "add": (lambda a, b: a + b, r"add"),
    "sub": (lambda a, b: a - b, r"sub"),
    "mul": (lambda a, b: a * b, r"mul"),
    "div": (lambda a, b: a / b, r"div"),
    "pow": (lambda a, b: a ** b, r"pow"),
    "maximum": (lambda a, b: tl.maximum(a, b), r"maximum"),
}


@pytest.mark.parametrize("name", list(BINARY_ERROR_OPS))
@pytest.mark.parametrize("shape_a, shape_b", [((2, 3), (4,)), ((3, 2), (2, 3)), ((5,), (3,))],
                         ids=str)
def test_binary_shape_mismatch_names_op_and_shapes(name, shape_a, shape_b):
    fn, op_pattern = BINARY_ERROR_OPS[name]
    a = tl.tensor(np.ones(shape_a) + 1.0)
    b = tl.tensor(np.ones(shape_b) + 1.0)
    with pytest.raises(ValueError) as info:
        fn(a, b)
    msg = str(info.value)
    assert re.search(op_pattern, msg, re.IGNORECASE), msg
    assert mentions_shape(msg, shape_a), msg
    assert mentions_shape(msg, shape_b), msg


def test_binary_shape_mismatch_with_ndarray_operand():
    with pytest.raises(ValueError) as info:
        tl.tensor(np.ones((2, 3))) + np.ones((4,))
    msg = str(info.value)
    assert "add" in msg.lower() and mentions_shape(msg, (2, 3)) and mentions_shape(msg, (4,))


@pytest.mark.parametrize("shape_a, shape_b", [
    ((2, 3), (4, 5)),
    ((3,), (4,)),
    ((2, 2, 3), (2, 4)),
    ((2, 2, 3), (3, 3, 4)),  # inner dims agree, batch dims do not broadcast
], ids=str)
def test_matmul_shape_mismatch_names_both_shapes(shape_a, shape_b):
    with pytest.raises(ValueError) as info:
        tl.tensor(np.ones(shape_a)) @ tl.tensor(np.ones(shape_b))
    msg = str(info.value)
    assert "matmul" in msg.lower(), msg
    assert mentions_shape(msg, shape_a) and mentions_shape(msg, shape_b), msg


def test_reshape_incompatible_names_both_shapes():
    t = tl.tensor(np.ones((2, 3)))
    with pytest.raises(ValueError) as info:
        t.reshape(4, 2)
    msg = str(info.value)
    assert mentions_shape(msg, (2, 3)) and mentions_shape(msg, (4, 2)), msg
    with pytest.raises(ValueError) as info:
        t.reshape((5,))
    msg = str(info.value)
    assert mentions_shape(msg, (2, 3)) and mentions_shape(msg, (5,)), msg


@pytest.mark.parametrize("call", [
    lambda t: t.sum(axis=2),
    lambda t: t.sum(axis=-3),
    lambda t: t.mean(axis=5),
    lambda t: t.max(axis=(0, 2)),
    lambda t: t.softmax(axis=2),
    lambda t: t.log_softmax(axis=-3),
    lambda t: tl.concatenate([t, t], axis=2),
    lambda t: tl.stack([t, t], axis=4),
    lambda t: t.flatten(0, 3),
    lambda t: t.flatten(2),
    lambda t: t.permute(0, 3),
    lambda t: t.permute(1, -3),
    lambda t: t.transpose(3, 0),
], ids=["sum", "sum_neg", "mean", "max_tuple", "softmax", "log_softmax", "concatenate",
        "stack", "flatten_end", "flatten_start", "permute", "permute_neg", "transpose"])
def test_invalid_axis_raises_value_error(call):
    with pytest.raises(ValueError):
        call(tl.tensor(np.ones((2, 3))))


def test_invalid_axis_on_requires_grad_tensor_raises_value_error():
    with pytest.raises(ValueError):
        tl.tensor(np.ones((2, 3)), requires_grad=True).sum(axis=2)
