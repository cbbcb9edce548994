"""Generate the Keras 3 file fixtures in ``tests/data/keras_files/`` (a script, not a test).

The tests load these files with tensorlib and never import Keras. To regenerate (needs
real Keras 3 and h5py; the committed files were made with Keras 3.15.1 on torch 2.13):

    KERAS_BACKEND=torch /work/peers/bin/python tests/make_keras_files.py

Files written (the ``.keras`` archives are Keras's own members, byte for byte, re-packed
with deflate compression to keep the repository small):

* ``convnet.keras`` -- Conv2D(4, 3, same, relu) -> BatchNormalization -> MaxPooling2D ->
  AveragePooling2D -> Dropout -> Flatten -> Dense(3, softmax), compiled with
  RMSprop(0.01, momentum=0.5, centered=True), a SparseCategoricalCrossentropy object and
  a SparseCategoricalAccuracy object, after three ``train_on_batch`` steps.
* ``convnet.weights.h5.gz`` -- ``save_weights`` of the same model, gzipped (the tests
  unpack it; HDF5 files are mostly empty space).
* ``dense.keras`` -- GlobalAveragePooling2D -> Dense(8, relu) -> Reshape -> Flatten ->
  Activation(tanh) -> Dense(3, softmax), compiled with Adam(0.01), "categorical_crossentropy"
  and ["accuracy"], after three steps.
* ``lambda.keras`` -- a model with a ``Lambda`` layer (a Python lambda: code in the file).
* ``conv1d.keras`` -- a model with a layer tensorlib does not have (Conv1D).
* ``expected.npz`` -- inputs, targets, Keras's ``predict`` and ``evaluate`` results for
  both models, the RMSprop variables of ``convnet``, and for ``dense`` the result and the
  weights of one more ``train_on_batch`` after saving (checks the loaded optimizer state).
"""
import gzip
import io
import os
import zipfile

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "keras_files")


def repack(path):
    """Re-write the zip at ``path`` with deflate compression, same members, same bytes."""
    with zipfile.ZipFile(path) as z:
        members = [(info.filename, z.read(info)) for info in z.infolist()]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for name, data in members:
            z.writestr(name, data)
    with open(path, "wb") as f:
        f.write(buffer.getvalue())


def convnet(expected, rng):
    keras.backend.clear_session()
    keras.utils.set_random_seed(1)
    model = keras.Sequential([
        keras.Input((8, 8, 1)),
        layers.Conv2D(4, 3, padding="same", activation="relu"),
        layers.BatchNormalization(),
        layers.MaxPooling2D(),
        layers.AveragePooling2D(2),
        layers.Dropout(0.25),
        layers.Flatten(),
        layers.Dense(3, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.RMSprop(0.01, momentum=0.5, centered=True),
                  loss=keras.losses.SparseCategoricalCrossentropy(),
                  metrics=[keras.metrics.SparseCategoricalAccuracy()])
    x = rng.random((6, 8, 8, 1), dtype=np.float32)
    y = np.array([0, 1, 2, 0, 1, 2])
    for _ in range(3):
        model.train_on_batch(x, y)
    model.save(os.path.join(OUT, "convnet.keras"))
    h5_path = os.path.join(OUT, "convnet.weights.h5")
    model.save_weights(h5_path)
    with open(h5_path, "rb") as f, gzip.GzipFile(h5_path + ".gz", "wb", mtime=0) as g:
        g.write(f.read())
    os.remove(h5_path)
    expected.update(convnet_x=x, convnet_y=y, convnet_pred=model.predict(x, verbose=0),
                    convnet_eval=np.array(model.evaluate(x, y, verbose=0)))
    for i, v in enumerate(model.optimizer.variables):
        expected[f"convnet_opt_{i}"] = keras.ops.convert_to_numpy(v)


def dense(expected, rng):
    keras.backend.clear_session()
    keras.utils.set_random_seed(2)
    model = keras.Sequential([
        keras.Input((4, 4, 2)),
        layers.GlobalAveragePooling2D(),
        layers.Dense(8, activation="relu"),
        layers.Reshape((2, 4)),
        layers.Flatten(),
        layers.Activation("tanh"),
        layers.Dense(3, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    x = rng.normal(size=(5, 4, 4, 2)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[[0, 1, 2, 1, 0]]
    for _ in range(3):
        model.train_on_batch(x, y)
    model.save(os.path.join(OUT, "dense.keras"))
    expected.update(dense_x=x, dense_y=y, dense_pred=model.predict(x, verbose=0),
                    dense_eval=np.array(model.evaluate(x, y, verbose=0)))
    expected["dense_next_result"] = np.array(model.train_on_batch(x, y))
    for i, w in enumerate(model.get_weights()):
        expected[f"dense_next_w{i}"] = w


def refused():
    keras.backend.clear_session()
    keras.utils.set_random_seed(3)
    keras.Sequential([keras.Input((4,)), layers.Lambda(lambda t: t * 2)]).save(
        os.path.join(OUT, "lambda.keras"))
    keras.Sequential([keras.Input((5, 2)), layers.Conv1D(2, 2)]).save(
        os.path.join(OUT, "conv1d.keras"))


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(0)
    expected = {}
    convnet(expected, rng)
    dense(expected, rng)
    refused()
    for name in ("convnet", "dense", "lambda", "conv1d"):
        repack(os.path.join(OUT, f"{name}.keras"))
    np.savez_compressed(os.path.join(OUT, "expected.npz"), **expected)
    for name in sorted(os.listdir(OUT)):
        print(f"{name}: {os.path.getsize(os.path.join(OUT, name))} bytes")


if __name__ == "__main__":
    main()
