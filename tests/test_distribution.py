"""Data-parallel fit / evaluate / predict over MPI (tensorlib.distribution).

The MPI cases run ``tests/mpi/*.py`` in subprocesses, alone and under ``mpiexec -n 2``,
each with a timeout, one kernel thread per process. They need mpi4py and an ``mpiexec``
(``pip install "tensorlib[mpi]"``; CI installs it with the test extra) and are skipped,
saying so, only when those are missing.
"""
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

import tensorlib as keras
from tensorlib import distribution

HERE = os.path.dirname(os.path.abspath(__file__))
MPI_DIR = os.path.join(HERE, "mpi")


def _mpiexec():
    local = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    return local if os.access(local, os.X_OK) else shutil.which("mpiexec")


MPIEXEC = _mpiexec()
needs_mpi = pytest.mark.skipif(
    importlib.util.find_spec("mpi4py") is None or MPIEXEC is None,
    reason='needs mpi4py and mpiexec: pip install "tensorlib[mpi]"')


def _env():
    env = {k: v for k, v in os.environ.items()
           if k not in distribution._LAUNCHER_VARS and not k.startswith("PMI_")}
    env["TENSORLIB_NUM_THREADS"] = "1"
    return env


def _run(script, *args, processes=1, timeout=240):
    cmd = [sys.executable, os.path.join(MPI_DIR, script), *args]
    if processes > 1:
        cmd = [MPIEXEC, "-n", str(processes)] + cmd
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=timeout)
    return proc, time.perf_counter() - start


