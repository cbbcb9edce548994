"""Functional graphs built by the same code in real Keras 3 (fixtures from
``make_functional_fixtures.py``) and in tensorlib (``import tensorlib as keras``): with the
same weights they agree on ``predict``, on the ``train_on_batch`` logs (names and values)
and on the weights after one step of SGD, RMSprop and Adam."""
import json
import os

import numpy as np
import pytest

import functional_graphs as fg
import tensorlib as keras

DATA = os.path.join(os.path.dirname(__file__), "data")
ARRAYS = np.load(os.path.join(DATA, "functional_oracle.npz"))
LOGS = json.load(open(os.path.join(DATA, "functional_oracle.json")))


def stored(prefix):
    n = len(prefix) + 1
    return {k[n:]: ARRAYS[k] for k in ARRAYS.files if k.startswith(prefix + "/")}


def build(name):
    model, compile_args = fg.GRAPHS[name](keras)
    start = stored(f"{name}/start")
    assert sorted(start) == sorted(fg.weights_by_layer(model))    # same layers, same weights
    fg.set_weights_by_layer(model, start)
    return model, compile_args


@pytest.mark.parametrize("name", sorted(fg.GRAPHS))
def test_predict_matches_keras(name):
    model, _ = build(name)
    x, _ = fg.data(name)
    got = model.predict(x, verbose=0)
    if isinstance(got, dict):
        for k, v in got.items():
            np.testing.assert_allclose(v, ARRAYS[f"{name}/predict:{k}"], rtol=1e-5, atol=1e-6)
    else:
        np.testing.assert_allclose(got, ARRAYS[f"{name}/predict"], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("opt", ["sgd", "rmsprop", "adam"])
@pytest.mark.parametrize("name", sorted(fg.GRAPHS))
def test_one_train_step_matches_keras(name, opt):
    model, compile_args = build(name)
    model.compile(optimizer=fg.optimizer(keras, opt), **compile_args)
    x, y = fg.data(name)
    logs = model.train_on_batch(x, y, return_dict=True)
    expected = LOGS[f"{name}/{opt}"]
    assert sorted(logs) == sorted(expected)
    for k in expected:
        assert logs[k] == pytest.approx(expected[k], rel=1e-5, abs=1e-6), k
    after = stored(f"{name}/{opt}")
    got = fg.weights_by_layer(model)
    for k in after:
        np.testing.assert_allclose(got[k], after[k], rtol=1e-4, atol=1e-6, err_msg=k)
