"""The training env: a task env whose reward is tracking a commanded speed.

Only the behaviour-policy trainer uses it. Reward per step:
``alive + max(-1, 1 - |v - v_cmd| / threshold) - ctrl_weight * |a|^2`` where
``v`` is the speed the cost rule tests and ``alive`` is 1 for the tasks that
end on a fall (Hopper, Walker2d, Ant), else 0; the clip keeps the per-step
reward of a living robot non-negative, so ending an episode early never pays.
Penalising the instantaneous error (not the mean) favours smooth gaits, which
keeps slow commands cost-free. ``velocity_ema < 1`` tracks an exponential
moving average of the speed instead: Swimmer's tip speed swings within every
stroke, so its instantaneous error punishes any gait that moves at all.

``reward="task"`` keeps the task's own reward instead (the command is still
observed but not rewarded): a learner that has not discovered locomotion gets
no push from a tracking reward (Ant), but the task reward pays for every metre.
Speed variety then comes from snapshots taken along training (see
``safemil collect install --bound``).

``reward="penalized"`` is the task's reward minus ``cost_weight`` per step over the
threshold: a fixed-multiplier Lagrangian. With a multiplier above what one step
earns, the learner looks for the fastest gait that stays under the threshold at
every step (Swimmer: its tip speed must not swing over it within a stroke), and
its snapshots are safe gaits of increasing speed, the slow-but-moving part of
the frontier that a speed-only reward never visits.

``reward="hinge"`` is the task's reward minus ``cost_weight x max(0, v - v_cmd) / threshold``:
the penalty grows with how far a step overshoots the commanded speed. The 0/1 cost is flat
in a peak's height, so from a gait whose speed swings far over the threshold within every
stroke (Swimmer's fast gait) no small change lowers it; the hinge pays for every bit of
swing removed. Started from a fast gait, it keeps most of the speed and shrinks the swing
until the peaks sit near the commanded speed (`collect.ars`, ``init_actor``).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from safemil.collect.command import CommandRange, augment
from safemil.tasks import get_task

REWARDS = ("tracking", "task", "penalized", "hinge")
_ALIVE = {"HopperVelocity": 1.0, "Walker2dVelocity": 1.0, "AntVelocity": 1.0}


class SpeedCommandEnv(gym.Env):
    """Gymnasium env for stable-baselines3: observation = task obs + command ratio."""

    metadata = {"render_modes": []}

    def __init__(self, task: str, commands: CommandRange = CommandRange(), ctrl_weight: float = 0.05,
                 velocity_ema: float = 1.0, schedule: tuple[float, ...] = (), reward: str = "tracking",
                 cost_weight: float = 0.0):
        if reward not in REWARDS:
            raise ValueError(f"reward must be one of {', '.join(REWARDS)}, got {reward!r}")
        self.reward_mode = reward
        self.cost_weight = float(cost_weight)
        self.spec_ = get_task(task)
        self.env = self.spec_.make_env()
        self.commands = commands
        self.ctrl_weight = ctrl_weight
        self.velocity_ema = velocity_ema
        # A fixed command sequence (equal shares of the episode) instead of random commands:
        # every episode then asks the same thing, which random-search learners (ARS) need.
        self.schedule = tuple(schedule)
        self.t = 0
        self.v_avg = 0.0
        self.alive = _ALIVE.get(self.spec_.name, 0.0)
        inner = self.env.observation_space
        low = np.append(np.full(inner.shape, -np.inf), 0.0).astype(np.float32)
        high = np.append(np.full(inner.shape, np.inf), 10.0).astype(np.float32)
        self.observation_space = gym.spaces.Box(low, high, dtype=np.float32)
        self.action_space = self.env.action_space
        self.rng = np.random.default_rng()
        self.ratio = 1.0
        self.until_change = 0

    def _new_command(self) -> None:
        if self.schedule:
            seg = self.spec_.max_episode_steps // len(self.schedule)
            k = min(self.t // seg, len(self.schedule) - 1)
            self.ratio = float(self.schedule[k])
            self.until_change = seg - self.t % seg
            return
        self.ratio = float(self.commands.sample(self.rng))
        self.until_change = int(self.commands.hold(self.rng))

    def reset(self, *, seed: int | None = None, options=None):
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        obs, info = self.env.reset(seed=None if seed is None else int(seed))
        self.t = 0
        self._new_command()
        self.v_avg = 0.0
        return augment(obs, self.ratio), info

    def step(self, action):
        obs, task_reward, terminated, truncated, info = self.env.step(action)
        thr = self.spec_.cost_threshold
        a = np.asarray(action, dtype=np.float64)
        self.v_avg += self.velocity_ema * (info["velocity"] - self.v_avg)
        if self.reward_mode == "task":
            reward = float(task_reward)
        elif self.reward_mode == "penalized":
            reward = float(task_reward) - self.cost_weight * float(info["cost"])
        elif self.reward_mode == "hinge":
            reward = float(task_reward) - self.cost_weight * max(0.0, info["velocity"] - self.ratio * thr) / thr
        else:
            reward = (self.alive
                      + max(-1.0, 1.0 - abs(self.v_avg - self.ratio * thr) / thr)
                      - self.ctrl_weight * float(np.sum(a * a)))
        info["command_ratio"] = self.ratio
        self.t += 1
        self.until_change -= 1
        if self.until_change <= 0:
            self._new_command()
        return augment(obs, self.ratio), float(reward), terminated, truncated, info

    def close(self):
        self.env.close()
