"""Shipped knowledge rules of the navigation tasks against the env's true cost on hand-placed robots."""

import math

import numpy as np
import pytest

from safemil.costs.knowledge import KnowledgeCost, default_rule
from safemil.tasks.nav.env import NavEnv

NAV = ("PointGoal1", "PointButton1", "PointCircle2")


def rule(task):
    return KnowledgeCost(task, default_rule(task).expression)


def true_cost(env):
    return float(sum(env.rules.costs(env.data.sensordata.tolist()).values()) > 0)


def flagged(cost, obs):
    return bool(cost(obs[None])[0] >= 0.5)


def move_away(env, kinds):
    """Put every fixed object of ``kinds`` far from the arena (5 m and beyond)."""
    for kind in kinds:
        for i, b in enumerate(env.h.kind_bodies[kind]):
            env.model.body_pos[b, :2] = (5.0 + i, 5.0 + i)


@pytest.mark.parametrize("task", NAV)
def test_shipped_nav_rules_exist_and_parse(task):
    d = default_rule(task)
    assert d.rule and KnowledgeCost(task, d.expression).spec.name == task


@pytest.mark.parametrize("task", ["PointGoal1", "PointButton1"])
def test_hazard_rule_flags_within_0_2_of_the_centre(task):
    env, cost = NavEnv(task), rule(task)
    env.reset(seed=1)
    move_away(env, [k for k in env.h.kind_bodies if k not in ("gremlins", "vases")])
    hx, hy = 0.3, -0.4
    env.model.body_pos[env.h.kind_bodies["hazards"][0], :2] = (hx, hy)
    far = [k for k in ("gremlins", "vases") if k in env.h.kind_bodies]
    for d in (0.0, 0.1, 0.19, 0.199, 0.201, 0.21, 0.4):
        for ang in np.linspace(0, 2 * math.pi, 7, endpoint=False):
            obs = env.place_robot(hx + d * math.cos(ang), hy + d * math.sin(ang), heading=1.3 * ang)
            if any(np.hypot(*(env.data.xpos[b, :2] - env.data.xpos[env.h.agent_body, :2])) < 0.6
                   for k in far for b in env.h.kind_bodies[k]):
                continue  # a movable object happens to be close: not this test's business
            expect = float(d < 0.2)
            assert true_cost(env) == expect, (d, ang)
            assert flagged(cost, obs) == bool(expect), (task, d, ang)


def test_goal_vase_costs_nothing():
    env, cost = NavEnv("PointGoal1"), rule("PointGoal1")
    env.reset(seed=0)
    move_away(env, ["hazards", "goal"])
    vx, vy = env.data.xpos[env.h.kind_bodies["vases"][0], :2]
    obs = env.place_robot(vx - 0.15, vy, heading=0.0)  # the nose is in the vase
    assert true_cost(env) == 0.0 and not flagged(cost, obs)


def button_scene(seed=0):
    """Button1 with the goal button at (1.5, 0), a wrong one at (1.5, 1), the rest and the hazards far away."""
    env = NavEnv("PointButton1")
    env.reset(seed=seed)
    move_away(env, ["hazards"])
    buttons = env.h.kind_bodies["buttons"]
    for b, xy in zip(buttons, [(1.5, 0.0), (1.5, 1.0), (6.0, 5.0), (7.0, 5.0)], strict=True):
        env.model.body_pos[b, :2] = xy
    env.rules.goal_button = 0
    env.model.body_pos[env.h.kind_bodies["goal"][0], :2] = (1.5, 0.0)
    gremlins = env.data.xpos[env.h.kind_bodies["gremlins"], :2]
    assert np.hypot(*(gremlins - (1.5, 0.0)).T).min() > 0.8 and np.hypot(*(gremlins - (1.5, 1.0)).T).min() > 0.8
    return env


