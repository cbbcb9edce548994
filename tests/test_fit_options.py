"""fit / evaluate / predict options as Keras 3 has them: class and sample weights (against
weights and logs Keras computed, tests/make_fit_fixtures.py), generators and steps, the
validation options, callbacks of evaluate/predict, compile() without a loss, the order of
callback messages and the progress line, and the errors of bad arguments."""
import io
import json
import os
import re
import warnings

import numpy as np
import pytest

import tensorlib as keras
from tensorlib import functional
from tensorlib.models import progbar as progbar_mod

DATA = os.path.join(os.path.dirname(__file__), "data")
with open(os.path.join(DATA, "fit_options.json"), encoding="utf-8") as _f:
    FIX = json.load(_f)
W = FIX["weighted"]
X = np.array(W["x"], np.float32)
LABELS = np.array(W["labels"])
Y_REG = np.array(W["y_reg"], np.float32)
SW = np.array(W["sample_weight"], np.float32)
INIT = [np.array(w, np.float32) for w in W["initial_weights"]]
TARGETS = {"sparse": LABELS, "categorical": np.eye(3, dtype=np.float32)[LABELS],
           "mse": Y_REG}
CLASS_WEIGHT = {0: 1.0, 1: 2.5, 2: 0.5}


def weighted_model(kind):
    out, act = (3, "softmax") if kind != "mse" else (2, None)
    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(5, activation="relu"),
                          keras.layers.Dense(out, activation=act)])
    m.set_weights(INIT if kind != "mse" else INIT[:2] + [INIT[2][:, :2], INIT[3][:2]])
    loss = {"sparse": "sparse_categorical_crossentropy",
            "categorical": "categorical_crossentropy", "mse": "mse"}[kind]
    metrics = ["accuracy"] if kind != "mse" else ["mae"]
    m.compile(keras.optimizers.SGD(0.1), loss, metrics=metrics, weighted_metrics=metrics)
    return m


def small_model(seed=0, loss="mse"):
    keras.utils.set_random_seed(seed)
    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    m.compile(keras.optimizers.SGD(0.05), loss)
    return m


# ---------------------------------------------------------------- weights vs Keras
@pytest.mark.parametrize("case", sorted(W["cases"]))
def test_weighted_fit_matches_keras(case):
    kind, how = case.split("_", 1)
    extra = {"class_weight": {"class_weight": CLASS_WEIGHT},
             "sample_weight": {"sample_weight": SW}, "none": {}}[how]
    m = weighted_model(kind)
    h = m.fit(X, TARGETS[kind], batch_size=4, epochs=1, shuffle=False, verbose=0, **extra)
    want = W["cases"][case]
    for got, ref in zip(m.get_weights(), want["weights"]):
        np.testing.assert_allclose(got, np.array(ref), rtol=1e-5, atol=1e-6)
    assert sorted(h.history) == sorted(want["history"])
    for k, v in want["history"].items():
        np.testing.assert_allclose(h.history[k], v, rtol=1e-5, atol=1e-6, err_msg=k)
    ev = m.evaluate(X, TARGETS[kind], sample_weight=SW, batch_size=4, verbose=0,
                    return_dict=True)
    assert sorted(ev) == sorted(want["evaluate_weighted"])
    for k, v in want["evaluate_weighted"].items():
        np.testing.assert_allclose(ev[k], v, rtol=1e-5, atol=1e-6, err_msg=k)


def test_weighted_loss_divides_by_the_batch_size_not_the_weights():
    m = small_model()
    x, y = X, Y_REG
    k, b = (w.astype(np.float64) for w in m.get_weights())
    per_sample = (((x @ k + b) - y) ** 2).mean(axis=1)
    loss = m.test_on_batch(x, y, sample_weight=SW)
    np.testing.assert_allclose(loss, (per_sample * SW).sum() / len(x), rtol=1e-5)


