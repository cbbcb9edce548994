"""Autograd ops with their own kernels (tensorlib.functional): conv2d, max/avg pooling,
linear and the fused softmax cross-entropy. Backward by finite differences in float64 on
both backends; native against the numpy backend in float32; bad input rejected in Python."""
import numpy as np
import pytest

import tensorlib as tl
from tensorlib import functional as F
from gradcheck import check_gradients

BACKENDS = ["native", "numpy"]


@pytest.fixture(params=BACKENDS)
def backend(request):
    tl.set_backend(request.param)
    yield request.param
    tl.set_backend("native")


@pytest.fixture(params=[1, 2], ids=["1thread", "2threads"])
def threads(request):
    tl.set_num_threads(request.param)
    yield request.param
    tl.set_num_threads(None)


CONV_CASES = [  # x shape, kernel shape, strides, padding, dilation
    ((2, 5, 6, 3), (3, 3, 3, 4), 1, "valid", 1),
    ((1, 7, 5, 2), (2, 3, 2, 3), (2, 1), "same", 1),
    ((2, 6, 7, 1), (3, 3, 1, 5), 1, "same", 2),
    ((1, 9, 8, 3), (3, 2, 3, 2), 3, "valid", 1),
    ((3, 4, 4, 5), (1, 1, 5, 7), 1, "valid", 1),
]


@pytest.mark.parametrize("xs,ws,strides,padding,dilation", CONV_CASES)
@pytest.mark.parametrize("activation", [None, "relu"])
def test_conv2d_gradients_float64(backend, xs, ws, strides, padding, dilation, activation):
    rng = np.random.default_rng(1)
    x, w, b = rng.normal(size=xs), rng.normal(size=ws), rng.normal(size=ws[3])
    if activation == "relu":   # keep pre-activations away from the kink at 0
        b = b + 0.05 * np.sign(b)

    def f(x, w, b):
        return F.conv2d(x, w, b, strides, padding, dilation, activation=activation)
    check_gradients(f, [x, w, b])


@pytest.mark.parametrize("xs,ws,strides,padding,dilation", CONV_CASES)
def test_conv2d_native_matches_numpy_float32(threads, xs, ws, strides, padding, dilation):
    rng = np.random.default_rng(2)
    x = rng.normal(size=xs).astype(np.float32)
    w = rng.normal(size=ws).astype(np.float32)
    b = rng.normal(size=ws[3]).astype(np.float32)
    gy = None
    results = {}
    for name in BACKENDS:
        tl.set_backend(name)
        xt, wt, bt = (tl.tensor(a, requires_grad=True) for a in (x, w, b))
        y = F.conv2d(xt, wt, bt, strides, padding, dilation, activation="relu")
        if gy is None:
            gy = rng.normal(size=y.shape).astype(np.float32)
        y.backward(gy)
        results[name] = [y.numpy(), xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()]
    tl.set_backend("native")
    for got, want in zip(results["native"], results["numpy"]):
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_conv2d_skips_input_gradient_when_not_needed(monkeypatch):
    be = tl.get_backend()
    calls = []
    monkeypatch.setattr(be, "conv2d_backward_input",
                        lambda *a, **k: calls.append(1) or np.zeros(a[2], np.float32))
    x = tl.randn(2, 6, 6, 1)                      # the data: no gradient needed
    w = tl.randn(3, 3, 1, 4, requires_grad=True)
    F.conv2d(x, w).sum().backward()
    assert calls == [] and w.grad is not None


POOL_CASES = [  # x shape, pool, strides, padding
    ((2, 6, 6, 3), 2, None, "valid"),
    ((1, 11, 11, 2), 2, None, "valid"),
    ((2, 7, 5, 3), 3, 2, "same"),
    ((1, 5, 8, 4), (2, 3), (1, 2), "same"),
    ((1, 9, 9, 1), 3, 1, "valid"),
]


@pytest.mark.parametrize("xs,pool,strides,padding", POOL_CASES)
@pytest.mark.parametrize("op", [F.max_pool2d, F.avg_pool2d], ids=["max", "avg"])
def test_pool_gradients_float64(backend, op, xs, pool, strides, padding):
    rng = np.random.default_rng(3)
    x = rng.permutation(np.prod(xs)).reshape(xs) * 0.01   # distinct values: no ties
    check_gradients(lambda t: op(t, pool, strides, padding), [x.astype(np.float64)])


