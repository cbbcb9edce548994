"""Optimizers against the Keras 3 update rules, written out independently here in float64
(several steps, several variables), and against torch.optim on a small regression."""
import warnings

import numpy as np
import pytest

import tensorlib as tl
from tensorlib import optimizers

SHAPES = [(3, 4), (5,), ()]
STEPS = 6


def _start(rng):
    return [rng.normal(size=s) for s in SHAPES]


def _grads(rng):
    """A fixed sequence of gradients per step (independent of the variables)."""
    return [[rng.normal(size=s) for s in SHAPES] for _ in range(STEPS)]


def _run(opt, start, grads):
    """Apply the gradient sequence with ``opt``; returns the values after every step."""
    variables = [tl.tensor(w.copy(), requires_grad=True) for w in start]
    history = []
    for step_grads in grads:
        opt.apply_gradients(zip(step_grads, variables))
        history.append([v.numpy().copy() for v in variables])
    return history, variables


def _assert_history(history, expected):
    assert len(history) == len(expected)
    for t, (got, want) in enumerate(zip(history, expected)):
        for k, (g, w) in enumerate(zip(got, want)):
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-14,
                                       err_msg=f"step {t + 1}, variable {k}")


# ---------------------------------------------------------------- reference rules
def ref_sgd(start, grads, lr, momentum=0.0, nesterov=False, wd=None):
    w = [x.copy() for x in start]
    m = [np.zeros_like(x) for x in start]
    out = []
    for step in grads:
        for i, g in enumerate(step):
            if wd is not None:
                w[i] = w[i] - w[i] * wd * lr
            if momentum == 0:
                w[i] = w[i] - lr * g
            else:
                m[i] = momentum * m[i] - lr * g
                w[i] = w[i] + (momentum * m[i] - lr * g if nesterov else m[i])
        out.append([x.copy() for x in w])
    return out


def ref_rmsprop(start, grads, lr, rho=0.9, momentum=0.0, eps=1e-7, centered=False):
    w = [x.copy() for x in start]
    v = [np.zeros_like(x) for x in start]
    mg = [np.zeros_like(x) for x in start]
    mom = [np.zeros_like(x) for x in start]
    out = []
    for step in grads:
        for i, g in enumerate(step):
            v[i] = rho * v[i] + (1 - rho) * g ** 2
            if centered:
                mg[i] = rho * mg[i] + (1 - rho) * g
                inc = lr * g / np.sqrt(v[i] - mg[i] ** 2 + eps)
            else:
                inc = lr * g / np.sqrt(v[i] + eps)
            if momentum > 0:
                mom[i] = momentum * mom[i] + inc
                w[i] = w[i] - mom[i]
            else:
                w[i] = w[i] - inc
        out.append([x.copy() for x in w])
    return out


def ref_adam(start, grads, lr, b1=0.9, b2=0.999, eps=1e-7, amsgrad=False, wd=None):
    w = [x.copy() for x in start]
    m = [np.zeros_like(x) for x in start]
    v = [np.zeros_like(x) for x in start]
    vhat = [np.zeros_like(x) for x in start]
    out = []
    for t, step in enumerate(grads, start=1):
        alpha = lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        for i, g in enumerate(step):
            if wd is not None:
                w[i] = w[i] - w[i] * wd * lr
            m[i] = m[i] + (g - m[i]) * (1 - b1)
            v[i] = v[i] + (g * g - v[i]) * (1 - b2)
            denom_v = v[i]
            if amsgrad:
                vhat[i] = np.maximum(vhat[i], v[i])
                denom_v = vhat[i]
            w[i] = w[i] - m[i] * alpha / (np.sqrt(denom_v) + eps)
        out.append([x.copy() for x in w])
    return out


# ---------------------------------------------------------------- update rules
@pytest.mark.parametrize("momentum,nesterov", [(0.0, False), (0.9, False), (0.9, True),
                                               (0.5, True)])
def test_sgd_matches_keras_rule(rng, momentum, nesterov):
    start, grads = _start(rng), _grads(rng)
    opt = optimizers.SGD(learning_rate=0.05, momentum=momentum, nesterov=nesterov)
    history, _ = _run(opt, start, grads)
    _assert_history(history, ref_sgd(start, grads, 0.05, momentum, nesterov))
    assert opt.iterations == STEPS


