"""Generate the Keras 3 fixtures of the simple layers (a script, not a test; needs Keras):

    KERAS_BACKEND=torch /work/peers/bin/python tests/make_simple_layer_fixtures.py

Writes ``tests/data/simple_layers.json`` (per case: the layer's class, constructor
arguments, Keras's ``get_config()`` and its weights' names) with ``simple_layers.npz``
(per case: the input ``<case>/x``, the weights ``<case>/w<i>`` set before the call,
Keras's output ``<case>/y``; for ``Normalization.adapt`` cases the adapted weights), and
``tests/data/keras_files/simple_layers.keras`` (a Sequential model using these layers, with
random weights) with its inputs and Keras's predictions in ``simple_layers_expected.npz``.
"""
import io
import json
import os
import zipfile

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")

# name: (class, constructor kwargs, input shape); weights are set to random values
CASES = {
    "relu_default": ("ReLU", {}, (3, 7)),
    "relu6": ("ReLU", {"max_value": 6.0}, (3, 7)),
    "relu_slope": ("ReLU", {"negative_slope": 0.1}, (3, 7)),
    "relu_threshold": ("ReLU", {"threshold": 1.0}, (3, 7)),
    "relu_all": ("ReLU", {"max_value": 2.5, "negative_slope": 0.2, "threshold": 0.5}, (3, 7)),
    "relu_max_slope": ("ReLU", {"max_value": 1.5, "negative_slope": 0.3}, (3, 7)),
    "leaky_default": ("LeakyReLU", {}, (2, 3, 5)),
    "leaky_01": ("LeakyReLU", {"negative_slope": 0.1}, (2, 3, 5)),
    "elu_default": ("ELU", {}, (3, 7)),
    "elu_05": ("ELU", {"alpha": 0.5}, (3, 7)),
    "prelu_3d": ("PReLU", {}, (2, 3, 4)),
    "prelu_shared": ("PReLU", {"shared_axes": [1, 2]}, (2, 3, 5, 4)),
    "prelu_shared_int": ("PReLU", {"shared_axes": 1}, (2, 3, 4)),
    "rescaling": ("Rescaling", {"scale": 1 / 255, "offset": -0.5}, (2, 3, 3, 2)),
    "rescaling_2": ("Rescaling", {"scale": 2.0}, (4, 5)),
    "zeropad_int": ("ZeroPadding2D", {"padding": 2}, (2, 3, 4, 2)),
    "zeropad_pair": ("ZeroPadding2D", {"padding": (1, 2)}, (1, 3, 5, 2)),
    "zeropad_asym": ("ZeroPadding2D", {"padding": ((0, 1), (2, 3))}, (2, 3, 3, 1)),
    "zeropad_cf": ("ZeroPadding2D", {"padding": ((1, 0), (0, 2)),
                                     "data_format": "channels_first"}, (1, 2, 3, 4)),
    "crop_default": ("Cropping2D", {}, (2, 3, 4, 2)),
    "crop_int": ("Cropping2D", {"cropping": 1}, (2, 5, 4, 2)),
    "crop_pair": ("Cropping2D", {"cropping": (0, 2)}, (1, 3, 7, 2)),
    "crop_asym": ("Cropping2D", {"cropping": ((1, 0), (2, 1))}, (2, 5, 6, 3)),
    "crop_cf": ("Cropping2D", {"cropping": ((0, 2), (1, 1)),
                               "data_format": "channels_first"}, (1, 2, 5, 4)),
    "up_nearest": ("UpSampling2D", {}, (2, 3, 4, 2)),
    "up_nearest_32": ("UpSampling2D", {"size": (3, 2)}, (1, 3, 5, 2)),
    "up_bilinear": ("UpSampling2D", {"interpolation": "bilinear"}, (2, 5, 3, 2)),
    "up_bilinear_31": ("UpSampling2D", {"size": (3, 1), "interpolation": "bilinear"},
                       (1, 4, 3, 2)),
    "up_bilinear_int": ("UpSampling2D", {"size": 3, "interpolation": "bilinear"},
                        (1, 2, 3, 1)),
    "up_bilinear_cf": ("UpSampling2D", {"size": (2, 3), "interpolation": "bilinear",
                                        "data_format": "channels_first"}, (1, 2, 3, 4)),
    "up_bilinear_1px": ("UpSampling2D", {"size": 2, "interpolation": "bilinear"},
                        (1, 1, 1, 2)),
    "permute_21": ("Permute", {"dims": (2, 1)}, (2, 3, 4)),
    "permute_312": ("Permute", {"dims": (3, 1, 2)}, (2, 3, 4, 5)),
    "repeat": ("RepeatVector", {"n": 3}, (2, 4)),
    "layernorm": ("LayerNormalization", {}, (3, 6)),
    # Keras's torch backend only handles trailing (or non-contiguous) axes correctly
    "layernorm_axes": ("LayerNormalization", {"axis": [2, 3]}, (2, 3, 4, 5)),
    "layernorm_gap": ("LayerNormalization", {"axis": [1, 3], "epsilon": 1e-5}, (2, 3, 4, 5)),
    "layernorm_neg": ("LayerNormalization", {"axis": [-1, -2]}, (2, 3, 4)),
    "layernorm_nocenter": ("LayerNormalization", {"center": False}, (2, 5)),
    "layernorm_noscale": ("LayerNormalization", {"scale": False, "epsilon": 0.1}, (2, 5, 3)),
    "norm_given": ("Normalization", {"mean": [1.0, 2.0, -1.0], "variance": [4.0, 0.25, 1.0]},
                   (4, 3)),
    "norm_given_scalar": ("Normalization", {"mean": 2.0, "variance": 9.0, "axis": None},
                          (2, 3, 2)),
    "norm_invert": ("Normalization", {"mean": [1.0, 2.0, -1.0], "variance": [4.0, 0.25, 1.0],
                                      "invert": True}, (4, 3)),
    "gauss_inference": ("GaussianNoise", {"stddev": 0.5, "seed": 3}, (3, 4)),
    "spatial_inference": ("SpatialDropout2D", {"rate": 0.5, "seed": 3}, (2, 3, 3, 4)),
}

