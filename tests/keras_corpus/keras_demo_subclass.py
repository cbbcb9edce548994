# Source: https://github.com/keras-team/keras/blob/master/examples/demo_subclass.py
#   (commit 1cbb88b)
# License: Apache-2.0 (keras-team/keras)
# Changes from the original:
#   (a) `from keras import x` -> `from tensorlib import x`
#   (b) none (the demo already uses random NumPy data)
#   (c) 50000 random samples -> 2000; epochs 6 -> 1

import numpy as np

from tensorlib import Model
from tensorlib import layers
from tensorlib import losses
from tensorlib import metrics
from tensorlib import optimizers


class MyModel(Model):
    def __init__(self, hidden_dim, output_dim):
        super().__init__()
        self.dense1 = layers.Dense(hidden_dim, activation="relu")
        self.dense2 = layers.Dense(hidden_dim, activation="relu")
        self.dense3 = layers.Dense(output_dim)

    def call(self, x):
        x = self.dense1(x)
        x = self.dense2(x)
        return self.dense3(x)


model = MyModel(hidden_dim=256, output_dim=16)

x = np.random.random((2000, 128))
y = np.random.random((2000, 16))
batch_size = 32
epochs = 1

model.compile(
    optimizer=optimizers.SGD(learning_rate=0.001),
    loss=losses.MeanSquaredError(),
    metrics=[metrics.MeanSquaredError()],
)
history = model.fit(
    x, y, batch_size=batch_size, epochs=epochs, validation_split=0.2
)

print("History:")
print(history.history)

model.summary()
