"""Weighted behaviour cloning on a label-free view of D_U.

Each step samples length-H segments (index arithmetic, see
`safemil.data.sampling`), asks an optional cost function for the learned
per-step cost of every sampled row, turns it into weights (per segment or per
(s, a) pair) and takes one AdamW step on the weighted NLL or squared error.
With no cost function (or ``weights.kind = none``) it is plain BC.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from safemil.data.dataset import LearnerView
from safemil.data.sampling import SegmentSampler
from safemil.errors import ConfigError
from safemil.optim import adamw, clip_gradients
from safemil.policies.actors import ActorConfig, LidarLayout, TorchPolicy, actor_state, make_actor
from safemil.policies.weights import (
    WeightConfig,
    discounted_segment_sums,
    effective_sample_size,
    hard_weights,
    soft_weights,
)

LOSSES = ("nll", "mse")

# rows (B, H) of the view -> learned per-step cost (B, H), no gradient
RowCostFn = Callable[[np.ndarray], torch.Tensor]
# trajectory ids (B,) of the view -> learned whole-trajectory cost (B,)
TrajCostFn = Callable[[np.ndarray], torch.Tensor]


@dataclass
class BCConfig:
    actor: ActorConfig = field(default_factory=ActorConfig)
    weights: WeightConfig = field(default_factory=WeightConfig)
    loss: str = "nll"  # nll | mse (mse is forced for a deterministic actor)
    batch_size: int = 256  # (s, a) pairs per step = segments x segment_len
    segment_len: int = 16  # steps per sampled segment (and the H of trajectory-level weights)
    lr: float = 1e-4  # AdamW learning rate
    weight_decay: float = 0.01  # AdamW weight decay
    grad_clip: float = 10.0  # max gradient L2 norm; 0 disables clipping

    def __post_init__(self):
        if self.loss not in LOSSES:
            raise ConfigError(f"unknown BC loss {self.loss!r}; choose one of {', '.join(LOSSES)}")
        if self.segment_len < 1 or self.batch_size < self.segment_len:
            raise ConfigError(
                f"need 1 <= segment_len <= batch_size, got segment_len={self.segment_len}, batch_size={self.batch_size}"
            )
        if self.lr <= 0:
            raise ConfigError(f"lr must be > 0, got {self.lr}")
        if self.grad_clip < 0:  # a negative norm would flip every gradient
            raise ConfigError(f"grad_clip must be >= 0 (0 disables clipping), got {self.grad_clip}")


class WeightedBC:
    """One actor, its optimiser and its sampler; ``step(cost_fn)`` is one weighted update."""

    def __init__(self, view: LearnerView, config: BCConfig, seed: int,
                 act_low: np.ndarray | None = None, act_high: np.ndarray | None = None,
                 lidar: LidarLayout | None = None):
        self.view, self.config = view, config
        self.actor = make_actor(config.actor, view.obs_dim, view.act_dim, act_low, act_high, lidar)
        self.actor.set_normalizer(view.observations)
        self.loss_kind = "mse" if config.actor.kind == "deterministic" else config.loss
        self.opt = adamw(self.actor.parameters(), config.lr, config.weight_decay)
        self.sampler = SegmentSampler(view.index, config.segment_len)
        self.rng = np.random.default_rng(seed)
        self.n_segments = max(1, config.batch_size // config.segment_len)
        self._obs = torch.from_numpy(np.ascontiguousarray(view.observations, dtype=np.float32))
        self._act = torch.from_numpy(np.ascontiguousarray(view.actions, dtype=np.float32))
        self.seed = seed
        self._traj_weights: np.ndarray | None = None
        self._resample_ess = float("nan")

    @property
    def observations(self) -> torch.Tensor:
        """The view's observations as one float32 tensor (shared, not a copy): index it by sampled rows."""
        return self._obs

    @property
    def actions(self) -> torch.Tensor:
        """The view's actions as one float32 tensor (shared, not a copy)."""
        return self._act

    def weights_for(self, costs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Per-step weights (B, H) from per-step learned costs (B, H)."""
        wc = self.config.weights
        if wc.level == "segment":
            seg = discounted_segment_sums(costs, mask, wc.gamma)
            w = soft_weights(seg, wc.beta) if wc.kind == "soft" else hard_weights(seg, wc.threshold)
            return w[:, None].expand_as(costs) * mask
        w = soft_weights(costs, wc.beta, mask) if wc.kind == "soft" else hard_weights(costs, wc.threshold, mask)
        return w * mask

    def step(self, cost_fn: RowCostFn | None = None, traj_cost_fn: TrajCostFn | None = None) -> dict[str, float]:
        """One update. ``level=trajectory`` weights need ``traj_cost_fn``; the other levels ``cost_fn``."""
        wc = self.config.weights
        resample = wc.sampling == "resample" and traj_cost_fn is not None
        if resample:
            if self._traj_weights is None:  # the cost is frozen: one weight per trajectory for the whole run
                self._traj_weights = self._trajectory_weights(traj_cost_fn)
            seg = self.sampler.sample_by_trajectory(self.n_segments, self._traj_weights, self.rng)
        else:
            seg = self.sampler.sample(self.n_segments, self.rng)
        rows = torch.from_numpy(seg.rows)
        mask = torch.from_numpy(seg.mask)
        obs, act = self._obs[rows], self._act[rows]
        out: dict[str, float] = {}
        if resample:  # the weights chose the segments; each counts once
            w = mask.float()
            out["bc_ess"] = self._resample_ess
        elif wc.kind != "none" and wc.level == "trajectory" and traj_cost_fn is not None:
            with torch.no_grad():
                c = traj_cost_fn(seg.traj).float()
                wt = soft_weights(c, wc.beta) if wc.kind == "soft" else hard_weights(c, wc.threshold)
                w = wt[:, None].expand(mask.shape) * mask
            out["bc_ess"] = effective_sample_size(wt)
            out["bc_weight_max"] = float(w.max())
        elif wc.kind != "none" and wc.level != "trajectory" and cost_fn is not None:
            with torch.no_grad():
                w = self.weights_for(cost_fn(seg.rows).float(), mask)
            if self.config.weights.level == "segment":
                out["bc_ess"] = effective_sample_size(w[:, 0])
            else:
                out["bc_ess"] = effective_sample_size(w, mask)
            out["bc_weight_max"] = float(w.max())
        else:
            w = mask.float()
        per = self.actor.nll(obs, act) if self.loss_kind == "nll" else self.actor.sq_error(obs, act)
        loss = (w * per).sum() / mask.sum()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        grad = clip_gradients(self.actor.parameters(), self.config.grad_clip)  # 0: off
        self.opt.step()
        out["bc_loss"] = float(loss.detach())
        out["bc_grad_norm"] = float(grad)
        return out

    @torch.no_grad()
    def _trajectory_weights(self, traj_cost_fn: TrajCostFn) -> np.ndarray:
        """One weight per trajectory of the view, from its (frozen) learned trajectory cost."""
        wc = self.config.weights
        c = traj_cost_fn(np.arange(len(self.view.index))).double()
        w = soft_weights(c, wc.beta) if wc.kind == "soft" else hard_weights(c, wc.threshold)
        if not w.any():
            raise ConfigError(f"no trajectory's learned cost is <= bc.weights.threshold={wc.threshold}: "
                              "nothing to clone; raise the threshold or use soft weights")
        # Kish effective sample size of the segment draw, as a fraction of the trajectories
        self._resample_ess = effective_sample_size(w * torch.from_numpy(self.sampler.windows))
        return w.numpy()

    def trajectory_draw_shares(self, traj_cost_fn: TrajCostFn) -> np.ndarray | None:
        """Each trajectory's share of the segment draws when segments are drawn by trajectory weight
        (``sampling=resample`` with trajectory weights), else None: which data the policy clones."""
        wc = self.config.weights
        if wc.sampling != "resample" or wc.level != "trajectory" or wc.kind == "none":
            return None
        if self._traj_weights is None:
            self._traj_weights = self._trajectory_weights(traj_cost_fn)
        return self.sampler.trajectory_probabilities(self._traj_weights)

    def policy(self) -> TorchPolicy:
        return TorchPolicy(self.actor, seed=self.seed)

    def policy_state(self) -> dict:
        """The trained actor, self-contained (see `actor_state`)."""
        return actor_state(self.actor, self.config.actor)

    def state_dict(self) -> dict:
        return {"actor": self.actor.state_dict(), "opt": self.opt.state_dict(), "rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        self.actor.load_state_dict(state["actor"])
        self.opt.load_state_dict(state["opt"])
        self.rng.bit_generator.state = state["rng"]
