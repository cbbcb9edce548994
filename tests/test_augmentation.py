"""Image augmentation layers (layers/augmentation.py, layers/image_transform.py).

Deterministic parts (the transform given its parameters) against Keras's own output on
the same parameters (``tests/make_augmentation_fixtures.py``) and against independent
NumPy formulas; random parts (the parameter draws) by their ranges, their distribution and
their seeding; then training, inference, errors and Keras files."""
import json
import math
import os
import re
import zipfile

import numpy as np
import pytest

import tensorlib as tl
from tensorlib import layers, models, utils
from tensorlib.layers import image_transform as it
from tensorlib.random import Generator

from gradcheck import check_gradients

DATA = os.path.join(os.path.dirname(__file__), "data")
AFFINE = dict(np.load(os.path.join(DATA, "augmentation_affine.npz")))
LAYERS = dict(np.load(os.path.join(DATA, "augmentation_layers.npz")))
with open(os.path.join(DATA, "augmentation_layers.json"), encoding="utf-8") as _f:
    CASES = json.load(_f)
KERAS_FILE = os.path.join(DATA, "keras_files", "augment.keras")
KERAS_EXPECTED = dict(np.load(os.path.join(DATA, "keras_files", "augment_expected.npz")))
ATOL = 2e-6          # float32 sampling points: Keras and tensorlib round them alike


# ----------------------------------------------------------------- (b) vs Keras
@pytest.mark.parametrize("matrix", ["general", "far"])
@pytest.mark.parametrize("fill_mode", it.FILL_MODES)
@pytest.mark.parametrize("interpolation", it.INTERPOLATIONS)
def test_affine_transform_matches_keras(matrix, fill_mode, interpolation):
    out = it.affine_transform(AFFINE["images"], AFFINE["m_" + matrix], interpolation,
                              fill_mode, fill_value=0.5)
    assert isinstance(out, tl.Tensor) and out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), AFFINE[f"{matrix}_{fill_mode}_{interpolation}"],
                               rtol=0, atol=ATOL)


def test_affine_transform_unbatched_matches_keras():
    out = it.affine_transform(AFFINE["images"][0], AFFINE["m_general"][0], "bilinear",
                              "reflect")
    np.testing.assert_allclose(out.numpy(), AFFINE["unbatched_reflect_bilinear"], atol=ATOL)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_layer_transform_matches_keras(case):
    """The layer's deterministic transform on Keras's parameters gives Keras's images; for
    the affine layers the matrix built from the parameters is Keras's too."""
    layer = getattr(layers, case["class_name"])(**case["kwargs"])
    x = LAYERS["images"][0] if case["unbatched"] else LAYERS["images"]
    params = {k: np.array(v) for k, v in case["transformation"].items()}
    expected = LAYERS[case["name"]]
    h, w = x.shape[-3], x.shape[-2]
    builders = {"RandomRotation": lambda: it.rotation_matrix(params["angle"], h, w),
                "RandomZoom": lambda: it.zoom_matrix(params["width_zoom"],
                                                     params["height_zoom"], h, w),
                "RandomTranslation": lambda: it.translation_matrix(params["translations"])}
    if case["class_name"] in builders:
        keras_matrix = LAYERS[case["name"] + "_matrix"].reshape(-1, 8)
        np.testing.assert_allclose(builders[case["class_name"]](), keras_matrix, atol=1e-6)
    if case["class_name"] == "RandomRotation":      # Keras's own matrix, then ours
        keras_params = {"rotation_matrix": LAYERS[case["name"] + "_matrix"]}
        out = layer.transform_images(x, keras_params).numpy()
        np.testing.assert_allclose(out, expected, atol=ATOL)
    out = layer.transform_images(x, params)
    assert isinstance(out, tl.Tensor) and out.shape == expected.shape
    np.testing.assert_allclose(out.numpy(), expected, atol=1e-5)


# ----------------------------------------------------------------- (b) vs NumPy
def test_fill_modes_fold_indices_as_numpy_pad_does():
    size, idx = 5, np.arange(-23, 29)
    line = np.arange(size)
    for mode, pad in (("reflect", "symmetric"), ("wrap", "wrap"), ("nearest", "edge")):
        padded = np.pad(line, 30, mode=pad)
        np.testing.assert_array_equal(it.fix_index(idx, size, mode), padded[idx + 30])


