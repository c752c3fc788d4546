"""PROCO's data setting: offline safe RL data with (almost) no violations.

Two named views of a task's dataset:

- ``safe-only`` ("exclusively safe"): the trajectories whose total cost is
  exactly 0. Generated datasets may hold few of them; if fewer than
  ``min_trajectories`` exist, the view falls back to the ``min_trajectories``
  lowest-cost trajectories and says so (``fallback`` in the summary and a
  message on stderr), because an empty or 3-trajectory dataset trains nothing.
- ``minimally-risky``: the safe-only view plus the ``n_risky`` lowest-cost
  trajectories among those with 0 < cost <= ``risky_max_cost`` (default: the
  cost limit), i.e. a handful of mild violations.

Unlike the SafeMIL split, this is the ordinary offline safe RL setting: the
learner receives the selected trajectories WITH their rewards and per-step
costs (a `LabelledView`). Which trajectories are selected is the experiment's
choice (made here, from the full dataset), not the learner's.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np

from safemil.data.dataset import Dataset, LabelledView, LearnerView, TrajectoryIndex
from safemil.errors import ConfigError, DatasetError

MODES = ("split", "safe-only", "minimally-risky")


@dataclass
class DataConfig:
    """Which data a run learns from. ``split``: the SafeMIL D_N / D_U split (see `SplitConfig`)."""

    mode: str = "split"  # split | safe-only | minimally-risky
    min_trajectories: int = 20  # safe-only: fall back to the lowest-cost ones below this many zero-cost ones
    n_risky: int = 10  # minimally-risky: how many low-cost trajectories to add
    risky_max_cost: float | None = None  # None: the run's cost limit

    def __post_init__(self):
        if self.mode not in MODES:
            raise ConfigError(f"unknown data mode {self.mode!r}; choose one of {', '.join(MODES)}")
        if self.min_trajectories < 1 or self.n_risky < 0:
            raise ConfigError("data.min_trajectories must be >= 1 and data.n_risky >= 0")


class OfflineSelection:
    """The selected trajectories of one dataset, with labels, and a summary of how they were chosen."""

    def __init__(self, dataset: Dataset, ids: np.ndarray, config: DataConfig, cost_limit: float,
                 fallback: str | None = None):
        if len(ids) == 0:
            raise DatasetError(f"the {config.mode} view of the dataset is empty")
        self._dataset = dataset
        self.ids = np.sort(np.asarray(ids, dtype=np.int64))
        self.config, self.cost_limit, self.fallback = config, float(cost_limit), fallback
        self.view: LabelledView = dataset.labelled_view(self.ids)

    @property
    def task(self) -> str | None:
        return self._dataset.task

    def summary(self) -> dict:
        c = self.view.trajectory_costs()
        return {
            "rule": self.config.mode,
            "n_trajectories": len(self.ids),
            "n_transitions": len(self.view.learner),
            "of_dataset_trajectories": len(self._dataset.index),
            "n_zero_cost": int((c == 0).sum()),
            "mean_cost": float(c.mean()),
            "max_cost": float(c.max()),
            "mean_return": float(self.view.trajectory_returns().mean()),
            "fallback": self.fallback,
        }


def empty_view(like: LearnerView) -> LearnerView:
    """A view with no trajectories (the D_N of a setting that has none)."""
    z = np.zeros(0, dtype=np.int64)
    return LearnerView(like.observations[:0], like.next_observations[:0], like.actions[:0], like.terminals[:0],
                       TrajectoryIndex(z, z), like.task)


def select_offline(dataset: Dataset, config: DataConfig, cost_limit: float, *, quiet: bool = False) -> OfflineSelection:
    """Build the ``config.mode`` view of ``dataset`` (see the module docstring for the rules)."""
    if config.mode == "split":
        raise ConfigError("data.mode=split is the SafeMIL split; use safemil.data.make_split")
    costs = dataset.trajectory_costs()
    order = np.argsort(costs, kind="stable")
    zero = np.flatnonzero(costs == 0)
    fallback = None
    if len(zero) >= config.min_trajectories:
        ids = zero
    else:
        if len(costs) < config.min_trajectories:
            raise DatasetError(f"the dataset has {len(costs)} trajectories; data.min_trajectories is "
                               f"{config.min_trajectories}")
        ids = order[: config.min_trajectories]
        fallback = (f"only {len(zero)} of {len(costs)} trajectories have zero cost (< data.min_trajectories="
                    f"{config.min_trajectories}); using the {config.min_trajectories} lowest-cost ones "
                    f"(cost <= {costs[ids].max():.3g})")
        if not quiet:
            print(f"note: {fallback}", file=sys.stderr)
    if config.mode == "minimally-risky" and config.n_risky:
        hi = cost_limit if config.risky_max_cost is None else config.risky_max_cost
        pool = np.setdiff1d(order[(costs[order] > 0) & (costs[order] <= hi)], ids, assume_unique=False)
        pool = pool[np.argsort(costs[pool], kind="stable")]
        if len(pool) < config.n_risky:
            raise DatasetError(f"minimally-risky needs {config.n_risky} trajectories with 0 < cost <= {hi:g} "
                               f"besides the safe ones, found {len(pool)}")
        ids = np.concatenate([ids, pool[: config.n_risky]])
    return OfflineSelection(dataset, ids, config, cost_limit, fallback)
