"""The seed convnet learns on real Fashion-MNIST as Keras's does.

Keras 3 reaches 0.74-0.79 test accuracy after 2 epochs on the first 10,000 training
images at batch 64 with rmsprop; tensorlib must reach at least 0.72. Accuracy after two
epochs at this learning rate swings by several points with the initialisation (Keras 3
here, seeds 0-2: 0.786, 0.758, 0.772), so the test trains three seeded runs and checks
their median. The data comes from
Debian's `dataset-fashion-mnist` package (installed by .ci/run); without it the test is
skipped, unless TENSORLIB_REQUIRE_DATA=1 (set by CI) makes that a failure.
"""
import os

import numpy as np
import pytest

import tensorlib
from seed_models import seed_convnet
from tensorlib.datasets import fashion_mnist
from tensorlib.utils import to_categorical


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    os.environ.setdefault("TENSORLIB_HOME", str(tmp_path_factory.mktemp("home")))
    try:
        return fashion_mnist.load_data()
    except OSError as e:
        if os.environ.get("TENSORLIB_REQUIRE_DATA") == "1":
            raise
        pytest.skip(f"real Fashion-MNIST not available: {e}")


def train_once(seed, data):
    (x_train, y_train), (x_test, y_test) = data
    tensorlib.manual_seed(seed)
    x_train = x_train[:10000].reshape((10000, 28, 28, 1)).astype('float32') / 255
    x_test = x_test.reshape((10000, 28, 28, 1)).astype('float32') / 255
    y_train, y_test = to_categorical(y_train[:10000]), to_categorical(y_test)
    model = seed_convnet()
    model.compile(optimizer='rmsprop', loss='categorical_crossentropy', metrics=['accuracy'])
    history = model.fit(x_train, y_train, epochs=2, batch_size=64, verbose=0)
    assert history.history["loss"][1] < history.history["loss"][0]
    test_loss, test_acc = model.evaluate(x_test, y_test, verbose=0)
    assert np.isfinite(test_loss)
    print(f"seed {seed}: test accuracy after 2 epochs on 10k images {test_acc:.4f} "
          f"(loss {test_loss:.4f})")
    return test_acc


def test_seed_convnet_learns_fashion_mnist_subset(data):
    accuracies = [train_once(seed, data) for seed in (0, 1, 2)]
    assert np.median(accuracies) >= 0.72, accuracies
