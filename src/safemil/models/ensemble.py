"""Probabilistic dynamics ensemble (PROCO step 1): E Gaussian MLPs trained as ONE batched network.

Each member maps a normalised (state, action) to a Gaussian over the
normalised (next-state delta [, reward]). All members share one set of
batched weights ``(E, in, out)`` and are evaluated with one ``torch.baddbmm``
per layer, so an ensemble step costs one (wider) matrix product instead of E
Python-level forward passes. Log-variances are kept inside learned soft
bounds (MBPO/PETS style) so the NLL cannot collapse a member's variance.
Each member draws its own random minibatches of the same training rows (not a
bootstrap resample of them); a held-out split ranks the members and the best
``elites`` are used for prediction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from safemil.errors import ConfigError, DatasetError
from safemil.optim import adamw


@dataclass
class EnsembleConfig:
    members: int = 7  # Gaussian MLPs trained together, each on its own random minibatches
    elites: int = 5  # members with the lowest held-out MSE, used for prediction and disagreement
    hidden: tuple[int, ...] = (200, 200, 200, 200)  # hidden layer sizes of each member (SiLU)
    lr: float = 1e-3  # AdamW learning rate
    weight_decay: float = 1e-5  # AdamW weight decay
    batch_size: int = 256  # transitions per member per update
    holdout: float = 0.1  # fraction of transitions held out for validation / elite ranking
    max_holdout: int = 5000  # cap on the held-out transitions
    logvar_bound_weight: float = 0.01  # pulls the learned log-variance bounds towards each other
    predict_reward: bool = True  # also model the reward; false: synthetic transitions get reward 0

    def __post_init__(self):
        if self.members < 1 or not 1 <= self.elites <= self.members:
            raise ConfigError(f"need 1 <= elites <= members, got elites={self.elites}, members={self.members}")
        if not self.hidden or any(h < 1 for h in self.hidden):
            raise ConfigError(f"hidden sizes must be positive, got {self.hidden}")
        if not 0 < self.holdout < 1:
            raise ConfigError(f"holdout must be in (0, 1), got {self.holdout}")
        if self.batch_size < 1 or self.lr <= 0:
            raise ConfigError("batch_size must be >= 1 and lr > 0")


class BatchedLinear(nn.Module):
    """E independent linear layers applied to an (E, B, in) batch with one ``baddbmm``."""

    def __init__(self, members: int, n_in: int, n_out: int):
        super().__init__()
        bound = 1.0 / np.sqrt(n_in)
        self.weight = nn.Parameter(torch.empty(members, n_in, n_out).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(members, 1, n_out).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor, members: torch.Tensor | None = None) -> torch.Tensor:
        """``members``: run only those (x is then (len(members), B, in))."""
        if members is None:
            return torch.baddbmm(self.bias, x, self.weight)
        return torch.baddbmm(self.bias[members], x, self.weight[members])


class GaussianEnsemble(nn.Module):
    """The network: (E, B, in) normalised inputs -> mean and bounded log-variance (E, B, out)."""

    def __init__(self, members: int, n_in: int, n_out: int, hidden: tuple[int, ...]):
        super().__init__()
        sizes = [n_in, *hidden]
        self.layers = nn.ModuleList(BatchedLinear(members, a, b) for a, b in zip(sizes[:-1], sizes[1:], strict=True))
        self.head = BatchedLinear(members, sizes[-1], 2 * n_out)
        self.max_logvar = nn.Parameter(torch.full((1, 1, n_out), 0.5))
        self.min_logvar = nn.Parameter(torch.full((1, 1, n_out), -10.0))
        self.members, self.n_in, self.n_out = members, n_in, n_out

    def forward(self, x: torch.Tensor, members: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """All members on an (E, B, in) batch, or only ``members`` (indices) on a (len(members), B, in) one."""
        for layer in self.layers:
            x = F.silu(layer(x, members))
        mean, logvar = self.head(x, members).chunk(2, -1)
        logvar = self.max_logvar - F.softplus(self.max_logvar - logvar)
        logvar = self.min_logvar + F.softplus(logvar - self.min_logvar)
        return mean, logvar


def gaussian_nll(mean: torch.Tensor, logvar: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-member mean Gaussian NLL (without the constant), shape (E,)."""
    return (((mean - target) ** 2) * torch.exp(-logvar) + logvar).mean(dim=(1, 2))


@dataclass
class Transitions:
    """Model training data: arrays aligned by row. ``rewards`` may be None (state-only model)."""

    observations: np.ndarray
    actions: np.ndarray
    next_observations: np.ndarray
    rewards: np.ndarray | None = None


