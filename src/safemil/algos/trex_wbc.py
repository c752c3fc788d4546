"""T-REX-WBC: Bradley-Terry between single non-preferred and unlabeled segments, then weighted BC.

Trajectory-preference cost learning is the bag-size-one case of SafeMIL's MIL
loss: each "bag" is one length-H segment, and the loss
``softplus(C(seg_U) - C(seg_N))`` asks every non-preferred segment to outscore
the unlabeled one it is paired with. So the cost source IS `MILCost` with
``bag_size = 1``; everything else (policy learner, weights, budgets) matches
SafeMIL, and any difference between the two comes from K alone.
"""

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
from safemil.errors import ConfigError
from safemil.policies import BCConfig


def _single_segment_preferences() -> MILConfig:
    # with K = 1 each of the 128 pairs uses one segment per set: a pool of 128 (not MIL's 256) is enough
    return MILConfig(bag_size=1, pool_size=128, n_bag_pairs=128)


@dataclass
class TREXWBCConfig:
    """``cost.steps`` preference updates and ``policy_steps`` policy updates, in ``schedule`` order."""

    policy_steps: int = 20_000  # weighted-BC updates (after cost.steps when schedule=sequential)
    schedule: str = "sequential"  # sequential | alternate (see safemil.algos.cost_bc)
    cost: MILConfig = field(default_factory=_single_segment_preferences)
    bc: BCConfig = field(default_factory=soft_trajectory_bc)

    def __post_init__(self):
        if self.cost.bag_size != 1:
            raise ConfigError(
                f"trex-wbc compares single segments (cost.bag_size = 1), got bag_size={self.cost.bag_size}; "
                "bags of K > 1 segments are SafeMIL (`safemil train safemil ...`)"
            )
        check_schedule(self.schedule, self.cost.steps, self.policy_steps, self.bc)


def build(config: TREXWBCConfig, data: LearnerData, seed: int) -> CostWeightedBC:
    return mil_weighted_bc(config.cost, config.bc, config.policy_steps, config.schedule, data, seed)


SPEC = register(AlgoSpec("trex-wbc", TREXWBCConfig, build,
                         description="Bradley-Terry cost from single D_N vs D_U segments (K = 1) + cost-weighted BC"))
