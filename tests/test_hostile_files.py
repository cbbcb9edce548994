"""Hostile files for ``load_model`` and ``load_weights``.

Every case is loaded in a subprocess (so a crash is a test failure, not a dead test run)
with both functions. A case must end in a ValueError whose message names the file (or
FileNotFoundError / IsADirectoryError for paths that are not files, or a successful load
where the damage is in a part that function never reads), quickly and in little memory,
without running code from the file, and a failed ``load_weights`` must leave the model's
weights untouched. Zip bombs run one per subprocess so their memory use is measured alone.
"""
import bz2
import io
import json
import os
import pickle
import signal
import struct
import subprocess
import sys
import textwrap
import zipfile
import zlib

import numpy as np
import pytest

import tensorlib as tl
import tensorlib.layers.base as layers_base
from tensorlib import layers, models

FUNCS = ("load_model", "load_weights")
MAX_SECONDS = 2.0
MAX_RSS_GROWTH_MB = 100


# ----------------------------------------------------------------- zip and .npy crafting
def npy_bytes(array=None, header=None, data=b"", version=(1, 0)):
    """A .npy file: a real ``array``, or a hand-made ``header`` dict (or raw header text)
    followed by ``data``."""
    buf = io.BytesIO()
    if array is not None:
        np.lib.format.write_array(buf, array, allow_pickle=True)
        return buf.getvalue()
    text = header if isinstance(header, str) else repr(header)
    text = text.encode("latin1")
    size_fmt = "<H" if version == (1, 0) else "<I"
    pad = -(len(text) + 8 + struct.calcsize(size_fmt) + 1) % 64
    text += b" " * pad + b"\n"
    return (b"\x93NUMPY" + bytes(version) + struct.pack(size_fmt, len(text)) + text + data)


def header(shape, descr="<f4", fortran=False):
    return {"descr": descr, "fortran_order": fortran, "shape": tuple(shape)}


def write_zip(path, entries):
    """A zip written by hand, so that every field can lie. ``entries`` holds
    ``(name, data)`` pairs (stored, true sizes) or dicts with ``name`` and ``payload``
    (the bytes on disk) and optional ``method``, ``crc``, ``size`` (declared unpacked
    size), ``csize``, ``flags``, ``local_name``."""
    with open(path, "wb") as f:
        central = []
        for entry in entries:
            if not isinstance(entry, dict):
                entry = {"name": entry[0], "payload": entry[1]}
            payload = entry["payload"]
            name = entry["name"].encode()
            local = entry.get("local_name", entry["name"]).encode()
            fields = (entry.get("flags", 0), entry.get("method", 0), 0, 0x21,
                      entry.get("crc", zlib.crc32(payload)),
                      entry.get("csize", len(payload)), entry.get("size", len(payload)))
            offset = f.tell()
            f.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, *fields, len(local), 0))
            f.write(local)
            f.write(payload)
            central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, *fields,
                                       len(name), 0, 0, 0, 0, 0, offset) + name)
        start = f.tell()
        f.write(b"".join(central))
        f.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(central), len(central),
                            f.tell() - start, start, 0))
    return str(path)


_ZERO_CHUNK = 2**24


def _zero_segment():
    """Raw deflate blocks for 16 MiB of zeros, self-contained so copies can follow each
    other: a 1 GiB bomb is 64 copies, built without compressing 1 GiB."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(bytes(_ZERO_CHUNK)) + c.flush(zlib.Z_FULL_FLUSH)


def bomb_member(name, head, nbytes, declared_size=None):
    """A deflated member: ``head`` then ``nbytes`` zeros (a multiple of 16 MiB); the zip
    declares the true unpacked size unless ``declared_size`` says otherwise."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    start = c.compress(head) + c.flush(zlib.Z_SYNC_FLUSH)
    end = zlib.compressobj(9, zlib.DEFLATED, -15).flush()
    copies = nbytes // _ZERO_CHUNK
    crc, zeros = zlib.crc32(head), bytes(_ZERO_CHUNK)
    for _ in range(copies):
        crc = zlib.crc32(zeros, crc)
    payload = start + _zero_segment() * copies + end
    return {"name": name, "payload": payload, "method": 8, "crc": crc,
            "size": len(head) + nbytes if declared_size is None else declared_size}


