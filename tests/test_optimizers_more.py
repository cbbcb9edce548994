"""Adadelta, Adagrad, Adamax, Nadam, Lion, Ftrl and the base options (clipping, weight
decay, EMA, gradient accumulation, constraints) against real Keras 3: the fixture
(tests/make_optimizer_fixtures.py) stepped Keras's optimizers on the same start values and
gradients; here tensorlib's must give the same variables after every step, the same
optimizer variables in Keras's order, and the same configs."""
import json
import os
import warnings

import numpy as np
import pytest

import tensorlib as tl
from tensorlib import constraints, models, optimizers
from tensorlib.models import keras_format

DATA = os.path.join(os.path.dirname(__file__), "data")
with open(os.path.join(DATA, "optimizers_more.json")) as _f:
    FIX = json.load(_f)
ARR = np.load(os.path.join(DATA, "optimizers_more.npz"))
SHAPES = [tuple(s) for s in FIX["shapes"]]
NEW = ["Adadelta", "Adagrad", "Adamax", "Nadam", "Lion", "Ftrl"]


def _split(flat, shapes):
    out, k = [], 0
    for s in shapes:
        n = int(np.prod(s, dtype=int))
        out.append(flat[k:k + n].reshape(s))
        k += n
    assert k == flat.size
    return out


def _variables(case):
    spec = FIX["cases"][case]
    records = spec[3] if len(spec) > 3 else {}
    out = []
    for i, (w, name) in enumerate(zip(_split(ARR["start"], SHAPES), FIX["names"])):
        v = tl.tensor(w.astype(np.float32).copy(), requires_grad=True)
        v.name = name
        v.constraint = constraints.get(records.get(str(i)))
        out.append(v)
    return out


def _optimizer(case):
    spec = FIX["cases"][case]
    opt = getattr(optimizers, spec[0])(**json.loads(json.dumps(spec[1])))
    if len(spec) > 2 and spec[2]:
        opt.exclude_from_weight_decay(var_names=spec[2])
    return opt


def _keras_order(opt, variables):
    """The optimizer's variables as Keras lists them (what a .keras file holds)."""
    head = [np.asarray(opt.iterations)]
    if not callable(opt._learning_rate):
        head.append(np.asarray(opt.learning_rate, np.float32))
    slots = [opt._slots[id(v)][n] for v, n in opt.keras_slot_order(variables)]
    return head + slots + opt._extra_variables()


@pytest.mark.parametrize("case", sorted(FIX["cases"]))
def test_steps_match_keras(case):
    opt, variables = _optimizer(case), _variables(case)
    grads = [_split(g, SHAPES) for g in ARR["grads"]]
    for t, step in enumerate(grads):
        opt.apply_gradients(zip([g.astype(np.float32) for g in step], variables))
        want = _split(ARR[f"{case}/steps"][t], SHAPES)
        for k, (v, w) in enumerate(zip(variables, want)):
            assert v.data.dtype == np.float32
            np.testing.assert_allclose(v.data, w, rtol=2e-5, atol=2e-6,
                                       err_msg=f"{case}: step {t + 1}, variable {k}")
    ours = _keras_order(opt, variables)
    assert [tuple(np.shape(a)) for a in ours] == [tuple(s) for s in FIX["opt_shapes"][case]]
    theirs = _split(ARR[f"{case}/opt"], [np.shape(a) for a in ours])
    for k, (a, b) in enumerate(zip(ours, theirs)):
        np.testing.assert_allclose(np.asarray(a, np.float64), b, rtol=2e-5, atol=2e-6,
                                   err_msg=f"{case}: optimizer variable {k}")


# ---------------------------------------------------------------- configs and names
def _assert_config(ours, theirs):
    assert sorted(ours) == sorted(theirs)
    for key, want in theirs.items():
        got = ours[key]
        if isinstance(want, float) and isinstance(got, float):
            assert got == pytest.approx(want, rel=1e-7), key     # Keras keeps float32 lr
        else:
            assert got == want, key


@pytest.mark.parametrize("name", NEW)
def test_default_config_equals_keras(name):
    _assert_config(getattr(optimizers, name)().get_config(), FIX["configs"][name])


def test_config_with_arguments_and_schedule_equals_keras():
    ftrl = optimizers.Ftrl(**FIX["cases"]["ftrl_args"][1])
    _assert_config(ftrl.get_config(), {**FIX["configs"]["Ftrl_args"], "name": "ftrl"})
    theirs = FIX["configs"]["Nadam_schedule"]
    nadam = optimizers.Nadam.from_config({**theirs, "name": "nadam_1"})
    assert isinstance(nadam._learning_rate, optimizers.schedules.ExponentialDecay)
    _assert_config(nadam.get_config(), theirs)
    clone = optimizers.deserialize(optimizers.serialize(nadam))
    assert type(clone) is optimizers.Nadam and clone.get_config() == nadam.get_config()


@pytest.mark.parametrize("name", NEW)
def test_string_names_in_get_and_compile(name):
    assert type(optimizers.get(name.lower())) is getattr(optimizers, name)
    assert type(optimizers.get(name)) is getattr(optimizers, name)
    model = tl.Sequential([tl.layers.Dense(2)])
    model.compile(optimizer=name.lower(), loss="mse")
    assert type(model.optimizer) is getattr(optimizers, name)


