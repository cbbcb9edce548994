# Source: https://github.com/fchollet/deep-learning-with-python-notebooks/blob/master/chapter07_deep-dive-keras.ipynb
#   (companion notebook of "Deep Learning with Python", third edition, F. Chollet and
#   M. Watson, Keras 3; commit dea84a4)
# License: MIT (fchollet/deep-learning-with-python-notebooks, Copyright (c) 2017-present
#   François Chollet)
#   Cells used: "Using built-in training and evaluation loops", "Writing your own
#   metrics" and "The EarlyStopping and ModelCheckpoint callbacks".
# Changes from the original:
#   (a) `import keras` -> `import tensorlib as keras`; `from keras import x` ->
#       `from tensorlib import x`
#   (b) `from keras.datasets import mnist` + mnist.load_data() ->
#       corpus_data.mnist_like(1000, 200) (local Fashion-MNIST slice, same shapes/dtypes)
#   (c) reshape((60000, 28 * 28)) / reshape((10000, 28 * 28)) -> reshape((1000, ...)) /
#       reshape((200, ...)) and the 10,000-image validation split -> 200 images, to
#       match the smaller data; epochs 3 -> 1 and 10 -> 2
#   Omitted cells: the `!pip install` and backend-selection cells; the LossHistory
#   callback (it only plots with matplotlib) and its fit; the TensorBoard cells (Keras
#   3's keras.callbacks.TensorBoard writes through tensorflow.summary, so it needs
#   TensorFlow even with the torch backend).

import tensorlib as keras
from tensorlib import layers

"""
### Using built-in training and evaluation loops
"""

from corpus_data import mnist_like

def get_mnist_model():
    inputs = keras.Input(shape=(28 * 28,))
    features = layers.Dense(512, activation="relu")(inputs)
    features = layers.Dropout(0.5)(features)
    outputs = layers.Dense(10, activation="softmax")(features)
    model = keras.Model(inputs, outputs)
    return model

(images, labels), (test_images, test_labels) = mnist_like(1000, 200)
images = images.reshape((1000, 28 * 28)).astype("float32") / 255
test_images = test_images.reshape((200, 28 * 28)).astype("float32") / 255
train_images, val_images = images[200:], images[:200]
train_labels, val_labels = labels[200:], labels[:200]

model = get_mnist_model()
model.compile(
    optimizer="adam",
    loss="sparse_categorical_crossentropy",
    metrics=["accuracy"],
)
model.fit(
    train_images,
    train_labels,
    epochs=1,
    validation_data=(val_images, val_labels),
)
test_metrics = model.evaluate(test_images, test_labels)
predictions = model.predict(test_images)

"""
#### Writing your own metrics
"""

from tensorlib import ops

class RootMeanSquaredError(keras.metrics.Metric):
    def __init__(self, name="rmse", **kwargs):
        super().__init__(name=name, **kwargs)
        self.mse_sum = self.add_weight(name="mse_sum", initializer="zeros")
        self.total_samples = self.add_weight(
            name="total_samples", initializer="zeros"
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.one_hot(y_true, num_classes=ops.shape(y_pred)[1])
        mse = ops.sum(ops.square(y_true - y_pred))
        self.mse_sum.assign_add(mse)
        num_samples = ops.shape(y_pred)[0]
        self.total_samples.assign_add(num_samples)

    def result(self):
        return ops.sqrt(self.mse_sum / self.total_samples)

    def reset_state(self):
        self.mse_sum.assign(0.)
        self.total_samples.assign(0.)

model = get_mnist_model()
model.compile(
    optimizer="adam",
    loss="sparse_categorical_crossentropy",
    metrics=["accuracy", RootMeanSquaredError()],
)
model.fit(
    train_images,
    train_labels,
    epochs=1,
    validation_data=(val_images, val_labels),
)
test_metrics = model.evaluate(test_images, test_labels)

"""
##### The EarlyStopping and ModelCheckpoint callbacks
"""

callbacks_list = [
    keras.callbacks.EarlyStopping(
        monitor="accuracy",
        patience=1,
    ),
    keras.callbacks.ModelCheckpoint(
        filepath="checkpoint_path.keras",
        monitor="val_loss",
        save_best_only=True,
    ),
]
model = get_mnist_model()
model.compile(
    optimizer="adam",
    loss="sparse_categorical_crossentropy",
    metrics=["accuracy"],
)
model.fit(
    train_images,
    train_labels,
    epochs=2,
    callbacks=callbacks_list,
    validation_data=(val_images, val_labels),
)

model = keras.models.load_model("checkpoint_path.keras")
