"""Generate ``tests/data/summary_opt_*.txt`` (a script, not a test): Keras 3's
``summary()`` of a small model once its optimizer is built, for several optimizers:

    KERAS_BACKEND=torch /work/peers/bin/python tests/make_summary_optimizer_fixtures.py

Each model is Dense(5, relu) -> BatchNormalization -> Dense(3) on 4 features (random
weights do not show in a summary), compiled, then trained one step so the optimizer
builds its variables. ``summary_opt_compiled_76.txt`` is the same model compiled with Adam
but not trained (Keras prints no optimizer line then). ``optimizers`` and ``model`` take
the ``keras`` module, so ``test_summary_optimizer.py`` builds the same with tensorlib.
"""
import contextlib
import io
import os

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def optimizers(keras):
    return {
        "adam": lambda: keras.optimizers.Adam(),
        "adam_amsgrad": lambda: keras.optimizers.Adam(amsgrad=True),
        "sgd": lambda: keras.optimizers.SGD(),
        "sgd_momentum": lambda: keras.optimizers.SGD(momentum=0.9),
        "rmsprop": lambda: keras.optimizers.RMSprop(),
        "adam_schedule": lambda: keras.optimizers.Adam(
            keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)),
    }


def model(keras):
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(5, activation="relu"),
                             keras.layers.BatchNormalization(), keras.layers.Dense(3)],
                            name="opt_model")


def capture(m):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        m.summary()
    return buf.getvalue()


def main():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    os.environ["COLUMNS"] = "80"
    import keras
    import numpy as np
    x, y = np.ones((4, 4), "float32"), np.ones((4, 3), "float32")
    for name, make in optimizers(keras).items():
        m = model(keras)
        m.compile(optimizer=make(), loss="mse")
        m.train_on_batch(x, y)
        with open(os.path.join(DATA, f"summary_opt_{name}_76.txt"), "w") as f:
            f.write(capture(m))
    m = model(keras)
    m.compile(optimizer="adam", loss="mse")
    with open(os.path.join(DATA, "summary_opt_compiled_76.txt"), "w") as f:
        f.write(capture(m))


if __name__ == "__main__":
    main()
