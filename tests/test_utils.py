"""tensorlib.utils.to_categorical against hand-built expectations."""
import numpy as np
import pytest

from tensorlib.utils import to_categorical


def test_basic_one_hot_matches_hand_built_matrix():
    out = to_categorical([0, 1, 2, 3], num_classes=4)
    expected = np.array([[1, 0, 0, 0],
                         [0, 1, 0, 0],
                         [0, 0, 1, 0],
                         [0, 0, 0, 1]], dtype=np.float32)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, expected)


def test_num_classes_inferred_as_max_plus_one():
    out = to_categorical(np.array([2, 0, 2, 1], dtype=np.uint8))
    expected = np.array([[0, 0, 1],
                         [1, 0, 0],
                         [0, 0, 1],
                         [0, 1, 0]], dtype=np.float32)
    assert out.shape == (4, 3) and out.dtype == np.float32
    np.testing.assert_array_equal(out, expected)


def test_extra_classes_give_zero_columns():
    out = to_categorical([1, 0], num_classes=5)
    np.testing.assert_array_equal(out, [[0, 1, 0, 0, 0], [1, 0, 0, 0, 0]])


def test_trailing_axis_of_one_is_squeezed_like_keras():
    y = np.array([[3], [0], [1]])
    out = to_categorical(y, num_classes=4)
    assert out.shape == (3, 4)
    np.testing.assert_array_equal(out, to_categorical([3, 0, 1], num_classes=4))


def test_higher_rank_input_appends_class_axis():
    y = np.array([[0, 1, 2], [2, 2, 0]])
    out = to_categorical(y)
    assert out.shape == (2, 3, 3)
    np.testing.assert_array_equal(out[1, 0], [0, 0, 1])
    np.testing.assert_array_equal(out.sum(axis=-1), np.ones((2, 3)))
    # (2, 3, 1) squeezes to (2, 3) first.
    assert to_categorical(y[..., None]).shape == (2, 3, 3)


def test_scalar_and_empty_inputs():
    np.testing.assert_array_equal(to_categorical(2, num_classes=3), [0, 0, 1])
    empty = to_categorical(np.array([], dtype=np.int64), num_classes=3)
    assert empty.shape == (0, 3) and empty.dtype == np.float32


def test_whole_number_floats_and_numpy_int_num_classes_are_accepted():
    out = to_categorical(np.array([1.0, 0.0]), num_classes=np.int64(2))
    np.testing.assert_array_equal(out, [[0, 1], [1, 0]])


def test_round_trip_with_argmax(rng):
    y = rng.integers(0, 10, size=200)
    out = to_categorical(y, 10)
    np.testing.assert_array_equal(out.argmax(axis=1), y)
    np.testing.assert_array_equal(out.sum(axis=1), np.ones(200))


def test_negative_label_raises():
    with pytest.raises(ValueError, match=r"non-negative.*Received: negative values \[-1\]"):
        to_categorical([0, -1, 2])


def test_label_not_below_num_classes_raises():
    with pytest.raises(ValueError, match=r"smaller than num_classes=3\. Received: values \[3, 7\]"):
        to_categorical([0, 3, 7, 1], num_classes=3)


def test_fractional_label_raises():
    with pytest.raises(ValueError, match=r"Received: non-integer values \[0\.5\]"):
        to_categorical([0.5, 1.0])


@pytest.mark.parametrize("bad", [0, -2, 2.5, True, "3"])
def test_invalid_num_classes_raises(bad):
    with pytest.raises(ValueError, match=r"Received: num_classes="):
        to_categorical([0, 1], num_classes=bad)


def test_empty_without_num_classes_raises():
    with pytest.raises(ValueError, match=r"Received: x with shape \(0,\)"):
        to_categorical([])


def test_non_numeric_input_raises():
    with pytest.raises(ValueError, match=r"Received: dtype="):
        to_categorical(["a", "b"])
