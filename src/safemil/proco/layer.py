"""PROCO as a data layer: model -> counterfactual unsafe samples -> feasibility, in resumable steps.

`ProcoLayer` owns the dynamics ensemble, the knowledge cost, the synthetic
transitions and the feasibility critic. An algorithm steps it for
``layer.total_steps`` steps (model training, then one rollout pass, then
feasibility training) and then asks it what it learned:

- `row_feasibility` on real (s, a, s'): ``V_h(s)``, ``Q_h(s, a)``, ``V_h(s')``;
- `augmented`: real transitions (costs raised where the next state is
  infeasible) plus the synthetic ones, for a base that learns a cost critic.

The synthetic set is a deterministic function of the seed and the frozen
model, so a checkpoint stores the model, not the samples; it is regenerated
on resume.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from safemil.costs.knowledge import KnowledgeCost
from safemil.data.dataset import LabelledView
from safemil.errors import ConfigError
from safemil.models import DynamicsEnsemble, EnsembleConfig, Transitions
from safemil.proco.critics import CriticConfig, FeasibilityCritic
from safemil.proco.knowledge import KnowledgeSettings, make_knowledge_cost
from safemil.proco.rollouts import (
    RolloutConfig,
    Synthetic,
    counterfactual_rollouts,
    real_disagreement,
)
from safemil.proco.shield import (
    EliteDynamics,
    ShieldConfig,
    ShieldedPolicy,
    action_grid,
    shield_state,
)


def _feas_critic() -> CriticConfig:
    return CriticConfig(expectile=0.99)


@dataclass
class ProcoLayerConfig:
    knowledge: KnowledgeSettings = field(default_factory=KnowledgeSettings)
    ensemble: EnsembleConfig = field(default_factory=EnsembleConfig)
    model_steps: int = 2000  # dynamics-ensemble updates: the layer's first phase
    validate_every: int = 250  # model steps between held-out validations, which re-rank the elites
    rollout: RolloutConfig = field(default_factory=RolloutConfig)
    feasibility: CriticConfig = field(default_factory=_feas_critic)
    # feasibility-critic updates after the model and its rollouts (proco's reward critic trains during
    # them); skipped where a base uses the model alone (bcq-lag+proco with layer_costs=false)
    feasibility_steps: int = 5000
    synthetic_ratio: float = 0.5  # share of each feasibility batch drawn from the synthetic transitions
    h_unsafe: float = 25.0  # constraint value h of a transition with cost > 0 (positive: a violation)
    h_safe: float = -1.0  # constraint value h of a transition with cost 0 (negative: safe)
    # Which synthetic transitions a base learns from: "costly" (the counterfactual unsafe ones)
    # or "all". Model rollouts carry model-predicted rewards with no uncertainty penalty, so
    # safe synthetic rows mostly teach a Q-learning base that out-of-data actions pay more.
    base_synthetic: str = "costly"
    # A counterfactual violation ends its rollout, and the state after it lies off the data, where a
    # critic's value is extrapolation: true makes those rows terminal for the base's critics.
    violation_terminal: bool = False
    # The deployed policy filtered by the model and the knowledge cost (safemil/proco/shield.py); off by default.
    shield: ShieldConfig = field(default_factory=ShieldConfig)

    def __post_init__(self):
        if self.base_synthetic not in ("costly", "all"):
            raise ConfigError(f"layer.base_synthetic must be 'costly' or 'all', got {self.base_synthetic!r}")
        if self.model_steps < 1 or self.feasibility_steps < 1 or self.validate_every < 1:
            raise ConfigError("layer.model_steps, layer.feasibility_steps and layer.validate_every must be >= 1")
        if not 0 <= self.synthetic_ratio < 1:
            raise ConfigError(f"layer.synthetic_ratio must be in [0, 1), got {self.synthetic_ratio}")


def _t(x) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x), dtype=torch.float32)


class ProcoLayer:
    def __init__(self, data: LabelledView, task: str, act_low: np.ndarray, act_high: np.ndarray,
                 config: ProcoLayerConfig, seed: int, model_only: bool = False):
        """``model_only``: train the dynamics model alone (for a base that uses nothing else of the layer,
        such as a safety filter on a base trained on the data's own costs): no rollouts, no feasibility."""
        self.config, self.seed, self.task, self.model_only = config, seed, task, model_only
        self.act_low, self.act_high = act_low, act_high
        action_grid(act_low, act_high, config.shield.grid)  # refuse an oversized grid now, not after training
        v = data.learner
        self.obs, self.act, self.next_obs = v.observations, v.actions, v.next_observations
        self.rewards = np.asarray(data.rewards, np.float32)
        self.done = np.asarray(v.terminals, np.float32)
        self.knowledge = make_knowledge_cost(task, config.knowledge)
        kc = np.asarray(self.knowledge.transition_cost(self.obs, self.next_obs), np.float32)
        self.real_knowledge_frac = float((kc > 0).mean())
        self.real_costs = np.maximum(np.asarray(data.costs, np.float32), kc)
        self.model = DynamicsEnsemble(Transitions(self.obs, self.act, self.next_obs, self.rewards),
                                      config.ensemble, seed)
        self.feas = FeasibilityCritic(self.obs, self.act, config.feasibility, config.h_unsafe, config.h_safe)
        self.rng = np.random.default_rng(seed + 17)
        self.synthetic: Synthetic | None = None
        self.cut: float | None = None  # the disagreement cut, set with the synthetic transitions
        self.report: dict = {}
        self.total_steps = config.model_steps + (0 if model_only else config.feasibility_steps)
        self._t = {k: _t(getattr(self, k)) for k in ("obs", "act", "next_obs", "rewards", "done", "real_costs")}

    # -- steps ---------------------------------------------------------------------------------
    def step(self, step: int) -> dict[str, float]:
        c = self.config
        if step < c.model_steps:
            m = self.model.train_step()
            if (step + 1) % c.validate_every == 0 or step + 1 == c.model_steps:
                m.update(self.model.validate())
            return m
        if self.synthetic is None:
            self._make_synthetic()
        return self.feas.step(*self.batch(c.feasibility.batch_size, real_only=False, kind="cost"))

    def batch(self, size: int, real_only: bool, kind: str) -> tuple[torch.Tensor, ...]:
        """(s, a, s', cost-or-reward, done): real rows, plus synthetic ones unless ``real_only``."""
        syn = self.synthetic
        n_syn = 0 if real_only or syn is None or len(syn) == 0 else int(round(size * self.config.synthetic_ratio))
        i = torch.from_numpy(self.rng.integers(len(self.obs), size=size - n_syn))
        t = self._t
        lab = t["real_costs"] if kind == "cost" else t["rewards"]
        out = [t["obs"][i], t["act"][i], t["next_obs"][i], lab[i], t["done"][i]]
        if n_syn:
            j = self.rng.integers(len(syn), size=n_syn)
            lab_s = syn.costs if kind == "cost" else syn.rewards
            extra = [syn.observations[j], syn.actions[j], syn.next_observations[j], lab_s[j], np.zeros(n_syn)]
            out = [torch.cat([a, _t(b)]) for a, b in zip(out, extra, strict=True)]
        return tuple(out)

    def _make_synthetic(self) -> None:
        rc = self.config.rollout
        dis = real_disagreement(self.model, self.obs, self.act)
        self.cut = cut = (rc.max_disagreement if rc.max_disagreement is not None
                          else float(np.quantile(dis, rc.cut_quantile)))
        k = self.knowledge
        soft = KnowledgeCost(k.task, k.expression, k.config.margin, rc.steer_softness)
        self.synthetic, rep = counterfactual_rollouts(
            self.model, k.transition_cost, self.obs, self.act, self.act_low, self.act_high, rc, cut,
            seed=self.seed + 1, score=soft.transition_cost)
        rep["disagreement_real_q"] = {k: float(np.quantile(dis, q)) for k, q in
                                      (("p10", 0.1), ("p50", 0.5), ("p90", 0.9), ("max", 1.0))}
        self.report.update(rep)

    # -- what the layer learned -----------------------------------------------------------------
    @torch.no_grad()
    def row_feasibility(self, batch: int = 8192) -> dict[str, np.ndarray]:
        """V_h(s), Q_h(s, a), V_h(s') on every real row."""
        out: dict[str, list[np.ndarray]] = {"v": [], "q": [], "v_next": []}
        t = self._t
        for i in range(0, len(self.obs), batch):
            s, a, s2 = t["obs"][i:i + batch], t["act"][i:i + batch], t["next_obs"][i:i + batch]
            out["v"].append(self.feas.v(s).numpy())
            out["q"].append(self.feas.q(s, a).numpy())
            out["v_next"].append(self.feas.v(s2).numpy())
        return {k: np.concatenate(v) for k, v in out.items()}

    def augmented(self) -> dict[str, np.ndarray]:
        """Real transitions (cost 1 where the next state is infeasible) followed by the synthetic ones
        (`base_rows`)."""
        f = self.row_feasibility()
        real = {"observations": self.obs, "actions": self.act, "next_observations": self.next_obs,
                "rewards": self.rewards, "costs": np.maximum(self.real_costs, (f["v_next"] > 0).astype(np.float32)),
                "terminals": self.done}
        assert self.synthetic is not None
        syn = self.base_rows(self.synthetic)
        out = {k: np.concatenate([v, syn[k]]).astype(np.float32) for k, v in real.items()}
        out["synthetic"] = np.concatenate([np.zeros(len(self.obs), bool), np.ones(len(syn["costs"]), bool)])
        return out

    def base_rows(self, syn: Synthetic) -> dict[str, np.ndarray]:
        """The synthetic rows a base learns from, as a transition buffer: the costly ones unless
        ``base_synthetic = "all"``; a violation is terminal if ``violation_terminal``."""
        if self.config.base_synthetic == "costly":
            syn = syn.subset(syn.costs > 0)
        term = (syn.costs > 0) if self.config.violation_terminal else np.zeros(len(syn), bool)
        return {"observations": syn.observations, "actions": syn.actions, "next_observations": syn.next_observations,
                "rewards": syn.rewards, "costs": syn.costs, "terminals": term.astype(np.float32)}

    def policy_rollouts(self, policy, config: RolloutConfig, seed: int) -> tuple[Synthetic, dict]:
        """Rollouts of a learner's current ``policy`` in the frozen model (same knowledge cost and cut)."""
        assert self.synthetic is not None, "the model and its cut exist after the layer's steps"
        return counterfactual_rollouts(self.model, self.knowledge.transition_cost, self.obs, self.act,
                                       self.act_low, self.act_high, config, self.cut, seed=seed, policy=policy)

    def shielded(self, inner) -> ShieldedPolicy:
        """``inner`` guarded by this layer's model and knowledge cost (``shield`` settings)."""
        return ShieldedPolicy(inner, EliteDynamics.from_ensemble(self.model), self.knowledge, self.config.shield,
                              self.act_low, self.act_high)

    def shield_state(self, inner_state: dict) -> dict:
        return shield_state(inner_state, EliteDynamics.from_ensemble(self.model), self.knowledge,
                            self.config.shield, self.act_low, self.act_high)

    def summary(self) -> dict:
        out = dict(self.report)
        out["knowledge_expression"] = self.knowledge.canonical
        out["knowledge_margin"] = self.knowledge.config.margin
        out["real_flagged_by_knowledge_frac"] = self.real_knowledge_frac
        out["model_only"] = self.model_only
        if self.model.steps:
            out["model_holdout_mse"] = float(np.nanmean(self.model.holdout_mse[self.model.elites]))
        if self.synthetic is not None:
            f = self.row_feasibility()
            out["real_infeasible_frac"] = float((f["v"] > 0).mean())  # safe-but-infeasible states
            out["real_action_leaves_feasible_frac"] = float(((f["v"] <= 0) & (f["q"] > 0)).mean())
        return out

    def state_dict(self) -> dict:
        return {"model": self.model.state_dict(), "feas": self.feas.state_dict(),
                "rng": self.rng.bit_generator.state, "has_synthetic": self.synthetic is not None}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.feas.load_state_dict(state["feas"])
        if state["has_synthetic"]:
            self._make_synthetic()  # deterministic in the frozen model and the seed
        self.rng.bit_generator.state = state["rng"]
