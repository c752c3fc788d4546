"""BCQ-Lag's deployed policy: the VAE's decoder plus the bounded perturbation actor.

It lives with the other policies so that a saved run's policy can be rebuilt (for
`safemil eval RUN_DIR`) without the algorithm that trained it; `safemil.algos.bcq_lag`
trains it.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from safemil.networks import mlp


class _Norm(nn.Module):
    def __init__(self, mean: torch.Tensor, std: torch.Tensor):
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)

    def forward(self, x):
        return (x - self.mean) / self.std


class BCQPolicyNet(nn.Module):
    """VAE decoder + perturbation actor: everything needed to act (``mode`` like the BC actors)."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: tuple[int, ...], phi: float,
                 obs_mean: torch.Tensor, obs_std: torch.Tensor, act_low: np.ndarray, act_high: np.ndarray):
        super().__init__()
        self.obs_dim, self.act_dim, self.latent, self.phi = obs_dim, act_dim, 2 * act_dim, phi
        self.norm = _Norm(obs_mean, obs_std)
        h = list(hidden)
        self.encoder = mlp([obs_dim + act_dim, *h, 2 * self.latent])
        self.decoder = mlp([obs_dim + self.latent, *h, act_dim])
        self.perturb = mlp([obs_dim + act_dim, *h, act_dim])
        self.register_buffer("act_center", torch.as_tensor((act_high + act_low) / 2, dtype=torch.float32))
        self.register_buffer("act_scale", torch.as_tensor((act_high - act_low) / 2, dtype=torch.float32))

    def decode(self, s_n: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        if z is None:
            z = torch.zeros(*s_n.shape[:-1], self.latent)
        return torch.tanh(self.decoder(torch.cat([s_n, z.clamp(-0.5, 0.5)], -1)))

    def perturbed(self, s_n: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        return (a + self.phi * torch.tanh(self.perturb(torch.cat([s_n, a], -1)))).clamp(-1, 1)

    def mode(self, obs: torch.Tensor) -> torch.Tensor:
        s_n = self.norm(obs)
        return self.perturbed(s_n, self.decode(s_n))

    def sample(self, obs: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        s_n = self.norm(obs)
        z = torch.randn(*s_n.shape[:-1], self.latent, generator=generator)
        return self.perturbed(s_n, self.decode(s_n, z))

    def unsquash(self, y: torch.Tensor) -> torch.Tensor:
        return y * self.act_scale + self.act_center


def bcq_actor_from_state(state: dict) -> BCQPolicyNet:
    """Rebuild a BCQ-Lag policy from `policy_state` (used by `safemil eval RUN_DIR`)."""
    od, ad = state["obs_dim"], state["act_dim"]
    net = BCQPolicyNet(od, ad, tuple(state["hidden"]), state["phi"], torch.zeros(od), torch.ones(od),
                       np.asarray(state["act_low"]), np.asarray(state["act_high"]))
    net.load_state_dict(state["state_dict"])
    return net.eval()