def test_class_weight_is_the_per_sample_weight_of_each_class():
    a, b = weighted_model("sparse"), weighted_model("sparse")
    a.fit(X, LABELS, batch_size=4, shuffle=False, verbose=0, class_weight=CLASS_WEIGHT)
    sw = np.array([CLASS_WEIGHT[c] for c in LABELS], np.float32)
    b.fit(X, LABELS, batch_size=4, shuffle=False, verbose=0, sample_weight=sw)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)


def test_unweighted_softmax_crossentropy_keeps_the_fused_kernel(monkeypatch):
    calls = []
    real = functional.softmax_cross_entropy
    monkeypatch.setattr(functional, "softmax_cross_entropy",
                        lambda *a: calls.append(1) or real(*a))
    weighted_model("sparse").fit(X, LABELS, batch_size=5, verbose=0)
    assert len(calls) == 2
    weighted_model("sparse").fit(X, LABELS, batch_size=5, verbose=0, sample_weight=SW)
    assert len(calls) == 2                 # weighted: the per-sample path


def _gen(n_batches, weights=False, size=2, x=X, y=Y_REG):
    for i in range(n_batches):
        s = slice(i * size, (i + 1) * size)
        yield (x[s], y[s], SW[s]) if weights else (x[s], y[s])


def test_generator_and_dataset_sample_weights_equal_array_sample_weights():
    class Batches(keras.utils.PyDataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            s = slice(2 * i, 2 * i + 2)
            return X[s], Y_REG[s], SW[s]

    ref, gen, ds = small_model(), small_model(), small_model()
    ref.fit(X, Y_REG, sample_weight=SW, batch_size=2, shuffle=False, verbose=0)
    with pytest.warns(UserWarning):
        gen.fit(_gen(5, weights=True), verbose=0)
    ds.fit(Batches(), shuffle=False, verbose=0)
    for a, b, c in zip(ref.get_weights(), gen.get_weights(), ds.get_weights()):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)


