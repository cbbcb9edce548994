"""tensorlib.models: Sequential structure, compile/fit/evaluate/predict, the batch methods,
callbacks, argument checks (a bad call leaves the weights as they were) and numerical
agreement with real Keras 3 (fixtures in tests/data/, made by
tests/make_keras_fixtures.py; no Keras at test time)."""
import csv
import math
import os

import numpy as np
import pytest

import tensorlib as tl
import tensorlib.layers.base as layers_base
from tensorlib import callbacks, layers, losses, metrics, models, optimizers
from tensorlib.utils import to_categorical

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
RTOL, ATOL = 1e-4, 1e-5


@pytest.fixture(autouse=True)
def fresh_state():
    layers_base._name_counts.clear()
    tl.manual_seed(0)
    yield
    layers_base._name_counts.clear()


def assert_weights_equal(a, b):
    assert len(a) == len(b)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)


def assert_weights_close(a, b, rtol=RTOL, atol=ATOL):
    assert len(a) == len(b)
    for i, (u, v) in enumerate(zip(a, b)):
        assert u.shape == v.shape, i
        np.testing.assert_allclose(u, v, rtol=rtol, atol=atol, err_msg=f"weight {i}")


def blobs(n=120, dim=4, classes=3, seed=0, spread=0.3):
    """A small, well separated classification problem (one-hot targets)."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(classes, dim)) * 3
    labels = rng.integers(0, classes, n)
    x = (centers[labels] + rng.normal(size=(n, dim)) * spread).astype("float32")
    return x, to_categorical(labels, classes).astype("float32"), labels


def small_mlp(dim=4, classes=3, hidden=8):
    return models.Sequential([
        layers.Dense(hidden, activation="relu", input_shape=(dim,)),
        layers.Dense(classes, activation="softmax"),
    ])


def compiled_mlp(**compile_kwargs):
    model = small_mlp()
    kwargs = {"optimizer": "rmsprop", "loss": "categorical_crossentropy", "metrics": ["accuracy"]}
    kwargs.update(compile_kwargs)
    model.compile(**kwargs)
    return model


# ----------------------------------------------------------------- Keras oracle: convnet
SMALL = np.load(os.path.join(DATA, "small_convnet.npz"), allow_pickle=False)


def small_convnet():
    model = models.Sequential([
        layers.Input((8, 8, 1)),
        layers.Conv2D(4, (3, 3), activation="relu"),
        layers.MaxPooling2D((2, 2)),
        layers.Flatten(),
        layers.Dense(3, activation="softmax"),
    ])
    model.set_weights([SMALL[f"init_{i}"] for i in range(4)])
    return model


def keras_weights(prefix):
    return [SMALL[f"{prefix}{i}"] for i in range(4)]


def test_predict_and_evaluate_match_keras():
    model = small_convnet()
    np.testing.assert_allclose(model.predict(SMALL["x"], verbose=0), SMALL["predict"],
                               rtol=RTOL, atol=ATOL)
    model.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=["accuracy"])
    loss, acc = model.evaluate(SMALL["x"], SMALL["y"], verbose=0)
    np.testing.assert_allclose([loss, acc], SMALL["evaluate"], rtol=RTOL, atol=ATOL)


OPTIMIZERS = {"sgd": lambda: optimizers.SGD(0.1, momentum=0.9),
              "rmsprop": lambda: optimizers.RMSprop(),
              "adam": lambda: optimizers.Adam()}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_train_on_batch_matches_keras_for_two_steps(name):
    model = small_convnet()
    model.compile(optimizer=OPTIMIZERS[name](), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    for step in (1, 2):
        result = model.train_on_batch(SMALL["x"], SMALL["y"])
        np.testing.assert_allclose(result, SMALL[f"{name}_step{step}_result"],
                                   rtol=RTOL, atol=ATOL, err_msg=f"step {step}")
        assert_weights_close(model.get_weights(), keras_weights(f"{name}_step{step}_w"))


def test_fit_with_validation_split_matches_keras():
    """SGD(0.1, momentum 0.9), batches of 4 and 2 (uneven last batch), 2 epochs, no
    shuffling, the last quarter held out for validation: history and final weights."""
    model = small_convnet()
    model.compile(optimizer=optimizers.SGD(0.1, momentum=0.9),
                  loss="categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(SMALL["x"], SMALL["y"], batch_size=4, epochs=2, shuffle=False,
                        validation_split=0.25, verbose=0)
    keys = [str(k) for k in SMALL["fit_history_keys"]]
    assert list(history.history) == keys
    for key in keys:
        np.testing.assert_allclose(history.history[key], SMALL[f"fit_history_{key}"],
                                   rtol=RTOL, atol=ATOL, err_msg=key)
    assert_weights_close(model.get_weights(), keras_weights("fit_w"))


BNF = np.load(os.path.join(DATA, "batchnorm.npz"), allow_pickle=False)


def test_batchnorm_model_train_on_batch_matches_keras():
    model = models.Sequential([layers.Input((4,)), layers.Dense(5),
                               layers.BatchNormalization(),
                               layers.Dense(3, activation="softmax")])
    model.set_weights([BNF[f"model_init_{i}"] for i in range(8)])
    model.compile(optimizer=optimizers.SGD(0.1), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    np.testing.assert_allclose(model.predict(BNF["model_x"], verbose=0),
                               BNF["model_predict_before"], rtol=RTOL, atol=ATOL)
    result = model.train_on_batch(BNF["model_x"], BNF["model_y"])
    np.testing.assert_allclose(result, BNF["model_result"], rtol=RTOL, atol=ATOL)
    assert_weights_close(model.get_weights(), [BNF[f"model_after_{i}"] for i in range(8)])
    np.testing.assert_allclose(model.predict(BNF["model_x"], verbose=0),
                               BNF["model_predict_after"], rtol=RTOL, atol=ATOL)


# ----------------------------------------------------------------- the seed program
def test_seed_convnet_program_runs_as_written(capsys):
    rng = np.random.default_rng(5)
    train_images = rng.uniform(0, 1, (128, 28, 28, 1)).astype("float32")
    train_labels = to_categorical(rng.integers(0, 10, 128), 10)
    test_images = rng.uniform(0, 1, (40, 28, 28, 1)).astype("float32")
    test_labels = to_categorical(rng.integers(0, 10, 40), 10)

    model = models.Sequential()
    model.add(layers.Conv2D(32, (3, 3), activation='relu', input_shape=(28, 28, 1)))
    model.add(layers.MaxPooling2D((2, 2)))
    model.add(layers.Conv2D(64, (3, 3), activation='relu'))
    model.add(layers.MaxPooling2D((2, 2)))
    model.add(layers.Conv2D(64, (3, 3), activation='relu'))
    model.add(layers.Flatten())
    model.add(layers.Dense(64, activation='relu'))
    model.add(layers.Dense(10, activation='softmax'))
    model.summary()
    model.compile(optimizer='rmsprop', loss='categorical_crossentropy', metrics=['accuracy'])
    model.fit(train_images, train_labels, epochs=5, batch_size=64)
    test_loss, test_acc = model.evaluate(test_images, test_labels)

    assert np.isfinite(test_loss) and 0.0 <= test_acc <= 1.0
    out = capsys.readouterr().out
    assert 'Model: "sequential"' in out and "Total params: 93,322" in out
    for epoch in range(1, 6):
        assert f"Epoch {epoch}/5" in out
    assert model.history.history["loss"][-1] < model.history.history["loss"][0]


def test_seed_dense_net_learns_a_separable_problem():
    rng = np.random.default_rng(3)
    prototypes = rng.uniform(0, 1, (10, 784)).astype("float32")
    labels = rng.integers(0, 10, 600)
    x = np.clip(prototypes[labels] + rng.normal(0, 0.3, (600, 784)), 0, 1).astype("float32")
    y = to_categorical(labels, 10)
    model = models.Sequential()
    model.add(layers.Dense(512, activation='relu', input_shape=(784,)))
    model.add(layers.Dense(10, activation='softmax'))
    model.compile(optimizer='rmsprop', loss='categorical_crossentropy', metrics=['accuracy'])
    history = model.fit(x[:500], y[:500], epochs=3, batch_size=32, verbose=0)
    assert history.history["accuracy"][-1] > 0.95
    loss, acc = model.evaluate(x[500:], y[500:], verbose=0)
    assert acc > 0.95 and loss < history.history["loss"][0]
    predicted = model.predict(x[500:], verbose=0).argmax(axis=1)
    assert (predicted == labels[500:]).mean() == pytest.approx(acc)


# ----------------------------------------------------------------- Sequential structure
def test_sequential_from_list_add_and_layers():
    a, b = layers.Dense(4, input_shape=(3,)), layers.Dense(2)
    model = models.Sequential([a, b])
    assert model.layers == [a, b] and model.built
    assert model.output_shape == (None, 2)
    c = layers.Activation("relu")
    model.add(c)
    assert model.layers == [a, b, c]
    assert model.layers is not model._layers        # a copy: mutating it changes nothing
    model.layers.append(layers.Dense(1))
    assert len(model.layers) == 3


def test_input_layer_is_not_listed_and_builds_the_model():
    model = models.Sequential([layers.Input((5,)), layers.Dense(3)])
    assert len(model.layers) == 1 and model.built
    assert model.layers[0].get_weights()[0].shape == (5, 3)
    with pytest.raises(ValueError, match="Received"):
        model.add(layers.Input((5,)))


def test_pop_removes_the_last_layer_and_the_model_can_grow_again(rng):
    model = models.Sequential([layers.Dense(4, input_shape=(3,)), layers.Dense(10)])
    popped = model.pop()
    assert popped.units == 10 and len(model.layers) == 1
    assert model.output_shape == (None, 4)
    model.add(layers.Dense(5, activation="softmax"))
    assert model.predict(rng.normal(size=(7, 3)).astype("float32"), verbose=0).shape == (7, 5)
    assert len(model.get_weights()) == 4
    model.pop()
    model.pop()
    with pytest.raises(IndexError):
        model.pop()


def test_add_rejects_non_layers_and_duplicate_names():
    model = models.Sequential()
    with pytest.raises(ValueError, match="Received"):
        model.add("dense")
    model.add(layers.Dense(2, name="same"))
    with pytest.raises(ValueError, match="unique"):
        model.add(layers.Dense(2, name="same"))


def test_model_without_input_shape_builds_on_first_use(rng):
    model = models.Sequential([layers.Dense(4, activation="relu"), layers.Dense(2)])
    assert not model.built and model.get_weights() == []
    y = model.predict(rng.normal(size=(3, 6)).astype("float32"), verbose=0)
    assert y.shape == (3, 2) and model.built
    assert [w.shape for w in model.get_weights()] == [(6, 4), (4,), (4, 2), (2,)]


def test_summary_works_before_compile_and_before_fit(capsys):
    model = small_mlp()
    model.summary()
    assert "Total params: 67" in capsys.readouterr().out
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    model.summary()
    assert "Total params: 67" in capsys.readouterr().out


def test_model_weights_trainable_and_count_params():
    model = models.Sequential([layers.Dense(4, input_shape=(3,)), layers.BatchNormalization(),
                               layers.Dense(2)])
    assert model.count_params() == 16 + 16 + 10
    assert len(model.weights) == 8
    assert len(model.trainable_weights) == 6 and len(model.non_trainable_weights) == 2


def test_model_set_weights_validates_before_assigning():
    model = small_mlp()
    before = model.get_weights()
    with pytest.raises(ValueError, match="Received"):
        model.set_weights(before[:-1])
    bad = [w.copy() for w in before]
    bad[0] = bad[0] + 1
    bad[-1] = np.zeros(7)
    with pytest.raises(ValueError, match="Received"):
        model.set_weights(bad)
    assert_weights_equal(model.get_weights(), before)


# ----------------------------------------------------------------- compile
def test_compile_with_strings_and_with_objects():
    x, y, _ = blobs()
    by_name = compiled_mlp()
    assert isinstance(by_name.optimizer, optimizers.RMSprop)
    by_obj = small_mlp()
    by_obj.compile(optimizer=optimizers.Adam(learning_rate=0.01),
                   loss=losses.CategoricalCrossentropy(),
                   metrics=[metrics.CategoricalAccuracy()])
    history = by_obj.fit(x, y, epochs=2, verbose=0)
    assert list(history.history) == ["categorical_accuracy", "loss"]
    assert by_obj.optimizer.learning_rate == pytest.approx(0.01)
    for opt in ("sgd", "adam", "rmsprop", "SGD", "Adam"):
        model = small_mlp()
        model.compile(optimizer=opt, loss="mse")
        model.fit(x, y, epochs=1, verbose=0)


def test_compile_sparse_categorical_crossentropy_with_integer_labels():
    x, _, labels = blobs()
    model = small_mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x, labels, epochs=2, verbose=0)
    assert list(history.history) == ["accuracy", "loss"]


@pytest.mark.parametrize("kwargs,match", [
    ({"optimizer": "foo", "loss": "categorical_crossentropy"}, "Could not interpret optimizer"),
    ({"optimizer": "sgd", "loss": "foo"}, "Could not interpret loss"),
    ({"optimizer": "sgd", "loss": "categorical_crossentropy", "metrics": ["foo"]},
     "Could not interpret metric"),
    ({"optimizer": "sgd"}, "loss"),
])
def test_unknown_compile_identifiers_raise_and_leave_weights_unchanged(kwargs, match):
    x, y, _ = blobs()
    model = small_mlp()
    before = model.get_weights()
    with pytest.raises(ValueError, match=match):
        model.compile(**kwargs)       # Keras resolves metrics lazily: fit may raise
        model.fit(x, y, epochs=1, verbose=0)
    assert_weights_equal(model.get_weights(), before)


# ----------------------------------------------------------------- fit / History
def test_fit_returns_history_with_keras_keys():
    x, y, _ = blobs()
    model = compiled_mlp()
    history = model.fit(x, y, epochs=3, batch_size=16, verbose=0)
    assert isinstance(history, callbacks.History)
    assert model.history is history
    assert list(history.history) == ["accuracy", "loss"]
    assert history.epoch == [0, 1, 2]
    assert all(len(v) == 3 for v in history.history.values())
    assert all(isinstance(v, float) for v in history.history["loss"])


def test_fit_validation_split_and_validation_data_add_val_keys():
    x, y, _ = blobs()
    model = compiled_mlp()
    history = model.fit(x, y, epochs=2, validation_split=0.2, verbose=0)
    assert list(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    history = model.fit(x[:100], y[:100], epochs=2, validation_data=(x[100:], y[100:]),
                        verbose=0)
    assert list(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    val_loss, val_acc = model.evaluate(x[100:], y[100:], verbose=0)
    assert history.history["val_loss"][-1] == pytest.approx(val_loss, rel=1e-5)
    assert history.history["val_accuracy"][-1] == pytest.approx(val_acc)


def test_validation_split_holds_out_the_last_samples():
    """Keras takes the validation set from the end, before shuffling: training on the
    first 80 % only must give exactly the same weights."""
    x, y, _ = blobs(n=50)
    tl.manual_seed(1)
    a = compiled_mlp(optimizer="sgd")
    tl.manual_seed(2)
    a.fit(x, y, epochs=2, batch_size=8, validation_split=0.2, verbose=0)
    tl.manual_seed(1)
    b = compiled_mlp(optimizer="sgd")
    tl.manual_seed(2)
    b.fit(x[:40], y[:40], epochs=2, batch_size=8, verbose=0)
    assert_weights_close(a.get_weights(), b.get_weights(), rtol=1e-6, atol=1e-7)


def test_fit_loss_is_the_sample_weighted_mean_of_batch_losses():
    x, y, _ = blobs(n=10)
    model = compiled_mlp(optimizer=optimizers.SGD(0.0))
    history = model.fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0)
    loss = model.evaluate(x, y, batch_size=10, verbose=0)[0]
    assert history.history["loss"][0] == pytest.approx(loss, rel=1e-5)


def test_shuffle_false_is_deterministic_and_differs_from_shuffled():
    x, y, _ = blobs(n=64)
    results = []
    for shuffle in (False, False, True):
        tl.manual_seed(11)
        model = compiled_mlp(optimizer="sgd")
        model.fit(x, y, epochs=2, batch_size=8, shuffle=shuffle, verbose=0)
        results.append(model.get_weights())
    assert_weights_equal(results[0], results[1])
    assert not all(np.array_equal(a, b) for a, b in zip(results[0], results[2]))


def test_shuffled_fit_is_reproducible_with_manual_seed():
    x, y, _ = blobs(n=64)
    results = []
    for _ in range(2):
        tl.manual_seed(4)
        model = compiled_mlp()
        model.fit(x, y, epochs=2, batch_size=8, verbose=0)
        results.append(model.get_weights())
    assert_weights_equal(*results)


def test_initial_epoch(capsys):
    x, y, _ = blobs()
    model = compiled_mlp()
    history = model.fit(x, y, epochs=3, initial_epoch=1, verbose=2)
    assert history.epoch == [1, 2]
    assert len(history.history["loss"]) == 2
    lines = capsys.readouterr().out.splitlines()
    assert [line for line in lines if line.startswith("Epoch")] == ["Epoch 2/3", "Epoch 3/3"]


def test_fit_with_one_epoch_prints_no_epoch_header(capsys):
    """Keras 3 prints "Epoch i/n" only when n > 1 (ProgbarLogger.on_epoch_begin)."""
    x, y, _ = blobs()
    compiled_mlp().fit(x, y, epochs=1, verbose=2)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith("4/4 - ")


# ----------------------------------------------------------------- evaluate / predict
def test_evaluate_returns_list_with_metrics_and_scalar_without():
    x, y, _ = blobs()
    model = compiled_mlp()
    result = model.evaluate(x, y, verbose=0)
    assert isinstance(result, list) and len(result) == 2
    assert all(isinstance(v, float) for v in result)
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert logs == {"accuracy": pytest.approx(result[1]), "loss": pytest.approx(result[0])}
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    loss = model.evaluate(x, y, verbose=0)
    assert isinstance(loss, float) and loss == pytest.approx(result[0], rel=1e-6)


def test_evaluate_does_not_change_weights_and_is_batch_size_independent():
    x, y, _ = blobs(n=50)
    model = compiled_mlp()
    before = model.get_weights()
    a = model.evaluate(x, y, batch_size=7, verbose=0)
    b = model.evaluate(x, y, batch_size=50, verbose=0)
    np.testing.assert_allclose(a, b, rtol=1e-5)
    assert_weights_equal(model.get_weights(), before)


def test_predict_shape_and_batching(rng):
    model = small_mlp()
    x = rng.normal(size=(37, 4)).astype("float32")
    y = model.predict(x, verbose=0)
    assert y.shape == (37, 3) and y.dtype == np.float32
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(model.predict(x, batch_size=5, verbose=0), y, rtol=1e-6,
                               atol=1e-7)
    np.testing.assert_allclose(model(x).numpy(), y, rtol=1e-6, atol=1e-7)


def test_predict_works_without_compile_and_accepts_ints(rng):
    model = small_mlp()
    assert model.predict(rng.normal(size=(3, 4)).astype("float32"), verbose=0).shape == (3, 3)
    assert model.predict(np.ones((2, 4), dtype=np.int64), verbose=0).shape == (2, 3)


def test_float64_inputs_are_cast_to_the_model_dtype(rng):
    """Keras casts inputs to the layers' float32 (np.random gives float64 arrays)."""
    x, y, _ = blobs()
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    model = compiled_mlp()
    p = model.predict(x64, verbose=0)
    assert p.dtype == np.float32
    np.testing.assert_array_equal(p, model.predict(x, verbose=0))
    np.testing.assert_allclose(model.evaluate(x64, y64, verbose=0),
                               model.evaluate(x, y, verbose=0), rtol=1e-6)
    model.train_on_batch(x64, y64)
    model.fit(x64, y64, epochs=1, validation_data=(x64, y64), verbose=0)


