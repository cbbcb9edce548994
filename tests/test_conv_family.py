"""The convolution family beyond Conv2D: Conv1D, MaxPooling1D, AveragePooling1D,
GlobalAveragePooling1D, GlobalMaxPooling1D, Conv2DTranspose, DepthwiseConv2D and
SeparableConv2D.

Oracles: real Keras 3 (tests/data/conv_family.{json,npz} and the two ``.keras`` files
under tests/data/keras_files/, written by tests/make_conv_family_fixtures.py) for values,
output shapes, weight names/shapes/order, configs and a training step; central finite
differences in float64 (tests/gradcheck.py) for every gradient; the adjoint identity of
conv2d and its transpose, and a naive float64 loop for the depthwise conv.
"""
import json
import os

import numpy as np
import pytest

import tensorlib as tl
from gradcheck import check_gradients
from tensorlib import conv_ops, layers, models, optimizers
from tensorlib.functional import conv2d
from tensorlib.models import keras_config

DATA = os.path.join(os.path.dirname(__file__), "data")
with open(os.path.join(DATA, "conv_family.json")) as _f:
    FIXTURES = json.load(_f)
CASES, CONFIGS = FIXTURES["cases"], FIXTURES["configs"]
VALUES = np.load(os.path.join(DATA, "conv_family.npz"))["values"]
FILES = os.path.join(DATA, "keras_files")


def case_arrays(case):
    """``(x, weights, y)`` of a fixture case, cut from the flat ``values``."""
    shapes = [case["input_shape"], *case["weight_shapes"], case["output_shape"]]
    out, at = [], case["offset"]
    for shape in shapes:
        size = int(np.prod(shape))
        out.append(VALUES[at:at + size].reshape(shape))
        at += size
    return out[0], out[1:-1], out[-1]


def make_layer(case):
    return getattr(layers, case["class"])(**case["kwargs"])


@pytest.fixture(params=["native", "numpy"])
def backend(request):
    tl.set_backend(request.param)
    yield request.param
    tl.set_backend("native")


# ----------------------------------------------------------------- against Keras
@pytest.mark.parametrize("name", sorted(CASES))
def test_forward_matches_keras(name, backend):
    case = CASES[name]
    x, weights, want = case_arrays(case)
    layer = make_layer(case)
    assert layer.compute_output_shape((None,) + x.shape[1:]) == \
        (None,) + tuple(case["output_shape"][1:])
    layer.build_for((None,) + x.shape[1:])
    layer.set_weights(weights)
    got = layer(x).numpy()
    assert got.shape == tuple(case["output_shape"]) and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=2e-6)


@pytest.mark.parametrize("name", sorted(CASES))
def test_weight_names_shapes_and_order_match_keras(name):
    case = CASES[name]
    layer = make_layer(case)
    layer.build_for((None,) + tuple(case["input_shape"][1:]))
    assert [w.name.split("/")[-1] for w in layer.weights] == case["weight_names"]
    assert [list(w.shape) for w in layer.get_weights()] == case["weight_shapes"]
    assert len(layer.trainable_weights) == len(case["weight_shapes"])


_INIT_NAMES = {"GlorotUniform": "glorot_uniform", "Zeros": "zeros"}


@pytest.mark.parametrize("cls", sorted(CONFIGS))
def test_keras_record_has_keras_keys_and_values(cls):
    """The record tensorlib writes for the layer (``layer_to_keras``) has the keys of
    Keras's ``get_config()`` and the same values (initializers by name)."""
    theirs = CONFIGS[cls]["config"]
    layer = getattr(layers, cls)(**CONFIGS[cls]["kwargs"])
    ours = keras_config.layer_to_keras(layer, (None, 8, 3) if "1D" in cls
                                       else (None, 8, 8, 3))["config"]
    assert set(ours) | {"name"} == set(theirs) | {"name"}
    for key, value in theirs.items():
        if key.endswith("initializer"):
            assert ours[key] == _INIT_NAMES[value["class_name"]], key
        elif key != "dtype":
            assert ours[key] == value, key
    own = layer.get_config()            # the layer's own config rebuilds it
    again = type(layer)(**own)
    assert again.get_config() == own