@pytest.mark.parametrize("xs,pool,strides,padding", POOL_CASES)
@pytest.mark.parametrize("op", [F.max_pool2d, F.avg_pool2d], ids=["max", "avg"])
def test_pool_native_matches_numpy_float32(threads, op, xs, pool, strides, padding):
    rng = np.random.default_rng(4)
    x = rng.normal(size=xs).astype(np.float32)
    results = {}
    for name in BACKENDS:
        tl.set_backend(name)
        xt = tl.tensor(x, requires_grad=True)
        y = op(xt, pool, strides, padding)
        y.backward(np.linspace(-1, 1, y.size, dtype=np.float32).reshape(y.shape))
        results[name] = (y.numpy(), xt.grad.numpy())
    tl.set_backend("native")
    for got, want in zip(results["native"], results["numpy"]):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_keras_floor_mode_pool_shape():
    assert F.max_pool2d(tl.zeros(1, 11, 11, 2), 2).shape == (1, 5, 5, 2)
    assert F.avg_pool2d(tl.zeros(1, 11, 11, 2), 2, padding="same").shape == (1, 6, 6, 2)


def test_max_pool_tie_gradient_goes_to_first_max(backend):
    x = tl.tensor(np.array([[1.0, 3.0], [3.0, 3.0]], np.float32).reshape(1, 2, 2, 1),
                  requires_grad=True)
    F.max_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy().reshape(2, 2), [[0, 1], [0, 0]])


@pytest.mark.parametrize("activation", [None, "relu"])
def test_linear_gradients_float64(backend, activation):
    rng = np.random.default_rng(5)
    x, w, b = rng.normal(size=(7, 5)), rng.normal(size=(5, 3)), rng.normal(size=3)
    x = x + 0.1 * np.sign(x)
    check_gradients(lambda x, w, b: F.linear(x, w, b, activation=activation), [x, w, b])


