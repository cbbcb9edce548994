"""Training cases run alone (``python train_cases.py OUT``) and data-parallel
(``mpiexec -n 2 python train_cases.py OUT``); test_distribution.py compares the results.

Each process writes ``OUT/rank<r>.npz`` (weights after each case, predictions) and
``OUT/rank<r>.json`` (History values, evaluate results, what each process saw and
printed). Process 1 seeds its generator differently from process 0 on purpose: the same
results then show that process 0's weights and permutation are the ones used.
"""
import contextlib
import io
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import tensorlib as keras  # noqa: E402
from seed_models import seed_convnet  # noqa: E402
from tensorlib.random import get_generator  # noqa: E402

SEED = 3


def data(n, seed=0):
    """Images with labels a fixed random linear function of them (learnable, 10 classes)."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, 28, 28, 1), dtype=np.float32)
    w = np.random.default_rng(99).normal(size=(784, 10))
    y = keras.utils.to_categorical(np.argmax(x.reshape(n, -1) @ w, axis=1), 10)
    return x, y


def fresh_model(optimizer="rmsprop"):
    keras.manual_seed(SEED + 1000 * keras.distribution.process_id())
    model = seed_convnet()
    model.compile(optimizer=optimizer, loss="categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def halves_reference(optimizer, x, y, epochs, batch=64):
    """One process doing the arithmetic of two: each step's gradient is the mean of the
    mean gradients of the two halves of the global batch (same initial weights and
    permutations as ``fit``). Two processes must give exactly these weights."""
    model = fresh_model(optimizer)
    params = model.trainable_weights

    def gradients(idx):
        loss = model._loss_and_pred([x[idx]], [y[idx]], training=True)[0]
        for p in params:
            p.grad = None
        loss.backward()
        return [p.grad.data * np.float32(0.5) for p in params]

    for _ in range(epochs):
        order = get_generator().permutation(len(x))
        for start in range(0, len(x), batch):
            idx = order[start:start + batch]
            half = len(idx) // 2
            grads = [a + b for a, b in zip(gradients(idx[:half]), gradients(idx[half:]))]
            model.optimizer.apply_gradients(zip(grads, params))
    return model


class Seen(keras.callbacks.Callback):
    """Counts the train batches and epochs this process ran."""

    def __init__(self, stop_at=None):
        super().__init__()
        self.batches, self.epochs, self.stop_at = 0, 0, stop_at

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1
        if self.stop_at == (self.epochs, batch):
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        self.epochs += 1


def main(out):
    keras.distribution.initialize()
    rank = keras.distribution.process_id()
    keras.distribution.set_distribution(keras.distribution.DataParallel())
    arrays, report = {}, {}

    def record(name, model, history=None):
        for i, w in enumerate(model.get_weights()):
            arrays[f"{name}/w{i}"] = w
        if history is not None:
            report[name] = {"history": history.history, "epochs": history.epoch}

    # 50 steps at global batch 64 (2 epochs of 25), RMSprop and Adam
    x, y = data(1600)
    for opt in ("rmsprop", "adam"):
        model = fresh_model(opt)
        arrays[f"{opt}/initial"] = model.get_weights()[0] if rank == 0 else np.zeros(0)
        record(opt, model, model.fit(x, y, batch_size=64, epochs=2, verbose=0))
        if keras.distribution.num_processes() == 1:
            record(f"{opt}_halves", halves_reference(opt, x, y, epochs=2))

    # short last batches: 225 = 3 x 64 + 33 (17 + 16), 129 = 2 x 64 + 1 (1 + 0)
    for n in (225, 129):
        x, y = data(n, seed=n)
        model = fresh_model()
        record(f"uneven{n}", model, model.fit(x, y, batch_size=64, epochs=2, verbose=0))
        report[f"uneven{n}"]["evaluate"] = model.evaluate(x, y, batch_size=64, verbose=0)

    # validation_split: 300 samples, the last 75 validate (batches 64 + 11)
    x, y = data(300, seed=5)
    model = fresh_model()
    record("validation", model, model.fit(x, y, batch_size=64, epochs=2, verbose=0,
                                          validation_split=0.25))

    # callbacks: files named by rank (only process 0's may exist), printed output
    x, y = data(256, seed=6)
    model = fresh_model()
    cbs = [keras.callbacks.CSVLogger(os.path.join(out, f"log_rank{rank}.csv")),
           keras.callbacks.ModelCheckpoint(os.path.join(out, f"ckpt_rank{rank}.npz"),
                                           monitor="loss", save_weights_only=True,
                                           verbose=1),
           keras.callbacks.EarlyStopping(monitor="loss", min_delta=10.0, patience=1,
                                         verbose=1)]
    seen = Seen()
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        history = model.fit(x, y, batch_size=64, epochs=5, verbose=1, callbacks=cbs + [seen])
    record("callbacks", model, history)
    report["callbacks"].update(printed=printed.getvalue(), batches=seen.batches,
                               epochs_run=seen.epochs)

    # predict: 101 samples in batches of 32, the whole ordered result on every process
    xp, _ = data(101, seed=7)
    arrays["predict"] = model.predict(xp, batch_size=32, verbose=0)

    # stop_training set by process 1 alone (its own decision) stops every process
    model = fresh_model()
    seen = Seen(stop_at=(1, 1) if rank == 1 else None)
    history = model.fit(x, y, batch_size=64, epochs=4, verbose=0, callbacks=[seen])
    report["stop"] = {"batches": seen.batches, "epochs": history.epoch}

    np.savez(os.path.join(out, f"rank{rank}.npz"), **arrays)
    with open(os.path.join(out, f"rank{rank}.json"), "w") as f:
        json.dump(report, f)


if __name__ == "__main__":
    main(sys.argv[1])