@pytest.mark.parametrize("fill_mode", ["reflect", "wrap", "nearest"])
def test_integer_translation_is_a_padded_shift(rng, fill_mode):
    x = rng.random((1, 6, 5, 2))
    dx, dy = 7, -3                   # content moves 7 right, 3 up
    out = it.affine_transform(x, [1, 0, -dx, 0, 1, -dy, 0, 0], "nearest", fill_mode)
    pad = {"reflect": "symmetric", "wrap": "wrap", "nearest": "edge"}[fill_mode]
    padded = np.pad(x[0], ((10, 10), (10, 10), (0, 0)), mode=pad)
    want = padded[10 - dy:10 - dy + 6, 10 - dx:10 - dx + 5]
    np.testing.assert_array_equal(out.numpy()[0], want)


def test_bilinear_constant_fill_blends_with_the_fill_value():
    x = np.ones((1, 3, 3, 1))
    out = it.affine_transform(x, [1, 0, -0.25, 0, 1, 0, 0, 0], "bilinear", "constant",
                              fill_value=3.0).numpy()[0, :, :, 0]
    # column 0 samples x = -0.25: 0.25 of the fill value (outside), 0.75 of the image
    np.testing.assert_allclose(out[:, 0], 0.25 * 3.0 + 0.75 * 1.0)
    np.testing.assert_allclose(out[:, 1:], 1.0)


def test_quarter_turn_of_a_square_image_is_rot90(rng):
    x = rng.random((1, 5, 5, 3)).astype(np.float32)
    for angle, k in ((90.0, 1), (-90.0, -1), (180.0, 2)):
        layer = layers.RandomRotation(0.5, interpolation="nearest")
        out = layer.transform_images(x, {"angle": np.array([angle])}).numpy()
        np.testing.assert_array_equal(out[0], np.rot90(x[0], k=k))   # anticlockwise


def test_zoom_of_one_and_zero_translation_are_the_identity(rng):
    x = rng.random((2, 4, 7, 1)).astype(np.float32)
    zoom = layers.RandomZoom(0.3).transform_images(
        x, {"height_zoom": np.ones((2, 1)), "width_zoom": np.ones((2, 1))})
    np.testing.assert_allclose(zoom.numpy(), x, atol=1e-6)
    shift = layers.RandomTranslation(0.3, 0.3).transform_images(
        x, {"translations": np.zeros((2, 2))})
    np.testing.assert_allclose(shift.numpy(), x, atol=1e-6)


