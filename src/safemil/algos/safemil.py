"""SafeMIL: a MIL cost learned from D_N vs D_U bags, then BC on D_U weighted by exp(-C / beta)."""

from __future__ import annotations

from dataclasses import dataclass, field

from safemil.algos.base import AlgoSpec, LearnerData, register
from safemil.algos.cost_bc import (
    CostWeightedBC,
    check_schedule,
    mil_weighted_bc,
    soft_trajectory_bc,
)
from safemil.costs.mil import MILConfig
from safemil.policies import BCConfig


@dataclass
class SafeMILConfig:
    """``mil.steps`` cost updates and ``policy_steps`` policy updates, in ``schedule`` order."""

    policy_steps: int = 20_000  # weighted-BC updates
    schedule: str = "sequential"  # sequential: cost, then policy on the frozen cost; alternate: one of each per step
    mil: MILConfig = field(default_factory=MILConfig)
    bc: BCConfig = field(default_factory=soft_trajectory_bc)

    def __post_init__(self):
        check_schedule(self.schedule, self.mil.steps, self.policy_steps, self.bc)


def build(config: SafeMILConfig, data: LearnerData, seed: int) -> CostWeightedBC:
    return mil_weighted_bc(config.mil, config.bc, config.policy_steps, config.schedule, data, seed)


SPEC = register(AlgoSpec("safemil", SafeMILConfig, build,
                         description="MIL cost from D_N vs D_U bags + cost-weighted BC on D_U"))
