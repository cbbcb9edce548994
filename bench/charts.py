"""Draw the PNG charts of bench/RESULTS.md from the raw JSON in bench/results/.

Reads only what the benchmarks wrote (nothing is measured here) and draws with
matplotlib's Agg backend (``pip install "tensorlib[bench]"``):

- ``gemm.png``: GFLOP/s per GEMM shape, native sgemm against NumPy/OpenBLAS, with the
  machine's FMA peak (1 and 2 threads);
- ``conv_layers.png``: per-layer forward/backward times of the seed convnet against the
  numpy backend and PyTorch;
- ``fit_epoch.png``: seconds per training epoch and the test accuracy after it, against
  PyTorch, Keras 3 and the careful-NumPy peer;
- ``scaling.png``: throughput with threads and with MPI processes.

    python bench/charts.py [--results bench/results] [--out bench]
"""
import argparse
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_conv import LAYERS  # noqa: E402

# The runs each chart reads (their commands are quoted in RESULTS.md).
GEMM_RUN = "gemm-epyc-2026-11-27.json"
CONV_RUN = "conv-b64-t2-2026-11-29-pool.json"
FIT_RUNS = {  # panel title -> (file, environment)
    "convnet, 2 threads": ("fit-convnet-t2-2026-11-29.json", "default"),
    "convnet, 1 thread": ("fit-convnet-t1-2026-11-29.json", "default"),
    "convnet, 2 threads (Keras run)": ("fit-convnet-t2-keras-2026-11-29.json", "default"),
    "MLP, 2 threads": ("fit-mlp-t2-2026-11-29.json", "default"),
}
DIST_RUN = "distributed-convnet-2026-11-29.json"
IMPL_LABELS = {"tensorlib": "tensorlib", "tensorlib-functional": "tensorlib functional",
               "torch-nchw": "PyTorch NCHW", "torch-cl": "PyTorch channels_last",
               "numpy": "careful NumPy", "keras": "Keras 3 (torch)"}
COLORS = {"tensorlib": "#1f77b4", "tensorlib-functional": "#aec7e8", "torch-nchw": "#ff7f0e",
          "torch-cl": "#d62728", "numpy": "#2ca02c", "keras": "#9467bd"}


def load(results, name):
    with open(os.path.join(results, name)) as f:
        return json.load(f)


def conv_medians(run):
    """{implementation: array (layers, 2)}: per layer, the median over rounds of each
    round's median forward and backward milliseconds (the figures of the RESULTS table)."""
    return {key.split(":", 1)[1]: np.median(np.asarray(rounds, dtype=float), axis=0)
            for key, rounds in run["raw"].items()}


def fit_summary(run, env):
    """{implementation: (median s, min s, max s, median accuracy)} of one environment."""
    out = {}
    for impl, rounds in run["results"][env].items():
        s = np.array([r["seconds"] for r in rounds])
        acc = np.array([r["accuracy"] for r in rounds])
        out[impl] = (float(np.median(s)), float(s.min()), float(s.max()), float(np.median(acc)))
    return out


def dist_summary(run):
    """{'PxT': (median images/s, min, max)}."""
    out = {}
    for config, rounds in run["results"].items():
        v = np.array([r["images_per_s"] for r in rounds])
        out[config] = (float(np.median(v)), float(v.min()), float(v.max()))
    return out


def chart_gemm(plt, run, path):
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8), sharey=True)
    for ax, (threads, rows) in zip(axes, sorted(run["threads"].items())):
        x = np.arange(len(rows))
        ax.bar(x - 0.2, [r["native"] for r in rows], 0.4, label="tensorlib sgemm")
        ax.bar(x + 0.2, [r["numpy"] for r in rows], 0.4, label="numpy.matmul (OpenBLAS)")
        peak = run["fma_peak_gflops_per_core"] * int(threads)
        ax.axhline(peak, color="k", ls="--", lw=1, label=f"FMA peak {peak:.0f} GFLOP/s")
        ax.set_xticks(x, [f"{r['shape']}\n{r['M']}x{r['K']}x{r['N']} {r['op']}" for r in rows],
                      rotation=60, ha="right", fontsize=7)
        ax.set_title(f"{threads} thread{'s' if threads != '1' else ''}")
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("GFLOP/s (median of 7)")
    axes[0].legend(fontsize=8, loc="upper left")
    fig.suptitle(f"GEMM, float32: {run['cpu']}, {run['date']}", fontsize=10)
    _save(plt, fig, path)


