"""The simple Keras 3 layers (activation, reshaping, noise, LayerNormalization, Rescaling,
Normalization): outputs and configs against Keras-made fixtures (``tests/data/
simple_layers.json`` / ``.npz``, made by ``tests/make_simple_layer_fixtures.py``), gradients
by finite differences in float64, ``adapt`` against NumPy, and bad arguments.
Noise layers and ``.keras`` files: ``tests/test_layers_simple_io.py``."""
import json
import os

import numpy as np
import pytest

import tensorlib as tl
from gradcheck import check_gradients
from tensorlib import layers
from tensorlib.layers.activation_layers import PReLUOp

DATA = os.path.join(os.path.dirname(__file__), "data")
with open(os.path.join(DATA, "simple_layers.json")) as _f:
    RECORDS = json.load(_f)
ARRAYS = dict(np.load(os.path.join(DATA, "simple_layers.npz")))
LAYER_CASES = sorted(k for k, v in RECORDS.items()
                     if isinstance(v, dict) and not k.startswith("adapt_"))
ADAPT_CASES = sorted(k for k in RECORDS if k.startswith("adapt_"))


def plain(value):
    """A config value with Keras's initializer records reduced to their lowercase name."""
    if isinstance(value, dict) and value.get("module") == "keras.initializers":
        return value["class_name"].lower()
    if isinstance(value, str) and value in ("Zeros", "Ones"):
        return value.lower()
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def keras_layer(case, **extra):
    rec = RECORDS[case]
    return getattr(layers, rec["class"])(**rec["kwargs"], **extra)


@pytest.mark.parametrize("case", LAYER_CASES)
def test_forward_and_config_match_keras(case):
    rec = RECORDS[case]
    x, want = ARRAYS[f"{case}/x"], ARRAYS[f"{case}/y"]
    layer = keras_layer(case)
    layer.build_for((None,) + x.shape[1:])
    weights = [ARRAYS[f"{case}/w{i}"] for i in range(len(rec["weights"]))]
    assert [w.name.split("/")[-1] for w in layer.weights] == rec["weights"]
    layer.set_weights(weights)
    got = layer(x).numpy()
    assert got.shape == want.shape == layer.compute_output_shape(x.shape)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=2e-6)
    ours, theirs = layer.get_config(), rec["config"]
    assert set(ours) == set(theirs)
    for key in set(theirs) - {"name", "dtype"}:
        assert plain(ours[key]) == plain(theirs[key]), key


