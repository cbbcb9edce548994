"""``keras.utils.PyDataset`` / ``Sequence`` in ``fit``, ``evaluate`` and ``predict``: the
same results as the same batches given as arrays, a new batch order per epoch when
shuffling, ``on_epoch_end`` once per epoch, and errors that name the argument."""
import numpy as np
import pytest

import tensorlib as keras


class Batches(keras.utils.PyDataset):
    def __init__(self, x, y=None, batch_size=16, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.batch_size = x, y, batch_size
        self.requested, self.epochs_ended = [], 0

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, index):
        self.requested.append(index)
        s = slice(index * self.batch_size, (index + 1) * self.batch_size)
        return self.x[s] if self.y is None else (self.x[s], self.y[s])

    def on_epoch_end(self):
        self.epochs_ended += 1


def _data(n=50):
    rng = np.random.default_rng(0)
    return rng.random((n, 4), dtype=np.float32), rng.integers(0, 3, n)


def _model():
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(5, activation="relu"),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def test_fit_on_a_dataset_equals_fit_on_its_arrays():
    x, y = _data()
    a, b = _model(), _model()
    ds = Batches(x, y, 16, workers=2, use_multiprocessing=False, max_queue_size=4)
    ha = a.fit(ds, epochs=3, shuffle=False, verbose=0, validation_data=Batches(x, y, 20))
    hb = b.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0,
               validation_data=(x, y))
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    assert ha.history["loss"] == hb.history["loss"]
    assert ha.history["accuracy"] == hb.history["accuracy"]
    np.testing.assert_allclose(ha.history["val_loss"], hb.history["val_loss"], rtol=1e-6)
    assert ds.epochs_ended == 3 and ds.workers == 2 and ds.num_batches == 4


def test_shuffle_visits_every_batch_once_per_epoch_in_a_new_order():
    x, y = _data(160)
    ds = Batches(x, y, 16)
    _model().fit(ds, epochs=3, verbose=0)              # shuffle=True by default
    epochs = [ds.requested[1 + 10 * e: 1 + 10 * (e + 1)] for e in range(3)]
    assert ds.requested[0] == 0                        # the sample batch, before training
    assert all(sorted(e) == list(range(10)) for e in epochs)
    assert len({tuple(e) for e in epochs}) == 3


def test_evaluate_and_predict_take_datasets():
    x, y = _data()
    model = _model()
    got = model.evaluate(Batches(x, y, 16), verbose=0)
    want = model.evaluate(x, y, batch_size=16, verbose=0)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    np.testing.assert_array_equal(model.predict(Batches(x, None, 16), verbose=0),
                                  model.predict(x, verbose=0))
    np.testing.assert_array_equal(model.predict(Batches(x, y, 16), verbose=0),
                                  model.predict(x, verbose=0))


def test_sequence_is_pydataset():
    assert keras.utils.Sequence is keras.utils.PyDataset


class Bad(keras.utils.PyDataset):
    def __init__(self, item, n=2):
        super().__init__()
        self.item, self.n = item, n

    def __len__(self):
        return self.n

    def __getitem__(self, index):
        return self.item


@pytest.mark.parametrize("call, error, message", [
    (lambda m, x, y: m.fit(Batches(x, y), y, verbose=0), ValueError,
     "`y` should not be passed"),
    (lambda m, x, y: m.fit(Batches(x, y), validation_split=0.2, verbose=0), ValueError,
     "validation_split"),
    (lambda m, x, y: m.fit(Bad(x), verbose=0), ValueError, r"\(x, y\) tuples"),
    (lambda m, x, y: m.fit(Bad((x, y), n=0), verbose=0), ValueError, "at least one batch"),
    (lambda m, x, y: m.fit(Bad((x, y, np.ones(len(x)))), class_weight={0: 2.0}, verbose=0),
     ValueError, "`class_weight` and `sample_weight`"),
    (lambda m, x, y: m.evaluate(Bad((x, y, x, y)), verbose=0), ValueError, "4 items"),
])
def test_bad_datasets_are_named(call, error, message):
    x, y = _data()
    with pytest.raises(error, match=message):
        call(_model(), x, y)