def test_contrast_formula_in_float64(rng):
    x = rng.random((3, 4, 5, 2))
    c = np.array([0.3, 1.0, 2.5]).reshape(3, 1, 1, 1)
    layer = layers.RandomContrast(0.5, value_range=(0.1, 0.9), dtype="float64")
    out = layer.transform_images(x, {"contrast_factor": c}).numpy()
    mean = x.mean(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(out, np.clip((x - mean) * c + mean, 0.1, 0.9), rtol=1e-12)


# ----------------------------------------------------------------- gradients
@pytest.mark.parametrize("fill_mode", it.FILL_MODES)
def test_affine_transform_gradient(rng, fill_mode):
    m = np.array([[0.8, -0.45, 1.3, 0.5, 1.1, -0.7, 0, 0],
                  [-1.2, 0.1, 6.4, 0.05, 0.9, -1.6, 0, 0]])
    check_gradients(lambda t: it.affine_transform(t, m, "bilinear", fill_mode, 0.7),
                    [rng.random((2, 4, 3, 2))])


def test_flip_and_contrast_gradients(rng):
    flip = layers.RandomFlip(dtype="float64")
    contrast = layers.RandomContrast(0.5, value_range=(-10, 10), dtype="float64")
    check_gradients(lambda t: flip.transform_images(t, {"flips": np.array([1, 0, 1])}),
                    [rng.random((3, 2, 3, 2))])
    check_gradients(lambda t: contrast.transform_images(
        t, {"contrast_factor": np.array([0.5, 1.7, 1.2])}), [rng.random((3, 2, 3, 2))])


# ----------------------------------------------------------------- (a) the draws
N = 4000


def _draws(layer, shape=(N, 6, 8, 1)):
    return layer.get_random_transformation(np.zeros(shape, np.float32))


def _check_uniform(values, low, high):
    """In [low, high], spread over it, mean within 5 standard errors of the midpoint."""
    values = np.asarray(values, np.float64).reshape(-1)
    span = high - low
    assert values.min() >= low - 1e-6 * abs(span) and values.max() <= high + 1e-6 * abs(span)
    assert values.min() < low + 0.01 * span and values.max() > high - 0.01 * span
    assert abs(values.mean() - (low + high) / 2) < 5 * span / math.sqrt(12 * len(values))


def test_flip_probability_is_one_half():
    n = 40000          # 5 binomial standard deviations: 0.0125
    flips = _draws(layers.RandomFlip(seed=11), (n, 1, 1, 1))["flips"].reshape(-1)
    assert abs(flips.mean() - 0.5) < 5 * math.sqrt(0.25 / n)


@pytest.mark.parametrize("factor, low, high", [(0.2, -72, 72), ((0.1, 0.3), 36, 108),
                                               ((0.3, -0.1), -36, 108)])
def test_rotation_angles_respect_the_factor(factor, low, high):
    trans = _draws(layers.RandomRotation(factor, seed=1))
    _check_uniform(trans["angle"], low, high)
    np.testing.assert_allclose(trans["rotation_matrix"],
                               it.rotation_matrix(trans["angle"], 6, 8), atol=1e-6)


def test_zoom_draws_respect_the_factors():
    tied = _draws(layers.RandomZoom((-0.3, 0.1), seed=2))
    _check_uniform(tied["height_zoom"], 0.7, 1.1)
    np.testing.assert_array_equal(tied["height_zoom"], tied["width_zoom"])
    free = _draws(layers.RandomZoom(0.2, (0.5, -0.4), seed=2))
    _check_uniform(free["height_zoom"], 0.8, 1.2)
    _check_uniform(free["width_zoom"], 0.6, 1.5)
    assert abs(np.corrcoef(free["height_zoom"][:, 0], free["width_zoom"][:, 0])[0, 1]) < 0.1


def test_translation_draws_are_fractions_of_the_size():
    t = _draws(layers.RandomTranslation((-0.1, 0.4), 0.25, seed=3))["translations"]
    assert t.shape == (N, 2)
    _check_uniform(t[:, 0], -0.25 * 8, 0.25 * 8)        # dx: width 8
    _check_uniform(t[:, 1], -0.1 * 6, 0.4 * 6)          # dy: height 6


def test_contrast_draws_follow_keras_factor_rule():
    pair = _draws(layers.RandomContrast((0.2, 0.5), seed=4))["contrast_factor"]
    assert pair.shape == (N, 1, 1, 1)
    _check_uniform(pair, 0.8, 1.5)
    single = layers.RandomContrast(0.3, seed=4)
    assert single.factor == (0, 0.3)          # Keras 3: a number f means (0, f)
    _check_uniform(_draws(single)["contrast_factor"], 1.0, 1.3)


def test_unbatched_image_draws_one_set():
    assert _draws(layers.RandomRotation(0.1), (6, 8, 1))["angle"].shape == (1,)
    assert _draws(layers.RandomFlip(), (6, 8, 1))["flips"].shape == (1, 1, 1, 1)


# ----------------------------------------------------------------- seeding, training
ALL = [lambda s=None: layers.RandomFlip(seed=s),
       lambda s=None: layers.RandomRotation(0.2, seed=s),
       lambda s=None: layers.RandomZoom(0.3, seed=s),
       lambda s=None: layers.RandomTranslation(0.2, 0.3, seed=s),
       lambda s=None: layers.RandomContrast(0.5, value_range=(0, 1), seed=s)]


@pytest.mark.parametrize("make", ALL)
def test_same_seed_same_sequence_different_seed_differs(rng, make):
    x = rng.random((4, 6, 7, 2)).astype(np.float32)
    a, b, c = make(5), make(5), make(6)
    seq_a = [a(x, training=True).numpy() for _ in range(3)]
    seq_b = [b(x, training=True).numpy() for _ in range(3)]
    seq_c = [c(x, training=True).numpy() for _ in range(3)]
    for u, v in zip(seq_a, seq_b):
        np.testing.assert_array_equal(u, v)
    assert not all(np.array_equal(u, v) for u, v in zip(seq_a, seq_c))
    assert not np.array_equal(seq_a[0], seq_a[1])      # the sequence moves on


@pytest.mark.parametrize("make", ALL)
def test_set_random_seed_repeats_unseeded_layers(rng, make):
    x = rng.random((4, 6, 7, 2)).astype(np.float32)
    runs = []
    for _ in range(2):
        utils.set_random_seed(123)
        runs.append(make()(x, training=True).numpy())
    np.testing.assert_array_equal(runs[0], runs[1])


@pytest.mark.parametrize("make", ALL)
def test_call_is_the_transform_of_the_seeded_draw(rng, make):
    """A training call = the draw from a generator seeded alike, then the transform;
    also for an unbatched image; identity with training=False; the default augments."""
    for shape in ((3, 6, 7, 2), (6, 7, 2)):
        x = rng.random(shape).astype(np.float32)
        layer = make(9)
        trans = layer.get_random_transformation(x, seed=Generator(9))
        want = layer.transform_images(x, trans).numpy()
        got = layer(x, training=True)
        assert isinstance(got, tl.Tensor) and got.shape == shape
        np.testing.assert_array_equal(got.numpy(), want)
        np.testing.assert_array_equal(layer(x, training=False).numpy(), x)
    layer = make(1)
    assert any(not np.array_equal(layer(x).numpy(), x) for _ in range(5))


def _model(*augment):
    return models.Sequential([layers.Input((8, 8, 1)), *augment, layers.Flatten(),
                              layers.Dense(3, activation="softmax")])


def test_sequential_trains_with_augmentation_and_predicts_deterministically(rng):
    x = rng.random((8, 8, 8, 1)).astype(np.float32)
    y = np.arange(8) % 3
    utils.set_random_seed(0)
    model = _model(layers.RandomFlip(seed=1), layers.RandomRotation(0.2, seed=2))
    model.compile("adam", "sparse_categorical_crossentropy")
    before = model.get_weights()
    history = model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert not all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    p1, p2 = model.predict(x, verbose=0), model.predict(x, verbose=0)
    np.testing.assert_array_equal(p1, p2)
    kernel, bias = model.layers[-1].get_weights()
    logits = x.reshape(8, -1).astype(np.float64) @ kernel + bias      # no augmentation
    want = np.exp(logits - logits.max(1, keepdims=True))
    np.testing.assert_allclose(p1, want / want.sum(1, keepdims=True), rtol=1e-5, atol=1e-6)
    loss = -np.log(p1[np.arange(8), y]).mean()      # evaluate: no augmentation either
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0), loss, rtol=1e-5)