# ----------------------------------------------------------------- .keras files
def _expected():
    return dict(np.load(os.path.join(FILES, "conv_family_expected.npz")))


@pytest.mark.parametrize("tag, classes", [
    ("1d", ["Conv1D", "MaxPooling1D", "Conv1D", "AveragePooling1D", "GlobalMaxPooling1D",
            "GlobalAveragePooling1D", "Dense"]),
    ("2d", ["Conv2DTranspose", "DepthwiseConv2D", "SeparableConv2D", "Conv2DTranspose",
            "GlobalAveragePooling2D", "Dense"])])
def test_keras_file_loads_predicts_and_trains_as_keras(tag, classes, tmp_path):
    pytest.importorskip("h5py")
    exp = _expected()
    model = models.load_model(os.path.join(FILES, f"conv_family_{tag}.keras"))
    assert [type(la).__name__ for la in model.layers] == classes
    x, y = exp[f"{tag}_x"], exp[f"{tag}_y"]
    np.testing.assert_allclose(model.predict(x, verbose=0), exp[f"{tag}_pred"],
                               rtol=1e-5, atol=1e-6)
    # tensorlib writes it back, and reads its own file to the same predictions
    path = str(tmp_path / "again.keras")
    model.save(path)
    again = models.load_model(path)
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))
    # one more step with the loaded Adam state: same loss and weights as Keras
    result = model.train_on_batch(x, y)
    np.testing.assert_allclose(np.atleast_1d(result)[0], exp[f"{tag}_next_loss"][0],
                               rtol=1e-5)
    for i, w in enumerate(model.get_weights()):
        np.testing.assert_allclose(w, exp[f"{tag}_next_w{i}"], rtol=1e-4, atol=1e-6)


def test_written_records_have_the_keys_keras_writes(tmp_path):
    pytest.importorskip("h5py")
    import zipfile
    for tag in ("1d", "2d"):
        src = os.path.join(FILES, f"conv_family_{tag}.keras")
        path = str(tmp_path / f"{tag}.keras")
        models.load_model(src).save(path)

        def layer_keys(p):
            with zipfile.ZipFile(p) as z:
                record = json.loads(z.read("config.json"))
            return [(e["class_name"], sorted(e["config"]), "build_config" in e)
                    for e in record["config"]["layers"]]
        assert layer_keys(path) == layer_keys(src)


def test_keras_conv1d_file_loads_and_computes_the_definition():
    """tests/data/keras_files/conv1d.keras (Keras's Conv1D(2, 2) on (5, 2)): its weights
    give y[t] = b + sum_i x[t + i] @ W[i], computed here in float64."""
    pytest.importorskip("h5py")
    model = models.load_model(os.path.join(FILES, "conv1d.keras"))
    (layer,) = model.layers
    assert type(layer).__name__ == "Conv1D" and layer.name == "conv1d"
    w, b = (a.astype(np.float64) for a in layer.get_weights())
    assert w.shape == (2, 2, 2) and b.shape == (2,)
    x = np.random.default_rng(9).normal(size=(3, 5, 2)).astype(np.float32)
    want = b + sum(x[:, i:i + 4].astype(np.float64) @ w[i] for i in range(2))
    np.testing.assert_allclose(model.predict(x, verbose=0), want, rtol=1e-5, atol=1e-6)


def test_functional_model_with_unknown_steps_round_trips(tmp_path):
    pytest.importorskip("h5py")
    inp = tl.Input((None, 3))
    x = layers.Conv1D(4, 3, padding="causal", activation="relu")(inp)
    x = layers.MaxPool1D(2)(x)
    x = layers.GlobalMaxPool1D()(x)
    model = tl.Model(inp, layers.Dense(2)(x))
    path = str(tmp_path / "fn.keras")
    model.save(path)
    loaded = models.load_model(path)
    data = np.random.default_rng(10).normal(size=(2, 9, 3)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict(data, verbose=0),
                                  model.predict(data, verbose=0))


# ----------------------------------------------------------------- gradients (float64)
def _rand(rng, *shape):
    return rng.normal(size=shape)


