"""Keras 3 metrics: results after the same weighted update sequence as Keras
(tests/data/metrics.npz and metric_configs.json, made by tests/make_loss_metric_fixtures.py),
independent NumPy formulas, custom Metric subclasses written as Keras documents them, and
compile's metric names."""
import json
import os

import numpy as np
import pytest

import tensorlib as tl
from tensorlib import keras_ops as ops
from tensorlib import layers, metrics, models

HERE = os.path.join(os.path.dirname(__file__), "data")
DATA = np.load(os.path.join(HERE, "metrics.npz"))
IN = {k[3:]: DATA[k] for k in DATA.files if k.startswith("in/")}
with open(os.path.join(HERE, "metric_configs.json")) as f:
    CONFIGS = json.load(f)
B = 3

M = metrics
CASES = {  # same table as the fixture generator: (factory, y_true key, y_pred key)
    "mse": (lambda: M.MeanSquaredError(), "reg_true", "reg_pred"),
    "rmse": (lambda: M.RootMeanSquaredError(), "reg_true", "reg_pred"),
    "mae": (lambda: M.MeanAbsoluteError(), "reg_true", "reg_pred"),
    "mape": (lambda: M.MeanAbsolutePercentageError(), "reg_true", "reg_pred"),
    "msle": (lambda: M.MeanSquaredLogarithmicError(), "reg_true", "reg_pred"),
    "binary_accuracy": (lambda: M.BinaryAccuracy(threshold=0.7), "ml_true", "ml_prob"),
    "categorical_accuracy": (lambda: M.CategoricalAccuracy(), "cat_true", "cat_prob"),
    "sparse_categorical_accuracy": (lambda: M.SparseCategoricalAccuracy(), "sparse_true",
                                    "cat_prob"),
    "top2": (lambda: M.TopKCategoricalAccuracy(k=2), "cat_true", "cat_prob"),
    "sparse_top2": (lambda: M.SparseTopKCategoricalAccuracy(k=2), "sparse_true",
                    "cat_prob"),
    "precision": (lambda: M.Precision(), "ml_true", "ml_prob"),
    "precision_thr": (lambda: M.Precision(thresholds=[0.3, 0.7]), "ml_true", "ml_prob"),
    "precision_top2": (lambda: M.Precision(top_k=2), "ml_true", "ml_prob"),
    "precision_class1": (lambda: M.Precision(class_id=1), "ml_true", "ml_prob"),
    "recall": (lambda: M.Recall(), "ml_true", "ml_prob"),
    "recall_thr": (lambda: M.Recall(thresholds=0.4), "ml_true", "ml_prob"),
    "recall_top1_class2": (lambda: M.Recall(top_k=1, class_id=2), "ml_true", "ml_prob"),
    "auc": (lambda: M.AUC(), "ml_true", "ml_prob"),
    "auc_pr": (lambda: M.AUC(curve="PR"), "ml_true", "ml_prob"),
    "auc_min": (lambda: M.AUC(summation_method="minoring", num_thresholds=50),
                "ml_true", "ml_prob"),
    "auc_maj": (lambda: M.AUC(summation_method="majoring", num_thresholds=13),
                "ml_true", "ml_prob"),
    "auc_pr_maj": (lambda: M.AUC(curve="PR", summation_method="majoring"),
                   "ml_true", "ml_prob"),
    "auc_lw": (lambda: M.AUC(num_thresholds=30, label_weights=[1.0, 2.0, 0.5]), "ml_true",
               "ml_prob"),
    "auc_ml": (lambda: M.AUC(multi_label=True), "ml_true", "ml_prob"),
    "auc_ml_pr_lw": (lambda: M.AUC(multi_label=True, curve="PR",
                                   label_weights=[0.2, 0.5, 0.3]), "ml_true", "ml_prob"),
    "auc_ml_logits": (lambda: M.AUC(multi_label=True, num_labels=3, from_logits=True,
                                    num_thresholds=40, summation_method="minoring"),
                      "ml_true", "reg_pred"),
    "f1_none": (lambda: M.F1Score(threshold=0.5), "ml_true", "ml_prob"),
    "f1_micro": (lambda: M.F1Score(average="micro", threshold=0.4), "ml_true", "ml_prob"),
    "f1_macro": (lambda: M.F1Score(average="macro"), "cat_true", "cat_prob"),
    "f1_weighted": (lambda: M.F1Score(average="weighted", threshold=0.5), "ml_true",
                    "ml_prob"),
    "fbeta2": (lambda: M.FBetaScore(beta=2.0, average="macro", threshold=0.5), "ml_true",
               "ml_prob"),
    "cce_metric": (lambda: M.CategoricalCrossentropy(label_smoothing=0.1), "cat_true",
                   "cat_prob"),
    "bce_metric": (lambda: M.BinaryCrossentropy(), "ml_true", "ml_prob"),
    "kld_metric": (lambda: M.KLDivergence(), "cat_true", "cat_prob"),
    "poisson_metric": (lambda: M.Poisson(), "reg_true", "reg_pred"),
    "hinge_metric": (lambda: M.Hinge(), "ml_true", "ml_prob"),
    "log_cosh_metric": (lambda: M.LogCoshError(), "reg_true", "reg_pred"),
    "cosine_metric": (lambda: M.CosineSimilarity(), "reg_true", "reg_pred"),
}


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("weighted", [False, True])
def test_metric_matches_keras_after_each_batch(name, weighted):
    make, t, p = CASES[name]
    metric = make()
    got = []
    for i in range(B):
        sw = IN[f"sw{i}"] if weighted else None
        metric.update_state(IN[f"{t}{i}"], tl.tensor(IN[f"{p}{i}"]), sample_weight=sw)
        got.append(np.asarray(metric.result(), dtype=np.float64))
    # Keras's torch backend takes means in float32 even under floatx float64
    np.testing.assert_allclose(np.stack(got), DATA[name + ("/sw" if weighted else "")],
                               rtol=5e-7, atol=1e-9)
    metric.reset_state()
    assert np.all(np.asarray(metric.result()) == 0)