# ---------------------------------------------------------------- generators and steps
class Record(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.events = []

    def on_epoch_begin(self, epoch, logs=None):
        self.events.append(("epoch", epoch))

    def on_train_batch_begin(self, batch, logs=None):
        self.events.append(("batch", batch))

    def on_test_batch_end(self, batch, logs=None):
        self.events.append(("test", batch))

    def batches_per_epoch(self):
        out = []
        for kind, _ in self.events:
            if kind == "epoch":
                out.append(0)
            elif kind == "batch":
                out[-1] += 1
        return out


def _ran_out(record):
    return sum("Your input ran out of data" in str(w.message) for w in record)


def _steps_scenarios():
    def forever():
        while True:
            yield X[:4], Y_REG[:4]

    def val_forever():
        while True:
            yield X[:3], Y_REG[:3], SW[:3]

    return {
        "arrays_steps_per_epoch": dict(x=X, y=Y_REG, batch_size=2, epochs=4,
                                       steps_per_epoch=3),
        "infinite_generator": dict(x=forever(), epochs=3, steps_per_epoch=4, shuffle=False),
        "validation_freq_batch_size": dict(x=X, y=Y_REG, batch_size=5, epochs=4,
                                           validation_data=(X, Y_REG), validation_freq=2,
                                           validation_batch_size=3),
        "validation_steps_list_freq": dict(x=X, y=Y_REG, batch_size=5, epochs=2,
                                           validation_data=(X, Y_REG, SW),
                                           validation_steps=1, validation_freq=[2]),
        "validation_generator": dict(x=X, y=Y_REG, batch_size=5, epochs=2,
                                     validation_data=val_forever(), validation_steps=2),
        "initial_epoch_no_batch_size": dict(x=X, y=Y_REG, epochs=3, initial_epoch=1,
                                            steps_per_epoch=2),
    }


@pytest.mark.parametrize("name", sorted(FIX["steps"]))
def test_steps_and_validation_options_call_back_as_keras(name):
    """Arrays with steps_per_epoch go on where the last epoch stopped (5 batches, 3 steps:
    epochs of 3, 2 (ran out), 3, 2), an endless generator is bounded, validation runs
    every validation_freq epochs in validation_batch_size batches, ..."""
    want = FIX["steps"][name]
    rec = Record()
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        h = small_model().fit(verbose=0, callbacks=[rec], **_steps_scenarios()[name])
    assert [list(e) for e in rec.events] == want["events"]
    assert sorted(h.history) == want["history_keys"]
    assert len(h.history["loss"]) == want["epochs"] and _ran_out(w) == want["ran_out"]


def test_a_generator_that_runs_out_ends_its_epoch_and_training_with_keras_warning():
    rec = Record()
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        h = small_model().fit(_gen(5), epochs=3, steps_per_epoch=3, shuffle=False,
                              verbose=0, callbacks=[rec])
    assert rec.batches_per_epoch() == [3, 2]
    assert len(h.history["loss"]) == 2 and _ran_out(w) == 1


def test_a_finite_generator_without_steps_trains_one_pass():
    rec = Record()
    m = small_model()
    with pytest.warns(UserWarning, match="ran out of data"):
        m.fit(_gen(5), epochs=1, shuffle=False, verbose=0, callbacks=[rec])
    ref = small_model()
    ref.fit(X, Y_REG, batch_size=2, shuffle=False, verbose=0)
    for a, b in zip(m.get_weights(), ref.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert rec.batches_per_epoch() == [5]


def test_evaluate_and_predict_take_generators_and_steps():
    m = small_model()
    want = m.evaluate(X[:6], Y_REG[:6], batch_size=2, verbose=0)
    with pytest.warns(UserWarning, match="ran out of data"):
        assert m.evaluate(_gen(3), verbose=0) == pytest.approx(want, rel=1e-6)
    assert m.evaluate(X, Y_REG, batch_size=2, steps=3, verbose=0) == pytest.approx(
        want, rel=1e-6)

    def forever():
        while True:
            yield (X[:4],)
    out = m.predict(forever(), steps=3, verbose=0)
    np.testing.assert_allclose(out, np.tile(m.predict(X[:4], verbose=0), (3, 1)), rtol=1e-6)
    np.testing.assert_array_equal(m.predict(X, batch_size=3, steps=2, verbose=0),
                                  m.predict(X[:6], verbose=0))


def test_validation_data_sample_weights_weigh_the_validation_loss():
    m = small_model()
    h = m.fit(X, Y_REG, epochs=1, batch_size=10, verbose=0,
              validation_data=(X, Y_REG, SW))
    k, b = (w.astype(np.float64) for w in m.get_weights())
    per_sample = (((X @ k + b) - Y_REG) ** 2).mean(axis=1)
    np.testing.assert_allclose(h.history["val_loss"], [(per_sample * SW).mean()], rtol=1e-5)


def test_shuffle_false_keeps_the_order_and_shuffle_true_changes_it():
    a, b, c = small_model(), small_model(), small_model()
    a.fit(X, Y_REG, batch_size=2, shuffle=False, verbose=0)
    b.fit(X, Y_REG, batch_size=2, shuffle=False, verbose=0)
    c.fit(X, Y_REG, batch_size=2, shuffle=True, verbose=0)
    np.testing.assert_array_equal(a.get_weights()[0], b.get_weights()[0])
    assert not np.array_equal(a.get_weights()[0], c.get_weights()[0])


# ---------------------------------------------------------------- callbacks of evaluate / predict
class Hooks(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.calls = []
        for hook in ("on_test_begin", "on_test_end", "on_predict_begin", "on_predict_end"):
            setattr(self, hook, lambda logs=None, h=hook: self.calls.append((h,)))

    def on_test_batch_begin(self, batch, logs=None):
        self.calls.append(("on_test_batch_begin", batch))

    def on_test_batch_end(self, batch, logs=None):
        self.calls.append(("on_test_batch_end", batch, sorted(logs)))

    def on_predict_batch_begin(self, batch, logs=None):
        self.calls.append(("on_predict_batch_begin", batch))

    def on_predict_batch_end(self, batch, logs=None):
        self.calls.append(("on_predict_batch_end", batch, logs["outputs"].shape))


def test_evaluate_and_predict_call_their_hooks():
    m, hooks = small_model(), Hooks()
    m.evaluate(X, Y_REG, batch_size=6, callbacks=[hooks], verbose=0)
    assert hooks.calls == [("on_test_begin",), ("on_test_batch_begin", 0),
                           ("on_test_batch_end", 0, ["loss"]), ("on_test_batch_begin", 1),
                           ("on_test_batch_end", 1, ["loss"]), ("on_test_end",)]
    hooks.calls = []
    m.predict(X, batch_size=6, callbacks=hooks, verbose=0)
    assert hooks.calls == [("on_predict_begin",), ("on_predict_batch_begin", 0),
                           ("on_predict_batch_end", 0, (6, 2)),
                           ("on_predict_batch_begin", 1),
                           ("on_predict_batch_end", 1, (4, 2)), ("on_predict_end",)]


# ---------------------------------------------------------------- compile() without a loss
class Penalty(keras.layers.Layer):
    def call(self, x):
        self.add_loss(keras.ops.mean(x * x))
        return x


def test_a_model_whose_loss_comes_from_add_loss_trains_without_targets():
    keras.utils.set_random_seed(1)
    inp = keras.Input((4,))
    model = keras.Model(inp, Penalty()(keras.layers.Dense(3)(inp)))
    model.compile(keras.optimizers.SGD(0.1))
    k, b = (w.astype(np.float64) for w in model.get_weights())
    h = model.fit(X, batch_size=10, epochs=2, verbose=0)
    assert h.history["loss"][0] == pytest.approx(((X @ k + b) ** 2).mean(), rel=1e-5)
    assert h.history["loss"][1] < h.history["loss"][0]
    assert model.evaluate(X, verbose=0) < h.history["loss"][0]


def test_no_loss_at_all_is_keras_error():
    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    m.compile("sgd")
    before = m.get_weights()
    with pytest.raises(ValueError, match=re.escape(
            "No loss to compute. Provide a `loss` argument in `compile()`.")):
        m.fit(X, verbose=0)
    for a, b in zip(before, m.get_weights()):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------- messages
def test_callback_messages_come_before_the_final_progress_line_as_in_keras(tmp_path, capsys):
    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    m.set_weights([INIT[0][:, :2], INIT[1][:2]])
    m.compile(keras.optimizers.SGD(1e-12), "mse", metrics=["mae"])
    path = str(tmp_path / "ckpt.weights.h5")
    cbs = [keras.callbacks.EarlyStopping(monitor="loss", patience=1, min_delta=1e-6,
                                             verbose=1),
           keras.callbacks.ModelCheckpoint(path, monitor="loss", save_weights_only=True,
                                           verbose=1),
           keras.callbacks.ReduceLROnPlateau(monitor="loss", patience=0, factor=0.5,
                                             min_lr=0.0, verbose=1)]
    m.fit(X, Y_REG, batch_size=4, epochs=4, verbose=2, callbacks=cbs,
          validation_data=(X, Y_REG))
    out = capsys.readouterr().out.replace(str(tmp_path), "<DIR>")
    assert re.sub(r"\d+s - \d+(ms|us|s)/step", "T", out) == FIX["messages"]


def test_verbose1_draws_the_last_step_after_the_callbacks(capsys):
    class Say(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            print(f"said {epoch}")
    small_model().fit(X, Y_REG, batch_size=5, epochs=2, verbose=1, callbacks=[Say()])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Epoch 1/2" and lines[1] == "said 0" and lines[2].startswith("2/2 ")
    assert lines[4] == "said 1" and lines[5].startswith("2/2 ")


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("call, message", [
    (lambda m: m.fit(X, Y_REG, class_weight={0: 1.0}, sample_weight=SW, verbose=0),
     "You cannot specify `class_weight` and `sample_weight` at the same time."),
    (lambda m: m.fit(X, Y_REG, class_weight=[1.0, 2.0], verbose=0),
     "Received: class_weight=[1.0, 2.0]"),
    (lambda m: m.fit(_gen(2), class_weight={0: 1.0}, verbose=0),
     "Argument `class_weight` is not supported for Python generator inputs."),
    (lambda m: m.fit(_gen(2), sample_weight=SW, verbose=0),
     "When providing `x` as a generator, `sample_weights` should not be passed."),
    (lambda m: m.fit(_gen(2), Y_REG, verbose=0),
     "When providing `x` as a generator, `y` should not be passed."),
    (lambda m: m.fit((X[i:i + 2] for i in range(3)), verbose=0),
     "the generator must return a tuple"),
    (lambda m: m.fit((b for b in []), verbose=0), "Received an empty generator."),
    (lambda m: m.fit(X, Y_REG, sample_weight=SW[:5], verbose=0),
     "Received: sample_weight with shape (5,)"),
    (lambda m: m.fit(X, Y_REG, sample_weight=np.full(10, np.nan), verbose=0),
     "finite number per sample"),
    (lambda m: m.fit(X, Y_REG, steps_per_epoch=0, verbose=0),
     "Received: steps_per_epoch=0"),
    (lambda m: m.fit(X, Y_REG, validation_data=(X, Y_REG), validation_freq="2", verbose=0),
     "Expected `validation_freq` to be a list or int. Received: validation_freq=2"),
    (lambda m: m.fit(X, Y_REG, validation_data=(X, Y_REG, SW, SW), verbose=0),
     "and length 4"),
    (lambda m: m.fit(X, Y_REG, validation_batch_size=0, verbose=0),
     "Received: batch_size=0"),
    (lambda m: m.evaluate(X, Y_REG, steps=-1, verbose=0), "Received: steps=-1"),
    (lambda m: m.evaluate(X, Y_REG, workers=2, verbose=0),
     "Arguments not recognized: {'workers': 2}"),
    (lambda m: m.predict(X, steps=1.5, verbose=0), "Received: steps=1.5"),
    (lambda m: m.compile("sgd", "mse", weighted_metrics="mae"),
     "Expected `weighted_metrics` argument to be a list, tuple, or dict."),
])
def test_bad_arguments_are_named(call, message):
    m = small_model()
    before = m.get_weights()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match=re.escape(message)):
            call(m)
    for a, b in zip(before, m.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_class_weight_needs_a_single_output():
    inp = keras.Input((4,))
    m = keras.Model(inp, [keras.layers.Dense(3, activation="softmax")(inp),
                          keras.layers.Dense(3, activation="softmax")(inp)])
    m.compile("sgd", "sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="only supported for Models with a single output"):
        m.fit(X, [LABELS, LABELS], class_weight={0: 2.0}, verbose=0)
    h = m.fit(X, [LABELS, LABELS], sample_weight=[SW, None], verbose=0)
    assert np.isfinite(h.history["loss"][0])


# ---------------------------------------------------------------- progress of unknown length
class _Clock:
    now = 0.0

    def time(self):
        return self.now


class _TTY(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("scenario", FIX["progbar_unknown"], ids=lambda s: str(s["verbose"]))
def test_progbar_of_unknown_length_matches_keras(scenario, monkeypatch):
    clock = _Clock()
    monkeypatch.setattr(progbar_mod, "time", clock)
    clock.now, stream = 1000.0, _TTY()
    bar = progbar_mod.Progbar(None, verbose=scenario["verbose"], stream=stream)
    for t, current, logs in scenario["updates"]:
        clock.now = 1000.0 + t
        bar.update(current, logs)
    clock.now = 1000.75
    bar.update(3, scenario["updates"][-1][2], finalize=True)
    assert stream.getvalue() == scenario["output"]
