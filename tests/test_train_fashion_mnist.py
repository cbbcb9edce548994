"""The seed convnet learns real Fashion-MNIST as Keras 3 does, run for run.

Protocol (the seed notebook's): ``tensorlib.manual_seed(seed)``, ``seed_convnet()``,
rmsprop + categorical cross-entropy, ``fit`` 2 epochs on the first 10,000 training images
at batch 64 (fit shuffles each epoch), then test accuracy on the 10,000 test images.

Why each seed has its own Keras reference. With rmsprop at lr 1e-3 and no decay, the test
accuracy of the *last* weights swings by several points from one step to the next (one
traced run: 0.802, 0.738, 0.747 at steps 308, 312, 314), so a single run's accuracy is
set mostly by its batch order (two runs with the same order and different initial weights
correlate at 0.96). Over seeds, real Keras 3 itself spreads from 0.70 to 0.80, and a
fixed seed set falls wherever its orders fall: Keras 3's own seeds 0-11 gave
0.7425-0.7937 (mean 0.771) but seed 17 gave 0.7017 (seeds 0-17: mean 0.768, sd 0.022);
Keras 3 trained from tensorlib's seeds 0-11 (same initial weights and batch orders) gave
0.7126-0.7931 (mean 0.762), tensorlib 0.695-0.7949 (mean 0.757). From the same initial
weights and batch order, tensorlib and Keras 3 end close: over 36 such pairs, tensorlib
minus Keras averaged -0.0014 (sd 0.0083, largest |difference| 0.0187). So a bar taken
from Keras 3 over other seeds cannot be tight without being flaky, while a paired one
can: for each seed below, KERAS_ACCURACY is the accuracy real Keras 3 reaches from
tensorlib's initial weights and tensorlib's two shuffle orders for that seed, and
tensorlib must stay within PER_SEED_TOLERANCE of it on every seed and within
MEAN_TOLERANCE of it on average, above or below.

The references were measured with Keras 3.15.1 and torch 2.13.0 (CPU, 1 thread,
KERAS_BACKEND=torch): the initial weights (``model.get_weights()`` after
``manual_seed(seed)``) and the permutations ``fit`` draws were loaded into an identical
Keras Sequential model, trained with ``keras.optimizers.RMSprop()`` and
``categorical_crossentropy`` one epoch per ``fit(x[perm], y[perm], batch_size=64,
shuffle=False)`` call, and evaluated on the 10,000 test images. The run is pinned to one
kernel thread, so tensorlib's figures are exactly reproducible: seeds 0-7 give 0.7196,
0.7434, 0.7278, 0.7848, 0.7880, 0.7424, 0.7659, 0.7949 (mean 0.7584; Keras 3 from the
same weights and orders: mean 0.7639; the test takes about 80 s). STREAM pins the random
stream the references belong to: if initialisation or fit's shuffling draws change, the
test says so and the references must be measured again (they are not to be loosened).

The data comes from Debian's `dataset-fashion-mnist` package (installed by .ci/run);
without it the test is skipped, unless TENSORLIB_REQUIRE_DATA=1 (set by CI) makes that a
failure.
"""
import copy
import os

import numpy as np
import pytest

import tensorlib
from seed_models import seed_convnet
from tensorlib.datasets import fashion_mnist
from tensorlib.utils import to_categorical

# seed -> Keras 3 test accuracy from tensorlib's initial weights and batch orders.
KERAS_ACCURACY = {0: 0.7134, 1: 0.7621, 2: 0.7431, 3: 0.7846, 4: 0.7913, 5: 0.7488,
                  6: 0.7749, 7: 0.7931}
# Both bounds are two-sided (tensorlib doing better than Keras is a divergence too) and
# come from the paired differences' spread, sd 0.0083: 0.03 is 3.6 sd for one seed and
# 0.01 is 3.4 standard errors of an 8-seed mean, so a change that only alters rounding
# (a new kernel, another summation order), which re-draws each run's trajectory, fails
# this test with a probability of about 0.3%.
PER_SEED_TOLERANCE = 0.03
MEAN_TOLERANCE = 0.01

