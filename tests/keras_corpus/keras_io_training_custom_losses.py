# Source: https://github.com/keras-team/keras-io/blob/master/guides/training_with_built_in_methods.py
#   ("Training & evaluation with the built-in methods" guide, fchollet; Keras 3 version,
#   commit 855e37d of guides/keras_core/training_with_built_in_methods.py)
# License: Apache-2.0 (keras-team/keras-io)
#   Cells used: "Custom losses" (a loss function and a keras.losses.Loss subclass).
# Changes from the original:
#   (a) `import keras` -> `import tensorlib as keras`; `from keras import x` ->
#       `from tensorlib import x`; the guide's `import torch` / `import tensorflow as tf`
#       are dropped (used only by the tf.data / DataLoader cells, which are not included)
#   (b) keras.datasets.mnist.load_data() -> corpus_data.mnist_like(1000, 200)
#       (local Fashion-MNIST slice, same shapes and dtypes)
#   (c) reshape(60000, 784) / reshape(10000, 784) -> reshape(1000, 784) / reshape(200, 784)
#       and the 10,000-sample validation slices -> 200 samples, to match the smaller data

import os
import numpy as np
import tensorlib as keras
from tensorlib import layers
from tensorlib import ops
from corpus_data import mnist_like

(x_train, y_train), (x_test, y_test) = mnist_like(1000, 200)

# Preprocess the data (these are NumPy arrays)
x_train = x_train.reshape(1000, 784).astype("float32") / 255
x_test = x_test.reshape(200, 784).astype("float32") / 255

y_train = y_train.astype("float32")
y_test = y_test.astype("float32")

# Reserve 10,000 samples for validation
x_val = x_train[-200:]
y_val = y_train[-200:]
x_train = x_train[:-200]
y_train = y_train[:-200]


def get_uncompiled_model():
    inputs = keras.Input(shape=(784,), name="digits")
    x = layers.Dense(64, activation="relu", name="dense_1")(inputs)
    x = layers.Dense(64, activation="relu", name="dense_2")(x)
    outputs = layers.Dense(10, activation="softmax", name="predictions")(x)
    model = keras.Model(inputs=inputs, outputs=outputs)
    return model


def get_compiled_model():
    model = get_uncompiled_model()
    model.compile(
        optimizer="rmsprop",
        loss="sparse_categorical_crossentropy",
        metrics=["sparse_categorical_accuracy"],
    )
    return model


def custom_mean_squared_error(y_true, y_pred):
    return ops.mean(ops.square(y_true - y_pred), axis=-1)


model = get_uncompiled_model()
model.compile(optimizer=keras.optimizers.Adam(), loss=custom_mean_squared_error)

# We need to one-hot encode the labels to use MSE
y_train_one_hot = ops.one_hot(y_train, num_classes=10)
model.fit(x_train, y_train_one_hot, batch_size=64, epochs=1)


class CustomMSE(keras.losses.Loss):
    def __init__(self, regularization_factor=0.1, name="custom_mse"):
        super().__init__(name=name)
        self.regularization_factor = regularization_factor

    def call(self, y_true, y_pred):
        mse = ops.mean(ops.square(y_true - y_pred), axis=-1)
        reg = ops.mean(ops.square(0.5 - y_pred), axis=-1)
        return mse + reg * self.regularization_factor


model = get_uncompiled_model()
model.compile(optimizer=keras.optimizers.Adam(), loss=CustomMSE())

y_train_one_hot = ops.one_hot(y_train, num_classes=10)
model.fit(x_train, y_train_one_hot, batch_size=64, epochs=1)
