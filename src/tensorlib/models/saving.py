"""Saving and loading: the Keras 3 formats by name, and tensorlib's own pickle-free npz.

Which format a save writes is decided by the file name, as in Keras: ``*.keras`` is a
Keras 3 archive and ``*.weights.h5`` Keras's HDF5 weights layout (both in
``keras_format``; they need the optional h5py); any other name (``.npz`` by convention)
is the internal npz format below. The legacy Keras 2 whole-model ``.h5`` is not written.
Loading looks at the content, not the name: an HDF5 file, a zip holding ``config.json``
(Keras) or an npz (so older tensorlib ``.keras`` files, which were npz, still load).

Internal npz format: a zip archive of ``.npy`` members, ``weight_0000``, ``weight_0001``,
... in ``model.weights`` order, plus for whole models ``__meta__``, a uint8 array holding
the JSON record ``{"format", "class_name", "config", "compile_config"}``.

Loading treats the file as untrusted and never executes code:

* only the members the model needs are read (``__meta__``, then ``weight_NNNN`` for N
  below the model's weight count); other members are ignored, unread;
* each member's ``.npy`` header is read first, and its dtype, shape and the size the zip
  declares are checked against what the model expects before any data is decompressed,
  so a zip bomb or a header claiming a huge shape costs nothing; only float16/32/64
  weights of the exact shape load, and object (pickled) arrays are refused unread;
* the architecture record is capped at ``META_MAX_BYTES`` and ``META_MAX_DEPTH`` levels
  of nesting; layer classes come from a fixed table and are built by their constructors;
* every failure is a ValueError naming the file (a path that cannot be opened raises the
  OS error: FileNotFoundError, IsADirectoryError, PermissionError), and a failed load
  leaves the model's weights as they were.

Saving writes ``.<name>.tmp-<pid>-<random>`` next to the target, fsyncs it and renames it
into place, so a crash mid-save leaves the old file intact. The target is the resolved
path: saving through a symlink rewrites the link's target and keeps the link. Permissions
are those ``open()`` gives: an existing file keeps its permission bits, a new one gets
``0o666 & ~umask``. A temp file left by a killed save is removed by the next save to the
same target once no process with its pid runs on this machine (a live pid, even a
recycled one, keeps its file: a concurrent save is never disturbed).
"""
import errno
import json
import math
import os
import re
import secrets
import stat
import sys
import zipfile

import numpy as np

from .. import metrics as metrics_mod
from ..layers import LAYER_CLASSES
from . import keras_compile, keras_config, keras_format, training
from .keras_compile import metric_records
from .keras_format import save_keras, save_weights_h5
from .sequential import Sequential

FORMAT = "tensorlib-model-v1"
META_MAX_BYTES = 16 * 2**20     # the architecture record; real ones are a few KiB
META_MAX_DEPTH = 32             # nesting of the JSON record; real ones reach about 6
_HEADER_MAX = 65536             # bytes of .npy magic + header allowed before the data
_WEIGHT_KEY = re.compile(r"weight_\d{4,}")


# ----------------------------------------------------------------- saving
def _temp_prefix(target):
    return f".{os.path.basename(target)[:200]}.tmp-"


def _pid_alive(pid):
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):    # another user's process, or not a pid we wrote
        return True
    return True


def _remove_stale_temps(target):
    """Remove ``.<name>.tmp-<pid>-<hex>`` files of ``target`` whose writer is gone."""
    directory = os.path.dirname(target)
    pattern = re.compile(re.escape(_temp_prefix(target)) + r"([1-9][0-9]{0,9})-[0-9a-f]{16}")
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        match = pattern.fullmatch(name)
        if match and not _pid_alive(int(match.group(1))):
            try:
                os.unlink(os.path.join(directory, name))
            except OSError:
                pass


def _create_temp(target):
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = os.path.join(os.path.dirname(target), f"{_temp_prefix(target)}{os.getpid()}-"
                                                    f"{secrets.token_hex(8)}")
        try:
            return os.open(tmp, flags, 0o666), tmp      # the umask applies, as for open()
        except FileExistsError:
            continue


