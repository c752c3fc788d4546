"""SafeDICE: classifier D_N vs D_U, density-ratio reward, DICE value, advantage-weighted BC on D_U.

Phase 1 (``classifier_steps``): train the classifier of `safemil.costs.safedice`.
Then it is frozen, alpha is read off it and every D_U pair gets its reward.
Phase 2 (``policy_steps``): each step one value (nu) update on the DICE dual and
one BC update on D_U with weights ``exp(adv - 1)`` over the batch mean; that
is the shared learner's soft pair weights with ``C = -adv`` and ``beta = 1``.
alpha (clamped and raw) is logged every phase-2 step and lands in eval.json.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from safemil.algos.base import AlgoSpec, BCAlgorithm, LearnerData, register
from safemil.costs.safedice import DICEValue, SafeDICEClassifier, SafeDICEConfig
from safemil.errors import ConfigError
from safemil.policies import BCConfig, WeightConfig, WeightedBC
from safemil.policies.weights import require_soft_pair_weights


def _advantage_weights() -> BCConfig:
    return BCConfig(weights=WeightConfig(kind="soft", level="pair", beta=1.0))


@dataclass
class SafeDICEAlgoConfig:
    classifier_steps: int = 3_000  # same cost-learning budget as SafeMIL's default mil.steps
    policy_steps: int = 20_000  # each one value update + one BC update
    dice: SafeDICEConfig = field(default_factory=SafeDICEConfig)
    bc: BCConfig = field(default_factory=_advantage_weights)

    def __post_init__(self):
        if self.classifier_steps < 1 or self.policy_steps < 1:
            raise ConfigError(f"safedice: classifier_steps and policy_steps must be >= 1 "
                              f"(got {self.classifier_steps}, {self.policy_steps})")
        require_soft_pair_weights(self.bc.weights, "safedice", "exp(adv - 1) / batch mean")


class SafeDICE(BCAlgorithm):
    def __init__(self, config: SafeDICEAlgoConfig, data: LearnerData, seed: int):
        self.config, self.seed = config, seed
        self.total_steps = config.classifier_steps + config.policy_steps
        self.unlabeled = data.unlabeled
        self.clf = SafeDICEClassifier(data.negative, data.unlabeled, config.dice, seed, data.lidar)
        self.bc = WeightedBC(data.unlabeled, config.bc, seed + 1, **data.actor_io)
        self.value: DICEValue | None = None
        self._clf_log: list[float] = []
        self._ess: list[float] = []
        self._dice_log: list[float] = []

    def _start_dice(self) -> None:
        """Freeze the classifier (fixing alpha and the reward) and create the value function."""
        reward = self.clf.freeze()
        self.value = DICEValue(self.unlabeled, reward, self.config.dice, self.seed)

    def _row_cost(self, rows: np.ndarray) -> torch.Tensor:
        assert self.value is not None
        return -self.value.advantage(rows)

    def train_step(self, step: int) -> dict[str, float]:
        if step < self.config.classifier_steps:
            m = self.clf.train_step()
            self._clf_log.append(m["clf_loss"])
            if step + 1 == self.config.classifier_steps:
                m.update(self.clf.heldout_metrics())
            return m
        if self.value is None:
            self._start_dice()
        m = self.value.train_step()
        m.update(self.bc.step(self._row_cost))
        m.update({"alpha": float(self.clf.alpha), "alpha_raw": float(self.clf.alpha_raw)})
        self._ess.append(m.get("bc_ess", float("nan")))
        self._dice_log.append(m["dice_loss"])
        return m

    def cost_model(self) -> SafeDICEClassifier:
        return self.clf

    def summary(self) -> dict:
        out: dict = {"alpha": self.clf.alpha, "alpha_raw": self.clf.alpha_raw, **self.clf.heldout_metrics()}
        if self.clf.alpha_raw is not None and not 0.0 <= self.clf.alpha_raw < 1.0:
            out["alpha_warning"] = (f"raw alpha {self.clf.alpha_raw:.4g} is outside [0, 1): the classifier "
                                    "contradicts the mixture model; alpha was clamped")
        for name, log in (("clf_loss", self._clf_log), ("dice_loss", self._dice_log)):
            if log:
                n = max(1, len(log) // 10)
                out[f"{name}_first"], out[f"{name}_final"] = float(np.mean(log[:n])), float(np.mean(log[-n:]))
        if self._ess:
            out["bc_ess_mean"] = float(np.nanmean(self._ess))
        return out

    def state_dict(self) -> dict:
        return {"clf": self.clf.state_dict(), "bc": self.bc.state_dict(),
                "value": None if self.value is None else self.value.state_dict(),
                "logs": (list(self._clf_log), list(self._ess), list(self._dice_log))}

    def load_state_dict(self, state: dict) -> None:
        self.clf.load_state_dict(state["clf"])
        self.bc.load_state_dict(state["bc"])
        self.value = None
        if state["value"] is not None:
            self._start_dice()  # recomputes the same alpha and reward from the frozen classifier
            self.value.load_state_dict(state["value"])
        self._clf_log, self._ess, self._dice_log = (list(x) for x in state["logs"])


def build(config: SafeDICEAlgoConfig, data: LearnerData, seed: int) -> SafeDICE:
    return SafeDICE(config, data, seed)


SPEC = register(AlgoSpec("safedice", SafeDICEAlgoConfig, build,
                         description="classifier D_N vs D_U -> density-ratio reward -> DICE value -> weighted BC"))
