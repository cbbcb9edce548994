# Source: https://github.com/keras-team/keras-io/blob/master/guides/training_with_built_in_methods.py
#   ("Training & evaluation with the built-in methods" guide, fchollet; Keras 3 version,
#   commit 855e37d of guides/keras_core/training_with_built_in_methods.py)
# License: Apache-2.0 (keras-team/keras-io)
#   Cells used: "Handling losses and metrics that don't fit the standard signature"
#   (add_loss() in a custom layer; an endpoint layer and compile() without a loss).
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


class ActivityRegularizationLayer(layers.Layer):
    def call(self, inputs):
        self.add_loss(ops.sum(inputs) * 0.1)
        return inputs  # Pass-through layer.


inputs = keras.Input(shape=(784,), name="digits")
x = layers.Dense(64, activation="relu", name="dense_1")(inputs)

# Insert activity regularization as a layer
x = ActivityRegularizationLayer()(x)

x = layers.Dense(64, activation="relu", name="dense_2")(x)
outputs = layers.Dense(10, name="predictions")(x)

model = keras.Model(inputs=inputs, outputs=outputs)
model.compile(
    optimizer=keras.optimizers.RMSprop(learning_rate=1e-3),
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
)

# The displayed loss will be much higher than before
# due to the regularization component.
model.fit(x_train, y_train, batch_size=64, epochs=1)


class LogisticEndpoint(keras.layers.Layer):
    def __init__(self, name=None):
        super().__init__(name=name)
        self.loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)

    def call(self, targets, logits, sample_weights=None):
        # Compute the training-time loss value and add it
        # to the layer using `self.add_loss()`.
        loss = self.loss_fn(targets, logits, sample_weights)
        self.add_loss(loss)

        # Return the inference-time prediction tensor (for `.predict()`).
        return ops.softmax(logits)


inputs = keras.Input(shape=(3,), name="inputs")
targets = keras.Input(shape=(10,), name="targets")
logits = keras.layers.Dense(10)(inputs)
predictions = LogisticEndpoint(name="predictions")(targets, logits)

model = keras.Model(inputs=[inputs, targets], outputs=predictions)
model.compile(optimizer="adam")  # No loss argument!

data = {
    "inputs": np.random.random((3, 3)),
    "targets": np.random.random((3, 10)),
}
model.fit(data)
