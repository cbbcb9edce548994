"""Keras 3 files, both ways: ``.keras`` archives and ``.weights.h5`` weight files.

A ``.keras`` file is a zip of ``metadata.json`` (the writing Keras version), ``config.json``
(the model, see ``keras_config``) and ``model.weights.h5``. The HDF5 layout, in the file
and in a standalone ``.weights.h5``, is Keras's: ``layers/<layer name>/vars/<i>`` for each
layer's weights in ``layer.weights`` order, ``vars`` for the model's own (none), and for a
compiled model ``optimizer/vars/<i>``: iterations, learning rate, then the slots in the
order the Keras optimizer creates them (``Optimizer.keras_slot_order``: EMA averages and
gradient accumulators first; Adam interleaves momentum and velocity per variable; RMSprop
and SGD group them by kind), then variables that are not per weight (Nadam's
``u_product``). As in Keras, a layer's group is named after
its class and position, not its name: the first Dense is ``dense``, the second ``dense_1``
(so files load into a model built again in code whatever its layers are called). A
functional model lists its layers, input layers included, in Keras's order
(``keras_functional.keras_layer_order``); a model used as a layer holds its own layers in
``layers/<key>/layers/...`` and an empty ``layers/<key>/vars``. The sublayers of a user's
layer or model sit under its path by attribute name (``keras_paths`` has Keras's walk). A
shared layer's weights are written once.

HDF5 needs h5py, an optional dependency (``pip install "tensorlib[keras]"``). Reading
treats the file as untrusted: zip members are size-capped before they are read, only
hard links are followed (no soft or external links), only plain datasets are read (no
virtual or externally stored data, no filters but deflate/shuffle/fletcher32/lzf, so no
HDF5 plugin is ever loaded), and each dataset's shape and dtype are checked against the
model's weight before any data is read. Every array is read and checked before the first
weight changes, so a failed load leaves the model (and its optimizer) as it was. The
parsing itself is libhdf5's, in C: hostile files are refused by these checks, but a flaw
in libhdf5 is outside tensorlib's reach.
"""
import datetime
import io
import json
import warnings
import zipfile

import numpy as np

from .._weights import checked_weight_values
from .._version import __version__
from . import keras_compile, keras_config, keras_functional  # noqa: F401 - "Functional"
from . import keras_paths, keras_subclassed  # noqa: F401 - models defined by call
from .keras_config import ConfigError
from .keras_order import keras_layer_order
from .training import Model

KERAS_VERSION = "3.15.1"            # the Keras release whose layout this module writes
METADATA_MAX_BYTES = 65536
_SAFE_FILTERS = {1, 2, 3, 32000}    # deflate, shuffle, fletcher32, lzf (built into h5py)
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def require_h5py(func, filepath):
    try:
        import h5py
    except ImportError:
        raise ImportError(f"{func}: Keras HDF5 files (.keras, .weights.h5) need the optional "
                          "h5py package. Install it with `pip install \"tensorlib[keras]\"` "
                          f"(or `pip install h5py`). Received: filepath={filepath!r}") from None
    return h5py


def is_hdf5(head):
    return head.startswith(_HDF5_MAGIC)


# ----------------------------------------------------------------- writing
def save_keras(model, filepath, atomic_write):
    h5py = require_h5py("save", filepath)
    record = keras_config.model_to_keras(model, keras_compile.compile_to_keras(model))
    weights = weights_h5_bytes(h5py, model)
    metadata = {"keras_version": KERAS_VERSION,
                "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
                "producer": f"tensorlib {__version__}"}

    def write(f):
        with zipfile.ZipFile(f, "w") as z:
            z.writestr("metadata.json", json.dumps(metadata), zipfile.ZIP_DEFLATED)
            z.writestr("config.json", json.dumps(record), zipfile.ZIP_DEFLATED)
            z.writestr("model.weights.h5", weights, zipfile.ZIP_STORED)
    atomic_write(filepath, write)


def save_weights_h5(model, filepath, atomic_write):
    h5py = require_h5py("save_weights", filepath)
    data = weights_h5_bytes(h5py, model)
    atomic_write(filepath, lambda f: f.write(data))


def weights_h5_bytes(h5py, model):
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        _write_layers(f, model)
        if getattr(model, "compiled", False):
            group = f.create_group("optimizer").create_group("vars")
            group.attrs["name"] = model.optimizer.name
            for i, a in enumerate(_optimizer_arrays(model)):
                group.create_dataset(str(i), data=a)
    return buffer.getvalue()


