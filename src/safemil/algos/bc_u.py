"""BC-U: plain behaviour cloning on all of D_U (how risky is imitating the mixture?)."""

from __future__ import annotations

from dataclasses import dataclass, field

from safemil.algos.base import AlgoSpec, BCAlgorithm, LearnerData, register
from safemil.data.dataset import LearnerView
from safemil.errors import ConfigError
from safemil.policies import BCConfig, WeightConfig, WeightedBC
from safemil.policies.weights import require_no_weights


def _unweighted() -> BCConfig:
    return BCConfig(weights=WeightConfig(kind="none"))


@dataclass
class BCUConfig:
    steps: int = 20_000  # BC updates (one minibatch each): the run's total steps
    bc: BCConfig = field(default_factory=_unweighted)

    def __post_init__(self):
        if self.steps < 1:
            raise ConfigError(f"steps must be >= 1, got {self.steps}")
        require_no_weights(self.bc.weights, "bc-u")


class PlainBC(BCAlgorithm):
    """Unweighted BC on one label-free view; shared by BC-U and the BC-Safe oracle."""

    def __init__(self, view: LearnerView, bc: BCConfig, steps: int, data: LearnerData, seed: int,
                 notes: dict | None = None):
        self.total_steps = steps
        self.notes = dict(notes or {})
        self.bc = WeightedBC(view, bc, seed, **data.actor_io)

    def train_step(self, step: int) -> dict[str, float]:
        return self.bc.step(None)

    def summary(self) -> dict:
        return {"bc_trajectories": self.bc.view.n_trajectories, "bc_transitions": len(self.bc.view), **self.notes}

    def state_dict(self) -> dict:
        return {"bc": self.bc.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.bc.load_state_dict(state["bc"])


def build(config: BCUConfig, data: LearnerData, seed: int) -> PlainBC:
    return PlainBC(data.unlabeled, config.bc, config.steps, data, seed)


SPEC = register(AlgoSpec("bc-u", BCUConfig, build, description="plain BC on all of D_U"))
