"""Scripted behaviour for the navigation tasks: controllers that read only the observation.

Like a learned agent, each controller maps an observation (sensors and lidar) to an
action; it reads the goal's bearing and distance, and the nearby hazards', from the
lidar bins, and its own velocity from the velocimeter. Per episode it takes a risk
appetite: for Goal1 and Button1 a clearance ``margin`` it keeps around each hazard
(negative: it cuts through their edges, -size: it ignores them) or a repulsion gain (below)
and a cruise speed;
for Circle2 a commanded radius and speed. Action noise is added by the generator.

Goal1 and Button1 have two laws. ``clearance`` (the earlier default datasets') picks, of 32
candidate bearings, the best one whose ray keeps the margin: its action jumps between
nearby observations, which BC clones poorly. ``field`` is a potential field: the goal
attracts, each lidar bin of an avoided kind repels (and deflects sideways, toward the
goal's side) with a per-episode gain, so the action is a smooth function of the lidar, as
a learned MLP agent's is; it makes the default Goal1 and Button1 datasets.

The point robot slides (its slide joints are barely damped), so steering the heading
at the goal makes it orbit the goal. The controllers steer the *velocity*: they point
the body along (desired velocity - current velocity) and push along it, forward or
backward.
"""

from __future__ import annotations

import numpy as np

from safemil.errors import TaskError
from safemil.tasks.nav.config import LIDAR_BINS as BINS
from safemil.tasks.nav.config import NAV_CONFIGS, SENSOR_DIM, NavTaskConfig

BIN_WIDTH = 2 * np.pi / BINS
VELOCITY = slice(3, 5)  # velocimeter x, y (robot frame)
YAW_RATE = 8  # gyro z
TURN_GAIN = 2.0  # turn command per radian of heading error
YAW_DAMPING = 0.3  # turn command per rad/s of yaw rate
THRUST_GAIN = 3.0  # forward command per m/s of velocity error along the body axis
AVOID_REACH = 1.0  # hazards farther than this (m) are not steered around
SEARCH_BEARING = 0.5  # bearing (rad) steered when the goal is beyond lidar range
# Contact distance (m) of each avoided kind: robot centre to object centre
CLEARANCE = {"hazards": 0.2, "gremlins": 0.25, "buttons": 0.25}
CANDIDATES = 32  # bearings scored by the goal-seeking controllers
BLOCKED_PENALTY = 3.0  # score lost per object a bearing passes too close to (alignment scores at most 2 apart)
ESCAPE_BAND = 0.15  # m: within clearance + margin + this, an object also pushes the robot away
ESCAPE_GAIN = 2.0  # weight of that push against the unit goal bearing, at contact
FIELD_REACH = 0.6  # m beyond contact at which a lidar reading starts to repel (field law)
FIELD_POWER = 2  # repulsion = gain x clip((contact + reach - distance) / reach, 0)^power
FIELD_TANGENT = 1.0  # sideways deflection per unit of repulsion, toward the goal's side
LAWS = ("clearance", "field")
BIN_BEARINGS = np.arange(BINS) * BIN_WIDTH
BIN_COS, BIN_SIN = np.cos(BIN_BEARINGS), np.sin(BIN_BEARINGS)
CIRCLE_RADIAL_GAIN = 1.5  # bearing correction (rad) per metre off the commanded radius
CIRCLE_MAX_CORRECTION = 1.0  # rad


def wrap(angle: np.ndarray) -> np.ndarray:
    """Angles into [-pi, pi)."""
    return (angle + np.pi) % (2 * np.pi) - np.pi


CANDIDATE_BEARINGS = wrap(np.arange(CANDIDATES) * (2 * np.pi / CANDIDATES))


