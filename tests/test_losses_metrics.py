"""Losses (values against NumPy formulas and Keras's documented numbers, gradients against
finite differences, the fused softmax path) and metrics (hand examples, the "accuracy"
resolver, the registries)."""
import numpy as np
import pytest
from gradcheck import check_gradients

import tensorlib as tl
from tensorlib import functional, losses, metrics

EPS = 1e-7


def _probs(rng, n, c):
    p = rng.uniform(0.2, 1.0, size=(n, c))
    return p / p.sum(-1, keepdims=True)


def _onehot(labels, c):
    return np.eye(c)[labels]


# ---------------------------------------------------------------- forward values
def test_categorical_crossentropy_keras_documented_values():
    y = np.array([[0, 1, 0], [0, 0, 1]])
    p = np.array([[0.05, 0.95, 0.0], [0.1, 0.8, 0.1]])
    per_sample = losses.categorical_crossentropy(y, tl.tensor(p)).numpy()
    np.testing.assert_allclose(per_sample, [0.0513, 2.303], atol=1e-3)
    cce = losses.CategoricalCrossentropy()
    assert abs(cce(y, tl.tensor(p)).item() - 1.177) < 1e-3
    assert abs(cce(y, tl.tensor(p), sample_weight=np.array([0.3, 0.7])).item() - 0.814) < 1e-3
    assert abs(losses.CategoricalCrossentropy(reduction="sum")(y, tl.tensor(p)).item()
               - 2.354) < 1e-3
    none = losses.CategoricalCrossentropy(reduction=None)(y, tl.tensor(p)).numpy()
    np.testing.assert_allclose(none, [0.0513, 2.303], atol=1e-3)


def test_categorical_crossentropy_renormalises_clips_and_smooths(rng):
    y = _onehot([0, 2, 1, 3], 4)
    raw = rng.uniform(0.1, 3.0, size=(4, 4))
    raw[1, 2] = 0.0                                  # true class with probability 0
    q = np.clip(raw / raw.sum(-1, keepdims=True), EPS, 1 - EPS)
    want = np.mean(-np.sum(y * np.log(q), axis=-1))
    got = losses.CategoricalCrossentropy()(y, tl.tensor(raw)).item()
    assert abs(got - want) < 1e-12
    assert got > 16.0 / 4                            # -log(1e-7) = 16.1 for sample 1
    ys = y * 0.8 + 0.2 / 4
    want_s = np.mean(-np.sum(ys * np.log(q), axis=-1))
    got_s = losses.CategoricalCrossentropy(label_smoothing=0.2)(y, tl.tensor(raw)).item()
    assert abs(got_s - want_s) < 1e-12


def test_categorical_crossentropy_from_logits(rng):
    y = _onehot([1, 0, 2], 3)
    z = rng.normal(size=(3, 3)) * 5
    logp = z - np.log(np.sum(np.exp(z), -1, keepdims=True))
    want = np.mean(-np.sum(y * logp, -1))
    got = losses.CategoricalCrossentropy(from_logits=True)(y, tl.tensor(z)).item()
    assert abs(got - want) < 1e-12


def test_sparse_categorical_crossentropy_values(rng):
    p = _probs(rng, 5, 4)
    labels = np.array([3, 0, 1, 1, 2])
    want = np.mean(-np.log(p[np.arange(5), labels]))
    scce = losses.SparseCategoricalCrossentropy()
    for y in (labels, labels.reshape(5, 1), labels.astype(np.float32)):
        assert abs(scce(y, tl.tensor(p)).item() - want) < 1e-12
    doc = losses.sparse_categorical_crossentropy(
        np.array([1, 2]), tl.tensor(np.array([[0.05, 0.95, 0], [0.1, 0.8, 0.1]]))).numpy()
    np.testing.assert_allclose(doc, [0.0513, 2.303], atol=1e-3)


def test_sparse_categorical_crossentropy_ignore_class(rng):
    p = _probs(rng, 4, 3)
    labels = np.array([2, -1, 0, -1])
    want = -(np.log(p[0, 2]) + np.log(p[2, 0])) / 2            # mean over the 2 valid ones
    got = losses.SparseCategoricalCrossentropy(ignore_class=-1)(labels, tl.tensor(p)).item()
    assert abs(got - want) < 1e-12


