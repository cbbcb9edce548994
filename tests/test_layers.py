"""tensorlib.layers: shapes, values, weights, defaults and argument checks.

Values are compared with NumPy references and with outputs of real Keras 3 stored in
tests/data/ by tests/make_keras_fixtures.py (no Keras at test time).
"""
import json
import math
import os
import warnings

import numpy as np
import pytest
from gradcheck import check_gradients

import tensorlib as tl
import tensorlib.layers.base as layers_base
from tensorlib import layers, models

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
RTOL, ATOL = 1e-4, 1e-5          # float32 against float32 (Keras) or float64 (NumPy)


@pytest.fixture(autouse=True)
def fresh_names():
    layers_base._name_counts.clear()
    yield
    layers_base._name_counts.clear()


def out(layer, x, training=False):
    y = layer(np.asarray(x, dtype="float32"), training=training)
    return y.numpy()


def load_json(name):
    with open(os.path.join(DATA, name), encoding="utf-8") as f:
        return json.load(f)


# ----------------------------------------------------------------- NumPy references
def ref_conv2d(x, w, b, strides=(1, 1), padding="valid", dilation=(1, 1)):
    """Direct NHWC convolution (cross-correlation) with TF/Keras "same" padding."""
    n, h, wd, _ = x.shape
    kh, kw, _, f = w.shape
    sh, sw = strides
    dh, dw = dilation
    eh, ew = (kh - 1) * dh + 1, (kw - 1) * dw + 1
    if padding == "same":
        oh, ow = -(-h // sh), -(-wd // sw)
        th, tw = max((oh - 1) * sh + eh - h, 0), max((ow - 1) * sw + ew - wd, 0)
        x = np.pad(x, ((0, 0), (th // 2, th - th // 2), (tw // 2, tw - tw // 2), (0, 0)))
    else:
        oh, ow = (h - eh) // sh + 1, (wd - ew) // sw + 1
    y = np.zeros((n, oh, ow, f))
    for i in range(kh):
        for j in range(kw):
            patch = x[:, i * dh: i * dh + (oh - 1) * sh + 1: sh,
                      j * dw: j * dw + (ow - 1) * sw + 1: sw, :]
            y += np.tensordot(patch.astype(np.float64), w[i, j].astype(np.float64), axes=1)
    return y + (0 if b is None else b)


def ref_pool(x, pool, strides, padding, op):
    """TF semantics: "same" pads evenly (extra at the end); averages count real inputs only."""
    n, h, w, c = x.shape
    (ph, pw), (sh, sw) = pool, strides
    if padding == "same":
        oh, ow = -(-h // sh), -(-w // sw)
        pt = max((oh - 1) * sh + ph - h, 0) // 2
        pl = max((ow - 1) * sw + pw - w, 0) // 2
    else:
        oh, ow, pt, pl = (h - ph) // sh + 1, (w - pw) // sw + 1, 0, 0
    y = np.zeros((n, oh, ow, c))
    for i in range(oh):
        for j in range(ow):
            r, q = i * sh - pt, j * sw - pl
            win = x[:, max(r, 0): r + ph, max(q, 0): q + pw, :].astype(np.float64)
            y[:, i, j] = win.max(axis=(1, 2)) if op == "max" else win.mean(axis=(1, 2))
    return y


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# ----------------------------------------------------------------- Keras fixtures
SHAPE_CASES = load_json("shapes.json")["cases"]
SHAPE_ARRAYS = np.load(os.path.join(DATA, "shapes.npz"), allow_pickle=False)


def case_id(case):
    cfg = ",".join(f"{k}={v}" for k, v in case["config"].items())
    return f"{case['class_name']}({cfg})-{'x'.join(map(str, case['input_shape']))}"


@pytest.mark.parametrize("index", range(len(SHAPE_CASES)),
                         ids=[case_id(c) for c in SHAPE_CASES])
def test_compute_output_shape_matches_keras(index):
    case = SHAPE_CASES[index]
    layer = getattr(layers, case["class_name"])(**case["config"])
    shape = layer.compute_output_shape((None,) + tuple(case["input_shape"]))
    assert tuple(shape) == tuple(case["output_shape"])


@pytest.mark.parametrize("index", range(len(SHAPE_CASES)),
                         ids=[case_id(c) for c in SHAPE_CASES])
def test_forward_values_match_keras(index):
    case = SHAPE_CASES[index]
    x = SHAPE_ARRAYS[f"case{index}_x"]
    layer = getattr(layers, case["class_name"])(**case["config"])
    layer.build_for((None,) + tuple(case["input_shape"]))
    weights = [SHAPE_ARRAYS[f"case{index}_w{j}"] for j in range(case["n_weights"])]
    layer.set_weights(weights)
    y = out(layer, x)
    assert y.shape == (len(x),) + tuple(case["output_shape"][1:])
    if case["compare_values"]:
        np.testing.assert_allclose(y, SHAPE_ARRAYS[f"case{index}_y"], rtol=RTOL, atol=ATOL)
    else:
        # Keras's torch backend pads asymmetric "same" average pooling with replicated
        # edge values; TF/JAX (and tensorlib) average over the real inputs only.
        cfg = case["config"]
        pool = layers.base.conv_tuple(cfg["pool_size"], 2, "pool_size")
        strides = layers.base.conv_tuple(cfg.get("strides") or pool, 2, "strides")
        np.testing.assert_allclose(y, ref_pool(x, pool, strides, "same", "avg"),
                                   rtol=RTOL, atol=ATOL)


LAYOUT_CASES = load_json("weights_layout.json")["layers"]


@pytest.mark.parametrize("case", LAYOUT_CASES,
                         ids=[f"{c['class_name']}{c['config']}" for c in LAYOUT_CASES])
def test_weight_order_names_shapes_and_trainability_match_keras(case):
    layer = getattr(layers, case["class_name"])(**case["config"])
    layer.build_for((None,) + tuple(case["input_shape"]))
    got = [(w.name.split("/")[-1], list(w.shape), bool(w.trainable)) for w in layer.weights]
    want = [(w["name"], w["shape"], w["trainable"]) for w in case["weights"]]
    assert got == want
    assert [list(a.shape) for a in layer.get_weights()] == [w["shape"] for w in case["weights"]]
    assert layer.count_params() == case["count_params"]
    n_trainable = sum(w["trainable"] for w in case["weights"])
    assert len(layer.trainable_weights) == n_trainable
    assert len(layer.non_trainable_weights) == len(case["weights"]) - n_trainable


BN = np.load(os.path.join(DATA, "batchnorm.npz"), allow_pickle=False)


@pytest.mark.parametrize("key", ["2d", "4d"])
def test_batchnorm_inference_and_training_match_keras(key):
    x = BN[f"{key}_x"]
    bn = layers.BatchNormalization()
    bn.build_for((None,) + x.shape[1:])
    bn.set_weights([BN[f"{key}_w{i}"] for i in range(4)])
    np.testing.assert_allclose(out(bn, x, training=False), BN[f"{key}_infer"],
                               rtol=RTOL, atol=ATOL)
    # inference leaves the moving statistics alone
    np.testing.assert_array_equal(bn.get_weights()[2], BN[f"{key}_w2"])
    np.testing.assert_allclose(out(bn, x, training=True), BN[f"{key}_train"],
                               rtol=RTOL, atol=ATOL)
    mm, mv = bn.get_weights()[2:]
    np.testing.assert_allclose(mm, BN[f"{key}_moving_mean_after"], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(mv, BN[f"{key}_moving_variance_after"], rtol=RTOL, atol=ATOL)


# ----------------------------------------------------------------- Dense
def test_dense_values_and_shape(rng):
    x = rng.normal(size=(5, 4)).astype("float32")
    layer = layers.Dense(3, activation="tanh")
    y = out(layer, x)
    kernel, bias = layer.get_weights()
    assert kernel.shape == (4, 3) and bias.shape == (3,)
    assert y.shape == (5, 3)
    np.testing.assert_allclose(y, np.tanh(x @ kernel + bias), rtol=RTOL, atol=ATOL)


def test_dense_on_rank3_input_applies_to_last_axis(rng):
    x = rng.normal(size=(2, 3, 4)).astype("float32")
    layer = layers.Dense(5, activation="relu")
    y = out(layer, x)
    kernel, bias = layer.get_weights()
    assert y.shape == (2, 3, 5)
    np.testing.assert_allclose(y, np.maximum(x @ kernel + bias, 0), rtol=RTOL, atol=ATOL)


def test_dense_without_bias(rng):
    layer = layers.Dense(2, use_bias=False)
    x = rng.normal(size=(3, 4)).astype("float32")
    y = out(layer, x)
    assert len(layer.get_weights()) == 1
    np.testing.assert_allclose(y, x @ layer.get_weights()[0], rtol=RTOL, atol=ATOL)


def test_dense_rejects_input_of_the_wrong_width(rng):
    layer = layers.Dense(2)
    out(layer, rng.normal(size=(3, 4)))
    with pytest.raises(ValueError, match="incompatible"):
        out(layer, rng.normal(size=(3, 5)))


# ----------------------------------------------------------------- Conv2D
@pytest.mark.parametrize("kwargs,in_shape", [
    ({}, (9, 8, 3)),
    ({"strides": 2}, (9, 8, 3)),
    ({"strides": 2, "padding": "same"}, (9, 8, 3)),
    ({"padding": "same"}, (6, 7, 2)),
    ({"dilation_rate": 2}, (9, 8, 3)),
    ({"dilation_rate": (2, 1), "padding": "same"}, (7, 6, 2)),
    ({"kernel_size": (4, 2), "strides": (3, 2), "padding": "same"}, (10, 7, 2)),
])
def test_conv2d_matches_reference(rng, kwargs, in_shape):
    kwargs = {"kernel_size": 3, **kwargs}
    x = rng.normal(size=(2,) + in_shape).astype("float32")
    layer = layers.Conv2D(4, **kwargs)
    y = out(layer, x)
    kernel, bias = layer.get_weights()
    ks = layers.base.conv_tuple(kwargs["kernel_size"], 2, "k")
    assert kernel.shape == ks + (in_shape[-1], 4) and bias.shape == (4,)
    ref = ref_conv2d(x, kernel, bias, layers.base.conv_tuple(kwargs.get("strides", 1), 2, "s"),
                     kwargs.get("padding", "valid"),
                     layers.base.conv_tuple(kwargs.get("dilation_rate", 1), 2, "d"))
    assert y.shape == ref.shape
    assert layer.compute_output_shape((None,) + in_shape) == (None,) + ref.shape[1:]
    np.testing.assert_allclose(y, ref, rtol=RTOL, atol=ATOL)


def test_conv2d_relu_activation(rng):
    x = rng.normal(size=(2, 6, 6, 2)).astype("float32")
    layer = layers.Conv2D(3, 3, activation="relu")
    y = out(layer, x)
    ref = ref_conv2d(x, *layer.get_weights())
    np.testing.assert_allclose(y, np.maximum(ref, 0), rtol=RTOL, atol=ATOL)
    assert (y >= 0).all() and (y == 0).any()


def test_conv2d_rejects_non_image_input(rng):
    with pytest.raises(ValueError, match="ndim=4"):
        out(layers.Conv2D(2, 3), rng.normal(size=(2, 8, 8)))


def test_conv2d_kernel_larger_than_input_is_a_value_error():
    layer = layers.Conv2D(2, 5)
    with pytest.raises(ValueError, match="Received"):
        layer.compute_output_shape((None, 4, 4, 1))


# ----------------------------------------------------------------- pooling
@pytest.mark.parametrize("cls,op", [(layers.MaxPooling2D, "max"),
                                    (layers.AveragePooling2D, "avg")])
@pytest.mark.parametrize("kwargs", [{}, {"pool_size": 3, "strides": 2},
                                    {"pool_size": 3, "strides": 2, "padding": "same"},
                                    {"pool_size": 2, "padding": "same"},
                                    {"pool_size": (2, 3), "strides": (1, 2)}])
def test_pooling_matches_reference(rng, cls, op, kwargs):
    x = rng.normal(size=(2, 7, 8, 3)).astype("float32")
    layer = cls(**kwargs)
    pool = layers.base.conv_tuple(kwargs.get("pool_size", 2), 2, "pool_size")
    strides = layers.base.conv_tuple(kwargs.get("strides") or pool, 2, "strides")
    ref = ref_pool(x, pool, strides, kwargs.get("padding", "valid"), op)
    y = out(layer, x)
    assert y.shape == ref.shape
    assert layer.compute_output_shape((None, 7, 8, 3)) == (None,) + ref.shape[1:]
    np.testing.assert_allclose(y, ref, rtol=RTOL, atol=ATOL)


def test_pooling_strides_default_to_pool_size():
    assert layers.MaxPooling2D((2, 2)).strides == (2, 2)
    assert layers.AveragePooling2D(3, strides=1).strides == (1, 1)
    assert layers.MaxPooling2D((2, 2)).compute_output_shape((None, 26, 26, 32)) == \
        (None, 13, 13, 32)
    assert layers.MaxPooling2D((2, 2)).compute_output_shape((None, 11, 11, 64)) == \
        (None, 5, 5, 64)


@pytest.mark.parametrize("keepdims", [False, True])
def test_global_average_pooling(rng, keepdims):
    x = rng.normal(size=(2, 5, 4, 3)).astype("float32")
    layer = layers.GlobalAveragePooling2D(keepdims=keepdims)
    y = out(layer, x)
    np.testing.assert_allclose(y, x.mean(axis=(1, 2), keepdims=keepdims), rtol=RTOL, atol=ATOL)
    assert layer.compute_output_shape((None, 5, 4, 3)) == \
        ((None, 1, 1, 3) if keepdims else (None, 3))


# ----------------------------------------------------------------- Flatten / Reshape
def test_flatten_keeps_row_major_order(rng):
    x = rng.normal(size=(2, 3, 4, 5)).astype("float32")
    layer = layers.Flatten()
    np.testing.assert_array_equal(out(layer, x), x.reshape(2, -1))
    assert layer.compute_output_shape((None, 3, 4, 5)) == (None, 60)
    assert layer.compute_output_shape((None, None, 4)) == (None, None)


@pytest.mark.parametrize("target,expected", [((6, 4), (6, 4)), ((-1, 4), (6, 4)),
                                             ((2, -1, 3), (2, 4, 3)), ((-1,), (24,))])
def test_reshape_with_and_without_minus_one(rng, target, expected):
    x = rng.normal(size=(2, 3, 4, 2)).astype("float32")
    layer = layers.Reshape(target)
    assert layer.compute_output_shape((None, 3, 4, 2)) == (None,) + expected
    np.testing.assert_array_equal(out(layer, x), x.reshape((2,) + expected))


def test_reshape_errors():
    with pytest.raises(ValueError, match="Received"):
        layers.Reshape((-1, -1))
    with pytest.raises(ValueError, match="Received"):
        layers.Reshape((5, 5)).compute_output_shape((None, 3, 4))
    with pytest.raises(ValueError, match="Received"):
        layers.Reshape((-1, 5)).compute_output_shape((None, 3, 4))


# ----------------------------------------------------------------- Dropout
def test_dropout_is_identity_at_inference(rng):
    x = rng.normal(size=(10, 20)).astype("float32")
    layer = layers.Dropout(0.5)
    np.testing.assert_array_equal(out(layer, x), x)
    np.testing.assert_array_equal(out(layer, x, training=False), x)


def test_dropout_training_zeroes_a_fraction_and_scales_the_rest():
    x = np.full((200, 100), 3.0, dtype="float32")
    rate = 0.3
    y = out(layers.Dropout(rate, seed=1), x, training=True)
    dropped = y == 0
    assert abs(dropped.mean() - rate) < 0.02
    np.testing.assert_allclose(y[~dropped], 3.0 / (1 - rate), rtol=1e-6)
    assert abs(y.mean() - 3.0) < 0.1        # expectation preserved


def test_dropout_rate_zero_and_seeded_reproducibility(rng):
    x = rng.normal(size=(8, 8)).astype("float32")
    np.testing.assert_array_equal(out(layers.Dropout(0.0), x, training=True), x)
    a = out(layers.Dropout(0.5, seed=42), x, training=True)
    b = out(layers.Dropout(0.5, seed=42), x, training=True)
    np.testing.assert_array_equal(a, b)


def test_dropout_gradient_is_masked_and_scaled():
    x = tl.tensor(np.ones((50, 40), dtype="float32"), requires_grad=True)
    y = layers.Dropout(0.25, seed=3)(x, training=True)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), y.numpy(), rtol=1e-6)


@pytest.mark.parametrize("rate", [-0.1, 1.5, "half", None])
def test_dropout_rate_validation(rate):
    with pytest.raises(ValueError, match="Received"):
        layers.Dropout(rate)


# ----------------------------------------------------------------- BatchNormalization
def test_batchnorm_defaults_and_initial_weights():
    bn = layers.BatchNormalization()
    assert bn.momentum == 0.99 and bn.epsilon == 1e-3
    bn.build_for((None, 4))
    gamma, beta, mm, mv = bn.get_weights()
    np.testing.assert_array_equal(gamma, np.ones(4))
    np.testing.assert_array_equal(beta, np.zeros(4))
    np.testing.assert_array_equal(mm, np.zeros(4))
    np.testing.assert_array_equal(mv, np.ones(4))


def test_batchnorm_training_normalises_with_batch_stats_and_updates_moving_stats(rng):
    x = (rng.normal(size=(32, 3)) * [1.0, 2.0, 0.5] + [5.0, -1.0, 0.0]).astype("float32")
    bn = layers.BatchNormalization()
    y = out(bn, x, training=True)
    mean, var = x.mean(axis=0), x.var(axis=0)         # biased variance, as Keras
    np.testing.assert_allclose(y, (x - mean) / np.sqrt(var + 1e-3), rtol=RTOL, atol=1e-4)
    mm, mv = bn.get_weights()[2:]
    np.testing.assert_allclose(mm, 0.01 * mean, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(mv, 0.99 + 0.01 * var, rtol=RTOL, atol=ATOL)
    out(bn, x, training=True)
    mm2 = bn.get_weights()[2]
    np.testing.assert_allclose(mm2, 0.99 * 0.01 * mean + 0.01 * mean, rtol=RTOL, atol=ATOL)


def test_batchnorm_inference_uses_moving_stats(rng):
    x = rng.normal(size=(6, 2, 2, 3)).astype("float32")
    bn = layers.BatchNormalization(epsilon=0.01)
    bn.build_for((None, 2, 2, 3))
    gamma, beta = np.array([1.0, 2.0, 0.5]), np.array([0.1, 0.0, -0.3])
    mm, mv = np.array([0.5, -1.0, 0.0]), np.array([4.0, 1.0, 0.25])
    bn.set_weights([gamma, beta, mm, mv])
    y = out(bn, x)
    np.testing.assert_allclose(y, (x - mm) / np.sqrt(mv + 0.01) * gamma + beta,
                               rtol=RTOL, atol=ATOL)
    np.testing.assert_array_equal(bn.get_weights()[2], mm.astype("float32"))


def test_batchnorm_custom_momentum(rng):
    x = rng.normal(size=(16, 2)).astype("float32") + 3
    bn = layers.BatchNormalization(momentum=0.5)
    out(bn, x, training=True)
    np.testing.assert_allclose(bn.get_weights()[2], 0.5 * x.mean(axis=0), rtol=RTOL)


# ----------------------------------------------------------------- Activation
ACTIVATIONS = {
    "relu": lambda z: np.maximum(z, 0),
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
    "tanh": np.tanh,
    "softmax": softmax,
    "linear": lambda z: z,
}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_layer_by_name(rng, name):
    x = (rng.normal(size=(4, 6)) * 3).astype("float32")
    y = out(layers.Activation(name), x)
    np.testing.assert_allclose(y, ACTIVATIONS[name](x.astype(np.float64)), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_dense_activation_by_name(rng, name):
    x = rng.normal(size=(4, 5)).astype("float32")
    layer = layers.Dense(3, activation=name)
    y = out(layer, x)
    kernel, bias = layer.get_weights()
    np.testing.assert_allclose(y, ACTIVATIONS[name](x.astype(np.float64) @ kernel + bias),
                               rtol=RTOL, atol=ATOL)


def test_softmax_rows_sum_to_one_even_for_large_logits():
    x = np.array([[1000.0, 1001.0, 1002.0], [-1000.0, 0.0, 1000.0]], dtype="float32")
    y = out(layers.Activation("softmax"), x)
    assert np.isfinite(y).all()
    np.testing.assert_allclose(y.sum(axis=-1), 1.0, rtol=1e-6)


# ----------------------------------------------------------------- initializers
def test_dense_kernel_is_glorot_uniform_with_keras_fans_and_zero_bias():
    tl.manual_seed(0)
    layer = layers.Dense(300)
    layer.build_for((None, 200))
    kernel, bias = layer.get_weights()
    limit = math.sqrt(6 / (200 + 300))
    assert np.abs(kernel).max() <= limit
    assert np.abs(kernel).max() > 0.99 * limit
    assert abs(kernel.std() - limit / math.sqrt(3)) < 0.02 * limit
    assert abs(kernel.mean()) < 0.01 * limit
    np.testing.assert_array_equal(bias, 0)
    assert kernel.dtype == np.float32 and bias.dtype == np.float32


def test_conv_kernel_glorot_uniform_uses_receptive_field_fans():
    tl.manual_seed(1)
    layer = layers.Conv2D(32, (5, 3))
    layer.build_for((None, 20, 20, 16))
    kernel, bias = layer.get_weights()
    fan_in, fan_out = 5 * 3 * 16, 5 * 3 * 32
    limit = math.sqrt(6 / (fan_in + fan_out))
    assert np.abs(kernel).max() <= limit
    assert np.abs(kernel).max() > 0.99 * limit
    assert abs(kernel.std() - limit / math.sqrt(3)) < 0.03 * limit
    np.testing.assert_array_equal(bias, 0)


def test_initialisation_is_reproducible_with_manual_seed():
    tl.manual_seed(123)
    a = layers.Dense(4, input_shape=(3,))
    models.Sequential([a])
    tl.manual_seed(123)
    b = layers.Dense(4, input_shape=(3,))
    models.Sequential([b])
    np.testing.assert_array_equal(a.get_weights()[0], b.get_weights()[0])


def test_named_initializers_are_used():
    layer = layers.Dense(3, kernel_initializer="ones", bias_initializer="ones")
    layer.build_for((None, 2))
    np.testing.assert_array_equal(layer.get_weights()[0], np.ones((2, 3)))
    np.testing.assert_array_equal(layer.get_weights()[1], np.ones(3))


# ----------------------------------------------------------------- get/set weights
@pytest.mark.parametrize("make,in_shape", [
    (lambda: layers.Dense(3), (None, 4)),
    (lambda: layers.Conv2D(2, 3), (None, 5, 5, 3)),
    (lambda: layers.BatchNormalization(), (None, 3)),
])
def test_set_weights_round_trip_and_copies(rng, make, in_shape):
    layer = make()
    layer.build_for(in_shape)
    new = [rng.normal(size=w.shape).astype("float32") for w in layer.get_weights()]
    layer.set_weights(new)
    for a, b in zip(layer.get_weights(), new):
        np.testing.assert_array_equal(a, b)
    got = layer.get_weights()
    got[0][...] = 99.0                      # get_weights returns copies
    assert not (layer.get_weights()[0] == 99.0).any()
    new[0][...] = -7.0                      # set_weights copies too
    assert not (layer.get_weights()[0] == -7.0).any()


def test_set_weights_wrong_count_is_a_value_error_and_changes_nothing():
    layer = layers.Dense(3)
    layer.build_for((None, 4))
    before = layer.get_weights()
    with pytest.raises(ValueError, match="Received"):
        layer.set_weights([np.zeros((4, 3))])
    with pytest.raises(ValueError, match="Received"):
        layer.set_weights([np.zeros((4, 3)), np.zeros(3), np.zeros(3)])
    for a, b in zip(layer.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def test_set_weights_wrong_shape_is_a_value_error_and_changes_nothing():
    layer = layers.Dense(3)
    layer.build_for((None, 4))
    before = layer.get_weights()
    with pytest.raises(ValueError, match=r"Received.*\(2,\)"):
        layer.set_weights([np.ones((4, 3)), np.ones(2)])   # first one fits, second not
    for a, b in zip(layer.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def test_layers_without_weights():
    for layer in (layers.Flatten(), layers.MaxPooling2D(), layers.Dropout(0.5),
                  layers.Activation("relu"), layers.GlobalAveragePooling2D()):
        layer.build_for((None, 4, 4, 2))
        assert layer.get_weights() == [] and layer.count_params() == 0
        layer.set_weights([])
        with pytest.raises(ValueError, match="Received"):
            layer.set_weights([np.zeros(1)])


# ----------------------------------------------------------------- input_shape and names
def test_input_shape_builds_silently_at_once(capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = models.Sequential()
        layer = layers.Conv2D(32, (3, 3), activation="relu", input_shape=(28, 28, 1))
        model.add(layer)
        assert layer.built and model.built
        assert [w.shape for w in layer.get_weights()] == [(3, 3, 1, 32), (32,)]
        assert layer.output_shape == (None, 26, 26, 32)
        dense = layers.Dense(10, input_dim=7)
        models.Sequential([dense])
        assert dense.built and dense.get_weights()[0].shape == (7, 10)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_layer_without_input_shape_is_unbuilt_until_used(rng):
    layer = layers.Dense(3)
    assert not layer.built and layer.get_weights() == []
    out(layer, rng.normal(size=(2, 5)))
    assert layer.built and layer.get_weights()[0].shape == (5, 3)


def test_auto_names_are_keras_style_counters():
    names = [layers.Dense(1).name, layers.Dense(1).name, layers.Conv2D(1, 1).name,
             layers.MaxPooling2D().name, layers.BatchNormalization().name,
             layers.GlobalAveragePooling2D().name, layers.Dense(1, name="out").name]
    assert names == ["dense", "dense_1", "conv2d", "max_pooling2d", "batch_normalization",
                     "global_average_pooling2d", "out"]


# ----------------------------------------------------------------- bad arguments
@pytest.mark.parametrize("make", [
    lambda: layers.Conv2D(0, 3),
    lambda: layers.Conv2D(-2, 3),
    lambda: layers.Conv2D(2.5, 3),
    lambda: layers.Conv2D(2, (0, 3)),
    lambda: layers.Conv2D(2, (3, 3, 3)),
    lambda: layers.Conv2D(2, "3"),
    lambda: layers.Conv2D(2, 3, strides=0),
    lambda: layers.Conv2D(2, 3, dilation_rate=(1, 0)),
    lambda: layers.Conv2D(2, 3, padding="foo"),
    lambda: layers.Conv2D(2, 3, data_format="channels_first"),
    lambda: layers.MaxPooling2D(padding="foo"),
    lambda: layers.AveragePooling2D(pool_size=0),
    lambda: layers.MaxPooling2D(2, strides=(2, 0)),
    lambda: layers.Dense(0),
    lambda: layers.Dense(None),
    lambda: layers.Dense(True),
    lambda: layers.Dropout(2),
], ids=["filters0", "filters-2", "filters2.5", "kernel(0,3)", "kernel3d", "kernel_str",
        "strides0", "dilation0", "padding_foo", "channels_first", "pool_padding_foo",
        "pool_size0", "pool_strides0", "units0", "unitsNone", "unitsTrue", "dropout2"])
def test_bad_layer_arguments_raise_value_error_with_received(make):
    with pytest.raises(ValueError, match="Received"):
        make()


@pytest.mark.parametrize("make", [lambda: layers.Dense(3, activation="nope"),
                                  lambda: layers.Conv2D(3, 3, activation="nope"),
                                  lambda: layers.Activation("nope")])
def test_unknown_activation_is_a_value_error_naming_it(make):
    # Keras 3.15: "Could not interpret activation function identifier: nope"
    with pytest.raises(ValueError, match="Could not interpret activation.*nope"):
        make()


def test_unknown_keyword_argument_is_rejected():
    with pytest.raises(TypeError, match="Unrecognized keyword arguments"):
        layers.Dense(3, unitz=4)


# ----------------------------------------------------------------- gradients (float64)


def with_weights(layer, names, training=False):
    """fn(x, *weights) that runs ``layer`` with the given tensors as its weights."""
    def fn(x, *weights):
        for name, w in zip(names, weights):
            setattr(layer, name, w)
        return layer.call(x, training=training)
    return fn


@pytest.mark.parametrize("kwargs", [
    {"kernel_size": 3},
    {"kernel_size": 3, "strides": 2, "padding": "same"},
    {"kernel_size": (2, 3), "dilation_rate": 2, "padding": "same", "activation": "relu"},
    {"kernel_size": 2, "strides": (2, 1), "activation": "tanh"},
])
def test_conv2d_gradients(rng, kwargs):
    layer = layers.Conv2D(3, dtype="float64", **kwargs)
    layer.build_for((None, 5, 6, 2))
    kernel, bias = layer.get_weights()
    x = rng.normal(size=(2, 5, 6, 2))
    check_gradients(with_weights(layer, ["kernel", "bias"]), [x, kernel, bias + 0.1])


@pytest.mark.parametrize("cls", [layers.MaxPooling2D, layers.AveragePooling2D])
@pytest.mark.parametrize("kwargs", [{}, {"pool_size": 3, "strides": 2, "padding": "same"},
                                    {"pool_size": (2, 3), "strides": 1}])
def test_pooling_gradients(rng, cls, kwargs):
    layer = cls(dtype="float64", **kwargs)
    x = rng.permutation(2 * 5 * 6 * 2).reshape(2, 5, 6, 2) / 7.0   # no ties for max
    check_gradients(lambda t: layer(t), [x])


def test_dense_gradients(rng):
    layer = layers.Dense(3, activation="sigmoid", dtype="float64")
    layer.build_for((None, 4))
    kernel, bias = layer.get_weights()
    check_gradients(with_weights(layer, ["kernel", "bias"]),
                    [rng.normal(size=(5, 4)), kernel, bias])


@pytest.mark.parametrize("shape", [(6, 3), (3, 2, 2, 3)])
def test_batchnorm_training_gradients(rng, shape):
    layer = layers.BatchNormalization(dtype="float64")
    layer.build_for((None,) + shape[1:])
    gamma = rng.uniform(0.5, 1.5, shape[-1])
    beta = rng.normal(size=shape[-1])
    check_gradients(with_weights(layer, ["gamma", "beta"], training=True),
                    [rng.normal(size=shape), gamma, beta])


def test_global_average_pooling_and_flatten_gradients(rng):
    gap, flat = layers.GlobalAveragePooling2D(dtype="float64"), layers.Flatten(dtype="float64")
    check_gradients(lambda t: gap(t), [rng.normal(size=(2, 3, 4, 2))])
    check_gradients(lambda t: flat(t), [rng.normal(size=(2, 3, 4, 2))])
