"""Writes tests/data/activations.npz, losses.npz and metrics.npz (+ metric_configs.json)
with real Keras 3 in float64 (run with the peers environment:
KERAS_BACKEND=torch python tests/make_loss_metric_fixtures.py).

activations.npz: "x" (a grid with extremes and negatives) and one array per case.
losses.npz: the inputs ("in/<name>"), "<case>[/sw]" = the loss under the SCALAR
reductions (without, with sample weights) and "<case>/none[/sw]" per-sample values.
metrics.npz: the batches ("in/<name>") and "<case>" = result after each of the batches
(weighted with "in/sw<i>"); metric_configs.json: get_config() of each metric case.
keras_files/act_metrics.keras (+ _expected.npz): a model using the new activations,
compiled with a focal loss and metric objects; Keras's predict and evaluate results.
"""
import json
import os

import numpy as np

os.environ["KERAS_BACKEND"] = "torch"
import keras  # noqa: E402
from keras import activations as A  # noqa: E402
from keras import losses as L  # noqa: E402
from keras import metrics as M  # noqa: E402
from make_keras_files import repack  # noqa: E402

keras.config.set_floatx("float64")
HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def np_(t):
    return np.asarray(keras.ops.convert_to_numpy(t), dtype=np.float64)


# ---------------------------------------------------------------- activations
x = np.concatenate([np.linspace(-6, 6, 49), [-30.0, -12.0, -3.0, -1e-4, 0.0, 1e-4, 3.0,
                                             12.0, 30.0]])
acts = {"x": x}
for name in ["gelu", "elu", "selu", "leaky_relu", "relu6", "silu", "swish", "softplus",
             "softsign", "hard_sigmoid", "hard_silu", "hard_swish", "exponential", "mish",
             "relu", "sigmoid", "tanh"]:
    xx = np.clip(x, -30, 20) if name == "exponential" else x
    acts[name] = np_(A.get(name)(keras.ops.convert_to_tensor(xx)))
acts["gelu_approx"] = np_(A.gelu(keras.ops.convert_to_tensor(x), approximate=True))
acts["elu_a0.5"] = np_(A.elu(keras.ops.convert_to_tensor(x), alpha=0.5))
acts["leaky_relu_0.1"] = np_(A.leaky_relu(keras.ops.convert_to_tensor(x), negative_slope=0.1))
for i, kw in enumerate([dict(negative_slope=0.1), dict(max_value=2.5),
                        dict(threshold=1.0), dict(negative_slope=0.3, max_value=4.0,
                                                  threshold=-0.5),
                        dict(negative_slope=0.2, threshold=0.5), dict(max_value=6.0)]):
    acts[f"relu_{i}"] = np_(A.relu(keras.ops.convert_to_tensor(x), **kw))
m = np.linspace(-3, 3, 12).reshape(3, 4)
acts["log_softmax_in"] = m
acts["log_softmax"] = np_(A.log_softmax(keras.ops.convert_to_tensor(m)))
acts["log_softmax_ax0"] = np_(A.log_softmax(keras.ops.convert_to_tensor(m), axis=0))
np.savez_compressed(os.path.join(HERE, "activations.npz"), **acts)

# ---------------------------------------------------------------- losses
rng = np.random.default_rng(7)
N = 6
inp = {
    "reg_true": rng.uniform(0.0, 2.0, (N, 3)), "reg_pred": rng.uniform(0.05, 2.0, (N, 3)),
    "sgn_pred": rng.uniform(-2.0, 2.0, (N, 3)),
    "bin_true": (rng.uniform(size=(N, 3)) > 0.5).astype(np.float64),
    "bin_prob": rng.uniform(0.02, 0.98, (N, 3)), "bin_logit": rng.uniform(-3, 3, (N, 3)),
    "cat_true": np.eye(4)[rng.integers(0, 4, N)], "cat_logit": rng.uniform(-3, 3, (N, 4)),
    "sparse_true": rng.integers(0, 4, N).astype(np.float64),
    "sw": rng.uniform(0.0, 2.0, N),
}
inp["cat_prob"] = np.exp(inp["cat_logit"]) / np.exp(inp["cat_logit"]).sum(-1, keepdims=True)
inp["cat_true_soft"] = rng.dirichlet(np.ones(4), N)

