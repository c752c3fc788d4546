"""SafeMIL cost learning: multiple-instance learning of c(s, a) from D_N vs D_U bags.

A bag is K length-H segments drawn with replacement from one set; its score is
the mean of the segments' discounted cost sums; the Bradley-Terry loss
softplus(Score(B_U) - Score(B_N)) asks every negative bag to outscore its
unlabeled partner.

Why a pool: scoring ``n_bag_pairs x K x H`` pairs per set per step (the research
defaults: 128 x 512 x 20) is ~15 s on a 2-core CPU. Instead each step draws a
pool of ``pool_size`` segments per set, scores the pool once (one batched
forward of ``2 x pool_size x H`` pairs, gradient through it) and forms all bags
as random index draws into the pool; a bag score is then a (bags x pool) count
matrix times the pool's segment scores. A step therefore costs about one MLP
training step on the pool's distinct pairs, whatever K and the number of bags.

Config rules checked against the data (a `ConfigError` names the culprit):
- D_N and D_U must be non-empty and have the same observation/action sizes;
- H must not exceed the longest trajectory of either set (shorter trajectories
  contribute one window, masked past their end; if *every* trajectory is
  shorter than H the windows would all be padding);
- K must not exceed the number of distinct windows of either set (a bag larger
  than the set it summarises only repeats segments).
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from safemil.console import progress_bar
from safemil.costs.diagnostics import CollapseDetector
from safemil.costs.nets import CostNet
from safemil.data.dataset import LearnerView
from safemil.data.sampling import Segments, SegmentSampler
from safemil.errors import ConfigError, DatasetError
from safemil.networks import LidarLayout, lidar_encoder_sizes, map_rows
from safemil.optim import adamw, clip_gradients


@dataclass
class MILConfig:
    """Hyper-parameters of MIL cost learning; the defaults are chosen for a 2-core CPU.

    ``bag_size`` K = 64 is where the paper's bag-size sweep reaches its floor;
    ``segment_len`` H = 10 is inside the range reported as insensitive;
    ``pool_size`` sets the per-step compute: 2 x 256 x 10 = 5120 scored pairs,
    ~20-50 ms per step on one idle core. A bag is K
    draws with replacement from the pool, so K > pool_size is allowed but then a
    bag is a bootstrap resample of the pool;
    ``lr`` 1e-3 is what the research code's comment reports as better than 1e-5;
    ``steps`` 500: on the generated Hopper/Swimmer data the BT loss saturates within
    ~250 steps and the per-step AUROC against the hidden cost does not improve
    (it drifts down slightly) with longer training.
    """

    bag_size: int = 64  # K: segments per bag
    segment_len: int = 10  # H: steps per segment
    gamma: float = 0.99  # discount inside a segment
    n_bag_pairs: int = 128  # (negative, unlabeled) bag pairs per step
    pool_size: int = 256  # distinct segments scored per set per step
    hidden: tuple[int, ...] = (256, 256)  # cost network's hidden layer sizes (ELU)
    # Navigation tasks only: sizes (hidden..., out) of the per-lidar-bin encoder whose outputs join
    # the cost net's input (`safemil.costs.nets.CostNet`); empty: none. Ignored on tasks without lidar.
    lidar_encoder: tuple[int, ...] = ()
    lr: float = 1e-3  # AdamW learning rate
    weight_decay: float = 0.01  # AdamW weight decay
    grad_clip: float = 10.0  # max gradient L2 norm; 0 disables clipping
    steps: int = 500  # training steps a runner should take (see the class docstring)
    collapse_window: int = 200  # steps of near-log-2 loss and ~zero gap before warning

    def __post_init__(self):
        for name in ("bag_size", "segment_len", "n_bag_pairs", "pool_size", "collapse_window"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"MILConfig.{name} must be an integer >= 1, got {v!r}")
        if isinstance(self.steps, bool) or not isinstance(self.steps, int) or self.steps < 0:
            raise ConfigError(f"MILConfig.steps must be an integer >= 0, got {self.steps!r}")
        if not 0.0 < self.gamma <= 1.0:
            raise ConfigError(f"MILConfig.gamma must be in (0, 1], got {self.gamma}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ConfigError(f"MILConfig.lr must be a positive number, got {self.lr}")
        if self.weight_decay < 0:
            raise ConfigError(f"MILConfig.weight_decay must be >= 0, got {self.weight_decay}")
        if self.grad_clip < 0:
            raise ConfigError(f"MILConfig.grad_clip must be >= 0 (0 = off), got {self.grad_clip}")
        self.hidden = tuple(self.hidden)
        if len(self.hidden) == 0 or any(
            isinstance(h, bool) or not isinstance(h, int) or h < 1 for h in self.hidden
        ):
            raise ConfigError(
                f"MILConfig.hidden must be one or more positive integers, got {self.hidden!r}"
            )
        self.lidar_encoder = lidar_encoder_sizes("MILConfig", self.lidar_encoder)


def _pairs(view: LearnerView) -> tuple[torch.Tensor, torch.Tensor]:
    """The view's observations and actions as float32 tensors (shared with the view, not copied)."""
    return tuple(torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)) for a in (view.observations, view.actions))