def test_fit_trains_on_the_augmented_images():
    """One SGD step of a zero-initialised linear model: the kernel update is the
    (possibly flipped) image, flipped exactly when the layer's seeded draw says so."""
    x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1) / 16
    for seed in range(4):
        model = models.Sequential([layers.Input((4, 4, 1)),
                                   layers.RandomFlip("horizontal", seed=seed),
                                   layers.Flatten(),
                                   layers.Dense(1, use_bias=False, kernel_initializer="zeros")])
        model.compile(tl.optimizers.SGD(0.5), "mse")
        model.fit(x, np.ones((1, 1), np.float32), epochs=1, verbose=0)
        flipped = Generator(seed).uniform((1, 1, 1, 1), np.float64)[0, 0, 0, 0] <= 0.5
        seen = x[:, :, ::-1] if flipped else x
        np.testing.assert_allclose(model.layers[-1].get_weights()[0][:, 0],
                                   seen.reshape(-1), rtol=1e-6)    # 0.5 * 2 * (1 - 0) * x


# ----------------------------------------------------------------- errors
@pytest.mark.parametrize("make, error, text", [
    (lambda: layers.RandomRotation(1.5), ValueError, "factor=1.5"),
    (lambda: layers.RandomRotation((0.1, 0.2, 0.3)), ValueError, "factor=(0.1, 0.2, 0.3)"),
    (lambda: layers.RandomRotation("big"), ValueError, "factor='big'"),
    (lambda: layers.RandomContrast(-0.1), ValueError, "factor=-0.1"),
    (lambda: layers.RandomContrast(1.5), ValueError, "factor=1.5"),
    (lambda: layers.RandomContrast(0.2, value_range=(0,)), ValueError, "value_range=(0,)"),
    (lambda: layers.RandomZoom(-1.0), ValueError, "height_factor=-1.0"),
    (lambda: layers.RandomZoom(0.1, (0.2, 1.2)), ValueError, "width_factor=(0.2, 1.2)"),
    (lambda: layers.RandomTranslation(0.1, 1.5), ValueError, "width_factor=1.5"),
    (lambda: layers.RandomTranslation(0.1), TypeError, "argument: 'width_factor'"),
    (lambda: layers.RandomRotation(0.1, fill_mode="mirror"), NotImplementedError,
     "fill_mode='mirror'"),
    (lambda: layers.RandomZoom(0.1, fill_mode="bad"), ValueError, "fill_mode='bad'"),
    (lambda: layers.RandomTranslation(0.1, 0.1, interpolation="bicubic"),
     NotImplementedError, "interpolation='bicubic'"),
    (lambda: layers.RandomRotation(0.1, fill_value="x"), ValueError, "fill_value='x'"),
    (lambda: layers.RandomFlip("diagonal"), ValueError, "mode='diagonal'"),
    (lambda: layers.RandomFlip(seed="x"), ValueError, "seed='x'"),
    (lambda: layers.RandomFlip(data_format="channels_first"), ValueError,
     "data_format='channels_first'"),
])
def test_bad_arguments_raise_keras_errors(make, error, text):
    with pytest.raises(error, match=re.escape(text)) as info:
        make()
    if error is not TypeError:      # the TypeError is Python's missing-argument one
        assert "Received: " in str(info.value) and type(info.value).__name__ in (
            "ValueError", "UnknownOptionError")


