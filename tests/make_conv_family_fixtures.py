"""Writes the conv-family fixtures with real Keras 3 (a script, not a test; run with the
peers environment: KERAS_BACKEND=torch /work/peers/bin/python
tests/make_conv_family_fixtures.py):

* ``tests/data/conv_family.json`` -- per case: the layer class, its constructor
  arguments, the input shape, weight names and shapes, ``compute_output_shape`` and the
  case's offset in ``values``; and Keras's ``get_config()`` of one case per class;
* ``tests/data/conv_family.npz`` -- ``values``: per case, its input, weights (random
  values given with ``set_weights``) and Keras's output, flattened one after another;
* ``tests/data/keras_files/conv_family_1d.keras`` and ``conv_family_2d.keras`` -- two small
  compiled Sequential models of these layers after two ``train_on_batch`` steps, and
  ``conv_family_expected.npz``: their inputs, targets, ``predict`` results, and the loss
  and weights after one more ``train_on_batch`` once saved.
"""
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_keras_files import repack  # noqa: E402

DATA = os.path.join(HERE, "data")

# Average pooling with "same" padding uneven on the two sides is left out: Keras's torch
# backend pads such inputs by replicating the edge values and averages them in, where
# TensorFlow and JAX (and tensorlib) average the in-bounds elements only (see
# tests/test_conv_family.py::test_avg_pool1d_same_uneven_padding_counts_real_elements).

# name: (class, constructor kwargs, input shape)
CASES = {
    "c1d_valid": ("Conv1D", dict(filters=4, kernel_size=3), (2, 9, 3)),
    "c1d_same_s2_even": ("Conv1D", dict(filters=3, kernel_size=3, strides=2, padding="same"),
                         (1, 10, 2)),
    "c1d_same_s2_odd": ("Conv1D", dict(filters=2, kernel_size=4, strides=2, padding="same"),
                        (2, 9, 3)),
    "c1d_causal_d2": ("Conv1D", dict(filters=3, kernel_size=3, padding="causal",
                                     dilation_rate=2), (2, 8, 3)),
    "c1d_causal_s2": ("Conv1D", dict(filters=2, kernel_size=2, strides=2, padding="causal"),
                      (1, 7, 2)),
    "c1d_dil_relu_nobias": ("Conv1D", dict(filters=3, kernel_size=4, dilation_rate=2,
                                           activation="relu", use_bias=False), (2, 11, 1)),
    "c1d_same_big_kernel": ("Conv1D", dict(filters=2, kernel_size=5, padding="same"),
                            (1, 3, 2)),
    "maxp1d_default": ("MaxPooling1D", dict(), (2, 7, 3)),
    "maxp1d_same": ("MaxPooling1D", dict(pool_size=3, strides=2, padding="same"), (1, 8, 2)),
    "maxp1d_overlap": ("MaxPooling1D", dict(pool_size=3, strides=1), (2, 6, 2)),
    "avgp1d_2": ("AveragePooling1D", dict(pool_size=2), (2, 7, 3)),
    "avgp1d_same": ("AveragePooling1D", dict(pool_size=3, strides=2, padding="same"),
                    (2, 7, 3)),
    "gap1d": ("GlobalAveragePooling1D", dict(), (2, 5, 3)),
    "gap1d_keep": ("GlobalAveragePooling1D", dict(keepdims=True), (2, 5, 3)),
    "gap1d_cf": ("GlobalAveragePooling1D", dict(data_format="channels_first"), (2, 5, 3)),
    "gmp1d": ("GlobalMaxPooling1D", dict(), (2, 5, 3)),
    "gmp1d_keep_cf": ("GlobalMaxPooling1D", dict(keepdims=True,
                                                 data_format="channels_first"), (1, 4, 6)),
    "ct_valid": ("Conv2DTranspose", dict(filters=3, kernel_size=3), (2, 4, 5, 2)),
    "ct_same_s2": ("Conv2DTranspose", dict(filters=2, kernel_size=3, strides=2,
                                           padding="same"), (1, 4, 5, 2)),
    "ct_valid_s2_op1": ("Conv2DTranspose", dict(filters=2, kernel_size=3, strides=2,
                                                output_padding=1), (2, 3, 4, 3)),
    "ct_same_rect_op": ("Conv2DTranspose", dict(filters=3, kernel_size=(2, 3),
                                                strides=(2, 3), padding="same",
                                                output_padding=(1, 2)), (1, 3, 4, 2)),
    "ct_same_dil2": ("Conv2DTranspose", dict(filters=2, kernel_size=3, dilation_rate=2,
                                             padding="same"), (2, 5, 4, 2)),
    "ct_valid_k1_s3": ("Conv2DTranspose", dict(filters=2, kernel_size=1, strides=3),
                       (1, 3, 2, 2)),
    "ct_same_k4_s2_op0": ("Conv2DTranspose", dict(filters=2, kernel_size=4, strides=2,
                                                  padding="same", output_padding=0),
                          (1, 3, 4, 1)),
    "ct_same_s3_op2_relu": ("Conv2DTranspose", dict(filters=2, kernel_size=3, strides=3,
                                                    padding="same", output_padding=2,
                                                    use_bias=False, activation="relu"),
                            (1, 2, 3, 2)),
    "ct_same_k5_s2": ("Conv2DTranspose", dict(filters=1, kernel_size=5, strides=2,
                                              padding="same"), (1, 3, 3, 1)),
    "dw_valid": ("DepthwiseConv2D", dict(kernel_size=3), (2, 6, 7, 3)),
    "dw_same_s2_m2": ("DepthwiseConv2D", dict(kernel_size=3, strides=2, padding="same",
                                              depth_multiplier=2), (1, 7, 6, 2)),
    "dw_rect_dil_m2": ("DepthwiseConv2D", dict(kernel_size=(2, 3), dilation_rate=2,
                                               padding="same", depth_multiplier=2,
                                               use_bias=False), (2, 5, 6, 3)),
    "dw_s2_dil2": ("DepthwiseConv2D", dict(kernel_size=3, strides=2, dilation_rate=2),
                   (1, 9, 9, 2)),
    "dw_m3_relu": ("DepthwiseConv2D", dict(kernel_size=3, padding="same", depth_multiplier=3,
                                           activation="relu"), (1, 5, 5, 1)),
    "sep_valid": ("SeparableConv2D", dict(filters=4, kernel_size=3), (2, 6, 5, 3)),
    "sep_same_s2_m2": ("SeparableConv2D", dict(filters=3, kernel_size=3, strides=2,
                                               padding="same", depth_multiplier=2),
                       (1, 7, 7, 2)),
    "sep_dil_relu_nobias": ("SeparableConv2D", dict(filters=2, kernel_size=(3, 2),
                                                    dilation_rate=2, padding="same",
                                                    use_bias=False, activation="relu"),
                            (2, 6, 5, 2)),
}


