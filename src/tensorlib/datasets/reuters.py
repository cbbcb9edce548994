"""Reuters newswire topics, Keras-compatible loader (``reuters.npz`` from Keras's
mirror, pinned by sha256; word index ``reuters_word_index.json``)."""
import numpy as np

from . import _download, _fetch

FILE_HASH = "d6586e694ee56d7a4e65172e12b3e987c03096cb01eab99753921ef915959916"
WORD_INDEX_HASH = "4d44cc38712099c9e383dc6e5f11a921"
LABEL_NAMES = (
    "cocoa", "grain", "veg-oil", "earn", "acq", "wheat", "copper", "housing",
    "money-supply", "coffee", "sugar", "trade", "reserves", "ship", "cotton", "carcass",
    "crude", "nat-gas", "cpi", "money-fx", "interest", "gnp", "meal-feed", "alum", "oilseed",
    "gold", "tin", "strategic-metal", "livestock", "retail", "ipi", "iron-steel", "rubber",
    "heat", "jobs", "lei", "bop", "zinc", "orange", "pet-chem", "dlr", "gas", "silver",
    "wpi", "hog", "lead")


def load_data(path="reuters.npz", num_words=None, skip_top=0, maxlen=None, test_split=0.2,
              seed=113, start_char=1, oov_char=2, index_from=3):
    """Loads the Reuters dataset as Keras does: 46 topics; ``x`` object arrays of lists
    of word indices (see ``imdb.load_data`` for the word arguments), the last
    ``test_split`` of the shuffled samples as the test set."""
    target = _fetch.fetch("reuters.npz", FILE_HASH, _download.BASE_URL + "reuters.npz",
                          "Reuters", cache_name=path)
    f = _fetch.load_npz(target, ("x", "y"), "Reuters")
    xs, labels = f["x"], f["y"]
    _fetch.check_sequences(xs, labels, target)
    rng = np.random.RandomState(seed)
    indices = np.arange(len(xs))
    rng.shuffle(indices)
    xs, labels = xs[indices], labels[indices]
    xs = _fetch.index_words(xs, start_char, index_from)
    if maxlen:
        xs, labels = _fetch.remove_long_seq(maxlen, xs, labels)
    xs = _fetch.limit_words(xs, num_words, skip_top, oov_char)
    idx = int(len(xs) * (1 - test_split))
    return ((_fetch.object_array(xs[:idx]), np.array(labels[:idx])),
            (_fetch.object_array(xs[idx:]), np.array(labels[idx:])))


def get_word_index(path="reuters_word_index.json"):
    """{word: index} (add ``index_from`` to match ``load_data``)."""
    return _fetch.word_index(path, WORD_INDEX_HASH, "the Reuters word index")


def get_label_names():
    """The 46 topic names, indexed as the labels."""
    return LABEL_NAMES
