"""Figures for a benchmark report (matplotlib, Agg backend: no display needed).

- ``bars.png``: per task, grouped bars (one per algorithm) of the three metrics with 95% CIs;
- ``scatter.png``: normalized return vs normalized cost per task, the safe region left of 1;
- ``curves.png``: training curves from each run's ``metrics.jsonl``, averaged over seeds:
  the cost-learning loss (any logged ``*_loss`` other than the policy's) and the policy
  (BC) loss.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from safemil.bench.report import METRICS, Row, RunRecord
from safemil.plotting import pyplot, save_figure
from safemil.runs import RunDir

POLICY_LOSS_KEYS = ("bc_loss", "policy_loss", "actor_loss")
LABELS = {"normalized_return": "normalized return", "normalized_cost": "normalized cost",
          "cvar20_cost": "CVaR@20% cost"}


def _colors(algos: list[str]) -> dict[str, tuple]:
    cmap = pyplot().get_cmap("tab10")
    return {a: cmap(i % 10) for i, a in enumerate(algos)}


def _order(rows: list[Row]) -> tuple[list[str], list[str]]:
    return list(dict.fromkeys(r.task for r in rows)), list(dict.fromkeys(r.algo for r in rows))


def plot_bars(rows: list[Row], path: Path) -> Path:
    plt = pyplot()
    tasks, algos = _order(rows)
    colors = _colors(algos)
    fig, axes = plt.subplots(len(METRICS), 1, figsize=(max(8, 1.9 * len(tasks) + 2), 3.2 * len(METRICS)),
                             squeeze=False)
    width = 0.8 / max(1, len(algos))
    by = {(r.task, r.algo): r for r in rows}
    for ax, metric in zip(axes[:, 0], METRICS, strict=True):
        for j, a in enumerate(algos):
            xs, ys, err = [], [], [[], []]
            for i, t in enumerate(tasks):
                r = by.get((t, a))
                if r is None:
                    continue
                e = getattr(r, metric)
                xs.append(i + (j - (len(algos) - 1) / 2) * width)
                ys.append(e.mean)
                err[0].append(e.mean - e.lo)
                err[1].append(e.hi - e.mean)
            label = f"{a} (oracle)" if any(r.oracle for r in rows if r.algo == a) else a
            ax.bar(xs, ys, width, yerr=err, capsize=2, color=colors[a], label=label,
                   hatch="//" if "oracle" in label else None, edgecolor="black", linewidth=0.4)
        if metric != "normalized_return":
            ax.axhline(1.0, color="black", linestyle="--", linewidth=0.8)
        ax.set_xticks(range(len(tasks)), [t.replace("Velocity", "") for t in tasks])
        ax.set_ylabel(LABELS[metric])
    axes[0, 0].legend(ncol=min(len(algos), 6), fontsize=8, loc="upper center", bbox_to_anchor=(0.5, 1.25))
    fig.tight_layout()
    return save_figure(fig, path)


def plot_scatter(rows: list[Row], path: Path) -> Path:
    plt = pyplot()
    tasks, algos = _order(rows)
    colors = _colors(algos)
    cols = min(len(tasks), 3)
    nrows = int(np.ceil(len(tasks) / cols))
    fig, axes = plt.subplots(nrows, cols, figsize=(4.2 * cols, 3.6 * nrows), squeeze=False)
    for ax in axes.flat[len(tasks):]:
        ax.set_visible(False)
    for ax, t in zip(axes.flat, tasks, strict=False):
        for r in (r for r in rows if r.task == t):
            c, ret = r.normalized_cost, r.normalized_return
            ax.errorbar(c.mean, ret.mean, xerr=[[c.mean - c.lo], [c.hi - c.mean]],
                        yerr=[[ret.mean - ret.lo], [ret.hi - ret.mean]], fmt="s" if r.oracle else "o",
                        color=colors[r.algo], capsize=2, markersize=7 if r.best else 5,
                        markeredgecolor="black" if r.best else colors[r.algo],
                        label=f"{r.algo} (oracle)" if r.oracle else r.algo)
        ax.axvline(1.0, color="black", linestyle="--", linewidth=0.8)
        ax.set_title(t)
        ax.set_xlabel("normalized cost")
        ax.set_ylabel("normalized return")
    legend: dict[str, object] = {}
    for ax in axes.flat:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            legend.setdefault(lab, h)
    ncol = min(len(legend), 3 * cols)
    fig.legend(list(legend.values()), list(legend), loc="lower center", ncol=ncol, fontsize=8)
    rows_of_legend = int(np.ceil(len(legend) / max(1, ncol)))
    fig.tight_layout(rect=(0, 0.05 * rows_of_legend / nrows + 0.02, 1, 1))
    return save_figure(fig, path)


def loss_curves(records: list[RunRecord]) -> dict[tuple[str, str], dict[str, tuple[np.ndarray, np.ndarray]]]:
    """(task, algo) -> {metric key: (steps, mean over seeds)} for the cost and policy losses."""
    out: dict[tuple[str, str], dict[str, tuple[np.ndarray, np.ndarray]]] = {}
    groups: dict[tuple[str, str], list[list[dict]]] = {}
    for r in records:
        if Path(r.run_dir).is_dir():  # runs read from an earlier report's runs.csv have no curves
            groups.setdefault((r.task, r.algo), []).append(RunDir(r.run_dir, create=False).read_metrics())
    for key, runs in groups.items():
        curves: dict[str, dict[int, list[float]]] = {}
        for rows in runs:
            for row in rows:
                for k, v in row.items():
                    if k.endswith("_loss") and isinstance(v, (int, float)) and np.isfinite(v):
                        curves.setdefault(k, {}).setdefault(int(row["step"]), []).append(float(v))
        out[key] = {k: (np.array(sorted(c)), np.array([np.mean(c[s]) for s in sorted(c)]))
                    for k, c in curves.items()}
    return out


def plot_curves(records: list[RunRecord], path: Path) -> Path:
    plt = pyplot()
    curves = loss_curves(records)
    tasks = list(dict.fromkeys(task for task, _ in curves)) or [records[0].task]  # runs with curves only
    algos = list(dict.fromkeys(r.algo for r in records))
    colors = _colors(algos)
    fig, axes = plt.subplots(len(tasks), 2, figsize=(11, 2.8 * len(tasks)), squeeze=False)
    for i, t in enumerate(tasks):
        ax_c, ax_p = axes[i]
        for a in algos:
            for k, (steps, vals) in curves.get((t, a), {}).items():
                ax = ax_p if k in POLICY_LOSS_KEYS else ax_c
                ax.plot(steps, vals, color=colors[a], label=a if ax is ax_p else f"{a}: {k}",
                        linestyle="-" if ax is ax_p else ("-" if k == "bt_loss" else "--"),
                        marker="." if len(steps) < 5 else None)
        ax_c.set_title(f"{t}: cost-learning (and other) losses")
        ax_p.set_title(f"{t}: policy (BC) loss")
        for ax in (ax_c, ax_p):
            ax.set_xlabel("training step")
            if ax.lines:
                ax.legend(fontsize=7)
            else:
                ax.text(0.5, 0.5, "no such loss logged", ha="center", va="center", transform=ax.transAxes)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_all(rows: list[Row], records: list[RunRecord], out_dir: str | Path) -> list[Path]:
    out = Path(out_dir)
    return [plot_bars(rows, out / "bars.png"), plot_scatter(rows, out / "scatter.png"),
            plot_curves(records, out / "curves.png")]
