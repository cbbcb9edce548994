"""Real Keras 3 example scripts, run unchanged except for the import line.

Each file in ``tests/keras_corpus/`` is a Keras 3 script or notebook section from keras-io,
the Keras repository or the TensorFlow tutorials (its header gives the source, license and
the only changes made: imports, stand-in data, smaller sizes). ``manifest.json`` says for
each one either ``"runs"`` or ``"fails: <first error>"``. A script that runs must exit 0 in
a fresh interpreter; a script that fails is a strict xfail, so when tensorlib gains the
missing feature the test XPASSes, fails, and the manifest has to be updated.
"""
import json
import os
import pathlib
import subprocess
import sys

import pytest

CORPUS = pathlib.Path(__file__).resolve().parent / "keras_corpus"
MANIFEST = json.loads((CORPUS / "manifest.json").read_text())
NOT_SCRIPTS = {"corpus_data.py", "check_with_keras.py"}
TIMEOUT = 120


def _cases():
    for name, status in sorted(MANIFEST.items()):
        if status == "runs":
            yield pytest.param(name, id=name)
        else:
            reason = status.removeprefix("fails: ")
            yield pytest.param(name, id=name,
                               marks=pytest.mark.xfail(strict=True, reason=reason))


def test_manifest_lists_every_script():
    scripts = {p.name for p in CORPUS.glob("*.py")} - NOT_SCRIPTS
    assert scripts == set(MANIFEST)
    bad = {k: v for k, v in MANIFEST.items() if v != "runs" and not v.startswith("fails: ")}
    assert not bad, f"manifest values must be 'runs' or 'fails: <error>'; got {bad}"


@pytest.mark.parametrize("name", list(_cases()))
def test_corpus_script_runs(name, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(CORPUS), TENSORLIB_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, str(CORPUS / name)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=TIMEOUT)
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        pytest.fail(f"{name} exited with {proc.returncode}:\n{tail}", pytrace=False)
