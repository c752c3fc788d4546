"""Evaluator-side checks of a learned cost: does it rank truly costly steps and trajectories higher?

These read hidden labels through `Split.labelled`, so only the runner calls
them, after training; learning code never does. AUROC itself comes from
`safemil.costs.diagnostics`.
"""

from __future__ import annotations

import numpy as np
import torch

from safemil.costs.base import CostModel
from safemil.costs.diagnostics import auroc, step_and_trajectory_auroc
from safemil.data.splits import Split
from safemil.networks import SCORE_CHUNK_ROWS, row_passes


@torch.no_grad()
def score_rows(cost: CostModel, obs: np.ndarray, act: np.ndarray, batch: int = SCORE_CHUNK_ROWS) -> np.ndarray:
    """A cost model's per-step cost of every row, in the passes `map_rows` makes, into one array."""
    out = np.empty(len(obs), dtype=np.float32)
    for i, j in row_passes(len(obs), batch):
        o = torch.as_tensor(obs[i:j], dtype=torch.float32)
        a = torch.as_tensor(act[i:j], dtype=torch.float32)
        out[i:j] = cost.cost(o, a).float().numpy()
    return out


def cost_diagnostics(cost: CostModel, split: Split) -> dict:
    """Per-step and per-trajectory AUROC of the learned cost against the hidden true cost, on D_U.

    D_U is the set the policy is weighted on, so that is where the ranking
    matters. D_N is left out of the headline numbers: it is all-unsafe by
    construction (its trajectories are trivially "risky"), which inflates the
    per-trajectory AUROC, and its steps shift the per-step one; the pooled
    per-step value is kept as ``cost_auroc_step_with_dn`` for comparison.
    The two headline numbers are `learned_cost_auroc`'s, on every row (a rank
    AUROC over half a million rows is one sort): per step, label = true step
    cost > 0; per trajectory, score = mean learned cost, label = true
    trajectory cost > the split's cost limit. ``cost_auroc_step_ceiling_traj``
    is the per-step AUROC of a score that knows each step's *true trajectory
    cost* and nothing else: what a cost that tells risky trajectories (gaits)
    apart, but not risky steps within them, reaches.
    """
    neg, unl = split.labelled("negative"), split.labelled("unlabeled")
    scores = score_rows(cost, unl.learner.observations, unl.learner.actions)
    limit = split.config.cost_limit
    step, traj = step_and_trajectory_auroc(scores, unl, limit)
    costly = unl.costs > 0
    traj_true = unl.trajectory_costs()
    neg_scores = score_rows(cost, neg.learner.observations, neg.learner.actions)
    return {
        "cost_auroc_step": step,
        "cost_auroc_traj": traj,
        "cost_auroc_step_with_dn": auroc(np.r_[scores, neg_scores], np.r_[costly, neg.costs > 0]),
        "cost_auroc_step_ceiling_traj": auroc(np.repeat(traj_true, unl.learner.index.lengths), costly),
        "cost_mean_on_costly_steps": float(scores[costly].mean()) if costly.any() else float("nan"),
        "cost_mean_on_free_steps": float(scores[~costly].mean()) if (~costly).any() else float("nan"),
        "cost_pearson_traj": _pearson(unl.learner.index.segment_means(scores), traj_true),
    }


def clone_diagnostics(shares: np.ndarray, split: Split) -> dict:
    """What a policy that draws D_U trajectory τ with probability ``shares[τ]`` clones: the share
    of its draws from trajectories within the cost limit, the draw-weighted mean of their true
    episode costs, and the Kish effective number of trajectories as a share of D_U. A clone far
    costlier than ``clone_true_cost`` failed to reproduce what it was given; one close to it was
    given the wrong trajectories."""
    true = split.labelled("unlabeled").trajectory_costs()
    if len(shares) != len(true):
        raise ValueError(f"{len(shares)} draw shares for {len(true)} D_U trajectories")
    p = np.asarray(shares, dtype=np.float64) / np.sum(shares)
    return {
        "clone_share_safe": float(p[true <= split.config.cost_limit].sum()),
        "clone_true_cost": float(p @ true),
        "clone_ess_share": float(1.0 / np.sum(p**2) / len(p)),
    }


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    if len(x) < 2 or np.std(x) == 0 or np.std(y) == 0:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1])
