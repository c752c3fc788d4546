"""D_N-vs-D_U classification data shared by the classifier baselines (DWBC-NU, SafeDICE).

Both baselines fit a probabilistic classifier "is this (s, a) from D_N or from
D_U?". Which set a pair came from is the learner's own knowledge, not a hidden
label, so held-out accuracy is a legitimate training-side diagnostic. Whole
trajectories are held out (pairs of one trajectory are strongly correlated).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from safemil.data.dataset import LearnerView
from safemil.errors import ConfigError


def check_nu_views(negative: LearnerView, unlabeled: LearnerView, who: str) -> None:
    """Both sets non-empty, same observation/action sizes, finite."""
    for name, v in (("D_N (negative)", negative), ("D_U (unlabeled)", unlabeled)):
        if v.n_trajectories == 0 or len(v) == 0:
            raise ConfigError(f"{who}: {name} is empty; the classifier needs pairs from both sets")
        if not (np.isfinite(v.observations).all() and np.isfinite(v.actions).all()):
            raise ConfigError(f"{who}: {name} observations or actions contain NaN or inf")
    if (negative.obs_dim, negative.act_dim) != (unlabeled.obs_dim, unlabeled.act_dim):
        raise ConfigError(
            f"{who}: D_N has obs/act sizes {negative.obs_dim}/{negative.act_dim} but D_U has "
            f"{unlabeled.obs_dim}/{unlabeled.act_dim}"
        )


def holdout_rows(view: LearnerView, frac: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Row ids (train, held-out) with ``round(frac * n_traj)`` whole trajectories held out.

    A set of one trajectory cannot spare any: everything trains and the held-out part is empty.
    """
    n = view.n_trajectories
    k = int(round(frac * n)) if n > 1 else 0
    k = min(max(k, 1 if frac > 0 and n > 1 else 0), n - 1)
    held = np.sort(rng.choice(n, size=k, replace=False)) if k else np.zeros(0, dtype=np.int64)
    train = np.setdiff1d(np.arange(n), held)
    return view.index.rows(train), view.index.rows(held)


@dataclass(frozen=True)
class NURows:
    """Row ids into D_N and D_U views, split into classifier-train and held-out parts."""

    train_n: np.ndarray
    train_u: np.ndarray
    held_n: np.ndarray  # a fixed subsample (at most ``max_heldout`` rows) of the held-out trajectories
    held_u: np.ndarray

    @classmethod
    def build(cls, negative: LearnerView, unlabeled: LearnerView, holdout_frac: float,
              max_heldout: int, rng: np.random.Generator) -> NURows:
        if not 0.0 <= holdout_frac < 1.0:
            raise ConfigError(f"holdout_frac must be in [0, 1), got {holdout_frac}")
        tn, hn = holdout_rows(negative, holdout_frac, rng)
        tu, hu = holdout_rows(unlabeled, holdout_frac, rng)

        def cap(rows: np.ndarray) -> np.ndarray:
            return np.sort(rng.choice(rows, size=max_heldout, replace=False)) if len(rows) > max_heldout else rows

        return cls(tn, tu, cap(hn), cap(hu))

    def sample(self, batch: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``batch`` training rows from each set, uniformly with replacement."""
        return (self.train_n[rng.integers(0, len(self.train_n), batch)],
                self.train_u[rng.integers(0, len(self.train_u), batch)])


def heldout_accuracy(prob_n: torch.Tensor, prob_u: torch.Tensor, prefix: str) -> dict[str, float]:
    """Accuracy of ``P(from D_N) > 0.5`` on held-out D_N and D_U pairs, and their balanced mean.

    D_U is a mixture that contains non-preferred behaviour too, so accuracy on
    D_U is bounded by its preferred fraction; the balanced mean is the number to track.
    Empty held-out sets give NaN.
    """
    acc_n = float((prob_n > 0.5).float().mean()) if len(prob_n) else float("nan")
    acc_u = float((prob_u <= 0.5).float().mean()) if len(prob_u) else float("nan")
    return {f"{prefix}_acc_heldout": 0.5 * (acc_n + acc_u), f"{prefix}_acc_n_heldout": acc_n,
            f"{prefix}_acc_u_heldout": acc_u,
            f"{prefix}_mean_n_heldout": float(prob_n.mean()) if len(prob_n) else float("nan"),
            f"{prefix}_mean_u_heldout": float(prob_u.mean()) if len(prob_u) else float("nan")}


def gradient_penalty(fn: Callable[[torch.Tensor], torch.Tensor], x_a: torch.Tensor, x_b: torch.Tensor,
                     generator: torch.Generator) -> torch.Tensor:
    """Mean of ``(||grad_x fn(x)|| - 1)^2`` at random points on the segments between ``x_a`` and ``x_b`` rows."""
    eps = torch.rand((len(x_a), 1), generator=generator)
    x = (eps * x_a + (1 - eps) * x_b).detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(fn(x).sum(), x, create_graph=True)
    return ((grad.norm(dim=-1) - 1.0) ** 2).mean()
