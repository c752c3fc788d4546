"""Label-free views shaped like a velocity task's data, for the step-time benchmarks (no dataset file needed)."""

from __future__ import annotations

import numpy as np

from safemil.data.dataset import LearnerView, TrajectoryIndex


def view(n_traj: int, length: int, obs_dim: int, act_dim: int, rng: np.random.Generator) -> LearnerView:
    """``n_traj`` trajectories of ``length`` steps with random observations and actions in (-1, 1)."""
    n = n_traj * length
    obs = rng.normal(size=(n, obs_dim)).astype(np.float32)
    act = np.tanh(rng.normal(size=(n, act_dim))).astype(np.float32)
    index = TrajectoryIndex(np.arange(n_traj, dtype=np.int64) * length, np.full(n_traj, length, dtype=np.int64))
    return LearnerView(obs, np.roll(obs, -1, 0), act, np.zeros(n, dtype=bool), index)