def test_linear_native_matches_numpy_float32():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(64, 576)).astype(np.float32)
    w = rng.normal(size=(576, 64)).astype(np.float32)
    outs = []
    for name in BACKENDS:
        tl.set_backend(name)
        outs.append(F.linear(x, w, np.ones(64, np.float32), activation="relu").numpy())
    tl.set_backend("native")
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("targets", ["onehot", "indices"])
def test_softmax_cross_entropy_gradient_and_value(targets):
    rng = np.random.default_rng(7)
    logits = rng.normal(size=(6, 4)) * 3
    idx = rng.integers(0, 4, 6)
    t = np.eye(4)[idx] if targets == "onehot" else idx
    check_gradients(lambda z: F.softmax_cross_entropy(z, t), [logits])
    z = logits - logits.max(1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    want = -logp[np.arange(6), idx].mean()
    np.testing.assert_allclose(F.softmax_cross_entropy(logits, t).item(), want, rtol=1e-12)


def test_softmax_cross_entropy_is_stable_for_large_logits():
    z = tl.tensor(np.array([[1000.0, 0.0], [-1000.0, 0.0]]), requires_grad=True)
    loss = F.softmax_cross_entropy(z, np.array([0, 0]))
    loss.backward()
    assert np.isfinite(loss.item()) and np.isfinite(z.grad.numpy()).all()
    np.testing.assert_allclose(loss.item(), 500.0)


BAD = [
    (lambda: F.conv2d(tl.zeros(5, 5, 1), tl.zeros(3, 3, 1, 2)), "rank 4"),
    (lambda: F.conv2d(tl.zeros(1, 5, 5, 3), tl.zeros(3, 3, 2, 2)), "channels"),
    (lambda: F.conv2d(tl.zeros(1, 2, 2, 1), tl.zeros(3, 3, 1, 2)), "larger than"),
    (lambda: F.conv2d(tl.zeros(1, 5, 5, 1), tl.zeros(3, 3, 1, 2), strides=0), "strides"),
    (lambda: F.conv2d(tl.zeros(1, 5, 5, 1), tl.zeros(3, 3, 1, 2), strides=-1), "strides"),
    (lambda: F.conv2d(tl.zeros(1, 5, 5, 1), tl.zeros(3, 3, 1, 2), padding="full"), "padding"),
    (lambda: F.conv2d(tl.zeros(1, 5, 5, 1), tl.zeros(3, 3, 1, 2), dilation_rate=0),
     "dilation_rate"),
    (lambda: F.conv2d(tl.tensor(np.zeros((1, 5, 5, 1), np.int64)), tl.zeros(3, 3, 1, 2)),
     "float32 or float64"),
    (lambda: F.conv2d(tl.zeros(1, 5, 5, 1), tl.zeros(3, 3, 1, 2), tl.zeros(3)), "bias"),
    (lambda: F.conv2d(tl.zeros(1, 5, 5, 1), tl.zeros(3, 3, 1, 2, dtype=np.float64)), "dtype"),
    (lambda: F.max_pool2d(tl.zeros(1, 5, 5), 2), "rank 4"),
    (lambda: F.max_pool2d(tl.zeros(1, 1, 5, 1), 2), "larger than"),
    (lambda: F.avg_pool2d(tl.zeros(1, 4, 4, 1), 2, strides=0), "strides"),
    (lambda: F.avg_pool2d(tl.zeros(1, 4, 4, 1), (2, 0)), "pool_size"),
    (lambda: F.linear(tl.zeros(2, 3), tl.zeros(4, 5)), "features"),
    (lambda: F.softmax_cross_entropy(tl.zeros(2, 3), np.array([0, 3])), "class indices"),
    (lambda: F.softmax_cross_entropy(tl.zeros(2, 3), np.zeros((2, 4))), "shape"),
]


@pytest.mark.parametrize("call,fragment", BAD)
def test_bad_input_is_a_clear_value_error(call, fragment):
    with pytest.raises(ValueError) as info:
        call()
    msg = str(info.value)
    assert fragment in msg and "Received" in msg


# ---------------------------------------------------------------- ReLU and NaN
# relu keeps NaN (as np.maximum, torch.relu and Keras) and -0.0 (as torch.relu); its
# gradient is masked where the output is <= 0 only, so it passes where the output is
# NaN, as in PyTorch (threshold_backward(grad, result, 0)).

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [3, 100_003], ids=["serial", "threaded"])
def test_relu_keeps_nan(threads, dtype, n):
    x = np.resize(np.array([np.nan, -1.0, 2.0, -0.0, 0.5], dtype), n)
    t = tl.Tensor(x, requires_grad=True)
    y = t.relu()
    want = np.resize(np.array([np.nan, 0.0, 2.0, -0.0, 0.5], dtype), n)
    np.testing.assert_array_equal(y.numpy(), want)
    assert np.array_equal(np.signbit(y.numpy()), np.signbit(want))
    y.backward(np.full(n, 3.0, dtype))
    np.testing.assert_array_equal(t.grad.numpy(), np.resize(np.array([3, 0, 3, 0, 3], dtype), n))


def test_relu_grad_passes_where_the_output_is_nan():
    y = np.array([np.nan, 0.0, -0.0, 1.0], np.float32)
    g = np.array([1.0, 2.0, 3.0, 4.0], np.float32)
    np.testing.assert_array_equal(F.relu_grad(y, g), [1, 0, 0, 4])
    np.testing.assert_array_equal(F.relu_grad(y, g.astype(np.float64)), [1, 0, 0, 4])


@pytest.mark.parametrize("ks", [1, 3], ids=["1x1-gemm", "3x3-direct"])
def test_fused_relu_keeps_nan(backend, ks):
    """conv2d(activation='relu') and linear(activation='relu') equal relu(op(x)), NaN
    included (the 1x1 conv takes the im2col + GEMM epilogue, the 3x3 the tile one)."""
    rng = np.random.default_rng(8)
    x = rng.normal(size=(1, 4, 4, 2)).astype(np.float32)
    x[0, 1, 2, 0] = np.nan
    w = rng.normal(size=(ks, ks, 2, 3)).astype(np.float32)
    y = F.conv2d(x, w, padding="same", activation="relu").numpy()
    ref = F.conv2d(x, w, padding="same").numpy()
    assert np.isnan(ref).any()
    np.testing.assert_array_equal(y, np.where(ref < 0, 0, ref))
    xl = rng.normal(size=(3, 4)).astype(np.float32)
    xl[1, 2] = np.nan
    wl = rng.normal(size=(4, 5)).astype(np.float32)
    yl = F.linear(xl, wl, activation="relu").numpy()
    refl = F.linear(xl, wl).numpy()
    np.testing.assert_array_equal(yl, np.where(refl < 0, 0, refl))
