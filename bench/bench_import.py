"""Import time of ``tensorlib`` beside ``import numpy``, in fresh processes.

Each round starts one fresh interpreter per statement (``import numpy``, ``import
tensorlib``, alternating, so both see the same machine load) and times the import inside
it with ``time.perf_counter`` (interpreter start-up excluded). ``import tensorlib``
includes NumPy's import, which it needs; the table shows the medians over ``--runs``
rounds, the tensorlib-only share (the per-round difference) and the load average before
and after. ``--python`` times another interpreter, e.g. a venv with the installed wheel
(run from a directory where ``tensorlib`` is not importable from the source tree).

    python bench/bench_import.py --runs 10 --python /tmp/wheel-venv/bin/python
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

STATEMENTS = {"numpy": "import numpy", "tensorlib": "import tensorlib"}
CHILD = ("import time; t = time.perf_counter(); {stmt}; t = time.perf_counter() - t; "
         "import {mod}; print(t, {mod}.__file__)")
TARGET_S = 0.25    # issue 12: import tensorlib under 0.25 s (median)


def time_import(python, mod, cwd):
    """Seconds one fresh ``python`` takes to run ``import mod``, and the module's file."""
    code = CHILD.format(stmt=STATEMENTS[mod], mod=mod)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, cwd=cwd,
                         env=env, timeout=120)
    if out.returncode != 0:
        raise SystemExit(f"{python} -c {code!r} failed:\n{out.stderr[-2000:]}")
    seconds, path = out.stdout.split(maxsplit=1)
    return float(seconds), path.strip()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--json", action="store_true", help="print the raw figures as JSON")
    args = parser.parse_args()
    load_before = os.getloadavg()
    times = {mod: [] for mod in STATEMENTS}
    files = {}
    with tempfile.TemporaryDirectory() as cwd:     # no source tree on sys.path[0]
        for _ in range(args.runs):
            for mod in STATEMENTS:
                t, files[mod] = time_import(args.python, mod, cwd)
                times[mod].append(t)
    load_after = os.getloadavg()
    own = [t - n for t, n in zip(times["tensorlib"], times["numpy"])]
    result = {
        "python": args.python, "runs": args.runs, "files": files,
        "median_s": {mod: statistics.median(v) for mod, v in times.items()},
        "median_tensorlib_minus_numpy_s": statistics.median(own),
        "raw_s": times, "loadavg_before": load_before, "loadavg_after": load_after,
    }
    if args.json:
        print(json.dumps(result, indent=1))
        return
    print(f"{args.python} ({args.runs} fresh processes per import, medians)")
    for mod in STATEMENTS:
        print(f"  import {mod:<10} {result['median_s'][mod] * 1e3:7.1f} ms   "
              f"(min {min(times[mod]) * 1e3:.1f}, max {max(times[mod]) * 1e3:.1f})  "
              f"{files[mod]}")
    print(f"  tensorlib beyond numpy {statistics.median(own) * 1e3:5.1f} ms")
    verdict = "met" if result["median_s"]["tensorlib"] < TARGET_S else "NOT met"
    print(f"  target import tensorlib < {TARGET_S * 1e3:.0f} ms: {verdict}")
    print("  load average (1, 5, 15 min): before "
          + ", ".join(f"{v:.2f}" for v in load_before) + "; after "
          + ", ".join(f"{v:.2f}" for v in load_after))


if __name__ == "__main__":
    main()
