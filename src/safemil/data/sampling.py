"""Segments and bags as index arithmetic over flat arrays (no Python loop per sample).

A segment is a window of H consecutive rows of one trajectory. Starts are
uniform over all positions where a full window fits, across the whole view
(so longer trajectories contribute proportionally more windows).

Trajectories shorter than H contribute exactly one window, starting at their
first row; positions past their end repeat the last row and are masked out
(``mask == False``), so a sum over a segment only counts real steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from safemil.data.dataset import TrajectoryIndex
from safemil.errors import ConfigError


@dataclass(frozen=True)
class Segments:
    rows: np.ndarray  # int64 (..., H): row indices into the flat arrays
    mask: np.ndarray  # bool (..., H): False where the window ran past its trajectory's end
    traj: np.ndarray  # int64 (...): trajectory id of each segment


class SegmentSampler:
    """Samples length-H windows of one view's trajectories."""

    def __init__(self, index: TrajectoryIndex, horizon: int):
        if horizon < 1:
            raise ConfigError(f"segment length H must be >= 1, got {horizon}")
        if len(index) == 0:
            raise ConfigError("cannot sample segments from an empty set of trajectories")
        self.index = index
        self.horizon = int(horizon)
        self._n_windows = np.maximum(index.lengths - horizon + 1, 1)
        self._cum = np.cumsum(self._n_windows)
        self._offsets = np.arange(horizon, dtype=np.int64)

    @property
    def windows(self) -> np.ndarray:
        """Number of length-H windows of each trajectory (1 for one shorter than H)."""
        return self._n_windows

    @property
    def n_windows(self) -> int:
        return int(self._cum[-1])

    def from_window_ids(self, window: np.ndarray) -> Segments:
        traj = np.searchsorted(self._cum, window, side="right")
        first = self._cum[traj] - self._n_windows[traj]
        start = self.index.starts[traj] + (window - first)
        pos = (start - self.index.starts[traj])[..., None] + self._offsets
        length = self.index.lengths[traj][..., None]
        mask = pos < length
        rows = self.index.starts[traj][..., None] + np.minimum(pos, length - 1)
        return Segments(rows=rows.astype(np.int64), mask=mask, traj=traj.astype(np.int64))

    def sample(self, shape: int | tuple[int, ...], rng: np.random.Generator) -> Segments:
        window = rng.integers(0, self.n_windows, size=shape)
        return self.from_window_ids(window)

    def trajectory_probabilities(self, traj_weights: np.ndarray) -> np.ndarray:
        """Each trajectory's share of weighted window draws: ``w_i x n_windows_i / sum_j w_j x n_windows_j``."""
        p = np.asarray(traj_weights, dtype=np.float64) * self._n_windows
        total = p.sum()
        if not np.isfinite(total) or total <= 0:
            raise ConfigError("trajectory weights must be finite, >= 0 and not all zero")
        return p / total

    def sample_by_trajectory(self, shape: int | tuple[int, ...], traj_weights: np.ndarray,
                             rng: np.random.Generator) -> Segments:
        """Windows drawn with probability proportional to their trajectory's weight (trajectory ``i`` with
        `trajectory_probabilities`), then a uniform window of it."""
        p = self.trajectory_probabilities(traj_weights)
        traj = rng.choice(len(p), size=shape, p=p)
        first = self._cum[traj] - self._n_windows[traj]
        return self.from_window_ids(first + rng.integers(0, self._n_windows[traj]))

    def sample_bags(self, n_bags: int, bag_size: int, rng: np.random.Generator) -> Segments:
        """``n_bags`` bags of ``bag_size`` segments each, drawn with replacement: shapes (B, K, H)."""
        if bag_size < 1 or n_bags < 1:
            raise ConfigError(f"bag size and number of bags must be >= 1, got {bag_size}, {n_bags}")
        return self.sample((n_bags, bag_size), rng)
