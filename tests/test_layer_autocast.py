"""A layer casts float inputs of another dtype to its own, as Keras 3 does, in eager
calls, Sequential and functional models, planned inference and training."""
import numpy as np

import tensorlib as keras


def test_float64_layer_between_float32_layers():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, dtype="float64"),
                              keras.layers.Dense(2)])
    x = np.random.RandomState(0).rand(5, 3).astype(np.float32)
    out = model.predict(x, verbose=0)
    assert out.dtype == np.float32
    k1, b1, k2, b2 = model.get_weights()
    want = (x.astype(np.float64) @ k1 + b1).astype(np.float32) @ k2 + b2
    np.testing.assert_allclose(out, want, rtol=1e-5)
    model.compile("sgd", "mse")
    history = model.fit(x, np.zeros((5, 2), np.float32), epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert model.layers[0].kernel.dtype == np.float64


def test_functional_and_eager_calls_cast():
    inp = keras.Input((3,))
    hidden = keras.layers.Dense(2, dtype="float64")
    model = keras.Model(inp, keras.layers.Dense(1)(hidden(inp)))
    x = np.ones((2, 3), np.float32)
    assert model.predict(x, verbose=0).dtype == np.float32
    assert hidden(keras.Tensor(x)).dtype == np.float64
