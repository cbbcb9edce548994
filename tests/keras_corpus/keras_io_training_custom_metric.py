# Source: https://github.com/keras-team/keras-io/blob/master/guides/training_with_built_in_methods.py
#   ("Training & evaluation with the built-in methods" guide, fchollet; Keras 3 version,
#   commit 855e37d of guides/keras_core/training_with_built_in_methods.py)
# License: Apache-2.0 (keras-team/keras-io)
#   Cells used: "Custom metrics" (a keras.metrics.Metric subclass).
# Changes from the original:
#   (a) `import keras` -> `import tensorlib as keras`; `from keras import x` ->
#       `from tensorlib import x`; the guide's `import torch` / `import tensorflow as tf`
#       are dropped (used only by the tf.data / DataLoader cells, which are not included)
#   (b) keras.datasets.mnist.load_data() -> corpus_data.mnist_like(1000, 200)
#       (local Fashion-MNIST slice, same shapes and dtypes)
#   (c) reshape(60000, 784) / reshape(10000, 784) -> reshape(1000, 784) / reshape(200, 784)
#       and the 10,000-sample validation slices -> 200 samples, to match the smaller data; epochs 3 -> 1

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


class CategoricalTruePositives(keras.metrics.Metric):
    def __init__(self, name="categorical_true_positives", **kwargs):
        super().__init__(name=name, **kwargs)
        self.true_positives = self.add_variable(
            shape=(), name="ctp", initializer="zeros"
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.reshape(ops.argmax(y_pred, axis=1), (-1, 1))
        values = ops.cast(y_true, "int32") == ops.cast(y_pred, "int32")
        values = ops.cast(values, "float32")
        if sample_weight is not None:
            sample_weight = ops.cast(sample_weight, "float32")
            values = ops.multiply(values, sample_weight)
        self.true_positives.assign_add(ops.sum(values))

    def result(self):
        return self.true_positives

    def reset_state(self):
        # The state of the metric will be reset at the start of each epoch.
        self.true_positives.assign(0.0)


model = get_uncompiled_model()
model.compile(
    optimizer=keras.optimizers.RMSprop(learning_rate=1e-3),
    loss=keras.losses.SparseCategoricalCrossentropy(),
    metrics=[CategoricalTruePositives()],
)
model.fit(x_train, y_train, batch_size=64, epochs=1)