def test_sgd_momentum_and_nesterov_really_differ(rng):
    start, grads = _start(rng), _grads(rng)
    plain, _ = _run(optimizers.SGD(0.05, momentum=0.9), start, grads)
    nest, _ = _run(optimizers.SGD(0.05, momentum=0.9, nesterov=True), start, grads)
    assert not np.allclose(plain[-1][0], nest[-1][0])


@pytest.mark.parametrize("momentum,centered", [(0.0, False), (0.8, False), (0.0, True),
                                               (0.7, True)])
def test_rmsprop_matches_keras_rule(rng, momentum, centered):
    start, grads = _start(rng), _grads(rng)
    opt = optimizers.RMSprop(learning_rate=0.01, rho=0.8, momentum=momentum, epsilon=1e-3,
                             centered=centered)
    history, _ = _run(opt, start, grads)
    _assert_history(history, ref_rmsprop(start, grads, 0.01, 0.8, momentum, 1e-3, centered))


def test_rmsprop_keras_docstring_example():
    # keras.optimizers.RMSprop docs: lr=0.1, var=10, loss=var**2/2 -> 9.683772
    var = tl.tensor(np.array(10.0, dtype=np.float32), requires_grad=True)
    opt = optimizers.RMSprop(learning_rate=0.1)
    opt.apply_gradients([(var.numpy().copy(), var)])
    assert var.dtype == np.float32
    assert abs(float(var.item()) - 9.683772) < 2e-6


def test_rmsprop_epsilon_is_inside_the_square_root():
    var = tl.tensor(np.array([1.0]), requires_grad=True)
    optimizers.RMSprop(learning_rate=1.0, rho=0.0, epsilon=0.5).apply([np.array([1.0])], [var])
    # v = g^2 = 1; increment = 1 / sqrt(1 + 0.5) (outside would be 1 / (1 + 0.5))
    np.testing.assert_allclose(var.numpy(), [1.0 - 1.0 / np.sqrt(1.5)], rtol=1e-14)


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam_matches_keras_rule(rng, amsgrad):
    start, grads = _start(rng), _grads(rng)
    # shrink later gradients so that amsgrad's running max actually matters
    grads = [[g * (0.3 if t > 2 else 1.0) for g in step] for t, step in enumerate(grads)]
    opt = optimizers.Adam(learning_rate=0.02, beta_1=0.8, beta_2=0.95, epsilon=1e-4,
                          amsgrad=amsgrad)
    history, _ = _run(opt, start, grads)
    _assert_history(history, ref_adam(start, grads, 0.02, 0.8, 0.95, 1e-4, amsgrad))
    other, _ = _run(optimizers.Adam(0.02, 0.8, 0.95, 1e-4, amsgrad=not amsgrad),
                    start, grads)
    assert not np.allclose(other[-1][0], history[-1][0])


def test_adamw_decoupled_weight_decay(rng):
    start, grads = _start(rng), _grads(rng)
    opt = optimizers.AdamW(learning_rate=0.05, weight_decay=0.1)
    history, _ = _run(opt, start, grads)
    _assert_history(history, ref_adam(start, grads, 0.05, wd=0.1))
    assert optimizers.AdamW().weight_decay == 0.004


def test_sgd_weight_decay(rng):
    start, grads = _start(rng), _grads(rng)
    history, _ = _run(optimizers.SGD(0.1, momentum=0.5, weight_decay=0.2), start, grads)
    _assert_history(history, ref_sgd(start, grads, 0.1, 0.5, wd=0.2))


