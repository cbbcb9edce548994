"""Embedding, Masking and Keras's mask protocol: forward and masks against Keras 3
fixtures (``tests/make_recurrent_fixtures.py``), the embedding gradient against finite
differences and a scatter-add written here, and masks travelling through eager calls,
Sequential and functional models to the recurrent layers."""
import json
import os

import numpy as np
import pytest

import tensorlib as tl
from tensorlib import layers, models
from tensorlib.layers.embedding import EmbeddingLookup

from gradcheck import check_gradients

DATA = os.path.join(os.path.dirname(__file__), "data")
META = json.load(open(os.path.join(DATA, "recurrent.json")))
ARRAYS = dict(np.load(os.path.join(DATA, "recurrent.npz")))


def _plain(config):
    return {k: v for k, v in config.items()
            if k not in ("name", "dtype") and not k.endswith(("initializer", "constraint"))}


# ---------------------------------------------------------------- Embedding
@pytest.mark.parametrize("name", ["emb", "emb_mask"])
def test_embedding_matches_keras(name):
    meta = META[name]
    layer = layers.Embedding(**meta["kwargs"])
    ids = ARRAYS[f"{name}/x"]
    layer.build_for((None,) + ids.shape[1:])
    layer.set_weights([ARRAYS[f"{name}/w0"]])
    out = layer(ids)
    np.testing.assert_array_equal(out.numpy(), ARRAYS[f"{name}/y0"])
    np.testing.assert_array_equal(layer(ids.astype(np.float32)).numpy(), ARRAYS[f"{name}/y0"])
    mask = layer.compute_mask(ids)
    if f"{name}/mask_out" in ARRAYS:
        np.testing.assert_array_equal(mask, ARRAYS[f"{name}/mask_out"])
        np.testing.assert_array_equal(out._keras_mask, ARRAYS[f"{name}/mask_out"])
    else:
        assert mask is None and not hasattr(out, "_keras_mask")
    assert _plain(layer.get_config()) == _plain(meta["config"])
    assert layer.compute_output_shape((None, 4)) == (None, 4, meta["kwargs"]["output_dim"])


def test_embedding_gradient_is_a_scatter_add():
    rng = np.random.default_rng(0)
    ids = np.array([[1, 3, 3, 0], [3, 1, 4, 4]])
    table = rng.standard_normal((6, 3))
    check_gradients(lambda t: EmbeddingLookup.apply(t, indices=ids), [table])
    t = tl.tensor(table, requires_grad=True)
    g = rng.standard_normal((2, 4, 3))
    (EmbeddingLookup.apply(t, indices=ids) * tl.tensor(g)).sum().backward()
    expected = np.zeros_like(table)
    for (b, s), row in np.ndenumerate(ids):
        expected[row] += g[b, s]
    np.testing.assert_allclose(t.grad.numpy(), expected, rtol=1e-12)
    assert not expected[[2, 5]].any()


@pytest.mark.parametrize("bad", [np.array([[0, 7]]), np.array([[-1, 2]]),
                                 np.array([[np.nan, 1.0]])])
def test_embedding_bad_indices(bad):
    layer = layers.Embedding(7, 2)
    with pytest.raises(ValueError, match="Received") as info:
        layer(bad)
    assert layer.name in str(info.value)


@pytest.mark.parametrize("kwargs,match", [
    ({"input_dim": 0, "output_dim": 3}, "input_dim"),
    ({"input_dim": 5, "output_dim": "3"}, "output_dim"),
    ({"input_dim": 5, "output_dim": 3, "embeddings_initializer": "nope"},
     "embeddings_initializer"),
])
def test_embedding_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match) as info:
        layers.Embedding(**kwargs)
    assert "Received" in str(info.value)


def test_embedding_initial_weights():
    table = np.arange(12, dtype=np.float32).reshape(6, 2)
    for given in (table, [table]):
        layer = layers.Embedding(6, 2, weights=given)
        assert layer.built
        np.testing.assert_array_equal(layer(np.array([[5, 0]])).numpy(), table[[[5, 0]]])
    model = models.Sequential([layers.Input((3,)), layers.Embedding(6, 2, weights=table)])
    np.testing.assert_array_equal(model.get_weights()[0], table)
    with pytest.raises(ValueError):
        layers.Embedding(6, 2, weights=np.zeros((5, 2)))


def test_embedding_input_length_is_deprecated():
    with pytest.warns(UserWarning, match="input_length"):
        layer = layers.Embedding(5, 2, input_length=4)
    assert "input_length" not in layer.get_config()


# ---------------------------------------------------------------- Masking
def test_masking_matches_keras():
    layer = layers.Masking(mask_value=0.5)
    x = ARRAYS["masking/x"]
    out = layer(x)
    np.testing.assert_array_equal(out.numpy(), ARRAYS["masking/y0"])
    np.testing.assert_array_equal(out._keras_mask, ARRAYS["masking/mask_out"])
    assert _plain(layer.get_config()) == _plain(META["masking"]["config"])
    with pytest.raises(ValueError, match="mask_value"):
        layers.Masking(mask_value="zero")


