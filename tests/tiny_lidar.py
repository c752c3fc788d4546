"""A tiny learner view with a two-kind lidar block: risky steps see a close kind-0 object."""

from __future__ import annotations

import numpy as np

from safemil.data.dataset import LearnerView, TrajectoryIndex

LAYOUT = (2, 2, 8)  # (first lidar column, kinds, bins) of `lidar_toy`'s observations


def lidar_toy(n_traj: int, length: int, risky_frac: float, seed: int):
    """Observations [0, 0, lidar kind 0 (8 bins), lidar kind 1 (8 bins)], actions 0; a risky step has
    a kind-0 object at closeness ~0.9 in a random bin, a safe one only far objects (<= 0.4)."""
    rng = np.random.default_rng(seed)
    n = n_traj * length
    obs = np.zeros((n, 18), dtype=np.float32)
    obs[:, 2:] = rng.uniform(0.0, 0.4, size=(n, 16)) * (rng.random((n, 16)) < 0.3)
    risky = np.zeros((n_traj, length), dtype=bool)
    for i in np.flatnonzero(rng.random(n_traj) < risky_frac):
        t0 = rng.integers(0, length - 12 + 1)
        risky[i, t0:t0 + 12] = True
    risky = risky.ravel()
    obs[np.flatnonzero(risky), 2 + rng.integers(0, 8, size=risky.sum())] = rng.uniform(0.85, 0.95, risky.sum())
    act = np.zeros((n, 2), dtype=np.float32)
    index = TrajectoryIndex(np.arange(n_traj, dtype=np.int64) * length, np.full(n_traj, length, dtype=np.int64))
    term = np.zeros(n, dtype=bool)
    term[length - 1 :: length] = True
    return LearnerView(obs, obs, act, term, index), risky