def _check_views(negative: LearnerView, unlabeled: LearnerView, config: MILConfig) -> None:
    for name, v in (("D_N (negative)", negative), ("D_U (unlabeled)", unlabeled)):
        if v.n_trajectories == 0 or len(v) == 0:
            raise ConfigError(f"{name} is empty: MIL cost learning needs trajectories in both sets")
    if (negative.obs_dim, negative.act_dim) != (unlabeled.obs_dim, unlabeled.act_dim):
        raise ConfigError(
            f"D_N has obs/act sizes {negative.obs_dim}/{negative.act_dim} but D_U has "
            f"{unlabeled.obs_dim}/{unlabeled.act_dim}"
        )
    h, k = config.segment_len, config.bag_size
    for name, v in (("D_N", negative), ("D_U", unlabeled)):
        longest = int(v.index.lengths.max())
        if h > longest:
            raise ConfigError(
                f"segment_len H={h} exceeds the longest trajectory in {name} ({longest} steps); "
                f"use H <= {longest}"
            )
        n_windows = int(np.maximum(v.index.lengths - h + 1, 1).sum())
        if k > n_windows:
            raise ConfigError(
                f"bag_size K={k} exceeds the {n_windows} distinct length-{h} windows in {name}; "
                f"use K <= {n_windows}"
            )


def _gather(pairs: tuple[torch.Tensor, torch.Tensor], rows: np.ndarray) -> torch.Tensor:
    """Rows [s, a] of one set, in the order of ``rows`` (flattened)."""
    idx = torch.from_numpy(rows.reshape(-1))
    return torch.cat([pairs[0].index_select(0, idx), pairs[1].index_select(0, idx)], dim=1)


