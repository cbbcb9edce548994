"""Keras 3 losses beyond the crossentropies/MSE/MAE, and label smoothing / from_logits /
reductions / sample weights on all: values against Keras 3 (tests/data/losses.npz, made by
tests/make_loss_metric_fixtures.py), gradients by finite differences, names and configs."""
import os

import numpy as np
import pytest
from gradcheck import check_gradients

import tensorlib as tl
from tensorlib import losses

DATA = np.load(os.path.join(os.path.dirname(__file__), "data", "losses.npz"))
IN = {k[3:]: DATA[k] for k in DATA.files if k.startswith("in/")}
SCALAR = ["sum_over_batch_size", "sum", "mean", "mean_with_sample_weight"]

CASES = {  # same table as the fixture generator: (class, kwargs, y_true, y_pred)
    "mse": (losses.MeanSquaredError, {}, "reg_true", "reg_pred"),
    "mae": (losses.MeanAbsoluteError, {}, "reg_true", "reg_pred"),
    "mape": (losses.MeanAbsolutePercentageError, {}, "reg_true", "reg_pred"),
    "msle": (losses.MeanSquaredLogarithmicError, {}, "reg_true", "reg_pred"),
    "huber": (losses.Huber, {}, "reg_true", "sgn_pred"),
    "huber_d0.3": (losses.Huber, {"delta": 0.3}, "reg_true", "sgn_pred"),
    "log_cosh": (losses.LogCosh, {}, "reg_true", "sgn_pred"),
    "poisson": (losses.Poisson, {}, "reg_true", "reg_pred"),
    "kld": (losses.KLDivergence, {}, "cat_true_soft", "cat_prob"),
    "cosine": (losses.CosineSimilarity, {}, "reg_true", "sgn_pred"),
    "cosine_ax0": (losses.CosineSimilarity, {"axis": 0}, "reg_true", "sgn_pred"),
    "hinge": (losses.Hinge, {}, "bin_true", "sgn_pred"),
    "squared_hinge": (losses.SquaredHinge, {}, "bin_true", "sgn_pred"),
    "categorical_hinge": (losses.CategoricalHinge, {}, "cat_true", "cat_logit"),
    "bce": (losses.BinaryCrossentropy, {}, "bin_true", "bin_prob"),
    "bce_ls": (losses.BinaryCrossentropy, {"label_smoothing": 0.2}, "bin_true", "bin_prob"),
    "bce_logits_ls": (losses.BinaryCrossentropy, {"from_logits": True,
                                                  "label_smoothing": 0.1},
                      "bin_true", "bin_logit"),
    "cce_ls": (losses.CategoricalCrossentropy, {"label_smoothing": 0.2}, "cat_true",
               "cat_prob"),
    "cce_logits_ls": (losses.CategoricalCrossentropy, {"from_logits": True,
                                                       "label_smoothing": 0.1},
                      "cat_true", "cat_logit"),
    "scce_logits": (losses.SparseCategoricalCrossentropy, {"from_logits": True},
                    "sparse_true", "cat_logit"),
    "bfocal": (losses.BinaryFocalCrossentropy, {}, "bin_true", "bin_prob"),
    "bfocal_bal": (losses.BinaryFocalCrossentropy, {"apply_class_balancing": True,
                                                    "alpha": 0.3, "gamma": 1.5,
                                                    "label_smoothing": 0.1},
                   "bin_true", "bin_prob"),
    "bfocal_logits": (losses.BinaryFocalCrossentropy, {"from_logits": True, "gamma": 3.0},
                      "bin_true", "bin_logit"),
    "cfocal": (losses.CategoricalFocalCrossentropy, {}, "cat_true", "cat_prob"),
    "cfocal_logits_ls": (losses.CategoricalFocalCrossentropy, {"from_logits": True,
                                                               "alpha": 0.5, "gamma": 1.0,
                                                               "label_smoothing": 0.1},
                         "cat_true", "cat_logit"),
}


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("weighted", [False, True])
def test_loss_matches_keras_under_every_reduction(name, weighted):
    if weighted and f"{name}/sw" not in DATA.files:
        pytest.skip("Keras cannot weight this case by sample")
    cls, kw, t, p = CASES[name]
    sw = IN["sw"] if weighted else None
    tag = "/sw" if weighted else ""
    got = [cls(reduction=r, **kw)(IN[t], tl.tensor(IN[p]), sample_weight=sw).item()
           for r in SCALAR]
    # Keras's torch backend takes means in float32 even under floatx float64 (its
    # result_type(float64, "float32") is float32), so its values carry float32 rounding
    rtol = 1e-6 if name == "msle" else 3e-7     # Keras computes its logs in float32 too
    np.testing.assert_allclose(got, DATA[name + tag], rtol=rtol, atol=1e-9)
    per = {}
    for red in ("none", None):
        per[red] = cls(reduction=red, **kw)(IN[t], tl.tensor(IN[p]), sample_weight=sw).numpy()
        np.testing.assert_allclose(per[red], DATA[f"{name}/none{tag}"], rtol=rtol, atol=1e-9)
    # the reductions exactly, in float64: NumPy's reductions of the weighted values
    v = per[None]
    w = np.ones(v.shape) if sw is None else np.broadcast_to(sw, v.shape)
    want = [v.sum() / v.size, v.sum(), v.sum() / v.size, v.sum() / w.sum()]
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)


