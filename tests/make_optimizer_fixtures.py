"""Writes the optimizer, constraint and OrthogonalRegularizer fixtures with real Keras 3
(a script, not a test; the committed files were made with Keras 3.15.1 on torch 2.13):

    KERAS_BACKEND=torch /work/peers/bin/python tests/make_optimizer_fixtures.py

* ``tests/data/optimizers_more.json`` -- the cases (optimizer class and arguments, a
  schedule's record, constraints, weight-decay exclusions), Keras's ``get_config`` of the
  new optimizers, the constraint records and outputs, OrthogonalRegularizer penalties.
* ``tests/data/optimizers_more.npz`` -- the start values and the gradient sequence, and
  per case the variables after every step and Keras's optimizer variables at the end
  (flattened and concatenated, to keep the file small).
* ``tests/data/keras_files/nadam_dense.keras`` -- a Dense model with a kernel constraint,
  compiled with Nadam (and EMA), after two steps; ``optimizers_more.npz`` also holds the
  data, its optimizer variables and the weights after one more step.
"""
import json
import os

os.environ["KERAS_BACKEND"] = "torch"
import keras  # noqa: E402
import numpy as np  # noqa: E402
from make_keras_files import repack  # noqa: E402 - deflate the archive, same members

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "data")
SHAPES = [(3, 4), (5,), ()]
NAMES = ["kernel", "bias", "scale"]
STEPS = 6
K = keras.optimizers
EXP = {"module": "keras.optimizers.schedules", "class_name": "ExponentialDecay",
       "config": {"initial_learning_rate": 0.05, "decay_steps": 2, "decay_rate": 0.5,
                  "staircase": False, "name": "ExponentialDecay"}, "registered_name": None}
MAXNORM = {"module": "keras.constraints", "class_name": "MaxNorm",
           "config": {"max_value": 1.0, "axis": 0}, "registered_name": None}
NONNEG = {"module": "keras.constraints", "class_name": "NonNeg", "config": {},
          "registered_name": None}

CASES = {
    "adadelta": ("Adadelta", {}),
    "adadelta_args": ("Adadelta", {"learning_rate": 1.0, "rho": 0.8, "epsilon": 1e-4}),
    "adagrad": ("Adagrad", {}),
    "adagrad_args": ("Adagrad", {"learning_rate": 0.1, "initial_accumulator_value": 0.5,
                                 "epsilon": 1e-3}),
    "adamax": ("Adamax", {}),
    "adamax_args": ("Adamax", {"learning_rate": 0.02, "beta_1": 0.8, "beta_2": 0.9}),
    "nadam": ("Nadam", {}),
    "nadam_args": ("Nadam", {"learning_rate": 0.05, "beta_1": 0.7, "beta_2": 0.95,
                             "epsilon": 1e-3}),
    "lion": ("Lion", {}),
    "lion_args": ("Lion", {"learning_rate": 0.01, "beta_1": 0.5, "beta_2": 0.8}),
    "ftrl": ("Ftrl", {}),
    "ftrl_args": ("Ftrl", {"learning_rate": 0.2, "learning_rate_power": -0.7,
                           "initial_accumulator_value": 0.3,
                           "l1_regularization_strength": 0.01,
                           "l2_regularization_strength": 0.02,
                           "l2_shrinkage_regularization_strength": 0.03, "beta": 0.1}),
    # schedules
    "nadam_schedule": ("Nadam", {"learning_rate": EXP}),
    "adagrad_schedule": ("Adagrad", {"learning_rate": EXP}),
    "ftrl_schedule": ("Ftrl", {"learning_rate": EXP, "beta": 0.2}),
    # clipping and weight decay, new and old optimizers
    "adam_clipnorm": ("Adam", {"learning_rate": 0.1, "clipnorm": 0.5}),
    "lion_global_clipnorm": ("Lion", {"learning_rate": 0.1, "global_clipnorm": 0.7}),
    "adamax_clipvalue": ("Adamax", {"learning_rate": 0.1, "clipvalue": 0.3}),
    "adadelta_wd": ("Adadelta", {"learning_rate": 1.0, "weight_decay": 0.1}),
    "sgd_wd_clipnorm": ("SGD", {"learning_rate": 0.1, "momentum": 0.9, "weight_decay": 0.05,
                                "clipnorm": 1.0}),
    "nadam_wd_schedule": ("Nadam", {"learning_rate": EXP, "weight_decay": 0.2,
                                    "global_clipnorm": 1.0}),
    "adamw_exclude": ("AdamW", {"learning_rate": 0.1, "weight_decay": 0.5}, ["bias"]),
    # EMA
    "adam_ema": ("Adam", {"learning_rate": 0.1, "use_ema": True}),
    "rmsprop_ema_overwrite": ("RMSprop", {"learning_rate": 0.05, "use_ema": True,
                                          "ema_momentum": 0.5,
                                          "ema_overwrite_frequency": 2}),
    "nadam_ema_wd": ("Nadam", {"learning_rate": 0.05, "use_ema": True, "ema_momentum": 0.8,
                               "weight_decay": 0.1}),
    "lion_ema_overwrite": ("Lion", {"learning_rate": 0.05, "use_ema": True,
                                    "ema_momentum": 0.9, "ema_overwrite_frequency": 3}),
    # gradient accumulation
    "adam_accumulate": ("Adam", {"learning_rate": 0.1, "gradient_accumulation_steps": 2}),
    "sgd_accumulate_ema": ("SGD", {"learning_rate": 0.1, "momentum": 0.5,
                                   "gradient_accumulation_steps": 3, "use_ema": True,
                                   "ema_momentum": 0.7}),
    "adamax_accumulate_schedule": ("Adamax", {"learning_rate": EXP,
                                              "gradient_accumulation_steps": 2,
                                              "clipnorm": 1.0}),
    # constraints on the variables
    "adam_constraints": ("Adam", {"learning_rate": 0.3}, None, {"0": MAXNORM, "1": NONNEG}),
    "ftrl_constraints": ("Ftrl", {"learning_rate": 0.5, "use_ema": True},
                         None, {"0": MAXNORM}),
}


