"""Generate the image augmentation fixtures (a script, not a test). Needs real Keras 3:

    KERAS_BACKEND=torch /work/peers/bin/python tests/make_augmentation_fixtures.py

Random draws cannot match Keras's RNG, so the fixtures hold Keras's *deterministic* pieces
on chosen parameters (the committed files were made with Keras 3.15.1 on torch 2.13):

* ``tests/data/augmentation_affine.npz`` -- ``keras.ops.image.affine_transform`` of a small
  batch for two batches of matrices (one far outside the image, several periods of
  wrap/reflect), every fill mode and interpolation, and one unbatched image.
* ``tests/data/augmentation_layers.json`` + ``.npz`` -- each case: a layer's constructor
  arguments, the transformation parameters (Keras's keys) and the output of that Keras
  layer's ``transform_images`` (or ``transform_single_image`` for unbatched cases); for
  the affine layers also Keras's transform matrix for those parameters.
* ``tests/data/keras_files/augment.keras`` + ``augment_expected.npz`` -- a Sequential
  model starting with the five layers, trained one epoch and saved by Keras, with its
  ``predict`` of some inputs (the layers are the identity at inference).
"""
import io
import json
import os
import zipfile

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers, ops  # noqa: E402

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
FILLS = ("reflect", "wrap", "constant", "nearest")
INTERPS = ("nearest", "bilinear")


def np_(t):
    return np.asarray(ops.convert_to_numpy(t))


def affine_fixtures(rng):
    images = rng.random((2, 6, 7, 2), dtype=np.float32)
    t = np.deg2rad(37.0)
    general = np.array([
        [1.3 * np.cos(t), -0.4 * np.sin(t) + 0.2, 1.7, 0.9 * np.sin(t), 1.1 * np.cos(t), -0.8,
         0, 0],
        [0.55, 0.21, 3.1, -0.3, 1.8, -2.2, 0, 0]], dtype=np.float32)
    far = np.array([[1, 0, -15.3, 0, 1, 9.7, 0, 0],
                    [-1.2, 0.1, 22.4, 0.05, -0.9, -13.6, 0, 0]], dtype=np.float32)
    out = {"images": images, "m_general": general, "m_far": far}
    for mname, m in (("general", general), ("far", far)):
        for fill in FILLS:
            for interp in INTERPS:
                out[f"{mname}_{fill}_{interp}"] = np_(ops.image.affine_transform(
                    images, m, interpolation=interp, fill_mode=fill, fill_value=0.5))
    out["unbatched_reflect_bilinear"] = np_(ops.image.affine_transform(
        images[0], general[0], interpolation="bilinear", fill_mode="reflect"))
    np.savez_compressed(os.path.join(DATA, "augmentation_affine.npz"), **out)


def layer_cases():
    """(name, Keras class, constructor kwargs, transformation as lists, unbatched)."""
    cases = []
    for mode in ("horizontal", "vertical", "horizontal_and_vertical"):
        cases.append((f"flip_{mode}", "RandomFlip", {"mode": mode},
                      {"flips": [[[[True]]], [[[False]]]]}, False))
    cases.append(("flip_unbatched", "RandomFlip", {"mode": "horizontal"},
                  {"flips": [[[True]]]}, True))
    for fill, interp, fv in (("reflect", "bilinear", 0.0), ("wrap", "nearest", 0.0),
                             ("constant", "bilinear", 0.25), ("nearest", "bilinear", 0.0),
                             ("constant", "nearest", 0.0)):
        kw = {"factor": 0.5, "fill_mode": fill, "interpolation": interp, "fill_value": fv}
        cases.append((f"rotation_{fill}_{interp}", "RandomRotation", kw,
                       {"angle": [30.0, -128.0]}, False))
        cases.append((f"zoom_{fill}_{interp}", "RandomZoom",
                      {**kw, "factor": None, "height_factor": 0.5, "width_factor": 0.4},
                      {"height_zoom": [[0.6], [1.45]], "width_zoom": [[1.3], [0.75]]},
                      False))
        cases.append((f"translation_{fill}_{interp}", "RandomTranslation",
                      {**kw, "factor": None, "height_factor": 0.5, "width_factor": 0.6},
                      {"translations": [[1.7, -2.3], [-3.2, 0.6]]}, False))
    cases.append(("rotation_unbatched", "RandomRotation", {"factor": 0.3},
                  {"angle": [-71.0]}, True))
    cases.append(("zoom_unbatched", "RandomZoom", {"height_factor": 0.5},
                  {"height_zoom": [[1.2]], "width_zoom": [[1.2]]}, True))
    cases.append(("translation_unbatched", "RandomTranslation",
                  {"height_factor": 0.5, "width_factor": 0.5},
                  {"translations": [[-2.4, 1.1]]}, True))
    for vr in ((0, 1), (0.2, 0.7)):
        cases.append((f"contrast_{vr[1]}", "RandomContrast",
                       {"factor": (0.2, 0.8), "value_range": vr},
                       {"contrast_factor": [[[[0.4]]], [[[1.6]]]]}, False))
    cases.append(("contrast_unbatched", "RandomContrast", {"factor": 0.5, "value_range": (0, 1)},
                  {"contrast_factor": [[[1.9]]]}, True))
    return cases


