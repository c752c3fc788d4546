"""The cost network c(s, a) in (0, 1), shared by every learned cost source.

An MLP on the concatenation [s, a] with ELU hidden layers and a sigmoid head
(the SafeMIL architecture). Inputs are standardised inside the network with
statistics fitted on the (label-free) training data, so a saved network scores
raw observations without any side information.

On a navigation task the net can also read its lidar through `LidarEncoder`
(weights shared by the angular bins), for the reason an actor does: "a hazard
close ahead" is then learned once, not once per bin from the few steps where a
hazard sat in that bin.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from safemil.errors import ConfigError
from safemil.networks import LidarEncoder, LidarLayout, check_lidar_fits, lidar_encoder_sizes, mlp


def build_mlp(
    in_dim: int, hidden: Sequence[int], out_dim: int, activation: type[nn.Module] = nn.ELU
) -> nn.Sequential:
    """Linear layers of the given widths with ``activation`` between them (none after the last)."""
    if in_dim < 1 or out_dim < 1:
        raise ConfigError(f"network input/output sizes must be >= 1, got {in_dim} -> {out_dim}")
    if any(int(h) < 1 for h in hidden):
        raise ConfigError(f"hidden layer sizes must be >= 1, got {tuple(hidden)}")
    return mlp([in_dim, *hidden, out_dim], activation)


class CostNet(nn.Module):
    """c(s, a) = sigmoid(MLP(standardise([s, a]) ++ encoder(lidar(s)))), one scalar in (0, 1) per pair.

    ``lidar_encoder``: sizes (hidden..., out) of the per-bin encoder; empty (or no ``lidar``
    layout): none, and the net is the plain MLP on the standardised pair.
    """

    def __init__(self, obs_dim: int, act_dim: int, hidden: Sequence[int] = (256, 256),
                 lidar: LidarLayout | None = None, lidar_encoder: Sequence[int] = ()):
        super().__init__()
        self.obs_dim = int(obs_dim)
        self.act_dim = int(act_dim)
        self.hidden = tuple(int(h) for h in hidden)
        sizes = lidar_encoder_sizes("CostNet", tuple(int(h) for h in lidar_encoder))
        self.encoder = None
        if sizes and lidar is not None:
            check_lidar_fits(lidar, self.obs_dim)
            self.encoder = LidarEncoder(tuple(int(v) for v in lidar), sizes)
        extra = self.encoder.out_dim if self.encoder is not None else 0
        self.mlp = build_mlp(self.obs_dim + self.act_dim + extra, self.hidden, 1)
        d = self.obs_dim + self.act_dim
        self.register_buffer("in_mean", torch.zeros(d))
        self.register_buffer("in_std", torch.ones(d))

    @property
    def in_dim(self) -> int:
        return self.obs_dim + self.act_dim

    def fit_normalizer(self, *columns: np.ndarray, min_std: float = 1e-3) -> None:
        """Standardise inputs with the mean/std of rows of [s, a]; constant columns pass through.

        ``columns``: the feature matrix, or blocks of its columns with the same rows (``obs, act``)
        so that no joined copy is made. Statistics are per column, reduced in float64 (the same
        numbers either way).
        """
        blocks = [np.asarray(c) for c in columns]
        if not blocks or any(b.ndim != 2 or len(b) != len(blocks[0]) for b in blocks):
            raise ConfigError(f"normaliser features must be 2-D blocks of the same rows, got "
                              f"{[b.shape for b in blocks]}")
        width = sum(b.shape[1] for b in blocks)
        if width != self.in_dim:
            raise ConfigError(f"normaliser features must have shape (N, {self.in_dim}), got {width} columns")
        mean = np.concatenate([b.mean(axis=0, dtype=np.float64) for b in blocks])
        std = np.concatenate([b.std(axis=0, dtype=np.float64) for b in blocks])
        std = np.where(std < min_std, 1.0, std)
        self.in_mean.copy_(torch.as_tensor(mean, dtype=self.in_mean.dtype))
        self.in_std.copy_(torch.as_tensor(std, dtype=self.in_std.dtype))

    def logits_of(self, features: torch.Tensor) -> torch.Tensor:
        """Pre-sigmoid output for rows of concatenated [s, a]: shape (..., in_dim) -> (...)."""
        x = (features - self.in_mean) / self.in_std
        if self.encoder is not None:  # the encoder reads raw closeness values (already in [0, 1])
            x = torch.cat([x, self.encoder(features[..., : self.obs_dim])], dim=-1)
        return self.mlp(x).squeeze(-1)

    def score_features(self, features: torch.Tensor) -> torch.Tensor:
        """Cost in (0, 1) for rows of concatenated [s, a]."""
        return torch.sigmoid(self.logits_of(features))

    def forward(self, obs: torch.Tensor, act: torch.Tensor) -> torch.Tensor:
        return self.score_features(torch.cat([obs, act], dim=-1))
