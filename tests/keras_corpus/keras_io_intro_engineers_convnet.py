# Source: https://github.com/keras-team/keras-io/blob/master/guides/intro_to_keras_for_engineers.py
#   ("Introduction to Keras for engineers", fchollet, 2023/07/10)
# License: Apache-2.0 (keras-team/keras-io)
#   Cells used: "Setup" and "A first example: A MNIST convnet".
# Changes from the original:
#   (a) `import keras` -> `import tensorlib as keras`; the cell that sets
#       os.environ["KERAS_BACKEND"] = "jax" is dropped (backend selection; tensorlib has one
#       backend, and the Keras check runs with KERAS_BACKEND=torch)
#   (b) keras.datasets.mnist.load_data() -> corpus_data.mnist_like(400, 100)
#       (local Fashion-MNIST slice, same shapes and dtypes)
#   (c) epochs 20 -> 2

import numpy as np
import os

import tensorlib as keras
from corpus_data import mnist_like

# Load the data and split it between train and test sets
(x_train, y_train), (x_test, y_test) = mnist_like(400, 100)

# Scale images to the [0, 1] range
x_train = x_train.astype("float32") / 255
x_test = x_test.astype("float32") / 255
# Make sure images have shape (28, 28, 1)
x_train = np.expand_dims(x_train, -1)
x_test = np.expand_dims(x_test, -1)
print("x_train shape:", x_train.shape)
print("y_train shape:", y_train.shape)
print(x_train.shape[0], "train samples")
print(x_test.shape[0], "test samples")

# Model parameters
num_classes = 10
input_shape = (28, 28, 1)

model = keras.Sequential(
    [
        keras.layers.Input(shape=input_shape),
        keras.layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        keras.layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        keras.layers.MaxPooling2D(pool_size=(2, 2)),
        keras.layers.Conv2D(128, kernel_size=(3, 3), activation="relu"),
        keras.layers.Conv2D(128, kernel_size=(3, 3), activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dropout(0.5),
        keras.layers.Dense(num_classes, activation="softmax"),
    ]
)

model.summary()

model.compile(
    loss=keras.losses.SparseCategoricalCrossentropy(),
    optimizer=keras.optimizers.Adam(learning_rate=1e-3),
    metrics=[
        keras.metrics.SparseCategoricalAccuracy(name="acc"),
    ],
)

batch_size = 128
epochs = 2

callbacks = [
    keras.callbacks.ModelCheckpoint(filepath="model_at_epoch_{epoch}.keras"),
    keras.callbacks.EarlyStopping(monitor="val_loss", patience=2),
]

model.fit(
    x_train,
    y_train,
    batch_size=batch_size,
    epochs=epochs,
    validation_split=0.15,
    callbacks=callbacks,
)
score = model.evaluate(x_test, y_test, verbose=0)

model.save("final_model.keras")

model = keras.saving.load_model("final_model.keras")

predictions = model.predict(x_test)