# Normalization.adapt on one array: name -> (kwargs, data shape). (Keras adapts from a
# list of batches only with TensorFlow installed; the tests check that case with NumPy.)
ADAPT = {
    "adapt_last": ({}, (50, 3)),
    "adapt_axes": ({"axis": (1, 3)}, (20, 3, 4, 2)),
    "adapt_none": ({"axis": None}, (30, 4)),
    "adapt_invert": ({"invert": True}, (40, 3)),
}


def jsonable(obj):
    if isinstance(obj, dict):
        return {k: jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    return obj


def layer_cases(arrays, records, rng):
    for case, (cls, kwargs, shape) in CASES.items():
        keras.utils.set_random_seed(0)
        layer = getattr(layers, cls)(**kwargs)
        x = rng.normal(size=shape).astype(np.float32) * 2
        if cls == "Rescaling":
            x = rng.integers(0, 256, size=shape).astype(np.float32)
        layer.build(shape)
        weights = [rng.normal(size=w.shape).astype(np.float32) * 0.5 + 0.5
                   for w in layer.weights]
        layer.set_weights(weights)
        y = keras.ops.convert_to_numpy(layer(x))
        arrays[f"{case}/x"], arrays[f"{case}/y"] = x, y
        for i, w in enumerate(weights):
            arrays[f"{case}/w{i}"] = w
        records[case] = {"class": cls, "kwargs": jsonable(kwargs),
                         "config": jsonable(layer.get_config()),
                         "weights": [w.path.split("/")[-1] for w in layer.weights]}


def adapt_cases(arrays, records, rng):
    for case, (kwargs, shape) in ADAPT.items():
        layer = layers.Normalization(**kwargs)
        data = (rng.normal(size=shape) * 3 + 1.5).astype(np.float32)
        layer.adapt(data)
        x = rng.normal(size=(4,) + shape[1:]).astype(np.float32) * 3
        arrays[f"{case}/data"], arrays[f"{case}/x"] = data, x
        arrays[f"{case}/y"] = keras.ops.convert_to_numpy(layer(x))
        for i, w in enumerate(layer.weights):
            arrays[f"{case}/w{i}"] = keras.ops.convert_to_numpy(w)
        records[case] = {"class": "Normalization", "kwargs": jsonable(kwargs),
                         "config": jsonable(layer.get_config()),
                         "weights": [w.path.split("/")[-1] for w in layer.weights],
                         "dtypes": [str(w.dtype) for w in layer.weights]}


def keras_file(rng):
    keras.backend.clear_session()
    keras.utils.set_random_seed(4)
    norm = layers.Normalization()
    norm.adapt((rng.normal(size=(30, 2)) * 2 + 1).astype(np.float32))
    model = keras.Sequential([
        keras.Input((5, 4, 2)),
        layers.Rescaling(0.5, offset=0.25),
        norm,
        layers.ZeroPadding2D(((1, 0), (2, 1))),
        layers.Cropping2D(((0, 1), (1, 0))),
        layers.UpSampling2D((2, 1), interpolation="bilinear"),
        layers.PReLU(shared_axes=[1, 2]),
        layers.LayerNormalization(axis=[2, 3]),
        layers.SpatialDropout2D(0.3, seed=1),
        layers.GaussianNoise(0.2, seed=2),
        layers.UpSampling2D(),
        layers.ReLU(max_value=2.0, negative_slope=0.1, threshold=0.2),
        layers.Permute((3, 1, 2)),
        layers.LeakyReLU(0.2),
        layers.ELU(0.7),
        layers.Flatten(),
        layers.Dense(3),
        layers.RepeatVector(2),
        layers.Normalization(mean=0.5, variance=2.0, invert=True, axis=None),
    ])
    weights = [w + rng.normal(size=w.shape).astype(np.float32) * 0.3
               if w.dtype.kind == "f" else w for w in model.get_weights()]
    model.set_weights(weights)
    path = os.path.join(DATA, "keras_files", "simple_layers.keras")
    model.save(path)
    repack(path)
    x = rng.normal(size=(3, 5, 4, 2)).astype(np.float32)
    np.savez_compressed(os.path.join(DATA, "keras_files", "simple_layers_expected.npz"),
                        x=x, pred=model.predict(x, verbose=0))


def repack(path):
    """Re-write the zip at ``path`` with deflate compression, same members, same bytes."""
    with zipfile.ZipFile(path) as z:
        members = [(info.filename, z.read(info)) for info in z.infolist()]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for name, data in members:
            z.writestr(name, data)
    with open(path, "wb") as f:
        f.write(buffer.getvalue())


def main():
    rng = np.random.default_rng(0)
    arrays, records = {}, {"keras_version": keras.__version__}
    layer_cases(arrays, records, rng)
    adapt_cases(arrays, records, rng)
    np.savez_compressed(os.path.join(DATA, "simple_layers.npz"), **arrays)
    with open(os.path.join(DATA, "simple_layers.json"), "w") as f:
        json.dump(records, f, indent=1, sort_keys=True)
    keras_file(rng)
    for name in ("simple_layers.npz", "simple_layers.json",
                 "keras_files/simple_layers.keras",
                 "keras_files/simple_layers_expected.npz"):
        print(f"{name}: {os.path.getsize(os.path.join(DATA, name))} bytes")


if __name__ == "__main__":
    main()