def test_binary_crossentropy_values(rng):
    doc = losses.binary_crossentropy(np.array([[0, 1], [0, 0]]),
                                     tl.tensor(np.array([[0.6, 0.4], [0.4, 0.6]]))).numpy()
    np.testing.assert_allclose(doc, [0.916, 0.714], atol=1e-3)
    # keras.losses.BinaryCrossentropy(from_logits=True) docs: 0.865
    got = losses.BinaryCrossentropy(from_logits=True)(
        np.array([0, 1, 0, 0]), tl.tensor(np.array([-18.6, 0.51, 2.94, -12.8]))).item()
    assert abs(got - 0.865) < 1e-3

    y = rng.integers(0, 2, size=(6, 1)).astype(np.float64)
    p = rng.uniform(0, 1, size=(6, 1))
    p[0, 0], p[1, 0] = 0.0, 1.0                                 # clipped to [eps, 1-eps]
    q = np.clip(p, EPS, 1 - EPS)
    want = np.mean(-(y * np.log(q) + (1 - y) * np.log(1 - q)))
    bce = losses.BinaryCrossentropy()
    assert abs(bce(y, tl.tensor(p)).item() - want) < 1e-12
    assert abs(bce(y[:, 0], tl.tensor(p)).item() - want) < 1e-12     # (N,) vs (N, 1)
    ys = y * 0.9 + 0.05
    want_s = np.mean(-(ys * np.log(q) + (1 - ys) * np.log(1 - q)))
    assert abs(losses.BinaryCrossentropy(label_smoothing=0.1)(y, tl.tensor(p)).item()
               - want_s) < 1e-12


def test_binary_crossentropy_from_logits_is_stable():
    z = tl.tensor(np.array([[800.0, -800.0, 0.0]]), requires_grad=True)
    y = np.array([[0.0, 1.0, 1.0]])
    loss = losses.BinaryCrossentropy(from_logits=True)(y, z)
    assert abs(loss.item() - (800 + 800 + np.log(2)) / 3) < 1e-9
    loss.backward()
    # d/dz mean(bce) = (sigmoid(z) - y) / 3
    np.testing.assert_allclose(z.grad.numpy(), [[1 / 3, -1 / 3, (0.5 - 1) / 3]], rtol=1e-12)


def test_regression_losses(rng):
    y, p = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    assert abs(losses.MeanSquaredError()(y, tl.tensor(p)).item() - np.mean((y - p) ** 2)) < 1e-12
    assert abs(losses.MeanAbsoluteError()(y, tl.tensor(p)).item()
               - np.mean(np.abs(y - p))) < 1e-12
    col = rng.normal(size=5)
    pc = rng.normal(size=(5, 1))
    assert abs(losses.get("mse")(col, tl.tensor(pc)).item()
               - np.mean((col - pc[:, 0]) ** 2)) < 1e-12
    # keras.losses.MeanSquaredError docs
    yt, yp = np.array([[0.0, 1.0], [0.0, 0.0]]), np.array([[1.0, 1.0], [1.0, 0.0]])
    assert losses.MeanSquaredError()(yt, tl.tensor(yp)).item() == pytest.approx(0.5)
    assert losses.MeanSquaredError()(yt, tl.tensor(yp), sample_weight=np.array([0.7, 0.3])
                                     ).item() == pytest.approx(0.25)
    assert losses.MeanAbsoluteError(reduction="sum")(yt, tl.tensor(yp)).item() == \
        pytest.approx(1.0)


def test_reductions_with_sample_weight(rng):
    y, p = rng.normal(size=(4, 2)), rng.normal(size=(4, 2))
    w = np.array([1.0, 0.0, 2.0, 0.5])
    per = np.mean((y - p) ** 2, -1)
    mse = lambda red: losses.MeanSquaredError(reduction=red)  # noqa: E731
    assert mse("sum_over_batch_size")(y, tl.tensor(p), w).item() == pytest.approx(
        np.sum(per * w) / 4, rel=1e-12)
    assert mse("sum")(y, tl.tensor(p), w).item() == pytest.approx(np.sum(per * w), rel=1e-12)
    assert mse("mean_with_sample_weight")(y, tl.tensor(p), w).item() == pytest.approx(
        np.sum(per * w) / np.sum(w), rel=1e-12)
    np.testing.assert_allclose(mse("none")(y, tl.tensor(p), w).numpy(), per * w, rtol=1e-12)
    with pytest.raises(ValueError, match="Received: reduction='avg'"):
        losses.MeanSquaredError(reduction="avg")


