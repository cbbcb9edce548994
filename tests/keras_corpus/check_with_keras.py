"""Run every corpus script under real Keras 3 to check that the corpus is valid Keras code.

Not a test (the test suite must not need Keras): a maintenance tool. Each script is copied
to a temporary directory with its tensorlib imports turned back into Keras imports
(``import tensorlib as keras`` -> ``import keras``, ``from tensorlib import`` ->
``from keras import``, ``from tensorlib.x import`` -> ``from keras.x import``) and run
with the interpreter of a venv that has Keras 3 and a backend, by default
``/work/peers/bin/python`` with ``KERAS_BACKEND=torch``:

    python tests/keras_corpus/check_with_keras.py [--python PATH] [script.py ...]
"""
import argparse
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
IMPORTS = [(re.compile(r"^import tensorlib as keras$", re.M), "import keras"),
           (re.compile(r"^from tensorlib import ", re.M), "from keras import "),
           (re.compile(r"^from tensorlib\.", re.M), "from keras.")]


def to_keras(source):
    for pattern, replacement in IMPORTS:
        source = pattern.sub(replacement, source)
    leftover = [line for line in source.splitlines()
                if "tensorlib" in line and not line.lstrip().startswith("#")]
    if leftover:
        raise ValueError(f"unconverted tensorlib reference: {leftover[0]!r}")
    return source


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default="/work/peers/bin/python")
    parser.add_argument("--backend", default="torch")
    parser.add_argument("scripts", nargs="*")
    args = parser.parse_args()
    names = args.scripts or sorted(p.name for p in HERE.glob("*.py")
                                   if p.name not in ("corpus_data.py", pathlib.Path(__file__).name))
    env = dict(os.environ, KERAS_BACKEND=args.backend, PYTHONPATH=str(HERE))
    failures = 0
    for name in names:
        with tempfile.TemporaryDirectory() as tmp:
            script = pathlib.Path(tmp) / name
            script.write_text(to_keras((HERE / name).read_text()))
            start = time.perf_counter()
            proc = subprocess.run([args.python, str(script)], cwd=tmp, env=env,
                                  capture_output=True, text=True, timeout=600)
        took = time.perf_counter() - start
        status = "ok" if proc.returncode == 0 else "FAILED"
        failures += proc.returncode != 0
        print(f"{name:50s} {status:6s} {took:6.1f} s", flush=True)
        if proc.returncode:
            print("\n".join(proc.stderr.strip().splitlines()[-5:]))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
