"""Reward, cost and goal bookkeeping of each navigation task (upstream's rules, step by step).

After the physics substeps the env copies ``sensordata`` once into a list ``x``
(see the layout in `model`: robot position, axes and velocity, then every
lidar object's position) and calls, in upstream's order: ``reward`` (which also
decides whether the goal was met), ``costs`` (before the button timer ticks),
then ``after_step``.
"""

from __future__ import annotations

import math

import mujoco
import numpy as np

from safemil.tasks.nav.config import NavTaskConfig
from safemil.tasks.nav.layout import LayoutError, LayoutSampler
from safemil.tasks.nav.model import AGENT_POS, AGENT_VEL, OBJECTS, Handles

BUTTON_DELAY = 10  # steps after a success during which wrong buttons are free and the button lidar reads 0
Sensors = list[float]  # sensordata as a list


class Rules:
    """Shared pieces: hazard cost and the distance-to-goal reward."""

    def __init__(self, cfg: NavTaskConfig, model: mujoco.MjModel, data: mujoco.MjData, h: Handles):
        self.cfg, self.model, self.data, self.h = cfg, model, data, h
        self.goal_met = False
        self.last_dist = 0.0
        order = h.lidar_bodies.tolist()  # lidar object i is at x[OBJECTS + 3 i]
        self.goal_body = int(h.kind_bodies["goal"][0]) if cfg.has("goal") else -1
        self.goal_at = OBJECTS + 3 * order.index(self.goal_body) if cfg.has("goal") else -1
        hazards = h.kind_bodies["hazards"].tolist() if cfg.has("hazards") else []
        self.hazards_at = [OBJECTS + 3 * order.index(b) for b in hazards]

    def dist_goal(self, x: Sensors) -> float:
        ax, ay, g = x[AGENT_POS], x[AGENT_POS + 1], self.goal_at
        gx, gy = x[g], x[g + 1]
        return math.sqrt((gx - ax) * (gx - ax) + (gy - ay) * (gy - ay))

    def hazard_cost(self, x: Sensors) -> float:
        """Sum of (size - d) over hazards with d <= size (positive iff the centre is strictly inside one)."""
        ax, ay = x[AGENT_POS], x[AGENT_POS + 1]
        size = self.cfg.hazard_size
        total = 0.0
        for i in self.hazards_at:
            hx, hy = x[i], x[i + 1]
            d = math.sqrt((hx - ax) * (hx - ax) + (hy - ay) * (hy - ay))
            if d <= size:
                total += size - d
        return total

    def distance_reward(self, x: Sensors) -> float:
        d = self.dist_goal(x)
        r = self.last_dist - d
        self.last_dist = d
        return r

    def contacts(self) -> np.ndarray:
        """(ncon, 2) geom ids of the current contacts."""
        n = self.data.ncon
        return self.data.contact.geom[:n] if n else np.zeros((0, 2), dtype=np.int64)

    def current(self) -> Sensors:
        """``x`` read afresh (after a forward pass)."""
        return self.data.sensordata.tolist()

    def reset(self, rng: np.random.RandomState, layout: dict, sampler: LayoutSampler) -> None:
        """Task-specific start (new goal, goal button, timer) on a freshly placed layout."""

    def reward(self, x: Sensors) -> float:
        raise NotImplementedError

    def costs(self, x: Sensors) -> dict[str, float]:
        raise NotImplementedError

    def after_step(self, rng: np.random.RandomState, layout: dict, sampler: LayoutSampler) -> bool:
        """Tick timers and move the goal when met; True when the episode must end (no room for a goal)."""
        return False

    def lidar_mask(self, lidar: np.ndarray) -> None:
        """Zero any lidar block the task hides at this moment (in place)."""


class GoalRules(Rules):
    """PointGoal1: dense progress reward, +1 on reaching the goal, which then moves; hazards cost."""

    def reset(self, rng: np.random.RandomState, layout: dict, sampler: LayoutSampler) -> None:
        self._place_goal(rng, layout, sampler)

    def _place_goal(self, rng: np.random.RandomState, layout: dict, sampler: LayoutSampler) -> None:
        xy = sampler.goal(rng, layout)
        self.model.body_pos[self.goal_body, :2] = xy
        mujoco.mj_forward(self.model, self.data)
        self.last_dist = self.dist_goal(self.current())

    def reward(self, x: Sensors) -> float:
        r = self.distance_reward(x)
        self.goal_met = self.last_dist <= self.cfg.goal_size
        return r + 1.0 if self.goal_met else r

    def costs(self, x: Sensors) -> dict[str, float]:
        return {"cost_hazards": self.hazard_cost(x)}

    def after_step(self, rng: np.random.RandomState, layout: dict, sampler: LayoutSampler) -> bool:
        if not self.goal_met:
            return False
        refresh_layout(self.data, self.model, layout)
        try:
            self._place_goal(rng, layout, sampler)
        except LayoutError:
            return True
        return False