def strongest(block: np.ndarray, lidar_range: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bearing, distance and visibility of the nearest object of one lidar block, per row.

    The bin with the largest reading r holds the object; the next bin holds f x r, f being
    how far through the bin the bearing lies (the lidar's aliasing), so the bearing is
    (bin + f) x bin width and the distance range x (1 - r)."""
    rows = np.arange(len(block))
    b = block.argmax(axis=1)
    r = block[rows, b]
    frac = np.clip(block[rows, (b + 1) % BINS] / np.maximum(r, 1e-9), 0.0, 1.0)
    return wrap((b + frac) * BIN_WIDTH), lidar_range * (1.0 - r), r > 0


def local_peaks(block: np.ndarray, lidar_range: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each bin's bearing and distance, and whether it is a peak (one object, not an aliasing echo)."""
    nxt, prv = np.roll(block, -1, axis=1), np.roll(block, 1, axis=1)
    peak = (block > 0) & (block >= nxt) & (block > prv)
    frac = np.clip(nxt / np.maximum(block, 1e-9), 0.0, 1.0)
    return peak, wrap((np.arange(BINS) + frac) * BIN_WIDTH), lidar_range * (1.0 - block)


def _lateral(off: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """How close an object's centre, ``dist`` away at angle ``off`` from a ray, passes to that ray
    (its distance if it is behind)."""
    return np.where(np.cos(off) > 0, dist * np.abs(np.sin(off)), dist)


def velocity_command(obs: np.ndarray, bearing: np.ndarray, speed: np.ndarray) -> np.ndarray:
    """Actions (forward, turn) that bring the robot-frame velocity to ``speed`` along ``bearing``."""
    vx, vy = obs[:, VELOCITY.start], obs[:, VELOCITY.start + 1]
    ex, ey = speed * np.cos(bearing) - vx, speed * np.sin(bearing) - vy
    turn = np.clip(TURN_GAIN * np.arctan2(ey, ex) - YAW_DAMPING * obs[:, YAW_RATE], -1.0, 1.0)
    forward = np.clip(THRUST_GAIN * ex, -1.0, 1.0)
    return np.stack([forward, turn], axis=1)


class NavController:
    """The scripted behaviour of one navigation task: ``act(obs, risk, speed)`` on a batch."""

    def __init__(self, cfg: NavTaskConfig, law: str = "clearance"):
        if law not in LAWS:
            raise TaskError(f"unknown controller {law!r}; choose one of {', '.join(LAWS)}")
        if law == "field" and cfg.goal_mode == "circle":
            raise TaskError(f"{cfg.name} circles at a commanded radius: the field controller is for Goal1 and Button1")
        self.cfg, self.law = cfg, law
        kinds = [k.name for k in cfg.lidar_kinds]
        self.blocks = {name: slice(SENSOR_DIM + BINS * i, SENSOR_DIM + BINS * (i + 1))
                       for i, name in enumerate(kinds)}
        self.avoided = [k for k in kinds if k in CLEARANCE]

    def act(self, obs: np.ndarray, risk: np.ndarray, speed: np.ndarray) -> np.ndarray:
        """Actions for rows of ``obs``; ``risk`` is the clearance margin (Goal, Button), the
        repulsion gain (field law) or the commanded radius (Circle), ``speed`` the cruise speed
        in m/s (one value per row)."""
        obs = np.asarray(obs, dtype=np.float64)
        if self.cfg.goal_mode == "circle":
            return self._circle(obs, risk, speed)
        if self.law == "field":
            return self._field(obs, risk, speed)
        return self._seek(obs, risk, speed)

    def _field(self, obs: np.ndarray, gain: np.ndarray, speed: np.ndarray) -> np.ndarray:
        """Head along the goal's unit bearing plus, per lidar bin of an avoided kind, a push away
        from the bin's bearing and along its tangent on the goal's side; the pushes grow smoothly
        from zero at FIELD_REACH beyond contact. Gain 0 ignores every hazard."""
        rng_ = self.cfg.lidar_range
        goal, goal_dist, seen = strongest(obs[:, self.blocks["goal"]], rng_)
        goal = np.where(seen, goal, SEARCH_BEARING)
        ux, uy = np.cos(goal), np.sin(goal)
        side = np.sin(goal[:, None] - BIN_BEARINGS[None, :])  # > 0: the goal is left of the bin: pass it on the left
        for kind in self.avoided:
            reading = obs[:, self.blocks[kind]]
            dist = rng_ * (1.0 - reading)
            push = np.clip((CLEARANCE[kind] + FIELD_REACH - dist) / FIELD_REACH, 0.0, None) ** FIELD_POWER
            push = np.where(reading > 0, push, 0.0) * gain[:, None]
            if kind == "buttons":  # the goal button shows in this block too, at the goal's distance
                push = np.where(np.abs(dist - goal_dist[:, None]) < 0.05, 0.0, push)
            ux = ux + (push * (-BIN_COS - FIELD_TANGENT * side * BIN_SIN)).sum(axis=1)
            uy = uy + (push * (-BIN_SIN + FIELD_TANGENT * side * BIN_COS)).sum(axis=1)
        return velocity_command(obs, np.arctan2(uy, ux), speed)

    def _seek(self, obs: np.ndarray, margin: np.ndarray, speed: np.ndarray) -> np.ndarray:
        """Head for the goal along the free bearing closest to it.

        Candidate bearings every 360/CANDIDATES deg are scored by their alignment with the
        goal's bearing, minus a penalty for every object (nearer than the goal, within reach)
        whose centre passes closer to the ray than its clearance + ``margin``; the best one
        wins. Objects within the escape band also push the robot away (gremlins move)."""
        rng_ = self.cfg.lidar_range
        goal, goal_dist, seen = strongest(obs[:, self.blocks["goal"]], rng_)
        goal = np.where(seen, goal, SEARCH_BEARING)
        goal_dist = np.where(seen, goal_dist, np.inf)
        peaks, bearings, dists, radii = [], [], [], []
        for kind in self.avoided:
            p, b, d = local_peaks(obs[:, self.blocks[kind]], rng_)
            peaks.append(p)
            bearings.append(b)
            dists.append(d)
            radii.append(np.repeat(np.maximum(CLEARANCE[kind] + margin, 0.0)[:, None], BINS, axis=1))
        peak, obj_bearing = np.concatenate(peaks, axis=1), np.concatenate(bearings, axis=1)
        dist, radius = np.concatenate(dists, axis=1), np.concatenate(radii, axis=1)
        # the goal button shows in the button lidar too, at the goal's distance: only nearer objects count
        peak &= (dist < goal_dist[:, None] - 0.05) & (dist < AVOID_REACH)
        # (rows, candidates, objects): how close each object passes to each candidate ray
        lateral = _lateral(obj_bearing[:, None, :] - CANDIDATE_BEARINGS[None, :, None], dist[:, None, :])
        blocked = (peak[:, None, :] & (lateral < radius[:, None, :])).sum(axis=2)
        score = np.cos(CANDIDATE_BEARINGS[None, :] - goal[:, None]) - BLOCKED_PENALTY * blocked
        bearing = CANDIDATE_BEARINGS[score.argmax(axis=1)]
        # the goal's own bearing when it is free (no quantisation on the way in)
        free = ~(peak & (_lateral(obj_bearing - goal[:, None], dist) < radius)).any(axis=1)
        bearing = np.where(free, goal, bearing)
        near = np.where(peak, np.clip((radius + ESCAPE_BAND - dist) / ESCAPE_BAND, 0.0, 1.0), 0.0)
        ux = np.cos(bearing) - ESCAPE_GAIN * (near * np.cos(obj_bearing)).sum(axis=1)
        uy = np.sin(bearing) - ESCAPE_GAIN * (near * np.sin(obj_bearing)).sum(axis=1)
        return velocity_command(obs, np.arctan2(uy, ux), speed)

    def _circle(self, obs: np.ndarray, radius: np.ndarray, speed: np.ndarray) -> np.ndarray:
        """Circle the origin counter-clockwise (the rewarded direction) at ``radius``: the
        tangent bearing is 90 deg right of the origin's, turned toward it when outside the
        radius and away when inside."""
        to_origin, rho, _ = strongest(obs[:, self.blocks["circle"]], self.cfg.lidar_range)
        correction = np.clip(CIRCLE_RADIAL_GAIN * (rho - radius), -CIRCLE_MAX_CORRECTION, CIRCLE_MAX_CORRECTION)
        return velocity_command(obs, to_origin - np.pi / 2 + correction, speed)


def nav_controller(task: str, law: str = "clearance") -> NavController:
    """The scripted controller of a navigation task (by our task name) with control law ``law``."""
    if task not in NAV_CONFIGS:
        raise TaskError(f"no scripted controller for {task!r}; navigation tasks: {', '.join(NAV_CONFIGS)}")
    return NavController(NAV_CONFIGS[task], law)
