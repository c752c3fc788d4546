"""SafeMIL: a MIL cost learned from D_N vs D_U bags, then BC on D_U weighted by exp(-C / beta)."""

from __future__ import annotations

from dataclasses import dataclass, field

from safemil.algos.base import AlgoSpec, LearnerData, register
from safemil.algos.cost_bc import CostWeightedBC, check_schedule, soft_trajectory_bc
from safemil.costs.mil import MILConfig, MILCost
from safemil.policies import BCConfig, WeightedBC


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
    cost = MILCost(data.negative, data.unlabeled, config.mil, seed)
    bc = WeightedBC(data.unlabeled, config.bc, seed + 1, data.act_low, data.act_high)
    return CostWeightedBC(cost, bc, config.bc, config.mil.steps, config.policy_steps, config.schedule)


SPEC = register(AlgoSpec("safemil", SafeMILConfig, build,
                         description="MIL cost from D_N vs D_U bags + cost-weighted BC on D_U"))
