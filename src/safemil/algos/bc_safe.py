"""BC-Safe (oracle reference): BC on the D_U trajectories whose TRUE cost is within the limit.

It reads hidden labels, so it is registered with ``oracle=True`` and is the
only kind of algorithm the runner hands `OracleData`. An upper reference, not
a competitor.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from safemil.algos.base import AlgoSpec, LearnerData, OracleData, register
from safemil.algos.bc_u import PlainBC, _unweighted
from safemil.errors import ConfigError, DatasetError
from safemil.policies import BCConfig
from safemil.policies.weights import require_no_weights


@dataclass
class BCSafeConfig:
    steps: int = 20_000  # BC updates (one minibatch each): the run's total steps
    cost_limit: float | None = None  # None: the run's cost limit
    bc: BCConfig = field(default_factory=_unweighted)

    def __post_init__(self):
        if self.steps < 1:
            raise ConfigError(f"steps must be >= 1, got {self.steps}")
        require_no_weights(self.bc.weights, "bc-safe")


def build(config: BCSafeConfig, data: LearnerData, seed: int) -> PlainBC:
    if not isinstance(data, OracleData) or data.labelled_unlabeled is None:
        raise ConfigError("bc-safe is an oracle: it needs the labelled D_U (run it through the runner)")
    lab = data.labelled_unlabeled
    limit = data.cost_limit if config.cost_limit is None else config.cost_limit
    safe = np.flatnonzero(lab.trajectory_costs() <= limit)
    if len(safe) == 0:
        raise DatasetError(f"bc-safe: no trajectory in D_U has cost <= {limit:g}")
    view = lab.learner.select(safe)
    return PlainBC(view, config.bc, config.steps, data, seed, notes={"safe_cost_limit": limit})


SPEC = register(AlgoSpec("bc-safe", BCSafeConfig, build, oracle=True,
                         description="oracle: BC on D_U trajectories with true cost <= limit"))
