# Source: https://github.com/keras-team/keras-io/blob/master/guides/training_with_built_in_methods.py
#   ("Training & evaluation with the built-in methods" guide, fchollet; Keras 3 version,
#   commit 855e37d of guides/keras_core/training_with_built_in_methods.py)
# License: Apache-2.0 (keras-team/keras-io)
#   Cells used: "Training & evaluation using PyDataset instances" and
#   "Using sample weighting and class weighting" (NumPy versions).
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


class ExamplePyDataset(keras.utils.PyDataset):
    def __init__(self, x, y, batch_size, **kwargs):
        super().__init__(**kwargs)
        self.x = x
        self.y = y
        self.batch_size = batch_size

    def __len__(self):
        return int(np.ceil(len(self.x) / float(self.batch_size)))

    def __getitem__(self, idx):
        batch_x = self.x[idx * self.batch_size : (idx + 1) * self.batch_size]
        batch_y = self.y[idx * self.batch_size : (idx + 1) * self.batch_size]
        return batch_x, batch_y


train_py_dataset = ExamplePyDataset(x_train, y_train, batch_size=32)
val_py_dataset = ExamplePyDataset(x_val, y_val, batch_size=32)

model = get_compiled_model()
model.fit(train_py_dataset, batch_size=64, validation_data=val_py_dataset, epochs=1)

model.evaluate(val_py_dataset)

class_weight = {
    0: 1.0,
    1: 1.0,
    2: 1.0,
    3: 1.0,
    4: 1.0,
    # Set weight "2" for class "5",
    # making this class 2x more important
    5: 2.0,
    6: 1.0,
    7: 1.0,
    8: 1.0,
    9: 1.0,
}

print("Fit with class weight")
model = get_compiled_model()
model.fit(x_train, y_train, class_weight=class_weight, batch_size=64, epochs=1)

sample_weight = np.ones(shape=(len(y_train),))
sample_weight[y_train == 5] = 2.0

print("Fit with sample weight")
model = get_compiled_model()
model.fit(x_train, y_train, sample_weight=sample_weight, batch_size=64, epochs=1)
