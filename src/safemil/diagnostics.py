"""Evaluator-side checks of a learned cost: does it rank truly costly steps and trajectories higher?

These read hidden labels through `Split.labelled`, so only the runner calls
them, after training; learning code never does. AUROC is computed from ranks
(Mann-Whitney U, ties averaged), so it is exact and O(n log n).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from safemil.costs.base import CostModel
from safemil.data.splits import Split

COLLAPSE_LOSS = math.log(2.0)


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Probability that a random positive scores above a random negative; NaN if a class is empty."""
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels).astype(bool)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    s = scores[order]
    ranks = np.empty(len(s))
    # average ranks over ties
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    ends = np.r_[starts[1:], len(s)]
    avg = (starts + ends + 1) / 2.0
    ranks[order] = np.repeat(avg, ends - starts)
    u = ranks[labels].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


@torch.no_grad()
def score_rows(cost: CostModel, obs: np.ndarray, act: np.ndarray, batch: int = 65_536) -> np.ndarray:
    out = []
    for i in range(0, len(obs), batch):
        o = torch.as_tensor(obs[i : i + batch], dtype=torch.float32)
        a = torch.as_tensor(act[i : i + batch], dtype=torch.float32)
        out.append(cost.cost(o, a).float().numpy())
    return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)


def cost_diagnostics(cost: CostModel, split: Split, max_rows: int = 200_000, seed: int = 0) -> dict:
    """Per-step and per-trajectory AUROC of the learned cost against the hidden true cost.

    Scored on D_N and D_U together. Per step: label = true step cost > 0 (rows
    subsampled to ``max_rows``). Per trajectory: score = mean learned cost,
    label = true trajectory cost > the split's cost limit.
    """
    parts = [split.labelled("negative"), split.labelled("unlabeled")]
    obs = np.concatenate([p.learner.observations for p in parts])
    act = np.concatenate([p.learner.actions for p in parts])
    step_cost = np.concatenate([p.costs for p in parts])
    scores = score_rows(cost, obs, act)
    traj_true = np.concatenate([p.trajectory_costs() for p in parts])
    lengths = np.concatenate([p.learner.index.lengths for p in parts])
    sums = np.add.reduceat(scores.astype(np.float64), np.r_[0, np.cumsum(lengths)[:-1]])
    traj_score = sums / lengths
    rng = np.random.default_rng(seed)
    sub = rng.choice(len(scores), size=min(max_rows, len(scores)), replace=False)
    limit = split.config.cost_limit
    return {
        "cost_auroc_step": auroc(scores[sub], step_cost[sub] > 0),
        "cost_auroc_traj": auroc(traj_score, traj_true > limit),
        "cost_mean_on_costly_steps": float(scores[step_cost > 0].mean()) if (step_cost > 0).any() else float("nan"),
        "cost_mean_on_free_steps": float(scores[step_cost <= 0].mean()) if (step_cost <= 0).any() else float("nan"),
        "cost_pearson_traj": _pearson(traj_score, traj_true),
    }


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    if len(x) < 2 or np.std(x) == 0 or np.std(y) == 0:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1])


def collapse_warning(bt_losses: list[float], tol: float = 0.01) -> str | None:
    """A warning if the Bradley-Terry loss has stayed within ``tol`` of log 2 (bags scored equal)."""
    if len(bt_losses) < 3:
        return None
    tail = np.asarray(bt_losses[-max(3, len(bt_losses) // 5):])
    if np.all(np.abs(tail - COLLAPSE_LOSS) < tol):
        return (
            f"cost collapse: BT loss stuck at {tail.mean():.4f} ~ log 2 over the last {len(tail)} logs; "
            "the learned cost does not separate D_N from D_U (try a larger bag size or lr)"
        )
    return None
