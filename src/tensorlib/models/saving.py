"""Pickle-free saving: weights as ``.npz`` arrays, whole models as ``.npz`` with the
architecture stored as JSON text. Loading never executes code (``allow_pickle=False``,
layer classes looked up in a fixed table). Files are written to a temporary file in the
same directory and moved into place, so a crash mid-save leaves the old file intact.
"""
import json
import os
import tempfile

import numpy as np

FORMAT = "tensorlib-model-v1"


def _atomic_savez(filepath, arrays):
    filepath = os.fspath(filepath)
    directory = os.path.dirname(os.path.abspath(filepath))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, filepath)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _weight_arrays(model):
    return {f"weight_{i:04d}": w.data for i, w in enumerate(model.weights)}


def _read_npz(filepath):
    try:
        data = np.load(os.fspath(filepath), allow_pickle=False)
    except FileNotFoundError:
        raise
    except Exception as e:  # noqa: BLE001 - empty, truncated, not a zip, pickled, ...
        raise ValueError(f"{filepath!s} is not a tensorlib weights/model file ({e}). "
                         f"Received: {filepath!s}") from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise ValueError(f"{filepath!s} holds a single array, not a tensorlib weights/model "
                         f"file. Received: {filepath!s}")
    try:
        with data:
            return {k: data[k] for k in data.files}
    except Exception as e:  # noqa: BLE001 - a member is truncated or corrupt
        raise ValueError(f"{filepath!s} is not a tensorlib weights/model file: a member is "
                         f"corrupt or not plain data ({e}). Received: {filepath!s}") from None


def _read_meta(arrays, filepath):
    try:
        meta = json.loads(arrays["__meta__"].tobytes().decode())
        if not isinstance(meta, dict) or not isinstance(meta.get("config"), dict):
            raise ValueError("the architecture record is not a JSON object with a config")
        return meta
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"The model file {filepath!s} has a malformed architecture record "
                         f"({e}). Received: {filepath!s}") from None


def _assign(model, arrays, filepath):
    keys = sorted(k for k in arrays if k.startswith("weight_"))
    if len(keys) != len(model.weights):
        raise ValueError(f"The file {filepath!s} holds {len(keys)} weights but model "
                         f"{model.name!r} has {len(model.weights)}. Received: {filepath!s}")
    model.set_weights([arrays[k] for k in keys])


def save_weights(model, filepath):
    if not model.built:
        raise ValueError("The model must be built before its weights can be saved.")
    _atomic_savez(filepath, _weight_arrays(model))


def load_weights(model, filepath):
    _assign(model, _read_npz(filepath), filepath)


def save_model(model, filepath):
    if not model.built:
        raise ValueError("The model must be built before it can be saved.")
    meta = {"format": FORMAT, "class_name": type(model).__name__,
            "config": model.get_config(),
            "compile_config": getattr(model, "compile_config", None)}
    arrays = _weight_arrays(model)
    arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    _atomic_savez(filepath, arrays)


def load_model(filepath, compile=True):  # noqa: A002 - Keras's argument name
    from .sequential import Sequential
    arrays = _read_npz(filepath)
    if "__meta__" not in arrays:
        raise ValueError(f"{filepath!s} holds weights only (no architecture). Build the "
                         "model and call load_weights() instead.")
    meta = _read_meta(arrays, filepath)
    if meta.get("format") != FORMAT or meta.get("class_name") != "Sequential":
        raise ValueError(f"Unsupported model file {filepath!s}. Received: format="
                         f"{meta.get('format')!r}, class={meta.get('class_name')!r}")
    try:
        model = Sequential.from_config(meta["config"])
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"The model file {filepath!s} describes a model tensorlib cannot "
                         f"build ({type(e).__name__}: {e}). Received: {filepath!s}") from None
    _assign(model, arrays, filepath)
    cc = meta.get("compile_config")
    if compile and cc and cc.get("optimizer") and cc.get("loss"):
        model.compile(optimizer=cc["optimizer"], loss=cc["loss"], metrics=cc["metrics"])
    return model
