"""``keras.config`` settings and ``keras.random`` (SeedGenerator semantics, distributions
checked by statistics with tolerances from their standard errors)."""
import numpy as np
import pytest

import tensorlib as keras
from tensorlib import config


@pytest.fixture(autouse=True)
def restore_config():
    saved = dict(config._state)
    yield
    config._state.clear()
    config._state.update(saved)


def test_config_names_and_defaults():
    assert keras.config.backend() == keras.backend.backend() == "tensorlib"
    assert keras.config.floatx() == "float32" and keras.config.epsilon() == 1e-7
    assert keras.config.image_data_format() == "channels_last"
    keras.config.disable_traceback_filtering()
    assert not keras.config.is_traceback_filtering_enabled()
    keras.config.disable_interactive_logging()
    assert not keras.config.is_interactive_logging_enabled()
    keras.config.set_max_epochs(3)
    assert keras.config.max_epochs() == 3


def test_floatx_sets_new_layers_dtype():
    keras.config.set_floatx("float64")
    assert keras.backend.floatx() == "float64"
    layer = keras.layers.Dense(2)
    layer.build((None, 3))
    assert layer.dtype == np.float64 and layer.kernel.dtype == np.float64
    keras.config.set_floatx("float32")
    assert keras.layers.Dense(2).dtype == np.float32


def test_epsilon_is_shared_with_backend():
    keras.config.set_epsilon(1e-5)
    assert keras.backend.epsilon() == 1e-5


@pytest.mark.parametrize("call, match", [
    (lambda: keras.config.set_floatx("float16"), r"set_floatx.*Received: value='float16'"),
    (lambda: keras.config.set_epsilon(0), r"set_epsilon.*Received: value=0"),
    (lambda: keras.config.set_image_data_format("channels_first"),
     r"channels_last.*Received: data_format='channels_first'"),
    (lambda: keras.config.set_dtype_policy("mixed_float16"), r"mixed_float16"),
    (lambda: keras.config.set_backend("torch"), r"Received: backend='torch'"),
    (lambda: keras.config.set_max_steps_per_epoch(0), r"max_steps_per_epoch=0"),
])
def test_config_refusals(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ---------------------------------------------------------------- keras.random
def test_int_seed_repeats_and_seed_generator_advances():
    a = keras.random.normal((3, 4), seed=5).numpy()
    np.testing.assert_array_equal(a, keras.random.normal((3, 4), seed=5).numpy())
    gen = keras.random.SeedGenerator(1337)
    first, second = (keras.random.uniform((5,), seed=gen).numpy() for _ in range(2))
    assert not np.array_equal(first, second)
    again = keras.random.SeedGenerator(1337)
    np.testing.assert_array_equal(first, keras.random.uniform((5,), seed=again).numpy())
    assert gen.next() != gen.next()


def test_set_random_seed_makes_unseeded_calls_repeat():
    keras.utils.set_random_seed(4)
    a = keras.random.normal((6,)).numpy()
    keras.utils.set_random_seed(4)
    np.testing.assert_array_equal(a, keras.random.normal((6,)).numpy())


def test_distributions_statistics():
    n = 200_000
    z = keras.random.normal((n,), mean=2.0, stddev=3.0, seed=1).numpy()
    assert abs(z.mean() - 2.0) < 5 * 3.0 / np.sqrt(n) and abs(z.std() - 3.0) < 0.05
    u = keras.random.uniform((n,), minval=-1, maxval=3, seed=2).numpy()
    assert u.min() >= -1 and u.max() < 3 and abs(u.mean() - 1.0) < 5 * 4 / np.sqrt(12 * n)
    t = keras.random.truncated_normal((n,), stddev=2.0, seed=3).numpy()
    assert np.abs(t).max() <= 4.0 and abs(t.std() - 2.0 * 0.8796) < 0.02
    r = keras.random.randint((n,), 3, 7, seed=4).numpy()
    assert r.dtype == np.int32 and set(np.unique(r)) == {3, 4, 5, 6}
    c = keras.random.categorical(np.log([[0.2, 0.8]]), 50_000, seed=5).numpy()
    assert c.shape == (1, 50_000) and abs(c.mean() - 0.8) < 5 * np.sqrt(0.16 / 50_000)
    assert keras.random.normal((2, 2), dtype="float64").dtype == np.float64


def test_dropout_scales_keeps_and_backpropagates():
    x = keras.Tensor(np.ones((400, 250), np.float32), requires_grad=True)
    y = keras.random.dropout(x, 0.25, seed=keras.random.SeedGenerator(0))
    kept = y.numpy() != 0
    assert abs(kept.mean() - 0.75) < 5 * np.sqrt(0.75 * 0.25 / kept.size)
    np.testing.assert_allclose(y.numpy()[kept], 1 / 0.75, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(x.grad, kept / 0.75, rtol=1e-6)
    cols = keras.random.dropout(np.ones((50, 8)), 0.5, noise_shape=(1, None), seed=1).numpy()
    assert (cols == cols[0]).all()


def test_shuffle_permutes_along_axis():
    x = np.arange(20).reshape(10, 2)
    s = keras.random.shuffle(x, seed=3).numpy()
    assert sorted(s[:, 0].tolist()) == list(range(0, 20, 2)) and (s[:, 1] == s[:, 0] + 1).all()


@pytest.mark.parametrize("call, match", [
    (lambda: keras.random.SeedGenerator(-1), r"SeedGenerator.*Received: seed=-1"),
    (lambda: keras.random.normal((2,), seed="x"), r"normal.*Received: seed='x'"),
    (lambda: keras.random.dropout(np.ones(3), 1.0), r"dropout.*Received: rate=1.0"),
    (lambda: keras.random.randint((2,), 5, 5), r"maxval.*Received: minval=5, maxval=5"),
    (lambda: keras.random.uniform((2,), dtype="int32"), r"uniform.*dtype='int32'"),
])
def test_random_refusals(call, match):
    with pytest.raises(ValueError, match=match):
        call()
