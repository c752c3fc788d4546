"""The policy interface the evaluator needs, and the reference policies."""

from __future__ import annotations

from typing import Protocol

import numpy as np


class Policy(Protocol):
    def act(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        """Map a batch of observations (n, obs_dim) to a batch of actions (n, act_dim)."""
        ...


class RandomPolicy:
    """Uniform random actions in the task's action box (a floor for normalised return)."""

    def __init__(self, low: np.ndarray, high: np.ndarray, seed: int = 0):
        self.low = np.asarray(low, dtype=np.float32)
        self.high = np.asarray(high, dtype=np.float32)
        self.rng = np.random.default_rng(seed)

    def act(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        return self.rng.uniform(self.low, self.high, size=(len(obs), len(self.low))).astype(np.float32)
