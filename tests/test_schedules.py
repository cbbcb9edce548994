"""``keras.optimizers.schedules``: every schedule's learning rate at steps 0..44 and its
config against values real Keras 3 computed (tests/data/lr_schedules.json, written by
tests/make_schedule_fixtures.py), the step an optimizer passes, and schedules kept in
optimizer configs and ``.keras`` files."""
import json
import os

import numpy as np
import pytest

import tensorlib as keras
from tensorlib.optimizers import schedules

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "lr_schedules.json")
with open(DATA) as f:
    KERAS = json.load(f)
CASES = sorted(k for k in KERAS if k != "adam_config")


@pytest.mark.parametrize("case", CASES)
def test_schedule_values_and_config_match_keras(case):
    record = KERAS[case]["record"]
    schedule = schedules.deserialize(record)
    got = [schedule(step) for step in range(len(KERAS[case]["values"]))]
    np.testing.assert_allclose(got, KERAS[case]["values"], rtol=2e-6, atol=1e-9)
    assert schedules.serialize(schedule) == record
    assert keras.optimizers.schedules.serialize(
        type(schedule).from_config(schedule.get_config())) == record


def test_optimizer_config_holds_the_schedule_as_keras_does():
    sched = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=7, decay_rate=0.5)
    config = keras.optimizers.Adam(learning_rate=sched).get_config()
    assert config["learning_rate"] == KERAS["adam_config"]["learning_rate"]
    again = keras.optimizers.Adam.from_config(KERAS["adam_config"])
    assert isinstance(again._learning_rate, schedules.ExponentialDecay)
    assert again.learning_rate == pytest.approx(0.1)


def test_sgd_steps_use_the_rate_of_each_step():
    """Plain SGD on a linear model: step i moves the weights by lr(i) * gradient, lr from
    Keras's values (the optimizer passes ``iterations``, 0 at the first update)."""
    case = "piecewise"
    sched = schedules.deserialize(KERAS[case]["record"])
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 3)).astype(np.float32)
    y = rng.normal(size=(8, 1)).astype(np.float32)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=sched), loss="mse")
    w, b = [a.astype(np.float64) for a in model.get_weights()]
    for step in range(14):
        model.train_on_batch(x, y)
        g = 2 * (x @ w + b - y) / len(x)
        lr = KERAS[case]["values"][step]
        w, b = w - lr * (x.T @ g), b - lr * g.sum(0)
    got_w, got_b = model.get_weights()
    np.testing.assert_allclose(got_w, w, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(got_b, b, rtol=1e-4, atol=1e-6)
    assert model.optimizer.iterations == 14


def test_schedule_survives_a_keras_file(tmp_path):
    pytest.importorskip("h5py")
    sched = keras.optimizers.schedules.CosineDecay(0.01, decay_steps=100, alpha=0.1)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer=keras.optimizers.Adam(sched), loss="mse")
    model.fit(np.ones((4, 3), np.float32), np.zeros((4, 2), np.float32), verbose=0)
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    lr = loaded.optimizer._learning_rate
    assert isinstance(lr, schedules.CosineDecay) and lr.get_config() == sched.get_config()
    assert loaded.optimizer.iterations == model.optimizer.iterations


@pytest.mark.parametrize("make, message", [
    (lambda: schedules.ExponentialDecay(0.1, decay_steps=0, decay_rate=0.5), "decay_steps"),
    (lambda: schedules.PiecewiseConstantDecay([1, 2], [1.0]), "values"),
    (lambda: schedules.PiecewiseConstantDecay([2, 1], [1.0, 2.0, 3.0]), "increase"),
    (lambda: schedules.CosineDecay(0.1, decay_steps=10, warmup_steps=-1), "warmup_steps"),
    (lambda: schedules.deserialize({"class_name": "Nope", "config": {}}), "Nope"),
])
def test_bad_arguments_are_named(make, message):
    with pytest.raises(ValueError, match=message):
        make()
