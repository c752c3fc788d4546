"""What a dataset looks like: counts, return/cost quantiles, share under cost limits, a plot."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from safemil.data.dataset import Dataset
from safemil.errors import TaskError
from safemil.tasks import DEFAULT_COST_LIMIT, get_task

QUANTILES = (0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0)
DEFAULT_LIMITS = (10.0, 20.0, 25.0, 40.0, 75.0, 80.0)


def frontier(ds: Dataset, cost_limit: float = DEFAULT_COST_LIMIT) -> dict:
    """How much of the cost-return frontier near the limit the data covers (what a comparison of
    safe methods depends on): the safe share, the share just under the limit (0 < cost <= limit),
    the share far over it (>= 3x), and the safe trajectories' normalized return (mean, 90th
    percentile; when the task has DSRL constants)."""
    ret, cost = ds.trajectory_returns(), ds.trajectory_costs()
    safe = cost <= cost_limit
    out = {"cost_limit": cost_limit, "frac_safe": float(safe.mean()),
           "frac_just_under_limit": float(((cost > 0) & safe).mean()),
           "frac_cost_ge_3x_limit": float((cost >= 3 * cost_limit).mean())}
    try:
        ref = get_task(ds.task).reference if ds.task else None
    except TaskError:
        ref = None
    if ref is not None and safe.any():
        norm = np.asarray(ref.normalize_return(ret[safe]))
        out.update(safe_norm_return_mean=float(norm.mean()), safe_norm_return_p90=float(np.quantile(norm, 0.9)))
    return out


def dataset_info(ds: Dataset, limits: tuple[float, ...] = DEFAULT_LIMITS,
                 cost_limit: float = DEFAULT_COST_LIMIT) -> dict:
    idx = ds.index
    ret = ds.trajectory_returns()
    cost = ds.trajectory_costs()
    q = {f"q{int(p * 100):02d}": p for p in QUANTILES}
    return {
        "task": ds.task,
        "n_transitions": len(ds),
        "n_trajectories": len(idx),
        "obs_dim": ds.obs_dim,
        "act_dim": ds.act_dim,
        "length": {"min": int(idx.lengths.min()), "mean": float(idx.lengths.mean()), "max": int(idx.lengths.max())},
        "n_terminals": int(ds.terminals.sum()),
        "return": {"mean": float(ret.mean()), **{k: float(np.quantile(ret, p)) for k, p in q.items()}},
        "cost": {"mean": float(cost.mean()), **{k: float(np.quantile(cost, p)) for k, p in q.items()}},
        "frac_cost_le": {f"{lim:g}": float((cost <= lim).mean()) for lim in limits},
        "frac_cost_ge": {f"{lim:g}": float((cost >= lim).mean()) for lim in limits},
        "frontier": frontier(ds, cost_limit),
    }


def plot_dataset(ds: Dataset, out: str | Path, cost_limit: float | None = DEFAULT_COST_LIMIT) -> Path:
    """Return-vs-cost scatter (one dot per trajectory) and a cost histogram."""
    from safemil.plotting import pyplot, save_figure

    plt = pyplot()
    ret, cost = ds.trajectory_returns(), ds.trajectory_costs()
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    a.scatter(cost, ret, s=6, alpha=0.6)
    a.set_xlabel("trajectory cost")
    a.set_ylabel("trajectory return")
    b.hist(cost, bins=50)
    b.set_xlabel("trajectory cost")
    b.set_ylabel("trajectories")
    if cost_limit is not None:
        for ax in (a, b):
            ax.axvline(cost_limit, color="red", ls="--", lw=1, label=f"limit {cost_limit:g}")
        a.legend()
    fig.suptitle(f"{ds.task or 'dataset'}: {len(ret)} trajectories")
    fig.tight_layout()
    return save_figure(fig, out)
