"""Data-parallel ``fit`` / ``evaluate`` / ``predict`` over MPI, in Keras 3's terms.

    import tensorlib as keras
    keras.distribution.initialize()                          # joins mpiexec's processes
    keras.distribution.set_distribution(keras.distribution.DataParallel())
    model.fit(x, y, batch_size=64)          # launched with: mpiexec -n 2 python train.py

Every process runs the same script on the same data; MPI (mpi4py, the ``mpi`` extra) is
the engine. While a ``DataParallel`` is set (or its ``scope()`` is entered) and there is
more than one process, the Model consults it (``active()``) at a few points:

- ``begin``: every process checks that its model, data and call agree with process 0's
  (one allgather of a short description), then takes process 0's weights, and for ``fit``
  its optimizer state (broadcast).
- ``epoch_order``: process 0's permutation of the samples, broadcast every epoch.
- ``shard``: each process's contiguous part of a global batch. Parts differ by at most one
  sample (a short last batch may leave a process none: ``empty_step``), and
  ``reduce_gradients`` weights each process's mean gradient by its share of the batch, so
  a step follows the mean loss over the global batch, as one process would.
- ``reduce_gradients``: ONE in-place ``Allreduce`` of all gradients packed into a
  contiguous buffer (one per dtype), with a flag per variable so a ``None`` gradient stays
  ``None`` everywhere.
- ``results``: loss and metric states (``total`` and ``count``) summed over processes.
- ``agree``: ``model.stop_training`` set on any process stops every process.
- ``predict_share`` / ``gather``: ``predict`` runs on contiguous parts of the samples and
  returns the whole, ordered result on every process.

Only process 0 prints progress and runs ModelCheckpoint and CSVLogger; the other callbacks
run everywhere on the same global logs, with their printing silenced off process 0.
"""
import contextlib
import hashlib
import io
import os
import sys
import time

import numpy as np

from . import _threads
from . import callbacks as callbacks_mod

__all__ = ["initialize", "process_id", "num_processes", "list_devices", "DataParallel",
           "set_distribution", "distribution"]

# Variables by which MPI launchers (MPICH/Hydra and Intel MPI, Open MPI, MVAPICH, PMIx)
# tell a process it is one of several.
_LAUNCHER_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE", "PMIX_RANK")
# Callbacks that write files: process 0 only.
_WRITERS = (callbacks_mod.ModelCheckpoint, callbacks_mod.CSVLogger)

_world = None          # (comm, rank, size) once initialize() has run; comm None alone
_current = None        # the distribution set by set_distribution / scope


# ---------------------------------------------------------------- the process world
def _launched_by():
    """The launcher variable of this process's environment, or None (started alone)."""
    return next((v for v in _LAUNCHER_VARS if os.environ.get(v)), None)


def initialize(job_addresses=None, num_processes=None, process_id=None):
    """Join the processes that ``mpiexec`` started (Keras's signature; MPI's launcher
    decides addresses, count and ids, so ``job_addresses`` is not used and the other two
    are checked against it). Started alone, this is a no-op and MPI is not loaded.
    Idempotent. Installs an exception hook: an uncaught error on any process is printed
    with its process id and ends the whole job (``MPI.COMM_WORLD.Abort``)."""
    global _world
    if _world is None:
        var = _launched_by()
        if var is None:
            _world = (None, 0, 1)
        else:
            try:
                from mpi4py import MPI
            except ImportError as e:
                raise RuntimeError(
                    "tensorlib.distribution.initialize(): this process was started by an "
                    f"MPI launcher ({var}={os.environ[var]}) but mpi4py cannot be imported. "
                    'Install the MPI extra: pip install "tensorlib[mpi]". '
                    f"Received: {type(e).__name__}: {e}") from None
            comm = MPI.COMM_WORLD
            _world = (comm, comm.Get_rank(), comm.Get_size())
            if _world[2] > 1:
                _install_excepthook(comm, _world[1], _world[2])
                _place_threads(comm)
    for name, given, actual in (("num_processes", num_processes, _world[2]),
                                ("process_id", process_id, _world[1])):
        if given is not None and given != actual:
            raise ValueError(f"initialize(): {name} is set by the MPI launcher to {actual}. "
                             f"Received: {name}={given!r}")