def _atomic_write(filepath, write):
    """Run ``write(f)`` on a temp file next to ``filepath``, then rename it into place."""
    target = os.path.realpath(os.fspath(filepath))
    directory = os.path.dirname(target)
    os.makedirs(directory, exist_ok=True)
    _remove_stale_temps(target)
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        mode = None
    fd, tmp = _create_temp(target)
    try:
        with os.fdopen(fd, "wb") as f:
            if mode is not None:
                os.chmod(tmp, mode)
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    try:                                # make the rename itself durable
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def _atomic_savez(filepath, arrays):
    _atomic_write(filepath, lambda f: np.savez(f, **arrays))


def _weight_arrays(model):
    return {f"weight_{i:04d}": w.data for i, w in enumerate(model.weights)}


# ----------------------------------------------------------------- reading
def _short(e):
    text = str(e)
    return text if len(text) <= 200 else text[:200] + "..."


def _path(filepath, func):
    try:
        return os.fspath(filepath)
    except TypeError:
        raise TypeError(f"{func}: filepath must be a path. Received: "
                        f"filepath={filepath!r}") from None


def _open_regular(path, func):
    """``path`` opened for binary reading; a FIFO, device or socket is refused unread."""
    # O_NONBLOCK: a FIFO must not hang the open; missing or unreadable paths raise
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
        raise ValueError(f"{func}: {path} is not a tensorlib or Keras weights/model file: it "
                         f"is not a regular file. Received: filepath={path!r}")
    return os.fdopen(fd, "rb")


