# Source: https://github.com/tensorflow/docs/blob/master/site/en/tutorials/keras/classification.ipynb
#   ("Basic classification: Classify images of clothing", commit 023b91c; code cells)
# License: Apache-2.0 (tensorflow/docs; the notebook's own header)
# Changes from the original:
#   (a) `import tensorflow as tf` / `from tensorflow import keras` ->
#       `import tensorlib as keras`, and `tf.keras.X` -> `keras.X` in the two places the
#       notebook spells it that way (SparseCategoricalCrossentropy, Sequential/Softmax);
#       `print(tf.__version__)` dropped
#   (b) keras.datasets.fashion_mnist.load_data() -> corpus_data.mnist_like(2000, 500):
#       the real Fashion-MNIST, first 2000 train / 500 test images, same shapes and dtypes
#   (c) epochs 10 -> 2
#   Omitted cells: matplotlib plotting (plt.* and the plot_image/plot_value_array helpers).

# Helper libraries
import numpy as np

import tensorlib as keras
from corpus_data import mnist_like

(train_images, train_labels), (test_images, test_labels) = mnist_like(2000, 500)

class_names = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat',
               'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot']

train_images.shape

len(train_labels)

train_labels

test_images.shape

len(test_labels)

train_images = train_images / 255.0

test_images = test_images / 255.0

model = keras.Sequential([
    keras.layers.Flatten(input_shape=(28, 28)),
    keras.layers.Dense(128, activation='relu'),
    keras.layers.Dense(10)
])

model.compile(optimizer='adam',
              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=['accuracy'])

model.fit(train_images, train_labels, epochs=2)

test_loss, test_acc = model.evaluate(test_images,  test_labels, verbose=2)

print('\nTest accuracy:', test_acc)

probability_model = keras.Sequential([model,
                                      keras.layers.Softmax()])

predictions = probability_model.predict(test_images)

predictions[0]

np.argmax(predictions[0])

test_labels[0]

# Grab an image from the test dataset.
img = test_images[1]

print(img.shape)

# Add the image to a batch where it's the only member.
img = (np.expand_dims(img,0))

print(img.shape)

predictions_single = probability_model.predict(img)

print(predictions_single)

np.argmax(predictions_single[0])
