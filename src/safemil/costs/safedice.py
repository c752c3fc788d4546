"""SafeDICE (Jang et al., NeurIPS 2023): a classifier, a density-ratio reward, a DICE value, weights.

1. Classifier logit ``c(s, a)``: D_N labelled 1, D_U labelled 0, sigmoid
   cross-entropy plus ``gp_coef * (||grad c|| - 1)^2`` at points interpolated
   between D_N and D_U pairs. Trained, then frozen.
2. D_U is modelled as ``d^U = alpha d^N + (1 - alpha) d^P``. Since
   ``d^U / d^N = 1/sigmoid(c) - 1 >= alpha`` everywhere, alpha is set without
   tuning as ``min over D_U of (1/sigmoid(c) - 1)`` minus a margin.
3. Reward = log density ratio of preferred vs unlabeled behaviour,
   ``r = log[(1 - (1 + alpha) sigmoid(c)) / ((1 - alpha)(1 - sigmoid(c)))]``,
   the numerator clipped to [1e-10, 1] (it falls below 0 where the classifier
   is surer than alpha allows), then z-normalised over D_U.
4. Value ``nu(s)`` minimises the DICE dual
   ``log E_U[exp(r + gamma nu(s') - nu(s))] + (1 - gamma) E[nu(s0)]``
   (plus a tiny gradient penalty); at the optimum
   ``exp(adv)``, ``adv = r + gamma nu(s') - nu(s)``, is the ratio d^P / d^U.
5. BC on D_U with weights ``exp(adv - 1)`` divided by their batch mean.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from safemil.costs.nets import CostNet, build_mlp
from safemil.costs.nu_data import NURows, check_nu_views, gradient_penalty, heldout_accuracy
from safemil.data.dataset import LearnerView
from safemil.errors import ConfigError
from safemil.networks import LidarLayout, lidar_encoder_sizes, map_rows
from safemil.optim import adamw

RATIO_FLOOR = 1e-10


@dataclass
class SafeDICEConfig:
    hidden: tuple[int, ...] = (256, 256)  # hidden sizes of the classifier and of the value net nu(s)
    # Navigation tasks only: sizes (hidden..., out) of a per-lidar-bin encoder whose outputs join the
    # classifier (not the value net)'s input (`safemil.costs.nets.CostNet`); empty: none. Ignored on tasks without lidar.
    lidar_encoder: tuple[int, ...] = ()
    batch_size: int = 512  # pairs per set (classifier) or D_U transitions (value) per update
    classifier_lr: float = 1e-4  # AdamW learning rate of the D_N-vs-D_U classifier
    classifier_gp: float = 10.0  # weight of the classifier's gradient penalty (between D_N and D_U pairs)
    alpha_margin: float = 1e-5  # subtracted from the min ratio
    gamma: float = 0.99  # discount of the DICE value objective
    critic_lr: float = 1e-4  # AdamW learning rate of the value net nu(s)
    critic_gp: float = 1e-6  # weight of the value's gradient penalty (between D_U and initial states); 0: off
    weight_decay: float = 0.0  # AdamW weight decay of the classifier and the value net
    holdout_frac: float = 0.2  # trajectories held out of classifier training, for the accuracy diagnostic
    heldout_rows: int = 4096  # at most this many held-out pairs per set scored for the diagnostic

    def __post_init__(self):
        self.hidden = tuple(self.hidden)
        if not self.hidden or any(h < 1 for h in self.hidden):
            raise ConfigError(f"SafeDICEConfig.hidden must be positive sizes, got {self.hidden}")
        self.lidar_encoder = lidar_encoder_sizes("SafeDICEConfig", self.lidar_encoder)
        if self.batch_size < 1 or self.heldout_rows < 1:
            raise ConfigError("SafeDICEConfig.batch_size and heldout_rows must be >= 1")
        for name in ("classifier_lr", "critic_lr"):
            v = getattr(self, name)
            if not (v > 0 and math.isfinite(v)):
                raise ConfigError(f"SafeDICEConfig.{name} must be a positive number, got {v}")
        if not 0 < self.gamma < 1:
            raise ConfigError(f"SafeDICEConfig.gamma must be in (0, 1), got {self.gamma}")
        if min(self.classifier_gp, self.critic_gp, self.alpha_margin, self.weight_decay) < 0:
            raise ConfigError("SafeDICEConfig penalties, alpha_margin and weight_decay must be >= 0")


def estimate_alpha(prob_u: torch.Tensor, margin: float) -> float:
    """``min_U (1/sigmoid(c) - 1) - margin``: the largest non-preferred share of D_U the classifier allows."""
    return float((1.0 / prob_u.double() - 1.0).min()) - margin


def density_ratio_reward(prob: torch.Tensor, alpha: float) -> torch.Tensor:
    """``log d^P / d^U`` from P(pair is from D_N) under the mixture model (before z-normalisation)."""
    num = (1 - (1 + alpha) * prob).clamp(RATIO_FLOOR, 1.0)
    return torch.log(num) - math.log(1 - alpha) - torch.log1p(-prob)


def _tensor(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))


class SafeDICEClassifier:
    """Step 1-3. Implements `CostModel`: ``cost = sigmoid(c)`` (how non-preferred a pair looks)."""

    def __init__(self, negative: LearnerView, unlabeled: LearnerView, config: SafeDICEConfig, seed: int,
                 lidar: LidarLayout | None = None):
        check_nu_views(negative, unlabeled, "safedice")
        self.config = config
        self.rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x5AFE]))
        self.gen = torch.Generator().manual_seed(int(seed) + 11)
        self.rows = NURows.build(negative, unlabeled, config.holdout_frac, config.heldout_rows, self.rng)
        self._x_n = _tensor(np.concatenate([negative.observations, negative.actions], 1))
        self._x_u = _tensor(np.concatenate([unlabeled.observations, unlabeled.actions], 1))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed) + 13)
            self.net = CostNet(negative.obs_dim, negative.act_dim, config.hidden, lidar, config.lidar_encoder)
        self.net.fit_normalizer(torch.cat([self._x_n, self._x_u]).numpy())
        self.opt = adamw(self.net.parameters(), config.classifier_lr, config.weight_decay)
        self.alpha: float | None = None  # set by `freeze`
        self.alpha_raw: float | None = None

    def train_step(self) -> dict[str, float]:
        if self.alpha is not None:
            raise RuntimeError("the SafeDICE classifier is frozen")
        rn, ru = self.rows.sample(self.config.batch_size, self.rng)
        x_n, x_u = self._x_n[rn], self._x_u[ru]
        self.net.train()
        logit_n, logit_u = self.net.logits_of(x_n), self.net.logits_of(x_u)
        bce = 0.5 * (F.binary_cross_entropy_with_logits(logit_n, torch.ones_like(logit_n))
                     + F.binary_cross_entropy_with_logits(logit_u, torch.zeros_like(logit_u)))
        gp = gradient_penalty(self.net.logits_of, x_n, x_u, self.gen)
        loss = bce + self.config.classifier_gp * gp
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return {"clf_loss": float(bce.detach()), "clf_gp": float(gp.detach()),
                "clf_mean_n": float(torch.sigmoid(logit_n.detach()).mean()),
                "clf_mean_u": float(torch.sigmoid(logit_u.detach()).mean())}

    @torch.no_grad()
    def _prob(self, x: torch.Tensor) -> torch.Tensor:
        self.net.eval()
        return map_rows(self.net.score_features, x)  # (no rows: holdout_frac=0 gives an empty result)

    @torch.no_grad()
    def cost(self, obs: torch.Tensor, act: torch.Tensor) -> torch.Tensor:
        x = torch.cat([torch.as_tensor(obs, dtype=torch.float32), torch.as_tensor(act, dtype=torch.float32)], -1)
        return self._prob(x)

    @torch.no_grad()
    def freeze(self) -> torch.Tensor:
        """Fix alpha from all of D_U and return the z-normalised reward of every D_U pair."""
        prob_u = self._prob(self._x_u)
        self.alpha_raw = estimate_alpha(prob_u, self.config.alpha_margin)
        # the mixture model needs 0 <= alpha < 1; outside it the classifier contradicts the model
        self.alpha = min(max(self.alpha_raw, 0.0), 1.0 - 1e-6)
        r = density_ratio_reward(prob_u.double(), self.alpha)
        return ((r - r.mean()) / r.std().clamp_min(1e-8)).float()

    @torch.no_grad()
    def heldout_metrics(self) -> dict[str, float]:
        return heldout_accuracy(self._prob(self._x_n[self.rows.held_n]),
                                self._prob(self._x_u[self.rows.held_u]), "clf")

    def state_dict(self) -> dict:
        return {"net": copy.deepcopy(self.net.state_dict()), "opt": copy.deepcopy(self.opt.state_dict()),
                "rng": copy.deepcopy(self.rng.bit_generator.state), "gen": self.gen.get_state(),
                "alpha": self.alpha, "alpha_raw": self.alpha_raw}

    def load_state_dict(self, state: dict) -> None:
        self.net.load_state_dict(state["net"])
        self.opt.load_state_dict(state["opt"])
        self.rng.bit_generator.state = copy.deepcopy(state["rng"])
        self.gen.set_state(state["gen"])
        self.alpha, self.alpha_raw = state["alpha"], state["alpha_raw"]


class DICEValue:
    """Step 4-5: the value nu(s) on D_U transitions and the advantage it implies, given a fixed reward."""

    def __init__(self, unlabeled: LearnerView, reward: torch.Tensor, config: SafeDICEConfig, seed: int):
        if reward.shape != (len(unlabeled),):
            raise ConfigError(f"reward must have one entry per D_U row ({len(unlabeled)}), got {tuple(reward.shape)}")
        self.config, self.reward = config, reward
        self._s, self._s2 = _tensor(unlabeled.observations), _tensor(unlabeled.next_observations)
        self._live = torch.from_numpy(~np.asarray(unlabeled.terminals, dtype=bool)).float()
        self._s0 = self._s[torch.from_numpy(unlabeled.index.starts)]
        self.rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0xD1CE]))
        self.gen = torch.Generator().manual_seed(int(seed) + 17)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed) + 19)
            self.net = build_mlp(unlabeled.obs_dim, config.hidden, 1)
        mean, std = self._s.mean(0), self._s.std(0)
        self._mean, self._std = mean, torch.where(std < 1e-3, torch.ones_like(std), std)
        self.opt = adamw(self.net.parameters(), config.critic_lr, config.weight_decay)

    def nu(self, s: torch.Tensor) -> torch.Tensor:
        return self.net((s - self._mean) / self._std).squeeze(-1)

    def _adv(self, rows: torch.Tensor) -> torch.Tensor:
        g = self.config.gamma
        return self.reward[rows] + g * self._live[rows] * self.nu(self._s2[rows]) - self.nu(self._s[rows])

    def train_step(self) -> dict[str, float]:
        c = self.config
        rows = torch.from_numpy(self.rng.integers(0, len(self._s), c.batch_size))
        s0 = self._s0[torch.from_numpy(self.rng.integers(0, len(self._s0), c.batch_size))]
        adv = self._adv(rows)
        dual = torch.logsumexp(adv, 0) - math.log(len(adv)) + (1 - c.gamma) * self.nu(s0).mean()
        gp = gradient_penalty(self.nu, self._s[rows], s0, self.gen) if c.critic_gp > 0 else torch.zeros(())
        loss = dual + c.critic_gp * gp
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return {"dice_loss": float(dual.detach()), "dice_adv_mean": float(adv.detach().mean()),
                "dice_adv_std": float(adv.detach().std())}

    @torch.no_grad()
    def advantage(self, rows: np.ndarray) -> torch.Tensor:
        """``r + gamma nu(s') - nu(s)`` for D_U rows of any shape."""
        flat = torch.from_numpy(np.asarray(rows, dtype=np.int64).reshape(-1))
        return self._adv(flat).reshape(np.shape(rows))

    def state_dict(self) -> dict:
        return {"net": copy.deepcopy(self.net.state_dict()), "opt": copy.deepcopy(self.opt.state_dict()),
                "rng": copy.deepcopy(self.rng.bit_generator.state), "gen": self.gen.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.net.load_state_dict(state["net"])
        self.opt.load_state_dict(state["opt"])
        self.rng.bit_generator.state = copy.deepcopy(state["rng"])
        self.gen.set_state(state["gen"])