def process_id():
    """This process's rank (0 when started alone)."""
    initialize()
    return _world[1]


def num_processes():
    """The number of processes of the job (1 when started alone)."""
    initialize()
    return _world[2]


def list_devices(device_type=None):
    """One CPU "device" per process, Keras's ``list_devices`` for a CPU job."""
    if device_type not in (None, "cpu", "CPU"):
        raise ValueError("list_devices(): tensorlib runs on CPUs only. Received: "
                         f"device_type={device_type!r}")
    return [f"cpu:{i}" for i in range(num_processes())]


def _install_excepthook(comm, rank, size):
    previous = sys.excepthook

    def hook(kind, value, tb):
        # the summary first: the launcher may drop what is still in flight at the Abort
        sys.stderr.write(f"tensorlib.distribution: process {rank} of {size} failed with "
                         f"{kind.__name__}: {value}\n")
        previous(kind, value, tb)
        sys.stderr.write(f"tensorlib.distribution: ending the job (MPI Abort) after the "
                         f"failure of process {rank}.\n")
        sys.stderr.flush()
        time.sleep(0.5)         # time for the launcher to pass the messages on
        comm.Abort(1)

    sys.excepthook = hook


def _place_threads(comm):
    """Threads per process: the CPUs of its affinity mask (capped by a cgroup quota) over
    the processes of this host that share that mask, unless the user chose a count
    (``TENSORLIB_NUM_THREADS`` or ``OMP_NUM_THREADS``; ``set_num_threads`` later wins)."""
    from mpi4py import MPI
    local = comm.Split_type(MPI.COMM_TYPE_SHARED)
    try:
        mask = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
        masks = local.allgather(mask)
    finally:
        local.Free()
    if any(os.environ.get(v, "").strip() for v in _threads.ENV_VARS):
        return
    sharing = sum(m == mask for m in masks)
    cpus = min(_threads.available_cpus(), _threads.MAX_THREADS)
    _threads.set_num_threads(max(1, cpus // sharing))


# ---------------------------------------------------------------- the Keras API
def set_distribution(value):
    """Make ``value`` (a ``DataParallel``, or None) the distribution of every later
    ``fit``, ``evaluate`` and ``predict``."""
    global _current
    if value is not None and not isinstance(value, DataParallel):
        raise ValueError("set_distribution() takes a DataParallel or None. Received: "
                         f"{value!r}")
    _current = value


def distribution():
    """The distribution set by ``set_distribution`` or the innermost ``scope()``."""
    return _current


def active():
    """The distribution the training loops must follow: the current one when the job has
    more than one process, else None (a single process runs exactly as without it)."""
    d = _current
    return d if d is not None and d.size > 1 else None


class DataParallel:
    """Replicated model, batches split across processes (Keras's ``DataParallel``).
    ``batch_size`` is the global batch. ``devices`` may be None or ``list_devices()``."""

    def __init__(self, device_mesh=None, devices=None, auto_shard_dataset=True):
        initialize()
        if device_mesh is not None:
            raise ValueError("DataParallel(): tensorlib has no device meshes; one process "
                             f"is one device. Received: device_mesh={device_mesh!r}")
        if devices is not None and len(devices) != _world[2]:
            raise ValueError(f"DataParallel(): the job has {_world[2]} processes, one device "
                             f"each. Received: devices={devices!r}")
        self.comm, self.rank, self.size = _world
        self.auto_shard_dataset = auto_shard_dataset
        self._share = (1, 1)           # (this process's samples, global batch) of a step
        self._buffers = {}
        self.allreduce_seconds, self.allreduce_calls = 0.0, 0

    def __repr__(self):
        return f"<DataParallel process {self.rank} of {self.size}>"

    @contextlib.contextmanager
    def scope(self):
        """``with dp.scope():`` makes ``dp`` the distribution inside the block."""
        global _current
        previous, _current = _current, self
        try:
            yield self
        finally:
            _current = previous

    # ------------------------------------------------------------ start of a call
    def begin(self, model, call, xs, ys=None, verbose=0, callbacks=None, **arguments):
        """Check that every process makes the same call (``arguments`` included) on the
        same model and data; take process 0's weights, and its optimizer state when
        training. Returns this process's ``verbose`` and callbacks."""
        mine = _describe(model, call, xs, ys, arguments)
        everyone = self.comm.allgather(mine)
        for rank, theirs in enumerate(everyone):
            diff = [k for k in mine if theirs[k] != everyone[0][k]]
            if diff:
                k = diff[0]
                raise ValueError(
                    f"{call}(): process {rank} does not match process 0 in its {k}; every "
                    "process must build the same model and pass the same data and "
                    f"arguments. Received: {k}={theirs[k]} on process {rank}, "
                    f"{everyone[0][k]} on process 0")
        self._bcast_arrays([w.data for w in model.weights])
        if call in ("fit", "train_on_batch"):
            self._bcast_optimizer(model.optimizer, model.trainable_weights)
        if self.rank == 0:
            return verbose, callbacks
        kept = [c for c in (callbacks or []) if not isinstance(c, _WRITERS)]
        return 0, [c if isinstance(c, callbacks_mod.History) else _Quiet(c) for c in kept]

    def _bcast_optimizer(self, opt, variables):
        built, iterations = self.comm.bcast((opt.built, opt.iterations) if self.rank == 0
                                            else None, root=0)
        if not built:
            return
        if not opt.built:
            opt.build(variables)
        self._bcast_arrays(opt.variables[2:])
        opt.iterations = iterations

    def _bcast_arrays(self, arrays):
        for dtype, group in _by_dtype(arrays).items():
            buf = np.empty(sum(a.size for a in group), dtype)
            if self.rank == 0:
                _pack(buf, group)
            self.comm.Bcast(buf, root=0)
            if self.rank != 0:
                _unpack(buf, group)

    # ------------------------------------------------------------ batches
    def epoch_order(self, order):
        """Process 0's permutation of the samples (int64), on every process."""
        order = np.ascontiguousarray(order, dtype=np.int64)
        self.comm.Bcast(order, root=0)
        return order

    def shard(self, idx):
        """This process's contiguous part of a global batch (a slice or index array)."""
        if isinstance(idx, slice):
            start, total = idx.start, idx.stop - idx.start
        else:
            start, total = 0, len(idx)
        lo, hi = _part(total, self.rank, self.size)
        self._share = (hi - lo, total)
        return slice(start + lo, start + hi) if isinstance(idx, slice) else idx[lo:hi]

    def empty_step(self, model, step_fn):
        """The step of a process with no sample of a short last batch: nothing to compute,
        but it takes part in the gradient allreduce and the update like the others."""
        if step_fn == model._train_batch:
            params = model.trainable_weights
            grads = self.reduce_gradients([None] * len(params), params)
            model.optimizer.apply_gradients(zip(grads, params))
        outputs = range(len(model._output_names))
        return (0.0, [None if model._losses[i] is None else 0.0 for i in outputs],
                [np.zeros((0,) + tuple(model._output_shapes[i][1:]), np.float32)
                 for i in outputs])

    def reduce_gradients(self, grads, params):
        """The gradients of the global batch: each process's share-weighted gradient,
        summed by one Allreduce per dtype over a packed buffer (plus presence flags)."""
        local, total = self._share
        weight = local / total
        out = list(grads)
        groups = {}
        for i, p in enumerate(params):
            groups.setdefault(p.data.dtype, []).append(i)
        for dtype, members in groups.items():
            size = sum(params[i].data.size for i in members)
            key = (dtype, size, len(members))
            buf = self._buffers.get(key)
            if buf is None:
                buf = self._buffers[key] = np.empty(size + len(members), dtype)
            offset = 0
            for j, i in enumerate(members):
                n, g = params[i].data.size, grads[i]
                if g is None:
                    buf[offset:offset + n] = 0
                else:
                    np.multiply(np.ravel(g), dtype.type(weight), out=buf[offset:offset + n])
                buf[size + j] = g is not None
                offset += n
            start = time.perf_counter()
            self.comm.Allreduce(_in_place(), buf)
            self.allreduce_seconds += time.perf_counter() - start
            self.allreduce_calls += 1
            offset = 0
            for j, i in enumerate(members):
                n = params[i].data.size
                out[i] = buf[offset:offset + n].reshape(params[i].data.shape) \
                    if buf[size + j] else None
                offset += n
        return out

    # ------------------------------------------------------------ logs and decisions
    def results(self, metrics):
        """``result()`` of every metric over all processes: their ``total`` and ``count``
        summed (the state of Mean and every MeanMetricWrapper, such as the accuracies)."""
        state = np.empty(2 * len(metrics))
        for i, m in enumerate(metrics):
            if not (hasattr(m, "total") and hasattr(m, "count")):
                raise ValueError(
                    "DataParallel reduces metrics by their `total` and `count` (Mean and "
                    "MeanMetricWrapper, which every built-in metric is). Received: metric "
                    f"{m.name!r} of type {type(m).__name__}")
            state[2 * i], state[2 * i + 1] = m.total, m.count
        self.comm.Allreduce(_in_place(), state)
        return [float(t / c) if c else 0.0 for t, c in zip(state[0::2], state[1::2])]

    def agree(self, flag):
        """True on every process when ``flag`` is true on any of them."""
        value = np.array([1 if flag else 0], np.int32)
        self.comm.Allreduce(_in_place(), value)
        return bool(value[0])

    # ------------------------------------------------------------ predict
    def predict_share(self, xs, batch_size):
        """This process's contiguous part of the samples, and its part of the batch."""
        lo, hi = _part(len(xs[0]), self.rank, self.size)
        return [a[lo:hi] for a in xs], max(1, -(-batch_size // self.size))

    def gather(self, values):
        """Every process's outputs, concatenated in process order, on every process."""
        out = []
        for v in values:
            v = np.ascontiguousarray(v)
            row = int(np.prod(v.shape[1:], dtype=np.int64))
            counts = np.array(self.comm.allgather(len(v)), np.int64)
            whole = np.empty((int(counts.sum()),) + v.shape[1:], v.dtype)
            self.comm.Allgatherv(v, [whole, counts * row])
            out.append(whole)
        return out


# ---------------------------------------------------------------- helpers
def _in_place():
    from mpi4py import MPI
    return MPI.IN_PLACE


def _part(total, rank, size):
    """[lo, hi) of ``rank`` when ``total`` items are split into ``size`` contiguous parts
    whose lengths differ by at most one (the first ``total % size`` parts are longer)."""
    base, extra = divmod(total, size)
    lo = rank * base + min(rank, extra)
    return lo, lo + base + (rank < extra)


def _by_dtype(arrays):
    groups = {}
    for a in arrays:
        groups.setdefault(a.dtype, []).append(a)
    return groups


def _pack(buf, arrays):
    offset = 0
    for a in arrays:
        buf[offset:offset + a.size] = a.ravel()
        offset += a.size


def _unpack(buf, arrays):
    offset = 0
    for a in arrays:
        a[...] = buf[offset:offset + a.size].reshape(a.shape)
        offset += a.size


def _fingerprint(arrays):
    """A digest of a few evenly spaced samples of each array: catches processes that load
    or shuffle their data differently, at no real cost."""
    h = hashlib.blake2b(digest_size=8)
    for a in arrays:
        h.update(np.ascontiguousarray(a[::max(1, len(a) // 16)]).tobytes())
    return h.hexdigest()


def _describe(model, call, xs, ys, arguments):
    """What must be the same on every process at the start of ``call``."""
    return {
        "model": f"{type(model).__name__} with weights "
                 f"{[(tuple(w.shape), str(w.data.dtype)) for w in model.weights]}",
        "optimizer": type(getattr(model, "optimizer", None)).__name__,
        "inputs": [(a.shape, str(a.dtype)) for a in xs],
        "targets": None if ys is None else [(a.shape, str(a.dtype)) for a in ys],
        "data": _fingerprint(list(xs) + list(ys or [])),
        "arguments": ", ".join(f"{k}={v!r}" for k, v in sorted(arguments.items())),
        "call": call,
    }


class _Quiet(callbacks_mod.Callback):
    """A callback whose hooks run with their printing discarded (processes other than 0
    run EarlyStopping, LearningRateScheduler, ... silently)."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def set_params(self, params):
        self.inner.set_params(params)

    def set_model(self, model):
        self.inner.set_model(model)


def _quiet_hook(name):
    def hook(self, *args, **kwargs):
        with contextlib.redirect_stdout(io.StringIO()):
            return getattr(self.inner, name)(*args, **kwargs)
    hook.__name__ = name
    return hook


for _name in callbacks_mod._HOOKS:
    setattr(_Quiet, _name, _quiet_hook(_name))
del _name
