# Source: https://github.com/fchollet/deep-learning-with-python-notebooks/blob/master/chapter04_classification-and-regression.ipynb
#   (companion notebook of "Deep Learning with Python", third edition, F. Chollet and
#   M. Watson, Keras 3; commit dea84a4)
# License: MIT (fchollet/deep-learning-with-python-notebooks, Copyright (c) 2017-present
#   François Chollet)
#   Cells used: "Classifying movie reviews: A binary classification example" and
#   "Classifying newswires: A multiclass classification example".
# Changes from the original:
#   (a) `import keras` -> `import tensorlib as keras`; `from keras import x` /
#       `from keras.utils import x` -> `from tensorlib import x` /
#       `from tensorlib.utils import x`
#   (b) `from keras.datasets import imdb` / `reuters` + load_data(num_words=10000) ->
#       corpus_data.imdb_like(10000, 300, 200) / reuters_like(10000, 300, 100) (object
#       arrays of int lists starting with 1, int64 labels: 0/1, and 0..45 with every
#       class present); imdb.get_word_index() / reuters.get_word_index() (downloads) ->
#       corpus_data.word_index_like(10000)
#   (c) 25,000 / 8,982 training samples -> 300 (test: 25,000 / 2,246 -> 200 / 100); the
#       10,000 / 1,000-sample validation slices -> 100; epochs 20 -> 2, 4 -> 1, 9 -> 1
#   Omitted cells: the `!pip install` and backend-selection cells, and the matplotlib
#   plots of the training curves.

"""
### Classifying movie reviews: A binary classification example
"""

from corpus_data import imdb_like, reuters_like, word_index_like

(train_data, train_labels), (test_data, test_labels) = imdb_like(10000, 300, 200)

train_data[0]

train_labels[0]

max([max(sequence) for sequence in train_data])

word_index = word_index_like(10000)
reverse_word_index = dict([(value, key) for (key, value) in word_index.items()])
decoded_review = " ".join(
    [reverse_word_index.get(i - 3, "?") for i in train_data[0]]
)

decoded_review[:100]

import numpy as np

def multi_hot_encode(sequences, num_classes):
    results = np.zeros((len(sequences), num_classes))
    for i, sequence in enumerate(sequences):
        results[i][sequence] = 1.0
    return results

x_train = multi_hot_encode(train_data, num_classes=10000)
x_test = multi_hot_encode(test_data, num_classes=10000)

x_train[0]

y_train = train_labels.astype("float32")
y_test = test_labels.astype("float32")

import tensorlib as keras
from tensorlib import layers

model = keras.Sequential(
    [
        layers.Dense(16, activation="relu"),
        layers.Dense(16, activation="relu"),
        layers.Dense(1, activation="sigmoid"),
    ]
)

model.compile(
    optimizer="adam",
    loss="binary_crossentropy",
    metrics=["accuracy"],
)

x_val = x_train[:100]
partial_x_train = x_train[100:]
y_val = y_train[:100]
partial_y_train = y_train[100:]

history = model.fit(
    partial_x_train,
    partial_y_train,
    epochs=2,
    batch_size=512,
    validation_data=(x_val, y_val),
)

history = model.fit(
    x_train,
    y_train,
    epochs=2,
    batch_size=512,
    validation_split=0.2,
)

history_dict = history.history
history_dict.keys()

model = keras.Sequential(
    [
        layers.Dense(16, activation="relu"),
        layers.Dense(16, activation="relu"),
        layers.Dense(1, activation="sigmoid"),
    ]
)
model.compile(
    optimizer="adam",
    loss="binary_crossentropy",
    metrics=["accuracy"],
)
model.fit(x_train, y_train, epochs=1, batch_size=512)
results = model.evaluate(x_test, y_test)

results

model.predict(x_test)

"""
### Classifying newswires: A multiclass classification example
"""

(train_data, train_labels), (test_data, test_labels) = reuters_like(10000, 300, 100)

len(train_data)

len(test_data)

train_data[10]

word_index = word_index_like(10000)
reverse_word_index = dict([(value, key) for (key, value) in word_index.items()])
decoded_newswire = " ".join(
    [reverse_word_index.get(i - 3, "?") for i in train_data[10]]
)

train_labels[10]

x_train = multi_hot_encode(train_data, num_classes=10000)
x_test = multi_hot_encode(test_data, num_classes=10000)

def one_hot_encode(labels, num_classes=46):
    results = np.zeros((len(labels), num_classes))
    for i, label in enumerate(labels):
        results[i, label] = 1.0
    return results

y_train = one_hot_encode(train_labels)
y_test = one_hot_encode(test_labels)

from tensorlib.utils import to_categorical

y_train = to_categorical(train_labels)
y_test = to_categorical(test_labels)

model = keras.Sequential(
    [
        layers.Dense(64, activation="relu"),
        layers.Dense(64, activation="relu"),
        layers.Dense(46, activation="softmax"),
    ]
)

top_3_accuracy = keras.metrics.TopKCategoricalAccuracy(
    k=3, name="top_3_accuracy"
)
model.compile(
    optimizer="adam",
    loss="categorical_crossentropy",
    metrics=["accuracy", top_3_accuracy],
)

x_val = x_train[:100]
partial_x_train = x_train[100:]
y_val = y_train[:100]
partial_y_train = y_train[100:]

history = model.fit(
    partial_x_train,
    partial_y_train,
    epochs=2,
    batch_size=512,
    validation_data=(x_val, y_val),
)

model = keras.Sequential(
    [
        layers.Dense(64, activation="relu"),
        layers.Dense(64, activation="relu"),
        layers.Dense(46, activation="softmax"),
    ]
)
model.compile(
    optimizer="adam",
    loss="categorical_crossentropy",
    metrics=["accuracy"],
)
model.fit(
    x_train,
    y_train,
    epochs=1,
    batch_size=512,
)
results = model.evaluate(x_test, y_test)

results

import copy
test_labels_copy = copy.copy(test_labels)
np.random.shuffle(test_labels_copy)
hits_array = np.array(test_labels == test_labels_copy)
hits_array.mean()

predictions = model.predict(x_test)

predictions[0].shape

np.sum(predictions[0])

np.argmax(predictions[0])

y_train = train_labels
y_test = test_labels

model.compile(
    optimizer="adam",
    loss="sparse_categorical_crossentropy",
    metrics=["accuracy"],
)

model = keras.Sequential(
    [
        layers.Dense(64, activation="relu"),
        layers.Dense(4, activation="relu"),
        layers.Dense(46, activation="softmax"),
    ]
)
model.compile(
    optimizer="adam",
    loss="categorical_crossentropy",
    metrics=["accuracy"],
)
model.fit(
    partial_x_train,
    partial_y_train,
    epochs=2,
    batch_size=128,
    validation_data=(x_val, y_val),
)