def test_functions_give_per_sample_values():
    got = losses.huber(IN["reg_true"], tl.tensor(IN["sgn_pred"]), delta=0.3).numpy()
    np.testing.assert_allclose(got, DATA["huber_d0.3/none"], rtol=3e-7)
    got = losses.kld(IN["cat_true_soft"], tl.tensor(IN["cat_prob"])).numpy()
    np.testing.assert_allclose(got, DATA["kld/none"], rtol=3e-7)


def test_independent_formulas():
    t, p = IN["reg_true"], IN["sgn_pred"]
    e = p - t
    np.testing.assert_allclose(losses.log_cosh(t, tl.tensor(p)).numpy(),
                               np.mean(np.log(np.cosh(e)), -1), rtol=1e-12)
    y = np.where(IN["bin_true"] > 0, 1.0, -1.0)
    np.testing.assert_allclose(losses.hinge(IN["bin_true"], tl.tensor(p)).numpy(),
                               np.mean(np.maximum(1 - y * p, 0), -1), rtol=1e-12)
    # labels already -1/1 are used as given
    np.testing.assert_allclose(losses.squared_hinge(y, tl.tensor(p)).numpy(),
                               np.mean(np.maximum(1 - y * p, 0) ** 2, -1), rtol=1e-12)
    q = IN["reg_pred"]
    np.testing.assert_allclose(
        losses.msle(t, tl.tensor(q)).numpy(),
        np.mean((np.log1p(np.maximum(q, 1e-7)) - np.log1p(np.maximum(t, 1e-7))) ** 2, -1),
        rtol=1e-12)
    np.testing.assert_allclose(losses.mape(t, tl.tensor(q)).numpy(),
                               100 * np.mean(np.abs(t - q) / np.maximum(np.abs(t), 1e-7), -1),
                               rtol=1e-12)
    cos = -np.sum(t * p, -1) / np.linalg.norm(t, axis=-1) / np.linalg.norm(p, axis=-1)
    np.testing.assert_allclose(losses.cosine_similarity(t, tl.tensor(p)).numpy(), cos,
                               rtol=1e-12)


GRAD_CASES = ["mape", "msle", "huber_d0.3", "log_cosh", "poisson", "kld", "cosine",
              "cosine_ax0", "hinge", "squared_hinge", "categorical_hinge", "bce_logits_ls",
              "cce_logits_ls", "bfocal_bal", "bfocal_logits", "cfocal", "cfocal_logits_ls"]


@pytest.mark.parametrize("name", GRAD_CASES)
def test_loss_gradients(name):
    cls, kw, t, p = CASES[name]
    loss = cls(reduction="none", **kw)
    sw = None if name == "cosine_ax0" else IN["sw"]
    check_gradients(lambda x: loss(IN[t], x, sample_weight=sw), [IN[p].copy()])


def test_names_configs_and_registry():
    for name, cls in [("huber", losses.Huber), ("Huber", losses.Huber),
                      ("log_cosh", losses.LogCosh), ("kld", losses.KLDivergence),
                      ("kl_divergence", losses.KLDivergence), ("mape",
                      losses.MeanAbsolutePercentageError), ("msle",
                      losses.MeanSquaredLogarithmicError), ("poisson", losses.Poisson),
                      ("cosine_similarity", losses.CosineSimilarity),
                      ("hinge", losses.Hinge), ("squared_hinge", losses.SquaredHinge),
                      ("categorical_hinge", losses.CategoricalHinge),
                      ("binary_focal_crossentropy", losses.BinaryFocalCrossentropy),
                      ("CategoricalFocalCrossentropy", losses.CategoricalFocalCrossentropy)]:
        assert isinstance(losses.get(name), cls), name
    assert losses.Huber().name == "huber_loss"
    assert losses.get("kld").name == "kld"            # named after the string, as compile
    cfg = losses.BinaryFocalCrossentropy(gamma=3.0).get_config()
    assert cfg == {"name": "binary_focal_crossentropy", "reduction": "sum_over_batch_size",
                   "dtype": None, "from_logits": False, "label_smoothing": 0.0, "axis": -1,
                   "apply_class_balancing": False, "alpha": 0.25, "gamma": 3.0}
    back = losses.get({"class_name": "Huber", "config": {"delta": 0.3, "name": "h",
                                                         "reduction": "sum"}})
    assert (back.delta, back.name, back.reduction) == (0.3, "h", "sum")


def test_bad_arguments():
    with pytest.raises(ValueError, match="Received: reduction='avg'"):
        losses.Huber(reduction="avg")
    with pytest.raises(ValueError, match="Received: gamma=-1"):
        losses.BinaryFocalCrossentropy(gamma=-1)
    with pytest.raises(ValueError, match="Received: delta=-0.5"):
        losses.Huber(delta=-0.5)(IN["reg_true"], tl.tensor(IN["reg_pred"]))
    with pytest.raises(ValueError, match="y_true.shape=\\(6, 3\\), y_pred.shape=\\(6, 4\\)"):
        losses.poisson(IN["reg_true"], tl.tensor(IN["cat_prob"]))


def test_compile_and_fit_with_new_losses():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 4)).astype(np.float32)
    y = rng.uniform(0.5, 1.5, size=(32, 1)).astype(np.float32)
    for loss in ("huber", "log_cosh", losses.Huber(delta=0.5), "poisson", "msle"):
        model = tl.models.Sequential([tl.layers.Input((4,)),
                                      tl.layers.Dense(1, activation="softplus")])
        model.compile("adam", loss)
        hist = model.fit(x, y, epochs=2, batch_size=8, verbose=0)
        assert np.isfinite(hist.history["loss"]).all()
        assert hist.history["loss"][-1] < hist.history["loss"][0] + 1e-3