@pytest.mark.parametrize("make, match", [
    (lambda: optimizers.Nadam(clipnorm=1.0, clipvalue=1.0),
     r"Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set\. Received: "
     r"clipnorm=1.0, clipvalue=1.0, global_clipnorm=None"),
    (lambda: optimizers.Adam(use_ema=True, ema_momentum=1.5),
     r"`ema_momentum` must be in the range \[0, 1\]\. Received: ema_momentum=1.5"),
    (lambda: optimizers.SGD(use_ema=True, ema_overwrite_frequency=0),
     r"`ema_overwrite_frequency` must be an integer >= 1 or None\. Received: "
     r"ema_overwrite_frequency=0"),
    (lambda: optimizers.Lion(gradient_accumulation_steps=1),
     r"`gradient_accumulation_steps` must be an integer >= 2\. Received: "
     r"gradient_accumulation_steps=1"),
    (lambda: optimizers.Lion(beta_1=0.0),
     r"`beta_1` must be in the \[0, 1\] range.*Received: beta_1=0.0"),
    (lambda: optimizers.Ftrl(learning_rate_power=0.5),
     r"Ftrl: `learning_rate_power` needs to be negative or zero\. Received: "
     r"learning_rate_power=0.5"),
    (lambda: optimizers.Ftrl(l1_regularization_strength=-1.0),
     r"Received: l1_regularization_strength=-1.0"),
    (lambda: optimizers.Adagrad(epsilon=1e-7, betas=2), "not recognized"),
    (lambda: optimizers.get("adafactor"), "Could not interpret optimizer identifier"),
])
def test_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


# ---------------------------------------------------------------- EMA in fit
def _regression(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(16, 3)).astype(np.float32)
    return x, x @ rng.normal(size=(3, 1)).astype(np.float32)


def test_fit_ends_with_the_ema_weights():
    """Keras: after the last epoch ``finalize_variable_values`` assigns the averages.
    Replayed by hand: a plain Adam steps copies of the weights with the mse gradient
    from its formula, and the average is kept here."""
    x, y = _regression()
    tl.manual_seed(3)
    model = tl.Sequential([tl.Input((3,)), tl.layers.Dense(1)])
    model.compile(optimizer=optimizers.Adam(0.05, use_ema=True, ema_momentum=0.5),
                  loss="mse")
    start = [w.copy() for w in model.get_weights()]
    model.fit(x, y, batch_size=16, epochs=3, verbose=0, shuffle=False)
    params = [tl.tensor(w.copy(), requires_grad=True) for w in start]
    replay = optimizers.Adam(0.05)
    for step in range(3):
        err = 2 * (x @ params[0].data + params[1].data - y) / y.size
        replay.apply([x.T @ err, err.sum(0)], params)
        if step == 0:                          # Keras: the first average is the variable
            average = [p.data.copy() for p in params]
        else:
            average = [0.5 * a + 0.5 * p.data for a, p in zip(average, params)]
    for got, want in zip(model.get_weights(), average):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)


def test_fit_ends_with_the_averages_whatever_the_overwrite_frequency():
    x, y = _regression(1)
    model = tl.Sequential([tl.Input((3,)), tl.layers.Dense(1)])
    opt = optimizers.SGD(0.1, use_ema=True, ema_overwrite_frequency=100)
    model.compile(optimizer=opt, loss="mse")
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    averages = [opt._slots[id(w)]["average"] for w in model.trainable_weights]
    # Keras overwrites at the end of fit whatever the frequency: the averages win
    for w, a in zip(model.trainable_weights, averages):
        np.testing.assert_array_equal(w.data, a)


# ---------------------------------------------------------------- .keras with Nadam state
def test_keras_file_with_nadam_ema_state_loads_and_continues_as_keras():
    path = os.path.join(DATA, "keras_files", "nadam_dense.keras")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = models.load_model(path)
    opt = model.optimizer
    assert type(opt) is optimizers.Nadam and opt.use_ema and opt.ema_momentum == 0.6
    assert opt.iterations == 2
    dense = model.layers[0]
    assert isinstance(dense.kernel_constraint, constraints.MaxNorm)
    assert dense.kernel_constraint.max_value == 0.9
    assert isinstance(model.layers[1].bias_constraint, constraints.NonNeg)
    ours = keras_format._optimizer_arrays(model)
    theirs = _split(ARR["nadam_file/opt"], [np.shape(a) for a in ours])
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(np.asarray(a, np.float64), b, rtol=1e-6)
    model.train_on_batch(ARR["nadam_file/x"], ARR["nadam_file/y"])
    want = _split(ARR["nadam_file/next"], [w.shape for w in model.get_weights()])
    for got, w in zip(model.get_weights(), want):
        np.testing.assert_allclose(got, w, rtol=1e-5, atol=1e-6)


def test_nadam_state_round_trips_through_our_keras_file(tmp_path):
    x, y = ARR["nadam_file/x"], ARR["nadam_file/y"]
    model = models.load_model(os.path.join(DATA, "keras_files", "nadam_dense.keras"))
    model.train_on_batch(x, y)
    path = tmp_path / "again.keras"
    model.save(path)
    loaded = models.load_model(path)
    for a, b in zip(keras_format._optimizer_arrays(model),
                    keras_format._optimizer_arrays(loaded)):
        np.testing.assert_array_equal(a, b)
    model.train_on_batch(x, y)
    loaded.train_on_batch(x, y)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_fused_paths_untouched_without_options(monkeypatch):
    """SGD/RMSprop/Adam/AdamW still make one backend call per dtype and create no slot
    for EMA or accumulation when those options are off."""
    from tensorlib.backend import get_backend
    backend = get_backend()
    calls = []
    original = backend.adam_update
    monkeypatch.setattr(backend, "adam_update",
                        lambda *a, **k: calls.append(1) or original(*a, **k))
    ws = [tl.tensor(np.ones((2, 2), np.float32), requires_grad=True) for _ in range(3)]
    opt = optimizers.AdamW(0.1)
    opt.apply([np.ones((2, 2), np.float32)] * 3, ws)
    assert calls == [1]
    assert set(opt._slots[id(ws[0])]) == {"variable", "momentum", "velocity"}