def test_train_on_batch_and_test_on_batch():
    x, y, _ = blobs(n=16)
    model = compiled_mlp(optimizer=optimizers.SGD(0.1))
    before = model.get_weights()
    test_loss, test_acc = model.test_on_batch(x, y)
    assert_weights_equal(model.get_weights(), before)
    ev_loss, ev_acc = model.evaluate(x, y, batch_size=16, verbose=0)
    assert test_loss == pytest.approx(ev_loss, rel=1e-6) and test_acc == pytest.approx(ev_acc)
    loss, _ = model.train_on_batch(x, y)
    assert loss == pytest.approx(test_loss, rel=1e-5)   # loss before the update
    assert not np.array_equal(model.get_weights()[0], before[0])
    assert model.optimizer.iterations == 1
    assert model.test_on_batch(x, y)[0] < test_loss
    logs = model.train_on_batch(x, y, return_dict=True)
    assert set(logs) == {"accuracy", "loss"}


def test_dropout_is_active_in_fit_only():
    x, y, _ = blobs(n=32)
    model = models.Sequential([layers.Dense(16, activation="relu", input_shape=(4,)),
                               layers.Dropout(0.5), layers.Dense(3, activation="softmax")])
    model.compile(optimizer=optimizers.SGD(0.0), loss="categorical_crossentropy")
    np.testing.assert_array_equal(model.predict(x, verbose=0), model.predict(x, verbose=0))
    assert model.test_on_batch(x, y) == model.test_on_batch(x, y)
    assert model.evaluate(x, y, verbose=0) == pytest.approx(model.test_on_batch(x, y))
    train_losses = {model.train_on_batch(x, y) for _ in range(3)}   # lr 0: only masks vary
    assert len(train_losses) > 1