@pytest.mark.parametrize("kwargs, steps, k", [
    (dict(), 7, 3),
    (dict(strides=2, padding="same"), 8, 3),
    (dict(padding="causal", dilation_rate=2), 6, 2),
    (dict(padding="causal", strides=2), 5, 3),
])
def test_conv1d_gradients(kwargs, steps, k, backend):
    rng = np.random.default_rng(1)
    check_gradients(lambda x, w, b: conv_ops.conv1d(x, w, b, **kwargs),
                    [_rand(rng, 2, steps, 2), _rand(rng, k, 2, 3), _rand(rng, 3)])


@pytest.mark.parametrize("fn, kwargs", [
    (conv_ops.max_pool1d, dict(pool_size=2)),
    (conv_ops.max_pool1d, dict(pool_size=3, strides=2, padding="same")),
    (conv_ops.avg_pool1d, dict(pool_size=3, strides=1)),
    (conv_ops.avg_pool1d, dict(pool_size=3, strides=2, padding="same")),
])
def test_pool1d_gradients(fn, kwargs, backend):
    rng = np.random.default_rng(2)
    x = rng.permutation(2 * 7 * 3).reshape(2, 7, 3) / 10.0     # distinct: no max ties
    check_gradients(lambda t: fn(t, **kwargs), [x])


@pytest.mark.parametrize("kwargs, hw, k", [
    (dict(), (3, 4), (3, 3)),
    (dict(strides=2, padding="same"), (3, 3), (3, 3)),
    (dict(strides=2, output_padding=1), (2, 3), (3, 2)),
    (dict(strides=(2, 3), padding="same", output_padding=(1, 2)), (2, 2), (2, 3)),
    (dict(dilation_rate=2, padding="same"), (4, 3), (3, 3)),
    (dict(strides=3), (2, 2), (1, 2)),
])
def test_conv2d_transpose_gradients(kwargs, hw, k, backend):
    rng = np.random.default_rng(3)
    check_gradients(lambda x, w, b: conv_ops.conv2d_transpose(x, w, b, **kwargs),
                    [_rand(rng, 2, *hw, 3), _rand(rng, *k, 2, 3), _rand(rng, 2)])


@pytest.mark.parametrize("kwargs, m", [
    (dict(), 1),
    (dict(padding="same", strides=2), 2),
    (dict(padding="same", dilation_rate=(2, 1)), 2),
    (dict(strides=2, dilation_rate=2), 1),
])
def test_depthwise_conv2d_gradients(kwargs, m):
    rng = np.random.default_rng(4)
    check_gradients(lambda x, w, b: conv_ops.depthwise_conv2d(x, w, b, **kwargs),
                    [_rand(rng, 2, 6, 5, 2), _rand(rng, 3, 2, 2, m), _rand(rng, 2 * m)])


def test_separable_conv2d_layer_gradients():
    rng = np.random.default_rng(5)
    layer = layers.SeparableConv2D(3, 3, strides=2, padding="same", depth_multiplier=2,
                                   dtype="float64")
    layer.build_for((None, 5, 4, 2))
    dw, pw, b = (rng.normal(size=w.shape) for w in layer.get_weights())

    def fn(x, dwk, pwk, bias):
        layer.depthwise_kernel, layer.pointwise_kernel, layer.bias = dwk, pwk, bias
        return layer(x)
    check_gradients(fn, [_rand(rng, 2, 5, 4, 2), dw, pw, b])


# ----------------------------------------------------------------- independent references
def test_conv2d_transpose_is_the_adjoint_of_conv2d(backend):
    """<conv2d_transpose(y, w), x> == <y, conv2d(x, w)> when the transpose's output has
    the conv's input shape ("valid", default output padding, strides <= kernel)."""
    rng = np.random.default_rng(6)
    for strides, dilation, hw in (((1, 1), (1, 1), (6, 7)), ((2, 2), (1, 1), (7, 7)),
                                  ((1, 1), (2, 2), (7, 6)), ((3, 2), (1, 1), (9, 7))):
        x, w = rng.normal(size=(2, *hw, 3)), rng.normal(size=(3, 3, 3, 4))
        y = conv2d(x, w, None, strides, "valid", dilation).numpy()
        g = rng.normal(size=y.shape)
        xt = conv_ops.conv2d_transpose(g, w, None, strides, "valid", None,
                                       dilation).numpy()
        assert xt.shape == x.shape
        np.testing.assert_allclose(np.vdot(xt, x), np.vdot(g, y), rtol=1e-10)