@pytest.mark.parametrize("cls,key", [(metrics.Mean, "mean"), (metrics.Sum, "sum")])
@pytest.mark.parametrize("weighted", [False, True])
def test_mean_and_sum_match_keras(cls, key, weighted):
    m, got = cls(), []
    for i in range(B):
        m.update_state(IN[f"values{i}"], sample_weight=IN[f"sw{i}"] if weighted else None)
        got.append(m.result())
    np.testing.assert_allclose(got, DATA[key + ("/sw" if weighted else "")], rtol=1e-7)


def test_configs_match_keras():
    for name, (make, _, _) in CASES.items():
        want = {k: v for k, v in CONFIGS[name].items() if k not in ("dtype", "name")}
        got = make().get_config()
        got = {k: v for k, v in got.items() if k not in ("dtype", "name")}
        if name == "cosine_metric":        # Keras's config drops `axis`; tensorlib keeps it
            assert got.pop("axis") == -1
        assert got == want, name
        assert type(metrics.get({"class_name": type(make()).__name__,
                                 "config": make().get_config()})) is type(make())


def test_confusion_counts_and_auc_by_hand():
    y = np.array([0, 0, 1, 1, 1, 0])
    p = np.array([0.1, 0.6, 0.4, 0.8, 0.9, 0.3])
    w = np.array([1.0, 2.0, 0.5, 1.0, 1.0, 3.0])
    prec = metrics.Precision()
    prec.update_state(y, p, sample_weight=w)
    assert prec.result() == pytest.approx(2.0 / 4.0)      # tp = 1 + 1, fp = 2
    rec = metrics.Recall()
    rec.update_state(y, p, sample_weight=w)
    assert rec.result() == pytest.approx(2.0 / 2.5)
    # the exact ROC AUC is the weighted probability that a positive outranks a negative;
    # with many thresholds the trapezoid rule reaches it
    auc = metrics.AUC(num_thresholds=2001)
    auc.update_state(y, p, sample_weight=w)
    pos, neg = np.where(y == 1)[0], np.where(y == 0)[0]
    exact = sum(w[i] * w[j] * (p[i] > p[j]) for i in pos for j in neg) / (
        w[pos].sum() * w[neg].sum())
    assert auc.result() == pytest.approx(exact, abs=1e-9)


def test_f1_by_hand():
    y = np.array([[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 1]])
    p = np.array([[0.9, 0.2, 0.4], [0.1, 0.7, 0.6], [0.8, 0.3, 0.1], [0.2, 0.1, 0.9]])
    f1 = metrics.F1Score(threshold=0.5)
    f1.update_state(y, p)
    pred = p > 0.5
    tp = (pred & (y == 1)).sum(0)
    fp = (pred & (y == 0)).sum(0)
    fn = (~pred & (y == 1)).sum(0)
    want = 2 * tp / (2 * tp + fp + fn)
    np.testing.assert_allclose(f1.result(), want, rtol=1e-6)