@pytest.mark.parametrize("d,heading,expect", [
    (0.15, math.pi, 1.0),   # sphere against sphere
    (0.19, math.pi, 1.0),
    (0.21, math.pi, 0.0),   # facing away: only the body could touch, and it does not reach
    (0.23, math.pi, 0.0),
    (0.23, 0.0, 1.0),       # facing the button: the nose (0.15 m ahead) touches it
    (0.3, 0.0, 0.0),
])
def test_button_rule_wrong_button_contact(d, heading, expect):
    env, cost = button_scene(), rule("PointButton1")
    obs = env.place_robot(1.5 - d, 1.0, heading)  # robot west of the wrong button
    assert true_cost(env) == expect
    assert flagged(cost, obs) == bool(expect)
    obs = env.place_robot(1.5 - d, 0.0, heading)  # the same against the goal button: free
    assert true_cost(env) == 0.0 and not flagged(cost, obs)


def test_button_rule_wrong_buttons_free_after_success():
    env, cost = button_scene(), rule("PointButton1")
    env.place_robot(1.35, 1.0, math.pi)
    env.rules.timer = 5  # just after a success: wrong buttons are free and the button lidar reads 0
    obs = env._obs()
    assert true_cost(env) == 0.0 and not flagged(cost, obs)


@pytest.mark.parametrize("d,expect", [(0.15, 1.0), (0.19, 1.0), (0.25, 0.0), (0.35, 0.0)])
def test_button_rule_gremlin_contact(d, expect):
    env, cost = button_scene(), rule("PointButton1")
    g = env.data.xpos[env.h.kind_bodies["gremlins"][1], :2].copy()
    others = np.delete(env.data.xpos[env.h.kind_bodies["gremlins"], :2], 1, axis=0)
    assert np.hypot(*(others - g).T).min() > 0.7
    for ang in (math.pi, 0.5 * math.pi, 1.25 * math.pi):  # robot west, north, south-west; facing away
        x, y = g[0] + d * math.cos(ang), g[1] + d * math.sin(ang)
        obs = env.place_robot(x, y, heading=ang)
        assert true_cost(env) == expect, (d, ang)
        assert flagged(cost, obs) == bool(expect), (d, ang)


@pytest.mark.parametrize("x,y,expect", [
    (1.10, 0.0, 0.0), (1.15, 0.0, 1.0), (0.0, -1.10, 0.0), (0.0, -1.15, 1.0),
    (-1.1, 1.1, 0.0), (-1.15, 1.1, 1.0), (1.2, 1.2, 1.0), (0.3, 0.2, 0.0), (1.6, -0.2, 1.0),
])
def test_circle_rule_boundary(x, y, expect):
    env, cost = NavEnv("PointCircle2"), rule("PointCircle2")
    env.reset(seed=0)
    for heading in np.linspace(0, 2 * math.pi, 11, endpoint=False):
        obs = env.place_robot(x, y, heading)
        assert true_cost(env) == expect
        assert flagged(cost, obs) == bool(expect), (x, y, heading)


def test_circle_rule_random_positions():
    """Exact away from the box edges; within 2.5% of them the rule may err (|V| taken as its middle value)."""
    env, cost = NavEnv("PointCircle2"), rule("PointCircle2")
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    checked = 0
    for _ in range(300):
        x, y = rng.uniform(-1.7, 1.7, 2)
        obs = env.place_robot(x, y, rng.uniform(0, 2 * math.pi))
        if min(abs(abs(x) - 1.125), abs(abs(y) - 1.125)) < 0.025 * 1.125:
            continue
        assert flagged(cost, obs) == bool(true_cost(env)), (x, y)
        checked += 1
    assert checked > 250


@pytest.mark.parametrize("task", NAV)
def test_nav_transition_cost_scores_the_end_state(task):
    """A navigation step's cost is where it ends; the mean of two lidar readings is no position."""
    cost = rule(task)
    rng = np.random.default_rng(0)
    s, s2 = (rng.uniform(0, 1, (64, cost.spec.obs_dim)).astype(np.float32) for _ in range(2))
    np.testing.assert_array_equal(cost.transition_cost(s, s2), cost(s2))
    assert not np.array_equal(cost(0.5 * (s + s2)), cost(s2))  # the midpoint would differ here
