# Source: https://github.com/keras-team/keras-io/blob/master/examples/nlp/bidirectional_lstm_imdb.py
#   ("Bidirectional LSTM on IMDB", fchollet; Keras 3 version, text as in the Keras 3 copy
#   keras-team/keras examples/keras_io/nlp/bidirectional_lstm_imdb.py at commit 2588a15)
# License: Apache-2.0 (keras-team/keras-io, keras-team/keras)
# Changes from the original:
#   (a) `import keras` -> `import tensorlib as keras`;
#       `from keras import layers` -> `from tensorlib import layers`
#   (b) keras.datasets.imdb.load_data(num_words=max_features) (a download) ->
#       corpus_data.imdb_like(max_features, 100, 50): object arrays of int lists
#       starting with 1, word indices below num_words, int64 0/1 labels
#   (c) 25,000 + 25,000 reviews -> 100 + 50; epochs 2 -> 1
"""
Title: Bidirectional LSTM on IMDB
Author: [fchollet](https://twitter.com/fchollet)
Date created: 2020/05/03
Last modified: 2020/05/03
Description: Train a 2-layer bidirectional LSTM on the IMDB movie review sentiment classification dataset.
Accelerator: GPU
"""
"""
## Setup
"""

import numpy as np
import tensorlib as keras
from tensorlib import layers
from corpus_data import imdb_like

max_features = 20000  # Only consider the top 20k words
maxlen = 200  # Only consider the first 200 words of each movie review

"""
## Build the model
"""

# Input for variable-length sequences of integers
inputs = keras.Input(shape=(None,), dtype="int32")
# Embed each integer in a 128-dimensional vector
x = layers.Embedding(max_features, 128)(inputs)
# Add 2 bidirectional LSTMs
x = layers.Bidirectional(layers.LSTM(64, return_sequences=True))(x)
x = layers.Bidirectional(layers.LSTM(64))(x)
# Add a classifier
outputs = layers.Dense(1, activation="sigmoid")(x)
model = keras.Model(inputs, outputs)
model.summary()

"""
## Load the IMDB movie review sentiment data
"""

(x_train, y_train), (x_val, y_val) = imdb_like(max_features, 100, 50)
print(len(x_train), "Training sequences")
print(len(x_val), "Validation sequences")
# Use pad_sequence to standardize sequence length:
# this will truncate sequences longer than 200 words and zero-pad sequences shorter than 200 words.
x_train = keras.utils.pad_sequences(x_train, maxlen=maxlen)
x_val = keras.utils.pad_sequences(x_val, maxlen=maxlen)

"""
## Train and evaluate the model

You can use the trained model hosted on [Hugging Face Hub](https://huggingface.co/keras-io/bidirectional-lstm-imdb)
and try the demo on [Hugging Face Spaces](https://huggingface.co/spaces/keras-io/bidirectional_lstm_imdb).
"""

model.compile(
    optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"]
)
model.fit(
    x_train, y_train, batch_size=32, epochs=1, validation_data=(x_val, y_val)
)
