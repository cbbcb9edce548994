"""``keras.utils.PyDataset`` (alias ``Sequence``): data given batch by batch.

A subclass defines ``__len__`` (batches per epoch) and ``__getitem__(index)``, which
returns a batch: ``(x, y)`` for ``fit``/``evaluate`` (``x`` and ``y`` as ``fit`` takes
them: arrays, lists or dicts), ``x`` or ``(x,)`` or ``(x, y)`` for ``predict``; and may
define ``on_epoch_end()``, called after every epoch of ``fit``. ``fit(dataset,
shuffle=True)`` visits the batches in a new random order each epoch (tensorlib's
generator, so ``set_random_seed`` makes it repeatable). Batches are loaded on the calling
thread, one at a time: ``workers``, ``use_multiprocessing`` and ``max_queue_size`` are
accepted for Keras compatibility and do not start workers. ``predict`` gathers the
batches' inputs and predicts them as one array would be.
"""
import numpy as np

from .. import distribution as distribution_mod
from ..random import get_generator


class PyDataset:
    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        self._workers = workers
        self._use_multiprocessing = use_multiprocessing
        self._max_queue_size = max_queue_size

    workers = property(lambda self: self.__dict__.get("_workers", 1))
    use_multiprocessing = property(lambda self: self.__dict__.get("_use_multiprocessing",
                                                                  False))
    max_queue_size = property(lambda self: self.__dict__.get("_max_queue_size", 10))

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__(index)")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __len__()")

    @property
    def num_batches(self):
        return len(self)

    def on_epoch_end(self):
        pass


Sequence = PyDataset


def is_dataset(x):
    return isinstance(x, PyDataset)


def steps(ds, where):
    """The number of batches of ``ds`` (at least one)."""
    n = len(ds)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
        raise ValueError(f"{where}: the dataset must have at least one batch (`__len__`). "
                         f"Received: len={n!r} from {type(ds).__name__}")
    return int(n)


def _parts(item, where, need_y):
    """``(x, y)`` of one batch (``y`` None when not needed)."""
    if isinstance(item, tuple):
        if not 1 <= len(item) <= 3:
            raise ValueError(f"{where}: a dataset batch must be x, (x,), (x, y) or (x, y, "
                             f"sample_weight). Received: a tuple of {len(item)} items")
        if len(item) == 3 and item[2] is not None:
            raise NotImplementedError(f"{where}: sample weights from a dataset are not "
                                      f"supported. Received: a batch with sample_weight")
        x, y = item[0], (item[1] if len(item) > 1 else None)
    else:
        x, y = item, None
    if need_y and y is None:
        raise ValueError(f"{where}: the dataset's batches must be (x, y) tuples. Received: "
                         f"a batch of type {type(item).__name__}")
    return x, (y if need_y else None)


def batch(model, ds, index, where, need_y=True):
    """Batch ``index`` of ``ds`` as checked lists of arrays (``model._check_data``)."""
    return model._check_data(*_parts(ds[index], where, need_y))


def first_batch(model, ds, y, where, validation_split=0.0, need_y=True):
    """Check a dataset argument and return its first batch (it builds the model and
    resolves the metrics, as the arrays of an array argument do)."""
    if y is not None:
        raise ValueError(f"{where}: `y` must not be given when `x` is a dataset (its "
                         f"batches hold the targets). Received: y of type "
                         f"{type(y).__name__}")
    if validation_split:
        raise ValueError(f"{where}: validation_split cannot split a dataset; pass "
                         f"validation_data. Received: validation_split={validation_split}")
    if distribution_mod.active() is not None:
        raise NotImplementedError(f"{where}: a PyDataset under a data-parallel "
                                  f"distribution is not supported; pass arrays. Received: "
                                  f"{type(ds).__name__}")
    steps(ds, where)
    return batch(model, ds, 0, where, need_y)


def epoch_batches(model, ds, shuffle, where, need_y=True):
    """The epoch's batches, in a new random order when ``shuffle``."""
    n = steps(ds, where)
    order = get_generator().permutation(n) if shuffle else range(n)
    for i in order:
        yield batch(model, ds, int(i), where, need_y)