def _write_layers(group, model):
    """``<path>/vars/<i>`` for every layer and model Keras's walk reaches (keras_paths):
    ``layers/<key>/vars`` for Sequential and functional models, attribute paths for the
    sublayers of user classes, and the model's own ``vars``."""
    for path, layer in keras_paths.weight_groups(model):
        if path:
            keras_config.check_layer_name(layer.name, "save")
        sub = group.require_group(f"{path}/vars" if path else "vars")
        sub.attrs["name"] = layer.name
        for i, w in enumerate(keras_paths.own_weights(layer)):
            sub.create_dataset(str(i), data=w.data)


def _keras_weights(model):
    """The model's weights in Keras's order (layers in Keras's order, nested models
    depth first), each once; a model defined by ``call``: its weights' order, which is
    Keras's (own, then each tracked layer's)."""
    if not keras_paths.is_graph_model(model):
        return model.weights
    seen, out = set(), []
    for layer in keras_layer_order(model):
        for w in (_keras_weights(layer) if isinstance(layer, Model) else layer.weights):
            if id(w) not in seen:
                seen.add(id(w))
                out.append(w)
    return out


# ----------------------------------------------------------------- optimizer layout
def _slot_order(model):
    """[(variable, slot name)] in the order Keras creates the optimizer's slots."""
    trainable = {id(w) for w in model.trainable_weights}
    variables = [w for w in _keras_weights(model) if id(w) in trainable]
    return model.optimizer.keras_slot_order(variables)


def _head_size(opt):
    return 1 if callable(opt._learning_rate) else 2


def _optimizer_arrays(model):
    opt = model.optimizer
    head = [np.asarray(opt.iterations, np.int64)]
    if _head_size(opt) == 2:
        head.append(np.asarray(opt.learning_rate, np.float32))
    if any(id(v) not in opt._slots for v in model.trainable_weights):
        return head             # not built yet: Keras writes the same before a first step
    return head + [opt._slots[id(v)][n] for v, n in _slot_order(model)] + \
        opt._extra_variables()


# ----------------------------------------------------------------- reading HDF5
class _Reader:
    """An HDF5 file opened for checked reads; ``where`` names it in messages."""

    def __init__(self, h5py, source, func, where):
        self.h5py, self.func, self.where = h5py, func, where
        try:
            self.file = h5py.File(source, "r")
        except Exception as e:  # noqa: BLE001 - not HDF5, truncated, ...
            raise self.error(f"is not a readable HDF5 file ({_short(e)})") from None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        try:
            self.file.close()
        except Exception:  # noqa: BLE001 - closing a corrupt file
            pass

    def error(self, what):
        return ValueError(f"{self.func}: {self.where} {what}. Received: "
                          f"filepath={self.where!r}")

    def child(self, group, name, kind):
        """``group[name]`` if it exists as a hard link to a ``kind`` ("group"/"dataset")."""
        h5py = self.h5py
        try:
            link = group.get(name, getlink=True)
            if link is None:
                return None
            if not isinstance(link, h5py.HardLink):
                raise _Refused(f"holds {group.name}/{name} as a {type(link).__name__}; only "
                               "plain (hard-linked) objects are read")
            obj = group[name]
        except _Refused as e:
            raise self.error(str(e)) from None
        except Exception as e:  # noqa: BLE001 - corrupt object headers
            raise self.error(f"holds a corrupt object {name!r} ({_short(e)})") from None
        want = h5py.Group if kind == "group" else h5py.Dataset
        if not isinstance(obj, want):
            raise self.error(f"holds {obj.name} as a {type(obj).__name__}, not a {kind}")
        return obj

    def keys(self, group):
        try:
            return list(group.keys()) if group is not None else []
        except Exception as e:  # noqa: BLE001
            raise self.error(f"holds a corrupt group ({_short(e)})") from None

    def array(self, group, key, shape, kinds, what):
        ds = self.child(group, key, "dataset")
        if ds is None:
            raise self.error(f"lacks the dataset {group.name}/{key} for {what}")
        dt = ds.dtype
        if dt.kind not in kinds or dt.fields is not None or dt.subdtype is not None or \
                (dt.kind == "f" and dt.itemsize not in (2, 4, 8)):
            raise self.error(f"holds dtype {dt} in {ds.name} for {what}; expected "
                             f"{'floats' if kinds == 'f' else 'integers'}")
        if ds.shape != tuple(shape):
            raise self.error(f"holds shape {ds.shape} in {ds.name} for {what} of shape "
                             f"{tuple(shape)}")
        try:
            if ds.is_virtual or ds.external:
                raise _Refused("is stored outside this file (virtual or external data)")
            plist = ds.id.get_create_plist()
            codes = {plist.get_filter(i)[0] for i in range(plist.get_nfilters())}
            if codes - _SAFE_FILTERS:
                raise _Refused(f"uses HDF5 filters {sorted(codes - _SAFE_FILTERS)}; only "
                               "deflate, shuffle, fletcher32 and lzf are read")
            value = np.asarray(ds[()])
        except _Refused as e:
            raise self.error(f"holds {ds.name}, which {e}") from None
        except Exception as e:  # noqa: BLE001 - bad chunks, checksum errors, ...
            raise self.error(f"holds a corrupt dataset {ds.name} ({_short(e)})") from None
        if value.shape != tuple(shape):
            raise self.error(f"holds {ds.name} with {value.shape} values, not {shape}")
        return value.astype(dt.newbyteorder("="), copy=False)