class MILCost:
    """The SafeMIL cost source (implements `safemil.costs.base.CostModel`)."""

    def __init__(self, negative: LearnerView, unlabeled: LearnerView, config: MILConfig, seed: int,
                 lidar: LidarLayout | None = None):
        if not isinstance(config, MILConfig):
            raise ConfigError(f"config must be a MILConfig, got {type(config).__name__}")
        _check_views(negative, unlabeled, config)
        self.config = config
        self.seed = int(seed)
        self._pairs_n, self._pairs_u = _pairs(negative), _pairs(unlabeled)  # (obs, act) of each set
        # a sum is non-finite iff some entry is (short of float64 overflow), with no mask the size of the data
        if not all(math.isfinite(a.numpy().sum(dtype=np.float64)) for a in (*self._pairs_n, *self._pairs_u)):
            raise DatasetError("D_N/D_U observations or actions contain NaN or inf")
        self._sampler_n = SegmentSampler(negative.index, config.segment_len)
        self._sampler_u = SegmentSampler(unlabeled.index, config.segment_len)
        self._discount = torch.tensor(config.gamma, dtype=torch.float64) ** torch.arange(
            config.segment_len
        )
        self._discount = self._discount.float()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.net = CostNet(negative.obs_dim, negative.act_dim, config.hidden, lidar, config.lidar_encoder)
        obs_n, act_n = self._pairs_n
        obs_u, act_u = self._pairs_u
        self.net.fit_normalizer(np.concatenate([obs_n.numpy(), obs_u.numpy()]),
                                np.concatenate([act_n.numpy(), act_u.numpy()]))
        self.optimizer = adamw(self.net.parameters(), config.lr, config.weight_decay)
        self.rng = np.random.default_rng(np.random.SeedSequence([self.seed, 0x51F3]))
        self.detector = CollapseDetector(window=config.collapse_window)
        self.step = 0
        self._warned_collapse = False

    # ------------------------------------------------------------------ training
    @property
    def pairs_per_step(self) -> int:
        """(s, a) pairs scored by one `train_step` (both pools, padding included)."""
        return 2 * self.config.pool_size * self.config.segment_len

    def _bag_matrix(self) -> torch.Tensor:
        """(n_bag_pairs, pool_size) matrix whose row b averages bag b's K draws from the pool."""
        c = self.config
        idx = self.rng.integers(0, c.pool_size, size=(c.n_bag_pairs, c.bag_size))
        flat = (np.arange(c.n_bag_pairs)[:, None] * c.pool_size + idx).ravel()
        counts = np.bincount(flat, minlength=c.n_bag_pairs * c.pool_size)
        return torch.from_numpy(
            counts.reshape(c.n_bag_pairs, c.pool_size).astype(np.float32) / c.bag_size
        )

    def train_step(self) -> dict[str, float]:
        """One Bradley-Terry step on ``n_bag_pairs`` bag pairs formed from one scored pool per set."""
        c = self.config
        seg_n = self._sampler_n.sample(c.pool_size, self.rng)
        seg_u = self._sampler_u.sample(c.pool_size, self.rng)
        bags_n, bags_u = self._bag_matrix(), self._bag_matrix()
        mask = torch.from_numpy(np.concatenate([seg_n.mask, seg_u.mask]))
        weight = torch.where(mask, self._discount, 0.0)  # (2P, H)

        self.net.train()
        x = torch.cat([_gather(self._pairs_n, seg_n.rows), _gather(self._pairs_u, seg_u.rows)])
        cost = self.net.score_features(x).view(2 * c.pool_size, c.segment_len)
        seg_score = (cost * weight).sum(dim=1)
        score_n = bags_n @ seg_score[: c.pool_size]
        score_u = bags_u @ seg_score[c.pool_size :]
        loss = F.softplus(score_u - score_n).mean()

        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = clip_gradients(self.net.parameters(), c.grad_clip)  # 0: measured, not clipped
        self.optimizer.step()
        self.step += 1

        bt_loss = float(loss.detach())
        gap = float((score_n - score_u).mean().detach())
        collapsed = self.detector.update(bt_loss, gap)
        if collapsed and not self._warned_collapse:
            self._warned_collapse = True
            warnings.warn(
                f"MIL cost looks collapsed at step {self.step}: BT loss ~ log 2 and bag-score gap ~ 0 "
                f"over the last {c.collapse_window} steps (try a larger bag_size or lr)",
                RuntimeWarning,
                stacklevel=2,
            )
        with torch.no_grad():
            cost_n = float(cost[: c.pool_size][mask[: c.pool_size]].mean())
            cost_u = float(cost[c.pool_size :][mask[c.pool_size :]].mean())
        return {
            "bt_loss": bt_loss,
            "score_gap": gap,
            "bag_acc": float((score_n > score_u).float().mean()),
            "cost_mean_neg": cost_n,
            "cost_mean_unl": cost_u,
            "grad_norm": float(grad_norm),
            "collapse_warning": float(collapsed),
        }

    def fit(
        self,
        steps: int | None = None,
        callback: Callable[[int, dict[str, float]], None] | None = None,
        progress: bool = True,
    ) -> dict[str, float]:
        """Run ``steps`` (default ``config.steps``) training steps with a progress bar; returns the last metrics."""
        steps = self.config.steps if steps is None else int(steps)
        last: dict[str, float] = {}
        bar = progress_bar(progress, iterable=range(steps), desc="MIL cost", mininterval=1.0)
        for _ in bar:
            last = self.train_step()
            if callback is not None:
                callback(self.step, last)
            if self.step % 50 == 0:
                bar.set_postfix(loss=f"{last['bt_loss']:.3f}", gap=f"{last['score_gap']:.2f}")
        return last

    # ------------------------------------------------------------------ scoring
    def _check_pairs(self, obs: torch.Tensor, act: torch.Tensor) -> None:
        if obs.ndim < 1 or act.ndim < 1 or obs.shape[:-1] != act.shape[:-1]:
            raise ConfigError(
                f"obs and act batch shapes differ: {tuple(obs.shape)} vs {tuple(act.shape)}"
            )
        if obs.shape[-1] != self.net.obs_dim or act.shape[-1] != self.net.act_dim:
            raise ConfigError(
                f"cost model expects obs/act sizes {self.net.obs_dim}/{self.net.act_dim}, "
                f"got {obs.shape[-1]}/{act.shape[-1]}"
            )

    @torch.no_grad()
    def cost(self, obs: torch.Tensor, act: torch.Tensor) -> torch.Tensor:
        """Per-pair cost in (0, 1), shape (N,) for inputs (N, obs_dim) and (N, act_dim)."""
        obs = torch.as_tensor(obs, dtype=torch.float32)
        act = torch.as_tensor(act, dtype=torch.float32)
        self._check_pairs(obs, act)
        self.net.eval()
        x = torch.cat([obs, act], dim=-1)
        lead = x.shape[:-1]
        x = x.reshape(-1, x.shape[-1])
        return map_rows(self.net.score_features, x).reshape(lead)

    def cost_numpy(self, obs: np.ndarray, act: np.ndarray) -> np.ndarray:
        """`cost` for numpy arrays (what the evaluator-side diagnostics take)."""
        return self.cost(torch.as_tensor(obs), torch.as_tensor(act)).numpy()

    def view_cost(self, view: LearnerView) -> torch.Tensor:
        """Learned cost of every row of a view, shape (len(view),)."""
        return self.cost(torch.as_tensor(view.observations), torch.as_tensor(view.actions))

    @torch.no_grad()
    def segment_cost(self, view: LearnerView, segments: Segments) -> torch.Tensor:
        """Discounted masked sums sum_t gamma^t c(s_t, a_t) over segments of any shape (..., H)."""
        rows = np.asarray(segments.rows)
        mask = torch.as_tensor(np.asarray(segments.mask), dtype=torch.bool)
        if rows.ndim < 1 or rows.shape != tuple(mask.shape):
            raise ConfigError(
                f"segment rows {rows.shape} and mask {tuple(mask.shape)} must share a shape (..., H)"
            )
        if rows.size and (rows.min() < 0 or rows.max() >= len(view)):
            raise ConfigError(f"segment rows out of range for a view of {len(view)} rows")
        cost = self.cost(
            torch.as_tensor(view.observations[rows]), torch.as_tensor(view.actions[rows])
        )
        disc = torch.tensor(self.config.gamma, dtype=torch.float64) ** torch.arange(rows.shape[-1])
        return (cost * torch.where(mask, disc.float(), 0.0)).sum(dim=-1)

    # ------------------------------------------------------------------ resume
    def state_dict(self) -> dict:
        """Weights, AdamW state, sampling RNG, step and collapse history: resuming is bit-identical."""
        return {
            "net": copy.deepcopy(self.net.state_dict()),
            "optimizer": copy.deepcopy(self.optimizer.state_dict()),
            "rng": copy.deepcopy(self.rng.bit_generator.state),
            "step": self.step,
            "detector": self.detector.state_dict(),
            "warned_collapse": self._warned_collapse,
        }

    def load_state_dict(self, state: dict) -> None:
        try:
            self.net.load_state_dict(state["net"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.rng.bit_generator.state = copy.deepcopy(state["rng"])
            self.step = int(state["step"])
            self.detector.load_state_dict(state["detector"])
            self._warned_collapse = bool(state.get("warned_collapse", False))
        except (KeyError, RuntimeError, ValueError, TypeError) as e:
            raise ConfigError(
                f"MIL cost checkpoint does not match this model/config: {e}"
            ) from None