cases = {  # name: (class, kwargs, y_true key, y_pred key)
    "mse": (L.MeanSquaredError, {}, "reg_true", "reg_pred"),
    "mae": (L.MeanAbsoluteError, {}, "reg_true", "reg_pred"),
    "mape": (L.MeanAbsolutePercentageError, {}, "reg_true", "reg_pred"),
    "msle": (L.MeanSquaredLogarithmicError, {}, "reg_true", "reg_pred"),
    "huber": (L.Huber, {}, "reg_true", "sgn_pred"),
    "huber_d0.3": (L.Huber, {"delta": 0.3}, "reg_true", "sgn_pred"),
    "log_cosh": (L.LogCosh, {}, "reg_true", "sgn_pred"),
    "poisson": (L.Poisson, {}, "reg_true", "reg_pred"),
    "kld": (L.KLDivergence, {}, "cat_true_soft", "cat_prob"),
    "cosine": (L.CosineSimilarity, {}, "reg_true", "sgn_pred"),
    "cosine_ax0": (L.CosineSimilarity, {"axis": 0}, "reg_true", "sgn_pred"),
    "hinge": (L.Hinge, {}, "bin_true", "sgn_pred"),
    "squared_hinge": (L.SquaredHinge, {}, "bin_true", "sgn_pred"),
    "categorical_hinge": (L.CategoricalHinge, {}, "cat_true", "cat_logit"),
    "bce": (L.BinaryCrossentropy, {}, "bin_true", "bin_prob"),
    "bce_ls": (L.BinaryCrossentropy, {"label_smoothing": 0.2}, "bin_true", "bin_prob"),
    "bce_logits_ls": (L.BinaryCrossentropy, {"from_logits": True, "label_smoothing": 0.1},
                      "bin_true", "bin_logit"),
    "cce_ls": (L.CategoricalCrossentropy, {"label_smoothing": 0.2}, "cat_true", "cat_prob"),
    "cce_logits_ls": (L.CategoricalCrossentropy, {"from_logits": True,
                                                  "label_smoothing": 0.1},
                      "cat_true", "cat_logit"),
    "scce_logits": (L.SparseCategoricalCrossentropy, {"from_logits": True}, "sparse_true",
                    "cat_logit"),
    "bfocal": (L.BinaryFocalCrossentropy, {}, "bin_true", "bin_prob"),
    "bfocal_bal": (L.BinaryFocalCrossentropy, {"apply_class_balancing": True, "alpha": 0.3,
                                               "gamma": 1.5, "label_smoothing": 0.1},
                   "bin_true", "bin_prob"),
    "bfocal_logits": (L.BinaryFocalCrossentropy, {"from_logits": True, "gamma": 3.0},
                      "bin_true", "bin_logit"),
    "cfocal": (L.CategoricalFocalCrossentropy, {}, "cat_true", "cat_prob"),
    "cfocal_logits_ls": (L.CategoricalFocalCrossentropy, {"from_logits": True,
                                                          "alpha": 0.5, "gamma": 1.0,
                                                          "label_smoothing": 0.1},
                         "cat_true", "cat_logit"),
}
SCALAR = ["sum_over_batch_size", "sum", "mean", "mean_with_sample_weight"]
out = {f"in/{k}": v for k, v in inp.items()}
for name, (cls, kw, t, p) in cases.items():
    weightings = [None] if "ax0" in name else [None, inp["sw"]]  # Keras: (6,) vs (3,)
    for sw in weightings:
        tag = "" if sw is None else "/sw"
        out[f"{name}{tag}"] = np.array([np_(cls(reduction=r, **kw)(inp[t], inp[p], sw))
                                        for r in SCALAR])
        out[f"{name}/none{tag}"] = np_(cls(reduction="none", **kw)(inp[t], inp[p], sw))
np.savez_compressed(os.path.join(HERE, "losses.npz"), **out)