class _Archive:
    """An ``.npz`` file opened for reading members on demand, header first."""

    def __init__(self, filepath, func, file=None):
        self.path = _path(filepath, func)
        self.func = func
        self._file = file if file is not None else _open_regular(self.path, func)
        try:
            self._zip = zipfile.ZipFile(self._file)
        except Exception as e:  # noqa: BLE001 - empty, truncated, random bytes, ...
            self._file.close()
            raise self.error(f"is not a zip archive ({_short(e)})") from None
        self.members = {}
        for info in self._zip.infolist():
            key = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
            if key in self.members:
                self._file.close()
                raise self.error(f"holds member {key!r} twice")
            self.members[key] = info

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._zip.close()
        self._file.close()

    def error(self, what):
        return ValueError(f"{self.func}: {self.path} is not a tensorlib weights/model file: "
                          f"it {what}. Received: filepath={self.path!r}")

    def read_array(self, key, check, max_bytes):
        """Member ``key`` as an array; ``check(shape, dtype)`` returns a reason to refuse
        the header (or None) before any data is read; ``max_bytes`` caps the data."""
        info = self.members[key]
        if info.flag_bits & 0x1:
            raise self.error(f"holds an encrypted member {key!r}")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise self.error(f"holds member {key!r} in an unsupported compression "
                             f"(method {info.compress_type})")
        if info.file_size > max_bytes + _HEADER_MAX:
            raise self.error(f"declares {info.file_size} bytes for member {key!r}, more "
                             f"than the {max_bytes} its data may take")
        try:
            with self._zip.open(info) as stream:
                version = np.lib.format.read_magic(stream)
                if version == (1, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
                elif version == (2, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
                else:
                    raise ValueError(f"unsupported .npy format version {version}")
                reason = check(shape, dtype)
                if reason:
                    raise _Refused(f"holds member {key!r} with {reason}")
                nbytes = math.prod(shape) * dtype.itemsize
                if info.file_size != stream.tell() + nbytes:
                    raise ValueError(f"the zip declares {info.file_size} bytes but the .npy "
                                     f"header describes {stream.tell() + nbytes}")
                data = stream.read(nbytes)
                if len(data) != nbytes or stream.read(1):
                    raise ValueError("the data is truncated")
        except _Refused as e:
            raise self.error(str(e)) from None
        except Exception as e:  # noqa: BLE001 - truncated, bad CRC, bad header, ...
            raise self.error(f"holds a corrupt member {key!r} ({_short(e)})") from None
        return np.frombuffer(data, dtype).reshape(shape, order="F" if fortran else "C")

    def read_weights(self, model):
        """The arrays for ``model.weights``, checked against them, in order."""
        own = model.weights
        held = [k for k in self.members if _WEIGHT_KEY.fullmatch(k)]
        if len(held) != len(own):
            raise ValueError(f"{self.func}: the file {self.path} holds {len(held)} weights but "
                             f"model {model.name!r} has {len(own)}. Received: "
                             f"filepath={self.path!r}")
        arrays = []
        for i, var in enumerate(own):
            key = f"weight_{i:04d}"
            if key not in self.members:
                raise self.error(f"lacks member {key!r} (for weight {var.name!r})")
            arrays.append(self.read_array(key, _weight_check(var), 8 * math.prod(var.shape)))
        return arrays

    def read_meta(self):
        text = self.read_array("__meta__", _meta_check, META_MAX_BYTES).tobytes()
        too_deep = f"is nested more than {META_MAX_DEPTH} levels deep"
        try:
            meta = json.loads(text.decode("utf-8"))
            reason = too_deep if _too_deep(meta) else None
        except RecursionError:
            reason = too_deep
        except ValueError as e:     # JSONDecodeError, UnicodeDecodeError, huge ints
            reason = f"is not UTF-8 JSON text ({_short(e)})"
        if reason:
            raise ValueError(f"{self.func}: the model file {self.path} has a malformed "
                             f"architecture record: it {reason}. Received: "
                             f"filepath={self.path!r}")
        return meta


class _Refused(ValueError):
    pass


def _weight_check(var):
    def check(shape, dtype):
        if dtype.kind != "f" or dtype.itemsize not in (2, 4, 8):
            return (f"dtype {dtype} for weight {var.name!r}; only float16, float32 and "
                    f"float64 weights load")
        if shape != var.shape:
            return f"shape {shape} for weight {var.name!r} of shape {var.shape}"
        return None
    return check


def _meta_check(shape, dtype):
    if dtype != np.uint8 or len(shape) != 1 or shape[0] < 0:
        return f"dtype {dtype} and shape {shape}; the record is 1-D uint8"
    if shape[0] > META_MAX_BYTES:
        return f"a {shape[0]}-byte record; the limit is {META_MAX_BYTES}"
    return None


def _too_deep(obj):
    stack = [(obj, 1)]
    while stack:
        obj, depth = stack.pop()
        if isinstance(obj, (dict, list)):
            if depth > META_MAX_DEPTH:
                return True
            stack.extend((v, depth + 1) for v in (obj.values() if isinstance(obj, dict)
                                                  else obj))
    return False


def _assign(model, arrays, archive):
    try:
        model.set_weights(arrays)
    except ValueError as e:
        raise ValueError(f"{archive.func}: the weights in {archive.path} cannot be assigned "
                         f"to model {model.name!r}: {e}") from None


# ----------------------------------------------------------------- model record
def _checked_config(meta, archive):

    def bad(what):
        return ValueError(f"{archive.func}: the model file {archive.path} has a malformed "
                          f"architecture record: {what}. Received: filepath={archive.path!r}")

    if not isinstance(meta, dict) or not isinstance(meta.get("config"), dict):
        raise bad("it is not a JSON object with a config object")
    if meta.get("format") != FORMAT or meta.get("class_name") != "Sequential":
        raise ValueError(f"{archive.func}: Unsupported model file {archive.path}. Received: "
                         f"format={_short(repr(meta.get('format')))}, "
                         f"class={_short(repr(meta.get('class_name')))}")
    config = meta["config"]
    if not isinstance(config.get("name"), str):
        raise bad(f"the model name is not a string (got {_short(repr(config.get('name')))})")
    entries = config.get("layers")
    if not isinstance(entries, list):
        raise bad(f"config.layers is not a list (got {type(entries).__name__})")
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("config"), dict) \
                or not isinstance(entry.get("class_name"), str):
            raise bad(f"layer {i} is not an object with a class_name string and a config "
                      "object")
        if entry["class_name"] not in LAYER_CLASSES:
            raise bad(f"layer {i} has the unknown class "
                      f"{_short(repr(entry['class_name']))}")
    return config


def _build(config, archive):
    try:
        model = Sequential.from_config(config)
    except Exception as e:  # noqa: BLE001 - any constructor/build failure, MemoryError too
        raise ValueError(f"{archive.func}: the model file {archive.path} describes a model "
                         f"tensorlib cannot build ({type(e).__name__}: {_short(e)}). "
                         f"Received: filepath={archive.path!r}") from None
    odd = [w.name for w in model.weights if w.dtype.kind != "f"]
    if odd:
        raise ValueError(f"{archive.func}: the model file {archive.path} describes weights "
                         f"that are not floating point ({odd[0]!r}). Received: "
                         f"filepath={archive.path!r}")
    return model


def _compile(model, cc, archive):
    """Compile as the saved model was; a model saved uncompiled, or whose loss could not
    be described (saved as null), loads uncompiled."""
    if cc is None:
        return
    metrics = cc.get("metrics") if isinstance(cc, dict) else None
    if not isinstance(cc, dict) \
            or not isinstance(cc.get("optimizer"), (str, dict, type(None))) \
            or not isinstance(cc.get("loss"), (str, dict, type(None))) \
            or not (metrics is None or isinstance(metrics, list)
                    and all(isinstance(m, str) or _is_metric_record(m) for m in metrics)):
        raise ValueError(f"{archive.func}: the model file {archive.path} has a malformed "
                         "compile_config: expected null or an object with an optimizer and "
                         "a loss (string or object) and a list of metrics (names or objects "
                         "with a class_name and a config). Received: "
                         f"compile_config={_short(repr(cc))}")
    if not cc.get("optimizer") or not cc.get("loss"):
        return
    try:
        metrics = [m if isinstance(m, str) else metrics_mod.get(m) for m in metrics or []]
        model.compile(optimizer=cc["optimizer"], loss=cc["loss"], metrics=metrics)
    except Exception as e:  # noqa: BLE001 - unknown optimizer/loss names or configs
        raise ValueError(f"{archive.func}: the model file {archive.path} has a compile_config "
                         f"tensorlib cannot apply ({type(e).__name__}: {_short(e)}). "
                         f"Received: filepath={archive.path!r}") from None


def _is_metric_record(m):
    return isinstance(m, dict) and isinstance(m.get("class_name"), str) \
        and isinstance(m.get("config", {}), dict)


def _compile_record(model):
    """The model's compile settings for the npz record, metric objects included."""
    cc = getattr(model, "compile_config", None)
    if cc is None or not isinstance(cc.get("metrics"), list):
        return cc                       # uncompiled, or metrics per output
    metrics = [m if isinstance(m, str) else {"class_name": m["class_name"],
                                             "config": m["config"]}
               for m in metric_records(model)]
    return {**cc, "metrics": metrics}


# ----------------------------------------------------------------- public functions
def _name(filepath, func):
    return str(_path(filepath, func))


def save_weights(model, filepath):
    """``*.weights.h5``: Keras's HDF5 layout; any other name but ``.h5``/``.keras``: npz."""
    name = _name(filepath, "save_weights")
    if not model.built:
        raise ValueError("The model must be built before its weights can be saved.")
    if name.endswith(".weights.h5"):
        return save_weights_h5(model, filepath, _atomic_write)
    if name.endswith((".h5", ".hdf5", ".keras")):
        raise ValueError("save_weights: the filename must end in `.weights.h5` for Keras's "
                         "HDF5 weights format (or `.npz` for tensorlib's). Received: "
                         f"filepath={name}")
    _atomic_savez(filepath, _weight_arrays(model))


def load_weights(model, filepath):
    """Load weights from a ``.weights.h5``, a ``.keras`` file or a tensorlib npz (by
    content); on any error nothing changes."""
    path = _path(filepath, "load_weights")
    with _open_regular(path, "load_weights") as f:
        head = f.read(8)
        f.seek(0)
        if keras_format.is_hdf5(head):
            return keras_format.load_weights_h5(model, f, "load_weights", path)
        with _Archive(path, "load_weights", file=f) as archive:
            if "config.json" in archive.members and "model.weights.h5" in archive.members:
                return keras_format.load_weights_keras(model, archive._zip, "load_weights",
                                                       path, _too_deep)
            arrays = archive.read_weights(model)
    _assign(model, arrays, archive)


def model_to_json(model, **kwargs):
    """The model's Keras record as JSON text (``json.dumps`` keyword arguments pass)."""
    record = keras_config.model_to_keras(model, keras_compile.compile_to_keras(model))
    if not record.get("compile_config"):
        record.pop("compile_config", None)
    return json.dumps(record, **kwargs)


def save_model(model, filepath):
    """``*.keras``: the Keras 3 format; ``.h5``: refused (legacy); any other name: npz."""
    name = _name(filepath, "save")
    if not model.built:
        raise ValueError("The model must be built before it can be saved.")
    if name.endswith(".keras"):
        return save_keras(model, filepath, _atomic_write)
    if name.endswith((".h5", ".hdf5")):
        raise ValueError("save: the legacy Keras 2 HDF5 model format is not supported; use a "
                         "`.keras` name for the Keras 3 format (or `.npz` for tensorlib's). "
                         f"Received: filepath={name}")
    meta = {"format": FORMAT, "class_name": type(model).__name__,
            "config": model.get_config(), "compile_config": _compile_record(model)}
    arrays = _weight_arrays(model)
    arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    _atomic_savez(filepath, arrays)


def load_model(filepath, custom_objects=None, compile=True,  # noqa: A002 - Keras's names
               safe_mode=True):
    """A model from a ``.keras`` file or a tensorlib npz (by content). ``custom_objects``:
    {name: class} for the custom layers a ``.keras`` file names (by registered or class
    name; see ``registry``). ``safe_mode``: as in Keras, refuse anything that would run
    code from the file (a Lambda's function)."""
    path = _path(filepath, "load_model")
    if custom_objects is not None and not isinstance(custom_objects, dict):
        raise ValueError("load_model: custom_objects must be a dict of name -> class. "
                         f"Received: custom_objects={custom_objects!r}")
    if not isinstance(safe_mode, bool):
        raise ValueError(f"load_model: safe_mode must be True or False. Received: "
                         f"safe_mode={safe_mode!r}")
    with _open_regular(path, "load_model") as f:
        if keras_format.is_hdf5(f.read(8)):
            raise ValueError(f"load_model: {path} is an HDF5 file: either Keras weights "
                             "(build the model and call load_weights()) or a legacy Keras 2 "
                             "model, which tensorlib does not read. Received: "
                             f"filepath={path!r}")
        f.seek(0)
        with _Archive(path, "load_model", file=f) as archive:
            if "config.json" in archive.members:
                return keras_format.load_keras(archive._zip, "load_model", path, compile,
                                               safe_mode, (META_MAX_BYTES, _too_deep),
                                               custom_objects)
            if "__meta__" not in archive.members:
                raise ValueError(f"load_model: {archive.path} holds weights only (no "
                                 "architecture). Build the model and call load_weights() "
                                 f"instead. Received: filepath={archive.path!r}")
            meta = archive.read_meta()
            model = _build(_checked_config(meta, archive), archive)
            _assign(model, archive.read_weights(model), archive)
    if compile:
        _compile(model, meta.get("compile_config"), archive)
    return model


training.register_saving(sys.modules[__name__])
