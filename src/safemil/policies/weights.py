"""Turn learned costs into behaviour-cloning weights, and measure how concentrated they are.

Soft weights ``exp(-C / beta)`` divided by their batch mean keep the loss on
the same scale whatever the cost level; the hard variant keeps only samples
whose cost is under a threshold. The effective sample size says how many
samples the weighted loss really learns from (a collapse to a few segments
shows up here before it shows up in the policy).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from safemil.data.dataset import TrajectoryIndex
from safemil.errors import ConfigError

WEIGHTINGS = ("none", "soft", "hard")
LEVELS = ("segment", "trajectory", "pair")


@dataclass
class WeightConfig:
    kind: str = "soft"  # none | soft | hard
    level: str = "segment"  # segment: per sampled segment; trajectory: per whole trajectory; pair: per (s, a)
    beta: float = 0.6  # soft: temperature (smaller penalises cost more)
    threshold: float = 1.0  # hard: keep samples with learned cost <= threshold
    gamma: float = 0.99  # discount of the segment cost sum
    sampling: str = "reweight"  # reweight a uniform batch; or (trajectory level) "resample": draw segments by weight

    def __post_init__(self):
        if self.kind not in WEIGHTINGS:
            raise ConfigError(f"unknown weighting {self.kind!r}; choose one of {', '.join(WEIGHTINGS)}")
        if self.level not in LEVELS:
            raise ConfigError(f"unknown weight level {self.level!r}; choose one of {', '.join(LEVELS)}")
        if self.beta <= 0:
            raise ConfigError(f"beta must be > 0, got {self.beta}")
        if self.sampling not in ("reweight", "resample"):
            raise ConfigError(f"unknown weight sampling {self.sampling!r}; choose reweight or resample")
        if self.sampling == "resample" and (self.level != "trajectory" or self.kind == "none"):
            raise ConfigError(f"weights.sampling=resample draws whole trajectories by weight: it needs "
                              f"weights.level=trajectory and kind soft or hard (got level={self.level}, "
                              f"kind={self.kind}); set weights.sampling=reweight for the others")
        if not 0 < self.gamma <= 1:
            raise ConfigError(f"gamma must be in (0, 1], got {self.gamma}")


def soft_weights(costs: torch.Tensor, beta: float, mask: torch.Tensor | None = None) -> torch.Tensor:
    """``exp(-C / beta)`` divided by its mean over the (masked) batch; computed stably in log space."""
    logits = -costs / beta
    if mask is not None:
        logits = logits.masked_fill(~mask, float("-inf"))
    w = torch.softmax(logits.reshape(-1), dim=0).reshape(costs.shape)
    n = mask.sum() if mask is not None else torch.tensor(costs.numel())
    return w * n.to(w.dtype)


def hard_weights(costs: torch.Tensor, threshold: float, mask: torch.Tensor | None = None) -> torch.Tensor:
    """1 where ``C <= threshold`` (and unmasked), renormalised to mean 1; all zero if nothing passes."""
    keep = costs <= threshold
    if mask is not None:
        keep = keep & mask
    k = keep.sum()
    n = mask.sum() if mask is not None else torch.tensor(costs.numel())
    if k == 0:
        return torch.zeros_like(costs)
    return keep.to(costs.dtype) * (n.to(costs.dtype) / k)


def effective_sample_size(weights: torch.Tensor, mask: torch.Tensor | None = None) -> float:
    """Kish ESS as a fraction of the batch: (sum w)^2 / (n * sum w^2), in (0, 1]; 1 = uniform."""
    w = weights[mask] if mask is not None else weights.reshape(-1)
    s2 = float((w * w).sum())
    if s2 == 0 or w.numel() == 0:
        return 0.0
    return float(w.sum()) ** 2 / (w.numel() * s2)


def discounted_segment_sums(per_step: torch.Tensor, mask: torch.Tensor, gamma: float) -> torch.Tensor:
    """``sum_t gamma^t c_t`` over the real (unmasked) steps of each (..., H) segment."""
    h = per_step.shape[-1]
    disc = gamma ** torch.arange(h, dtype=per_step.dtype)
    return (per_step * mask.to(per_step.dtype) * disc).sum(-1)


def trajectory_segment_costs(per_row: np.ndarray, index: TrajectoryIndex, gamma: float,
                             horizon: int) -> np.ndarray:
    """Each trajectory's learned cost rate on the scale of one discounted length-``horizon`` segment.

    ``mean_t c_t * sum_{t<horizon} gamma^t``: every step counts the same, so a trajectory
    that starts slowly and speeds up is judged by all of it (a discounted sum from its
    start would only see the first ~1/(1-gamma) steps), and ``beta`` keeps the meaning it
    has for segment-level weights.
    """
    return index.segment_means(per_row) * float(np.sum(gamma ** np.arange(horizon)))


def require_soft_pair_weights(w: WeightConfig, algo: str, formula: str) -> None:
    """``algo`` weights each pair by a fixed ``formula``: its soft, per-pair, beta = 1 weights are the method."""
    if (w.kind, w.level, w.beta) != ("soft", "pair", 1.0):
        raise ConfigError(f"{algo} weights each D_U pair by {formula}: keep bc.weights.kind=soft, level=pair, "
                          f"beta=1 (got {w.kind}, {w.level}, {w.beta})")


def require_no_weights(w: WeightConfig, algo: str) -> None:
    """``algo`` has no cost to weight by: a weighting set on it would silently do nothing."""
    if w.kind != "none":
        raise ConfigError(f"{algo} clones without weights (it has no cost to weight by): keep "
                          f"bc.weights.kind=none (got {w.kind})")
