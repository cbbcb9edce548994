# Source: https://github.com/fchollet/deep-learning-with-python-notebooks/blob/master/chapter04_classification-and-regression.ipynb
#   (companion notebook of "Deep Learning with Python", third edition, F. Chollet and
#   M. Watson, Keras 3; commit dea84a4)
# License: MIT (fchollet/deep-learning-with-python-notebooks, Copyright (c) 2017-present
#   François Chollet)
#   Cells used: "Predicting house prices: a regression example" (K-fold validation).
# Changes from the original:
#   (a) `import keras` -> `import tensorlib as keras`;
#       `from keras import layers` -> `from tensorlib import layers` (the notebook
#       imports them in its earlier IMDB section; `import numpy as np` likewise)
#   (b) `from keras.datasets import california_housing` +
#       california_housing.load_data(version="small") (a download) ->
#       corpus_data.california_housing_like(160, 40): float32 (n, 8) features and
#       float32 prices around 150,000
#   (c) 480 + 120 samples -> 160 + 40; num_epochs 50 -> 1 and 200 -> 2; the final fit's
#       epochs 130 -> 2
#   Omitted cells: the `!pip install` and backend-selection cells, and the matplotlib
#   plots of the validation MAE.

import numpy as np
import tensorlib as keras
from tensorlib import layers

"""
### Predicting house prices: a regression example
"""

from corpus_data import california_housing_like

(train_data, train_targets), (test_data, test_targets) = (
    california_housing_like(160, 40)
)

train_data.shape

test_data.shape

train_targets

mean = train_data.mean(axis=0)
std = train_data.std(axis=0)
x_train = (train_data - mean) / std
x_test = (test_data - mean) / std

y_train = train_targets / 100000
y_test = test_targets / 100000

def get_model():
    model = keras.Sequential(
        [
            layers.Dense(64, activation="relu"),
            layers.Dense(64, activation="relu"),
            layers.Dense(1),
        ]
    )
    model.compile(
        optimizer="adam",
        loss="mean_squared_error",
        metrics=["mean_absolute_error"],
    )
    return model

k = 4
num_val_samples = len(x_train) // k
num_epochs = 1
all_scores = []
for i in range(k):
    print(f"Processing fold #{i + 1}")
    fold_x_val = x_train[i * num_val_samples : (i + 1) * num_val_samples]
    fold_y_val = y_train[i * num_val_samples : (i + 1) * num_val_samples]
    fold_x_train = np.concatenate(
        [x_train[: i * num_val_samples], x_train[(i + 1) * num_val_samples :]],
        axis=0,
    )
    fold_y_train = np.concatenate(
        [y_train[: i * num_val_samples], y_train[(i + 1) * num_val_samples :]],
        axis=0,
    )
    model = get_model()
    model.fit(
        fold_x_train,
        fold_y_train,
        epochs=num_epochs,
        batch_size=16,
        verbose=0,
    )
    scores = model.evaluate(fold_x_val, fold_y_val, verbose=0)
    val_loss, val_mae = scores
    all_scores.append(val_mae)

[round(value, 3) for value in all_scores]

round(np.mean(all_scores), 3)

k = 4
num_val_samples = len(x_train) // k
num_epochs = 2
all_mae_histories = []
for i in range(k):
    print(f"Processing fold #{i + 1}")
    fold_x_val = x_train[i * num_val_samples : (i + 1) * num_val_samples]
    fold_y_val = y_train[i * num_val_samples : (i + 1) * num_val_samples]
    fold_x_train = np.concatenate(
        [x_train[: i * num_val_samples], x_train[(i + 1) * num_val_samples :]],
        axis=0,
    )
    fold_y_train = np.concatenate(
        [y_train[: i * num_val_samples], y_train[(i + 1) * num_val_samples :]],
        axis=0,
    )
    model = get_model()
    history = model.fit(
        fold_x_train,
        fold_y_train,
        validation_data=(fold_x_val, fold_y_val),
        epochs=num_epochs,
        batch_size=16,
        verbose=0,
    )
    mae_history = history.history["val_mean_absolute_error"]
    all_mae_histories.append(mae_history)

average_mae_history = [
    np.mean([x[i] for x in all_mae_histories]) for i in range(num_epochs)
]

model = get_model()
model.fit(x_train, y_train, epochs=2, batch_size=16, verbose=0)
test_mean_squared_error, test_mean_absolute_error = model.evaluate(
    x_test, y_test
)

round(test_mean_absolute_error, 3)

predictions = model.predict(x_test)
predictions[0]
