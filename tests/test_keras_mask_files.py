"""Functional Keras files in which an ``Embedding(mask_zero=True)`` masks recurrent layers
(``make_keras_mask_files.py``): Keras writes the mask as a ``NotEqual`` op passed as
``mask=``; tensorlib recomputes that mask itself and predicts as Keras did, and refuses a
mask argument it would not recompute."""
import os

import numpy as np
import pytest

import tensorlib as keras

pytest.importorskip("h5py")
FILES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "keras_files")
EXPECTED = np.load(os.path.join(FILES, "mask_expected.npz"))


def test_embedding_mask_file_predicts_as_keras(tmp_path):
    model = keras.saving.load_model(os.path.join(FILES, "fn_embedding_mask.keras"))
    got = model.predict(EXPECTED["x"], verbose=0)
    np.testing.assert_allclose(got, EXPECTED["predict"], rtol=1e-5, atol=1e-6)
    # the padding matters: without the mask the padded rows would differ
    unmasked = EXPECTED["x"].copy()
    unmasked[unmasked == 0] = 11
    assert not np.allclose(model.predict(unmasked, verbose=0), got, atol=1e-4)
    model.save(str(tmp_path / "again.keras"))
    again = keras.saving.load_model(str(tmp_path / "again.keras"))
    np.testing.assert_allclose(again.predict(EXPECTED["x"], verbose=0), got, rtol=1e-6)


def test_other_mask_arguments_are_refused():
    with pytest.raises(ValueError, match=r"layer 'lstm.*' has a node called with mask="):
        keras.saving.load_model(os.path.join(FILES, "fn_custom_mask.keras"))
