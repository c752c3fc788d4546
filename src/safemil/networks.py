"""The plain MLP every network here is built from (actors, critics, cost nets, BCQ's VAE).

One builder, so two networks of the same sizes are built, and initialised from the torch
RNG, in the same order wherever they are made.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from safemil.errors import ConfigError


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
