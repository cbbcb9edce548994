# Source: https://github.com/keras-team/keras-io/blob/master/guides/functional_api.py
#   ("The Functional API" guide, fchollet; Keras 3 version, commit 855e37d of
#   guides/keras_core/functional_api.py, identical code in guides/functional_api.py)
# License: Apache-2.0 (keras-team/keras-io)
#   Cells used: "A toy ResNet model".
# Changes from the original:
#   (a) `import keras` -> `import tensorlib as keras`; `from keras import x` ->
#       `from tensorlib import x`
#   (b) keras.datasets.cifar10.load_data() -> corpus_data.cifar10_like(200, 50)
#       (random uint8 images, same shapes and dtypes)
#   (c) x_train[:1000] -> x_train[:200] (the guide's own restriction, made smaller)
#   Omitted cells: keras.utils.plot_model (needs pydot + graphviz).

import numpy as np
import tensorlib as keras
from tensorlib import layers
from tensorlib import ops
from corpus_data import cifar10_like

inputs = keras.Input(shape=(32, 32, 3), name="img")
x = layers.Conv2D(32, 3, activation="relu")(inputs)
x = layers.Conv2D(64, 3, activation="relu")(x)
block_1_output = layers.MaxPooling2D(3)(x)

x = layers.Conv2D(64, 3, activation="relu", padding="same")(block_1_output)
x = layers.Conv2D(64, 3, activation="relu", padding="same")(x)
block_2_output = layers.add([x, block_1_output])

x = layers.Conv2D(64, 3, activation="relu", padding="same")(block_2_output)
x = layers.Conv2D(64, 3, activation="relu", padding="same")(x)
block_3_output = layers.add([x, block_2_output])

x = layers.Conv2D(64, 3, activation="relu")(block_3_output)
x = layers.GlobalAveragePooling2D()(x)
x = layers.Dense(256, activation="relu")(x)
x = layers.Dropout(0.5)(x)
outputs = layers.Dense(10)(x)

model = keras.Model(inputs, outputs, name="toy_resnet")
model.summary()

(x_train, y_train), (x_test, y_test) = cifar10_like(200, 50)

x_train = x_train.astype("float32") / 255.0
x_test = x_test.astype("float32") / 255.0
y_train = keras.utils.to_categorical(y_train, 10)
y_test = keras.utils.to_categorical(y_test, 10)

model.compile(
    optimizer=keras.optimizers.RMSprop(1e-3),
    loss=keras.losses.CategoricalCrossentropy(from_logits=True),
    metrics=["acc"],
)
# We restrict the data to the first 1000 samples so as to limit execution time
# on Colab. Try to train on the entire dataset until convergence!
model.fit(
    x_train[:200],
    y_train[:200],
    batch_size=64,
    epochs=1,
    validation_split=0.2,
)
