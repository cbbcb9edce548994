"""The data of ``fit`` / ``evaluate`` / ``predict``: arrays, a ``keras.utils.PyDataset``
(alias ``Sequence``) or a Python generator, as sources of batches, and the
``EpochIterator`` that counts their steps as Keras does.

A PyDataset subclass defines ``__len__`` (batches per epoch) and ``__getitem__(index)``,
which returns a batch: ``(x, y)`` or ``(x, y, sample_weight)`` for ``fit``/``evaluate``
(``x`` and ``y`` as ``fit`` takes them: arrays, lists or dicts), ``x`` or ``(x,)`` or
``(x, y)`` for ``predict``; and may define ``on_epoch_end()``, called after every epoch
of ``fit``. ``fit(dataset, shuffle=True)`` visits the batches in a new random order each
epoch (tensorlib's generator, so ``set_random_seed`` makes it repeatable). Batches are
loaded on the calling thread, one at a time: ``workers``, ``use_multiprocessing`` and
``max_queue_size`` are accepted for Keras compatibility and do not start workers. A
generator yields tuples, ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)``, and is read
once. ``class_weight`` becomes per-sample weights (``class_weight_to_sample_weights``).
"""
import collections.abc
import itertools
import math
import types
import warnings

import numpy as np

from .. import distribution as distribution_mod
from ..random import get_generator
from ..tensor import Tensor
from . import compile_utils


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



def is_generator(x):
    """A Python generator or iterator (``next``-able) of batches."""
    return isinstance(x, (types.GeneratorType, collections.abc.Iterator)) and \
        not isinstance(x, (np.ndarray, PyDataset))


RAN_OUT = ("Your input ran out of data; interrupting training. Make sure that your dataset "
           "or generator can generate at least `steps_per_epoch * epochs` batches. You may "
           "need to use the `.repeat()` function when building your dataset.")


def unsupported(arg, what, kind):
    return ValueError(f"When providing `x` as a {kind}, `{arg}` should not be passed. "
                      f"Instead, {what} should be included as part of the {kind}.")


# ---------------------------------------------------------------- weights
def check_class_weight(class_weight):
    if class_weight is None:
        return None
    ok = isinstance(class_weight, dict) and all(
        isinstance(k, (int, np.integer)) and not isinstance(k, bool)
        and isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
        and np.isfinite(v) for k, v in class_weight.items())
    if not ok:
        raise ValueError("`class_weight` must be a dict mapping class indices (integers) to "
                         f"finite weights. Received: class_weight={class_weight!r}")
    return class_weight


def class_weight_to_sample_weights(y, class_weight):
    """One weight per sample from its class (integer label, or argmax of one-hot
    targets); classes missing from ``class_weight`` weigh 1, as in Keras."""
    y = np.asarray(y)
    if y.ndim > 1:
        y = np.argmax(y, axis=-1) if y.shape[-1] != 1 else np.squeeze(y, axis=-1)
    labels = np.round(y).astype(np.int64).reshape(len(y), -1)[:, 0]
    return np.array([class_weight.get(int(c), 1.0) for c in labels], np.float32)


def sample_weights(sample_weight, ys, names):
    """``sample_weight`` as a list with one float32 array (or None) per output: a single
    array of one weight per sample applies to every output; a list or dict gives one per
    output. None when no weights."""
    if sample_weight is None:
        return None
    if isinstance(sample_weight, (list, tuple, dict)) and len(names) > 1:
        given = compile_utils.standardize("sample_weight", sample_weight, names, "output")
    else:
        if isinstance(sample_weight, (list, tuple)) and len(sample_weight) == 1 and \
                not np.isscalar(sample_weight[0]):
            sample_weight = sample_weight[0]
        given = [sample_weight] * len(names)
    out = []
    for sw, y in zip(given, ys):
        if sw is None:
            out.append(None)
            continue
        a = np.asarray(sw.data if isinstance(sw, Tensor) else sw)
        if a.dtype.kind not in "fiub" or a.ndim == 0 or len(a) != len(y) or \
                not np.isfinite(a.astype(np.float64)).all():
            raise ValueError("`sample_weight` must hold one finite number per sample (shape "
                             f"({len(y)},)). Received: sample_weight with shape {a.shape} "
                             f"and dtype {a.dtype}")
        if len(names) > 1 and not isinstance(sample_weight, (list, tuple, dict)) and \
                not (a.ndim == 1 or (a.ndim == 2 and a.shape[1] == 1)):
            raise ValueError("For a model with multiple outputs, when providing a single "
                             "`sample_weight` array, it should only have one scalar score "
                             f"per sample (i.e. shape `(num_samples,)`). Received: "
                             f"sample_weight with shape {a.shape}")
        out.append(a.astype(np.float32, copy=False))
    return out


