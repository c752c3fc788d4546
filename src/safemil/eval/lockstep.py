"""Step many plain envs in lock-step, one episode per slot, episode ``i`` reset with ``seed + i``.

The bookkeeping shared by every collector: which slot runs which episode, the
step count inside it, and restarting a slot the moment its episode ends (no
gymnasium autoreset, so no phantom step). Callers do the batched policy call
and keep whatever per-step data they need.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from safemil.tasks import TaskSpec


@dataclass
class StepResult:
    """What happened to each active slot in one lock-step."""

    slots: np.ndarray  # slot ids that stepped
    episodes: np.ndarray  # the episode each of them was running
    t: np.ndarray  # the step index inside that episode (0-based) of this transition
    next_obs: np.ndarray  # (k, obs_dim) observation after the step (before any reset)
    rewards: np.ndarray
    costs: np.ndarray
    velocity: np.ndarray
    terminated: np.ndarray  # bool: ended by the env (a fall)
    timeout: np.ndarray  # bool: ended by the step limit and not terminated
    started: list[tuple[int, int]]  # (slot, episode) pairs that began after this step


class Lockstep:
    """A fixed pool of envs running ``episodes`` episodes between them."""

    def __init__(self, spec: TaskSpec, episodes: int, seed: int, num_envs: int = 16,
                 max_steps: int | None = None):
        if episodes < 1:
            raise ValueError(f"episodes must be >= 1, got {episodes}")
        self.spec = spec
        self.episodes = episodes
        self.seed = seed
        self.limit = max_steps or spec.max_episode_steps
        self.n = max(1, min(num_envs, episodes))
        self.envs = [spec.make_env() for _ in range(self.n)]
        self.obs = np.zeros((self.n, spec.obs_dim), dtype=np.float32)
        self.slot_episode = np.full(self.n, -1, dtype=np.int64)
        self.t = np.zeros(self.n, dtype=np.int64)
        self.next_episode = 0
        self.started: list[tuple[int, int]] = []
        for s in range(self.n):
            self._start(s)

    def _start(self, slot: int) -> None:
        if self.next_episode >= self.episodes:
            self.slot_episode[slot] = -1
            return
        o, _ = self.envs[slot].reset(seed=self.seed + self.next_episode)
        self.obs[slot] = o
        self.slot_episode[slot] = self.next_episode
        self.t[slot] = 0
        self.started.append((slot, self.next_episode))
        self.next_episode += 1

    def take_started(self) -> list[tuple[int, int]]:
        """(slot, episode) pairs started since the last call (the first call returns the initial ones)."""
        out, self.started = self.started, []
        return out

    def active(self) -> np.ndarray:
        return np.flatnonzero(self.slot_episode >= 0)

    def done(self) -> bool:
        return not (self.slot_episode >= 0).any()

    def step(self, slots: np.ndarray, actions: np.ndarray) -> StepResult:
        """Step ``slots`` with ``actions`` (row per slot); finished slots restart on the next episode."""
        k = len(slots)
        next_obs = np.empty((k, self.spec.obs_dim), dtype=np.float32)
        rewards = np.empty(k)
        costs = np.empty(k)
        vel = np.empty(k)
        term = np.zeros(k, dtype=bool)
        tout = np.zeros(k, dtype=bool)
        episodes = self.slot_episode[slots].copy()
        t = self.t[slots].copy()
        ended = []
        for j, s in enumerate(slots):
            o, r, terminated, truncated, info = self.envs[s].step(actions[j])
            next_obs[j] = o
            rewards[j] = r
            costs[j] = info["cost"]
            vel[j] = info.get("velocity", np.nan)  # navigation envs report no velocity
            self.t[s] += 1
            if terminated:
                term[j] = True
            elif truncated or self.t[s] >= self.limit:
                tout[j] = True
            if term[j] or tout[j]:
                ended.append(s)
            else:
                self.obs[s] = o
        for s in ended:
            self._start(s)
        return StepResult(slots, episodes, t, next_obs, rewards, costs, vel, term, tout, self.take_started())

    def close(self) -> None:
        for e in self.envs:
            e.close()