def test_defaults_match_keras():
    sgd, rms, adam, adamw = (optimizers.SGD(), optimizers.RMSprop(), optimizers.Adam(),
                             optimizers.AdamW())
    assert (sgd.learning_rate, sgd.momentum, sgd.nesterov, sgd.name) == (0.01, 0.0, False, "SGD")
    assert (rms.learning_rate, rms.rho, rms.momentum, rms.epsilon, rms.centered, rms.name) == \
        (0.001, 0.9, 0.0, 1e-7, False, "rmsprop")
    assert (adam.learning_rate, adam.beta_1, adam.beta_2, adam.epsilon, adam.amsgrad,
            adam.name) == (0.001, 0.9, 0.999, 1e-7, False, "adam")
    assert (adamw.learning_rate, adamw.weight_decay, adamw.name) == (0.001, 0.004, "adamw")
    assert adam.weight_decay is None and adam.clipnorm is None


# ---------------------------------------------------------------- clipping
def test_clipnorm_clips_each_gradient_by_its_own_norm():
    a = tl.tensor(np.zeros(2), requires_grad=True)
    b = tl.tensor(np.zeros(2), requires_grad=True)
    optimizers.SGD(1.0, clipnorm=1.0).apply([np.array([3.0, 4.0]), np.array([0.3, 0.4])],
                                            [a, b])
    np.testing.assert_allclose(a.numpy(), [-0.6, -0.8], rtol=1e-14)   # norm 5 -> 1
    np.testing.assert_allclose(b.numpy(), [-0.3, -0.4], rtol=1e-14)   # norm .5 kept


def test_global_clipnorm_scales_all_gradients_together():
    a = tl.tensor(np.zeros(2), requires_grad=True)
    b = tl.tensor(np.zeros(1), requires_grad=True)
    optimizers.SGD(1.0, global_clipnorm=2.6).apply(
        [np.array([3.0, 4.0]), np.array([12.0])], [a, b])          # global norm 13
    np.testing.assert_allclose(a.numpy(), [-0.6, -0.8], rtol=1e-13)
    np.testing.assert_allclose(b.numpy(), [-2.4], rtol=1e-13)


def test_clipvalue():
    a = tl.tensor(np.zeros(3), requires_grad=True)
    optimizers.SGD(1.0, clipvalue=0.5).apply([np.array([-2.0, 0.25, 9.0])], [a])
    np.testing.assert_allclose(a.numpy(), [0.5, -0.25, -0.5])


def test_only_one_clip_argument():
    with pytest.raises(ValueError, match="Only one of .*Received: clipnorm=1"):
        optimizers.Adam(clipnorm=1.0, clipvalue=1.0)


# ---------------------------------------------------------------- bookkeeping
def test_none_gradient_is_skipped_with_a_warning():
    a = tl.tensor(np.ones(2), requires_grad=True)
    b = tl.tensor(np.ones(2), requires_grad=True)
    opt = optimizers.Adam(0.1)
    with pytest.warns(UserWarning, match="Gradients do not exist"):
        opt.apply_gradients([(None, a), (np.array([1.0, -1.0]), b)])
    np.testing.assert_array_equal(a.numpy(), [1.0, 1.0])
    assert not np.allclose(b.numpy(), 1.0)
    assert opt.iterations == 1
    assert id(a) not in opt._slots
    with pytest.raises(ValueError, match="No gradients provided"):
        opt.apply_gradients([(None, a)])


def test_float32_variables_keep_dtype_and_slots_follow_it(rng):
    w0 = rng.normal(size=(3, 2)).astype(np.float32)
    grads = [[rng.normal(size=(3, 2))] for _ in range(3)]         # float64 gradients
    w = tl.tensor(w0.copy(), requires_grad=True)
    data_before = w.data
    opt = optimizers.Adam(0.01)
    for (g,) in grads:
        opt.apply_gradients([(g, w)])
    assert w.dtype == np.float32 and w.data is data_before      # updated in place
    assert all(s.dtype == np.float32 for k, s in opt._slots[id(w)].items() if k != "variable")
    ref = ref_adam([w0.astype(np.float64)], grads, 0.01)[-1][0]
    np.testing.assert_allclose(w.numpy(), ref, rtol=1e-5, atol=1e-6)


def test_gradient_shape_mismatch_is_reported():
    w = tl.tensor(np.zeros((2, 3)), requires_grad=True)
    with pytest.raises(ValueError, match=r"shape \(3, 2\).*Received"):
        optimizers.SGD().apply([np.zeros((3, 2))], [w])


