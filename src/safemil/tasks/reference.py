"""DSRL normalisation constants, shipped as package data (copied from the dsrl package)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np

# The episode cost limit wherever none is given (DSRL's and the SafeMIL paper's 25): the split's
# "safe", the evaluator's normalised cost, the reports and the CLI's defaults all read this one.
DEFAULT_COST_LIMIT = 25.0


@dataclass(frozen=True)
class DsrlReference:
    task: str
    max_episode_reward: float
    min_episode_reward: float
    max_episode_cost: float
    min_episode_cost: float
    max_episode_steps: int
    dataset_file: str

    def normalize_return(self, returns):
        """DSRL's normalized return ``(R - R_min) / (R_max - R_min)`` (an array or a number)."""
        return (np.asarray(returns) - self.min_episode_reward) / (self.max_episode_reward - self.min_episode_reward)


@cache
def dsrl_references() -> dict[str, DsrlReference]:
    text = resources.files("safemil.tasks").joinpath("dsrl_reference.csv").read_text()
    rows = csv.DictReader(text.splitlines())
    out = {}
    for r in rows:
        out[r["task"]] = DsrlReference(
            task=r["task"],
            max_episode_reward=float(r["max_episode_reward"]),
            min_episode_reward=float(r["min_episode_reward"]),
            max_episode_cost=float(r["max_episode_cost"]),
            min_episode_cost=float(r["min_episode_cost"]),
            max_episode_steps=int(r["max_episode_steps"]),
            dataset_file=r["dataset_file"],
        )
    return out
