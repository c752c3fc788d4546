"""A model-predictive safety filter: PROCO's dynamics model and knowledge cost guarding a policy at deployment.

A policy learned offline from safe-only data can still drift, one small step at
a time, into states the data never reached (a BCQ policy that runs faster than
any logged trajectory). The cost critic, fitted on the data's states, cannot see
that drift (``docs/proco.md``, eighth run); the dynamics model can. At every
step the filter predicts, with each elite member, where the policy's action
leads over ``horizon`` model steps (the first step with the candidate action,
the rest with the policy's own noise-free action) and scores every predicted
transition with the knowledge cost (at ``margin``). The first candidate that no
elite predicts to violate is taken, in this order:

1. the policy's own action (so the filter is invisible while it predicts no violation);
2. that action shrunk towards the centre of the action box by each of ``scales``
   (less push: on a velocity rule, the least intervention that slows down; a negative
   scale mirrors it through the centre, reverse thrust);
3. with ``grid``, actions evenly spread over the whole box, nearest to the policy's
   first (steering: a sliding robot heading for a wall must turn, which no shrunk
   action does);
4. if every candidate is predicted to violate: with ``fallback="least-bad"`` the one
   with the lowest soft knowledge score; with ``"policy"`` the policy's own action. On
   states the model has rarely seen (a robot at rest at the start, or already past a
   wall) every candidate can look bad, and the least-bad one can be "stand still"
   forever; "policy" then leaves the step to the policy.

The filter only ever chooses among candidates, so it needs nothing from the
learner beyond its ``act``; it is stored with the policy (`shield_state`) and
rebuilt by `safemil eval RUN_DIR`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from safemil.config import from_dict
from safemil.costs.knowledge import KnowledgeCost
from safemil.errors import ConfigError
from safemil.models.ensemble import DynamicsEnsemble, GaussianEnsemble

FALLBACKS = ("least-bad", "policy")
MAX_GRID = 1024  # grid candidates at most (each costs elites x horizon model steps per flagged row)
SOFTNESS = 0.5  # width of the soft knowledge score that ranks candidates when all are predicted to violate


@dataclass
class ShieldConfig:
    horizon: int = 0  # model steps looked ahead; 0: no filter
    margin: float = 0.0  # knowledge margin the filter checks at (fraction of each threshold)
    # each in [-1, 1): fallback candidates, the policy's action shrunk towards the action box's centre by
    # each scale (0: the centre; below 0: mirrored through it, e.g. reverse thrust, which brakes a point
    # robot), tried in order after the action itself
    scales: tuple[float, ...] = (0.9, 0.8, 0.6, 0.4, 0.2, 0.0)
    # where every candidate is predicted to violate: "policy" keeps the policy's own action (the model is
    # then usually wrong, or the violation is already unavoidable), "least-bad" takes the lowest soft score
    fallback: str = "least-bad"
    # > 1: also try a grid of this many points per action dimension over the whole box (grid ** act_dim
    # actions), nearest to the policy's action first, after the shrunk ones: steering away (a point robot
    # that slides toward a wall must turn, which no shrunk action does); 0: none
    grid: int = 0

    def __post_init__(self):
        if self.fallback not in FALLBACKS:
            raise ConfigError(f"shield.fallback must be one of {', '.join(FALLBACKS)}, got {self.fallback!r}")
        if self.horizon < 0:
            raise ConfigError(f"shield.horizon must be >= 0 (0: off), got {self.horizon}")
        if not 0 <= self.margin < 1:
            raise ConfigError(f"shield.margin must be in [0, 1), got {self.margin}")
        if any(not -1 <= s < 1 for s in self.scales):
            raise ConfigError(f"shield.scales must lie in [-1, 1), got {list(self.scales)}")
        if self.grid < 0 or self.grid == 1:
            raise ConfigError(f"shield.grid must be 0 (off) or >= 2 points per action dimension, got {self.grid}")

    @property
    def on(self) -> bool:
        return self.horizon > 0


class EliteDynamics:
    """The elite members' mean predictions, each member rolling its own copy of the state forward."""

    def __init__(self, net: GaussianEnsemble, elites: np.ndarray, x_mean, x_std, y_mean, y_std, obs_dim: int):
        self.net, self.elites, self.obs_dim = net.eval(), torch.as_tensor(elites, dtype=torch.long), obs_dim
        # only the elites run; when they are all the members, the whole network does (no weight gather)
        everyone = torch.equal(self.elites, torch.arange(net.members))
        self._members = None if everyone else self.elites
        self.x_mean, self.x_std, self.y_mean, self.y_std = x_mean, x_std, y_mean, y_std

    @classmethod
    def from_ensemble(cls, model: DynamicsEnsemble) -> EliteDynamics:
        return cls(model.net, model.elites, model.x_mean, model.x_std, model.y_mean, model.y_std, model.obs_dim)

    @torch.no_grad()
    def step(self, obs: torch.Tensor, act: torch.Tensor) -> torch.Tensor:
        """(E, N, obs) and (E, N, act) per elite -> each elite's predicted next state (E, N, obs)."""
        x = (torch.cat([obs, act], -1) - self.x_mean) / self.x_std
        mean, _ = self.net(x, self._members)
        delta = mean * self.y_std + self.y_mean
        return obs + delta[..., : self.obs_dim]

    def state(self) -> dict:
        n = self.net
        hidden = [layer.weight.shape[-1] for layer in n.layers]
        return {"members": n.members, "n_in": n.n_in, "n_out": n.n_out, "hidden": hidden,
                "state_dict": n.state_dict(), "elites": self.elites.tolist(), "obs_dim": self.obs_dim,
                "x_mean": self.x_mean, "x_std": self.x_std, "y_mean": self.y_mean, "y_std": self.y_std}

    @classmethod
    def from_state(cls, s: dict) -> EliteDynamics:
        net = GaussianEnsemble(s["members"], s["n_in"], s["n_out"], tuple(s["hidden"]))
        net.load_state_dict(s["state_dict"])
        return cls(net, np.asarray(s["elites"]), s["x_mean"], s["x_std"], s["y_mean"], s["y_std"], s["obs_dim"])


