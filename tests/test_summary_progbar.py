"""``Model.summary()`` and the training progress display, compared with text that real
Keras 3 printed (fixtures in tests/data/, made by tests/make_keras_fixtures.py)."""
import io
import json
import os
import re

import numpy as np
import pytest

import keras_file_graphs
import tensorlib
import tensorlib.layers.base as layers_base
from tensorlib import layers, models
from tensorlib.models import progbar as progbar_mod
from seed_models import seed_convnet, seed_dense

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def fixture_text(name):
    with open(os.path.join(DATA, name), encoding="utf-8") as f:
        return f.read()


@pytest.fixture(autouse=True)
def fresh_names(monkeypatch):
    """Keras's auto-names are global counters; every golden test starts from zero, and
    the terminal is 80 columns wide (Keras's width when stdout is not a terminal)."""
    layers_base._name_counts.clear()
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("LINES", "24")
    yield
    layers_base._name_counts.clear()


# ----------------------------------------------------------------- models
def mixed_model():
    return models.Sequential([
        layers.Conv2D(8, 3, strides=2, padding="same", input_shape=(16, 16, 3)),
        layers.BatchNormalization(),
        layers.Activation("relu"),
        layers.AveragePooling2D(2),
        layers.Dropout(0.25),
        layers.Conv2D(6, 3, padding="same", dilation_rate=2, activation="tanh"),
        layers.GlobalAveragePooling2D(),
        layers.Reshape((3, -1)),
        layers.Flatten(),
        layers.Dense(5, activation="sigmoid"),
    ])


BUILDERS = {"seed_convnet": seed_convnet, "seed_dense": seed_dense, "mixed": mixed_model}


# ----------------------------------------------------------------- summary goldens
@pytest.mark.parametrize("key", sorted(BUILDERS))
def test_summary_matches_keras_at_default_width(key, capsys):
    model = BUILDERS[key]()
    model.summary()
    assert capsys.readouterr().out == fixture_text(f"summary_{key}_76.txt")


@pytest.mark.parametrize("key", sorted(BUILDERS))
def test_summary_matches_keras_with_line_length_60(key, capsys):
    """At 60 columns Keras wraps long cells ("max_pooling2d" / "(MaxPooling2D)")."""
    model = BUILDERS[key]()
    model.summary(line_length=60)
    assert capsys.readouterr().out == fixture_text(f"summary_{key}_60.txt")


@pytest.mark.parametrize("key", ["convnet", "two_inputs", "shared", "nested"])
def test_functional_summary_matches_keras(key, capsys):
    """Functional models: input layers listed, Keras's layer order, the "Connected to"
    column unless the graph is a chain (made by tests/make_keras_functional_files.py)."""
    keras_file_graphs.GRAPHS[key](tensorlib).summary()
    assert capsys.readouterr().out == fixture_text(f"summary_fn_{key}_76.txt")


def test_functional_summary_at_keras_default_width():
    lines = []
    keras_file_graphs.shared(tensorlib).summary(line_length=108, print_fn=lines.append)
    assert "\n".join(lines) + "\n" == fixture_text("summary_fn_shared_108.txt")


def test_summary_of_unbuilt_model_matches_keras(capsys):
    model = models.Sequential([layers.Dense(4, activation="relu"), layers.Dense(2)])
    model.summary()
    assert capsys.readouterr().out == fixture_text("summary_unbuilt_76.txt")


def test_summary_print_fn_receives_the_same_text(capsys):
    lines = []
    model = seed_convnet()
    model.summary(print_fn=lines.append)
    assert capsys.readouterr().out == ""
    assert "\n".join(lines) + "\n" == fixture_text("summary_seed_convnet_76.txt")


def test_seed_convnet_summary_numbers():
    """The numbers in the golden file, checked independently of the table layout."""
    model = seed_convnet()
    assert model.count_params() == 93322
    assert [la.output_shape for la in model.layers] == [
        (None, 26, 26, 32), (None, 13, 13, 32), (None, 11, 11, 64), (None, 5, 5, 64),
        (None, 3, 3, 64), (None, 576), (None, 64), (None, 10)]
    assert [la.name for la in model.layers] == [
        "conv2d", "max_pooling2d", "conv2d_1", "max_pooling2d_1", "conv2d_2", "flatten",
        "dense", "dense_1"]
    assert model.name == "sequential"


def test_summary_width_follows_the_terminal_and_is_capped(monkeypatch, capsys):
    model = seed_dense()
    for columns, width in [("80", 76), ("70", 66), ("200", 88)]:
        monkeypatch.setenv("COLUMNS", columns)
        model.summary()
        out = capsys.readouterr().out
        assert max(len(line) for line in out.splitlines()) == width, columns


def test_summary_too_narrow_is_a_clear_error():
    with pytest.raises(ValueError, match="Received"):
        seed_dense().summary(line_length=10)


def test_second_model_gets_a_numbered_name(capsys):
    seed_dense()
    model = seed_dense()
    model.summary()
    out = capsys.readouterr().out
    assert out.startswith('Model: "sequential_1"')
    assert "dense_2 (Dense)" in out and "dense_3 (Dense)" in out


# ----------------------------------------------------------------- progress bar goldens
class FakeTTY(io.StringIO):
    def isatty(self):
        return True


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def time(self):
        return self.now


def load_progbar_scenarios():
    with open(os.path.join(DATA, "progbar.json"), encoding="utf-8") as f:
        return json.load(f)["scenarios"]