@pytest.mark.parametrize("case", ADAPT_CASES)
def test_adapt_matches_keras_weights_and_outputs(case):
    rec = RECORDS[case]
    layer = keras_layer(case)
    data = ARRAYS[f"{case}/data"]
    layer.adapt(data)
    assert [w.name.split("/")[-1] for w in layer.weights] == rec["weights"]
    assert [str(w.dtype) for w in layer.weights] == rec["dtypes"]
    assert not layer.trainable_weights
    for i, w in enumerate(layer.get_weights()):
        np.testing.assert_allclose(w, ARRAYS[f"{case}/w{i}"], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(layer(ARRAYS[f"{case}/x"]).numpy(), ARRAYS[f"{case}/y"],
                               rtol=1e-5, atol=1e-6)
    ours = layer.get_config()
    assert {k: v for k, v in ours.items() if k not in ("name", "dtype")} == \
        {k: v for k, v in rec["config"].items() if k not in ("name", "dtype")}


@pytest.mark.parametrize("axis, shape", [(-1, (37, 3)), ((1, 3), (23, 3, 4, 2)),
                                         (None, (19, 4)), ((-1, -2), (31, 3, 2))])
def test_adapt_batches_and_arrays_against_numpy(axis, shape):
    rng = np.random.default_rng(5)
    data = rng.normal(size=shape) * 2.5 + 4.0
    keep = () if axis is None else tuple(sorted(a % len(shape) for a in np.atleast_1d(axis)))
    reduce = tuple(d for d in range(len(shape)) if d not in keep)
    mean, var = data.mean(axis=reduce), data.var(axis=reduce)
    batches = [data[i:i + 8] for i in range(0, len(data), 8)]
    class Batches(tl.utils.PyDataset):
        def __len__(self):
            return len(batches)

        def __getitem__(self, i):
            return batches[i], np.zeros(len(batches[i]))
    for given in (data, tl.tensor(data), batches, iter(batches), Batches(),
                  [(b, b) for b in batches]):
        layer = layers.Normalization(axis=axis, dtype="float64")
        layer.adapt(given)
        got_mean, got_var, count = layer.get_weights()
        np.testing.assert_allclose(got_mean, mean, rtol=1e-12)
        np.testing.assert_allclose(got_var, var, rtol=1e-12)
        assert count == 0 and count.dtype == np.int32      # Keras 3.15 never updates it
        x = rng.normal(size=(3,) + shape[1:])
        m, v = data.mean(axis=reduce, keepdims=True)[0], data.var(axis=reduce, keepdims=True)[0]
        np.testing.assert_allclose(layer(x).numpy(), (x - m) / np.sqrt(v), rtol=1e-12)
        back = layers.Normalization(axis=axis, invert=True, dtype="float64")
        back.build_for((None,) + shape[1:])
        back.set_weights(layer.get_weights())
        np.testing.assert_allclose(back(layer(x)).numpy(), x, rtol=1e-12, atol=1e-14)


def test_adapt_keeps_float32_statistics_and_refuses_bad_data():
    layer = layers.Normalization()
    layer.adapt(np.arange(12, dtype=np.float32).reshape(6, 2))
    np.testing.assert_allclose(layer.get_weights()[0], [5.0, 6.0])
    np.testing.assert_allclose(layer.get_weights()[1], [35 / 3, 35 / 3], rtol=1e-6)
    with pytest.raises(ValueError, match="incompatible shape"):
        layer.adapt(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="no data"):
        layers.Normalization().adapt([])
    with pytest.raises(TypeError, match="adapt"):
        layers.Normalization().adapt(3.0)
    with pytest.raises(ValueError, match="cannot change"):
        layers.Normalization(mean=1.0, variance=1.0).adapt(np.zeros((3, 2)))


# ---------------------------------------------------------------- gradients (float64)
def _x(shape, seed=0, scale=1.5):
    return np.random.default_rng(seed).normal(size=shape) * scale


@pytest.mark.parametrize("make", [
    lambda: layers.ReLU(dtype="float64"),
    lambda: layers.ReLU(max_value=1.0, negative_slope=0.2, threshold=0.3, dtype="float64"),
    lambda: layers.ReLU(max_value=6.0, dtype="float64"),
    lambda: layers.LeakyReLU(dtype="float64"),
    lambda: layers.ELU(alpha=0.7, dtype="float64"),
    lambda: layers.Rescaling([0.5, -2.0, 3.0], offset=1.0, dtype="float64"),
    lambda: layers.Normalization(mean=[1.0, 0.0, 2.0], variance=[4.0, 1.0, 0.5],
                                 dtype="float64"),
    lambda: layers.Normalization(mean=1.0, variance=4.0, invert=True, axis=None,
                                 dtype="float64"),
], ids=["relu", "relu_all", "relu6", "leaky", "elu", "rescaling", "norm", "norm_invert"])
def test_elementwise_gradients(make):
    layer = make()
    check_gradients(lambda t: layer(t), [_x((4, 3))])


@pytest.mark.parametrize("make, shape", [
    (lambda: layers.ZeroPadding2D(((1, 0), (2, 3)), dtype="float64"), (2, 3, 2, 2)),
    (lambda: layers.ZeroPadding2D(1, data_format="channels_first", dtype="float64"),
     (1, 2, 3, 2)),
    (lambda: layers.Cropping2D(((1, 0), (0, 2)), dtype="float64"), (2, 3, 4, 2)),
    (lambda: layers.Cropping2D((1, 1), data_format="channels_first", dtype="float64"),
     (1, 2, 3, 4)),
    (lambda: layers.UpSampling2D((2, 3), dtype="float64"), (2, 2, 3, 2)),
    (lambda: layers.UpSampling2D((3, 2), interpolation="bilinear", dtype="float64"),
     (2, 3, 2, 2)),
    (lambda: layers.UpSampling2D(2, data_format="channels_first", interpolation="bilinear",
                                 dtype="float64"), (1, 2, 3, 3)),
    (lambda: layers.Permute((3, 1, 2), dtype="float64"), (2, 3, 4, 2)),
    (lambda: layers.RepeatVector(3, dtype="float64"), (2, 5)),
], ids=["pad", "pad_cf", "crop", "crop_cf", "up_nearest", "up_bilinear", "up_bilinear_cf",
        "permute", "repeat"])
def test_reshaping_gradients(make, shape):
    layer = make()
    check_gradients(lambda t: layer(t), [_x(shape)])


def test_prelu_gradients_of_input_and_alpha():
    check_gradients(lambda x, a: PReLUOp.apply(x, a), [_x((3, 2, 4)), _x((1, 4), 1)])
    layer = layers.PReLU(shared_axes=[1], dtype="float64")
    layer.build_for((None, 3, 4))
    layer.set_weights([_x((1, 4), 2)])
    check_gradients(lambda t: layer(t), [_x((2, 3, 4))])


@pytest.mark.parametrize("axis, shape", [(-1, (3, 5)), ([1, 2], (2, 3, 4)), (1, (2, 4, 3)),
                                         ([-1, 1], (2, 3, 2, 4))])
def test_layer_normalization_gradients_and_formula(axis, shape):
    layer = layers.LayerNormalization(axis=axis, dtype="float64")
    layer.build_for((None,) + shape[1:])
    gamma, beta = _x(layer.gamma.shape, 1), _x(layer.beta.shape, 2)

    def run(x, g, b):
        layer.gamma, layer.beta = g, b
        return layer(x)
    x = _x(shape)
    check_gradients(run, [x, gamma, beta])
    axes = tuple(a % len(shape) for a in np.atleast_1d(axis))
    bshape = [shape[d] if d in axes else 1 for d in range(len(shape))]
    order = np.argsort([a % len(shape) for a in sorted(np.atleast_1d(axis).tolist())])
    g, b = (np.transpose(w, order).reshape(bshape) for w in (gamma, beta))
    mean, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
    want = (x - mean) / np.sqrt(var + 1e-3) * g + b
    np.testing.assert_allclose(run(x, tl.tensor(gamma), tl.tensor(beta)).numpy(), want, rtol=1e-12)


# ---------------------------------------------------------------- bad arguments
def test_leaky_relu_takes_keras_2_alpha():
    with pytest.warns(UserWarning, match="negative_slope"):
        layer = layers.LeakyReLU(alpha=0.1)
    assert layer.negative_slope == 0.1
    np.testing.assert_allclose(layer(np.array([[-2.0, 3.0]])).numpy(), [[-0.2, 3.0]],
                               rtol=1e-6)


@pytest.mark.parametrize("make, error, match", [
    (lambda: layers.ReLU(max_value=-1.0), ValueError, "max_value=-1.0"),
    (lambda: layers.ReLU(negative_slope=None), ValueError, "negative_slope=None"),
    (lambda: layers.ReLU(threshold=-0.5), ValueError, "threshold=-0.5"),
    (lambda: layers.LeakyReLU(negative_slope=-0.1), ValueError, "negative_slope=-0.1"),
    (lambda: layers.ELU(alpha="big"), ValueError, "alpha='big'"),
    (lambda: layers.PReLU(shared_axes=[0]), ValueError, "shared_axes=\\[0\\]"),
    (lambda: layers.PReLU(alpha_initializer="nope"), ValueError, "nope"),
    (lambda: layers.PReLU(alpha_constraint="bogus"), ValueError, "bogus"),
    (lambda: layers.ZeroPadding2D((1, 2, 3)), ValueError, "padding=\\(1, 2, 3\\)"),
    (lambda: layers.ZeroPadding2D(-1), ValueError, "padding=-1"),
    (lambda: layers.Cropping2D(((1, -1), (0, 0))), ValueError, "cropping="),
    (lambda: layers.Cropping2D(data_format="nhwc"), ValueError, "data_format='nhwc'"),
    (lambda: layers.UpSampling2D(0), ValueError, "size=0"),
    (lambda: layers.UpSampling2D(interpolation="bicubic"), ValueError,
     "interpolation='bicubic'"),
    (lambda: layers.Permute((1, 3)), ValueError, "dims=\\(1, 3\\)"),
    (lambda: layers.Permute((0, 1)), ValueError, "dims="),
    (lambda: layers.RepeatVector(2.0), TypeError, "n=2.0"),
    (lambda: layers.RepeatVector(0), ValueError, "n=0"),
    (lambda: layers.GaussianNoise(1.5), ValueError, "stddev=1.5"),
    (lambda: layers.GaussianNoise(0.1, seed=-1), ValueError, "seed=-1"),
    (lambda: layers.SpatialDropout2D(1.0), ValueError, "rate=1.0"),
    (lambda: layers.SpatialDropout2D(0.5, seed="a"), ValueError, "seed='a'"),
    (lambda: layers.LayerNormalization(axis="last"), TypeError, "axis='last'"),
    (lambda: layers.LayerNormalization(epsilon=0), ValueError, "epsilon=0"),
    (lambda: layers.LayerNormalization(rms_scaling=True), ValueError, "rms_scaling=True"),
    (lambda: layers.LayerNormalization(gamma_constraint=3), ValueError, "constraint=3"),
    (lambda: layers.Rescaling("x"), ValueError, "scale='x'"),
    (lambda: layers.Rescaling(1.0, offset=[1.0, np.nan]), ValueError, "offset="),
    (lambda: layers.Normalization(mean=1.0), ValueError, "variance=None"),
    (lambda: layers.Normalization(mean=[1.0, 2.0], variance=[1.0]), ValueError, "shape"),
    (lambda: layers.Normalization(mean=[[1.0]], variance=[[1.0]]), ValueError, "rank"),
    (lambda: layers.Normalization(mean=1.0, variance=-1.0), ValueError, "variance=-1.0"),
    (lambda: layers.Normalization(axis="x"), ValueError, "axis='x'"),
    (lambda: layers.Normalization(invert=1), ValueError, "invert=1"),
])
def test_bad_arguments(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize("make, shape, match", [
    (lambda: layers.Cropping2D(((2, 1), (0, 0))), (1, 3, 4, 2), "cropping"),
    (lambda: layers.ZeroPadding2D(), (2, 3, 4), "ndim=4"),
    (lambda: layers.UpSampling2D(), (2, 3), "ndim=4"),
    (lambda: layers.Permute((2, 1)), (2, 3, 4, 5), "ndim=3"),
    (lambda: layers.RepeatVector(2), (2, 3, 4), "ndim=2"),
    (lambda: layers.LayerNormalization(axis=3), (2, 3, 4), "axis"),
    (lambda: layers.LayerNormalization(axis=[1, -2]), (2, 3, 4), "distinct"),
    (lambda: layers.PReLU(shared_axes=3), (2, 3, 4), "shared axis 3"),
    (lambda: layers.Normalization(axis=2), (2, 3), "axis"),
    (lambda: layers.Normalization(mean=[1.0, 2.0], variance=[1.0, 1.0]), (2, 3), "mean"),
])
def test_bad_inputs(make, shape, match):
    with pytest.raises(ValueError, match=match):
        make()(np.zeros(shape, np.float32))
