"""Evaluator-side checks of a learned cost: does it rank truly costly steps and trajectories higher?

These read hidden labels through `Split.labelled`, so only the runner calls
them, after training; learning code never does. AUROC itself comes from
`safemil.costs.diagnostics`.
"""

from __future__ import annotations

import numpy as np
import torch

from safemil.costs.base import CostModel
from safemil.costs.diagnostics import auroc
from safemil.data.splits import Split


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