def _results(out, rank):
    with open(os.path.join(out, f"rank{rank}.json")) as f:
        report = json.load(f)
    with np.load(os.path.join(out, f"rank{rank}.npz")) as z:
        return report, dict(z)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The training cases alone and on two processes: {"one": [rank 0], "two": [0, 1]}."""
    out = {}
    for key, processes in (("one", 1), ("two", 2)):
        d = str(tmp_path_factory.mktemp(f"dist_{key}"))
        proc, _ = _run("train_cases.py", d, processes=processes)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        out[key] = [_results(d, r) for r in range(processes)]
        out[key + "_dir"] = d
    return out


def _weights(arrays, case):
    return [arrays[k] for k in sorted((k for k in arrays if k.startswith(case + "/w")),
                                      key=lambda k: int(k.rsplit("w", 1)[1]))]


# Tolerances for a few steps (8) from the same weights: float32 gradients summed in
# another order (two halves of a batch, then their mean) differ in the last bits.
RTOL, ATOL = 1e-5, 2e-7


def _rel_norm(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def _check_history(runs, case, rtol):
    h1, h2 = runs["one"][0][0][case]["history"], runs["two"][0][0][case]["history"]
    assert sorted(h1) == sorted(h2)
    assert runs["one"][0][0][case]["epochs"] == runs["two"][0][0][case]["epochs"]
    assert runs["two"][1][0][case]["history"] == h2      # global logs on every process
    for key in h1:
        np.testing.assert_allclose(h2[key], h1[key], rtol=rtol, atol=ATOL, err_msg=key)


def _same_training(runs, case):
    a, b = _weights(runs["one"][0][1], case), _weights(runs["two"][0][1], case)
    assert len(a) == len(b) == 10
    for wa, wb in zip(a, b):
        np.testing.assert_allclose(wb, wa, rtol=RTOL, atol=ATOL)
    # both processes hold the same bits after every step
    for wb, w1 in zip(b, _weights(runs["two"][1][1], case)):
        np.testing.assert_array_equal(w1, wb)
    _check_history(runs, case, RTOL)


@needs_mpi
@pytest.mark.parametrize("optimizer", ["rmsprop", "adam"])
def test_two_processes_train_like_one(runs, optimizer):
    """50 steps of the seed convnet at global batch 64 on two processes, from process 0's
    initial weights (process 1 seeds differently: its own are not the ones used).

    Exact check: the weights are bit for bit those of one process that averages the mean
    gradients of each batch's two halves (train_cases.halves_reference), the arithmetic
    of two processes. Against one process at batch 64 (one sum of 64): the History values
    agree to 1e-5, and so do Adam's weights; RMSprop's weights do not, and need not: its
    step is about lr * g / sqrt(v), so last-bit differences of small gradient components
    grow over 50 steps to ~1e-3 (measured: the halves reference in ONE process differs
    from batch 64 by as much as two processes do)."""
    one, two = runs["one"][0][1], runs["two"][0][1]
    np.testing.assert_array_equal(two[f"{optimizer}/initial"], one[f"{optimizer}/initial"])
    trained = _weights(two, optimizer)
    assert not np.allclose(trained[0], one[f"{optimizer}/initial"])
    for rank in (0, 1):
        for w, ref in zip(_weights(runs["two"][rank][1], optimizer),
                          _weights(one, f"{optimizer}_halves")):
            np.testing.assert_array_equal(w, ref)
    _check_history(runs, optimizer, rtol=1e-5)
    if optimizer == "adam":
        for w, ref in zip(trained, _weights(one, optimizer)):
            assert _rel_norm(w, ref) < 1e-4


@needs_mpi
@pytest.mark.parametrize("n", [225, 129])
def test_short_last_batch_counts_every_sample_once(runs, n):
    _same_training(runs, f"uneven{n}")
    ev1 = runs["one"][0][0][f"uneven{n}"]["evaluate"]
    for rank in (0, 1):
        np.testing.assert_allclose(runs["two"][rank][0][f"uneven{n}"]["evaluate"], ev1,
                                   rtol=RTOL, atol=ATOL)


@needs_mpi
def test_validation_split(runs):
    _same_training(runs, "validation")
    assert "val_loss" in runs["two"][0][0]["validation"]["history"]


@needs_mpi
def test_callbacks_write_and_print_on_process_0_only(runs):
    d = runs["two_dir"]
    assert os.path.exists(os.path.join(d, "log_rank0.csv"))
    assert os.path.exists(os.path.join(d, "ckpt_rank0.npz"))
    assert not os.path.exists(os.path.join(d, "log_rank1.csv"))
    assert not os.path.exists(os.path.join(d, "ckpt_rank1.npz"))
    with open(os.path.join(d, "log_rank0.csv")) as f:
        rows = f.read().splitlines()
    with open(os.path.join(runs["one_dir"], "log_rank0.csv")) as f:
        assert len(rows) == len(f.read().splitlines()) == 3     # header + 2 epochs
    printed0 = runs["two"][0][0]["callbacks"]["printed"]
    assert "Epoch 1/5" in printed0 and "early stopping" in printed0
    assert runs["two"][1][0]["callbacks"]["printed"] == ""
    _same_training(runs, "callbacks")


@needs_mpi
def test_early_stopping_and_stop_training_agree_on_every_process(runs):
    one = runs["one"][0][0]["callbacks"]
    for rank in (0, 1):
        cb = runs["two"][rank][0]["callbacks"]
        assert cb["epochs_run"] == one["epochs_run"] == 2
        assert cb["batches"] == one["batches"] == 8
        # process 1 alone asks to stop at batch 1 of epoch 1: both stop there
        stop = runs["two"][rank][0]["stop"]
        assert stop == {"batches": 4 + 2, "epochs": [0, 1]}


@needs_mpi
def test_predict_returns_every_sample_in_order(runs):
    expected = runs["one"][0][1]["predict"]
    for rank in (0, 1):
        got = runs["two"][rank][1]["predict"]
        assert got.shape == expected.shape == (101, 10)
        np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL)


@needs_mpi
def test_a_failing_process_ends_the_job_with_its_error():
    proc, seconds = _run("faults.py", "raise", processes=2, timeout=120)
    assert proc.returncode != 0
    assert "process 1 of 2 failed with RuntimeError: bad batch on process 1 (on purpose)" \
        in proc.stderr, proc.stderr
    assert seconds < 60, seconds


@needs_mpi
def test_mismatched_models_are_refused_at_the_first_step():
    proc, _ = _run("faults.py", "mismatch", processes=2, timeout=120)
    assert proc.returncode != 0
    assert "failed with ValueError: fit(): process 1 does not match process 0 in its " \
        "model" in proc.stderr, proc.stderr


def test_launched_without_mpi4py_says_how_to_install():
    code = ("import sys; sys.modules['mpi4py'] = None\n"
            "import tensorlib.distribution as d\n"
            "d.initialize()\n")
    env = dict(_env(), PMI_SIZE="2", PMI_RANK="0")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode != 0
    assert 'pip install "tensorlib[mpi]"' in proc.stderr
    assert "PMI_SIZE=2" in proc.stderr


def test_single_process_is_a_no_op(rng):
    distribution.initialize()
    assert distribution.process_id() == 0 and distribution.num_processes() == 1
    assert distribution.list_devices() == ["cpu:0"]
    dp = distribution.DataParallel()
    with dp.scope():
        assert distribution.distribution() is dp and distribution.active() is None
    assert distribution.distribution() is None
    with pytest.raises(ValueError, match="Received: process_id=3"):
        distribution.initialize(process_id=3)
    with pytest.raises(ValueError, match="Received"):
        distribution.set_distribution("data_parallel")
    with pytest.raises(ValueError, match="Received"):
        distribution.DataParallel(devices=["cpu:0", "cpu:1"])
    # a fit under a single-process DataParallel is the plain fit
    x = rng.random((40, 3)).astype(np.float32)
    y = x @ np.ones((3, 1), np.float32)
    results = []
    for scope in (distribution.DataParallel().scope(), _null()):
        keras.manual_seed(1)
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        model.compile(optimizer="sgd", loss="mse")
        with scope:
            model.fit(x, y, batch_size=16, epochs=2, verbose=0)
        results.append(model.get_weights())
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


class _null:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


@pytest.mark.parametrize("total", [0, 1, 5, 64, 65, 101])
@pytest.mark.parametrize("size", [1, 2, 3, 8])
def test_parts_cover_a_batch_once_and_differ_by_at_most_one(total, size):
    parts = [distribution._part(total, r, size) for r in range(size)]
    assert parts[0][0] == 0 and parts[-1][1] == total
    assert all(a[1] == b[0] for a, b in zip(parts, parts[1:]))
    lengths = [hi - lo for lo, hi in parts]
    assert max(lengths) - min(lengths) <= 1
