"""Task rules on hand-made states: hazard boundary, circle reward, button timer, gremlin motion."""

import math

import numpy as np
import pytest

from safemil.tasks.nav.env import NavEnv
from safemil.tasks.nav.rules import BUTTON_DELAY


def sensors(env):
    return env.data.sensordata.tolist()


def far_away(env, keep=()):
    """Move every fixed object except those in ``keep`` out of the way (beyond 2 m of the origin)."""
    for name, bodies in env.h.kind_bodies.items():
        for i, b in enumerate(bodies):
            if (name, i) not in keep and env.model.body_jntnum[b] == 0:
                env.model.body_pos[b, :2] = (5.0 + i, 5.0)


def test_hazard_cost_boundary_at_0_2():
    env = NavEnv("PointGoal1")
    env.reset(seed=0)
    far_away(env, keep={("hazards", 0)})
    hx, hy = 0.3, -0.4
    env.model.body_pos[env.h.kind_bodies["hazards"][0], :2] = (hx, hy)
    for d, expect in [(0.2, 0.0), (0.2 + 1e-9, 0.0), (0.2 - 1e-9, 1.0), (0.05, 1.0), (0.0, 1.0)]:
        env.place_robot(hx + d, hy, 1.0)
        raw = env.rules.costs(sensors(env))
        assert float(raw["cost_hazards"] > 0) == expect, d


def test_hazard_cost_in_info_is_an_indicator():
    env = NavEnv("PointGoal1")
    env.reset(seed=0)
    far_away(env, keep={("hazards", 0), ("hazards", 1)})
    env.model.body_pos[env.h.kind_bodies["hazards"][0], :2] = (0.0, 0.0)
    env.model.body_pos[env.h.kind_bodies["hazards"][1], :2] = (0.1, 0.0)
    env.place_robot(0.05, 0.0, 0.0)
    _, _, _, _, info = env.step(np.zeros(2))
    assert info["cost_hazards"] == 1.0 and info["cost"] == 1.0 and info["cost_sum"] == 1.0  # two hazards, still 1


@pytest.mark.parametrize("x,y,u,v", [(1.5, 0.0, 0.0, 1.0), (0.3, -1.1, 0.4, 0.2), (-0.9, 0.8, -0.5, -0.6)])
def test_circle_reward_formula(x, y, u, v):
    env = NavEnv("PointCircle2")
    env.reset(seed=0)
    env.place_robot(x, y, 0.4, velocity=(u, v))
    rho = math.hypot(x, y)
    expect = 0.1 * ((-u * y + v * x) / rho) / (1 + abs(rho - 1.5))
    assert env.rules.reward(sensors(env)) == pytest.approx(expect, rel=1e-12)


def test_circle_boundary_cost():
    env = NavEnv("PointCircle2")
    env.reset(seed=0)
    for (x, y), expect in [((1.12, 0.0), 0.0), ((1.13, 0.0), 1.0), ((0.0, -1.13), 1.0), ((-1.1, 1.1), 0.0)]:
        env.place_robot(x, y, 0.0)
        assert env.rules.costs(sensors(env))["cost_out_of_boundary"] == expect


def test_circle_episode_is_500_steps_and_truncates():
    env = NavEnv("PointCircle2")
    env.reset(seed=3)
    for t in range(500):
        _, _, term, trunc, _ = env.step(np.array([0.2, 0.1]))
        assert not term and trunc == (t == 499)


def button_env(seed=0):
    env = NavEnv("PointButton1")
    env.reset(seed=seed)
    return env


def touch(env, button, heading=0.0):
    """Robot 0.19 m east of a button (radii 0.1 + 0.1: in contact)."""
    bx, by = env.data.xpos[env.h.kind_bodies["buttons"][button], :2]
    return env.place_robot(bx + 0.19, by, heading)


