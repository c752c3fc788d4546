"""The gymnasium 1.x env of one Safety-Gymnasium navigation task on the installed MuJoCo.

Observation, reward, cost, episode length and layout follow upstream (see
docs/navigation.md); the model is compiled once per env and a reset only moves
bodies, so a reset takes milliseconds instead of upstream's second or so.
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import mujoco
import numpy as np

from safemil.errors import TaskError
from safemil.tasks.nav.config import NAV_CONFIGS, SENSOR_DIM, NavTaskConfig
from safemil.tasks.nav.layout import LayoutSampler
from safemil.tasks.nav.lidar import NUM_BINS, pseudo_lidar, pseudo_lidar_few
from safemil.tasks.nav.model import (
    AGENT_POS,
    AGENT_XAXIS,
    AGENT_YAXIS,
    AGENT_Z,
    OBJECTS,
    OBS_SENSORS,
    handles,
    new_model,
    yaw_quat,
)
from safemil.tasks.nav.rules import Rules, make_rules

SUBSTEPS = 10  # mj_step calls per env step (dt = 10 x 0.002 s)
FEW_OBJECTS = 16  # up to this many lidar objects, plain-float lidar beats numpy's per-call cost
REWARD_CLIP = 10.0
VASE_SINK = 4e-5  # upstream places vases this far into the floor


class NavEnv(gym.Env):
    """PointGoal1, PointButton1 or PointCircle2; the step cost (0/1) is ``info['cost']``."""

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, task: str, render_mode: str | None = None):
        if task not in NAV_CONFIGS:
            raise TaskError(f"unknown navigation task {task!r}; known: {', '.join(NAV_CONFIGS)}")
        if render_mode is not None:
            raise TaskError(f"{task}: rendering is not implemented for the navigation tasks")
        self.cfg: NavTaskConfig = NAV_CONFIGS[task]
        self.model = new_model(task)
        self.data = mujoco.MjData(self.model)
        self.h = handles(self.model, self.cfg)
        self.sampler = LayoutSampler(self.cfg)
        self.rules = make_rules(self.cfg, self.model, self.data, self.h)
        self.num_kinds = len(self.cfg.lidar_kinds)
        self.max_episode_steps = self.cfg.episode_steps
        self.action_space = gym.spaces.Box(-1.0, 1.0, (2,), dtype=np.float64)
        low = np.r_[np.full(SENSOR_DIM, -np.inf), np.zeros(NUM_BINS * self.num_kinds)]
        high = np.r_[np.full(SENSOR_DIM, np.inf), np.ones(NUM_BINS * self.num_kinds)]
        self.observation_space = gym.spaces.Box(low, high, dtype=np.float64)
        self.layout: dict[str, tuple[float, float]] = {}
        self._rng: np.random.RandomState | None = None
        self._steps = 0
        self._done = True
        self._gremlins = self.cfg.has("gremlins")
        self._few = len(self.h.lidar_bodies) <= FEW_OBJECTS
        # sensors are only read after the last substep: skip computing them inside the substeps
        self._flags_on = int(self.model.opt.disableflags)
        self._flags_off = self._flags_on | int(mujoco.mjtDisableBit.mjDSBL_SENSOR)
        self._lidar_kind = self.h.lidar_kind.tolist()
        self._pending_draws = 0  # upstream's per-step frameskip draws not yet taken from the generator
        self._travel = self.cfg.gremlin_travel
        self._masks = type(self.rules).lidar_mask is not Rules.lidar_mask  # only the button task hides a lidar

    # ---- reset -------------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        if seed is not None:
            self._rng = np.random.RandomState(seed)
            self._pending_draws = 0  # owed to the generator just replaced, not to this one
        elif self._rng is None:
            self._rng = np.random.RandomState(int(self.np_random.integers(2**32)))
        else:
            self._flush_draws()
        rng = self._rng
        self.layout = self.sampler.layout(rng)
        agent_rot, rots = self.sampler.rotations(rng)
        self._place(agent_rot, rots)
        self.rules.reset(rng, self.layout, self.sampler)
        mujoco.mj_forward(self.model, self.data)
        self._steps = 0
        self._done = False
        return self._obs(), {}

    def _place(self, agent_rot: float, rots: dict[str, list[float]]) -> None:
        """Write the layout into the model and a zeroed state (what upstream's fresh compile gives)."""
        m, d, h = self.model, self.data, self.h
        ax, ay = self.layout["agent"]
        m.body_pos[h.agent_body] = (ax, ay, AGENT_Z)
        m.body_quat[h.agent_body] = yaw_quat(agent_rot)
        for kind in self.cfg.kinds:
            for i, name in enumerate(kind.names()):
                x, y = self.layout[name]
                rot = rots[kind.name][i]
                if kind.mobility == "geom":
                    b = h.kind_bodies[kind.name][i]
                    m.body_pos[b, :2] = (x, y)
                    # upstream ignores the drawn rotation of the walls and the circle
                    if kind.name == "sigwalls":
                        m.body_quat[b] = yaw_quat(np.pi / 2 if i >= 2 else 0.0)
                    elif kind.name == "circle":
                        m.body_quat[b] = yaw_quat(0.0)
                    else:
                        m.body_quat[b] = yaw_quat(rot)
                elif kind.mobility == "free":
                    a = h.free_qpos[name]
                    m.qpos0[a:a + 7] = (x, y, 0.1 - VASE_SINK, *yaw_quat(rot))
                    b = h.kind_bodies[kind.name][i]
                    m.body_pos[b], m.body_quat[b] = m.qpos0[a:a + 3], m.qpos0[a + 3:a + 7]
                else:  # gremlin: free box welded to a mocap body that stays at the origin until stepped
                    a = h.free_qpos[name + "obj"]
                    q = yaw_quat(rot)
                    m.qpos0[a:a + 7] = (x, y, 0.1, *q)
                    b = h.kind_bodies[kind.name][i]
                    m.body_pos[b], m.body_quat[b] = (x, y, 0.1), q
                    e = h.weld_eq[i]
                    m.eq_data[e, 3:6] = (x, y, 0.1)
                    m.eq_data[e, 6:10] = q
                    g = h.mocap_geoms[i]
                    m.geom_pos[g] = (x, y, 0.1)
                    m.geom_quat[g] = q
                    m.body_ipos[m.geom_bodyid[g]] = (x, y, 0.1)  # a compile would put the inertial frame there
                    m.body_iquat[m.geom_bodyid[g]] = q
        # constants a compile derives from the initial pose (constraint regularisation weights), as upstream's
        # per-reset compile has them; it uses d as scratch, so the reset comes after it
        mujoco.mj_setConst(m, d)
        mujoco.mj_resetData(m, d)  # qpos <- qpos0, velocities, time, mocap poses and warm starts zeroed

    def place_robot(self, x: float, y: float, heading: float, velocity: tuple[float, float] = (0.0, 0.0),
                    yaw_rate: float = 0.0) -> np.ndarray:
        """Put the robot at a world pose and velocity (objects stay) and return the observation there.

        For tests, parity checks and scripted starts: the robot's body frame takes the pose
        (its joints read zero, as after a reset), ``velocity`` is in the world frame.
        """
        m, d, h = self.model, self.data, self.h
        m.body_pos[h.agent_body] = (x, y, AGENT_Z)
        m.body_quat[h.agent_body] = yaw_quat(heading)
        d.qpos[:3] = 0.0
        c, s = math.cos(heading), math.sin(heading)
        vx, vy = velocity
        d.qvel[:3] = (c * vx + s * vy, -s * vx + c * vy, yaw_rate)  # slide axes are the body's x and y
        mujoco.mj_forward(m, d)
        return self._obs()

    def _flush_draws(self) -> None:
        """Take the frameskip draws owed since the last use of the generator.

        Upstream draws ``binomial(10, 1.0)`` every step from the layout generator; that
        always returns 10 and consumes exactly one double, so taking them in one block
        just before the next layout or goal draw gives the same stream, for less time.
        """
        if self._pending_draws:
            self._rng.random_sample(self._pending_draws)
            self._pending_draws = 0

    # ---- step --------------------------------------------------------------------------------
    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        if self._done:
            raise TaskError(f"{self.cfg.name}: call reset() before step() (the episode has ended)")
        a = np.asarray(action, dtype=np.float64)
        if a.shape != (2,):
            raise TaskError(f"{self.cfg.name}: action must have shape (2,), got {a.shape}")
        m, d = self.model, self.data
        x0, x1 = a.tolist()  # clip to the ctrl range in plain floats (cheaper than numpy for two values)
        d.ctrl[:] = (-1.0 if x0 < -1.0 else 1.0 if x0 > 1.0 else x0, -1.0 if x1 < -1.0 else 1.0 if x1 > 1.0 else x1)
        self._pending_draws += 1
        m.opt.disableflags = self._flags_off
        if self._gremlins:
            mocap = d.mocap_pos
            travel = self._travel
            for _ in range(SUBSTEPS):
                t = d.time
                mocap[:, 0] = travel * math.sin(t)
                mocap[:, 1] = travel * math.cos(t)
                mocap[:, 2] = 0.1
                mujoco.mj_step(m, d)
        else:
            # the last mj_forward already did this state's position/velocity stages (nothing moved
            # since), so the first substep needs only mj_step2; bit-identical to SUBSTEPS x mj_step
            mujoco.mj_step2(m, d)
            mujoco.mj_step(m, d, SUBSTEPS - 1)
        m.opt.disableflags = self._flags_on
        mujoco.mj_forward(m, d)
        rules = self.rules
        x = d.sensordata.tolist()
        reward = min(max(rules.reward(x), -REWARD_CLIP), REWARD_CLIP)
        raw = rules.costs(x)
        info: dict[str, Any] = {k: float(v > 0.0) for k, v in raw.items()}
        cost = float(sum(raw.values()) > 0.0)
        info["cost_sum"] = cost
        info["cost"] = cost
        terminated = False
        if rules.goal_met:
            info["goal_met"] = True
            self._flush_draws()
            terminated = rules.after_step(self._rng, self.layout, self.sampler)
            x = d.sensordata.tolist()
        else:
            rules.after_step(self._rng, self.layout, self.sampler)
        self._steps += 1
        truncated = self._steps >= self.max_episode_steps
        self._done = terminated or truncated
        return self._obs(x), float(reward), terminated, truncated, info

    # ---- observation -------------------------------------------------------------------------
    def _obs(self, x: list[float] | None = None) -> np.ndarray:
        """Sensors, then one 16-bin lidar per object kind; ``x`` is sensordata as a list."""
        if x is None:
            x = self.data.sensordata.tolist()
        ax, ay = x[AGENT_POS], x[AGENT_POS + 1]
        m00, m10 = x[AGENT_XAXIS], x[AGENT_XAXIS + 1]
        m01, m11 = x[AGENT_YAXIS], x[AGENT_YAXIS + 1]
        # robot frame: (p - agent) @ xmat, as upstream (the z row adds exactly zero for a yawing robot)
        if self._few:
            ego = [((px - ax) * m00 + (py - ay) * m10, (px - ax) * m01 + (py - ay) * m11)
                   for px, py in zip(x[OBJECTS::3], x[OBJECTS + 1::3], strict=True)]
            obs = np.array(x[:OBS_SENSORS] + pseudo_lidar_few(ego, self._lidar_kind, self.num_kinds,
                                                               self.cfg.lidar_range))
        else:
            rel = np.reshape(x[OBJECTS:], (-1, 3))[:, :2] - (ax, ay)
            lidar = pseudo_lidar(rel @ np.array([[m00, m01], [m10, m11]]), self.h.lidar_kind, self.num_kinds,
                                 self.cfg.lidar_range)
            obs = np.concatenate([x[:OBS_SENSORS], lidar])
        if self._masks:
            self.rules.lidar_mask(obs[OBS_SENSORS:])
        return obs
