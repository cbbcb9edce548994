# Source: https://github.com/keras-team/keras-io/blob/master/guides/working_with_rnns.py
#   ("Working with RNNs" guide, Scott Zhu and Francois Chollet; Keras 3 version,
#   last modified 2023/07/10, keras-io commit 4849412)
# License: Apache-2.0 (keras-team/keras-io)
#   Cells used: "Performance optimization and CuDNN kernels" / "Using CuDNN kernels when
#   available" (an LSTM on MNIST rows, then the same model as RNN(LSTMCell) with the
#   first model's weights).
# Changes from the original:
#   (a) `import keras` -> `import tensorlib as keras`;
#       `from keras import layers` -> `from tensorlib import layers`; the guide's
#       `import tensorflow as tf` is dropped (used only by the `tf.device` cell, which
#       is not included: it also plots with matplotlib)
#   (b) mnist.load_data() -> corpus_data.mnist_like(1000, 200) (local Fashion-MNIST
#       slice, same shapes and dtypes)
#   Prose cells are trimmed.
"""
Title: Working with RNNs
Authors: Scott Zhu, Francois Chollet
Date created: 2019/07/08
Last modified: 2023/07/10
Description: Complete guide to using & customizing RNN layers.
Accelerator: GPU
"""
"""
## Setup
"""

import numpy as np
import tensorlib as keras
from tensorlib import layers
from corpus_data import mnist_like

"""
### Using CuDNN kernels when available
"""

batch_size = 64
# Each MNIST image batch is a tensor of shape (batch_size, 28, 28).
# Each input sequence will be of size (28, 28) (height is treated like time).
input_dim = 28

units = 64
output_size = 10  # labels are from 0 to 9


# Build the RNN model
def build_model(allow_cudnn_kernel=True):
    # CuDNN is only available at the layer level, and not at the cell level.
    # This means `LSTM(units)` will use the CuDNN kernel,
    # while RNN(LSTMCell(units)) will run on non-CuDNN kernel.
    if allow_cudnn_kernel:
        # The LSTM layer with default options uses CuDNN.
        lstm_layer = keras.layers.LSTM(units, input_shape=(None, input_dim))
    else:
        # Wrapping a LSTMCell in a RNN layer will not use CuDNN.
        lstm_layer = keras.layers.RNN(
            keras.layers.LSTMCell(units), input_shape=(None, input_dim)
        )
    model = keras.models.Sequential(
        [
            lstm_layer,
            keras.layers.BatchNormalization(),
            keras.layers.Dense(output_size),
        ]
    )
    return model


"""
Let's load the MNIST dataset:
"""

mnist = keras.datasets.mnist

(x_train, y_train), (x_test, y_test) = mnist_like(1000, 200)
x_train, x_test = x_train / 255.0, x_test / 255.0
sample, sample_label = x_train[0], y_train[0]

"""
Let's create a model instance and train it.
"""

model = build_model(allow_cudnn_kernel=True)

model.compile(
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    optimizer="sgd",
    metrics=["accuracy"],
)


model.fit(
    x_train, y_train, validation_data=(x_test, y_test), batch_size=batch_size, epochs=1
)

"""
Now, let's compare to a model that does not use the CuDNN kernel:
"""

noncudnn_model = build_model(allow_cudnn_kernel=False)
noncudnn_model.set_weights(model.get_weights())
noncudnn_model.compile(
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    optimizer="sgd",
    metrics=["accuracy"],
)
noncudnn_model.fit(
    x_train, y_train, validation_data=(x_test, y_test), batch_size=batch_size, epochs=1
)
