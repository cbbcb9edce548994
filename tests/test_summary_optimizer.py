"""``summary()`` counts the optimizer's variables once it is built, as Keras 3 prints
them ("Optimizer params", added to "Total params"); fixtures from
``make_summary_optimizer_fixtures.py``."""
import contextlib
import io
import os

import numpy as np
import pytest

import tensorlib as keras

from make_summary_optimizer_fixtures import DATA
from make_summary_optimizer_fixtures import model as _model
from make_summary_optimizer_fixtures import optimizers

OPTIMIZERS = optimizers(keras)


def model():
    return _model(keras)


def totals(text):
    """The lines after the table."""
    return text[text.rindex("┘") + 2:]


def capture(m, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        m.summary()
    return buf.getvalue()


def expected(name):
    with open(os.path.join(DATA, f"summary_opt_{name}_76.txt"), encoding="utf-8") as f:
        return f.read()


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_params_line_after_a_step(name, monkeypatch):
    m = model()
    m.compile(optimizer=OPTIMIZERS[name](), loss="mse")
    m.train_on_batch(np.ones((4, 4), "float32"), np.ones((4, 3), "float32"))
    assert totals(capture(m, monkeypatch)) == totals(expected(name))


def test_no_optimizer_line_before_the_optimizer_is_built(monkeypatch):
    m = model()
    assert "Optimizer params" not in capture(m, monkeypatch)
    m.compile(optimizer="adam", loss="mse")
    text = capture(m, monkeypatch)
    assert "Optimizer params" not in text
    assert totals(text) == totals(expected("compiled"))


def test_optimizer_params_survive_save_and_load(tmp_path, monkeypatch):
    pytest.importorskip("h5py")
    m = model()
    m.compile(optimizer="adam", loss="mse")
    m.train_on_batch(np.ones((4, 4), "float32"), np.ones((4, 3), "float32"))
    m.save(str(tmp_path / "m.keras"))
    loaded = keras.saving.load_model(str(tmp_path / "m.keras"))
    assert totals(capture(loaded, monkeypatch)) == totals(expected("adam"))
