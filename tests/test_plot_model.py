"""``keras.utils.plot_model`` / ``model_to_dot``: one box per layer, an arrow per tensor
handed from one layer to the next, labels with names and shapes; a PNG drawn by Graphviz
(CI installs it) and a .dot file written without it."""
import re
import shutil

import pytest

import tensorlib as keras


def _functional():
    a, b = keras.Input((4,), name="a"), keras.Input((3,), name="b")
    x = keras.layers.Concatenate(name="cat")([keras.layers.Dense(2, name="da")(a), b])
    return keras.Model([a, b], keras.layers.Dense(1, name="out")(x * 2.0), name="two_in")


def _edges(text):
    names = dict(re.findall(r'(n\d+) \[label="([^ \\"]+)', text))
    return {(names[a], names[b]) for a, b in re.findall(r"(n\d+) -> (n\d+);", text)}


def test_functional_graph_boxes_and_arrows():
    model = _functional()
    op = next(n.layer.name for n in model._graph.nodes if getattr(n.layer, "_is_op", False))
    text = keras.utils.model_to_dot(model, show_shapes=True)
    assert text.startswith('digraph "two_in" {')
    assert _edges(text) == {("a", "da"), ("da", "cat"), ("b", "cat"), ("cat", op),
                            (op, "out")}
    assert "cat (Concatenate)\\nInput shape: (None, 2), (None, 3)\\nOutput shape: " \
           "(None, 5)" in text


def test_sequential_is_a_chain():
    model = keras.Sequential([keras.Input((3,), name="x"), keras.layers.Dense(2, name="d1"),
                              keras.layers.Dense(1, name="d2")])
    text = keras.utils.model_to_dot(model, show_layer_names=True, rankdir="LR")
    assert _edges(text) == {("x", "d1"), ("d1", "d2")} and "rankdir=LR" in text


def test_dot_file_needs_no_graphviz(tmp_path, monkeypatch):
    model = _functional()
    monkeypatch.setattr(shutil, "which", lambda name: None)
    path = keras.utils.plot_model(model, str(tmp_path / "m.dot"), show_layer_names=True)
    with open(path) as f:
        assert f.read() == keras.utils.model_to_dot(model, show_layer_names=True)
    with pytest.raises(ImportError, match="graphviz"):
        keras.utils.plot_model(model, str(tmp_path / "m.png"))


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_png_is_drawn(tmp_path):
    path = keras.utils.plot_model(_functional(), to_file=str(tmp_path / "m.png"),
                                  show_shapes=True, show_dtype=True, show_trainable=True)
    with open(path, "rb") as f:
        head = f.read(8)
    assert head == b"\x89PNG\r\n\x1a\n"


def test_bad_arguments_are_named(tmp_path):
    with pytest.raises(ValueError, match="rankdir"):
        keras.utils.model_to_dot(_functional(), rankdir="XY")
    with pytest.raises(ValueError, match="expected a model"):
        keras.utils.model_to_dot(3)