class _Refused(ValueError):
    pass


def _short(e):
    text = str(e)
    return text if len(text) <= 200 else text[:200] + "..."


def _read_layer_weights(reader, model):
    root = reader.file
    if not reader.keys(root):
        raise reader.error("is empty: it is not a Keras 3 weights file")
    legacy = "layer_names" in root.attrs or "model_weights" in reader.keys(root)
    if legacy:
        raise reader.error("is a legacy Keras 2 HDF5 file, which tensorlib does not read; "
                           "save it again with Keras 3 as .keras or .weights.h5")
    found = {}
    for path, layer in keras_paths.weight_groups(model):
        own = keras_paths.own_weights(layer)
        if own:
            _read_group(reader, path, layer, own, found)
    return [found[id(w)] for w in model.weights]


def _read_group(reader, path, layer, own, found):
    """Read ``<path>/vars/<i>`` into ``found`` {id(weight): array}."""
    group, parts, done = reader.file, (path.split("/") if path else []) + ["vars"], []
    for part in parts:
        inner = reader.child(group, part, "group")
        if inner is None:
            held = sorted(reader.keys(group))
            raise reader.error(
                f"lacks the {part!r} group (in {'/'.join(done) or '/'}) that holds the "
                f"weights of layer {layer.name!r} ({path or '/'}/vars); layers are matched "
                "by their place in the model (class and position, or attribute name), and "
                f"{'/'.join(done) or '/'} holds {held[:20]}" + (" ..." if len(held) > 20
                                                                 else ""))
        group = inner
        done.append(part)
    keys = reader.keys(group)
    if sorted(keys) != sorted(str(i) for i in range(len(own))):
        raise reader.error(
            f"holds {len(keys)} weights in {path or '/'}/vars for layer {layer.name!r}, "
            f"which has {len(own)} ({[w.name for w in own]})")
    for i, var in enumerate(own):
        if id(var) not in found:
            found[id(var)] = reader.array(group, str(i), var.shape,
                                          "f" if var.dtype.kind == "f" else "iu",
                                          f"weight {var.name!r}")


def _read_optimizer(reader, model):
    """A function that assigns the file's optimizer state (checked already), or None."""
    if not getattr(model, "compiled", False):
        return None
    group = reader.child(reader.file, "optimizer", "group")
    group = reader.child(group, "vars", "group") if group is not None else None
    if group is None:
        return None
    opt = model.optimizer
    keys = reader.keys(group)
    head, order = _head_size(opt), _slot_order(model)
    extra = type(opt)._EXTRA_VARIABLES          # Nadam's u_product, after the slots
    if sorted(keys) != sorted(str(i) for i in range(len(keys))):
        raise reader.error(f"holds optimizer variables named {sorted(keys)[:10]}, not "
                           "0, 1, 2, ...")
    if len(keys) not in (head, head + len(order) + extra):
        warnings.warn(f"Skipping variable loading for optimizer '{opt.name}', because it has "
                      f"{head + len(order) + extra} variables whereas the saved optimizer has "
                      f"{len(keys)} variables.")
        return None
    iterations = int(reader.array(group, "0", (), "iu", "the optimizer's iterations"))
    if iterations < 0:
        raise reader.error(f"holds a negative optimizer iteration count ({iterations})")
    lr = None
    if head == 2:
        lr = float(reader.array(group, "1", (), "f", "the optimizer's learning rate"))
        if not np.isfinite(lr) or lr < 0:
            raise reader.error(f"holds the learning rate {lr}; expected a finite number >= 0")
    slots, extras = [], []
    if len(keys) > head:
        values = [reader.array(group, str(head + k), v.shape, "f", f"optimizer slot {n!r} of "
                               f"{v.name!r}") for k, (v, n) in enumerate(order)]
        try:
            values = checked_weight_values(f"Optimizer {opt.name!r}", [v for v, _ in order],
                                           values)
        except ValueError as e:
            raise reader.error(f"holds optimizer state tensorlib cannot use ({e})") from None
        slots = [(v, n, a) for (v, n), a in zip(order, values)]
        extras = [reader.array(group, str(head + len(order) + k), (), "f",
                               "an optimizer variable") for k in range(extra)]

    def assign():
        opt.iterations = iterations
        if lr is not None:
            opt.learning_rate = lr
        if slots:
            opt.build(model.trainable_weights)
            for v, n, a in slots:
                opt._slots[id(v)][n][...] = a
            for target, a in zip(opt._extra_variables(), extras):
                target[...] = a
    return assign


