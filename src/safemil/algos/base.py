"""What an algorithm is to the runner, and what data it is allowed to see.

An algorithm wires a cost source to a policy learner. The runner builds it
from ONE config dataclass and a data bundle; the bundle is `LearnerData`
(label-free views of D_N and D_U) for every algorithm, and `OracleData` (the
same plus the labelled D_U) only for algorithms registered with
``oracle=True``. A non-oracle algorithm therefore has no object through which
it could read rewards or costs: the restriction is structural.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from safemil.costs.base import CostModel
from safemil.data.dataset import LabelledView, LearnerView
from safemil.errors import ConfigError
from safemil.eval.policies import Policy
from safemil.policies import WeightedBC


@dataclass(frozen=True)
class LearnerData:
    """Everything a (non-oracle) method may use: label-free views plus facts about the task."""

    task: str
    negative: LearnerView
    unlabeled: LearnerView
    act_low: np.ndarray
    act_high: np.ndarray
    cost_limit: float
    lidar: tuple[int, int, int] | None = None  # the task's lidar layout (`TaskSpec.lidar_layout`), for the actor

    @property
    def actor_io(self) -> dict:
        """The task facts an actor is built from (`WeightedBC`'s keyword arguments)."""
        return {"act_low": self.act_low, "act_high": self.act_high, "lidar": self.lidar}


@dataclass(frozen=True)
class OracleData(LearnerData):
    """Learner data plus D_U's hidden labels: handed only to algorithms registered as oracles."""

    labelled_unlabeled: LabelledView | None = None


class Algorithm(Protocol):
    """The runner's view of a training algorithm. Steps are counted by the runner, 0..total_steps-1."""

    total_steps: int

    def train_step(self, step: int) -> dict[str, float]:
        """One unit of work (a cost update, a policy update, or both); returns scalars to log."""
        ...

    def policy(self) -> Policy: ...

    def policy_state(self) -> dict:
        """Enough to rebuild the policy without the dataset (see `safemil.policies.actor_from_state`)."""
        ...

    def cost_model(self) -> CostModel | None:
        """The learned cost, if any (the runner scores it against hidden labels, evaluator-side)."""
        ...

    def summary(self) -> dict[str, Any]:
        """Label-free end-of-training diagnostics (final losses, warnings, weight ESS)."""
        ...

    def clone_draw_shares(self) -> np.ndarray | None:
        """The share of the policy's training draws each D_U trajectory gets, where the policy clones
        D_U by trajectory weight (the runner scores it against hidden labels, evaluator-side)."""
        ...

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> None: ...


class AlgorithmBase:
    """What most algorithms answer the same way: no learned cost, nothing more to summarise."""

    def cost_model(self) -> CostModel | None:
        return None

    def summary(self) -> dict[str, Any]:
        return {}

    def clone_draw_shares(self) -> np.ndarray | None:
        return None


class LearnerAlgorithm(AlgorithmBase):
    """An algorithm that is one learner (``self.learner``): its updates, policy, summary and checkpoint."""

    learner: Any

    def train_step(self, step: int) -> dict[str, float]:
        return self.learner.step()

    def policy(self) -> Policy:
        return self.learner.policy()

    def policy_state(self) -> dict:
        return self.learner.policy_state()

    def summary(self) -> dict[str, Any]:
        return self.learner.summary()

    def state_dict(self) -> dict:
        return {"base": self.learner.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.learner.load_state_dict(state["base"])


class BCAlgorithm(AlgorithmBase):
    """Base of the algorithms whose deployed policy is a `WeightedBC` learner (``self.bc``)."""

    bc: WeightedBC

    def policy(self) -> Policy:
        return self.bc.policy()

    def policy_state(self) -> dict:
        return self.bc.policy_state()


Factory = Callable[[Any, LearnerData, int], Algorithm]


@dataclass(frozen=True)
class AlgoSpec:
    name: str
    config_cls: type
    factory: Factory
    oracle: bool = False  # True: receives OracleData (reads hidden labels); a reference, not a method
    description: str = ""
    data: str = "split"  # split: learns from D_N / D_U; offline: needs reward/cost-labelled data (--data safe-only)


_REGISTRY: dict[str, AlgoSpec] = {}


def register(spec: AlgoSpec) -> AlgoSpec:
    if spec.name in _REGISTRY and _REGISTRY[spec.name] is not spec:
        raise ValueError(f"algorithm {spec.name!r} registered twice")
    _REGISTRY[spec.name] = spec
    return spec


def get_algo(name: str) -> AlgoSpec:
    key = name.strip().lower()
    if key not in _REGISTRY:
        raise ConfigError(f"unknown algorithm {name!r}; available: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[key]


def list_algos() -> list[AlgoSpec]:
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]
