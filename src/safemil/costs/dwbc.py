"""DWBC-NU's discriminator: is a pair non-preferred? Learned PU-style from D_N (labelled) and D_U (mixture).

After Xu et al. (ICML 2022), adapted by the SafeMIL authors to non-preferred +
unlabeled data. With ``d = clip(sigmoid(f(s, a, log pi(a|s))), 0.1, 0.9)`` the
discriminator minimises the PU risk (divided by the class prior ``nu``)

    L(d) = E_N[-log d] + E_U[-log(1 - d)] / nu + E_N[log(1 - d)]

and the policy imitates D_U with weight ``1 - d(U)``. The log-likelihood of the
current policy is an input (detached), as in DWBC: pairs the policy already
imitates well look different from pairs it does not. It is clipped to
[-20, 20] and divided by 20 so the feature stays bounded.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from safemil.costs.nets import CostNet
from safemil.costs.nu_data import NURows, check_nu_views, heldout_accuracy
from safemil.data.dataset import LearnerView
from safemil.errors import ConfigError
from safemil.networks import LidarLayout, lidar_encoder_sizes
from safemil.optim import adamw, clip_gradients

LOG_PI_CLIP = 20.0

# (obs, act) -> log pi(a|s) of the current policy, shape (N,), no gradient
LogPiFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class DWBCConfig:
    hidden: tuple[int, ...] = (256, 256)  # hidden sizes of the discriminator
    # Navigation tasks only: sizes (hidden..., out) of a per-lidar-bin encoder whose outputs join the
    # discriminator's input (`safemil.costs.nets.CostNet`); empty: none. Ignored on tasks without lidar.
    lidar_encoder: tuple[int, ...] = ()
    nu: float = 0.5  # class prior of the PU risk (eta in DWBC)
    d_min: float = 0.1  # discriminator output clip
    d_max: float = 0.9  # upper clip of the discriminator output (d_min < 0.5 < d_max < 1)
    use_log_pi: bool = True  # feed log pi(a|s) to the discriminator, as DWBC does
    batch_size: int = 256  # pairs per set per update
    lr: float = 1e-4  # AdamW learning rate of the discriminator
    weight_decay: float = 0.01  # AdamW weight decay of the discriminator
    grad_clip: float = 10.0  # 0 disables
    holdout_frac: float = 0.2  # trajectories of each set kept out of training, for the accuracy diagnostic
    heldout_rows: int = 4096  # held-out pairs per set scored for the diagnostic

    def __post_init__(self):
        self.hidden = tuple(self.hidden)
        if not self.hidden or any(h < 1 for h in self.hidden):
            raise ConfigError(f"DWBCConfig.hidden must be positive sizes, got {self.hidden}")
        self.lidar_encoder = lidar_encoder_sizes("DWBCConfig", self.lidar_encoder)
        if not 0 < self.nu <= 1:
            raise ConfigError(f"DWBCConfig.nu must be in (0, 1], got {self.nu}")
        if not 0 < self.d_min < 0.5 < self.d_max < 1:
            raise ConfigError(f"DWBCConfig needs 0 < d_min < 0.5 < d_max < 1, got {self.d_min}, {self.d_max}")
        if self.batch_size < 1 or self.heldout_rows < 1:
            raise ConfigError("DWBCConfig.batch_size and heldout_rows must be >= 1")
        if not (self.lr > 0 and math.isfinite(self.lr)) or self.weight_decay < 0 or self.grad_clip < 0:
            raise ConfigError(f"DWBCConfig: need lr > 0, weight_decay >= 0, grad_clip >= 0 "
                              f"(got {self.lr}, {self.weight_decay}, {self.grad_clip})")


def pu_loss(d_n: torch.Tensor, d_u: torch.Tensor, nu: float) -> torch.Tensor:
    """The DWBC-NU discriminator risk above, for clipped outputs on a D_N batch and a D_U batch."""
    return (-torch.log(d_n)).mean() + (-torch.log(1 - d_u)).mean() / nu + torch.log(1 - d_n).mean()


class DWBCDiscriminator:
    """d(s, a[, log pi]) in [d_min, d_max]: P(pair is non-preferred). Implements `CostModel` (cost = d)."""

    def __init__(self, negative: LearnerView, unlabeled: LearnerView, config: DWBCConfig, seed: int,
                 log_pi: LogPiFn | None = None, lidar: LidarLayout | None = None):
        check_nu_views(negative, unlabeled, "dwbc-nu")
        self.config, self.log_pi = config, log_pi
        self.rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0xD3BC]))
        self.rows = NURows.build(negative, unlabeled, config.holdout_frac, config.heldout_rows, self.rng)
        self._obs_n = torch.from_numpy(np.ascontiguousarray(negative.observations, dtype=np.float32))
        self._act_n = torch.from_numpy(np.ascontiguousarray(negative.actions, dtype=np.float32))
        self._obs_u = torch.from_numpy(np.ascontiguousarray(unlabeled.observations, dtype=np.float32))
        self._act_u = torch.from_numpy(np.ascontiguousarray(unlabeled.actions, dtype=np.float32))
        extra = 1 if config.use_log_pi else 0
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed) + 7)
            self.net = CostNet(negative.obs_dim, negative.act_dim + extra, config.hidden, lidar,
                               config.lidar_encoder)
        obs = np.concatenate([negative.observations, unlabeled.observations])
        act = np.concatenate([negative.actions, unlabeled.actions])
        # the log-pi column is already scaled to [-1, 1]: a zero column leaves it unstandardised
        self.net.fit_normalizer(obs, act, np.zeros((len(obs), extra)))
        self.opt = adamw(self.net.parameters(), config.lr, config.weight_decay)
        self.updates = 0

    def _inputs(self, obs: torch.Tensor, act: torch.Tensor) -> torch.Tensor:
        if not self.config.use_log_pi:
            return torch.cat([obs, act], -1)
        if self.log_pi is None:
            raise ConfigError("dwbc-nu: use_log_pi is on but no policy log-likelihood was attached")
        with torch.no_grad():
            lp = self.log_pi(obs, act).clamp(-LOG_PI_CLIP, LOG_PI_CLIP) / LOG_PI_CLIP
        return torch.cat([obs, act, lp[..., None]], -1)

    def prob(self, obs: torch.Tensor, act: torch.Tensor) -> torch.Tensor:
        """Clipped d(s, a, log pi), with gradient w.r.t. the discriminator."""
        d = torch.sigmoid(self.net.logits_of(self._inputs(obs, act)))
        return d.clamp(self.config.d_min, self.config.d_max)

    def train_step(self) -> dict[str, float]:
        c = self.config
        rn, ru = self.rows.sample(c.batch_size, self.rng)
        self.net.train()
        d_n = self.prob(self._obs_n[rn], self._act_n[rn])
        d_u = self.prob(self._obs_u[ru], self._act_u[ru])
        loss = pu_loss(d_n, d_u, c.nu)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if c.grad_clip > 0:
            clip_gradients(self.net.parameters(), c.grad_clip)
        self.opt.step()
        self.updates += 1
        return {"disc_loss": float(loss.detach()), "disc_mean_n": float(d_n.detach().mean()),
                "disc_mean_u": float(d_u.detach().mean())}

    @torch.no_grad()
    def cost(self, obs: torch.Tensor, act: torch.Tensor) -> torch.Tensor:
        """d itself: higher = more like the non-preferred set."""
        self.net.eval()
        return self.prob(torch.as_tensor(obs, dtype=torch.float32), torch.as_tensor(act, dtype=torch.float32))

    @torch.no_grad()
    def heldout_metrics(self) -> dict[str, float]:
        """Accuracy of d > 0.5 on held-out D_N and D_U trajectories (never trained on)."""
        hn, hu = self.rows.held_n, self.rows.held_u
        return heldout_accuracy(self.cost(self._obs_n[hn], self._act_n[hn]),
                                self.cost(self._obs_u[hu], self._act_u[hu]), "disc")

    def state_dict(self) -> dict:
        return {"net": copy.deepcopy(self.net.state_dict()), "opt": copy.deepcopy(self.opt.state_dict()),
                "rng": copy.deepcopy(self.rng.bit_generator.state), "updates": self.updates}

    def load_state_dict(self, state: dict) -> None:
        self.net.load_state_dict(state["net"])
        self.opt.load_state_dict(state["opt"])
        self.rng.bit_generator.state = copy.deepcopy(state["rng"])
        self.updates = int(state["updates"])