@pytest.mark.parametrize("shape", [(4, 5), (2, 3, 4, 5, 1)])
def test_wrong_rank_is_refused(shape):
    for layer in (layers.RandomFlip(), layers.RandomContrast(0.1)):
        with pytest.raises(ValueError, match=r"rank 3 .* or 4 .*Received: data.shape"):
            layer(np.ones(shape, np.float32), training=True)


# ----------------------------------------------------------------- config and files
@pytest.mark.parametrize("make", ALL)
def test_config_round_trips(make):
    layer = make(3)
    config = layer.get_config()
    assert config["seed"] == 3 and config["data_format"] == "channels_last"
    clone = type(layer).from_config(config)
    assert clone.get_config() == config


def _member(path, name="config.json"):
    with zipfile.ZipFile(path) as z:
        return json.loads(z.read(name))


def _augment_records(path):
    return {e["class_name"]: e for e in _member(path)["config"]["layers"]
            if e["class_name"].startswith("Random")}


def _same(a, b):
    """Config values equal up to JSON's lists for tuples."""
    return json.loads(json.dumps(a)) == json.loads(json.dumps(b))


def test_keras_file_loads_predicts_and_round_trips(tmp_path):
    model = models.load_model(KERAS_FILE)
    assert [type(la).__name__ for la in model.layers][:5] == [
        "RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation", "RandomContrast"]
    x = KERAS_EXPECTED["x"]
    np.testing.assert_allclose(model.predict(x, verbose=0), KERAS_EXPECTED["pred"],
                               rtol=1e-5, atol=1e-6)
    theirs = _augment_records(KERAS_FILE)
    for layer in model.layers[:5]:
        config = theirs[type(layer).__name__]["config"]
        for key, value in layer.get_config().items():
            if key != "dtype":
                assert _same(value, config[key]), (type(layer).__name__, key)
    path = str(tmp_path / "ours.keras")
    model.save(path)
    ours = _augment_records(path)
    for cls, record in theirs.items():
        assert sorted(ours[cls]) == sorted(record)
        assert ours[cls]["build_config"] == record["build_config"]
        drop = {"dtype"}
        assert _same({k: v for k, v in ours[cls]["config"].items() if k not in drop},
                     {k: v for k, v in record["config"].items() if k not in drop})
    again = models.load_model(path)
    np.testing.assert_allclose(again.predict(x, verbose=0), KERAS_EXPECTED["pred"],
                               rtol=1e-5, atol=1e-6)