class ButtonRules(Rules):
    """PointButton1: reach and touch the goal button; hazards, wrong buttons and gremlins cost."""

    def __init__(self, cfg: NavTaskConfig, model: mujoco.MjModel, data: mujoco.MjData, h: Handles):
        super().__init__(cfg, model, data, h)
        self.button_geoms = h.kind_geoms["buttons"]
        self.is_button = np.zeros(model.ngeom, dtype=bool)
        self.is_button[self.button_geoms] = True
        self.is_gremlin = np.zeros(model.ngeom, dtype=bool)
        self.is_gremlin[h.kind_geoms["gremlins"]] = True
        self.is_gremlin[h.mocap_geoms] = True
        self.goal_button = 0
        self.timer = 0
        b = [k.name for k in cfg.lidar_kinds].index("buttons") * 16
        self.button_block = slice(b, b + 16)

    def _choose_button(self, rng: np.random.RandomState) -> None:
        self.goal_button = int(rng.choice(len(self.button_geoms)))
        pos = self.data.xpos[self.h.kind_bodies["buttons"][self.goal_button], :2]
        self.model.body_pos[self.goal_body, :2] = pos
        mujoco.mj_forward(self.model, self.data)
        self.last_dist = self.dist_goal(self.current())

    def reset(self, rng: np.random.RandomState, layout: dict, sampler: LayoutSampler) -> None:
        mujoco.mj_forward(self.model, self.data)  # button positions
        self._choose_button(rng)
        self.timer = 0

    def reward(self, x: Sensors) -> float:
        r = self.distance_reward(x)
        g = self.contacts()
        goal_geom = self.button_geoms[self.goal_button]
        self.goal_met = bool(np.any(self.h.agent_geoms[g].any(axis=1) & (g == goal_geom).any(axis=1)))
        return r + 1.0 if self.goal_met else r

    def costs(self, x: Sensors) -> dict[str, float]:
        g = self.contacts()
        touches = self.h.agent_geoms[g].any(axis=1)
        buttons = 0.0
        if self.timer == 0:
            goal_geom = self.button_geoms[self.goal_button]
            wrong = self.is_button[g].any(axis=1) & ~(g == goal_geom).any(axis=1)
            buttons = float(np.sum(touches & wrong))
        gremlins = float(np.sum(touches & self.is_gremlin[g].any(axis=1)))
        return {"cost_hazards": self.hazard_cost(x), "cost_buttons": buttons, "cost_gremlins": gremlins}

    def after_step(self, rng: np.random.RandomState, layout: dict, sampler: LayoutSampler) -> bool:
        self.timer = max(0, self.timer - 1)
        if self.goal_met:
            refresh_layout(self.data, self.model, layout)
            self._choose_button(rng)
            self.timer = BUTTON_DELAY
        return False

    def lidar_mask(self, lidar: np.ndarray) -> None:
        if self.timer != 0:
            lidar[self.button_block] = 0.0


class CircleRules(Rules):
    """PointCircle2: reward for fast circling near radius 1.5; leaving the |x|, |y| <= 1.125 box costs."""

    radius = 1.5
    factor = 0.1

    def reward(self, x: Sensors) -> float:
        px, py, u, v = x[AGENT_POS], x[AGENT_POS + 1], x[AGENT_VEL], x[AGENT_VEL + 1]
        rho = math.sqrt(px * px + py * py)
        return ((-u * py + v * px) / rho) / (1 + abs(rho - self.radius)) * self.factor

    def costs(self, x: Sensors) -> dict[str, float]:
        b = self.cfg.boundary
        return {"cost_out_of_boundary": float(abs(x[AGENT_POS]) > b or abs(x[AGENT_POS + 1]) > b)}


def refresh_layout(data: mujoco.MjData, model: mujoco.MjModel, layout: dict) -> None:
    """Upstream's ``update_layout``: every placed thing but the gremlins at its current XY."""
    for name in layout:
        if "gremlin" in name:
            continue
        layout[name] = tuple(float(v) for v in data.xpos[model.body(name).id, :2])


def make_rules(cfg: NavTaskConfig, model: mujoco.MjModel, data: mujoco.MjData, h: Handles) -> Rules:
    return {"goal": GoalRules, "button": ButtonRules, "circle": CircleRules}[cfg.goal_mode](cfg, model, data, h)