class Payload:
    """Unpickling this creates the file ``marker``: proof that the loader ran pickle."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def pickled_array(shape, marker):
    array = np.empty(shape, dtype=object)
    for index in np.ndindex(shape):
        array[index] = Payload(marker)
    return npy_bytes(array)


# ----------------------------------------------------------------- the good model
def good_model():
    tl.manual_seed(3)
    layers_base._name_counts.clear()
    model = models.Sequential([
        layers.Input((6, 6, 1)),
        layers.Conv2D(2, 3, activation="relu"),
        layers.BatchNormalization(),
        layers.Flatten(),
        layers.Dense(3, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    return model


class Ctx:
    """What case builders get: the good file, its members, weights and record."""

    def __init__(self, directory):
        self.dir = directory
        self.good = str(directory / "good.npz")
        good_model().save(self.good)
        with zipfile.ZipFile(self.good) as z:
            self.members = [(i.filename, z.read(i)) for i in z.infolist()]
        self.bytes = open(self.good, "rb").read()
        with np.load(self.good) as f:
            self.weights = [f[f"weight_{i:04d}"] for i in range(8)]
            self.meta = json.loads(f["__meta__"].tobytes())
        self.marker = str(directory / "PWNED")

    def path(self, name, suffix=".npz"):
        return str(self.dir / f"{name}{suffix}")

    def replaced(self, name, **new):
        """The good archive with members replaced (bytes) or dropped (None)."""
        entries = [(n, new.pop(n, data)) for n, data in self.members]
        entries += list(new.items())
        return write_zip(self.path(name), [e for e in entries if e[1] is not None])

    def with_meta(self, name, meta=None, raw=None):
        text = raw if raw is not None else json.dumps(meta).encode()
        return self.replaced(name, **{"__meta__.npy": npy_bytes(np.frombuffer(text,
                                                                             np.uint8))})

    def with_layers(self, name, layer_list, **extra):
        meta = json.loads(json.dumps(self.meta))
        meta["config"]["layers"] = layer_list
        meta.update(extra)
        return self.with_meta(name, meta)

    def with_weight(self, name, index, data):
        return self.replaced(name, **{f"weight_{index:04d}.npy": data})


W0 = "weight_0000.npy"
KERNEL0 = (3, 3, 1, 2)
INPUT = {"class_name": "InputLayer", "config": {"shape": [6, 6, 1]}}

# Expected outcomes: V = ValueError naming the file, OK = loads the good weights.
V, OK, V_OR_OK = "ValueError", "ok", "ValueError-or-identical"
ONLY_MODEL = {"load_model": V, "load_weights": OK}    # damage in the record only
BOTH = {"load_model": V, "load_weights": V}
BOTH_OK = {"load_model": OK, "load_weights": OK}

CASES = {}


def case(name, expect=BOTH):
    def register(builder):
        CASES[name] = (builder, expect)
        return builder
    return register


def write_bytes(ctx, name, data, suffix=".npz"):
    path = ctx.path(name, suffix)
    with open(path, "wb") as f:
        f.write(data)
    return path


# ----- not model files at all
case("empty")(lambda c: write_bytes(c, "empty", b""))
case("text")(lambda c: write_bytes(c, "text", b"this is not a tensorlib model\n" * 10))
for _i, _n in enumerate((64, 5000, 200_000)):
    case(f"random_{_n}")(lambda c, i=_i, n=_n: write_bytes(
        c, f"random_{n}", np.random.default_rng(i).bytes(n)))
case("random_after_zip_magic")(lambda c: write_bytes(
    c, "random_after_zip_magic", b"PK\x03\x04" + np.random.default_rng(9).bytes(5000)))
case("garbage_central_directory")(lambda c: write_bytes(
    c, "garbage_central_directory", np.random.default_rng(5).bytes(3000)
    + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 40, 40, 2000, 100, 0)))
case("single_npy")(lambda c: write_bytes(c, "single_npy", npy_bytes(np.zeros(3)), ".npy"))
case("pickle_file")(lambda c: write_bytes(c, "pickle_file", pickle.dumps(Payload(c.marker))))
case("gzip_of_model")(lambda c: write_bytes(c, "gzip_of_model", zlib.compress(c.bytes)))
case("directory", {"load_model": "IsADirectoryError", "load_weights": "IsADirectoryError"})(
    lambda c: (os.mkdir(c.path("directory", "")), c.path("directory", ""))[1])
case("missing", {"load_model": "FileNotFoundError", "load_weights": "FileNotFoundError"})(
    lambda c: c.path("missing"))
case("fifo")(lambda c: (os.mkfifo(c.path("fifo")), c.path("fifo"))[1])
case("dev_zero")(lambda c: (os.symlink("/dev/zero", c.path("dev_zero")),
                            c.path("dev_zero"))[1])

# ----- a real model file cut short, or with one byte flipped
for _k in range(20):
    case(f"cut_{_k:02d}")(lambda c, k=_k: write_bytes(
        c, f"cut_{k:02d}", c.bytes[: 1 + k * (len(c.bytes) - 2) // 19]))


def _flipped(c, k):
    data = bytearray(c.bytes)
    data[(k * 7919 + 13) % len(data)] ^= 0x5A
    return write_bytes(c, f"flip_{k:02d}", bytes(data))


for _k in range(20):
    case(f"flip_{_k:02d}", {"load_model": V_OR_OK, "load_weights": V_OR_OK})(
        lambda c, k=_k: _flipped(c, k))

# ----- zip structure that lies
case("duplicate_member")(lambda c: write_zip(c.path("duplicate_member"),
                                             c.members + [c.members[0]]))


def lying_w0(case_name, expect=BOTH, /, **fields):
    """A case: the good archive with the zip fields of weight_0000 overridden; a callable
    field is computed from weight_0000's true bytes."""
    def build(c):
        entries = [{"name": n, "payload": d, **{k: v(d) if callable(v) else v
                                                for k, v in fields.items()}}
                   if n == W0 else (n, d) for n, d in c.members]
        return write_zip(c.path(case_name), entries)
    case(case_name, expect)(build)