def test_sum_over_batch_size_divides_by_every_loss_element(rng):
    # per-sample losses of rank 2 (a sequence): Keras divides by N*T, not by N
    y, p = rng.normal(size=(3, 5, 2)), rng.normal(size=(3, 5, 2))
    got = losses.MeanSquaredError()(y, tl.tensor(p)).item()
    assert got == pytest.approx(np.mean((y - p) ** 2), rel=1e-12)
    assert losses.MeanSquaredError(reduction="none")(y, tl.tensor(p)).shape == (3, 5)


def test_losses_keep_float32():
    p = tl.tensor(np.full((2, 3), 1 / 3, dtype=np.float32), requires_grad=True)
    out = losses.CategoricalCrossentropy()(_onehot([0, 1], 3), p)
    assert out.dtype == np.float32 and out.shape == ()
    out.backward()
    assert p.grad.dtype == np.float32


# ---------------------------------------------------------------- gradients
@pytest.mark.parametrize("make_loss,kind", [
    (lambda: losses.CategoricalCrossentropy(), "probs"),
    (lambda: losses.CategoricalCrossentropy(label_smoothing=0.1), "probs"),
    (lambda: losses.CategoricalCrossentropy(from_logits=True), "logits"),
    (lambda: losses.SparseCategoricalCrossentropy(), "probs_sparse"),
    (lambda: losses.SparseCategoricalCrossentropy(from_logits=True), "logits_sparse"),
    (lambda: losses.BinaryCrossentropy(), "probs"),
    (lambda: losses.BinaryCrossentropy(label_smoothing=0.2), "probs"),
    (lambda: losses.BinaryCrossentropy(from_logits=True), "logits"),
    (lambda: losses.MeanSquaredError(), "logits"),
    (lambda: losses.MeanAbsoluteError(), "logits"),
])
def test_loss_gradients_match_finite_differences(rng, make_loss, kind):
    n, c = 4, 3
    labels = rng.integers(0, c, size=n)
    if kind.startswith("probs"):
        # un-normalised rows: the gradient through CCE's renormalisation is checked too
        x = rng.uniform(0.05, 0.95, size=(n, c))
    else:
        x = rng.normal(size=(n, c))
    loss = make_loss()
    if kind.endswith("sparse"):
        y = labels
    elif isinstance(loss, losses.BinaryCrossentropy):
        y = rng.integers(0, 2, size=(n, c)).astype(np.float64)
    elif isinstance(loss, losses.CategoricalCrossentropy):
        y = _onehot(labels, c)
    else:
        y = rng.normal(size=(n, c))
    weights = np.array([0.5, 1.0, 2.0, 0.0])
    check_gradients(lambda t: loss(y, t), [x])
    check_gradients(lambda t: loss(y, t, sample_weight=weights), [x])


# ---------------------------------------------------------------- fused softmax path
def _grad_of(fn, x):
    t = tl.tensor(x, requires_grad=True)
    out = fn(t)
    out.backward()
    return out.item(), t.grad.numpy().copy()


def _plain_softmax(t, axis=-1):
    """softmax(t) through autograd, without the record that lets a loss fuse it."""
    p = tl.softmax(t, axis)
    p._softmax_of = None
    return p


@pytest.fixture
def fused_calls(monkeypatch):
    calls = []
    real = functional.softmax_cross_entropy
    monkeypatch.setattr(functional, "softmax_cross_entropy",
                        lambda *a: calls.append(1) or real(*a))
    return calls


