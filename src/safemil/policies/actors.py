"""Actor networks for behaviour cloning, all usable directly by the evaluator.

Every actor owns its observation normaliser (mean/std of the training data)
and the action box as buffers, so its ``state_dict`` alone is enough to act.
Stochastic actors squash a Gaussian (or a mixture of Gaussians) through tanh.
The log-Jacobian of tanh depends only on the data action, not on the
parameters, so the training NLL is the Gaussian NLL of ``atanh(a)``.

On a navigation task an actor can also read its lidar through a small network
shared by the 16 angular bins (`LidarEncoder`): a plain MLP must learn "hazard
ahead" separately for every bin from the few data where a hazard sat there,
and its clones entered hazards several times more often than the behaviour they
cloned (`docs/navigation.md`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from safemil.config import from_dict
from safemil.errors import ConfigError
from safemil.networks import LidarEncoder, LidarLayout, check_lidar_fits, lidar_encoder_sizes, mlp
from safemil.policies.bcq import bcq_actor_from_state

ACTOR_KINDS = ("gaussian", "mixture", "deterministic")
LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0
_EDGE = 1e-3  # data actions are clipped to (-1 + e, 1 - e) in the squashed space before atanh


@dataclass
class ActorConfig:
    # Deterministic (MSE) clones reproduce their data's return (benchmarks/imitation_fidelity.py);
    # a mixture's noise-free action switches components between states and can fall where it runs.
    kind: str = "deterministic"  # gaussian | mixture | deterministic
    hidden: tuple[int, ...] = (256, 256)  # hidden layer sizes (ReLU)
    n_components: int = 2  # mixture only
    # Navigation tasks only: sizes (hidden..., out) of a ReLU net applied to each lidar bin's readings
    # of every object kind, its outputs joining the normalised observation; empty: no encoder.
    lidar_encoder: tuple[int, ...] = ()

    def __post_init__(self):
        if self.kind not in ACTOR_KINDS:
            raise ConfigError(f"unknown actor {self.kind!r}; choose one of {', '.join(ACTOR_KINDS)}")
        if not self.hidden or any(h < 1 for h in self.hidden):
            raise ConfigError(f"hidden sizes must be positive, got {self.hidden}")
        if self.n_components < 1:
            raise ConfigError(f"n_components must be >= 1, got {self.n_components}")
        self.lidar_encoder = lidar_encoder_sizes("ActorConfig", self.lidar_encoder)


class Actor(nn.Module):
    """Common part: normalisation buffers, action box, the trunk, and ``act``."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: tuple[int, ...], out_dim: int,
                 act_low: np.ndarray | None = None, act_high: np.ndarray | None = None,
                 lidar: LidarLayout | None = None, lidar_encoder: tuple[int, ...] = ()):
        super().__init__()
        self.obs_dim, self.act_dim = obs_dim, act_dim
        self.lidar = tuple(int(v) for v in lidar) if lidar_encoder and lidar is not None else None
        self.encoder = LidarEncoder(self.lidar, lidar_encoder) if self.lidar else None
        self.net = mlp([obs_dim + (self.encoder.out_dim if self.encoder else 0), *hidden, out_dim])
        low = torch.as_tensor(act_low if act_low is not None else -np.ones(act_dim), dtype=torch.float32)
        high = torch.as_tensor(act_high if act_high is not None else np.ones(act_dim), dtype=torch.float32)
        self.register_buffer("obs_mean", torch.zeros(obs_dim))
        self.register_buffer("obs_std", torch.ones(obs_dim))
        self.register_buffer("act_center", (high + low) / 2)
        self.register_buffer("act_scale", (high - low) / 2)

    def set_normalizer(self, observations: np.ndarray) -> None:
        """Use the training data's per-feature mean/std (std floored so constant features stay finite)."""
        obs = torch.as_tensor(observations, dtype=torch.float64)
        self.obs_mean.copy_(obs.mean(0).float())
        self.obs_std.copy_(obs.std(0).clamp_min(1e-3).float())

    def features(self, obs: torch.Tensor) -> torch.Tensor:
        x = (obs - self.obs_mean) / self.obs_std
        if self.encoder is not None:
            x = torch.cat([x, self.encoder(obs)], -1)
        return self.net(x)

    def squash_target(self, actions: torch.Tensor) -> torch.Tensor:
        """Data actions mapped to (-1, 1) (the tanh space)."""
        return ((actions - self.act_center) / self.act_scale).clamp(-1 + _EDGE, 1 - _EDGE)

    def unsquash(self, y: torch.Tensor) -> torch.Tensor:
        return y * self.act_scale + self.act_center

    # -- what subclasses define -------------------------------------------------
    def mode(self, obs: torch.Tensor) -> torch.Tensor:
        """The deterministic action in (-1, 1) (before rescaling to the action box)."""
        raise NotImplementedError

    def sample(self, obs: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        raise NotImplementedError

    def nll(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Per-sample negative log-likelihood of the data actions (up to a parameter-free constant)."""
        raise NotImplementedError

    def sq_error(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Per-sample squared error of the deterministic action, in the normalised action space."""
        return ((self.mode(obs) - self.squash_target(actions)) ** 2).sum(-1)


def _gauss_logp(u: torch.Tensor, mean: torch.Tensor, log_std: torch.Tensor) -> torch.Tensor:
    z = (u - mean) * torch.exp(-log_std)
    return (-0.5 * z * z - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)


class TanhGaussianActor(Actor):
    def __init__(self, obs_dim: int, act_dim: int, hidden=(256, 256), act_low=None, act_high=None, **lidar):
        super().__init__(obs_dim, act_dim, hidden, 2 * act_dim, act_low, act_high, **lidar)

    def _params(self, obs):
        mean, log_std = self.features(obs).chunk(2, -1)
        return mean, log_std.clamp(LOG_STD_MIN, LOG_STD_MAX)

    def mode(self, obs):
        return torch.tanh(self._params(obs)[0])

    def sample(self, obs, generator=None):
        mean, log_std = self._params(obs)
        eps = torch.randn(mean.shape, generator=generator)
        return torch.tanh(mean + eps * log_std.exp())

    def nll(self, obs, actions):
        mean, log_std = self._params(obs)
        return -_gauss_logp(torch.atanh(self.squash_target(actions)), mean, log_std)


class MixtureActor(Actor):
    """A K-component tanh-Gaussian mixture; the deterministic action is the heaviest component's mean."""

    def __init__(self, obs_dim: int, act_dim: int, hidden=(256, 256), n_components: int = 2,
                 act_low=None, act_high=None, **lidar):
        super().__init__(obs_dim, act_dim, hidden, n_components * (2 * act_dim + 1), act_low, act_high, **lidar)
        self.k = n_components

    def _params(self, obs):
        out = self.features(obs)
        logits = out[..., : self.k]
        rest = out[..., self.k :].reshape(*out.shape[:-1], self.k, 2 * self.act_dim)
        mean, log_std = rest.chunk(2, -1)
        return logits, mean, log_std.clamp(LOG_STD_MIN, LOG_STD_MAX)

    def mode(self, obs):
        logits, mean, _ = self._params(obs)
        best = logits.argmax(-1)
        return torch.tanh(torch.gather(mean, -2, best[..., None, None].expand(*best.shape, 1, self.act_dim))[..., 0, :])

    def sample(self, obs, generator=None):
        logits, mean, log_std = self._params(obs)
        comp = torch.multinomial(torch.softmax(logits, -1).reshape(-1, self.k), 1, generator=generator)
        comp = comp.reshape(*logits.shape[:-1], 1, 1).expand(*logits.shape[:-1], 1, self.act_dim)
        m = torch.gather(mean, -2, comp)[..., 0, :]
        s = torch.gather(log_std, -2, comp)[..., 0, :].exp()
        return torch.tanh(m + torch.randn(m.shape, generator=generator) * s)

    def nll(self, obs, actions):
        logits, mean, log_std = self._params(obs)
        u = torch.atanh(self.squash_target(actions))[..., None, :]
        logp = _gauss_logp(u, mean, log_std) + torch.log_softmax(logits, -1)
        return -torch.logsumexp(logp, -1)


class DeterministicActor(Actor):
    def __init__(self, obs_dim: int, act_dim: int, hidden=(256, 256), act_low=None, act_high=None, **lidar):
        super().__init__(obs_dim, act_dim, hidden, act_dim, act_low, act_high, **lidar)

    def mode(self, obs):
        return torch.tanh(self.features(obs))

    def sample(self, obs, generator=None):
        return self.mode(obs)

    def nll(self, obs, actions):
        raise ConfigError("a deterministic actor has no likelihood; use loss=mse")


def make_actor(config: ActorConfig, obs_dim: int, act_dim: int,
               act_low: np.ndarray | None = None, act_high: np.ndarray | None = None,
               lidar: LidarLayout | None = None) -> Actor:
    """The actor ``config`` names; ``lidar`` is the task's lidar layout (None: the task has no lidar)."""
    hidden = tuple(config.hidden)
    if config.lidar_encoder and lidar is None:
        raise ConfigError("actor.lidar_encoder needs a task with lidar observations (a navigation task); "
                          "this task has none: set it to []")
    if lidar is not None:
        check_lidar_fits(lidar, obs_dim)
    enc = {"lidar": lidar, "lidar_encoder": tuple(config.lidar_encoder)}
    if config.kind == "gaussian":
        return TanhGaussianActor(obs_dim, act_dim, hidden, act_low, act_high, **enc)
    if config.kind == "mixture":
        return MixtureActor(obs_dim, act_dim, hidden, config.n_components, act_low, act_high, **enc)
    return DeterministicActor(obs_dim, act_dim, hidden, act_low, act_high, **enc)


class TorchPolicy:
    """Evaluator-facing wrapper: ``act(obs_batch, deterministic)`` with a private RNG for sampling."""

    def __init__(self, actor: Actor, seed: int = 0):
        self.actor = actor.eval()
        self.generator = torch.Generator().manual_seed(seed)

    def reseed(self, seed: int) -> None:
        """Restart the sampling RNG: an evaluation seeds it so re-evaluating reproduces it."""
        self.generator.manual_seed(seed)

    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        o = torch.as_tensor(np.asarray(obs), dtype=torch.float32)
        y = self.actor.mode(o) if deterministic else self.actor.sample(o, self.generator)
        return self.actor.unsquash(y).numpy()


def actor_state(actor: Actor, config: ActorConfig) -> dict:
    """A self-contained description of a trained actor (normaliser and action box included)."""
    return {"config": asdict(config), "obs_dim": actor.obs_dim, "act_dim": actor.act_dim,
            "lidar": list(actor.lidar) if actor.lidar else None, "state_dict": actor.state_dict()}


def actor_from_state(state: dict) -> Actor:
    if state.get("kind") == "bcq":  # BCQ-Lag's policy (VAE decoder + perturbation)
        return bcq_actor_from_state(state)  # type: ignore[return-value]

    lidar = state.get("lidar")  # absent in actors saved before the lidar encoder
    actor = make_actor(from_dict(ActorConfig, dict(state["config"])), state["obs_dim"], state["act_dim"],
                       lidar=tuple(lidar) if lidar else None)
    actor.load_state_dict(state["state_dict"])
    return actor.eval()
