# Source: https://github.com/keras-team/keras/blob/master/examples/demo_functional.py
#   (commit 2fae37e)
# License: Apache-2.0 (keras-team/keras)
# Changes from the original:
#   (a) `from keras import x` -> `from tensorlib import x`;
#       `import keras` -> `import tensorlib as keras`
#   (b) none (the demo already uses random NumPy data)
#   (c) 50000 random samples -> 2000; epochs 5 -> 1

import numpy as np

from tensorlib import Model
from tensorlib import layers
from tensorlib import losses
from tensorlib import metrics
from tensorlib import optimizers
import tensorlib as keras

keras.config.disable_traceback_filtering()

inputs = layers.Input((100,))
x = layers.Dense(512, activation="relu")(inputs)
residual = x
x = layers.Dense(512, activation="relu")(x)
x = layers.Dense(512, activation="relu")(x)
x += residual
x = layers.Dense(512, activation="relu")(x)
residual = x
x = layers.Dense(512, activation="relu")(x)
x = layers.Dense(512, activation="relu")(x)
x += residual
residual = x
x = layers.Dense(512, activation="relu")(x)
x = layers.Dense(512, activation="relu")(x)
x += residual
outputs = layers.Dense(16)(x)
model = Model(inputs, outputs)

model.summary()

x = np.random.random((2000, 100))
y = np.random.random((2000, 16))
batch_size = 32
epochs = 1

model.compile(
    optimizer=optimizers.Adam(learning_rate=0.001),
    loss=losses.MeanSquaredError(),
    metrics=[
        metrics.CategoricalAccuracy(name="acc"),
        metrics.MeanSquaredError(name="mse"),
    ],
)

print("\nTrain model")
history = model.fit(
    x, y, batch_size=batch_size, epochs=epochs, validation_split=0.2
)
print("\nHistory:")
print(history.history)

print("\nEvaluate model")
scores = model.evaluate(x, y, return_dict=True)
print(scores)

print("\nRun inference")
pred = model.predict(x)
print(f"Inferred output shape {pred.shape}")
