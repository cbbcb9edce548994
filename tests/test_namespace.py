"""``import tensorlib as keras``: the Keras 3 names CPU training code uses exist and work."""
import numpy as np
import pytest

import tensorlib as keras


@pytest.mark.parametrize("path", [
    "Sequential", "Model", "Input", "Layer", "KerasTensor",
    "layers.Dense", "layers.Conv2D", "layers.InputLayer", "layers.Add", "layers.Concatenate",
    "layers.Dot", "layers.add", "layers.concatenate",
    "models.Model", "models.Sequential", "models.load_model",
    "optimizers.SGD", "optimizers.Adam", "optimizers.RMSprop", "losses.MeanSquaredError",
    "metrics.Accuracy", "callbacks.EarlyStopping", "datasets.mnist.load_data",
    "utils.to_categorical", "utils.set_random_seed", "activations.relu",
    "initializers.GlorotUniform", "backend.image_data_format", "backend.clear_session",
    "backend.floatx", "backend.set_backend", "backend.get_backend", "saving.load_model",
    "saving.save_model", "ops.add", "ops.matmul", "ops.softmax", "ops.convert_to_numpy",
])
def test_keras_names_exist(path):
    obj = keras
    for part in path.split("."):
        obj = getattr(obj, part)
    assert obj is not None


def test_from_tensorlib_import_layers_models_still_works():
    from tensorlib import layers, models
    assert layers.Dense is keras.layers.Dense and models.Sequential is keras.Sequential


def test_backend_functions_and_clear_session():
    assert keras.backend.image_data_format() == "channels_last"
    assert keras.backend.floatx() == "float32"
    keras.layers.Dense(2)
    keras.backend.clear_session()
    assert keras.layers.Dense(2).name == "dense"
    assert keras.backend.get_backend() is not None    # the kernel backend is untouched


def test_set_random_seed_makes_initialisation_reproducible():
    keras.utils.set_random_seed(7)
    a = keras.layers.Dense(3)
    a.build_for((None, 4))
    keras.utils.set_random_seed(7)
    b = keras.layers.Dense(3)
    b.build_for((None, 4))
    np.testing.assert_array_equal(a.get_weights()[0], b.get_weights()[0])
    with pytest.raises(ValueError, match="Received"):
        keras.utils.set_random_seed(-1)


def test_ops_match_numpy_and_carry_gradients(rng):
    a, b = rng.normal(size=(3, 4)), rng.normal(size=(4, 2))
    ops = keras.ops
    np.testing.assert_allclose(ops.convert_to_numpy(ops.matmul(a, b)), a @ b)
    np.testing.assert_allclose(ops.convert_to_numpy(ops.sum(ops.square(a), axis=1)),
                               (a * a).sum(1))
    np.testing.assert_allclose(ops.convert_to_numpy(ops.min(a, axis=0)), a.min(0))
    np.testing.assert_allclose(ops.convert_to_numpy(ops.minimum(a, 0.0)), np.minimum(a, 0))
    assert ops.shape(ops.expand_dims(a, 1)) == (3, 1, 4)
    assert ops.shape(ops.squeeze(ops.expand_dims(a, 0), 0)) == (3, 4)
    np.testing.assert_array_equal(ops.convert_to_numpy(ops.argmax(a, axis=1)), a.argmax(1))
    np.testing.assert_array_equal(ops.convert_to_numpy(ops.one_hot([0, 2], 3)),
                                  np.eye(3)[[0, 2]])
    x = keras.Tensor(a, requires_grad=True)
    ops.sum(ops.multiply(x, x)).backward()
    np.testing.assert_allclose(x.grad.data, 2 * a)
    assert keras.ops.Add is not None          # the primitive Functions are still there


def test_keras_code_runs_with_only_the_import_changed(rng):
    """A typical Keras 3 script, verbatim but for the import."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(8,), name="features")
    x = keras.layers.Dense(16, activation="relu")(inputs)
    aux = keras.layers.Dense(1, name="aux")(x)
    x = keras.layers.concatenate([x, aux])
    outputs = keras.layers.Dense(3, activation="softmax", name="label")(x)
    model = keras.Model(inputs=inputs, outputs=[outputs, aux], name="demo")
    model.compile(optimizer=keras.optimizers.Adam(1e-2),
                  loss=[keras.losses.CategoricalCrossentropy(), "mse"],
                  metrics=[["accuracy"], []])
    xs = rng.normal(size=(64, 8)).astype("float32")
    labels = keras.utils.to_categorical((xs[:, 0] > 0).astype(int) + (xs[:, 1] > 0), 3)
    history = model.fit(xs, [labels, xs[:, :1]], epochs=5, batch_size=16, verbose=0,
                        validation_split=0.25)
    assert sorted(history.history) == sorted(
        ["loss", "label_loss", "aux_loss", "label_accuracy", "val_loss", "val_label_loss",
         "val_aux_loss", "val_label_accuracy"])
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert model.get_layer("label").output.shape == (None, 3)