@pytest.mark.parametrize("scenario", load_progbar_scenarios(),
                         ids=lambda s: f"verbose{s['verbose']}-target{s['target']}")
def test_progbar_output_matches_keras_byte_for_byte(scenario, monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(progbar_mod, "time", clock)
    clock.now = scenario["start"]
    stream = FakeTTY()
    bar = progbar_mod.Progbar(scenario["target"], verbose=scenario["verbose"], stream=stream)
    for t, current, logs in scenario["updates"]:
        clock.now = scenario["start"] + t
        bar.update(current, logs)
    assert stream.getvalue() == scenario["output"]


def test_progbar_verbose1_on_a_terminal_redraws_with_bold_counter_and_bar(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(progbar_mod, "time", clock)
    clock.now = 50.0
    stream = FakeTTY()
    bar = progbar_mod.Progbar(4, verbose=1, stream=stream)
    for step in range(1, 5):
        clock.now += 0.25
        bar.update(step, {"loss": 1.0 / step})
    out = stream.getvalue()
    assert out.count("\r") == 4 and out.endswith("\n") and out.count("\n") == 1
    assert "\x1b[1m4/4\x1b[0m" in out
    last = out.split("\r")[-1]
    plain = re.sub(r"\x1b\[\d+m", "", last)
    assert plain.count("━") == 20
    assert re.fullmatch(r"4/4 ━{20} 1s 250ms/step - loss: 0\.2500\n", plain), repr(plain)


def test_progbar_time_units():
    assert progbar_mod.format_step_time(0.0123) == "12ms/step"
    assert progbar_mod.format_step_time(0.000123) == "123us/step"
    assert progbar_mod.format_step_time(2.4) == "2s/step"
    assert progbar_mod.format_step_time(0) == "0s/step"


def test_progbar_verbose0_prints_nothing():
    stream = FakeTTY()
    bar = progbar_mod.Progbar(3, verbose=0, stream=stream)
    for step in range(1, 4):
        bar.update(step, {"loss": 0.5})
    assert stream.getvalue() == ""


def test_progbar_not_a_terminal_prints_one_plain_line(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(progbar_mod, "time", clock)
    clock.now = 10.0
    stream = io.StringIO()
    bar = progbar_mod.Progbar(3, verbose=1, stream=stream)
    for step in range(1, 4):
        clock.now += 0.5
        bar.update(step, {"accuracy": 0.5, "loss": 0.123456})
    assert stream.getvalue() == "3/3 ━━━━━━━━━━━━━━━━━━━━ 2s 500ms/step - accuracy: 0.5000 - " \
                                "loss: 0.1235\n"


# ----------------------------------------------------------------- through fit/evaluate
def tiny_compiled_model():
    model = models.Sequential([layers.Input((4,)), layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def tiny_data(n=40):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 4)).astype("float32")
    y = np.eye(3, dtype="float32")[rng.integers(0, 3, n)]
    return x, y


METRIC = r"\d+\.\d{4}(e-\d\d)?"
STEP_TIME = r"\d+(s|ms|us)/step"


def test_fit_verbose2_prints_epoch_headers_and_one_line_per_epoch(capsys):
    x, y = tiny_data()
    tiny_compiled_model().fit(x, y, epochs=2, batch_size=16, verbose=2,
                              validation_split=0.25)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4, lines
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2"
    pattern = (rf"2/2 - \d+s - {STEP_TIME} - accuracy: {METRIC} - loss: {METRIC} - "
               rf"val_accuracy: {METRIC} - val_loss: {METRIC}")
    for line in (lines[1], lines[3]):
        assert re.fullmatch(pattern, line), line


def test_fit_verbose1_not_a_terminal_prints_one_plain_line_per_epoch(capsys):
    x, y = tiny_data()
    tiny_compiled_model().fit(x, y, epochs=3, batch_size=8, verbose=1)
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\r" not in out and "\b" not in out
    lines = out.splitlines()
    assert lines[0::2] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]
    for line in lines[1::2]:
        assert re.fullmatch(rf"5/5 ━{{20}} \d+s {STEP_TIME} - accuracy: {METRIC} - "
                            rf"loss: {METRIC}", line), line


def test_fit_verbose0_and_evaluate_verbose0_print_nothing(capsys):
    x, y = tiny_data()
    model = tiny_compiled_model()
    model.fit(x, y, epochs=2, verbose=0)
    model.evaluate(x, y, verbose=0)
    model.predict(x, verbose=0)
    assert capsys.readouterr().out == ""


def test_evaluate_verbose1_prints_one_line(capsys):
    x, y = tiny_data()
    tiny_compiled_model().evaluate(x, y, batch_size=10)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    assert re.fullmatch(rf"4/4 ━{{20}} \d+s {STEP_TIME} - accuracy: {METRIC} - "
                        rf"loss: {METRIC}", lines[0]), lines


def test_fit_verbose1_on_a_terminal_draws_the_dynamic_bar(monkeypatch):
    stream = FakeTTY()
    monkeypatch.setattr("sys.stdout", stream)
    x, y = tiny_data()
    tiny_compiled_model().fit(x, y, epochs=1, batch_size=8, verbose=1)
    out = stream.getvalue()
    assert "\r" in out and "\x1b[1m5/5\x1b[0m" in out
    final = re.sub(r"\x1b\[\d+m", "", out.split("\r")[-1])
    assert re.fullmatch(rf"5/5 ━{{20}} \d+s {STEP_TIME} - accuracy: {METRIC} - "
                        rf"loss: {METRIC} *\n", final), repr(final)
