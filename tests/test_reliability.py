"""Regression tests for wrong answers and unclear errors found by hostile use: thread-local
grad mode, NaN through ReLU, integer casts, non-finite targets, layer arguments Keras
refuses, and the "... Received: ..." messages of bad calls."""
import threading

import numpy as np
import pytest

import tensorlib as tl
from tensorlib import layers, models


def _small_model(seed=0):
    tl.manual_seed(seed)
    m = models.Sequential([layers.Input((6,)), layers.Dense(8, activation="relu"),
                           layers.Dense(3, activation="softmax")])
    m.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=["accuracy"])
    return m


# ---------------------------------------------------------------- grad mode per thread
def test_no_grad_in_one_thread_does_not_switch_off_another():
    inside, release = threading.Event(), threading.Event()

    def hold_no_grad():
        with tl.no_grad():
            inside.set()
            release.wait(10)

    t = threading.Thread(target=hold_no_grad)
    t.start()
    try:
        assert inside.wait(10)
        x = tl.ones(3, requires_grad=True)
        y = (x * 2).sum()
        assert tl.is_grad_enabled()
        assert y.requires_grad
        y.backward()
        np.testing.assert_array_equal(x.grad.numpy(), [2, 2, 2])
    finally:
        release.set()
        t.join()


def test_new_threads_start_with_grad_enabled():
    seen = []
    with tl.no_grad():
        t = threading.Thread(target=lambda: seen.append(tl.is_grad_enabled()))
        t.start()
        t.join()
        assert not tl.is_grad_enabled()
    assert seen == [True]


def test_concurrent_training_and_inference_threads():
    m = _small_model()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 6)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 32)]
    steps, errors, changed = 150, [], []
    stop = threading.Event()

    def train():
        try:
            for _ in range(steps):
                before = m.layers[0].kernel.data.copy()
                m.train_on_batch(x, y)
                changed.append(not np.array_equal(before, m.layers[0].kernel.data))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)
        finally:
            stop.set()

    def infer():
        try:
            while not stop.is_set():
                out = m.predict(x, verbose=0)
                assert out.shape == (32, 3)
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=train), threading.Thread(target=infer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[:3]
    assert len(changed) == steps and all(changed)


# ---------------------------------------------------------------- NaN through ReLU
@pytest.mark.parametrize("backend", ["native", "numpy"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [5, 100_003])
def test_relu_keeps_nan(backend, dtype, n):
    tl.set_backend(backend)
    try:
        a = np.linspace(-2, 2, n).astype(dtype)
        a[::7] = np.nan
        want = np.maximum(a, 0)
        np.testing.assert_array_equal(tl.tensor(a).relu().numpy(), want)
        np.testing.assert_array_equal(layers.Activation("relu")(a).numpy(),   # float32 layer
                                      np.maximum(a.astype(np.float32), 0))
        np.testing.assert_array_equal(layers.Activation("relu", dtype=dtype)(a).numpy(), want)
    finally:
        tl.set_backend("native")


@pytest.mark.parametrize("backend", ["native", "numpy"])
def test_dense_relu_on_rank3_keeps_nan(backend):
    tl.set_backend(backend)
    try:
        d = layers.Dense(4, activation="relu", kernel_initializer="ones")
        x = np.ones((2, 3, 5), np.float32)
        x[0, 1, 2] = np.nan
        y = d(x).numpy()
        assert np.isnan(y[0, 1]).all() and not np.isnan(y[1]).any()
        d2 = layers.Dense(4, activation="relu", kernel_initializer="ones")
        assert np.isnan(d2(x[0]).numpy()[1]).all()      # rank 2 (fused path) agrees
    finally:
        tl.set_backend("native")


# ---------------------------------------------------------------- casts
def test_integer_cast_cuts_the_graph():
    x = tl.tensor([1.5, -2.5], requires_grad=True)
    i = x.astype(np.int32)
    assert i.dtype == np.int32 and not i.requires_grad
    f = x.astype(np.float64)
    assert f.requires_grad
    (f * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3, 3])


@pytest.mark.parametrize("dtype", ["foo", object, "U3"])
def test_astype_bad_dtype(dtype):
    with pytest.raises(TypeError, match="astype.*Received"):
        tl.ones(2).astype(dtype)


# ---------------------------------------------------------------- targets and fit arguments
@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("method", ["fit", "train_on_batch", "evaluate"])
def test_non_finite_targets_refused_and_weights_kept(bad, method):
    m = _small_model()
    x = np.ones((4, 6), np.float32)
    y = np.eye(3, dtype=np.float32)[[0, 1, 2, 0]]
    y[2, 1] = bad
    before = m.get_weights()
    with pytest.raises(ValueError, match="non-finite.*y"):
        getattr(m, method)(x, y, **({"verbose": 0} if method != "train_on_batch" else {}))
    for a, b in zip(before, m.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kwargs,name", [
    ({"epochs": "2"}, "epochs"), ({"epochs": 2.5}, "epochs"), ({"epochs": -1}, "epochs"),
    ({"epochs": True}, "epochs"), ({"initial_epoch": 0.5}, "initial_epoch"),
    ({"validation_split": "0.2"}, "validation_split"),
    ({"validation_split": float("nan")}, "validation_split"),
    ({"validation_split": 1.0}, "validation_split"),
    ({"validation_data": 5}, "validation_data"),
    ({"batch_size": 0}, "batch_size"),
])
def test_fit_argument_errors(kwargs, name):
    m = _small_model()
    x, y = np.ones((4, 6), np.float32), np.eye(3, dtype=np.float32)[[0, 1, 2, 0]]
    with pytest.raises(ValueError, match=f"{name}.*Received"):
        m.fit(x, y, verbose=0, **kwargs)


