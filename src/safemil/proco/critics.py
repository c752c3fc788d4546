"""Offline critics for PROCO: the Hamilton-Jacobi feasibility value and an IQL reward value.

Feasibility (FISOR style, see reference/BASELINES.md): ``h = +h_unsafe`` on a
transition with cost > 0, else ``h_safe``; ``Q_h(s, a)`` regresses on
``(1 - gamma) h + gamma max(h, V_h(s'))`` (the discounted reachability
backup: the worst constraint value the future reaches); ``V_h(s)`` is a LOW
expectile of ``Q_h(s, .)`` over the data's actions (the best action the data
supports; expectile 0.99 by default, lower than FISOR's 0.9 as a fraction
because our synthetic data deliberately puts unsafe actions at real states), so a state is infeasible (``V_h > 0``) only when every supported
action leads to a violation. The ``n_q`` Q heads are combined by max
(pessimistic about safety).

Reward (IQL): ``V(s)`` an upper expectile of ``Q(s, a)``, ``Q`` regressed on
``r + gamma (1 - done) V(s')``; heads combined by min.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from safemil.errors import ConfigError
from safemil.networks import mlp
from safemil.optim import adam


@dataclass
class CriticConfig:
    hidden: tuple[int, ...] = (256, 256)  # hidden sizes of each Q head and of V
    lr: float = 3e-4  # Adam rate of the Q heads and of V
    batch_size: int = 256  # transitions per update
    gamma: float = 0.99  # discount of the backup
    # in (0, 1). Feasibility: the weight on V_h above Q_h (higher: V_h nearer the best action's Q_h);
    # reward (IQL): the weight on Q above V (higher: V nearer the best action's Q)
    expectile: float = 0.9
    n_q: int = 2  # Q heads, combined by max (feasibility, pessimistic) or min (reward)
    tau: float = 0.005  # Polyak rate of the target Q (reward critic)

    def __post_init__(self):
        if not 0 < self.gamma < 1 or not 0 < self.expectile < 1:
            raise ConfigError("critic gamma and expectile must be in (0, 1)")
        if self.n_q < 1 or self.batch_size < 1:
            raise ConfigError("critic n_q and batch_size must be >= 1")


def expectile_loss(diff: torch.Tensor, tau: float) -> torch.Tensor:
    """Asymmetric squared loss: weight ``tau`` where ``diff > 0``, ``1 - tau`` elsewhere."""
    w = torch.where(diff > 0, torch.full_like(diff, tau), torch.full_like(diff, 1 - tau))
    return (w * diff * diff).mean()


class _Normalised(nn.Module):
    def __init__(self, sizes: list[int], mean: torch.Tensor, std: torch.Tensor):
        super().__init__()
        self.net = mlp(sizes)
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.mean) / self.std).squeeze(-1)


class _QV(nn.Module):
    """``n_q`` Q heads on (s, a) and one V on s, all with the data's input normalisation."""

    def __init__(self, obs_dim: int, act_dim: int, config: CriticConfig, obs: np.ndarray, act: np.ndarray):
        super().__init__()
        o = torch.as_tensor(obs, dtype=torch.float32)
        a = torch.as_tensor(act, dtype=torch.float32)
        om, os_ = o.mean(0), o.std(0).clamp_min(1e-3)
        am, as_ = a.mean(0), a.std(0).clamp_min(1e-3)
        h = list(config.hidden)
        self.qs = nn.ModuleList(_Normalised([obs_dim + act_dim, *h, 1], torch.cat([om, am]), torch.cat([os_, as_]))
                                for _ in range(config.n_q))
        self.v = _Normalised([obs_dim, *h, 1], om, os_)

    def q_all(self, s: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        x = torch.cat([s, a], -1)
        return torch.stack([q(x) for q in self.qs])


class FeasibilityCritic:
    """Q_h / V_h of the reachability backup; ``step(batch)`` is one update of both."""

    def __init__(self, obs: np.ndarray, act: np.ndarray, config: CriticConfig,
                 h_unsafe: float = 25.0, h_safe: float = -1.0):
        self.config, self.h_unsafe, self.h_safe = config, h_unsafe, h_safe
        self.nets = _QV(obs.shape[1], act.shape[1], config, obs, act)
        self.opt_q = adam(self.nets.qs.parameters(), config.lr)
        self.opt_v = adam(self.nets.v.parameters(), config.lr)

    def h(self, cost: torch.Tensor) -> torch.Tensor:
        return torch.where(cost > 0, torch.full_like(cost, self.h_unsafe), torch.full_like(cost, self.h_safe))

    def step(self, s, a, s2, cost, done) -> dict[str, float]:
        g = self.config.gamma
        with torch.no_grad():
            q_now = self.nets.q_all(s, a).amax(0)
        v_loss = expectile_loss(self.nets.v(s) - q_now, self.config.expectile)  # V below Q: a low expectile
        self.opt_v.zero_grad(set_to_none=True)
        v_loss.backward()
        self.opt_v.step()
        with torch.no_grad():
            h = self.h(cost)
            nxt = torch.where(done > 0, h, torch.maximum(h, self.nets.v(s2)))
            target = (1 - g) * h + g * nxt
        q_loss = ((self.nets.q_all(s, a) - target) ** 2).mean()
        self.opt_q.zero_grad(set_to_none=True)
        q_loss.backward()
        self.opt_q.step()
        return {"feas_q_loss": float(q_loss.detach()), "feas_v_loss": float(v_loss.detach())}

    @torch.no_grad()
    def q(self, s: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        return self.nets.q_all(s, a).amax(0)

    @torch.no_grad()
    def v(self, s: torch.Tensor) -> torch.Tensor:
        return self.nets.v(s)

    def state_dict(self) -> dict:
        return {"nets": self.nets.state_dict(), "opt_q": self.opt_q.state_dict(), "opt_v": self.opt_v.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.nets.load_state_dict(state["nets"])
        self.opt_q.load_state_dict(state["opt_q"])
        self.opt_v.load_state_dict(state["opt_v"])


class RewardCritic:
    """IQL: an upper-expectile V of a target Q; Q regressed on r + gamma V(s')."""

    def __init__(self, obs: np.ndarray, act: np.ndarray, config: CriticConfig):
        self.config = config
        self.nets = _QV(obs.shape[1], act.shape[1], config, obs, act)
        self.target = _QV(obs.shape[1], act.shape[1], config, obs, act)
        self.target.load_state_dict(self.nets.state_dict())
        self.target.requires_grad_(False)
        self.opt_q = adam(self.nets.qs.parameters(), config.lr)
        self.opt_v = adam(self.nets.v.parameters(), config.lr)

    def step(self, s, a, s2, r, done) -> dict[str, float]:
        g = self.config.gamma
        with torch.no_grad():
            q_t = self.target.q_all(s, a).amin(0)
        v_loss = expectile_loss(q_t - self.nets.v(s), self.config.expectile)
        self.opt_v.zero_grad(set_to_none=True)
        v_loss.backward()
        self.opt_v.step()
        with torch.no_grad():
            target = r + g * (1 - done) * self.nets.v(s2)
        q_loss = ((self.nets.q_all(s, a) - target) ** 2).mean()
        self.opt_q.zero_grad(set_to_none=True)
        q_loss.backward()
        self.opt_q.step()
        with torch.no_grad():
            for p, pt in zip(self.nets.parameters(), self.target.parameters(), strict=True):
                pt.mul_(1 - self.config.tau).add_(p, alpha=self.config.tau)
        return {"reward_q_loss": float(q_loss.detach()), "reward_v_loss": float(v_loss.detach())}

    @torch.no_grad()
    def advantage(self, s: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        return self.target.q_all(s, a).amin(0) - self.nets.v(s)

    def state_dict(self) -> dict:
        return {"nets": self.nets.state_dict(), "target": self.target.state_dict(),
                "opt_q": self.opt_q.state_dict(), "opt_v": self.opt_v.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.nets.load_state_dict(state["nets"])
        self.target.load_state_dict(state["target"])
        self.opt_q.load_state_dict(state["opt_q"])
        self.opt_v.load_state_dict(state["opt_v"])