lying_w0("encrypted_member", flags=1)
lying_w0("bzip2_member", payload=bz2.compress, method=12, crc=zlib.crc32, size=len)
lying_w0("bad_crc", crc=lambda d: zlib.crc32(d) ^ 1)
lying_w0("declared_size_small", size=10, csize=10)
lying_w0("declared_size_huge", size=2**31)
lying_w0("compressed_size_past_eof", {"load_model": V_OR_OK, "load_weights": V_OR_OK},
         csize=2**31)                              # harmless: the unpacked size is right
lying_w0("local_name_differs", local_name="weight_0009.npy")
lying_w0("weight_name_five_digits", name="weight_00000.npy")
case("names_without_npy_suffix", BOTH_OK)(lambda c: write_zip(
    c.path("names_without_npy_suffix"), [(n[:-4], d) for n, d in c.members]))
case("path_traversal_extra_member", BOTH_OK)(lambda c: c.replaced(
    "path_traversal_extra_member", **{"../../escape.npy": npy_bytes(np.zeros(3))}))
case("many_extra_members", BOTH_OK)(lambda c: write_zip(
    c.path("many_extra_members"), c.members + [(f"x{i}", b"") for i in range(20000)]))

# ----- .npy headers that lie
case("npy_version_3")(lambda c: c.with_weight("npy_version_3", 0, npy_bytes(
    header=header(KERNEL0), data=bytes(72), version=(3, 0))))
