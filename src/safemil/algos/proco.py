"""PROCO's own policy learner, and PROCO in front of BC-Safe.

``proco``: feasibility-guided weighted BC (FISOR's weighting with a Gaussian
mixture actor, see reference/BASELINES.md). On each real (s, a):

- infeasible state (``V_h(s) > 0``): ``w = clip(exp(5 (V_h(s) - Q_h(s, a))), 0, 150)``
  (prefer the actions that reduce the violation);
- feasible state, action keeps it feasible (``Q_h(s, a) <= 0``):
  ``w = clip(exp(3 A(s, a) / std(A)), 0, 100)`` with the IQL reward advantage
  (scaled by its spread so the temperature does not depend on the task's reward scale);
- feasible state, action leaves the feasible region: ``w = min_weight``.

``bc-safe+proco``: BC-Safe (the trajectories with cost <= limit) with the rows
PROCO flags, an infeasible state or an action leaving the feasible region,
given weight 0. Same BC settings and step budget as ``bc-safe``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from safemil.algos.base import AlgoSpec, LearnerData, register
from safemil.algos.layered import Layered
from safemil.algos.offline import require_offline
from safemil.errors import ConfigError, DatasetError, SafemilError
from safemil.policies import BCConfig, WeightConfig, WeightedBC
from safemil.proco.critics import CriticConfig, RewardCritic
from safemil.proco.layer import ProcoLayer, ProcoLayerConfig


def _pair_soft() -> BCConfig:
    return BCConfig(weights=WeightConfig(kind="soft", level="pair", beta=1.0))


def _iql() -> CriticConfig:
    return CriticConfig(expectile=0.7)


@dataclass
class ProcoConfig:
    policy_steps: int = 20_000  # weighted-BC updates, after the layer's model and feasibility steps
    layer: ProcoLayerConfig = field(default_factory=ProcoLayerConfig)
    reward: CriticConfig = field(default_factory=_iql)
    bc: BCConfig = field(default_factory=_pair_soft)
    adv_temperature: float = 3.0  # feasible rows: w = exp(adv_temperature * A / std(A)), A the IQL advantage
    adv_max: float = 100.0  # feasible rows: upper clip of that weight
    feas_temperature: float = 5.0  # infeasible states: w = exp(feas_temperature * (V_h(s) - Q_h(s, a)))
    feas_max: float = 150.0  # infeasible states: upper clip of that weight
    # in (0, 1]: the weight of a feasible state's action that leaves the feasible region, and the floor
    # of every weight (weights are relative: BC divides them by their batch mean)
    min_weight: float = 1e-4

    def __post_init__(self):
        if self.policy_steps < 1:
            raise ConfigError(f"policy_steps must be >= 1, got {self.policy_steps}")
        if self.bc.weights.kind != "soft" or self.bc.weights.level != "pair":
            raise ConfigError("proco computes its own per-pair weights: keep bc.weights.kind=soft, level=pair")
        if not 0 < self.min_weight <= 1:
            raise ConfigError(f"min_weight must be in (0, 1], got {self.min_weight}")


def fisor_weights(v_h: np.ndarray, q_h: np.ndarray, adv: np.ndarray, c: ProcoConfig) -> np.ndarray:
    """FISOR-style per-pair weights (see the module docstring), floored at ``min_weight``."""
    scale = float(adv.std()) or 1.0
    feasible_w = np.where(q_h > 0, c.min_weight, np.clip(np.exp(c.adv_temperature * adv / scale), 0, c.adv_max))
    infeasible_w = np.clip(np.exp(c.feas_temperature * (v_h - q_h)), 0, c.feas_max)
    return np.maximum(np.where(v_h > 0, infeasible_w, feasible_w), c.min_weight)


class _WeightedBase(Layered):
    """Shared: a WeightedBC on the real rows, driven by per-row pseudo-costs fixed at prepare time."""

    def __init__(self, layer: ProcoLayer, bc: WeightedBC, steps: int):
        super().__init__(layer, bc, steps)
        self._row_cost: torch.Tensor | None = None

    def base_step(self, step: int) -> dict[str, float]:
        assert self._row_cost is not None
        return self.learner.step(lambda rows: self._row_cost[torch.from_numpy(rows)])

    def base_state(self) -> dict:
        return {"bc": self.learner.state_dict()}

    def load_base_state(self, state: dict) -> None:
        self.learner.load_state_dict(state["bc"])


class ProcoBC(_WeightedBase):
    def __init__(self, config: ProcoConfig, data: LearnerData, seed: int):
        off = require_offline(data, "proco")
        layer = ProcoLayer(off, data.task, data.act_low, data.act_high, config.layer, seed)
        super().__init__(layer, WeightedBC(off.learner, config.bc, seed, **data.actor_io),
                         config.policy_steps)
        self.config = config
        self.reward = RewardCritic(off.learner.observations, off.learner.actions, config.reward)
        self.weight_stats: dict = {}

    def layer_extra(self, step: int) -> dict[str, float]:
        return self.reward.step(*self.layer.batch(self.config.reward.batch_size, real_only=True, kind="reward"))

    def prepare(self) -> None:
        f = self.layer.row_feasibility()
        t = self.layer._t
        adv = np.concatenate([self.reward.advantage(t["obs"][i:i + 8192], t["act"][i:i + 8192]).numpy()
                              for i in range(0, len(t["obs"]), 8192)])
        w = fisor_weights(f["v"], f["q"], adv, self.config)
        self.weight_stats = {"weight_mean": float(w.mean()), "weight_ess": float(w.sum() ** 2 / (len(w) * (w * w).sum())),
                             "rows_min_weight_frac": float((w <= self.config.min_weight).mean())}
        self._row_cost = torch.from_numpy(-self.config.bc.weights.beta * np.log(w)).float()

    def summary(self) -> dict:
        return {**super().summary(), **self.weight_stats}

    def base_state(self) -> dict:
        return {"bc": self.learner.state_dict(), "reward": self.reward.state_dict()}

    def load_base_state(self, state: dict) -> None:
        self.learner.load_state_dict(state["bc"])
        self.reward.load_state_dict(state["reward"])


def _pair_hard() -> BCConfig:
    return BCConfig(weights=WeightConfig(kind="hard", level="pair", threshold=0.5))


@dataclass
class BCSafeProcoConfig:
    steps: int = 20_000  # BC steps, as bc-safe's
    cost_limit: float | None = None  # BC keeps trajectories with cost <= this; None: the run's cost limit
    layer: ProcoLayerConfig = field(default_factory=ProcoLayerConfig)
    bc: BCConfig = field(default_factory=_pair_hard)

    def __post_init__(self):
        if self.steps < 1:
            raise ConfigError(f"steps must be >= 1, got {self.steps}")
        if self.bc.weights.kind != "hard" or self.bc.weights.level != "pair":
            raise ConfigError("bc-safe+proco drops flagged rows: keep bc.weights.kind=hard, level=pair")


class BCSafeProco(_WeightedBase):
    def __init__(self, config: BCSafeProcoConfig, data: LearnerData, seed: int):
        off = require_offline(data, "bc-safe+proco")
        limit = data.cost_limit if config.cost_limit is None else config.cost_limit
        keep = np.flatnonzero(off.trajectory_costs() <= limit)
        if len(keep) == 0:
            raise DatasetError(f"bc-safe+proco: no trajectory has cost <= {limit:g}")
        self.rows = off.learner.index.rows(keep)
        layer = ProcoLayer(off, data.task, data.act_low, data.act_high, config.layer, seed)
        view = off.learner.select(keep)
        super().__init__(layer, WeightedBC(view, config.bc, seed, **data.actor_io), config.steps)
        self.flag_frac = float("nan")

    def prepare(self) -> None:
        f = self.layer.row_feasibility()
        flag = ((f["v"] > 0) | (f["q"] > 0))[self.rows]
        self.flag_frac = float(flag.mean())
        if flag.all():  # every BC weight would be 0: the policy would learn nothing
            raise SafemilError(
                f"bc-safe+proco: the feasibility critic flags all {len(flag)} BC rows (infeasible state or an action "
                f"leaving the feasible region; {float((f['v'] > 0).mean()):.1%} of real states infeasible), so BC "
                "has nothing left to learn from; the counterfactual labels or the critic's budget are off "
                "(see diagnostics: synthetic_unsafe_frac, layer.feasibility_steps, layer.rollout.sample)")
        self._row_cost = torch.from_numpy(flag.astype(np.float32))

    def summary(self) -> dict:
        return {**super().summary(), "bc_rows_dropped_frac": self.flag_frac}


SPEC_PROCO = register(AlgoSpec("proco", ProcoConfig, ProcoBC, data="offline",
                               description="PROCO: model rollouts + knowledge cost -> feasibility-guided weighted BC"))
SPEC_BCSAFE = register(AlgoSpec("bc-safe+proco", BCSafeProcoConfig, BCSafeProco, data="offline",
                                description="BC-Safe with the rows PROCO marks infeasible dropped"))
