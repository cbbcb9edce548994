"""TensorBoard writes real event files that the tensorboard package reads back: epoch
scalars in train/ and validation/ as Keras names them, weight histograms, batch scalars
with update_freq, the model config; an ImportError with the pip command without it."""
import json
import os
import sys

import numpy as np
import pytest

import tensorlib as keras

event_accumulator = pytest.importorskip(
    "tensorboard.backend.event_processing.event_accumulator")


def _read(path):
    acc = event_accumulator.EventAccumulator(str(path), size_guidance={"scalars": 0,
                                                                       "histograms": 0,
                                                                       "tensors": 0})
    acc.Reload()
    return acc


def _scalars(acc, tag):
    return [(e.step, e.value) for e in acc.Scalars(tag)]


def _fit(tmp_path, **kwargs):
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="relu"),
                          keras.layers.Dense(1)])
    m.compile(keras.optimizers.SGD(0.05), "mse", metrics=["mae"])
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(20, 3)).astype(np.float32), rng.normal(size=(20, 1))
    tb = keras.callbacks.TensorBoard(tmp_path / "logs", **kwargs)
    h = m.fit(x, y, batch_size=5, epochs=3, verbose=0, callbacks=[tb],
              validation_data=(x, y))
    return m, h


def test_epoch_scalars_in_train_and_validation(tmp_path):
    m, h = _fit(tmp_path)
    train, val = _read(tmp_path / "logs" / "train"), _read(tmp_path / "logs" / "validation")
    assert sorted(train.Tags()["scalars"]) == ["epoch_learning_rate", "epoch_loss",
                                               "epoch_mae"]
    assert sorted(val.Tags()["scalars"]) == [
        "epoch_loss", "epoch_mae", "evaluation_loss_vs_iterations",
        "evaluation_mae_vs_iterations"]
    for tag, key in (("epoch_loss", "loss"), ("epoch_mae", "mae")):
        got = _scalars(train, tag)
        assert [s for s, _ in got] == [0, 1, 2]
        np.testing.assert_allclose([v for _, v in got], h.history[key], rtol=1e-6)
        np.testing.assert_allclose([v for _, v in _scalars(val, tag)],
                                   h.history["val_" + key], rtol=1e-6)
    assert [v for _, v in _scalars(train, "epoch_learning_rate")] == \
        pytest.approx([0.05] * 3)
    assert [s for s, _ in _scalars(val, "evaluation_loss_vs_iterations")] == [4, 8, 12]
    # the model's configuration, for TensorBoard's Keras graph
    config = json.loads(train.Tensors("keras")[0].tensor_proto.string_val[0])
    assert config["class_name"] == "Sequential"


def test_weight_histograms_every_histogram_freq_epochs(tmp_path):
    m, _ = _fit(tmp_path, histogram_freq=2)
    train = _read(tmp_path / "logs" / "train")
    names = [f"{m.name}/{w.name}/histogram" for w in m.weights]
    assert sorted(train.Tags()["histograms"]) == sorted(names)
    events = train.Histograms(names[0])
    assert [e.step for e in events] == [0, 2]
    last = events[-1].histogram_value
    kernel = m.weights[0].data.astype(np.float64)
    assert last.num == kernel.size and last.sum == pytest.approx(kernel.sum(), rel=1e-6)
    assert last.min == pytest.approx(kernel.min()) and sum(last.bucket) == kernel.size


def test_update_freq_writes_batch_scalars(tmp_path):
    _fit(tmp_path, update_freq=2)
    train = _read(tmp_path / "logs" / "train")
    assert [s for s, _ in _scalars(train, "batch_loss")] == [2, 4, 6, 8, 10, 12]
    _fit(tmp_path / "b", update_freq="batch", write_graph=False)
    train = _read(tmp_path / "b" / "logs" / "train")
    assert len(_scalars(train, "batch_loss")) == 12 and "keras" not in \
        train.Tags()["tensors"]


def test_without_tensorboard_it_says_how_to_install(monkeypatch):
    for name in list(sys.modules):
        if name == "tensorboard" or name.startswith("tensorboard."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    with pytest.raises(ImportError, match=r'pip install "tensorlib\[tensorboard\]"'):
        keras.callbacks.TensorBoard("logs")


@pytest.mark.parametrize("kwargs, message", [
    ({"histogram_freq": -1}, "Received: histogram_freq=-1"),
    ({"update_freq": "step"}, "Received: update_freq='step'"),
    ({"profile_batch": 2}, "Received: profile_batch=2"),
])
def test_bad_arguments(kwargs, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        keras.callbacks.TensorBoard(os.fspath(tmp_path), **kwargs)
