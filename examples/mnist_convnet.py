"""The seed notebook's convnet, with `keras` replaced by `tensorlib`.

    python examples/mnist_convnet.py --dataset fashion_mnist --epochs 5 --batch-size 64

Data-parallel on 2 processes (batch 64 is the global batch, 32 per process):

    mpiexec -n 2 python examples/mnist_convnet.py --dataset fashion_mnist --epochs 5

Real MNIST: place Keras's `mnist.npz` in ~/.tensorlib/datasets/ (or let it download where
there is internet) and pass --dataset mnist.
"""
import argparse
import time

from tensorlib import distribution
from tensorlib import layers
from tensorlib import models
from tensorlib.datasets import fashion_mnist, mnist
from tensorlib.utils import to_categorical


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=["mnist", "fashion_mnist"], default="mnist")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--train-samples", type=int, default=None,
                        help="use only the first N training images")
    parser.add_argument("--distributed", action="store_true",
                        help="train data-parallel over the processes of mpiexec (the default "
                             "when mpiexec starts more than one)")
    args = parser.parse_args(argv)
    distribution.initialize()
    if args.distributed or distribution.num_processes() > 1:
        distribution.set_distribution(distribution.DataParallel())
    chief = distribution.process_id() == 0

    model = models.Sequential()
    model.add(layers.Conv2D(32, (3, 3), activation='relu', input_shape=(28, 28, 1)))
    model.add(layers.MaxPooling2D((2, 2)))
    model.add(layers.Conv2D(64, (3, 3), activation='relu'))
    model.add(layers.MaxPooling2D((2, 2)))
    model.add(layers.Conv2D(64, (3, 3), activation='relu'))
    model.add(layers.Flatten())
    model.add(layers.Dense(64, activation='relu'))
    model.add(layers.Dense(10, activation='softmax'))
    if chief:
        model.summary()

    data = mnist if args.dataset == "mnist" else fashion_mnist
    (train_images, train_labels), (test_images, test_labels) = data.load_data()
    n = args.train_samples or len(train_images)
    train_images = train_images[:n].reshape((n, 28, 28, 1)).astype('float32') / 255
    test_images = test_images.reshape((10000, 28, 28, 1)).astype('float32') / 255
    train_labels = to_categorical(train_labels[:n])
    test_labels = to_categorical(test_labels)

    model.compile(optimizer='rmsprop', loss='categorical_crossentropy', metrics=['accuracy'])
    start = time.perf_counter()
    model.fit(train_images, train_labels, epochs=args.epochs, batch_size=args.batch_size)
    elapsed = time.perf_counter() - start
    test_loss, test_acc = model.evaluate(test_images, test_labels)
    if chief:
        print(f"test_acc: {test_acc:.4f}  test_loss: {test_loss:.4f}  "
              f"train time: {elapsed:.1f} s ({elapsed / args.epochs:.1f} s/epoch)"
              + (f" on {distribution.num_processes()} processes"
                 if distribution.num_processes() > 1 else ""))
    return test_acc


if __name__ == "__main__":
    main()
