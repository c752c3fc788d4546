"""Commanded-speed schedules shared by training and generation.

A behaviour policy sees the commanded speed as one extra observation entry,
expressed as a ratio of the task's cost threshold, so one scale fits every
task. The schedule resamples the command at random times within an episode,
which teaches the policy to change speed and spreads dataset costs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CommandRange:
    """Commanded speed as a ratio of the cost threshold, and how often it changes."""

    low: float = 0.3
    high: float = 1.6
    mean_hold: float = 300.0  # mean number of steps before the command is resampled

    def sample(self, rng: np.random.Generator, size: int | None = None) -> np.ndarray | float:
        return rng.uniform(self.low, self.high, size=size)

    def hold(self, rng: np.random.Generator, size: int | None = None) -> np.ndarray | int:
        """Steps until the next change (geometric, at least 50 so a gait can settle)."""
        return 50 + rng.geometric(1.0 / max(1.0, self.mean_hold - 50), size=size)


def augment(obs: np.ndarray, ratio: np.ndarray | float) -> np.ndarray:
    """Append the commanded-speed ratio as the last observation column."""
    obs = np.asarray(obs)
    if obs.ndim == 1:  # one env step: the hot path of the trainers, so no temporaries
        out = np.empty(obs.shape[0] + 1, dtype=np.float32)
        out[:-1] = obs
        out[-1] = ratio
        return out
    obs = obs.astype(np.float32, copy=False)
    r = np.broadcast_to(np.asarray(ratio, dtype=np.float32), (obs.shape[0],))
    return np.concatenate([obs, r[:, None]], axis=1)