class ShieldedPolicy:
    """``act`` of an inner policy, filtered by the model's prediction of the knowledge cost."""

    def __init__(self, inner, dynamics: EliteDynamics, knowledge: KnowledgeCost, config: ShieldConfig,
                 act_low: np.ndarray, act_high: np.ndarray):
        if not config.on:
            raise ConfigError("a ShieldedPolicy needs shield.horizon >= 1")
        self.inner, self.dynamics, self.config = inner, dynamics, config
        k = knowledge
        self.hard = KnowledgeCost(k.task, k.expression, config.margin)
        self.soft = KnowledgeCost(k.task, k.expression, config.margin, SOFTNESS)
        self.low = np.asarray(act_low, np.float32)
        self.high = np.asarray(act_high, np.float32)
        self.grid = action_grid(self.low, self.high, config.grid)
        self.counts = {"steps": 0, "replaced": 0, "none_safe": 0}

    def reseed(self, seed: int) -> None:
        if hasattr(self.inner, "reseed"):
            self.inner.reseed(seed)

    def _candidates(self, a0: np.ndarray) -> np.ndarray:
        """(n, C, act): the action, then shrunk towards the box centre by each scale, then the grid's
        actions nearest to it first."""
        centre = (self.low + self.high) / 2
        shrunk = np.stack([a0, *(centre + s * (a0 - centre) for s in self.config.scales)], 1)
        if not len(self.grid):
            return shrunk.astype(np.float32)
        order = np.argsort(((a0[:, None, :] - self.grid[None]) ** 2).sum(-1), axis=1, kind="stable")
        return np.concatenate([shrunk, self.grid[order]], 1).astype(np.float32)

    @torch.no_grad()
    def _scores(self, obs: np.ndarray, cand: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per candidate: does any elite predict a violation within the horizon; the worst soft score."""
        n, c, ad = cand.shape
        e = len(self.dynamics.elites)
        s = torch.as_tensor(obs, dtype=torch.float32)[:, None].expand(n, c, -1).reshape(1, n * c, -1)
        s = s.expand(e, -1, -1)
        a = torch.as_tensor(cand).reshape(1, n * c, ad).expand(e, -1, -1)
        bad = torch.zeros(e, n * c, dtype=torch.bool)
        worst = torch.zeros(e, n * c)
        for h in range(self.config.horizon):
            s2 = self.dynamics.step(s, a)
            bad |= self.hard.transition_cost(s, s2) > 0
            worst = torch.maximum(worst, self.soft.transition_cost(s, s2))
            s = s2
            if h + 1 < self.config.horizon:
                nxt = self.inner.act(s.reshape(e * n * c, -1).numpy(), deterministic=True)
                a = torch.as_tensor(np.asarray(nxt, np.float32)).reshape(e, n * c, ad)
        return bad.any(0).reshape(n, c).numpy(), worst.amax(0).reshape(n, c).numpy()

    def act(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        a0 = np.asarray(self.inner.act(obs, deterministic=deterministic), np.float32)
        obs = np.asarray(obs, np.float32)
        # the policy's own action first; the shrunk candidates only where it is predicted to violate
        bad0, worst0 = self._scores(obs, a0[:, None])
        flagged = np.flatnonzero(bad0[:, 0])
        c = self.counts
        c["steps"] += len(obs)
        if len(flagged) == 0:
            return a0
        cand = self._candidates(a0[flagged])
        bad, worst = self._scores(obs[flagged], cand[:, 1:])
        safe = np.concatenate([np.zeros((len(flagged), 1), bool), ~bad], 1)
        worst = np.concatenate([worst0[flagged], worst], 1)
        any_safe = safe.any(1)
        fallback = worst.argmin(1) if self.config.fallback == "least-bad" else np.zeros(len(flagged), np.int64)
        pick = np.where(any_safe, safe.argmax(1), fallback)  # argmax of a bool row: the first safe one
        out = a0.copy()
        out[flagged] = cand[np.arange(len(flagged)), pick]
        c["replaced"] += int((pick != 0).sum())
        c["none_safe"] += int((~any_safe).sum())
        return out

    def report(self) -> dict:
        """How often the filter acted during the last evaluation(s)."""
        c = dict(self.counts)
        c["replaced_frac"] = c["replaced"] / max(c["steps"], 1)
        return c


def action_grid(low: np.ndarray, high: np.ndarray, points: int) -> np.ndarray:
    """(points ** act_dim, act_dim) actions evenly spaced over the box, corners included (none for 0)."""
    if points == 0:
        return np.zeros((0, len(low)), np.float32)
    if points ** len(low) > MAX_GRID:
        raise ConfigError(f"shield.grid={points} makes {points}^{len(low)} candidates (over {MAX_GRID}); "
                          "use fewer points per dimension")
    axes = [np.linspace(lo, hi, points) for lo, hi in zip(low, high, strict=True)]
    return np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, len(low)).astype(np.float32)


def shield_state(inner_state: dict, dynamics: EliteDynamics, knowledge: KnowledgeCost, config: ShieldConfig,
                 act_low, act_high) -> dict:
    """A self-contained shielded policy (the inner policy's own state inside)."""
    return {"kind": "shielded", "inner": inner_state, "dynamics": dynamics.state(),
            "knowledge": {"task": knowledge.task, "expression": knowledge.expression},
            "shield": asdict(config), "act_low": np.asarray(act_low).tolist(),
            "act_high": np.asarray(act_high).tolist()}


def shielded_from_state(state: dict, inner) -> ShieldedPolicy:
    k = state["knowledge"]
    return ShieldedPolicy(inner, EliteDynamics.from_state(state["dynamics"]), KnowledgeCost(k["task"], k["expression"]),
                          from_dict(ShieldConfig, dict(state["shield"])), np.asarray(state["act_low"]),
                          np.asarray(state["act_high"]))