def chart_conv(plt, run, path):
    med = conv_medians(run)
    impls = [w for w in ("native", "numpy", "torch") if w in med]
    labels = {"native": "tensorlib (native)", "numpy": "tensorlib numpy backend",
              "torch": "PyTorch channels_last"}
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.6), sharey=True)
    x = np.arange(len(LAYERS))
    width = 0.8 / len(impls)
    for ax, (k, label) in zip(axes, ((0, "forward"), (1, "backward"))):
        for i, who in enumerate(impls):
            ax.bar(x + (i - (len(impls) - 1) / 2) * width, med[who][:, k], width,
                   label=labels[who])
        ax.set_xticks(x, [layer[0] for layer in LAYERS], rotation=20, ha="right", fontsize=8)
        ax.set_yscale("log")
        ax.set_title(label)
        ax.grid(axis="y", alpha=0.3, which="both")
    axes[0].set_ylabel("ms per call, batch 64 (median of 5 rounds, log scale)")
    axes[0].legend(fontsize=8)
    fig.suptitle(f"Seed convnet layers, 2 threads: {run['cpu']}, {run['date'][:10]}",
                 fontsize=10)
    _save(plt, fig, path)


def chart_fit(plt, runs, path):
    fig, axes = plt.subplots(2, len(runs), figsize=(4 * len(runs), 7),
                             gridspec_kw={"height_ratios": [3, 2]})
    for col, (title, summary) in enumerate(runs.items()):
        impls = list(summary)
        x = np.arange(len(impls))
        med = np.array([summary[i][0] for i in impls])
        err = np.array([[med[j] - summary[i][1], summary[i][2] - med[j]]
                        for j, i in enumerate(impls)]).T
        colors = [COLORS[i] for i in impls]
        ax = axes[0, col]
        ax.bar(x, med, color=colors, yerr=err, capsize=3)
        ax.set_title(title, fontsize=10)
        ax.set_xticks(x, [])
        ax.grid(axis="y", alpha=0.3)
        ax = axes[1, col]
        ax.bar(x, [summary[i][3] for i in impls], color=colors)
        ax.set_ylim(0.7, 0.9)
        ax.set_xticks(x, [IMPL_LABELS[i] for i in impls], rotation=30, ha="right", fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    axes[0, 0].set_ylabel("seconds per epoch (median, min-max)")
    axes[1, 0].set_ylabel("test accuracy after the epoch")
    fig.suptitle("One epoch of Fashion-MNIST (60k images, batch 64, RMSprop), default env",
                 fontsize=10)
    _save(plt, fig, path)


def chart_scaling(plt, dist, fit_t1, fit_t2, path):
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4.2))
    configs = list(dist)
    med = np.array([dist[c][0] for c in configs])
    err = np.array([[med[j] - dist[c][1], dist[c][2] - med[j]]
                    for j, c in enumerate(configs)]).T
    ax0.bar(configs, med, yerr=err, capsize=3, color="#1f77b4")
    ax0.axhline(2 * dist["1x1"][0], color="k", ls="--", lw=1, label="2x the 1x1 throughput")
    ax0.set_xlabel("MPI processes x threads each")
    ax0.set_ylabel("images/s (median, min-max of 5 rounds)")
    ax0.set_title("Data-parallel fit over MPI (global batch 64)", fontsize=10)
    ax0.legend(fontsize=8)
    ax0.grid(axis="y", alpha=0.3)
    impls = [i for i in fit_t1 if i in fit_t2]
    x = np.arange(len(impls))
    speedup = [fit_t1[i][0] / fit_t2[i][0] for i in impls]
    ax1.bar(x, speedup, color=[COLORS[i] for i in impls])
    ax1.axhline(2, color="k", ls="--", lw=1, label="ideal (2x)")
    ax1.set_xticks(x, [IMPL_LABELS[i] for i in impls], fontsize=8)
    ax1.set_ylabel("epoch time at 1 thread / at 2 threads")
    ax1.set_title("Threads: convnet epoch, 1 thread / 2 threads (medians of two runs)",
                  fontsize=10)
    ax1.legend(fontsize=8)
    ax1.grid(axis="y", alpha=0.3)
    _save(plt, fig, path)


def _save(plt, fig, path):
    fig.tight_layout()
    fig.savefig(path, dpi=90, metadata={"Software": None})
    plt.close(fig)
    print(f"wrote {os.path.relpath(path)}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--results", default=os.path.join(HERE, "results"))
    p.add_argument("--out", default=HERE)
    a = p.parse_args(argv)
    os.makedirs(a.out, exist_ok=True)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    chart_gemm(plt, load(a.results, GEMM_RUN), os.path.join(a.out, "gemm.png"))
    chart_conv(plt, load(a.results, CONV_RUN), os.path.join(a.out, "conv_layers.png"))
    fits = {title: fit_summary(load(a.results, f), env) for title, (f, env) in FIT_RUNS.items()}
    chart_fit(plt, fits, os.path.join(a.out, "fit_epoch.png"))
    chart_scaling(plt, dist_summary(load(a.results, DIST_RUN)), fits["convnet, 1 thread"],
                  fits["convnet, 2 threads"], os.path.join(a.out, "scaling.png"))


if __name__ == "__main__":
    main()