@pytest.mark.parametrize("smoothing", [0.0, 0.15])
def test_categorical_loss_on_a_softmax_output_runs_the_fused_kernel(rng, smoothing,
                                                                     fused_calls):
    """As in Keras: the loss sees that y_pred came from a softmax and uses its input."""
    logits = rng.normal(size=(6, 5)) * 2
    y = _onehot(rng.integers(0, 5, size=6), 5)
    loss = losses.CategoricalCrossentropy(label_smoothing=smoothing)
    v_unfused, g_unfused = _grad_of(lambda t: loss(y, _plain_softmax(t)), logits)
    assert fused_calls == []
    v_fused, g_fused = _grad_of(lambda t: loss(y, tl.softmax(t)), logits)
    assert fused_calls == [1]
    assert abs(v_fused - v_unfused) < 1e-12
    np.testing.assert_allclose(g_fused, g_unfused, rtol=1e-9, atol=1e-13)
    v_direct, _ = _grad_of(lambda t: loss.from_logits_call(y, t), logits)
    assert v_direct == v_fused


def test_no_fusion_where_it_would_be_wrong(rng, fused_calls):
    """from_logits=True takes y_pred as logits; a softmax over another axis than the class
    axis, or a cast y_pred, is not the loss's softmax."""
    logits = rng.normal(size=(6, 5))
    y = _onehot(rng.integers(0, 5, size=6), 5)
    t = tl.tensor(logits)
    a = losses.CategoricalCrossentropy(from_logits=True)(y, tl.softmax(t)).item()
    b = losses.categorical_crossentropy(y, tl.softmax(t).numpy(), from_logits=True).numpy()
    assert a == pytest.approx(b.mean(), rel=1e-12)
    p0 = tl.softmax(t, axis=0)
    c = losses.CategoricalCrossentropy()(y, p0).item()
    assert c == pytest.approx(losses.CategoricalCrossentropy()(y, p0.numpy()).item(), rel=1e-12)
    losses.CategoricalCrossentropy(dtype="float32")(y, tl.softmax(t))
    assert fused_calls == []


@pytest.mark.parametrize("shape", [(6,), (6, 1)])
def test_fused_sparse_equals_unfused(rng, shape, fused_calls):
    logits = rng.normal(size=(6, 4))
    labels = rng.integers(0, 4, size=6).reshape(shape)
    loss = losses.SparseCategoricalCrossentropy()
    v_unfused, g_unfused = _grad_of(lambda t: loss(labels, _plain_softmax(t)), logits)
    v_fused, g_fused = _grad_of(lambda t: loss(labels, tl.softmax(t)), logits)
    assert fused_calls == [1]
    assert abs(v_fused - v_unfused) < 1e-12
    np.testing.assert_allclose(g_fused, g_unfused, rtol=1e-9, atol=1e-13)


def test_fused_call_with_sample_weight_falls_back_correctly(rng):
    logits = rng.normal(size=(4, 3))
    labels = np.array([0, 2, 2, 1])
    w = np.array([1.0, 0.0, 3.0, 0.5])
    loss = losses.SparseCategoricalCrossentropy()
    a = loss.from_logits_call(labels, tl.tensor(logits), sample_weight=w).item()
    b = loss(labels, tl.softmax(tl.tensor(logits)), sample_weight=w).item()
    assert abs(a - b) < 1e-12


# ---------------------------------------------------------------- validation
@pytest.mark.parametrize("labels", [np.array([0, 2, 1]), np.array([[0], [2], [1]])])
def test_categorical_loss_rejects_integer_labels(labels):
    p = tl.tensor(np.full((3, 3), 1 / 3))
    for call in (lambda: losses.CategoricalCrossentropy()(labels, p),
                 lambda: losses.CategoricalCrossentropy().from_logits_call(labels, p)):
        with pytest.raises(ValueError) as info:
            call()
        msg = str(info.value)
        assert "sparse_categorical_crossentropy" in msg and "to_categorical" in msg
        assert f"Received: y_true.shape={labels.shape}" in msg