def load_weights_h5(model, source, func, where):
    """Load layer weights (and optimizer state of a compiled model) from HDF5 ``source``
    (a path-like's open file or bytes); all checks run before anything is assigned."""
    h5py = require_h5py(func, where)
    if isinstance(source, (bytes, bytearray)):
        source = io.BytesIO(source)
    with _Reader(h5py, source, func, where) as reader:
        arrays = _read_layer_weights(reader, model)
        assign_optimizer = _read_optimizer(reader, model)
    try:
        model.set_weights(arrays)
    except ValueError as e:
        raise ValueError(f"{func}: the weights in {where} cannot be assigned to model "
                         f"{model.name!r}: {e}") from None
    if assign_optimizer is not None:
        assign_optimizer()


# ----------------------------------------------------------------- reading .keras
class KerasArchive:
    """A ``.keras`` zip opened for bounded reads of its members."""

    def __init__(self, zf, func, where):
        self.zip, self.func, self.where = zf, func, where
        self.members = {}
        for info in zf.infolist():
            if info.filename in self.members:
                raise self.error(f"holds member {info.filename!r} twice")
            self.members[info.filename] = info

    def error(self, what):
        return ValueError(f"{self.func}: the Keras file {self.where} {what}. Received: "
                          f"filepath={self.where!r}")

    def read(self, name, limit):
        info = self.members.get(name)
        if info is None:
            raise self.error(f"lacks the member {name!r}")
        if info.flag_bits & 0x1:
            raise self.error(f"holds an encrypted member {name!r}")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise self.error(f"holds member {name!r} in an unsupported compression (method "
                             f"{info.compress_type})")
        if info.file_size > limit:
            raise self.error(f"declares {info.file_size} bytes for member {name!r}, more than "
                             f"the {limit} it may take")
        try:
            with self.zip.open(info) as stream:
                data = stream.read(limit + 1)
        except Exception as e:  # noqa: BLE001 - bad CRC, truncated, corrupt deflate
            raise self.error(f"holds a corrupt member {name!r} ({_short(e)})") from None
        if len(data) != info.file_size:
            raise self.error(f"holds member {name!r} whose size differs from the declared one")
        return data

    def read_json(self, name, limit, too_deep):
        text = self.read(name, limit)
        try:
            value = json.loads(text.decode("utf-8"))
            deep = too_deep(value)
        except RecursionError:
            deep = True
        except ValueError as e:
            raise self.error(f"holds {name}, which is not UTF-8 JSON text ({_short(e)})") \
                from None
        if deep:
            raise self.error(f"holds {name} nested too deeply")
        return value

    def check_version(self, too_deep):
        if "metadata.json" not in self.members:
            return
        meta = self.read_json("metadata.json", METADATA_MAX_BYTES, too_deep)
        version = meta.get("keras_version") if isinstance(meta, dict) else None
        major = version.split(".")[0] if isinstance(version, str) else None
        if major != "3":
            raise self.error(f"was written by Keras {str(version)[:40]!r}; tensorlib reads the "
                             "Keras 3 format")


def weights_limit(model):
    """The most bytes a ``model.weights.h5`` for ``model`` may take: float64 weights, three
    optimizer slots each, and generous room for HDF5's own structures."""
    values = sum(int(np.prod(w.shape)) for w in model.weights)
    return 32 * values + 65536 * (len(model.weights) + len(model.layers)) + 2**20


def load_keras(zf, func, where, compile, safe_mode, limits,  # noqa: A002 - Keras's name
               custom_objects=None):
    config_max, too_deep = limits
    archive = KerasArchive(zf, func, where)
    archive.check_version(too_deep)
    record = archive.read_json("config.json", config_max, too_deep)
    try:
        model = keras_config.model_from_keras(record, safe_mode, custom_objects)
        if compile:
            keras_compile.compile_from_keras(model, record.get("compile_config"))
    except ConfigError as e:
        raise ValueError(f"{func}: the Keras file {where} describes a model tensorlib cannot "
                         f"load: {e}") from None
    data = archive.read("model.weights.h5", weights_limit(model))
    load_weights_h5(model, data, func, where)
    return model


def load_weights_keras(model, zf, func, where, too_deep):
    """``load_weights`` from a ``.keras`` file: its ``model.weights.h5`` only."""
    archive = KerasArchive(zf, func, where)
    archive.check_version(too_deep)
    load_weights_h5(model, archive.read("model.weights.h5", weights_limit(model)), func, where)