def make_optimizer(cls_name, kwargs):
    kwargs = dict(kwargs)
    if isinstance(kwargs.get("learning_rate"), dict):
        kwargs["learning_rate"] = keras.optimizers.schedules.deserialize(
            kwargs["learning_rate"])
    return getattr(K, cls_name)(**kwargs)


def _flat(values):
    return np.concatenate([np.ravel(keras.ops.convert_to_numpy(v)).astype(np.float32)
                           for v in values])


def run_case(name, spec, start, grads, arrays, shapes):
    """Per case: ``<name>/steps`` (the variables, flattened, after each step) and
    ``<name>/opt`` (Keras's optimizer variables, flattened; their shapes in ``shapes``)."""
    cls_name, kwargs = spec[0], spec[1]
    exclude = spec[2] if len(spec) > 2 else None
    constraints = spec[3] if len(spec) > 3 else {}
    opt = make_optimizer(cls_name, kwargs)
    if exclude:
        opt.exclude_from_weight_decay(var_names=exclude)
    variables = [keras.Variable(w, name=n) for w, n in zip(start, NAMES)]
    for i, v in enumerate(variables):      # (the Variable constructor ignores constraint=)
        v.constraint = keras.constraints.get(constraints.get(str(i)))
    history = []
    for step in grads:
        opt.apply_gradients(zip([keras.ops.convert_to_tensor(g) for g in step], variables))
        history.append(_flat(variables))
    arrays[f"{name}/steps"] = np.stack(history)
    arrays[f"{name}/opt"] = _flat(opt.variables)
    shapes[name] = [list(v.shape) for v in opt.variables]


def constraint_cases(rng, out, arrays):
    w2 = rng.normal(size=(4, 3)).astype(np.float32) * 2
    w4 = rng.normal(size=(3, 3, 2, 4)).astype(np.float32)
    arrays["constraint/w2"], arrays["constraint/w4"] = w2, w4
    cases = {
        "maxnorm": keras.constraints.MaxNorm(),
        "maxnorm_axis1": keras.constraints.MaxNorm(max_value=1.5, axis=1),
        "maxnorm_conv": keras.constraints.MaxNorm(max_value=0.8, axis=[0, 1, 2]),
        "nonneg": keras.constraints.NonNeg(),
        "unitnorm": keras.constraints.UnitNorm(),
        "unitnorm_axis1": keras.constraints.UnitNorm(axis=1),
        "minmax": keras.constraints.MinMaxNorm(),
        "minmax_args": keras.constraints.MinMaxNorm(min_value=1.0, max_value=2.0, rate=0.5,
                                                    axis=1),
    }
    records = {}
    for key, c in cases.items():
        records[key] = keras.constraints.serialize(c)
        w = w4 if key.endswith("conv") else w2
        arrays[f"constraint/{key}"] = keras.ops.convert_to_numpy(c(w))
    out["constraints"] = records


