# Source: https://github.com/keras-team/keras-io/blob/master/guides/functional_api.py
#   ("The Functional API" guide, fchollet; Keras 3 version, commit 855e37d of
#   guides/keras_core/functional_api.py, identical code in guides/functional_api.py)
# License: Apache-2.0 (keras-team/keras-io)
#   Cells used: "Introduction" through "Save and serialize".
# Changes from the original:
#   (a) `import keras` -> `import tensorlib as keras`; `from keras import x` ->
#       `from tensorlib import x`
#   (b) keras.datasets.mnist.load_data() -> corpus_data.mnist_like(600, 100)
#       (local Fashion-MNIST slice, same shapes and dtypes)
#   (c) reshape(60000, 784) / reshape(10000, 784) -> reshape(600, 784) / reshape(100, 784)
#       to match the smaller data; epochs 2 -> 1
#   Omitted cells: the two keras.utils.plot_model calls (need pydot + graphviz).

import numpy as np
import tensorlib as keras
from tensorlib import layers
from tensorlib import ops
from corpus_data import mnist_like

inputs = keras.Input(shape=(784,))

# Just for demonstration purposes.
img_inputs = keras.Input(shape=(32, 32, 3))

inputs.shape

inputs.dtype

dense = layers.Dense(64, activation="relu")
x = dense(inputs)

x = layers.Dense(64, activation="relu")(x)
outputs = layers.Dense(10)(x)

model = keras.Model(inputs=inputs, outputs=outputs, name="mnist_model")

model.summary()

"""
## Training, evaluation, and inference
"""

(x_train, y_train), (x_test, y_test) = mnist_like(600, 100)

x_train = x_train.reshape(600, 784).astype("float32") / 255
x_test = x_test.reshape(100, 784).astype("float32") / 255

model.compile(
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    optimizer=keras.optimizers.RMSprop(),
    metrics=["accuracy"],
)

history = model.fit(x_train, y_train, batch_size=64, epochs=1, validation_split=0.2)

test_scores = model.evaluate(x_test, y_test, verbose=2)
print("Test loss:", test_scores[0])
print("Test accuracy:", test_scores[1])

"""
## Save and serialize
"""

model.save("my_model.keras")
del model
# Recreate the exact same model purely from the file:
model = keras.models.load_model("my_model.keras")