def test_shape_mismatches_are_named():
    with pytest.raises(ValueError, match=r"Received: target.shape=\(3, 2\), "
                                         r"output.shape=\(3, 4\)"):
        losses.CategoricalCrossentropy()(np.zeros((3, 2)), tl.tensor(np.ones((3, 4))))
    with pytest.raises(ValueError, match=r"mean_squared_error.*\(4, 3\).*\(4, 2\)"):
        losses.MeanSquaredError()(np.zeros((4, 3)), tl.tensor(np.zeros((4, 2))))
    with pytest.raises(ValueError, match="categorical_crossentropy.*one-hot"):
        losses.SparseCategoricalCrossentropy()(np.eye(3), tl.tensor(np.full((3, 3), 1 / 3)))
    with pytest.raises(ValueError, match=r"must lie in \[0, 3\). Received: \[3\]"):
        losses.SparseCategoricalCrossentropy()(np.array([0, 3]), tl.tensor(np.ones((2, 3))))
    with pytest.raises(ValueError, match="integer class indices"):
        losses.SparseCategoricalCrossentropy()(np.array([0.5, 1]), tl.tensor(np.ones((2, 3))))


# ---------------------------------------------------------------- names and registry
def test_loss_names():
    assert losses.CategoricalCrossentropy().name == "categorical_crossentropy"
    assert losses.SparseCategoricalCrossentropy().name == "sparse_categorical_crossentropy"
    assert losses.BinaryCrossentropy().name == "binary_crossentropy"
    assert losses.MeanSquaredError().name == "mean_squared_error"
    assert losses.MeanAbsoluteError().name == "mean_absolute_error"


@pytest.mark.parametrize("name,cls", [
    ("categorical_crossentropy", losses.CategoricalCrossentropy),
    ("CategoricalCrossentropy", losses.CategoricalCrossentropy),
    ("sparse_categorical_crossentropy", losses.SparseCategoricalCrossentropy),
    ("binary_crossentropy", losses.BinaryCrossentropy), ("bce", losses.BinaryCrossentropy),
    ("mse", losses.MeanSquaredError), ("MSE", losses.MeanSquaredError),
    ("mean_squared_error", losses.MeanSquaredError), ("mae", losses.MeanAbsoluteError),
    ("MeanAbsoluteError", losses.MeanAbsoluteError)])
def test_loss_get_by_name(name, cls):
    obj = losses.get(name)
    assert type(obj) is cls
    if "_" in name or name.lower() == name:      # function names keep the user's string
        assert obj.name == name


def test_loss_get_other_identifiers(rng):
    inst = losses.BinaryCrossentropy(from_logits=True)
    assert losses.get(inst) is inst
    assert type(losses.get(losses.MeanSquaredError)) is losses.MeanSquaredError
    assert type(losses.get(losses.mean_absolute_error)) is losses.MeanAbsoluteError

    def my_loss(y_true, y_pred):
        return (y_pred - tl.tensor(y_true)).abs().sum(axis=-1)
    wrapped = losses.get(my_loss)
    y, p = rng.normal(size=(3, 2)), rng.normal(size=(3, 2))
    assert wrapped.name == "my_loss"
    assert wrapped(y, tl.tensor(p)).item() == pytest.approx(np.mean(np.abs(p - y).sum(-1)))
    cfg = losses.get({"class_name": "CategoricalCrossentropy",
                      "config": {"label_smoothing": 0.2}})
    assert cfg.label_smoothing == 0.2
    with pytest.raises(ValueError, match="Could not interpret loss identifier: 'dice'"):
        losses.get("dice")


# ---------------------------------------------------------------- metrics
def test_mean_metric():
    m = metrics.Mean()
    assert m.result() == 0.0 and m.name == "mean"
    m.update_state(np.array([1.0, 2.0, 3.0]))
    m.update_state(np.array([10.0]), sample_weight=np.array([2.0]))
    assert m.result() == pytest.approx(26 / 5)
    assert isinstance(m.result(), float)
    m.reset_state()
    m.update_state(np.array([[1.0, 3.0], [5.0, 7.0]]))          # per-sample means 2 and 6
    assert m.result() == pytest.approx(4.0) and m.count == 2
    m.reset_state()
    m.update_state(np.array([1, 3, 5, 7]), sample_weight=np.array([1, 1, 0, 0]))
    assert m.result() == pytest.approx(2.0)


