"""``utils.pad_sequences``, losses whose target broadcasts to the output, and the
confusion-count metrics, against real Keras 3 (``make_misc_fixtures.py``)."""
import json
import os

import numpy as np
import pytest

import tensorlib as keras

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "data",
                       "misc_keras.json")) as f:
    FIX = json.load(f)


@pytest.mark.parametrize("name", sorted(FIX["pad"]))
def test_pad_sequences_matches_keras(name):
    case = FIX["pad"][name]
    got = keras.utils.pad_sequences(FIX["seqs"], **case["kwargs"])
    np.testing.assert_array_equal(got, np.array(case["value"]))
    assert got.dtype == np.dtype(case["kwargs"].get("dtype", "int32"))


def test_pad_sequences_of_vectors():
    case = FIX["pad_vec"]
    got = keras.utils.pad_sequences([np.array(s) for s in case["seqs"]], maxlen=3)
    np.testing.assert_array_equal(got, np.array(case["value"]))


@pytest.mark.parametrize("kwargs, match", [
    ({"padding": "middle"}, r'Padding type "middle" not understood'),
    ({"truncating": "x"}, r'Truncating type "x" not understood'),
    ({"value": "pad"}, r"not compatible with `value`'s type"),
    ({"maxlen": -1}, r"Received: maxlen=-1"),
])
def test_pad_sequences_refusals(kwargs, match):
    with pytest.raises(ValueError, match=match):
        keras.utils.pad_sequences(FIX["seqs"], **kwargs)
    with pytest.raises(ValueError, match="must be a list of iterables"):
        keras.utils.pad_sequences([[1], 3])


@pytest.mark.parametrize("name", ["mean_squared_error", "mean_absolute_error"])
def test_target_broadcasts_to_output_as_in_keras(name):
    b = FIX["broadcast"]
    y_pred = keras.Tensor(np.array(b["y_pred"], np.float32), requires_grad=True)
    got = getattr(keras.losses, name)(np.array(b["y_true"], np.float32), y_pred)
    np.testing.assert_allclose(got.numpy(), b[name], rtol=1e-6)
    got.sum().backward()
    assert y_pred.grad.shape == y_pred.shape


def test_target_that_cannot_broadcast_is_refused():
    with pytest.raises(ValueError, match=r"mean_squared_error: .*Received: "
                                         r"target.shape=\(3,\), output.shape=\(2, 10\)"):
        keras.losses.mean_squared_error(np.zeros(3), np.zeros((2, 10)))
    with pytest.raises(ValueError, match=r"binary_crossentropy: .*same shape\. Received"):
        keras.losses.binary_crossentropy(np.zeros(1), np.full((1, 10), 0.5))  # as Keras


@pytest.mark.parametrize("key", sorted(FIX["counts"]))
def test_confusion_counts_match_keras(key):
    case = FIX["counts"][key]
    cls = key.split("/")[0]
    metric = getattr(keras.metrics, cls)(**case["kwargs"])
    weighted = key.endswith("/1")
    for (t, p, w), want in zip(FIX["count_batches"], case["values"]):
        metric.update_state(np.array(t), np.array(p), sample_weight=np.array(w)
                            if weighted else None)
        np.testing.assert_allclose(np.asarray(metric.result()), want, rtol=1e-6)
    assert metric.get_config()["thresholds"] == case["config"]["thresholds"]
    assert case["config"]["name"].startswith(metric.name)     # Keras numbers its names
    metric.reset_state()
    assert np.all(np.asarray(metric.result()) == 0)