def test_button_success_starts_the_timer_and_hides_the_button_lidar():
    env = button_env()
    r = env.rules
    goal = r.goal_button
    assert r.timer == 0
    touch(env, goal)
    obs, reward, _, _, info = env.step(np.zeros(2))
    assert info.get("goal_met") and reward > 0.5
    assert r.timer == BUTTON_DELAY
    blocks = obs[12:].reshape(4, 16)  # buttons, goal, hazards, gremlins
    assert blocks[0].sum() == 0.0 and blocks[1].sum() > 0  # buttons hidden, the (new) goal seen
    env.place_robot(0.0, 0.0, 0.0)  # away from all buttons so no new success
    hidden = []
    for _ in range(BUTTON_DELAY):
        obs, *_ = env.step(np.zeros(2))
        hidden.append(obs[12:28].sum() == 0.0)
    assert hidden == [True] * (BUTTON_DELAY - 1) + [False]
    assert r.timer == 0


def test_wrong_button_costs_only_when_the_timer_is_zero():
    env = button_env(seed=1)
    r = env.rules
    wrong = (r.goal_button + 1) % 4
    touch(env, wrong)
    _, _, _, _, info = env.step(np.zeros(2))
    assert info["cost_buttons"] == 1.0 and info["cost"] == 1.0
    r.timer = 3  # as after a success
    touch(env, wrong)
    _, _, _, _, info = env.step(np.zeros(2))
    assert info["cost_buttons"] == 0.0  # computed before the tick
    assert r.timer == 2


def test_new_goal_button_is_drawn_after_success():
    env = button_env(seed=2)
    first = env.rules.goal_button
    goals = set()
    for _ in range(6):
        touch(env, env.rules.goal_button)
        _, _, _, _, info = env.step(np.zeros(2))
        assert info.get("goal_met")
        goals.add(env.rules.goal_button)
        gx, gy = env.data.xpos[env.rules.goal_body, :2]
        bx, by = env.data.xpos[env.h.kind_bodies["buttons"][env.rules.goal_button], :2]
        assert (gx, gy) == (bx, by)  # the goal marker sits on the goal button
    assert len(goals | {first}) > 1


def test_gremlins_circle_their_layout_point_in_phase():
    env = button_env(seed=4)
    centres = np.array([env.layout[f"gremlin{i}"] for i in range(4)])
    env.place_robot(-1.4, -1.4, 0.0)
    env.step(np.zeros(2))
    for _ in range(160):  # 3.2 s of sim time, about half a turn
        env.step(np.zeros(2))
        t_last = env.data.time - 0.002  # mocap set before the last substep
        np.testing.assert_allclose(env.data.mocap_pos, [[0.35 * math.sin(t_last), 0.35 * math.cos(t_last), 0.1]] * 4,
                                   atol=1e-12)
    t = env.data.time
    boxes = env.data.xpos[env.h.kind_bodies["gremlins"], :2]
    offsets = boxes - centres
    # all four lag the same way behind the target on the 0.35 m circle (soft weld)
    np.testing.assert_allclose(offsets, [offsets[0]] * 4, atol=0.02)
    np.testing.assert_allclose(np.hypot(*offsets.T), 0.35, atol=0.03)
    target = 0.35 * np.array([math.sin(t), math.cos(t)])
    assert np.linalg.norm(offsets[0] - target) < 0.1


def test_goal_reached_moves_the_goal_and_pays_one():
    env = NavEnv("PointGoal1")
    env.reset(seed=5)
    gx, gy = env.data.xpos[env.rules.goal_body, :2]
    env.place_robot(gx + 0.25, gy, 0.0)
    env.rules.last_dist = 0.25  # as if it had just arrived
    _, reward, term, _, info = env.step(np.zeros(2))
    assert info.get("goal_met") and not term
    assert 0.9 < reward < 1.1
    nx, ny = env.data.xpos[env.rules.goal_body, :2]
    assert (nx, ny) != (gx, gy)
    assert env.rules.last_dist == pytest.approx(math.hypot(nx - env.data.xpos[1, 0], ny - env.data.xpos[1, 1]))