def keras_transformation(layer, cls, params, shape):
    """The transformation dict the Keras layer's ``transform_images`` expects."""
    h, w = shape[-3], shape[-2]
    if cls == "RandomRotation":
        angle = ops.convert_to_tensor(np.array(params["angle"], np.float32))
        n = angle.shape[0]
        m = layer._compute_affine_matrix(
            center_x=0.5, center_y=0.5, angle=angle, translate_x=ops.zeros([n]),
            translate_y=ops.zeros([n]), scale=ops.ones([n]), shear_x=ops.zeros([n]),
            shear_y=ops.zeros([n]), height=h, width=w)
        if len(shape) == 3:
            m = ops.squeeze(m, axis=0)
        return {"rotation_matrix": m}, np_(m)
    trans = {k: ops.convert_to_tensor(np.array(v, np.bool_ if k == "flips" else np.float32))
             for k, v in params.items()}
    if cls == "RandomZoom":
        zooms = ops.concatenate([trans["width_zoom"], trans["height_zoom"]], axis=1)
        return trans, np_(layer._get_zoom_matrix(zooms, h, w))
    if cls == "RandomTranslation":
        return trans, np_(layer._get_translation_matrix(trans["translations"]))
    return trans, None


def layer_fixtures(rng):
    images = rng.random((2, 5, 6, 2), dtype=np.float32)
    arrays, records = {"images": images}, []
    for name, cls, kwargs, params, unbatched in layer_cases():
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        layer = getattr(layers, cls)(**kwargs)
        x = images[0] if unbatched else images
        trans, matrix = keras_transformation(layer, cls, params, x.shape)
        fn = layer.transform_single_image if unbatched else layer.transform_images
        arrays[name] = np_(fn(ops.convert_to_tensor(x), trans, training=True))
        if matrix is not None:
            arrays[name + "_matrix"] = matrix
        records.append({"name": name, "class_name": cls, "kwargs": kwargs,
                        "transformation": params, "unbatched": unbatched})
    np.savez_compressed(os.path.join(DATA, "augmentation_layers.npz"), **arrays)
    with open(os.path.join(DATA, "augmentation_layers.json"), "w") as f:
        f.write("[\n" + ",\n".join(json.dumps(r) for r in records) + "\n]\n")


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


def keras_file(rng):
    keras.backend.clear_session()
    keras.utils.set_random_seed(3)
    model = keras.Sequential([
        keras.Input((8, 8, 1)),
        layers.RandomFlip(seed=1),
        layers.RandomRotation(0.2, fill_mode="constant", fill_value=0.5),
        layers.RandomZoom(0.1, (-0.2, 0.3), interpolation="nearest"),
        layers.RandomTranslation((-0.1, 0.2), 0.1, fill_mode="wrap", seed=7),
        layers.RandomContrast((0.1, 0.3), value_range=(0, 1)),
        layers.Flatten(),
        layers.Dense(3, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x = rng.random((6, 8, 8, 1), dtype=np.float32)
    y = np.array([0, 1, 2, 0, 1, 2])
    model.fit(x, y, epochs=1, batch_size=3, verbose=0)
    path = os.path.join(DATA, "keras_files", "augment.keras")
    model.save(path)
    repack(path)
    np.savez_compressed(os.path.join(DATA, "keras_files", "augment_expected.npz"), x=x,
                        pred=model.predict(x, verbose=0))


if __name__ == "__main__":
    generator = np.random.default_rng(20261129)
    affine_fixtures(generator)
    layer_fixtures(generator)
    keras_file(generator)
