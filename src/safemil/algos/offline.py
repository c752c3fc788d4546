"""The data bundle of offline safe RL algorithms (PROCO and its bases), and how the runner builds it.

In the safe-only setting (`safemil.data.safe_only`) methods learn from the
selected trajectories with their rewards and per-step costs, as offline safe
RL methods do. Algorithms registered with ``data="offline"`` receive an
`OfflineData` holding that `LabelledView`; they refuse to run on the SafeMIL
split, where rewards and costs are hidden.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from safemil.algos.base import AlgoSpec, LearnerData, OracleData
from safemil.data.dataset import LabelledView
from safemil.data.safe_only import OfflineSelection, empty_view
from safemil.errors import ConfigError


@dataclass(frozen=True)
class OfflineData(LearnerData):
    """Learner data plus the labelled offline dataset (``unlabeled`` is its label-free part)."""

    offline: LabelledView | None = None


def offline_data(spec: AlgoSpec, selection: OfflineSelection, task: str, act_low: np.ndarray,
                 act_high: np.ndarray, lidar: tuple[int, int, int] | None = None) -> LearnerData:
    """Oracles get `OracleData`, offline algorithms `OfflineData`, split learners a label-free `LearnerData`."""
    view = selection.view
    common = dict(task=task, negative=empty_view(view.learner), unlabeled=view.learner,
                  act_low=act_low, act_high=act_high, cost_limit=selection.cost_limit, lidar=lidar)
    if spec.oracle:
        return OracleData(**common, labelled_unlabeled=view)
    if spec.data == "offline":
        return OfflineData(**common, offline=view)
    return LearnerData(**common)


def require_offline(data: LearnerData, name: str) -> LabelledView:
    """The labelled offline data, or a clear error if the runner handed the SafeMIL split."""
    if not isinstance(data, OfflineData) or data.offline is None:
        raise ConfigError(f"{name} needs reward/cost-labelled offline data: run it with --data safe-only "
                          "or --data minimally-risky (data.mode=...)")
    return data.offline