def test_fit_on_0d_and_none_inputs():
    m = _small_model()
    with pytest.raises(ValueError, match="batch axis.*Received"):
        m.fit(np.float32(3.0), np.float32(1.0), verbose=0)
    with pytest.raises(ValueError, match="Received: x=None"):
        m.predict(None)
    with pytest.raises(ValueError, match="numeric.*Received"):
        m.predict(np.array(["a", "b"]))


@pytest.mark.parametrize("method", ["evaluate", "train_on_batch", "test_on_batch"])
def test_missing_targets(method):
    m = _small_model()
    with pytest.raises(ValueError, match=f"{method}.*Received: y=None"):
        getattr(m, method)(np.ones((4, 6), np.float32))


# ---------------------------------------------------------------- layer arguments
@pytest.mark.parametrize("make", [
    lambda: layers.Dense(3, input_shape=4),
    lambda: layers.Dense(3, input_shape=("a",)),
    lambda: layers.Dense(3, input_shape=(-2,)),
    lambda: layers.Dense(3, input_shape=(2.5,)),
    lambda: layers.Dense(3, input_shape="ab"),
    lambda: layers.Dense(3, input_dim=0.5),
    lambda: layers.Dense(3, batch_size=-1, input_shape=(2,)),
    lambda: layers.Dense(3, dtype="int32"),
    lambda: layers.Dense(3, dtype="nonsense"),
    lambda: layers.Dense(3, name=5),
    lambda: layers.Dense(2**40),
    lambda: layers.Input(shape=4),
    lambda: layers.Reshape((0, -1)),
    lambda: layers.Reshape((-1, -1)),
    lambda: layers.Reshape((-3, 2)),
    lambda: layers.Reshape("ab"),
    lambda: layers.Reshape(5),
    lambda: layers.BatchNormalization(momentum="fast"),
    lambda: layers.BatchNormalization(momentum=1.5),
    lambda: layers.BatchNormalization(epsilon=0),
    lambda: layers.BatchNormalization(epsilon=float("nan")),
    lambda: layers.BatchNormalization(axis=1.0),
    lambda: layers.Dropout(0.5, noise_shape="ab"),
    lambda: layers.Dropout(0.5, noise_shape=(1, 0)),
    lambda: layers.Dropout(0.5, noise_shape=5),
    lambda: layers.Dropout(0.5, seed="x"),
    lambda: layers.Dropout("0.5"),
    lambda: layers.Conv2D(4, 3, strides=1.5),
    lambda: layers.Conv2D(4, 3, strides=None),
    lambda: layers.Conv2D(4, 3, strides=2**63),
    lambda: layers.Conv2D(4, 3, dilation_rate=2**62 - 1),
    lambda: layers.Conv2D(4, (3, True)),
    lambda: layers.MaxPooling2D(pool_size=2.0),
    lambda: layers.MaxPooling2D(pool_size=None),
    lambda: layers.MaxPooling2D(pool_size=2**63),
    lambda: layers.AveragePooling2D(2, strides="2"),
    lambda: layers.GlobalAveragePooling2D(data_format="nchw"),
])
def test_layer_constructor_errors(make):
    with pytest.raises((ValueError, TypeError), match="Received"):
        make()