def test_batchnorm_moving_stats_move_in_fit_not_in_evaluate_or_predict():
    x, y, _ = blobs(n=32)
    model = models.Sequential([layers.Dense(4, input_shape=(4,)), layers.BatchNormalization(),
                               layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    bn = model.layers[1]
    stats = [w.copy() for w in bn.get_weights()[2:]]
    model.evaluate(x, y, verbose=0)
    model.predict(x, verbose=0)
    model.test_on_batch(x, y)
    assert_weights_equal(bn.get_weights()[2:], stats)
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert not np.array_equal(bn.get_weights()[2], stats[0])
    assert len(model.trainable_weights) == 6


def test_fit_on_zero_samples_is_an_error():
    """Keras 3.15: ValueError("num_samples should be a positive integer value, ...")."""
    x, y, _ = blobs()
    model = compiled_mlp()
    bad_call_leaves_model_unchanged(model, lambda: model.fit(x[:0], y[:0], verbose=0),
                                    ValueError, "sample")


# ----------------------------------------------------------------- callbacks
def test_early_stopping_stops_training():
    x, y, _ = blobs()
    model = compiled_mlp(optimizer=optimizers.SGD(0.0))   # the loss cannot improve
    history = model.fit(x, y, epochs=10, shuffle=False, verbose=0,
                        callbacks=[callbacks.EarlyStopping(monitor="loss", patience=2)])
    assert history.epoch == [0, 1, 2]      # as Keras: best at epoch 0, 2 epochs of patience


def test_early_stopping_on_val_loss_with_restore_best_weights():
    x, y, _ = blobs()
    model = compiled_mlp(optimizer=optimizers.SGD(0.0))
    stopper = callbacks.EarlyStopping(patience=0, restore_best_weights=True)
    history = model.fit(x, y, epochs=5, validation_split=0.25, shuffle=False, verbose=0,
                        callbacks=[stopper])
    assert len(history.epoch) == 2 and stopper.stopped_epoch == 1


def test_csv_logger_writes_one_row_per_epoch(tmp_path):
    x, y, _ = blobs()
    path = tmp_path / "log.csv"
    model = compiled_mlp()
    history = model.fit(x, y, epochs=3, validation_split=0.25, verbose=0,
                        callbacks=[callbacks.CSVLogger(str(path))])
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    for key in ("accuracy", "loss", "val_accuracy", "val_loss"):
        np.testing.assert_allclose([float(r[key]) for r in rows], history.history[key],
                                   rtol=1e-6)


def test_model_checkpoint_saves_weights_files(tmp_path):
    x, y, _ = blobs()
    model = compiled_mlp()
    pattern = str(tmp_path / "ckpt-{epoch:02d}.weights.npz")
    model.fit(x, y, epochs=3, verbose=0,
              callbacks=[callbacks.ModelCheckpoint(pattern, save_weights_only=True,
                                                   monitor="loss")])
    files = sorted(os.listdir(tmp_path))
    assert files == ["ckpt-01.weights.npz", "ckpt-02.weights.npz", "ckpt-03.weights.npz"]
    other = small_mlp()
    other.load_weights(str(tmp_path / "ckpt-03.weights.npz"))
    assert_weights_equal(other.get_weights(), model.get_weights())


def test_model_checkpoint_saves_whole_models_best_only(tmp_path):
    x, y, _ = blobs()
    model = compiled_mlp()
    path = str(tmp_path / "best.npz")
    model.fit(x, y, epochs=2, validation_split=0.25, verbose=0,
              callbacks=[callbacks.ModelCheckpoint(path, save_best_only=True)])
    restored = models.load_model(path)
    assert [type(la) for la in restored.layers] == [type(la) for la in model.layers]


def test_learning_rate_scheduler_changes_the_optimizer_lr():
    x, y, _ = blobs()
    model = compiled_mlp(optimizer=optimizers.SGD(0.1))
    seen = []

    class Spy(callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            seen.append(self.model.optimizer.learning_rate)

    history = model.fit(x, y, epochs=3, verbose=0,
                        callbacks=[callbacks.LearningRateScheduler(lambda e, lr: lr * 0.5),
                                   Spy()])
    np.testing.assert_allclose(seen, [0.05, 0.025, 0.0125])
    assert model.optimizer.learning_rate == pytest.approx(0.0125)
    np.testing.assert_allclose(history.history["learning_rate"], [0.05, 0.025, 0.0125])


def test_learning_rate_zero_from_scheduler_freezes_weights():
    x, y, _ = blobs()
    model = compiled_mlp(optimizer=optimizers.SGD(0.1))
    before = model.get_weights()
    model.fit(x, y, epochs=2, verbose=0,
              callbacks=[callbacks.LearningRateScheduler(lambda epoch: 0.0)])
    assert_weights_equal(model.get_weights(), before)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_terminate_on_nan_stops_at_the_first_bad_batch(capsys):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (rng.normal(size=(64, 1)) * 1e10).astype("float32")
    model = models.Sequential([layers.Dense(1, input_shape=(4,))])
    model.compile(optimizer=optimizers.SGD(1e20), loss="mse")
    batches = []

    class Count(callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            batches.append(logs["loss"])

    history = model.fit(x, y, epochs=5, batch_size=4, shuffle=False, verbose=0,
                        callbacks=[Count(), callbacks.TerminateOnNaN()])
    assert len(history.epoch) == 1
    assert not math.isfinite(batches[-1])
    assert all(math.isfinite(v) for v in batches[:-1])
    assert len(batches) < 16
    assert "Invalid loss, terminating training" in capsys.readouterr().out


def test_callback_hooks_are_called_in_order():
    x, y, _ = blobs(n=20)
    events = []

    class Rec(callbacks.Callback):
        def on_train_begin(self, logs=None): events.append("train_begin")
        def on_epoch_begin(self, epoch, logs=None): events.append(f"epoch_begin{epoch}")
        def on_train_batch_end(self, batch, logs=None): events.append(f"batch{batch}")
        def on_epoch_end(self, epoch, logs=None):
            events.append(f"epoch_end{epoch}:{sorted(logs)}")
        def on_train_end(self, logs=None): events.append("train_end")

    compiled_mlp().fit(x, y, epochs=2, batch_size=10, verbose=0, callbacks=[Rec()])
    assert events == ["train_begin", "epoch_begin0", "batch0", "batch1",
                      "epoch_end0:['accuracy', 'loss']", "epoch_begin1", "batch0", "batch1",
                      "epoch_end1:['accuracy', 'loss']", "train_end"]


# ----------------------------------------------------------------- bad input
def bad_call_leaves_model_unchanged(model, call, exc, match):
    before = model.get_weights()
    iterations = model.optimizer.iterations if model.optimizer is not None else None
    with pytest.raises(exc, match=match):
        call()
    assert_weights_equal(model.get_weights(), before)
    if iterations is not None:
        assert model.optimizer.iterations == iterations


def test_mismatched_sample_counts():
    x, y, _ = blobs()
    model = compiled_mlp()
    for call in (lambda: model.fit(x, y[:50], verbose=0),
                 lambda: model.evaluate(x, y[:50], verbose=0),
                 lambda: model.train_on_batch(x[:10], y[:9]),
                 lambda: model.fit(x, y, validation_data=(x[:5], y[:4]), verbose=0)):
        bad_call_leaves_model_unchanged(model, call, ValueError,
                                        "Data cardinality is ambiguous")


def test_wrong_input_shape():
    x, y, _ = blobs()
    model = compiled_mlp()
    for bad_x in (x[:, :3], x.reshape(120, 2, 2), x[:, :, None]):
        bad_call_leaves_model_unchanged(model, lambda b=bad_x: model.fit(b, y, verbose=0),
                                        ValueError, "incompatible")
    bad_call_leaves_model_unchanged(model, lambda: model.predict(x[:, :3], verbose=0),
                                    ValueError, "incompatible")


def test_wrong_image_shape_for_the_seed_convnet():
    model = models.Sequential([layers.Conv2D(4, 3, input_shape=(28, 28, 1)), layers.Flatten(),
                               layers.Dense(10, activation="softmax")])
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy")
    y = to_categorical(np.arange(4) % 10, 10)
    bad_call_leaves_model_unchanged(
        model, lambda: model.fit(np.zeros((4, 28, 28), "float32"), y, verbose=0),
        ValueError, "incompatible")


def test_integer_labels_with_categorical_crossentropy():
    x, _, labels = blobs()
    model = compiled_mlp()
    for bad_y in (labels, labels[:, None]):
        bad_call_leaves_model_unchanged(model, lambda b=bad_y: model.fit(x, b, verbose=0),
                                        ValueError, "sparse_categorical_crossentropy")


def test_wrong_number_of_classes_in_targets():
    x, _, labels = blobs()
    model = compiled_mlp()
    y4 = to_categorical(labels, 4)
    bad_call_leaves_model_unchanged(model, lambda: model.fit(x, y4, verbose=0),
                                    ValueError, "Received")


def test_nan_or_inf_in_inputs():
    x, y, _ = blobs()
    model = compiled_mlp()
    for value in (np.nan, np.inf):
        bad_x = x.copy()
        bad_x[7, 2] = value
        bad_call_leaves_model_unchanged(model, lambda b=bad_x: model.fit(b, y, verbose=0),
                                        ValueError, "NaN or infinite")
        bad_call_leaves_model_unchanged(model, lambda b=bad_x: model.train_on_batch(b, y),
                                        ValueError, "NaN or infinite")


def test_non_numeric_inputs():
    _, y, _ = blobs(n=3)
    model = compiled_mlp()
    bad_call_leaves_model_unchanged(
        model, lambda: model.fit(np.array([["a"] * 4] * 3), y, verbose=0), ValueError,
        "numeric")


def test_fit_before_compile():
    """Keras 3.15 raises ValueError("You must call `compile()` before using the model.")."""
    x, y, _ = blobs()
    model = small_mlp()
    for call in (lambda: model.fit(x, y, verbose=0), lambda: model.evaluate(x, y, verbose=0),
                 lambda: model.train_on_batch(x, y), lambda: model.test_on_batch(x, y)):
        bad_call_leaves_model_unchanged(model, call, ValueError, "compile")


@pytest.mark.parametrize("kwargs", [{"batch_size": 0}, {"batch_size": 2.5},
                                    {"verbose": 3}, {"validation_split": 1.0},
                                    {"validation_split": -0.1},
                                    {"validation_data": (np.zeros((2, 4)),)},
                                    {"validation_split": 1e-20}, {"validation_split": 0.999}])
def test_bad_fit_arguments(kwargs):
    x, y, _ = blobs(n=100)     # 1e-20 leaves no validation sample, 0.999 no training one
    model = compiled_mlp()
    bad_call_leaves_model_unchanged(model, lambda: model.fit(x, y, **kwargs), ValueError,
                                    "Received")


def test_fit_without_targets():
    x, _, _ = blobs()
    model = compiled_mlp()
    bad_call_leaves_model_unchanged(model, lambda: model.fit(x, verbose=0), ValueError,
                                    "Received")


def test_unknown_fit_keyword_is_rejected_before_training():
    x, y, _ = blobs()
    model = compiled_mlp()
    bad_call_leaves_model_unchanged(model, lambda: model.fit(x, y, epocs=3, verbose=0),
                                    TypeError, "epocs")