def test_apply_without_variables_uses_built_list():
    a = tl.tensor(np.ones(2), requires_grad=True)
    opt = optimizers.SGD(0.5)
    with pytest.raises(ValueError, match="must already be built"):
        opt.apply([np.ones(2)])
    opt.build([a])
    opt.apply([np.ones(2)])
    np.testing.assert_allclose(a.numpy(), [0.5, 0.5])


def test_learning_rate_is_settable_and_used(rng):
    w = tl.tensor(np.zeros(1), requires_grad=True)
    opt = optimizers.SGD(0.1)
    opt.apply([np.ones(1)], [w])
    opt.learning_rate = 0.01
    assert opt.learning_rate == 0.01 and isinstance(opt.learning_rate, float)
    opt.apply([np.ones(1)], [w])
    np.testing.assert_allclose(w.numpy(), [-0.11])
    with pytest.raises(ValueError, match="Received: learning_rate='fast'"):
        opt.learning_rate = "fast"


def test_callable_learning_rate_schedule():
    w = tl.tensor(np.zeros(1), requires_grad=True)
    opt = optimizers.SGD(lambda step: 0.1 / (1 + step))
    for _ in range(3):
        opt.apply([np.ones(1)], [w])
    np.testing.assert_allclose(w.numpy(), [-(0.1 + 0.05 + 0.1 / 3)])
    with pytest.raises(TypeError, match="not settable"):
        opt.learning_rate = 0.5


def test_get_config_and_from_config_round_trip():
    opt = optimizers.RMSprop(learning_rate=0.02, rho=0.8, momentum=0.1, centered=True,
                             clipnorm=2.0, name="r")
    cfg = opt.get_config()
    assert cfg["learning_rate"] == 0.02 and cfg["rho"] == 0.8 and cfg["centered"] is True
    assert cfg["clipnorm"] == 2.0 and cfg["name"] == "r" and cfg["use_ema"] is False
    clone = optimizers.RMSprop.from_config(cfg)
    assert clone.get_config() == cfg
    assert optimizers.get({"class_name": "SGD", "config": {"momentum": 0.3}}).momentum == 0.3


def test_variables_export_in_keras_order_and_set_weights(rng):
    a = tl.tensor(rng.normal(size=2), requires_grad=True)
    b = tl.tensor(rng.normal(size=3), requires_grad=True)
    opt = optimizers.Adam(0.1)
    opt.apply([rng.normal(size=2), rng.normal(size=3)], [a, b])
    vs = opt.variables
    assert [v.shape for v in vs] == [(), (), (2,), (3,), (2,), (3,)]   # it, lr, m, m, v, v
    assert int(vs[0]) == 1
    fresh = optimizers.Adam(0.1)
    fresh.build([a, b])
    fresh.set_weights(vs)
    assert fresh.iterations == 1
    np.testing.assert_array_equal(fresh.variables[4], vs[4])


@pytest.mark.parametrize("name,cls", [("sgd", optimizers.SGD), ("SGD", optimizers.SGD),
                                      ("rmsprop", optimizers.RMSprop),
                                      ("RMSprop", optimizers.RMSprop),
                                      ("adam", optimizers.Adam), ("Adam", optimizers.Adam),
                                      ("adamw", optimizers.AdamW), ("AdamW", optimizers.AdamW)])
def test_get_by_name(name, cls):
    assert type(optimizers.get(name)) is cls


def test_get_instance_class_and_errors():
    opt = optimizers.Adam()
    assert optimizers.get(opt) is opt
    assert type(optimizers.get(optimizers.SGD)) is optimizers.SGD
    assert optimizers.get(None) is None
    with pytest.raises(ValueError, match="Could not interpret optimizer identifier: 'adafactor'"):
        optimizers.get("adafactor")
    with pytest.raises(ValueError, match="Could not interpret optimizer identifier: 3"):
        optimizers.get(3)