def _weights_for(model, ys, sw, class_weight):
    if class_weight is not None:
        if sw is not None:
            raise ValueError("You cannot specify `class_weight` and `sample_weight` at the "
                             "same time.")
        if len(ys) > 1:
            raise ValueError("`class_weight` is only supported for Models with a single "
                             f"output. Received: class_weight={class_weight!r}")
        return [class_weight_to_sample_weights(ys[0], class_weight)]
    return sample_weights(sw, ys, model._output_names)


# ---------------------------------------------------------------- batches
def _parts(item, where, need_y):
    """``(x, y, sample_weight)`` of one dataset or generator batch."""
    if isinstance(item, tuple):
        if not 1 <= len(item) <= 3:
            raise ValueError(f"{where}: a batch must be x, (x,), (x, y) or (x, y, "
                             f"sample_weight). Received: a tuple of {len(item)} items")
        x, y, sw = (tuple(item) + (None, None))[:3]
    else:
        x, y, sw = item, None, None
    if need_y and y is None:
        raise ValueError(f"{where}: the batches must be (x, y) tuples or (x, y, "
                         f"sample_weight) tuples. Received: a batch of type {type(item).__name__}")
    return x, y, sw


def load(model, item, where, need_y=True, class_weight=None):
    """One batch as checked lists ``(xs, ys, sws)`` (``ys`` None without targets,
    ``sws`` None without weights)."""
    x, y, sw = _parts(item, where, need_y is True)
    if need_y is False:
        y = sw = None
    xs, ys = model._check_data(x, y)
    sws = None if ys is None else _weights_for(model, ys, sw, class_weight)
    return xs, ys, sws


class Arrays:
    """Arrays in ``batch_size`` slices, in a new random order per pass when
    ``shuffle``; under a distribution, this process's part of each global batch."""

    def __init__(self, xs, ys, sws, batch_size, shuffle=False):
        self.xs, self.ys, self.sws = xs, ys, sws
        self.batch_size, self.shuffle, self.shard = batch_size, shuffle, True
        self.num_batches = math.ceil(len(xs[0]) / batch_size)

    def batches(self):
        n = len(self.xs[0])
        dist = distribution_mod.active() if self.shard else None
        order = get_generator().permutation(n) if self.shuffle else None
        if dist is not None and order is not None:
            order = dist.epoch_order(order)
        for step in range(self.num_batches):
            idx = slice(step * self.batch_size, min(n, (step + 1) * self.batch_size))
            if order is not None:
                idx = order[idx]
            if dist is not None:
                idx = dist.shard(idx)       # this process's part of the global batch
            yield ([a[idx] for a in self.xs],
                   None if self.ys is None else [a[idx] for a in self.ys],
                   None if self.sws is None else [w if w is None else w[idx]
                                                  for w in self.sws])

    def on_epoch_end(self):
        pass


class Dataset:
    """A PyDataset's batches, in a new random order per pass when ``shuffle``."""

    def __init__(self, model, ds, where, shuffle=False, need_y=True, class_weight=None):
        self.model, self.ds, self.where, self.shuffle = model, ds, where, shuffle
        self.need_y, self.class_weight = need_y, class_weight
        self.num_batches = steps(ds, where)

    def batches(self):
        order = get_generator().permutation(self.num_batches) if self.shuffle \
            else range(self.num_batches)
        for i in order:
            yield load(self.model, self.ds[int(i)], self.where, self.need_y,
                       self.class_weight)

    def on_epoch_end(self):
        self.ds.on_epoch_end()


