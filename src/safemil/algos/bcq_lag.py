"""BCQ-Lag: batch-constrained Q-learning with a PID Lagrangian on the cost (OSRL's base), and +PROCO.

- A conditional VAE models the data's actions (the behaviour support);
- a perturbation actor moves a decoded action by at most ``phi`` (in the
  [-1, 1] action space) to maximise ``Q_r - lambda Q_c``;
- twin reward critics (target: 0.75 min + 0.25 max) and twin cost critics
  (pessimistic: 0.75 max + 0.25 min), soft target updates;
- lambda follows a PID controller on ``E[Q_c(s, pi(s))] - q_limit`` with
  ``q_limit = cost_limit (1 - gamma^L) / ((1 - gamma) L)`` (L: the episode length).

That limit is on the scale of a CONVERGED cost critic (about ``1 / (1 - gamma)``
times the per-step cost rate). Soft target updates at rate ``tau`` let the
critic reach only ``1 - (1 - tau (1 - gamma))^steps`` of that scale: with OSRL's
tau 0.005 that is 7% after 1,500 steps and 63% after 20,000, so at short budgets
``Q_c`` stays far below the limit whatever the policy does and lambda never
acts. ``tau=None`` (default) therefore picks tau from the budget (`critic_tau`);
the summary reports the scale reached and warns when it is below 90%.

The costly rows are rare on (nearly) safe data, so ``unsafe_ratio`` of each
critic batch is drawn from the rows with cost > 0 (real and synthetic). A row's
Bellman target does not depend on how often it is drawn, so this makes those
rows fitted instead of averaged away; where a safe and an unsafe outcome share
an input it tilts ``Q_c`` upward (the conservative side). Only the cost critics
see these extra rows: the reward critics train on the rest of the batch, so the
oversampling does not shift where ``Q_r`` is fitted.

``bcq-lag+proco`` runs the same learner behind the PROCO layer: the critics
train on the real transitions (cost 1 where PROCO marks the next state
infeasible) mixed with the synthetic counterfactual ones; the VAE, which
defines what actions are supported, trains on the real ones only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from safemil.algos.base import AlgoSpec, LearnerAlgorithm, LearnerData, register
from safemil.algos.layered import Layered
from safemil.algos.offline import require_offline
from safemil.errors import ConfigError
from safemil.networks import mlp
from safemil.optim import adam
from safemil.policies.actors import TorchPolicy
from safemil.policies.bcq import BCQPolicyNet
from safemil.proco.layer import ProcoLayer, ProcoLayerConfig
from safemil.proco.rollouts import RolloutConfig


@dataclass
class BCQLagConfig:
    steps: int = 20_000  # updates, each of VAE, critics, actor and lambda; with tau None it also sets tau
    batch_size: int = 256  # rows per VAE, critic and actor batch
    hidden: tuple[int, ...] = (256, 256)  # hidden sizes of the VAE, the perturbation actor and the critics
    lr_actor: float = 1e-3  # Adam rate of the perturbation actor
    lr_critic: float = 1e-3  # Adam rate of the reward and cost critics
    lr_vae: float = 1e-3  # Adam rate of the behaviour VAE (encoder and decoder)
    gamma: float = 0.99  # discount of both critics and of q_limit
    tau: float | None = None  # soft-update rate; None: from the budget (critic_tau)
    phi: float = 0.05  # largest perturbation of a VAE-decoded action, in the [-1, 1] action space
    reward_scale: float = 0.1  # rewards are multiplied by this in the reward critic's targets
    cost_scale: float = 1.0  # costs are multiplied by this in the cost critic's targets (q_limit is not)
    pid: tuple[float, float, float] = (0.1, 0.003, 0.001)  # KP, KI, KD
    lambda_max: float = 100.0  # cap on lambda; the PID integral is capped at lambda_max / KI
    episode_len: int | None = None  # None: the longest trajectory in the data
    synthetic_ratio: float = 0.5  # +proco with layer.base_synthetic=all: share of each critic batch from them
    unsafe_ratio: float = 0.1  # extra share of each cost-critic batch from the rows with cost > 0 (if any)
    # true: the PID's limit is max(q_limit, qc_data), qc_data a running mean of Q_c on the data's own actions,
    # so the policy is never asked to be cheaper than the data by the cost critic's own pricing. Without it,
    # where relabelled (PROCO) costs price the safe data itself over q_limit, lambda climbs to its cap and
    # the policy stands still
    data_budget: bool = False

    def __post_init__(self):
        if self.steps < 1 or self.batch_size < 1:
            raise ConfigError("steps and batch_size must be >= 1")
        if not self.hidden or any(h < 1 for h in self.hidden):  # no hidden layer: linear critics and actor
            raise ConfigError(f"hidden sizes must be a non-empty list of positive sizes, got {list(self.hidden)}")
        if not 0 < self.gamma < 1 or (self.tau is not None and not 0 < self.tau <= 1):
            raise ConfigError("gamma must be in (0, 1) and tau in (0, 1] (or null: from the budget)")
        if len(self.pid) != 3 or any(g < 0 for g in self.pid):
            raise ConfigError(f"pid must be three non-negative gains (KP, KI, KD), got {self.pid}")
        if self.phi < 0 or self.lambda_max < 0:
            raise ConfigError(f"phi and lambda_max must be >= 0, got {self.phi}, {self.lambda_max}")
        if not 0 <= self.synthetic_ratio < 1 or not 0 <= self.unsafe_ratio < 1 \
                or self.synthetic_ratio + self.unsafe_ratio >= 1:
            raise ConfigError(f"synthetic_ratio ({self.synthetic_ratio}) and unsafe_ratio ({self.unsafe_ratio}) "
                              "must be >= 0 with a sum below 1 (the rest of each critic batch is real)")


def critic_scale_reached(tau: float, gamma: float, steps: int) -> float:
    """Share of a constant cost's converged ``Q = c / (1 - gamma)`` that ``steps`` soft target updates reach.

    The online critic fits its target quickly; the target moves ``tau`` of the way per step, so
    ``Q_n = (1 - tau (1 - gamma)) Q_(n-1) + tau c``.
    """
    return 1.0 - (1.0 - tau * (1.0 - gamma)) ** steps


def critic_tau(tau: float | None, gamma: float, steps: int) -> float:
    """``tau`` if given, else the rate at which ``steps`` updates reach 95% of the scale (never below OSRL's 0.005)."""
    if tau is not None:
        return tau
    return float(min(1.0, max(0.005, -np.log(0.05) / ((1.0 - gamma) * steps))))


class PIDLagrangian:
    """Stooke et al. (2020): ``e = J_C - limit``, ``I = (I + e)+``, ``lambda = (KP e + KI I + KD (e - e_prev)+)+``.

    Called once per training step with the batch estimate of the policy's cost value ``J_C``. The
    integral is capped at ``lambda_max / KI`` (anti-windup): uncapped, a long excursion over the limit
    keeps lambda pinned at its maximum for as many steps after the policy is back under it.
    """

    def __init__(self, gains: tuple[float, float, float], limit: float, lambda_max: float):
        self.gains, self.limit, self.lambda_max = gains, limit, lambda_max
        self.lam = self.integral = self.prev_err = self.peak = 0.0

    def update(self, jc: float) -> float:
        kp, ki, kd = self.gains
        err = jc - self.limit
        self.integral = max(0.0, self.integral + err)
        if ki > 0:
            self.integral = min(self.integral, self.lambda_max / ki)
        self.lam = float(np.clip(kp * err + ki * self.integral + kd * max(0.0, err - self.prev_err), 0, self.lambda_max))
        self.prev_err, self.peak = err, max(self.peak, self.lam)
        return self.lam

    def state(self) -> list[float]:
        return [self.lam, self.integral, self.prev_err, self.peak]

    def load(self, s: list[float]) -> None:
        self.lam, self.integral, self.prev_err = s[:3]
        self.peak = s[3] if len(s) > 3 else self.lam


class _Twin(nn.Module):
    def __init__(self, obs_dim: int, act_dim: int, hidden):
        super().__init__()
        self.q1 = mlp([obs_dim + act_dim, *hidden, 1])
        self.q2 = mlp([obs_dim + act_dim, *hidden, 1])

    def forward(self, s_n, a):
        x = torch.cat([s_n, a], -1)
        return self.q1(x).squeeze(-1), self.q2(x).squeeze(-1)


def _soft_update(net: nn.Module, target: nn.Module, tau: float) -> None:
    with torch.no_grad():
        for p, pt in zip(net.parameters(), target.parameters(), strict=True):
            pt.mul_(1 - tau).add_(p, alpha=tau)


class BCQLagLearner:
    """The BCQ-Lag updates over a real buffer (VAE) and a critic buffer (real, or real + synthetic)."""

    def __init__(self, config: BCQLagConfig, real: dict[str, np.ndarray], act_low, act_high, cost_limit: float,
                 episode_len: int, seed: int):
        self.config = c = config
        obs = torch.as_tensor(real["observations"], dtype=torch.float32)
        mean, std = obs.mean(0), obs.std(0).clamp_min(1e-3)
        od, ad = obs.shape[1], real["actions"].shape[1]
        # networks from the seed alone: `bcq-lag` and `bcq-lag+proco` with one seed start from the same ones
        # (whatever the PROCO layer drew first), so the two are compared on common random numbers
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            self.policy_net = BCQPolicyNet(od, ad, tuple(c.hidden), c.phi, mean, std, act_low, act_high)
            self.target_perturb = mlp([od + ad, *c.hidden, ad])
            self.qr, self.qc = _Twin(od, ad, c.hidden), _Twin(od, ad, c.hidden)
            self.qr_t, self.qc_t = _Twin(od, ad, c.hidden), _Twin(od, ad, c.hidden)
        self.target_perturb.load_state_dict(self.policy_net.perturb.state_dict())
        self.qr_t.load_state_dict(self.qr.state_dict())
        self.qc_t.load_state_dict(self.qc.state_dict())
        for m in (self.target_perturb, self.qr_t, self.qc_t):
            m.requires_grad_(False)
        p = self.policy_net
        self.opt_vae = adam([*p.encoder.parameters(), *p.decoder.parameters()], c.lr_vae)
        self.opt_actor = adam(p.perturb.parameters(), c.lr_actor)
        self.opt_critic = adam([*self.qr.parameters(), *self.qc.parameters()], c.lr_critic)
        L = c.episode_len or episode_len
        self.q_limit = cost_limit * (1 - c.gamma ** L) / ((1 - c.gamma) * L)
        self.tau = critic_tau(c.tau, c.gamma, c.steps)
        self.pid = PIDLagrangian(c.pid, self.q_limit, c.lambda_max)
        self.qc_data = 0.0  # EMA of max Q_c(s, a_data) over the critic batches' real rows
        self.rng = np.random.default_rng(seed)
        self.gen = torch.Generator().manual_seed(seed)
        self.real = {k: torch.as_tensor(v) for k, v in real.items()}
        self.synthetic: dict[str, torch.Tensor] | None = None
        self.synthetic_share = c.synthetic_ratio
        self.unsafe: dict[str, torch.Tensor] | None = None
        self._index_unsafe()
        self.act_scale = p.act_scale
        self.act_center = p.act_center
        self.act_low, self.act_high = np.asarray(act_low), np.asarray(act_high)
        self.last: dict[str, float] = {}

    @property
    def lam(self) -> float:
        return self.pid.lam

    def set_synthetic(self, syn: dict[str, np.ndarray] | None, proportional: bool = False) -> None:
        """Synthetic critic rows; call after any change of the real costs (the costly pool is rebuilt).

        ``proportional``: draw them at their share of all rows instead of ``synthetic_ratio``. For a
        few hundred counterfactual unsafe rows, a fixed half of every batch would bootstrap their
        out-of-data next states thousands of times each, and the cost critic diverges (Walker2d:
        Q_c about 6e4); they are oversampled through the costly pool (``unsafe_ratio``) instead.
        """
        self.synthetic = None if syn is None or len(syn["observations"]) == 0 else \
            {k: torch.as_tensor(v) for k, v in syn.items()}
        n_syn = 0 if self.synthetic is None else len(self.synthetic["observations"])
        self.synthetic_share = (n_syn / (n_syn + len(self.real["observations"])) if proportional
                                else self.config.synthetic_ratio)
        self._index_unsafe()

    def _index_unsafe(self) -> None:
        bufs = [b for b in (self.real, self.synthetic) if b is not None]
        rows = [{k: v[b["costs"] > 0] for k, v in b.items()} for b in bufs]
        n = sum(len(r["costs"]) for r in rows)
        self.unsafe = {k: torch.cat([r[k].float() for r in rows]) for k in rows[0]} if n else None

    def _critic_batch(self) -> tuple[dict[str, torch.Tensor], int, int]:
        """Real rows, plus synthetic ones (``synthetic_share``), then ``unsafe_ratio`` costly ones where they
        exist; also how many leading rows are real, and how many the reward critic uses (all but the
        oversampled costly ones)."""
        c = self.config
        n_syn = int(round(c.batch_size * self.synthetic_share)) if self.synthetic is not None else 0
        n_uns = int(round(c.batch_size * c.unsafe_ratio)) if self.unsafe is not None else 0
        n_real = c.batch_size - n_syn - n_uns
        parts = [self._sample(self.real, n_real)]
        parts += [self._sample(buf, n) for buf, n in ((self.synthetic, n_syn), (self.unsafe, n_uns)) if n]
        return {k: torch.cat([p[k].float() for p in parts]) for k in parts[0]}, n_real, c.batch_size - n_uns

    def _sample(self, buf: dict[str, torch.Tensor], n: int) -> dict[str, torch.Tensor]:
        i = torch.from_numpy(self.rng.integers(len(buf["observations"]), size=n))
        return {k: v[i] for k, v in buf.items()}

    def _squash(self, a: torch.Tensor) -> torch.Tensor:
        return ((a - self.act_center) / self.act_scale).clamp(-1, 1)

    def step(self) -> dict[str, float]:
        """One update of each part, in this order: VAE, critics, actor, Lagrange multiplier, targets."""
        vae_loss = self.vae_step()
        critic_loss, batch_cost_frac = self.critic_step()
        qr_pi, qc_pi = self.actor_step()
        self.lagrange_step(qc_pi)
        targets = ((self.qr, self.qr_t), (self.qc, self.qc_t), (self.policy_net.perturb, self.target_perturb))
        for net, target in targets:
            _soft_update(net, target, self.tau)
        self.last = {"vae_loss": vae_loss, "critic_loss": critic_loss, "qr_pi": qr_pi, "qc_pi": qc_pi,
                     "q_limit": self.q_limit, "qc_data": self.qc_data,
                     "lambda": self.lam, "batch_cost_frac": batch_cost_frac}
        return self.last

    def vae_step(self) -> float:
        """The action support, on real data only: reconstruction + 0.5 KL of a conditional VAE."""
        p = self.policy_net
        b = self._sample(self.real, self.config.batch_size)
        s_n, a = p.norm(b["observations"].float()), self._squash(b["actions"].float())
        mu, log_std = p.encoder(torch.cat([s_n, a], -1)).chunk(2, -1)
        log_std = log_std.clamp(-4, 15)
        z = mu + log_std.exp() * torch.randn(mu.shape, generator=self.gen)
        recon = torch.tanh(p.decoder(torch.cat([s_n, z], -1)))
        kl = -0.5 * (1 + 2 * log_std - mu.pow(2) - (2 * log_std).exp()).mean()
        vae_loss = F.mse_loss(recon, a) + 0.5 * kl
        self.opt_vae.zero_grad(set_to_none=True)
        vae_loss.backward()
        self.opt_vae.step()
        return float(vae_loss.detach())

    def critic_step(self) -> tuple[float, float]:
        """Twin reward and cost critics on real (+ synthetic, + oversampled costly) transitions, against
        clipped double-Q targets at the target policy's action; returns (loss, share of costly rows)."""
        c, p = self.config, self.policy_net
        b, n_real, n_r = self._critic_batch()
        s_n, a = p.norm(b["observations"].float()), self._squash(b["actions"].float())
        sn2 = p.norm(b["next_observations"].float())
        r = b["rewards"].float() * c.reward_scale
        cost = b["costs"].float() * c.cost_scale
        notdone = 1 - b["terminals"].float()
        with torch.no_grad():
            z = torch.randn(*sn2.shape[:-1], p.latent, generator=self.gen)
            a_dec = p.decode(sn2, z)
            a2 = (a_dec + c.phi * torch.tanh(self.target_perturb(torch.cat([sn2, a_dec], -1)))).clamp(-1, 1)
            r1, r2 = self.qr_t(sn2, a2)
            # costs are >= 0, so a negative cost value is extrapolation error: never bootstrap from it
            c1, c2 = (x.clamp_min(0) for x in self.qc_t(sn2, a2))
            yr = r + c.gamma * notdone * (0.75 * torch.minimum(r1, r2) + 0.25 * torch.maximum(r1, r2))
            yc = cost + c.gamma * notdone * (0.75 * torch.maximum(c1, c2) + 0.25 * torch.minimum(c1, c2))
        q1, q2 = self.qr(s_n, a)
        k1, k2 = self.qc(s_n, a)
        # what the cost critic charges the data's own actions (its real rows), beside qc_pi: where the two
        # agree the constraint cannot tell the policy from the data, and only Q_c's level moves lambda
        qc_beh = float(torch.maximum(k1[:n_real], k2[:n_real]).detach().clamp_min(0).mean())
        self.qc_data += 0.01 * (qc_beh - self.qc_data)
        # the oversampled costly rows fit Q_c only: in Q_r's batch they would over-weight the out-of-data
        # states of the counterfactual rows, and the reward critic would learn to prefer standing still
        critic_loss = (F.mse_loss(q1[:n_r], yr[:n_r]) + F.mse_loss(q2[:n_r], yr[:n_r])
                       + F.mse_loss(k1, yc) + F.mse_loss(k2, yc))
        self.opt_critic.zero_grad(set_to_none=True)
        critic_loss.backward()
        self.opt_critic.step()
        return float(critic_loss.detach()), float((cost > 0).float().mean())

    def actor_step(self) -> tuple[float, float]:
        """The perturbation actor on real states: max Q_r - lambda Q_c; returns their batch means."""
        p = self.policy_net
        s_n = p.norm(self._sample(self.real, self.config.batch_size)["observations"].float())
        with torch.no_grad():
            a_dec = p.decode(s_n, torch.randn(*s_n.shape[:-1], p.latent, generator=self.gen))
        a_pi = p.perturbed(s_n, a_dec)
        qr_pi = self.qr.q1(torch.cat([s_n, a_pi], -1)).squeeze(-1)  # the first critic alone, as in BCQ
        # ...and never let the actor (or the PID) gain from a negative cost value: unclamped, lambda > 0
        # drives the actor to actions whose Q_c is far below zero
        qc_pi = torch.maximum(*self.qc(s_n, a_pi)).clamp_min(0)
        actor_loss = (-qr_pi + self.lam * qc_pi).mean()
        self.opt_actor.zero_grad(set_to_none=True)
        actor_loss.backward()
        self.opt_actor.step()
        return float(qr_pi.detach().mean()), float(qc_pi.detach().mean())

    def lagrange_step(self, qc_pi: float) -> None:
        """The PID Lagrangian on the policy's cost value (limit: q_limit, or the data's own with data_budget)."""
        if self.config.data_budget:
            self.pid.limit = max(self.q_limit, self.qc_data)
        self.pid.update(qc_pi)

    def summary(self) -> dict:
        """The constraint's story: lambda, the policy's cost value vs the limit, and whether Q_c could reach it."""
        c = self.config
        reached = critic_scale_reached(self.tau, c.gamma, c.steps)
        out = {"lambda_final": self.lam, "lambda_peak": self.pid.peak, "q_limit": self.q_limit,
               "pid_limit_final": self.pid.limit,
               "qc_pi_final": self.last.get("qc_pi"), "tau": self.tau, "critic_scale_reached": reached,
               "critic_unsafe_rows": 0 if self.unsafe is None else len(self.unsafe["costs"]),
               "qc_data_final": self.qc_data}
        if reached < 0.9:
            out["critic_warning"] = (f"with tau {self.tau:g} and {c.steps} steps the critics reach only "
                                     f"{100 * reached:.0f}% of their converged scale, which q_limit assumes: "
                                     "raise steps or tau (or leave tau unset)")
        return out

    def state_dict(self) -> dict:
        return {"policy": self.policy_net.state_dict(), "target_perturb": self.target_perturb.state_dict(),
                "qr": self.qr.state_dict(), "qc": self.qc.state_dict(), "qr_t": self.qr_t.state_dict(),
                "qc_t": self.qc_t.state_dict(), "opt_vae": self.opt_vae.state_dict(),
                "opt_actor": self.opt_actor.state_dict(), "opt_critic": self.opt_critic.state_dict(),
                "pid": self.pid.state(), "qc_data": self.qc_data,
                "rng": self.rng.bit_generator.state,
                "gen": self.gen.get_state()}

    def load_state_dict(self, s: dict) -> None:
        self.policy_net.load_state_dict(s["policy"])
        self.target_perturb.load_state_dict(s["target_perturb"])
        for k in ("qr", "qc", "qr_t", "qc_t", "opt_vae", "opt_actor", "opt_critic"):
            getattr(self, k).load_state_dict(s[k])
        self.pid.load(s["pid"])
        self.qc_data = float(s.get("qc_data", 0.0))
        self.rng.bit_generator.state = s["rng"]
        self.gen.set_state(s["gen"])

    def policy(self) -> TorchPolicy:
        return TorchPolicy(self.policy_net, seed=0)

    def policy_state(self) -> dict:
        c = self.config
        return {"kind": "bcq", "obs_dim": self.policy_net.obs_dim, "act_dim": self.policy_net.act_dim,
                "hidden": list(c.hidden), "phi": c.phi, "act_low": self.act_low.tolist(),
                "act_high": self.act_high.tolist(), "state_dict": self.policy_net.state_dict()}


def _real_buffer(off) -> dict[str, np.ndarray]:
    v = off.learner
    return {"observations": v.observations.astype(np.float32), "actions": v.actions.astype(np.float32),
            "next_observations": v.next_observations.astype(np.float32),
            "rewards": np.asarray(off.rewards, np.float32), "costs": np.asarray(off.costs, np.float32),
            "terminals": np.asarray(v.terminals, np.float32)}


class BCQLag(LearnerAlgorithm):
    def __init__(self, config: BCQLagConfig, data: LearnerData, seed: int):
        off = require_offline(data, "bcq-lag")
        self.learner = BCQLagLearner(config, _real_buffer(off), data.act_low, data.act_high, data.cost_limit,
                                     int(off.learner.index.lengths.max()), seed)
        self.total_steps = config.steps


@dataclass
class PolicyRolloutConfig:
    """Model rollouts of the current policy during the base's training (MBPO-style refreshes).

    The layer's counterfactual rollouts start from the data's actions; a policy that Q-learning makes
    faster than the data drives to states none of them reached, where the cost critic has seen no cost.
    Every ``every`` base steps, ``starts`` rollouts of the policy (plus N(0, ``noise``) of the action
    half-range) run ``horizon`` model steps under the layer's knowledge cost and disagreement cut; their
    rows (costly ones only, unless ``layer.base_synthetic=all``) join the critics' synthetic rows.
    """

    every: int = 0  # 0: off
    starts: int = 1000  # rollouts per refresh, from random dataset states
    horizon: int = 10  # model steps per rollout at most (the disagreement cut or a violation ends it sooner)
    noise: float = 0.1  # std of the Gaussian added to the policy's action, fraction of the action half-range

    def __post_init__(self):
        if self.every < 0 or self.starts < 1 or self.horizon < 1 or self.noise < 0:
            raise ConfigError("policy_rollouts needs every >= 0, starts >= 1, horizon >= 1 and noise >= 0")

    def rollout_config(self) -> RolloutConfig:
        return RolloutConfig(n_starts=self.starts, horizon=self.horizon, noise=self.noise, steer_frac=0.0)


@dataclass
class BCQLagProcoConfig:
    base: BCQLagConfig = field(default_factory=BCQLagConfig)
    layer: ProcoLayerConfig = field(default_factory=ProcoLayerConfig)
    policy_rollouts: PolicyRolloutConfig = field(default_factory=PolicyRolloutConfig)
    # The base's critics learn PROCO's costs (feasibility relabels + counterfactual rows). false: the data's own
    # costs, so the base trains exactly as `bcq-lag` does and PROCO guards only the deployed policy
    # (`layer.shield`), for tasks where the cost critic's constraint costs more return than it buys.
    layer_costs: bool = True

    def __post_init__(self):
        if not self.layer_costs and self.policy_rollouts.every:
            raise ConfigError("policy_rollouts feed the base's cost critic: they need layer_costs=true")


class BCQLagProco(Layered):
    def __init__(self, config: BCQLagProcoConfig, data: LearnerData, seed: int):
        off = require_offline(data, "bcq-lag+proco")
        # with the data's own costs the base needs only the model (for the filter): no rollouts, no feasibility
        layer = ProcoLayer(off, data.task, data.act_low, data.act_high, config.layer, seed,
                           model_only=not config.layer_costs)
        learner = BCQLagLearner(config.base, _real_buffer(off), data.act_low, data.act_high, data.cost_limit,
                                int(off.learner.index.lengths.max()), seed)
        super().__init__(layer, learner, config.base.steps)
        self.seed, self.rollouts, self.layer_costs = seed, config.policy_rollouts, config.layer_costs
        self.n_relabelled = 0
        self.layer_rows: dict[str, np.ndarray] = {}
        self.policy_rows: list[dict[str, np.ndarray]] = []  # one block per refresh, kept in the checkpoint
        self.policy_report = {"refreshes": 0, "transitions": 0, "unsafe": 0, "cut": 0}

    def prepare(self) -> None:
        if not self.layer_costs:
            return
        aug = self.layer.augmented()
        syn = aug.pop("synthetic")
        real = {k: v[~syn] for k, v in aug.items()}
        self.n_relabelled = int((real["costs"] > self.learner.real["costs"].numpy()).sum())
        self.learner.real["costs"] = torch.as_tensor(real["costs"])
        self.layer_rows = {k: v[syn] for k, v in aug.items()}
        self._set_synthetic()

    def _set_synthetic(self) -> None:
        blocks = [self.layer_rows, *self.policy_rows]
        self.learner.set_synthetic({k: np.concatenate([b[k] for b in blocks]) for k in self.layer_rows},
                                   proportional=self.layer.config.base_synthetic == "costly")

    def base_step(self, step: int) -> dict[str, float]:
        every = self.rollouts.every
        if every and step and step % every == 0:
            self._refresh_policy_rows(step)
        return self.learner.step()

    def _refresh_policy_rows(self, step: int) -> None:
        net = self.learner.policy_net
        syn, rep = self.layer.policy_rollouts(lambda s: net.unsquash(net.mode(s)), self.rollouts.rollout_config(),
                                              seed=self.seed * 100_003 + step)
        self.policy_rows.append(self.layer.base_rows(syn))
        r = self.policy_report
        r["refreshes"] += 1
        r["transitions"] += rep["synthetic_transitions"]
        r["unsafe"] += rep["synthetic_unsafe"]
        r["cut"] += rep["rollouts_cut"]
        self._set_synthetic()

    def summary(self) -> dict:
        out = {**super().summary(), **self.learner.summary(), "real_costs_raised": self.n_relabelled}
        if self.rollouts.every:
            out["policy_rollouts"] = dict(self.policy_report)
        return out

    def base_state(self) -> dict:
        return {"learner": self.learner.state_dict(), "policy_rows": self.policy_rows,
                "policy_report": dict(self.policy_report)}

    def load_base_state(self, state: dict) -> None:
        if "learner" not in state:  # a checkpoint from before policy_rollouts: the learner's state alone
            state = {"learner": state, "policy_rows": [], "policy_report": self.policy_report}
        self.learner.load_state_dict(state["learner"])
        self.policy_rows = state["policy_rows"]
        self.policy_report = dict(state["policy_report"])


register(AlgoSpec("bcq-lag", BCQLagConfig, BCQLag, data="offline",
                  description="BCQ with a PID Lagrangian on the cost critic (offline safe RL base)"))
register(AlgoSpec("bcq-lag+proco", BCQLagProcoConfig, BCQLagProco, data="offline",
                  description="BCQ-Lag behind the PROCO layer (synthetic unsafe samples, feasibility costs)"))