def test_argument_validation():
    with pytest.raises(ValueError, match=r"`momentum` must be a float between \[0, 1\]\. "
                                         r"Received: momentum=1.5"):
        optimizers.SGD(momentum=1.5)
    with pytest.raises(ValueError, match="weight_decay=None"):
        optimizers.AdamW(weight_decay=None)
    with pytest.raises(ValueError, match="not recognized"):
        optimizers.Adam(betas=(0.9, 0.99))
    with pytest.raises(ValueError, match="Received: ema_momentum=2"):
        optimizers.Adam(use_ema=True, ema_momentum=2)


def test_loss_scale_factor_divides_gradients():
    w = tl.tensor(np.zeros(1), requires_grad=True)
    optimizers.SGD(1.0, loss_scale_factor=4.0).apply([np.array([2.0])], [w])
    np.testing.assert_allclose(w.numpy(), [-0.5])


def test_exclude_from_weight_decay():
    a = tl.tensor(np.ones(1), requires_grad=True)
    b = tl.tensor(np.ones(1), requires_grad=True)
    opt = optimizers.SGD(0.1, weight_decay=0.5)
    opt.exclude_from_weight_decay(var_list=[b])
    opt.apply([np.zeros(1), np.zeros(1)], [a, b])
    np.testing.assert_allclose(a.numpy(), [0.95])
    np.testing.assert_allclose(b.numpy(), [1.0])


# ---------------------------------------------------------------- against torch
def _torch_vs_tensorlib(make_ours, make_torch, steps=8):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    X, Y = rng.normal(size=(16, 4)), rng.normal(size=(16, 2))
    W0, b0 = rng.normal(size=(4, 2)), rng.normal(size=2)

    W, b = tl.tensor(W0.copy(), requires_grad=True), tl.tensor(b0.copy(), requires_grad=True)
    ours = make_ours()
    tW = torch.tensor(W0.copy(), requires_grad=True)
    tb = torch.tensor(b0.copy(), requires_grad=True)
    theirs = make_torch(torch, [tW, tb])
    Xt, Yt = torch.tensor(X), torch.tensor(Y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(steps):
            W.zero_grad(), b.zero_grad()
            d = tl.tensor(X) @ W + b - tl.tensor(Y)
            (d * d).mean().backward()
            ours.apply_gradients([(W.grad.numpy(), W), (b.grad.numpy(), b)])

            theirs.zero_grad()
            ((Xt @ tW + tb - Yt) ** 2).mean().backward()
            theirs.step()
    np.testing.assert_allclose(W.numpy(), tW.detach().numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(b.numpy(), tb.detach().numpy(), rtol=1e-9, atol=1e-12)
    assert not np.allclose(W.numpy(), W0)


@pytest.mark.parametrize("momentum,nesterov", [(0.0, False), (0.9, False), (0.9, True)])
def test_sgd_against_torch(momentum, nesterov):
    _torch_vs_tensorlib(
        lambda: optimizers.SGD(0.05, momentum=momentum, nesterov=nesterov),
        lambda torch, p: torch.optim.SGD(p, lr=0.05, momentum=momentum, nesterov=nesterov))


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam_against_torch(amsgrad):
    # torch adds eps outside the bias-corrected sqrt(v); with a tiny eps both agree.
    _torch_vs_tensorlib(
        lambda: optimizers.Adam(0.05, epsilon=1e-15, amsgrad=amsgrad),
        lambda torch, p: torch.optim.Adam(p, lr=0.05, eps=1e-15, amsgrad=amsgrad))


def test_adamw_against_torch():
    _torch_vs_tensorlib(
        lambda: optimizers.AdamW(0.05, weight_decay=0.3, epsilon=1e-15),
        lambda torch, p: torch.optim.AdamW(p, lr=0.05, weight_decay=0.3, eps=1e-15))


@pytest.mark.parametrize("momentum,centered", [(0.0, False), (0.0, True), (0.5, False)])
def test_rmsprop_against_torch(momentum, centered):
    # torch's eps is outside the sqrt, Keras's inside: compare with a tiny eps.
    _torch_vs_tensorlib(
        lambda: optimizers.RMSprop(0.01, rho=0.9, momentum=momentum, epsilon=1e-30,
                                   centered=centered),
        lambda torch, p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, momentum=momentum,
                                             eps=1e-15, centered=centered))
