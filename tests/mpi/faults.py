"""Failures under ``mpiexec -n 2``: ``python faults.py raise`` (process 1 raises in the
middle of an epoch of a long fit) and ``python faults.py mismatch`` (process 1 builds a
different model). Either way the job must end quickly, saying which process failed."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tensorlib as keras  # noqa: E402
from seed_models import seed_convnet  # noqa: E402


class RaiseOnProcess1(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        if keras.distribution.process_id() == 1 and batch == 3:
            raise RuntimeError("bad batch on process 1 (on purpose)")


def main(mode):
    keras.distribution.initialize()
    keras.distribution.set_distribution(keras.distribution.DataParallel())
    rng = np.random.default_rng(0)
    x = rng.random((640, 28, 28, 1), dtype=np.float32)
    y = keras.utils.to_categorical(rng.integers(0, 10, 640), 10)
    if mode == "mismatch" and keras.distribution.process_id() == 1:
        model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                                  keras.layers.Dense(65, activation="relu"),
                                  keras.layers.Dense(10, activation="softmax")])
    else:
        model = seed_convnet()
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    # long enough that a process left waiting in a collective would hang the test
    model.fit(x, y, batch_size=64, epochs=1000, verbose=0,
              callbacks=[RaiseOnProcess1()] if mode == "raise" else None)


if __name__ == "__main__":
    main(sys.argv[1])