# ---------------------------------------------------------------- metrics
B = 3
batches = {}
for i in range(B):
    n = 8
    batches[f"reg_true{i}"] = rng.uniform(0.0, 2.0, (n, 3))
    batches[f"reg_pred{i}"] = rng.uniform(0.05, 2.0, (n, 3))
    batches[f"ml_true{i}"] = (rng.uniform(size=(n, 3)) > 0.5).astype(np.float64)
    batches[f"ml_prob{i}"] = np.round(rng.uniform(0.0, 1.0, (n, 3)), 3)
    lab = rng.integers(0, 4, n)
    batches[f"cat_true{i}"] = np.eye(4)[lab]
    batches[f"sparse_true{i}"] = lab.astype(np.float64)
    logits = rng.normal(size=(n, 4))
    batches[f"cat_prob{i}"] = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    batches[f"sw{i}"] = rng.uniform(0.0, 2.0, n)
    batches[f"values{i}"] = rng.normal(size=(n,))

mcases = {  # name: (factory, y_true key, y_pred key)
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
mout = {f"in/{k}": v for k, v in batches.items()}
configs = {}
for name, (make, t, p) in mcases.items():
    for weighted in (False, True):
        metric = make()
        res = []
        for i in range(B):
            sw = batches[f"sw{i}"] if weighted else None
            metric.update_state(batches[f"{t}{i}"], batches[f"{p}{i}"], sample_weight=sw)
            res.append(np_(metric.result()))
        mout[name + ("/sw" if weighted else "")] = np.stack(res)
    configs[name] = make().get_config()
for cls, key in ((M.Mean, "mean"), (M.Sum, "sum")):
    for weighted in (False, True):
        metric, res = cls(), []
        for i in range(B):
            metric.update_state(batches[f"values{i}"],
                                sample_weight=batches[f"sw{i}"] if weighted else None)
            res.append(np_(metric.result()))
        mout[key + ("/sw" if weighted else "")] = np.stack(res)
np.savez_compressed(os.path.join(HERE, "metrics.npz"), **mout)
with open(os.path.join(HERE, "metric_configs.json"), "w") as f:
    json.dump(configs, f, indent=0, sort_keys=True,  # label_weights is a tensor there
              default=lambda o: keras.ops.convert_to_numpy(o).tolist())

# ---------------------------------------------------------------- a .keras file
# keras_files/act_metrics.keras: Dense layers with the new activations, compiled with a
# focal loss and metric objects; act_metrics_expected.npz: Keras's predict and evaluate.
keras.config.set_floatx("float32")
keras.utils.set_random_seed(3)
model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="gelu"),
                          keras.layers.Dense(8, activation="swish"),
                          keras.layers.Dense(8, activation="mish"),
                          keras.layers.Dense(8, activation="elu"),
                          keras.layers.Activation("hard_silu"),
                          keras.layers.Dense(8, activation="selu"),
                          keras.layers.Dense(8, activation="softplus"),
                          keras.layers.Dense(8, activation="leaky_relu"),
                          keras.layers.Dense(1, activation="sigmoid")])
model.compile(keras.optimizers.Adam(0.01),
              keras.losses.BinaryFocalCrossentropy(gamma=1.5),
              metrics=[keras.metrics.AUC(num_thresholds=50), "mse",
                       keras.metrics.Precision(thresholds=0.4), "binary_accuracy"])
xs = rng.normal(size=(40, 6)).astype(np.float32)
ys = (rng.uniform(size=(40, 1)) > 0.5).astype(np.float32)
for _ in range(3):
    model.train_on_batch(xs, ys)
model.save(os.path.join(HERE, "keras_files", "act_metrics.keras"))
repack(os.path.join(HERE, "keras_files", "act_metrics.keras"))       # deflate: ~8x smaller
res = model.evaluate(xs, ys, batch_size=40, verbose=0, return_dict=True)
np.savez_compressed(os.path.join(HERE, "keras_files", "act_metrics_expected.npz"), x=xs, y=ys,
                    pred=model.predict(xs, verbose=0),
                    **{f"eval/{k}": np.float64(v) for k, v in res.items()})
