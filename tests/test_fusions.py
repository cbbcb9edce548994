"""Fusions across op boundaries give the gradients of the unfused ops, bit for bit where
the arithmetic is the same, and do skip the work they claim to skip.

* ReLU mask applied by max-pool backward (functional.MaxPool2D): the conv / ReLU before it
  skips its own full-size mask pass when it receives the pool's gradient unchanged.
* Softmax + cross-entropy: covered in test_losses_metrics.py / test_functional_api.py.
"""
import numpy as np
import pytest

import tensorlib as tl
from tensorlib import functional as F
from tensorlib import ops


@pytest.fixture
def mask_calls(monkeypatch):
    calls = []
    real = ops.relu_grad
    monkeypatch.setattr(ops, "relu_grad", lambda y, g: calls.append(y.shape) or real(y, g))
    monkeypatch.setattr(F, "relu_grad", lambda y, g: calls.append(y.shape) or real(y, g))
    return calls


def _grads(build, params):
    ts = [tl.tensor(p, requires_grad=True) for p in params]
    out = build(*ts)
    out.backward()
    return out.numpy(), [t.grad.numpy() for t in ts]


def _conv_relu_pool(x, w, b, second_reader=False, pool=(2, 2), strides=None, padding="valid"):
    y = F.conv2d(x, w, b, activation="relu")
    p = F.max_pool2d(y, pool, strides, padding)
    loss = (p * p).sum()
    if second_reader:
        loss = loss + (y * 0.5).sum()
    return loss


def _conv_then_relu_pool_unfused(x, w, b, second_reader=False, pool=(2, 2), strides=None,
                                 padding="valid"):
    z = F.conv2d(x, w, b)
    y = z.relu()
    y._ctx.relu_y = None          # hide the ReLU from the pool: the plain two-pass path
    p = F.max_pool2d(y, pool, strides, padding)
    loss = (p * p).sum()
    if second_reader:
        loss = loss + (y * 0.5).sum()
    return loss


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("second_reader", [False, True])
@pytest.mark.parametrize("pool,strides,padding", [((2, 2), None, "valid"),
                                                  ((3, 3), (2, 2), "same"),
                                                  ((2, 3), (1, 1), "valid")])
def test_conv_relu_maxpool_gradients_match_unfused(rng, dtype, second_reader, pool, strides,
                                                   padding, mask_calls):
    x = rng.standard_normal((3, 9, 8, 4)).astype(dtype)
    w = rng.standard_normal((3, 3, 4, 5)).astype(dtype)
    b = rng.standard_normal(5).astype(dtype) * 0.5
    args = (second_reader, pool, strides, padding)
    v0, g0 = _grads(lambda *t: _conv_then_relu_pool_unfused(*t, *args), (x, w, b))
    n0 = len(mask_calls)
    v1, g1 = _grads(lambda *t: _conv_relu_pool(*t, *args), (x, w, b))
    np.testing.assert_array_equal(v1, v0)
    for a, e in zip(g1, g0):
        np.testing.assert_array_equal(a, e)
    # with a second reader the conv gets a sum and masks it once more, as it must;
    # otherwise there is no full-size mask pass at all (only the pooled-size one)
    conv_shape = F.conv2d(x, w, b).shape
    full = [s for s in mask_calls[n0:] if tuple(s) == tuple(conv_shape)]
    assert len(full) == (1 if second_reader else 0)


def test_relu_op_then_maxpool_skips_the_mask(rng, mask_calls):
    x = rng.standard_normal((2, 6, 6, 3))
    v0, g0 = _grads(lambda t: _pool_sum(_hidden_relu(t)), (x,))
    n0 = len(mask_calls)
    v1, g1 = _grads(lambda t: _pool_sum(t.relu()), (x,))
    assert mask_calls[n0:] == [(2, 3, 3, 3)]          # the pooled-size mask only
    np.testing.assert_array_equal(v1, v0)
    np.testing.assert_array_equal(g1[0], g0[0])


def _hidden_relu(t):
    y = t.relu()
    y._ctx.relu_y = None
    return y


def _pool_sum(y):
    return (F.max_pool2d(y, (2, 2)) * 3.0).sum()


def test_nan_and_negative_zero_follow_relu():
    """NaN passes the ReLU gradient (as torch's threshold_backward); -0.0 and 0 are masked:
    the fused path agrees with the two-pass one on windows built around such values."""
    for v in (np.nan, -0.0, 0.0, -3.0, 5.0):
        for other in (-1.0, -0.0, 2.0, np.nan):
            x = np.array([v, other, -2.0, other]).reshape(1, 2, 2, 1)
            _, g0 = _grads(lambda t: (F.max_pool2d(_hidden_relu(t), (2, 2)) * 7.0).sum(), (x,))
            _, g1 = _grads(lambda t: (F.max_pool2d(t.relu(), (2, 2)) * 7.0).sum(), (x,))
            np.testing.assert_array_equal(g1[0], g0[0])


def test_no_grad_and_released_graphs():
    x = tl.tensor(np.ones((1, 4, 4, 1)), requires_grad=True)
    with tl.no_grad():
        y = F.max_pool2d(x.relu(), (2, 2))
    assert y._ctx is None
    loss = F.max_pool2d(x.relu(), (2, 2)).sum()
    loss.backward()
    want = [[1, 0, 1, 0], [0, 0, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]]   # ties: first element
    np.testing.assert_array_equal(x.grad.numpy().reshape(4, 4), want)