# seed -> (first three values of the first conv kernel, first four indices of each of the
# two permutations fit draws): the random stream KERAS_ACCURACY was measured on.
STREAM = {
    0: ((0.03893377, -0.06544218, -0.13048637), (3090, 6272, 3737, 8810),
        (7429, 214, 2362, 7672)),
    1: ((0.00336051, 0.12805225, -0.10115390), (1290, 527, 9460, 9195),
        (9351, 5360, 7846, 4915)),
    2: ((-0.06776595, -0.05728245, 0.08932421), (4508, 4789, 4931, 7915),
        (7953, 6644, 8636, 4337)),
    3: ((-0.11778653, -0.07481625, 0.08564258), (9046, 1289, 5135, 9150),
        (6919, 2641, 5570, 9965)),
    4: ((0.12594651, 0.00322006, 0.13538068), (1077, 419, 1938, 38),
        (4074, 7208, 8077, 1724)),
    5: ((0.08670246, 0.08753759, 0.00435656), (5524, 7701, 3161, 1045),
        (4476, 4459, 3982, 5998)),
    6: ((0.01084889, -0.04455302, -0.03721995), (7685, 6221, 7465, 9167),
        (6120, 5331, 3601, 5276)),
    7: ((0.03556059, 0.11291502, 0.07836851), (3704, 1284, 4409, 7597),
        (8995, 5327, 6507, 48)),
}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    os.environ.setdefault("TENSORLIB_HOME", str(tmp_path_factory.mktemp("home")))
    try:
        (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    except OSError as e:
        if os.environ.get("TENSORLIB_REQUIRE_DATA") == "1":
            raise
        pytest.skip(f"real Fashion-MNIST not available: {e}")
    x_train = x_train[:10000].reshape((10000, 28, 28, 1)).astype('float32') / 255
    x_test = x_test.reshape((10000, 28, 28, 1)).astype('float32') / 255
    return (x_train, to_categorical(y_train[:10000])), (x_test, to_categorical(y_test))


@pytest.fixture
def one_thread():
    tensorlib.set_num_threads(1)
    try:
        yield
    finally:
        tensorlib.set_num_threads(None)


def train_once(seed, data):
    (x_train, y_train), (x_test, y_test) = data
    tensorlib.manual_seed(seed)
    model = seed_convnet()
    model.compile(optimizer='rmsprop', loss='categorical_crossentropy', metrics=['accuracy'])
    # The references hold only for the initial weights and orders they were measured on.
    kernel, order0, order1 = STREAM[seed]
    ahead = copy.deepcopy(tensorlib.random.default_generator)
    drawn = (tuple(ahead.permutation(len(x_train))[:4]),
             tuple(ahead.permutation(len(x_train))[:4]))
    assert np.allclose(model.get_weights()[0].ravel()[:3], kernel, rtol=0, atol=1e-7) \
        and drawn == (order0, order1), (
        f"seed {seed}: the initial weights or shuffle orders are not those KERAS_ACCURACY "
        f"was measured on (kernel {model.get_weights()[0].ravel()[:3]}, orders {drawn}); "
        "measure the Keras references again as the module docstring says")
    history = model.fit(x_train, y_train, epochs=2, batch_size=64, verbose=0)
    assert history.history["loss"][1] < history.history["loss"][0]
    test_loss, test_acc = model.evaluate(x_test, y_test, verbose=0)
    assert np.isfinite(test_loss)
    print(f"seed {seed}: test accuracy {test_acc:.4f} (Keras 3 from the same weights and "
          f"order: {KERAS_ACCURACY[seed]:.4f}), loss {test_loss:.4f}")
    return test_acc


def test_seed_convnet_learns_fashion_mnist_subset_like_keras(data, one_thread):
    accuracies = {seed: train_once(seed, data) for seed in KERAS_ACCURACY}
    diffs = {s: round(accuracies[s] - KERAS_ACCURACY[s], 4) for s in KERAS_ACCURACY}
    assert max(abs(d) for d in diffs.values()) <= PER_SEED_TOLERANCE, (accuracies, diffs)
    assert abs(np.mean(list(diffs.values()))) <= MEAN_TOLERANCE, (accuracies, diffs)