def layer_cases(rng):
    """Per case: shapes and where its arrays lie in one flat float32 vector (input,
    weights, output, in that order); Keras's get_config once per class."""
    records, configs, chunks, offset = {}, {}, [], 0
    for name, (cls, kwargs, shape) in CASES.items():
        layer = getattr(layers, cls)(**kwargs)
        x = rng.normal(size=shape).astype(np.float32)
        layer.build(shape)
        weights = [(0.5 * rng.normal(size=w.shape)).astype(np.float32)
                   for w in layer.get_weights()]
        layer.set_weights(weights)
        y = keras.ops.convert_to_numpy(layer(x))
        chunks += [x.ravel(), *(w.ravel() for w in weights), y.ravel()]
        config = layer.get_config()
        config.pop("name")
        configs.setdefault(cls, {"kwargs": kwargs, "config": config})
        records[name] = {"class": cls, "kwargs": kwargs, "offset": offset,
                         "input_shape": list(shape),
                         "weight_shapes": [list(w.shape) for w in weights],
                         "weight_names": [w.path.split("/")[-1] for w in layer.weights],
                         "output_shape": list(layer.compute_output_shape(shape))}
        offset += sum(c.size for c in chunks[-(len(weights) + 2):])
    return {"cases": records, "configs": configs}, np.concatenate(chunks)


def model_1d():
    return keras.Sequential([
        keras.Input((12, 3)),
        layers.Conv1D(4, 3, padding="causal", dilation_rate=2, activation="relu"),
        layers.MaxPooling1D(2),
        layers.Conv1D(5, 3, strides=2, padding="same"),
        layers.AveragePooling1D(3, strides=1, padding="same"),
        layers.GlobalMaxPooling1D(keepdims=True),
        layers.GlobalAveragePooling1D(),
        layers.Dense(3, activation="softmax"),
    ])


def model_2d():
    return keras.Sequential([
        keras.Input((5, 5, 2)),
        layers.Conv2DTranspose(3, 3, strides=2, padding="same", activation="relu"),
        layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same", activation="tanh"),
        layers.SeparableConv2D(4, 3, strides=2, depth_multiplier=2),
        layers.Conv2DTranspose(2, 2, strides=2, output_padding=1),
        layers.GlobalAveragePooling2D(),
        layers.Dense(3, activation="softmax"),
    ])


def keras_files(rng):
    out = {}
    for tag, make, shape in (("1d", model_1d, (6, 12, 3)), ("2d", model_2d, (4, 5, 5, 2))):
        keras.backend.clear_session()
        keras.utils.set_random_seed(7)
        model = make()
        model.compile(optimizer=keras.optimizers.Adam(0.01),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        x = rng.normal(size=shape).astype(np.float32)
        y = np.arange(shape[0]) % 3
        for _ in range(2):
            model.train_on_batch(x, y)
        path = os.path.join(DATA, "keras_files", f"conv_family_{tag}.keras")
        model.save(path)
        repack(path)
        out[f"{tag}_x"], out[f"{tag}_y"] = x, y
        out[f"{tag}_pred"] = model.predict(x, verbose=0)
        out[f"{tag}_next_loss"] = np.array(model.train_on_batch(x, y))
        for i, w in enumerate(model.get_weights()):
            out[f"{tag}_next_w{i}"] = w
    np.savez_compressed(os.path.join(DATA, "keras_files", "conv_family_expected.npz"),
                        **out)


def main():
    rng = np.random.default_rng(0)
    records, values = layer_cases(rng)
    with open(os.path.join(DATA, "conv_family.json"), "w") as f:
        json.dump(records, f, sort_keys=True)
    np.savez_compressed(os.path.join(DATA, "conv_family.npz"), values=values)
    keras_files(rng)
    for name in ("conv_family.json", "conv_family.npz", "keras_files/conv_family_1d.keras",
                 "keras_files/conv_family_2d.keras",
                 "keras_files/conv_family_expected.npz"):
        print(f"{name}: {os.path.getsize(os.path.join(DATA, name))} bytes")


if __name__ == "__main__":
    main()