def test_accuracy_metrics_stream_over_batches():
    m = metrics.SparseCategoricalAccuracy()
    m.update_state(np.array([0, 1, 2]), np.array([[.9, .1, 0], [.1, .2, .7], [0, .1, .9]]))
    m.update_state(np.array([[1]]), np.array([[.2, .5, .3]]))
    assert m.result() == pytest.approx(3 / 4)

    c = metrics.CategoricalAccuracy()
    c.update_state(_onehot([0, 2], 3), np.array([[.1, .8, .1], [.2, .2, .6]]),
                   sample_weight=np.array([1.0, 3.0]))
    assert c.result() == pytest.approx(3 / 4)

    b = metrics.BinaryAccuracy(threshold=0.7)
    b.update_state(np.array([[1], [0], [1]]), np.array([[0.8], [0.75], [0.6]]))
    assert b.result() == pytest.approx(1 / 3)
    b.reset_state()
    assert b.result() == 0.0

    a = metrics.Accuracy()
    a.update_state(np.array([[1], [2], [3], [4]]), np.array([[0], [2], [3], [4]]))
    assert a.result() == pytest.approx(0.75)
    with pytest.raises(ValueError, match="Received: threshold=1.5"):
        metrics.BinaryAccuracy(threshold=1.5)


def test_metric_names():
    assert metrics.Accuracy().name == "accuracy"
    assert metrics.BinaryAccuracy().name == "binary_accuracy"
    assert metrics.CategoricalAccuracy().name == "categorical_accuracy"
    assert metrics.SparseCategoricalAccuracy().name == "sparse_categorical_accuracy"


@pytest.mark.parametrize("loss,expected", [
    ("categorical_crossentropy", metrics.CategoricalAccuracy),
    (losses.CategoricalCrossentropy(from_logits=True), metrics.CategoricalAccuracy),
    ("sparse_categorical_crossentropy", metrics.SparseCategoricalAccuracy),
    (losses.SparseCategoricalCrossentropy, metrics.SparseCategoricalAccuracy),
    ("binary_crossentropy", metrics.BinaryAccuracy),
    (losses.binary_crossentropy, metrics.BinaryAccuracy),
    (losses.BinaryCrossentropy(), metrics.BinaryAccuracy)])
def test_accuracy_resolved_from_the_loss(loss, expected):
    # shapes that alone would say "categorical": the loss must win
    for name in ("accuracy", "acc"):
        m = metrics.get(name, loss=loss, y_true=np.zeros((4, 3)), y_pred=np.zeros((4, 3)))
        assert type(m) is expected and m.name == name


@pytest.mark.parametrize("t_shape,p_shape,expected", [
    ((8, 1), (8, 1), metrics.BinaryAccuracy), ((8,), (8, 1), metrics.BinaryAccuracy),
    ((8,), (8, 5), metrics.SparseCategoricalAccuracy),
    ((8, 1), (8, 5), metrics.SparseCategoricalAccuracy),
    ((8, 5), (8, 5), metrics.CategoricalAccuracy)])
def test_accuracy_resolved_from_shapes(t_shape, p_shape, expected):
    m = metrics.get("accuracy", loss="mse", y_true=np.zeros(t_shape), y_pred=np.zeros(p_shape))
    assert type(m) is expected and m.name == "accuracy"
    m2 = metrics.resolve_accuracy(None, t_shape, p_shape, name="acc")
    assert type(m2) is expected and m2.name == "acc"


def test_accuracy_without_information_is_exact_match():
    m = metrics.get("accuracy")
    assert type(m) is metrics.Accuracy and m.name == "accuracy"


def test_metric_get_registry(rng):
    assert type(metrics.get("sparse_categorical_accuracy")) is metrics.SparseCategoricalAccuracy
    assert type(metrics.get("CategoricalAccuracy")) is metrics.CategoricalAccuracy
    inst = metrics.BinaryAccuracy()
    assert metrics.get(inst) is inst
    assert type(metrics.get(metrics.Mean)) is metrics.Mean
    mse = metrics.get("mse")
    y, p = rng.normal(size=(3, 2)), rng.normal(size=(3, 2))
    mse.update_state(y, p)
    assert mse.name == "mse" and mse.result() == pytest.approx(np.mean((y - p) ** 2))
    with pytest.raises(ValueError, match="Could not interpret metric identifier: 'f1'"):
        metrics.get("f1")