class BinaryTruePositives(metrics.Metric):
    """As in the Keras 3 docstring of keras.metrics.Metric (ops written as there, except
    where tensorlib's keras_ops lacks logical_and/broadcast_to)."""

    def __init__(self, name="binary_true_positives", **kwargs):
        super().__init__(name=name, **kwargs)
        self.true_positives = self.add_variable(shape=(), initializer="zeros",
                                                name="true_positives")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.cast(y_true, "bool")
        y_pred = ops.cast(ops.greater(y_pred, 0.5), "bool")
        values = ops.cast(ops.equal(y_true, True), "float32") * ops.cast(
            ops.equal(y_pred, True), "float32")
        if sample_weight is not None:
            sample_weight = ops.cast(sample_weight, "float32")
            values = ops.multiply(values, ops.reshape(sample_weight, (-1, 1)))
        self.true_positives.assign(self.true_positives + ops.sum(values))

    def result(self):
        return self.true_positives


class CategoricalTruePositives(metrics.Metric):
    """The Keras guide's example ("Training & evaluation with the built-in methods"), with
    ``ops.equal`` for its ``==`` (a tensorlib Tensor has no elementwise ``==``)."""

    def __init__(self, name="categorical_true_positives", **kwargs):
        super().__init__(name=name, **kwargs)
        self.true_positives = self.add_weight(name="ctp", initializer="zeros")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.reshape(ops.argmax(y_pred, axis=1), (-1, 1))
        values = ops.equal(ops.cast(y_true, "int32"), ops.cast(y_pred, "int32"))
        values = ops.cast(values, "float32")
        if sample_weight is not None:
            sample_weight = ops.cast(sample_weight, "float32")
            values = ops.multiply(values, sample_weight)
        self.true_positives.assign_add(ops.sum(values))

    def result(self):
        return self.true_positives

    def reset_state(self):
        self.true_positives.assign(0.0)


def test_custom_metric_variables_and_state():
    m = BinaryTruePositives()
    assert [v.name for v in m.variables] == ["true_positives"]
    m.update_state(np.array([[1], [0], [1]]), np.array([[0.9], [0.8], [0.2]]))
    m.update_state(np.array([[1], [1]]), np.array([[0.7], [0.6]]), sample_weight=[2.0, 0.5])
    assert m.result() == pytest.approx(3.5)
    assert m.result().numpy() == pytest.approx(3.5)
    assert float(m.true_positives.numpy()) == pytest.approx(3.5)
    m.reset_state()                                   # the default: initial values
    assert m.result() == 0.0
    v = m.add_variable((2,), initializer="ones", name="v")
    v.assign_add(np.array([1.0, 2.0]))
    v.assign_sub(1.0)
    np.testing.assert_allclose(v.numpy(), [1.0, 2.0])
    np.testing.assert_allclose((v * 2).numpy(), [2.0, 4.0])
    with pytest.raises(ValueError, match="Received: value.shape=\\(3,\\)"):
        v.assign(np.zeros(3))


def test_custom_metric_in_fit_and_evaluate_logs():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 5)).astype(np.float32)
    labels = rng.integers(0, 3, 64)
    model = models.Sequential([layers.Input((5,)), layers.Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy",
                  metrics=[CategoricalTruePositives(), "acc"])
    hist = model.fit(x, labels.reshape(-1, 1), batch_size=16, epochs=2, verbose=0)
    assert "categorical_true_positives" in hist.history
    assert len(hist.history["categorical_true_positives"]) == 2
    res = model.evaluate(x, labels.reshape(-1, 1), batch_size=16, verbose=0,
                         return_dict=True)
    pred = np.argmax(model.predict(x, verbose=0), axis=1)
    assert res["categorical_true_positives"] == pytest.approx(float(np.sum(pred == labels)))
    assert res["acc"] == pytest.approx(np.mean(pred == labels))


def test_compile_metric_names_and_log_keys():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(32, 4)).astype(np.float32)
    y = (rng.uniform(size=(32, 1)) > 0.5).astype(np.float32)
    model = models.Sequential([layers.Input((4,)), layers.Dense(1, activation="sigmoid")])
    assert model.metrics_names == []
    model.compile("sgd", "binary_crossentropy")
    assert model.metrics_names == ["loss"]
    names = ["mse", "mae", "mape", "msle", "AUC", "auc", "precision", "recall", "accuracy",
             "acc", "binary_accuracy", metrics.AUC(), metrics.RootMeanSquaredError()]
    model.compile("sgd", "binary_crossentropy", metrics=names)
    assert model.metrics_names == ["loss", "compile_metrics"]
    hist = model.fit(x, y, epochs=1, verbose=0)
    # the keys Keras 3.15 logs for the same compile call
    assert sorted(hist.history) == ["AUC", "acc", "accuracy", "auc", "auc_1",
                                    "binary_accuracy", "loss", "mae", "mape", "mse", "msle",
                                    "precision", "recall", "root_mean_squared_error"]
    res = model.evaluate(x, y, verbose=0, return_dict=True)
    p = model.predict(x, verbose=0)
    assert res["mse"] == pytest.approx(np.mean((p - y) ** 2), rel=1e-5)
    assert res["precision"] == pytest.approx(
        np.sum((p > 0.5) & (y == 1)) / max(np.sum(p > 0.5), 1), rel=1e-6)