class DynamicsEnsemble:
    """Fit and query the ensemble. ``train_step`` is one AdamW step of all members at once."""

    def __init__(self, data: Transitions, config: EnsembleConfig, seed: int = 0):
        n = len(data.observations)
        if n < 4:
            raise DatasetError(f"the dynamics model needs at least 4 transitions, got {n}")
        if config.predict_reward and data.rewards is None:
            raise ConfigError("predict_reward=true needs rewards in the model's training data")
        self.config, self.seed = config, seed
        self.obs_dim, self.act_dim = data.observations.shape[1], data.actions.shape[1]
        self.rew_dim = 1 if config.predict_reward else 0
        self.gen = torch.Generator().manual_seed(seed)
        rng = np.random.default_rng(seed)
        x = np.concatenate([data.observations, data.actions], 1).astype(np.float32)
        y = (data.next_observations - data.observations).astype(np.float32)
        if self.rew_dim:
            y = np.concatenate([y, np.asarray(data.rewards, np.float32).reshape(-1, 1)], 1)
        perm = rng.permutation(n)
        n_hold = int(min(config.max_holdout, max(1, round(config.holdout * n))))
        hold, train = perm[:n_hold], perm[n_hold:]
        self.x_train, self.y_train = torch.from_numpy(x[train]), torch.from_numpy(y[train])
        self.x_hold, self.y_hold = torch.from_numpy(x[hold]), torch.from_numpy(y[hold])
        self.x_mean, self.x_std = self.x_train.mean(0), self.x_train.std(0).clamp_min(1e-6)
        self.y_mean, self.y_std = self.y_train.mean(0), self.y_train.std(0).clamp_min(1e-6)
        with torch.random.fork_rng():  # initialise from the seed without touching the global RNG
            torch.manual_seed(seed)
            self.net = GaussianEnsemble(config.members, x.shape[1], y.shape[1], tuple(config.hidden))
        self.opt = adamw(self.net.parameters(), config.lr, config.weight_decay)
        self.elites = np.arange(config.elites)
        self.holdout_mse = np.full(config.members, np.nan)
        self.steps = 0

    # -- training ------------------------------------------------------------------------
    def _norm_x(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.x_mean) / self.x_std

    def train_step(self) -> dict[str, float]:
        """One step: every member gets its own random minibatch (one gather, one batched forward)."""
        e, b = self.config.members, self.config.batch_size
        idx = torch.randint(len(self.x_train), (e, b), generator=self.gen)
        x = self._norm_x(self.x_train[idx])
        y = (self.y_train[idx] - self.y_mean) / self.y_std
        mean, logvar = self.net(x)
        nll = gaussian_nll(mean, logvar, y)
        bound = self.config.logvar_bound_weight * (self.net.max_logvar.sum() - self.net.min_logvar.sum())
        loss = nll.sum() + bound
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.steps += 1
        return {"model_nll": float(nll.mean().detach())}

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Held-out MSE per member (normalised targets); re-ranks the elites."""
        x = self._norm_x(self.x_hold).expand(self.config.members, -1, -1)
        mean, _ = self.net(x)
        y = (self.y_hold - self.y_mean) / self.y_std
        mse = ((mean - y) ** 2).mean(dim=(1, 2)).numpy()
        self.holdout_mse = mse
        self.elites = np.sort(np.argsort(mse)[: self.config.elites])
        return {"model_holdout_mse": float(mse[self.elites].mean())}

    # -- prediction ----------------------------------------------------------------------
    @torch.no_grad()
    def predict(self, obs: torch.Tensor, act: torch.Tensor, generator: torch.Generator | None = None,
                sample: bool = True) -> dict[str, torch.Tensor]:
        """Next state (and reward) from a random elite per row, plus the elites' disagreement.

        Disagreement is the largest standard deviation, over output dimensions, of the
        elites' predicted means (in normalised units): how much the members disagree
        about where this (s, a) leads; large values mean the model is extrapolating.
        """
        x = self._norm_x(torch.cat([obs, act], -1).float())
        mean, logvar = self.net(x.expand(self.config.members, -1, -1))
        el = torch.as_tensor(self.elites)
        mean, logvar = mean[el], logvar[el]
        disagreement = mean.std(0, unbiased=False).amax(-1) if len(el) > 1 else torch.zeros(len(obs))
        pick = torch.randint(len(el), (len(obs),), generator=generator)
        rows = torch.arange(len(obs))
        mu, lv = mean[pick, rows], logvar[pick, rows]
        out = mu + torch.randn(mu.shape, generator=generator) * torch.exp(0.5 * lv) if sample else mu
        out = out * self.y_std + self.y_mean
        res = {"next_obs": obs + out[:, : self.obs_dim], "disagreement": disagreement}
        if self.rew_dim:
            res["reward"] = out[:, self.obs_dim]
        return res

    def state_dict(self) -> dict:
        return {"net": self.net.state_dict(), "opt": self.opt.state_dict(), "gen": self.gen.get_state(),
                "elites": self.elites.tolist(), "holdout_mse": self.holdout_mse.tolist(), "steps": self.steps}

    def load_state_dict(self, state: dict) -> None:
        self.net.load_state_dict(state["net"])
        self.opt.load_state_dict(state["opt"])
        self.gen.set_state(state["gen"])
        self.elites = np.asarray(state["elites"], dtype=np.int64)
        self.holdout_mse = np.asarray(state["holdout_mse"], dtype=np.float64)
        self.steps = int(state["steps"])
