"""Counterfactual unsafe samples (PROCO step 3): short model rollouts under exploratory actions.

From dataset states, the ensemble is rolled out for ``horizon`` steps. The
first action is the dataset action perturbed by Gaussian noise (or, with
probability ``uniform_prob``, a uniform random action); later actions are a
random walk from it, so a rollout keeps pushing in one direction, which is
how a velocity constraint gets violated. A ``steer_frac`` share of the rollouts
is steered by the knowledge itself: at each step ``candidates`` perturbed
actions are tried in the model (elite mean) and the one whose predicted next
state has the highest soft knowledge score is taken, so those rollouts head
for the states the knowledge calls unsafe (counterfactuals the data lacks). Every synthetic transition is labelled
by the knowledge cost. A transition whose ensemble disagreement exceeds the
cut is dropped and its rollout stopped (the model is extrapolating there); a
rollout also stops at its first violation (what follows adds nothing to
feasibility). All rollouts advance together as one batch per step.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import torch

from safemil.errors import ConfigError
from safemil.models import DynamicsEnsemble


@dataclass
class RolloutConfig:
    n_starts: int = 5000  # rollouts, each from a random dataset (s, a) (at most the dataset's rows)
    horizon: int = 10  # model steps per rollout at most (the disagreement cut or a violation ends it sooner)
    noise: float = 0.3  # std of the action perturbation / random-walk step, fraction of the action half-range
    uniform_prob: float = 0.25  # chance that a rollout's first action is uniform over the action box
    cut_quantile: float = 0.99  # disagreement cut = this quantile of the disagreement on real transitions
    max_disagreement: float | None = None  # an absolute cut instead of the quantile rule
    steer_frac: float = 0.5  # share of rollouts steered towards the knowledge's unsafe set
    candidates: int = 8  # actions tried per steered step
    steer_softness: float = 0.5  # softness of the knowledge score used for steering (fraction of thresholds)
    # true: each model step is drawn from a random elite's predicted Gaussian; false: that elite's mean
    # (where the predicted spread dwarfs a step's real change, as the nav tasks' lidar, a draw jumps)
    sample: bool = True

    def __post_init__(self):
        if self.n_starts < 1 or self.horizon < 1:
            raise ConfigError("rollout.n_starts and rollout.horizon must be >= 1")
        if not 0 < self.cut_quantile <= 1:
            raise ConfigError(f"rollout.cut_quantile must be in (0, 1], got {self.cut_quantile}")
        if not 0 <= self.steer_frac <= 1 or self.candidates < 1 or self.steer_softness <= 0:
            raise ConfigError("need rollout.steer_frac in [0, 1], rollout.candidates >= 1, rollout.steer_softness > 0")
        if self.noise < 0 or not 0 <= self.uniform_prob <= 1:
            raise ConfigError("rollout.noise must be >= 0 and rollout.uniform_prob in [0, 1]")


@dataclass
class Synthetic:
    """Synthetic transitions (rows align); ``step`` is the rollout step each came from."""

    observations: np.ndarray
    actions: np.ndarray
    next_observations: np.ndarray
    rewards: np.ndarray
    costs: np.ndarray
    disagreement: np.ndarray
    step: np.ndarray

    def __len__(self) -> int:
        return len(self.observations)

    def subset(self, keep: np.ndarray) -> Synthetic:
        """The rows where ``keep`` is true."""
        return Synthetic(*(getattr(self, f.name)[keep] for f in fields(self)))


@torch.no_grad()
def real_disagreement(model: DynamicsEnsemble, obs: np.ndarray, act: np.ndarray, batch: int = 8192) -> np.ndarray:
    """The ensemble's disagreement on real transitions: the reference for the cut."""
    out = [model.predict(torch.as_tensor(obs[i:i + batch]), torch.as_tensor(act[i:i + batch]), sample=False)
           ["disagreement"].numpy() for i in range(0, len(obs), batch)]
    return np.concatenate(out) if out else np.zeros(0, np.float32)