def test_bare_string_metrics_fail_at_compile():
    model = models.Sequential([layers.Input((4,)), layers.Dense(1)])
    with pytest.raises(ValueError, match="Expected `metrics` argument to be a list, tuple, "
                                         "or dict. Received instead: metrics=mse of type "
                                         "<class 'str'>"):
        model.compile("sgd", "mse", metrics="mse")


def test_unknown_names_and_bad_arguments():
    with pytest.raises(ValueError, match="Could not interpret metric identifier"):
        metrics.get("nope")
    with pytest.raises(ValueError, match="Received: thresholds=\\[1.5\\]"):
        metrics.Precision(thresholds=[1.5])
    with pytest.raises(ValueError, match="Received: curve='XY'"):
        metrics.AUC(curve="XY")
    with pytest.raises(ValueError, match="Received: average='mean'"):
        metrics.F1Score(average="mean")
    with pytest.raises(ValueError, match="Received: k=0"):
        metrics.TopKCategoricalAccuracy(k=0)


def test_metric_objects_survive_keras_file(tmp_path):
    model = models.Sequential([layers.Input((4,)), layers.Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy",
                  metrics=[metrics.AUC(num_thresholds=50, curve="PR"), "precision",
                           metrics.Recall(thresholds=0.3)])
    path = str(tmp_path / "m.keras")
    model.save(path)
    back = models.load_model(path)
    x = np.zeros((4, 4), np.float32)
    back.evaluate(x, np.ones((4, 1), np.float32), verbose=0)
    kinds = {type(m).__name__: m for m in back.metrics}
    assert kinds["AUC"].num_thresholds == 50 and kinds["AUC"].curve == "PR"
    assert kinds["Recall"].init_thresholds == 0.3
    assert "Precision" in kinds


def test_keras_written_file_with_new_activations_loss_and_metrics():
    """keras_files/act_metrics.keras (Keras 3.15): gelu/silu/mish/elu/hard_silu/selu/
    softplus/leaky_relu layers, a BinaryFocalCrossentropy loss and AUC/Precision objects."""
    exp = np.load(os.path.join(HERE, "keras_files", "act_metrics_expected.npz"))
    model = models.load_model(os.path.join(HERE, "keras_files", "act_metrics.keras"))
    np.testing.assert_allclose(model.predict(exp["x"], verbose=0), exp["pred"], rtol=1e-5,
                               atol=1e-6)
    assert type(model.loss).__name__ == "BinaryFocalCrossentropy" and model.loss.gamma == 1.5
    res = model.evaluate(exp["x"], exp["y"], batch_size=40, verbose=0, return_dict=True)
    want = {k[5:]: float(exp[k]) for k in exp.files if k.startswith("eval/")}
    assert sorted(res) == sorted(want)
    for k, v in want.items():
        assert res[k] == pytest.approx(v, rel=1e-5, abs=1e-6), k


def test_vector_results_in_logs_and_progress_bar(capsys):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(32, 4)).astype(np.float32)
    y = (rng.uniform(size=(32, 3)) > 0.5).astype(np.float32)
    model = models.Sequential([layers.Input((4,)), layers.Dense(3, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy",
                  metrics=[metrics.F1Score(threshold=0.5), metrics.AUC(multi_label=True)])
    hist = model.fit(x, y, epochs=1, batch_size=32, verbose=1)
    f1 = hist.history["f1_score"][0]
    assert np.shape(f1) == (3,)
    mean = float(np.mean(f1))
    assert f"f1_score: {mean:.4f}" in capsys.readouterr().out      # the mean, as Keras
    pred = model.predict(x, verbose=0) > 0.5
    res = model.evaluate(x, y, verbose=0, return_dict=True)
    tp = np.sum(pred & (y == 1), 0)
    want = 2 * tp / (2 * tp + np.sum(pred & (y == 0), 0) + np.sum(~pred & (y == 1), 0))
    np.testing.assert_allclose(res["f1_score"], want, rtol=1e-5)
