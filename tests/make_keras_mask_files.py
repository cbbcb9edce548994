"""Generate functional Keras files whose recurrent layer gets an embedding's mask (a
script, not a test), with real Keras 3:

    KERAS_BACKEND=torch /work/peers/bin/python tests/make_keras_mask_files.py

``fn_embedding_mask.keras``: Input(int32) -> Embedding(mask_zero=True) -> LSTM and
Bidirectional(GRU) -> Concatenate -> Dense; Keras writes the mask as a ``NotEqual`` op on
the token ids passed to each recurrent layer as ``mask=``. ``fn_custom_mask.keras``: an
LSTM given ``mask=ops.not_equal(ids, 5)`` by hand, which is not the embedding's mask.
``mask_expected.npz``: token ids (zero-padded rows) and Keras's predictions.
"""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")
import keras  # noqa: E402
import numpy as np  # noqa: E402

from make_keras_files import repack  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "keras_files")


def main():
    keras.utils.set_random_seed(4)
    ids = keras.Input((None,), dtype="int32", name="ids")
    emb = keras.layers.Embedding(12, 4, mask_zero=True)(ids)
    a = keras.layers.LSTM(3)(emb)
    b = keras.layers.Bidirectional(keras.layers.GRU(2))(emb)
    out = keras.layers.Dense(1)(keras.layers.Concatenate()([a, b]))
    model = keras.Model(ids, out)
    x = np.array([[3, 4, 0, 0, 0], [5, 6, 7, 8, 9], [1, 0, 0, 0, 0]], "int32")
    model.save(os.path.join(OUT, "fn_embedding_mask.keras"))
    custom = keras.layers.LSTM(3)(emb, mask=keras.ops.not_equal(ids, 5))
    keras.Model(ids, custom).save(os.path.join(OUT, "fn_custom_mask.keras"))
    for name in ("fn_embedding_mask.keras", "fn_custom_mask.keras"):
        repack(os.path.join(OUT, name))
    np.savez(os.path.join(OUT, "mask_expected.npz"), x=x,
             predict=model.predict(x, verbose=0))


if __name__ == "__main__":
    main()