@torch.no_grad()
def counterfactual_rollouts(model: DynamicsEnsemble, cost, obs: np.ndarray, act: np.ndarray,
                            act_low: np.ndarray, act_high: np.ndarray, config: RolloutConfig,
                            cut: float, seed: int = 0, score=None, policy=None) -> tuple[Synthetic, dict]:
    """Roll out from ``config.n_starts`` random (obs, act) rows; return the kept transitions and a report.

    ``cost`` maps (obs, next_obs) to a per-transition cost (e.g. `KnowledgeCost.transition_cost`);
    ``score`` (obs, next_obs) -> a continuous unsafe score used to steer (None: no steering).
    ``policy`` (obs tensor -> action tensor, env units): every action is the policy's plus N(0, ``noise``)
    instead of the dataset action and a random walk (no uniform actions), so the rollouts go where a
    learner's current policy drives.
    """
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    n = min(config.n_starts, len(obs))
    start = rng.choice(len(obs), size=n, replace=len(obs) < config.n_starts)
    low = torch.as_tensor(act_low, dtype=torch.float32)
    high = torch.as_tensor(act_high, dtype=torch.float32)
    half = (high - low) / 2
    s = torch.as_tensor(obs[start], dtype=torch.float32)
    a = torch.as_tensor(act[start], dtype=torch.float32)
    a = a + torch.randn(a.shape, generator=gen) * config.noise * half
    uni = torch.rand(n, generator=gen) < (config.uniform_prob if policy is None else 0.0)
    a[uni] = low + torch.rand((int(uni.sum()), a.shape[1]), generator=gen) * (high - low)
    steer = torch.rand(n, generator=gen) < (config.steer_frac if score is not None else 0.0)
    alive = torch.ones(n, dtype=torch.bool)
    keep: list[dict[str, torch.Tensor]] = []
    n_cut = n_unsafe = 0
    cut_dis: list[torch.Tensor] = []
    for k in range(config.horizon):
        if policy is not None:
            a = policy(s) + torch.randn(a.shape, generator=gen) * config.noise * half
        a = torch.minimum(torch.maximum(a, low), high)
        idx = torch.nonzero(alive).flatten()
        if len(idx) == 0:
            break
        st = idx[steer[idx]]
        if len(st) and config.candidates > 1:
            a[st] = _steered(model, score, s[st], a[st], low, high, half, config, gen)
        pred = model.predict(s[idx], a[idx], generator=gen, sample=config.sample)
        dis = pred["disagreement"]
        ok = dis <= cut
        c = torch.as_tensor(cost(s[idx], pred["next_obs"]), dtype=torch.float32)
        n_cut += int((~ok).sum())
        cut_dis.append(dis[~ok])
        kept = idx[ok]
        keep.append({"o": s[kept], "a": a[kept], "o2": pred["next_obs"][ok],
                     "r": pred.get("reward", torch.zeros(len(idx)))[ok], "c": c[ok], "d": dis[ok],
                     "k": torch.full((len(kept),), k)})
        n_unsafe += int((c[ok] > 0).sum())
        s = s.clone()
        s[kept] = pred["next_obs"][ok]
        alive[idx[~ok]] = False
        alive[kept[c[ok] > 0]] = False
        if policy is None:
            a = a + torch.randn(a.shape, generator=gen) * config.noise * half
    cat = {key: torch.cat([b[key] for b in keep]).numpy() if keep else np.zeros(0) for key in "o a o2 r c d k".split()}
    syn = Synthetic(cat["o"], cat["a"], cat["o2"], cat["r"], cat["c"], cat["d"], cat["k"].astype(np.int64))
    unsafe_d = syn.disagreement[syn.costs > 0]
    cut_all = torch.cat(cut_dis).numpy() if cut_dis else np.zeros(0)
    report = {
        "rollout_starts": int(n),
        "rollouts_steered": int(steer.sum()),
        "rollout_cut_threshold": float(cut),
        "synthetic_transitions": len(syn),
        "synthetic_unsafe": int(n_unsafe),
        "synthetic_unsafe_frac": float(n_unsafe / max(1, len(syn))),
        "rollouts_cut": int(n_cut),
        "disagreement_kept_q": _quantiles(syn.disagreement),
        "disagreement_unsafe_q": _quantiles(unsafe_d),
        "disagreement_cut_q": _quantiles(cut_all),
    }
    return syn, report


@torch.no_grad()
def _steered(model, score, s, a, low, high, half, config: RolloutConfig, gen) -> torch.Tensor:
    """Of ``candidates`` perturbations of ``a`` (the first is ``a`` itself), the one the knowledge scores worst."""
    k, m = config.candidates, len(s)
    cand = a[None].repeat(k, 1, 1)
    cand[1:] += torch.randn(cand[1:].shape, generator=gen) * config.noise * half
    cand = torch.minimum(torch.maximum(cand, low), high).reshape(k * m, -1)
    s_rep = s[None].expand(k, -1, -1).reshape(k * m, -1)
    nxt = model.predict(s_rep, cand, sample=False)["next_obs"]
    sc = torch.as_tensor(score(s_rep, nxt), dtype=torch.float32).reshape(k, m)
    best = sc.argmax(0)
    return cand.reshape(k, m, -1)[best, torch.arange(m)]


def _quantiles(x: np.ndarray) -> dict[str, float] | None:
    if len(x) == 0:
        return None
    q = np.quantile(x, [0.1, 0.5, 0.9, 1.0])
    return {"p10": float(q[0]), "p50": float(q[1]), "p90": float(q[2]), "max": float(q[3])}