case("npy_version_2", BOTH_OK)(lambda c: c.with_weight("npy_version_2", 0, npy_bytes(
    header=header(KERNEL0), data=c.weights[0].tobytes(), version=(2, 0))))
case("npy_header_100k")(lambda c: c.with_weight("npy_header_100k", 0, npy_bytes(
    header=repr(header(KERNEL0)) + " " * 100_000, data=bytes(72), version=(2, 0))))
case("npy_header_code")(lambda c: c.with_weight("npy_header_code", 0, npy_bytes(
    header="{'descr': __import__('os').system('touch %s'), 'fortran_order': False, "
           "'shape': (3, 3, 1, 2)}" % c.marker, data=bytes(72))))
case("npy_header_not_a_dict")(lambda c: c.with_weight("npy_header_not_a_dict", 0, npy_bytes(
    header="[1, 2, 3]", data=bytes(72))))
case("npy_negative_shape")(lambda c: c.with_weight("npy_negative_shape", 0, npy_bytes(
    header=header((-3, 3, 1, 2)), data=bytes(72))))
case("npy_fortran_not_bool")(lambda c: c.with_weight("npy_fortran_not_bool", 0, npy_bytes(
    header={"descr": "<f4", "fortran_order": "yes", "shape": KERNEL0}, data=bytes(72))))
case("npy_shape_2_40")(lambda c: c.with_weight("npy_shape_2_40", 0, npy_bytes(
    header=header((2**40,)), data=bytes(16))))
case("npy_shape_2_62_squared")(lambda c: c.with_weight("npy_shape_2_62_squared", 0, npy_bytes(
    header=header((2**62, 2**62)), data=bytes(16))))
case("npy_short_data")(lambda c: c.with_weight("npy_short_data", 0, npy_bytes(
    header=header(KERNEL0), data=bytes(40))))
case("npy_long_data")(lambda c: c.with_weight("npy_long_data", 0, npy_bytes(
    header=header(KERNEL0), data=bytes(4000))))
case("npy_bad_magic")(lambda c: c.with_weight("npy_bad_magic", 0, b"\x93NUMPZ" + bytes(200)))
case("npy_descr_unknown")(lambda c: c.with_weight("npy_descr_unknown", 0, npy_bytes(
    header=header(KERNEL0, descr="<q9"), data=bytes(72))))
case("meta_shape_2_40", ONLY_MODEL)(lambda c: c.replaced("meta_shape_2_40", **{
    "__meta__.npy": npy_bytes(header=header((2**40,), "|u1"), data=bytes(16))}))
case("meta_negative_shape", ONLY_MODEL)(lambda c: c.replaced("meta_negative_shape", **{
    "__meta__.npy": npy_bytes(header=header((-5,), "|u1"), data=b"")}))
case("meta_float32", ONLY_MODEL)(lambda c: c.replaced("meta_float32", **{
    "__meta__.npy": npy_bytes(np.zeros(8, "f4"))}))
case("meta_2d", ONLY_MODEL)(lambda c: c.replaced("meta_2d", **{
    "__meta__.npy": npy_bytes(np.zeros((2, 8), "u1"))}))
case("meta_pickled", ONLY_MODEL)(lambda c: c.replaced("meta_pickled", **{
    "__meta__.npy": pickled_array((3,), c.marker)}))

# ----- weights of the wrong kind
for _dtype in ("complex64", "complex128", "datetime64[s]", "timedelta64[s]", "<U5", "S5",
               "V4", "int32", "bool", "longdouble"):
    case(f"dtype_{_dtype}")(lambda c, dt=_dtype: c.with_weight(
        f"dtype_{dt}", 0, npy_bytes(np.zeros(KERNEL0, dt))))
case("dtype_structured")(lambda c: c.with_weight("dtype_structured", 0, npy_bytes(
    np.zeros(KERNEL0, [("a", "<f4")]))))
