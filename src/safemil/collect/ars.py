"""Augmented random search with a linear policy on raw observations (Mania et al., 2018, ARS V1-t).

Why our own: it needs no stable-baselines3 and runs about 9x the env steps per second of
sb3-contrib's ARS here (Swimmer, one thread: 8,100 against 875), because the 2N perturbed
policies are rolled out in lock-step, one batched matrix product per step
(`benchmarks/ars_linear_speed.py`: 0.88 of a bare loop over the same envs). Its weights
export exactly to a `SpeedActor`, and a run can start from one (``init_actor``).

One update, with ``theta`` the (act_dim, obs_dim + 1) weights (the last input is the
command ratio, so a constant command acts as a bias)::

    delta_k ~ N(0, I),  r_k^+/- = R(theta +/- nu delta_k)       k = 1..N, one episode each
    keep the b directions with the largest max(r_k^+, r_k^-)
    theta <- theta + alpha / (b sigma_R) * sum_k (r_k^+ - r_k^-) delta_k

where ``R`` is the episode return of `SpeedCommandEnv`'s reward and ``sigma_R`` the
std of the 2b kept returns. Every rollout of update ``i`` starts from the seed
``(seed, i)``, and the generator state is checkpointed, so a resumed run is the same run.
"""

from __future__ import annotations

import numpy as np

from safemil.collect.actor import SpeedActor
from safemil.collect.speed_env import SpeedCommandEnv


class LinearARS:
    """The search state (weights, generator, update count) and one `update` step."""

    def __init__(self, envs: list[SpeedCommandEnv], n_delta: int, n_top: int, delta_std: float,
                 step_size: float, seed: int):
        if len(envs) != 2 * n_delta:
            raise ValueError(f"need 2 x n_delta = {2 * n_delta} envs, got {len(envs)}")
        self.envs = envs
        self.n_delta, self.n_top = n_delta, n_top or n_delta
        self.delta_std, self.step_size, self.seed = delta_std, step_size, seed
        space = envs[0].observation_space
        self.theta = np.zeros((envs[0].action_space.shape[0], space.shape[0]))
        self.rng = np.random.default_rng(seed)
        self.updates = 0
        self.env_steps = 0

    def returns(self, thetas: np.ndarray, seed: int) -> np.ndarray:
        """Episode return of each policy in ``thetas`` (k, act, obs), rolled out in lock-step."""
        k = len(thetas)
        envs = self.envs[:k]
        obs = np.stack([e.reset(seed=seed)[0] for e in envs]).astype(np.float64)
        low, high = envs[0].action_space.low, envs[0].action_space.high
        total = np.zeros(k)
        alive = np.ones(k, bool)
        while alive.any():
            acts = np.clip(np.einsum("kao,ko->ka", thetas, obs), low, high)
            for i in np.flatnonzero(alive):
                o, r, term, trunc, _ = envs[i].step(acts[i])
                obs[i] = o
                total[i] += r
                self.env_steps += 1
                alive[i] = not (term or trunc)
        return total

    def update(self) -> float:
        """One ARS step; returns the mean return of the kept perturbations."""
        deltas = self.rng.standard_normal((self.n_delta, *self.theta.shape))
        perturbed = np.concatenate([self.theta + self.delta_std * deltas, self.theta - self.delta_std * deltas])
        r = self.returns(perturbed, seed=int(np.random.SeedSequence([self.seed, self.updates]).generate_state(1)[0]))
        plus, minus = r[:self.n_delta], r[self.n_delta:]
        top = np.argsort(-np.maximum(plus, minus), kind="stable")[:self.n_top]
        kept = np.concatenate([plus[top], minus[top]])
        self.theta = self.theta + self.step_size / (self.n_top * (kept.std() + 1e-8)) * np.einsum(
            "k,kao->ao", plus[top] - minus[top], deltas[top])
        self.updates += 1
        return float(kept.mean())

    def state(self) -> dict:
        """What a checkpoint holds beside the weights (JSON-able)."""
        return {"rng": self.rng.bit_generator.state, "updates": self.updates, "env_steps": self.env_steps}

    def load_state(self, theta: np.ndarray, state: dict) -> None:
        self.theta = np.asarray(theta, dtype=np.float64)
        self.rng.bit_generator.state = state["rng"]
        self.updates, self.env_steps = int(state["updates"]), int(state["env_steps"])

    def actor(self, task: str) -> SpeedActor:
        """The current weights as a plain `SpeedActor` (no normalisation, clipped output)."""
        dim = self.theta.shape[1]
        space = self.envs[0].action_space
        return SpeedActor([(self.theta.T.copy(), np.zeros(self.theta.shape[0]))], "relu", "clip",
                          np.zeros(dim, np.float32), np.ones(dim, np.float32), 1e9,
                          space.low.astype(np.float32), space.high.astype(np.float32), task)