# ---------------------------------------------------------------- propagation
def padded_ids(seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, 10, (4, 6))
    ids[1, 4:] = 0
    ids[2, :2] = 0
    ids[3] = 0
    return ids


def explicit(emb, rnn, ids):
    """The recurrent layer given the mask by hand."""
    return rnn(emb(ids).detach(), mask=ids != 0)


@pytest.mark.parametrize("make", [lambda: layers.LSTM(3),
                                  lambda: layers.GRU(3, return_sequences=True),
                                  lambda: layers.Bidirectional(layers.SimpleRNN(2))])
def test_sequential_passes_the_mask(make):
    ids = padded_ids()
    emb, rnn = layers.Embedding(10, 4, mask_zero=True), make()
    model = models.Sequential([layers.Input((6,)), emb, rnn])
    assert model._masked
    got = model.predict(ids, verbose=0)
    np.testing.assert_allclose(got, explicit(emb, rnn, ids).numpy(), rtol=1e-6)
    unmasked = rnn(emb(ids).detach()).numpy()
    assert not np.allclose(got, unmasked)


def test_functional_passes_the_mask_through_dense():
    ids = padded_ids(1)
    emb = layers.Embedding(10, 4, mask_zero=True)
    dense = layers.Dense(5, activation="tanh")
    rnn = layers.LSTM(3, return_sequences=True, return_state=True)
    inp = layers.Input((6,))
    seq, h, c = rnn(dense(emb(inp)))
    model = models.Model(inp, [seq, h])
    got_seq, got_h = model.predict(ids, verbose=0)
    want = rnn(dense(emb(ids)).detach(), mask=ids != 0)
    np.testing.assert_allclose(got_seq, want[0].numpy(), rtol=1e-6)
    np.testing.assert_allclose(got_h, want[1].numpy(), rtol=1e-6)
    eager = rnn(dense(emb(ids)))              # eager calls carry _keras_mask
    np.testing.assert_allclose(eager[0].numpy(), want[0].numpy(), rtol=1e-6)
    np.testing.assert_array_equal(dense(emb(ids))._keras_mask, ids != 0)


def test_masked_steps_keep_the_state():
    """Keras's rule, written out: a masked step outputs the previous output (zeros before
    the first real step) and leaves the states alone; an all-masked row gives zeros."""
    ids = padded_ids(2)
    emb, rnn = layers.Embedding(10, 4, mask_zero=True), layers.GRU(3, return_sequences=True)
    model = models.Sequential([layers.Input((6,)), emb, rnn])
    seq = model.predict(ids, verbose=0)
    x = emb(ids).numpy()
    for b in range(len(ids)):
        real = np.flatnonzero(ids[b])
        ref = rnn(x[b:b + 1, real]).numpy()[0] if len(real) else np.zeros((0, 3))
        prev, k = np.zeros(3, np.float32), 0
        for t in range(6):
            if ids[b, t]:
                prev, k = ref[k], k + 1
            np.testing.assert_allclose(seq[b, t], prev, rtol=1e-5, atol=1e-6)


def test_masking_layer_feeds_a_recurrent_layer():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 5, 2)).astype(np.float32)
    x[0, 3:] = 0
    x[2, 1] = 0
    rnn = layers.SimpleRNN(4)
    model = models.Sequential([layers.Input((5, 2)), layers.Masking(), rnn])
    want = rnn(x, mask=np.any(x != 0, axis=-1)).numpy()
    np.testing.assert_allclose(model.predict(x, verbose=0), want, rtol=1e-6)


def test_layers_without_mask_support_drop_it():
    ids = padded_ids()
    emb, rnn = layers.Embedding(10, 4, mask_zero=True), layers.LSTM(3)
    model = models.Sequential([layers.Input((6,)), emb, layers.Reshape((6, 4)), rnn])
    np.testing.assert_allclose(model.predict(ids, verbose=0), rnn(emb(ids).detach()).numpy(),
                               rtol=1e-6)


def test_no_mask_keeps_the_plain_paths():
    model = models.Sequential([layers.Input((4,)), layers.Dense(3), layers.Dense(2)])
    assert not model._masked
    inp = layers.Input((4,))
    fn = models.Model(inp, layers.Dense(2)(inp))
    assert not fn._masked
    x = np.ones((2, 4), np.float32)
    assert fn.predict(x, verbose=0).shape == (2, 2)
    assert fn._plans                        # planned inference still used


def test_masked_model_trains_and_saves(tmp_path):
    ids = padded_ids()
    y = np.arange(8, dtype=np.float32).reshape(4, 2) / 8
    model = models.Sequential([layers.Input((6,)), layers.Embedding(10, 4, mask_zero=True),
                               layers.Bidirectional(layers.LSTM(3, return_sequences=True)),
                               layers.GRU(2)])
    model.compile("sgd", "mse")
    first = model.train_on_batch(ids, y)
    for _ in range(20):
        last = model.train_on_batch(ids, y)
    assert last < first
    path = str(tmp_path / "m.keras")
    model.save(path)
    again = models.load_model(path)
    np.testing.assert_allclose(again.predict(ids, verbose=0), model.predict(ids, verbose=0),
                               rtol=1e-6)