case("dtype_object_pickle_payload")(lambda c: c.with_weight(
    "dtype_object_pickle_payload", 0, pickled_array(KERNEL0, c.marker)))
case("dtype_big_endian", BOTH_OK)(lambda c: c.with_weight(
    "dtype_big_endian", 0, npy_bytes(c.weights[0].astype(">f4"))))
case("shape_transposed")(lambda c: c.with_weight("shape_transposed", 0, npy_bytes(
    np.zeros((2, 1, 3, 3), "f4"))))
case("shape_scalar")(lambda c: c.with_weight("shape_scalar", 0, npy_bytes(np.float32(1))))
case("shape_extra_axis")(lambda c: c.with_weight("shape_extra_axis", 0, npy_bytes(
    np.zeros(KERNEL0 + (1,), "f4"))))
case("count_one_fewer")(lambda c: c.replaced("count_one_fewer", **{"weight_0007.npy": None}))
case("count_one_more")(lambda c: c.replaced("count_one_more", **{
    "weight_0008.npy": npy_bytes(np.zeros(3, "f4"))}))
case("count_none")(lambda c: c.replaced("count_none", **{
    f"weight_{i:04d}.npy": None for i in range(8)}))
case("weights_only", ONLY_MODEL)(lambda c: c.replaced("weights_only", **{"__meta__.npy": None}))
case("value_nan")(lambda c: c.with_weight("value_nan", 3, npy_bytes(
    np.array([1.0, np.nan], "f4"))))
case("value_inf_after_cast")(lambda c: c.with_weight("value_inf_after_cast", 3, npy_bytes(
    np.array([1.0, 1e300]))))

# ----- architecture records that are wrong
case("meta_not_utf8", ONLY_MODEL)(lambda c: c.with_meta("meta_not_utf8", raw=b"\xff\xfe{}"))
case("meta_bad_json", ONLY_MODEL)(lambda c: c.with_meta("meta_bad_json", raw=b'{"format": '))
case("meta_empty", ONLY_MODEL)(lambda c: c.with_meta("meta_empty", raw=b""))
case("meta_bom", ONLY_MODEL)(lambda c: c.with_meta(
    "meta_bom", raw=b"\xef\xbb\xbf" + json.dumps(c.meta).encode()))