def test_reshape_zero_and_bad_shapes_do_not_escape_load(tmp_path):
    m = models.Sequential([layers.Input((4,)), layers.Reshape((2, 2)), layers.Flatten(),
                           layers.Dense(2)])
    path = tmp_path / "m.npz"
    m.save(path)
    data = dict(np.load(path))
    import json
    meta = json.loads(data["__meta__"].tobytes())
    meta["config"]["layers"][1]["config"]["target_shape"] = [0, -1]
    data["__meta__"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    np.savez(path, **data)
    with pytest.raises(ValueError, match="target_shape"):
        models.load_model(path)


def test_dropout_noise_shape_must_broadcast():
    d = layers.Dropout(0.5, noise_shape=(None, 3))
    with pytest.raises(ValueError, match="noise_shape.*Received"):
        d(np.ones((2, 4), np.float32), training=True)
    d = layers.Dropout(0.5, noise_shape=(None, 1), seed=1)
    y = d(np.ones((64, 5), np.float32), training=True).numpy()
    assert all(len(set(row)) == 1 for row in y)        # one draw per row, broadcast


def test_global_average_pooling_channels_first():
    x = np.random.default_rng(0).normal(size=(2, 3, 4, 5)).astype(np.float32)
    gap = layers.GlobalAveragePooling2D(data_format="channels_first")
    np.testing.assert_allclose(gap(x).numpy(), x.mean(axis=(2, 3)), rtol=1e-6)
    assert gap.compute_output_shape((None, 3, 4, 5)) == (None, 3)
    gk = layers.GlobalAveragePooling2D(data_format="channels_first", keepdims=True)
    assert gk(x).shape == (2, 3, 1, 1)
    assert gk.compute_output_shape((None, 3, 4, 5)) == (None, 3, 1, 1)
    last = layers.GlobalAveragePooling2D()
    np.testing.assert_allclose(last(x).numpy(), x.mean(axis=(1, 2)), rtol=1e-6)
    assert layers.GlobalAveragePooling2D.from_config(gap.get_config()).data_format == \
        "channels_first"


@pytest.mark.parametrize("axis", [7, -4, 3, 0])
def test_batchnorm_axis_out_of_range_is_refused(axis):
    bn = layers.BatchNormalization(axis=axis)
    with pytest.raises(ValueError, match="axis.*Received"):
        bn(np.ones((2, 3, 4), np.float32))


@pytest.mark.parametrize("axis", [1, 2, -1, -2])
def test_batchnorm_valid_axes(axis):
    x = np.random.default_rng(1).normal(size=(8, 3, 4)).astype(np.float32)
    bn = layers.BatchNormalization(axis=axis)
    y = bn(x, training=True).numpy()
    red = tuple(i for i in range(3) if i != axis % 3)
    want = (x - x.mean(red, keepdims=True)) / np.sqrt(x.var(red, keepdims=True) + 1e-3)
    np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------- tensor op errors
@pytest.mark.parametrize("axis", [1.5, "a", (0, 1.0), [True], object()])
def test_reduction_axis_type_errors(axis):
    for op in ("sum", "mean", "max"):
        with pytest.raises(TypeError, match=f"{op}: axis.*Received"):
            getattr(tl.ones(2, 3), op)(axis=axis)


def test_reduction_huge_axis():
    with pytest.raises(ValueError, match="out of bounds.*Received"):
        tl.ones(2, 3).sum(axis=2**63)


def test_softmax_over_empty_axis_is_empty():
    for fn in ("softmax", "log_softmax"):
        x = tl.zeros(3, 0, requires_grad=True)
        y = getattr(x, fn)(axis=-1)
        assert y.shape == (3, 0)
        y.sum().backward()
        assert x.grad.shape == (3, 0)
        assert getattr(tl.zeros(0, 4), fn)(axis=1).shape == (0, 4)
    with pytest.raises(ValueError, match="softmax.*Received"):
        tl.ones(2, 3).softmax(axis=2)
    with pytest.raises(TypeError, match="softmax.*Received"):
        tl.ones(2, 3).softmax(axis=None)
    with pytest.raises(ValueError, match="rank >= 1.*Received"):
        tl.tensor(1.0).softmax()


def test_cross_entropy_with_zero_classes():
    from tensorlib import functional as F
    with pytest.raises(ValueError, match="Received"):
        F.softmax_cross_entropy(np.zeros((2, 0), np.float32), np.zeros((2, 0), np.float32))
    with pytest.raises(ValueError, match="Received"):
        F.softmax_cross_entropy(np.zeros((2, 0), np.float32), np.zeros(2, np.int64))
    for name in ("categorical_crossentropy", "sparse_categorical_crossentropy"):
        loss = tl.losses.get(name)
        y = np.zeros((2, 0), np.float32) if name.startswith("cat") else np.zeros(2, np.int64)
        with pytest.raises(ValueError, match="Received"):
            loss(y, tl.zeros(2, 0))


@pytest.mark.parametrize("data", [np.array(["a", "b"]), np.array([object()]),
                                  np.array(["2020-01-01"], "datetime64[D]")])
def test_non_numeric_tensors_are_refused(data):
    with pytest.raises(TypeError, match="numeric.*Received"):
        tl.tensor(data).relu()
    with pytest.raises(TypeError, match="numeric.*Received"):
        tl.Tensor(data)


def test_tensor_from_strings_is_a_clear_error():
    with pytest.raises(TypeError, match="tensor:.*Received"):
        tl.tensor("abc")
    with pytest.raises(TypeError, match="tensor:.*Received"):
        tl.tensor([[1, 2], [3]])


def test_sequential_add_of_an_incompatible_layer_leaves_the_model_as_it_was():
    m = models.Sequential([layers.Input((4,)), layers.Dense(3)])
    with pytest.raises(ValueError, match="(?i)received"):
        m.add(layers.Conv2D(2, 3))
    assert len(m.layers) == 1
    assert m.predict(np.ones((2, 4), np.float32), verbose=0).shape == (2, 3)


@pytest.mark.parametrize("kwargs", [{"layers": 5}, {"name": 3}])
def test_sequential_constructor_errors(kwargs):
    with pytest.raises(TypeError, match="Received"):
        models.Sequential(**kwargs)


# ---------------------------------------------------------------- found by the fuzz suite
def test_softmax_and_sigmoid_of_integers_compute_in_float():
    u = tl.Tensor(np.array([1, 5, 2], np.uint8))
    want = np.exp([1, 5, 2]) / np.exp([1, 5, 2]).sum()
    np.testing.assert_allclose(u.softmax().numpy(), want, rtol=1e-3)
    assert u.softmax().dtype == np.float16           # NumPy's exp(uint8) type
    np.testing.assert_allclose(u.log_softmax().numpy(), np.log(want), rtol=5e-3, atol=1e-3)
    s = tl.Tensor(np.array([3, -3], np.int32)).sigmoid().numpy()
    np.testing.assert_allclose(s, 1 / (1 + np.exp([-3.0, 3.0])), rtol=1e-12)
    with pytest.raises(TypeError, match="complex.*Received"):
        tl.Tensor(np.array([1 + 1j], np.complex64)).sigmoid()


def test_truth_value_of_tensors():
    assert not bool(tl.tensor([0.0])) and bool(tl.tensor(True))
    with pytest.raises(ValueError, match="ambiguous.*Received"):
        bool(tl.tensor([1.0, 2.0]))


def test_zero_d_reductions_follow_pytorch():
    x = tl.tensor(3.0, requires_grad=True)
    for op in ("sum", "mean", "max"):
        assert getattr(x, op)(0).item() == 3.0
        assert getattr(x, op)(-1).item() == 3.0
        with pytest.raises(ValueError, match="Received"):
            getattr(x, op)(1)


@pytest.mark.parametrize("call,exc", [
    (lambda: tl.tensor(None), TypeError),
    (lambda: tl.ones(2) - None, TypeError),
    (lambda: tl.ones(2) < None, TypeError),
    (lambda: tl.ones(2).clip(0, "1"), TypeError),
    (lambda: tl.ones(2, 3).transpose(1.5, 0), TypeError),
    (lambda: tl.ones(2, 2).flatten("0"), ValueError),
    (lambda: tl.ones(2).reshape((2.0,)), ValueError),
    (lambda: tl.ones(2, 3).sum(0, keepdims=None), TypeError),
    (lambda: (tl.ones(3, requires_grad=True) * 3.0).backward("abc"), TypeError),
    (lambda: tl.Tensor(np.array([2])) ** -1, ValueError),
    (lambda: tl.Tensor(np.array([1], np.int32)) + 2**31, ValueError),
    (lambda: tl.Tensor(np.array([True])) - tl.Tensor(np.array([False])), TypeError),
    (lambda: tl.ones(3)[::0], ValueError),
    (lambda: tl.concatenate([tl.ones(2)], axis=2**63), ValueError),
    (lambda: tl.concatenate([tl.ones(2)], axis=None), TypeError),
    (lambda: tl.stack([]), ValueError),
    (lambda: tl.stack([tl.ones(2)], axis=-2**63), ValueError),
    (lambda: tl.tensor([2**64], dtype="uint8"), ValueError),
    (lambda: tl.arange(0, 1, 0), ValueError),
    (lambda: tl.arange(0, float("inf")), ValueError),
    (lambda: tl.zeros(-1), ValueError),
    (lambda: tl.zeros("3"), ValueError),
    (lambda: tl.zeros(2**40, 2**40), ValueError),
    (lambda: tl.zeros(3, dtype="xyz"), TypeError),
    (lambda: tl.full(3, "a"), TypeError),
    (lambda: tl.randn(3, dtype=np.int32), TypeError),
    (lambda: layers.Dense(1)(np.ones(3, np.float32)), ValueError),
    (lambda: layers.Dense(2)(np.array([["a"]])), ValueError),
    (lambda: layers.Dense(2)([[1j]]), ValueError),
    (lambda: layers.Flatten()(np.array(1.0, np.float32)), ValueError),
])
def test_bad_calls_give_clear_errors(call, exc):
    with pytest.raises(exc, match="(?i)received"):
        call()


def test_softmax_cross_entropy_target_checks():
    from tensorlib import functional as F
    with pytest.raises(ValueError, match="real numbers.*Received"):
        F.softmax_cross_entropy(np.zeros((2, 2), np.float32),
                                np.array([[None, None]] * 2, object))


def test_layers_cast_float_tensors_to_their_dtype():
    d = layers.Dense(3)
    y = d(tl.Tensor(np.ones((2, 4))))                   # float64 in, float32 layer
    assert y.dtype == np.float32


def test_compile_argument_errors():
    m = models.Sequential([layers.Input((6,)), layers.Dense(3, activation="softmax")])
    with pytest.raises(ValueError, match="optimizer.*Received"):
        m.compile(optimizer=None, loss="categorical_crossentropy")
    with pytest.raises(ValueError, match="metric.*Received"):
        m.compile(loss="categorical_crossentropy", metrics=[None])
    with pytest.raises(ValueError, match="metrics.*Received"):
        m.compile(loss="categorical_crossentropy", metrics="accuracy")
    with pytest.raises(ValueError):
        m.compile(loss="categorical_crossentropy", metrics=["no_such_metric"])
    assert not m.compiled


def test_fit_accepts_one_callback_object():
    m = _small_model()
    h = tl.callbacks.History()
    m.fit(np.ones((4, 6), np.float32), np.eye(3, dtype=np.float32)[[0, 1, 2, 0]],
          epochs=2, verbose=0, callbacks=h)
    assert len(h.history["loss"]) == 2
    with pytest.raises(ValueError, match="callbacks.*Received"):
        m.fit(np.ones((4, 6), np.float32), np.eye(3, dtype=np.float32)[[0, 1, 2, 0]],
              verbose=0, callbacks=[5])