class Generator:
    """A generator's batches; it is read once, so every pass continues the last."""

    num_batches = None

    def __init__(self, model, first, rest, where, need_y=True):
        self.model, self.where, self.need_y = model, where, need_y
        self._items = itertools.chain([first], rest)

    def batches(self):
        for item in self._items:
            yield load(self.model, item, self.where, self.need_y)

    def on_epoch_end(self):
        pass


def source(model, x, y, sample_weight, where, batch_size, shuffle=False, class_weight=None,
           need_y=True, steps=None):
    """The data of a ``fit``/``evaluate``/``predict`` argument as a source of batches
    (``Arrays``, ``Dataset`` or ``Generator``), checked on its first batch, which
    builds the model and resolves the metrics."""
    if is_dataset(x) or is_generator(x):
        kind = "PyDataset" if is_dataset(x) else "generator"
        if y is not None:
            raise unsupported("y", "the targets", kind)
        if sample_weight is not None:
            raise unsupported("sample_weights", "the sample weights", kind)
        if distribution_mod.active() is not None:
            raise NotImplementedError(f"{where}: a {kind} under a data-parallel "
                                      f"distribution is not supported; pass arrays. "
                                      f"Received: {type(x).__name__}")
    if is_dataset(x):
        data = Dataset(model, x, where, shuffle, need_y, class_weight)
        load(model, x[0], where, need_y, class_weight)     # builds; checks the batches
        return data
    if is_generator(x):
        if class_weight is not None:
            raise ValueError("Argument `class_weight` is not supported for Python generator "
                             f"inputs. Received: class_weight={class_weight}")
        if shuffle and where == "fit":
            warnings.warn("`shuffle=True` was passed, but will be ignored since the data "
                          "`x` was provided as a generator. The generator is expected to "
                          "yield already-shuffled data.", stacklevel=3)
        try:
            first = next(x)
        except StopIteration:
            raise ValueError("When passing a Python generator to a Keras model, the "
                             "generator must yield at least one batch. Received an empty "
                             "generator.") from None
        if not isinstance(first, tuple):
            raise ValueError("When passing a Python generator to a Keras model, the "
                             "generator must return a tuple, either (input,) or (inputs, "
                             "targets) or (inputs, targets, sample_weights). Received: "
                             f"{type(first).__name__} {str(first)[:100]}")
        load(model, first, where, need_y)
        return Generator(model, first, x, where, need_y)
    if need_y is True and y is None:
        raise ValueError(f"{where}() needs targets `y`. Received: y=None")
    xs, ys = model._check_data(x, y if need_y is not False else None)
    sws = None if ys is None else _weights_for(model, ys, sample_weight, class_weight)
    if batch_size is None:        # Keras: from the steps when given, else 32
        batch_size = math.ceil(len(xs[0]) / steps) if steps else 32
    return Arrays(xs, ys, sws, batch_size, shuffle)


class EpochIterator:
    """The batches of ``data`` epoch after epoch, as Keras counts steps: with ``steps``,
    each epoch takes that many batches and the next epoch goes on where it stopped (a
    finite source starts again once it is used up, with a warning when it ran out in
    the middle of an epoch); without, each epoch is one pass. A generator that runs out
    ends its epoch with Keras's warning and sets ``exhausted``."""

    def __init__(self, data, steps=None):
        self.data, self.steps = data, steps
        self._it, self._seen, self.exhausted = None, 0, False

    @property
    def num_batches(self):
        """Steps per epoch (None: unknown until a generator runs out)."""
        return self.steps or self.data.num_batches

    def __iter__(self):
        n = self.data.num_batches
        if self._it is None or self.steps is None:
            self._it, self._seen = iter(self.data.batches()), 0
        step = 0
        while self.steps is None or step < self.steps:
            if n is not None and self._seen >= n:
                if self.steps:
                    warnings.warn(RAN_OUT, stacklevel=2)
                break
            try:
                batch = next(self._it)
            except StopIteration:
                warnings.warn(RAN_OUT, stacklevel=2)
                self._it, self.exhausted = None, True
                return
            self._seen += 1
            step += 1
            yield batch
        if n is not None and self._seen >= n:
            self._it = None