case("meta_json_number", ONLY_MODEL)(lambda c: c.with_meta("meta_json_number", raw=b"3"))
case("meta_deep_100000", ONLY_MODEL)(lambda c: c.with_meta(
    "meta_deep_100000", raw=b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"))
case("meta_deep_900", ONLY_MODEL)(lambda c: c.with_meta(
    "meta_deep_900", raw=b'{"a": ' + b"{\"b\": " * 900 + b"1" + b"}" * 900 + b"}"))
case("meta_int_5000_digits", ONLY_MODEL)(lambda c: c.with_meta(
    "meta_int_5000_digits", raw=b'{"format": ' + b"7" * 5000 + b"}"))
case("meta_other_format", ONLY_MODEL)(lambda c: c.with_meta(
    "meta_other_format", {**c.meta, "format": "keras-v3"}))
case("meta_functional", ONLY_MODEL)(lambda c: c.with_meta(
    "meta_functional", {**c.meta, "class_name": "Functional"}))
case("layers_not_a_list", ONLY_MODEL)(lambda c: c.with_layers("layers_not_a_list",
                                                              {"0": INPUT}))
case("layer_entry_string", ONLY_MODEL)(lambda c: c.with_layers("layer_entry_string",
                                                               [INPUT, "Dense"]))
case("layer_unknown_class", ONLY_MODEL)(lambda c: c.with_layers("layer_unknown_class", [
    INPUT, {"class_name": "os.system", "config": {"command": "touch " + c.marker}}]))
case("layer_class_attribute", ONLY_MODEL)(lambda c: c.with_layers("layer_class_attribute", [
    INPUT, {"class_name": "__init__", "config": {}}]))
case("reshape_zero", ONLY_MODEL)(lambda c: c.with_layers("reshape_zero", [
    INPUT, {"class_name": "Reshape", "config": {"target_shape": [0, -1]}}]))
case("dilation_2_62", ONLY_MODEL)(lambda c: c.with_layers("dilation_2_62", [
    INPUT, {"class_name": "Conv2D", "config": {"filters": 2, "kernel_size": 3,
                                               "padding": "same",
                                               "dilation_rate": [2**62 - 1, 2**62 - 1]}}]))
case("dense_2_30_squared", ONLY_MODEL)(lambda c: c.with_layers("dense_2_30_squared", [
    {"class_name": "InputLayer", "config": {"shape": [2**30]}},
    {"class_name": "Dense", "config": {"units": 2**30}}]))
case("input_shape_negative", ONLY_MODEL)(lambda c: c.with_layers("input_shape_negative", [
    {"class_name": "InputLayer", "config": {"shape": [-6, 6, 1]}}]))
case("dropout_rate_nan", ONLY_MODEL)(lambda c: c.with_meta("dropout_rate_nan", raw=json.dumps(
    {**c.meta, "config": {"name": "m", "layers": [
        INPUT, {"class_name": "Dropout", "config": {"rate": "NaN"}}]}}).replace(
    '"NaN"', "NaN").encode()))
case("activation_unknown", ONLY_MODEL)(lambda c: c.with_layers("activation_unknown", [
    INPUT, {"class_name": "Activation", "config": {"activation": "os.system"}}]))
case("layer_dtype_object", ONLY_MODEL)(lambda c: c.with_layers("layer_dtype_object", [
    INPUT, {"class_name": "Dense", "config": {"units": 2, "dtype": "object"}}]))
case("duplicate_layer_names", ONLY_MODEL)(lambda c: c.with_layers("duplicate_layer_names", [
    INPUT, {"class_name": "Flatten", "config": {"name": "a"}},
    {"class_name": "Flatten", "config": {"name": "a"}}]))
case("compile_config_string", ONLY_MODEL)(lambda c: c.with_meta(
    "compile_config_string", {**c.meta, "compile_config": "adam"}))
case("compile_config_list", ONLY_MODEL)(lambda c: c.with_meta(
    "compile_config_list", {**c.meta, "compile_config": ["adam", "mse"]}))
case("compile_metrics_not_list", ONLY_MODEL)(lambda c: c.with_meta(
    "compile_metrics_not_list", {**c.meta, "compile_config": {
        "optimizer": "adam", "loss": "mse", "metrics": {"a": 1}}}))
case("compile_without_metrics", BOTH_OK)(lambda c: c.with_meta(
    "compile_without_metrics", {**c.meta, "compile_config": {
        "optimizer": "adam", "loss": "categorical_crossentropy"}}))

# ----- zip bombs, each in its own subprocess (1 GiB = 2**28 float32 zeros, ~1 MB packed)
GIB = 2**30
BOMBS = {
    "bomb_weight_header_1gib": (lambda c: bomb_member(
        W0, npy_bytes(header=header((2**28,))), GIB), BOTH),
    "bomb_weight_data_1gib": (lambda c: bomb_member(
        W0, npy_bytes(header=header(KERNEL0)), GIB), BOTH),
    "bomb_weight_declared_small_1gib": (lambda c: bomb_member(       # the zip lies
        W0, npy_bytes(header=header(KERNEL0)), GIB, declared_size=128 + 72), BOTH),
    "bomb_meta_1gib": (lambda c: bomb_member(
        "__meta__.npy", npy_bytes(header=header((GIB,), "|u1")), GIB), ONLY_MODEL),
    "bomb_extra_member_1gib": (lambda c: bomb_member(
        "extra.npy", npy_bytes(header=header((2**28,))), GIB), BOTH_OK),
}


def build_bomb(ctx, name):
    member = BOMBS[name][0](ctx)
    entries = [e for e in ctx.members if e[0] != member["name"]] + [member]
    return write_zip(ctx.path(name), entries)


# ----------------------------------------------------------------- the subprocess worker
WORKER = textwrap.dedent("""
    import json, resource, sys, time
    import numpy as np
    from tensorlib import models

    def peak_mb():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    good, cases = sys.argv[1], json.load(open(sys.argv[2]))
    template = models.load_model(good)
    good_weights = template.get_weights()
    same = lambda ws: len(ws) == len(good_weights) and all(
        a.dtype == b.dtype and np.array_equal(a, b) for a, b in zip(ws, good_weights))
    for name, path, func in cases:
        print(json.dumps({"start": [name, func]}), flush=True)
        peak, t0 = peak_mb(), time.perf_counter()
        try:
            loaded = models.load_model(path) if func == "load_model" \\
                else template.load_weights(path)
            exc, msg = None, ""
        except BaseException as e:
            loaded, exc, msg = None, type(e).__name__, str(e)
        record = {"name": name, "func": func, "exc": exc, "msg": msg[:3000],
                  "seconds": time.perf_counter() - t0, "rss_growth_mb": peak_mb() - peak}
        if func == "load_model":
            record["same_as_good"] = loaded is not None and same(loaded.get_weights())
        else:
            record["same_as_good"] = same(template.get_weights())
            template.set_weights(good_weights)
        print(json.dumps(record), flush=True)
""")


def run_worker(ctx, cases, timeout=120):
    """Load ``cases`` [(name, path, func)] in one subprocess; returns (records, crash)."""
    listing = ctx.path(f"cases-{os.getpid()}-{len(cases)}", ".json")
    with open(listing, "w") as f:
        json.dump(cases, f)
    proc = subprocess.run([sys.executable, "-c", WORKER, ctx.good, listing],
                          capture_output=True, text=True, timeout=timeout, cwd=ctx.dir)
    records, started = {}, None
    for line in proc.stdout.splitlines():
        item = json.loads(line)
        if "start" in item:
            started = tuple(item["start"])
        else:
            records[item["name"], item["func"]] = item
            started = None
    crash = None
    if proc.returncode != 0:
        how = f"signal {signal.Signals(-proc.returncode).name}" if proc.returncode < 0 \
            else f"exit status {proc.returncode}"
        crash = f"the worker died ({how}) while loading {started}: {proc.stderr[-3000:]}"
    return records, crash


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    return Ctx(tmp_path_factory.mktemp("hostile"))


@pytest.fixture(scope="module")
def batch(ctx):
    """Every non-bomb case, both functions, in one subprocess."""
    paths = {name: builder(ctx) for name, (builder, _) in CASES.items()}
    records, crash = run_worker(ctx, [(n, paths[n], f) for n in CASES for f in FUNCS])
    return paths, records, crash


def check_record(record, path, expect):
    assert record["seconds"] < MAX_SECONDS, record
    assert record["rss_growth_mb"] < MAX_RSS_GROWTH_MB, record
    assert record["exc"] != "MemoryError", record
    if expect == OK:
        assert record["exc"] is None and record["same_as_good"], record
        return
    if expect == V_OR_OK and record["exc"] is None:
        assert record["same_as_good"], f"a damaged file loaded different weights: {record}"
        return
    assert record["exc"] == (V if expect == V_OR_OK else expect), record
    assert path in record["msg"], f"the message does not name the file: {record['msg']}"
    if record["func"] == "load_weights":
        assert record["same_as_good"], f"a failed load_weights changed the model: {record}"


@pytest.mark.parametrize("func", FUNCS)
@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_file(batch, name, func):
    paths, records, crash = batch
    if (name, func) not in records:
        pytest.fail(crash or f"no result for {(name, func)}")
    check_record(records[name, func], paths[name], CASES[name][1][func])


def test_no_case_crashed_the_worker_or_ran_code(batch, ctx):
    _, records, crash = batch
    assert crash is None, crash
    assert len(records) == 2 * len(CASES)
    assert not os.path.exists(ctx.marker), "a hostile file ran code while loading"


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_zip_bomb_fails_fast_in_little_memory(ctx, name):
    path = build_bomb(ctx, name)
    assert os.path.getsize(path) < 4 * 2**20
    records, crash = run_worker(ctx, [(name, path, f) for f in FUNCS])
    assert crash is None, crash
    for func in FUNCS:
        check_record(records[name, func], path, BOMBS[name][1][func])
    os.unlink(path)


# ----------------------------------------------------------------- the crafting is sound
def test_the_bomb_construction_is_a_valid_zip_of_zeros(tmp_path):
    """A small bomb built the same way unpacks (CRC checked) to the header and zeros."""
    head = npy_bytes(header=header((2**23,)))
    path = write_zip(tmp_path / "b.npz", [bomb_member("a.npy", head, 2 * _ZERO_CHUNK)])
    with np.load(path) as f:
        a = f["a"]
    assert a.shape == (2**23,) and a.dtype == np.float32 and not a.any()


def test_the_pickle_payload_is_live(tmp_path):
    """Unpickling our payload really creates the marker, so its absence above means
    the loaders never unpickled anything."""
    marker = str(tmp_path / "marker")
    path = write_zip(tmp_path / "p.npz", [("a.npy", pickled_array((2,), marker))])
    with np.load(path, allow_pickle=True) as f:
        f["a"]
    assert os.path.exists(marker)


def test_hand_written_zip_of_good_members_loads(ctx, tmp_path):
    path = write_zip(tmp_path / "copy.npz", ctx.members)
    model = models.load_model(path)
    for a, b in zip(model.get_weights(), ctx.weights):
        np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------- in-process checks
@pytest.mark.parametrize("name", ["cut_10", "dtype_complex64", "value_nan", "count_one_more",
                                  "npy_shape_2_40", "duplicate_member", "bad_crc"])
def test_failed_load_weights_leaves_a_live_model_untouched(ctx, batch, name):
    paths = batch[0]
    model = good_model()
    before = model.get_weights()
    with pytest.raises(ValueError, match=name):
        model.load_weights(paths[name])
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------- huge config values
PREDICT_AFTER_LOAD = textwrap.dedent("""
    import sys
    import numpy as np
    from tensorlib import models
    try:
        model = models.load_model(sys.argv[1])
    except ValueError as e:
        print("load: ValueError:", e, flush=True)
        sys.exit(0)
    print("load: ok", flush=True)
    try:
        model.predict(np.zeros((1, 6, 6, 1), "float32"), verbose=0)
        print("predict: ok")
    except Exception as e:
        print("predict:", type(e).__name__, str(e)[:300])
""")


@pytest.mark.parametrize("dilation", [2**62 - 1, 2**31 - 1, 100_000])
def test_huge_dilation_rates_do_not_crash_load_or_predict(ctx, dilation):
    name = f"dilation_{dilation}"
    path = ctx.with_layers(name, [INPUT, {"class_name": "Conv2D", "config": {
        "filters": 2, "kernel_size": 3, "padding": "same",
        "dilation_rate": [dilation, dilation]}}])
    with zipfile.ZipFile(path) as z:      # a model without weights but the huge conv's
        members = [(n, z.read(n)) for n in z.namelist() if not n.startswith("weight_")]
    members += [("weight_0000.npy", npy_bytes(np.zeros(KERNEL0, "f4"))),
                ("weight_0001.npy", npy_bytes(np.zeros(2, "f4")))]
    write_zip(path, members)
    proc = subprocess.run([sys.executable, "-c", PREDICT_AFTER_LOAD, path],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"crashed ({proc.returncode}): {proc.stderr[-2000:]}"
    first = proc.stdout.splitlines()[0]
    if dilation > 2**31 - 1:
        assert first.startswith("load: ValueError") and path in first, proc.stdout
    else:
        assert first in ("load: ok",) or first.startswith("load: ValueError"), proc.stdout