def _naive_depthwise(x, w, strides, padding, dilation):
    n, h, wd, c = x.shape
    kh, kw, _, m = w.shape
    sh, sw = strides
    dh, dw = dilation
    eh, ew = (kh - 1) * dh + 1, (kw - 1) * dw + 1
    if padding == "valid":
        oh, ow, pt, pl = (h - eh) // sh + 1, (wd - ew) // sw + 1, 0, 0
    else:
        oh, ow = -(-h // sh), -(-wd // sw)
        pt = max((oh - 1) * sh + eh - h, 0) // 2
        pl = max((ow - 1) * sw + ew - wd, 0) // 2
    y = np.zeros((n, oh, ow, c * m))
    for p in range(oh):
        for q in range(ow):
            for i in range(kh):
                for j in range(kw):
                    r, s = p * sh + i * dh - pt, q * sw + j * dw - pl
                    if 0 <= r < h and 0 <= s < wd:
                        for ch in range(c):
                            y[:, p, q, ch * m:(ch + 1) * m] += \
                                x[:, r, s, ch, None] * w[i, j, ch]
    return y


@pytest.mark.parametrize("strides, padding, dilation, m", [
    ((1, 1), "valid", (1, 1), 1), ((2, 1), "same", (1, 1), 2),
    ((1, 1), "same", (2, 3), 3), ((3, 3), "same", (1, 1), 1)])
def test_depthwise_conv2d_matches_a_naive_loop(strides, padding, dilation, m):
    rng = np.random.default_rng(7)
    x, w = rng.normal(size=(2, 7, 8, 3)), rng.normal(size=(3, 2, 3, m))
    got = conv_ops.depthwise_conv2d(x, w, None, strides, padding, dilation).numpy()
    np.testing.assert_allclose(got, _naive_depthwise(x, w, strides, padding, dilation),
                               rtol=1e-12, atol=1e-12)


def test_avg_pool1d_same_uneven_padding_counts_real_elements(backend):
    """Keras's rule (TensorFlow, JAX): "same" pads ``total // 2`` before and the rest
    after, and each window averages only the elements inside the input. (Keras's torch
    backend replicates the edge values into uneven padding instead: not followed.)"""
    x = np.arange(20, dtype=np.float64).reshape(1, 10, 2) ** 1.5
    got = conv_ops.avg_pool1d(x, 4, 3, "same").numpy()
    # out = ceil(10 / 3) = 4; total padding (4 - 1) * 3 + 4 - 10 = 3: 1 before, 2 after
    windows = [(0, 3), (2, 6), (5, 9), (8, 10)]
    want = np.stack([x[0, a:b].mean(axis=0) for a, b in windows])[None]
    np.testing.assert_allclose(got, want, rtol=1e-12)


# ----------------------------------------------------------------- training
def test_sequential_conv1d_model_trains():
    tl.manual_seed(0)
    rng = np.random.default_rng(8)
    x = rng.normal(size=(64, 16, 2)).astype(np.float32)
    y = (x[:, :8, 0].mean(axis=1) > x[:, 8:, 1].mean(axis=1)).astype(np.int64)
    model = tl.Sequential([
        layers.Input((16, 2)),
        layers.Conv1D(8, 3, padding="causal", activation="relu"),
        layers.MaxPooling1D(2),
        layers.Conv1D(8, 3, padding="same", activation="relu"),
        layers.AveragePooling1D(2),
        layers.GlobalAveragePooling1D(),
        layers.Dense(2, activation="softmax")])
    model.compile(optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    first = model.evaluate(x, y, verbose=0)
    for _ in range(15):
        model.train_on_batch(x, y)
    last = model.evaluate(x, y, verbose=0)
    first, last = np.atleast_1d(first)[0], np.atleast_1d(last)[0]
    assert last < 0.8 * first


# ----------------------------------------------------------------- arguments
@pytest.mark.parametrize("make, exc, message", [
    (lambda: layers.Conv1D(0, 3), ValueError, "filters=0"),
    (lambda: layers.Conv1D(2, 3, padding="full"), ValueError, "padding='full'"),
    (lambda: layers.Conv1D(2, 0), ValueError, "kernel_size=0"),
    (lambda: layers.Conv1D(2, 3, strides=2, dilation_rate=2), ValueError,
     r"strides=\(2,\) and dilation_rate=\(2,\)"),
    (lambda: layers.Conv1D(2, 3, data_format="channels_first"), ValueError,
     "data_format='channels_first'"),
    (lambda: layers.MaxPooling1D(2, padding="causal"), ValueError, "padding='causal'"),
    (lambda: layers.AveragePooling1D(), TypeError, "pool_size"),
    (lambda: layers.GlobalAveragePooling1D(data_format="nwc"), ValueError,
     "data_format='nwc'"),
    (lambda: layers.Conv2DTranspose(2, 3, strides=2, output_padding=2), ValueError,
     r"output_padding=\(2, 2\), strides=\(2, 2\)"),
    (lambda: layers.Conv2DTranspose(2, 3, padding="causal"), ValueError,
     "padding='causal'"),
    (lambda: layers.Conv2DTranspose(2, 3, strides=2, dilation_rate=2), ValueError,
     "dilation_rate"),
    (lambda: layers.DepthwiseConv2D(3, depth_multiplier=0), ValueError,
     "depth_multiplier=0"),
    (lambda: layers.SeparableConv2D(-1, 3), ValueError, "filters=-1"),
    (lambda: layers.SeparableConv2D(2, (3, 3, 3)), ValueError, r"kernel_size=\(3, 3, 3\)"),
])
def test_bad_arguments_raise_keras_style_errors(make, exc, message):
    with pytest.raises(exc, match=message) as info:
        make()
    if exc is ValueError:
        assert "Received" in str(info.value)


@pytest.mark.parametrize("layer, shape, message", [
    (lambda: layers.Conv1D(2, 3), (2, 5, 5, 1), "expected ndim=3"),
    (lambda: layers.Conv1D(2, 6), (2, 5, 1), "does not fit"),
    (lambda: layers.MaxPooling1D(3), (1, 2, 1), "does not fit"),
    (lambda: layers.Conv2DTranspose(2, 3), (2, 5, 1), "expected ndim=4"),
    (lambda: layers.DepthwiseConv2D(5), (1, 3, 3, 1), "does not fit"),
    (lambda: layers.Conv2DTranspose(2, 2, padding="same", output_padding=0), (1, 1, 1, 1),
     "empty"),
])
def test_bad_inputs_raise_value_errors(layer, shape, message):
    with pytest.raises(ValueError, match=message):
        layer()(np.zeros(shape, np.float32))


def test_ops_check_their_arguments():
    x3, x4 = np.zeros((1, 5, 2)), np.zeros((1, 4, 4, 2))
    with pytest.raises(ValueError, match=r"conv1d: the input has 2 channels.*Received"):
        conv_ops.conv1d(x3, np.zeros((3, 3, 1)))
    with pytest.raises(ValueError, match=r"conv2d_transpose: bias must have shape.*Received"):
        conv_ops.conv2d_transpose(x4, np.zeros((3, 3, 4, 2)), np.zeros(2))
    with pytest.raises(ValueError, match=r"depthwise_conv2d: .*dtype.*Received"):
        conv_ops.depthwise_conv2d(x4, np.zeros((3, 3, 2, 1), np.float32))
    with pytest.raises(ValueError, match=r"depthwise_conv2d: the window.*Received"):
        conv_ops.depthwise_conv2d(x4, np.zeros((5, 5, 2, 1)))


def test_aliases_and_unknown_steps():
    assert layers.MaxPool1D is layers.MaxPooling1D
    assert layers.AvgPool1D is layers.AveragePooling1D
    assert layers.GlobalAvgPool1D is layers.GlobalAveragePooling1D
    assert layers.GlobalMaxPool1D is layers.GlobalMaxPooling1D
    assert layers.Conv1D(4, 3, strides=2).compute_output_shape((None, None, 2)) == \
        (None, None, 4)
    assert layers.Conv2DTranspose(4, 3).compute_output_shape((None, None, 5, 2)) == \
        (None, None, 7, 4)
