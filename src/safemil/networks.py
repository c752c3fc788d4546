"""The plain MLP every network here is built from (actors, critics, cost nets, BCQ's VAE),
and the lidar encoder actors and cost nets share on navigation tasks.

One builder, so two networks of the same sizes are built, and initialised from the torch
RNG, in the same order wherever they are made.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from safemil.errors import ConfigError

# Rows per forward pass when a whole dataset is scored without gradients. Each hidden activation
# of a 256-wide net is then 2 MB, so a pass stays in cache: 2.5x faster than 65,536-row passes,
# which also held ~200 MB of activations at once (450k rows, one thread). A row's output can depend
# on how the matrix kernel blocks rows: passes of fewer than ~64 rows take other code paths. So the
# size divides the 65,536 used before and `map_rows` never ends on such a sliver: each row gets
# the numbers the one-pass-per-65,536-rows scoring gave it, bit for bit (tests/test_networks.py),
# except in the rare sets whose row count left that scoring itself a sliver (N mod 65,536 < 64).
SCORE_CHUNK_ROWS = 2048
_MIN_PASS_ROWS = 64


def mlp(sizes: Sequence[int], activation: type[nn.Module] = nn.ReLU) -> nn.Sequential:
    """Linear layers through ``sizes`` (input, hidden..., output), ``activation`` between them."""
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2 or any(s < 1 for s in sizes):
        raise ConfigError(f"network layer sizes must be >= 1 (input, hidden..., output), got {tuple(sizes)}")
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


def row_passes(n: int, chunk: int = SCORE_CHUNK_ROWS) -> list[tuple[int, int]]:
    """``(start, end)`` of each pass over ``n`` rows: ``chunk`` rows each, the last one taking a
    sliver of fewer than 64 rows with it (see SCORE_CHUNK_ROWS)."""
    starts = list(range(0, n, chunk))
    if len(starts) > 1 and n - starts[-1] < _MIN_PASS_ROWS:
        starts.pop()
    return list(zip(starts, [*starts[1:], n][: len(starts)], strict=True))


@torch.no_grad()
def map_rows(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
             chunk: int = SCORE_CHUNK_ROWS) -> torch.Tensor:
    """``fn`` over the rows of ``x`` in ``chunk``-row passes, written into one output tensor.

    One preallocated output, not a list of per-chunk results joined at the end: small results
    kept alive between freed activations fragment the heap so it cannot shrink (+450 MB of
    resident memory to score 450k rows in 2,048-row passes that way).
    """
    passes = row_passes(len(x), chunk)
    if not passes:
        return fn(x)
    (_, end), *rest = passes
    first = fn(x[:end])
    out = torch.empty((len(x), *first.shape[1:]), dtype=first.dtype)
    out[:end] = first
    for i, j in rest:
        out[i:j] = fn(x[i:j])
    return out


# Where the lidar sits in a navigation observation: (first index, object kinds, bins per kind);
# block k holds kind k's closeness in bins 0..bins-1 (`safemil.tasks.TaskSpec.lidar_layout`).
LidarLayout = tuple[int, int, int]


def lidar_encoder_sizes(owner: str, sizes: Sequence[int]) -> tuple[int, ...]:
    """An encoder's sizes (a config's ``lidar_encoder``) as a tuple, or a ConfigError naming ``owner``."""
    sizes = tuple(sizes)
    if any(isinstance(h, bool) or not isinstance(h, int) or h < 1 for h in sizes):
        raise ConfigError(f"{owner} lidar_encoder sizes must be positive integers (or empty), got {sizes!r}")
    return sizes


def check_lidar_fits(layout: LidarLayout, obs_dim: int) -> None:
    """ConfigError unless the lidar ``layout`` lies inside an ``obs_dim``-dim observation."""
    start, kinds, bins = (int(v) for v in layout)
    if start < 0 or kinds < 1 or bins < 1 or start + kinds * bins > obs_dim:
        raise ConfigError(f"lidar layout {tuple(layout)} does not fit a {obs_dim}-dim observation")


class LidarEncoder(nn.Module):
    """One small net shared by the lidar bins: bin i's readings of every kind -> features of bin i.

    The same weights read every direction, so what a hazard ahead means is learned once, from the
    data of all bins, not once per bin. Inputs are the raw closeness values (already in [0, 1]).
    """

    def __init__(self, layout: LidarLayout, sizes: tuple[int, ...]):
        super().__init__()
        self.start, self.kinds, self.bins = (int(v) for v in layout)
        self.net = nn.Sequential(mlp([self.kinds, *sizes]), nn.ReLU())
        self.out_dim = self.bins * sizes[-1]

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        end = self.start + self.kinds * self.bins
        per_bin = obs[..., self.start:end].reshape(*obs.shape[:-1], self.kinds, self.bins).transpose(-1, -2)
        return self.net(per_bin).flatten(-2)
