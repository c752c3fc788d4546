"""Flat transition arrays plus a trajectory index, and the two views methods get.

`Dataset` holds everything a DSRL file holds, labels included. Learning code
never receives it: a split hands methods `LearnerView`s, which are built
without rewards or costs (the arrays are simply not there), and the oracle and
the evaluator ask for a `LabelledView` by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from safemil.errors import DatasetError

OBS_KEYS = ("observations", "next_observations", "actions")


@dataclass(frozen=True)
class TrajectoryIndex:
    """Where each trajectory lives in the flat arrays."""

    starts: np.ndarray  # int64 (n_traj,)
    lengths: np.ndarray  # int64 (n_traj,)

    @classmethod
    def from_ends(cls, ends: np.ndarray) -> TrajectoryIndex:
        """Trajectories end at rows where ``ends`` is true; a trailing unfinished run counts too."""
        ends = np.asarray(ends, dtype=bool)
        end_rows = np.flatnonzero(ends)
        if len(ends) and (len(end_rows) == 0 or end_rows[-1] != len(ends) - 1):
            end_rows = np.append(end_rows, len(ends) - 1)
        starts = np.concatenate([[0], end_rows[:-1] + 1]).astype(np.int64)
        lengths = (end_rows + 1 - starts).astype(np.int64)
        return cls(starts, lengths)

    def __len__(self) -> int:
        return len(self.starts)

    @property
    def n_steps(self) -> int:
        return int(self.lengths.sum())

    def traj_ids(self) -> np.ndarray:
        """The trajectory id of every row."""
        return np.repeat(np.arange(len(self.starts)), self.lengths)

    def rows(self, traj: np.ndarray) -> np.ndarray:
        """Row indices of the given trajectories, concatenated in order (vectorised)."""
        traj = np.asarray(traj, dtype=np.int64)
        lens = self.lengths[traj]
        offsets = np.repeat(self.starts[traj] - np.concatenate([[0], np.cumsum(lens)[:-1]]), lens)
        return np.arange(lens.sum(), dtype=np.int64) + offsets

    def segment_sums(self, per_step: np.ndarray) -> np.ndarray:
        """Sum of a per-row quantity over each trajectory."""
        csum = np.concatenate([[0.0], np.cumsum(per_step, dtype=np.float64)])
        return csum[self.starts + self.lengths] - csum[self.starts]

    def segment_means(self, per_step: np.ndarray) -> np.ndarray:
        """Mean of a per-row quantity over each trajectory (0 for an empty one): a rate, not a total,
        so trajectories that end early (a fall) are not judged by their length."""
        return self.segment_sums(per_step) / np.maximum(self.lengths, 1)


@dataclass(frozen=True)
class Dataset:
    """A full offline dataset (labels included). Rows of all arrays align."""

    observations: np.ndarray
    next_observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    costs: np.ndarray
    terminals: np.ndarray
    timeouts: np.ndarray
    task: str | None = None

    def __post_init__(self):
        n = len(self.observations)
        for k in ("next_observations", "actions", "rewards", "costs", "terminals", "timeouts"):
            if len(getattr(self, k)) != n:
                raise DatasetError(
                    f"'{k}' has {len(getattr(self, k))} rows but 'observations' has {n}"
                )
        for k in ("terminals", "timeouts"):  # the cached index depends on them: hold read-only views
            view = np.asarray(getattr(self, k)).view()  # (the caller's own array stays writable)
            view.flags.writeable = False
            object.__setattr__(self, k, view)

    @cached_property
    def index(self) -> TrajectoryIndex:
        """Computed once: every split, view and per-trajectory sum goes through it."""
        return TrajectoryIndex.from_ends(self.terminals.astype(bool) | self.timeouts.astype(bool))

    def __len__(self) -> int:
        return len(self.observations)

    @property
    def obs_dim(self) -> int:
        return self.observations.shape[1]

    @property
    def act_dim(self) -> int:
        return self.actions.shape[1]

    def trajectory_returns(self) -> np.ndarray:
        return self.index.segment_sums(self.rewards)

    def trajectory_costs(self) -> np.ndarray:
        return self.index.segment_sums(self.costs)

    def select(self, traj: np.ndarray) -> Dataset:
        """A new dataset holding the given trajectories (in that order)."""
        rows = self.index.rows(traj)
        return Dataset(**{k: getattr(self, k)[rows] for k in _ARRAY_KEYS}, task=self.task)

    def learner_view(self, traj: np.ndarray | None = None) -> LearnerView:
        traj = np.arange(len(self.index)) if traj is None else np.asarray(traj)
        rows = self.index.rows(traj)
        return LearnerView(
            observations=self.observations[rows],
            next_observations=self.next_observations[rows],
            actions=self.actions[rows],
            terminals=self.terminals[rows].astype(bool),
            index=_reindex(self.index.lengths[traj]),
            task=self.task,
        )

    def labelled_view(self, traj: np.ndarray | None = None) -> LabelledView:
        traj = np.arange(len(self.index)) if traj is None else np.asarray(traj)
        rows = self.index.rows(traj)
        return LabelledView(learner=self.learner_view(traj), rewards=self.rewards[rows], costs=self.costs[rows])


_ARRAY_KEYS = (
    "observations",
    "next_observations",
    "actions",
    "rewards",
    "costs",
    "terminals",
    "timeouts",
)


def _reindex(lengths: np.ndarray) -> TrajectoryIndex:
    lengths = np.asarray(lengths, dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    return TrajectoryIndex(starts, lengths)


@dataclass(frozen=True)
class LearnerView:
    """What a learning method may see: states, actions, episode structure. No rewards, no costs."""

    observations: np.ndarray
    next_observations: np.ndarray
    actions: np.ndarray
    terminals: np.ndarray
    index: TrajectoryIndex
    task: str | None = None

    def __len__(self) -> int:
        return len(self.observations)

    @property
    def n_trajectories(self) -> int:
        return len(self.index)

    @property
    def obs_dim(self) -> int:
        return self.observations.shape[1]

    @property
    def act_dim(self) -> int:
        return self.actions.shape[1]

    def select(self, traj: np.ndarray) -> LearnerView:
        """A new view holding the given trajectories (in that order)."""
        traj = np.asarray(traj)
        rows = self.index.rows(traj)
        return LearnerView(
            observations=self.observations[rows],
            next_observations=self.next_observations[rows],
            actions=self.actions[rows],
            terminals=self.terminals[rows],
            index=_reindex(self.index.lengths[traj]),
            task=self.task,
        )

    def concat(self, other: LearnerView) -> LearnerView:
        return LearnerView(
            observations=np.concatenate([self.observations, other.observations]),
            next_observations=np.concatenate([self.next_observations, other.next_observations]),
            actions=np.concatenate([self.actions, other.actions]),
            terminals=np.concatenate([self.terminals, other.terminals]),
            index=_reindex(np.concatenate([self.index.lengths, other.index.lengths])),
            task=self.task,
        )


@dataclass(frozen=True)
class LabelledView:
    """A learner view plus its hidden labels: for the oracle baseline and the evaluator only."""

    learner: LearnerView
    rewards: np.ndarray
    costs: np.ndarray

    def trajectory_returns(self) -> np.ndarray:
        return self.learner.index.segment_sums(self.rewards)

    def trajectory_costs(self) -> np.ndarray:
        return self.learner.index.segment_sums(self.costs)