def orthogonal_cases(rng, out, arrays):
    x = rng.normal(size=(4, 6)).astype(np.float32)
    x[2] = 0.0           # a zero row: the norm's lower bound (1/epsilon) applies
    arrays["orthogonal/x"] = x
    values = {}
    for mode in ("rows", "columns"):
        for factor in (0.01, 0.3):
            reg = keras.regularizers.OrthogonalRegularizer(factor=factor, mode=mode)
            values[f"{mode}_{factor}"] = float(reg(keras.ops.convert_to_tensor(x)))
    out["orthogonal"] = {"values": values, "record": keras.regularizers.serialize(
        keras.regularizers.OrthogonalRegularizer(factor=0.2, mode="columns"))}


def nadam_file(rng, arrays):
    keras.backend.clear_session()
    keras.utils.set_random_seed(4)
    model = keras.Sequential([
        keras.Input((5,)),
        keras.layers.Dense(4, activation="tanh",
                           kernel_constraint=keras.constraints.MaxNorm(0.9)),
        keras.layers.Dense(2, bias_constraint=keras.constraints.NonNeg()),
    ])
    model.compile(optimizer=K.Nadam(0.05, use_ema=True, ema_momentum=0.6), loss="mse")
    x = rng.normal(size=(6, 5)).astype(np.float32)
    y = rng.normal(size=(6, 2)).astype(np.float32)
    for _ in range(2):
        model.train_on_batch(x, y)
    path = os.path.join(DATA, "keras_files", "nadam_dense.keras")
    model.save(path)
    repack(path)
    arrays.update({"nadam_file/x": x, "nadam_file/y": y})
    arrays["nadam_file/opt"] = _flat(model.optimizer.variables)
    model.train_on_batch(x, y)
    arrays["nadam_file/next"] = _flat(model.get_weights())


def main():
    out = {"configs": {}}
    # default configs first: Keras names the first instance of each class plainly
    for cls_name in ("Adadelta", "Adagrad", "Adamax", "Nadam", "Lion", "Ftrl"):
        out["configs"][cls_name] = getattr(K, cls_name)().get_config()
    out["configs"]["Ftrl_args"] = make_optimizer("Ftrl", CASES["ftrl_args"][1]).get_config()
    out["configs"]["Nadam_schedule"] = make_optimizer(
        "Nadam", {"learning_rate": EXP, "use_ema": True, "ema_overwrite_frequency": 5,
                  "clipvalue": 0.5, "gradient_accumulation_steps": 4}).get_config()
    rng = np.random.default_rng(7)
    start = [rng.normal(size=s).astype(np.float32) for s in SHAPES]
    grads = [[rng.normal(size=s).astype(np.float32) for s in SHAPES] for _ in range(STEPS)]
    arrays = {"start": np.concatenate([w.ravel() for w in start]),
              "grads": np.stack([np.concatenate([g.ravel() for g in step]) for step in grads])}
    out["opt_shapes"] = {}
    for name, spec in CASES.items():
        run_case(name, spec, start, grads, arrays, out["opt_shapes"])
    out["cases"] = {k: list(v) for k, v in CASES.items()}
    out["names"], out["shapes"] = NAMES, [list(s) for s in SHAPES]
    constraint_cases(rng, out, arrays)
    orthogonal_cases(rng, out, arrays)
    nadam_file(rng, arrays)
    with open(os.path.join(DATA, "optimizers_more.json"), "w") as f:
        json.dump(out, f, indent=0, sort_keys=True)
    np.savez_compressed(os.path.join(DATA, "optimizers_more.npz"), **arrays)


if __name__ == "__main__":
    main()
