"""A tiny two-behaviour dataset for tests: random swimmers (safe) and a fixed-action swimmer (risky).

The risky behaviour is told apart by its actions, so a cost learner can find
it; its steps carry cost 1, the random ones cost 0 (labels the learner never sees).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from safemil.data import Dataset, write_dsrl
from safemil.eval import RandomPolicy, rollout
from safemil.tasks import get_task

TASK = "SwimmerVelocity"


class FixedPolicy:
    def __init__(self, action):
        self.action = np.asarray(action, dtype=np.float32)

    def act(self, obs, deterministic=True):
        return np.repeat(self.action[None], len(obs), 0)


def _cat(a: Dataset, b: Dataset) -> Dataset:
    keys = ("observations", "next_observations", "actions", "rewards", "costs", "terminals", "timeouts")
    return Dataset(**{k: np.concatenate([getattr(a, k), getattr(b, k)]) for k in keys}, task=a.task)


def make_tiny_dataset(path: Path, n_safe: int = 24, n_risky: int = 16, steps: int = 30, task: str = TASK) -> Path:
    """``task`` must not end episodes early (Swimmer, HalfCheetah): every risky trajectory costs ``steps``."""
    act_dim = get_task(task).act_dim
    safe = rollout(RandomPolicy(-np.ones(act_dim), np.ones(act_dim), seed=1), task, n_safe, seed=0, num_envs=4,
                   progress=False, max_steps=steps, record=True).dataset
    risky_action = np.resize([0.9, -0.9], act_dim)
    risky = rollout(FixedPolicy(risky_action), task, n_risky, seed=500, num_envs=4, progress=False,
                    max_steps=steps, record=True).dataset
    safe = replace(safe, costs=np.zeros_like(safe.costs))
    risky = replace(risky, costs=np.ones_like(risky.costs))
    return write_dsrl(_cat(safe, risky), path)


# split settings that fit the tiny data: D_N = 6 of the 16 risky trajectories (cost 30 >= 3 x 5)
TINY_SPLIT = ["split.n_negative=6", "split.cost_limit=5", "eval.episodes=2", "eval.num_envs=2",
              "train.progress=false"]
