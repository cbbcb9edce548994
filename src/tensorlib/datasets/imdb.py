"""IMDB movie-review sentiment, Keras-compatible loader (``imdb.npz`` from Keras's
mirror, pinned by sha256; word index ``imdb_word_index.json``)."""
import numpy as np

from . import _download, _fetch

FILE_HASH = "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f"
WORD_INDEX_HASH = "bfafd718b763782e994055a2d397834f"


def load_data(path="imdb.npz", num_words=None, skip_top=0, maxlen=None, seed=113,
              start_char=1, oov_char=2, index_from=3, **kwargs):
    """Loads the IMDB dataset as Keras does: ``(x_train, y_train), (x_test, y_test)``,
    ``x`` object arrays of lists of word indices (shuffled with ``seed``; ``start_char``
    first, indices shifted by ``index_from``, words outside [skip_top, num_words) replaced
    by ``oov_char``; sequences of ``maxlen`` words or more dropped), ``y`` 0/1 labels."""
    if kwargs:
        raise TypeError(f"load_data: unrecognized keyword arguments: {sorted(kwargs)}. "
                        f"Received: {kwargs!r}")
    target = _fetch.fetch("imdb.npz", FILE_HASH, _download.BASE_URL + "imdb.npz", "IMDB",
                          cache_name=path)
    f = _fetch.load_npz(target, ("x_train", "y_train", "x_test", "y_test"), "IMDB")
    x_train, labels_train, x_test, labels_test = (f[k] for k in ("x_train", "y_train",
                                                                 "x_test", "y_test"))
    _fetch.check_sequences(x_train, labels_train, target)
    _fetch.check_sequences(x_test, labels_test, target)
    rng = np.random.RandomState(seed)
    indices = np.arange(len(x_train))
    rng.shuffle(indices)
    x_train, labels_train = x_train[indices], labels_train[indices]
    indices = np.arange(len(x_test))
    rng.shuffle(indices)
    x_test, labels_test = x_test[indices], labels_test[indices]
    x_train = _fetch.index_words(x_train, start_char, index_from)
    x_test = _fetch.index_words(x_test, start_char, index_from)
    if maxlen:
        x_train, labels_train = _fetch.remove_long_seq(maxlen, x_train, labels_train)
        x_test, labels_test = _fetch.remove_long_seq(maxlen, x_test, labels_test)
        if not x_train or not x_test:
            raise ValueError(f"After filtering for sequences shorter than maxlen={maxlen}, "
                             "no sequence was kept. Increase maxlen.")
    xs = _fetch.limit_words(x_train + x_test, num_words, skip_top, oov_char)
    labels = np.concatenate([labels_train, labels_test])
    idx = len(x_train)
    return ((_fetch.object_array(xs[:idx]), labels[:idx]),
            (_fetch.object_array(xs[idx:]), labels[idx:]))


def get_word_index(path="imdb_word_index.json"):
    """{word: index} (indices start at 1; add ``index_from`` to match ``load_data``)."""
    return _fetch.word_index(path, WORD_INDEX_HASH, "the IMDB word index")
