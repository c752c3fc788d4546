"""Navigation envs: spaces, observation layout, seeding, layouts, reset without rebuild, physics."""

import math

import mujoco
import numpy as np
import pytest

from safemil.tasks import get_task
from safemil.tasks.nav.config import NAV_CONFIGS
from safemil.tasks.nav.env import NavEnv
from safemil.tasks.nav.layout import LayoutSampler

TASKS = {"PointGoal1": (60, 1000, ["goal", "hazards", "vases"]),
         "PointButton1": (76, 1000, ["buttons", "goal", "hazards", "gremlins"]),
         "PointCircle2": (28, 500, ["circle"])}
KEYS = {"PointGoal1": {"cost_hazards"}, "PointButton1": {"cost_hazards", "cost_buttons", "cost_gremlins"},
        "PointCircle2": {"cost_out_of_boundary"}}


@pytest.mark.parametrize("task", list(TASKS))
def test_spaces_order_and_info(task):
    dim, steps, kinds = TASKS[task]
    env = get_task(task).make_env()
    assert env.observation_space.shape == (dim,) and env.action_space.shape == (2,)
    np.testing.assert_array_equal(env.action_space.low, [-1, -1])
    np.testing.assert_array_equal(env.action_space.high, [1, 1])
    assert [k.name for k in NAV_CONFIGS[task].lidar_kinds] == kinds
    assert env.max_episode_steps == steps == get_task(task).max_episode_steps
    obs, _ = env.reset(seed=1)
    assert obs.shape == (dim,) and obs.dtype == np.float64
    # sensors first: at rest the accelerometer reads +g on z, the others ~0 but the magnetometer
    np.testing.assert_allclose(obs[:3], [0, 0, 9.81], atol=1e-6)
    np.testing.assert_allclose(obs[3:9], 0, atol=1e-9)
    # magnetometer: world field (0, -0.5, 0) seen from the robot's heading
    mat = env.data.xmat[env.h.agent_body].reshape(3, 3)
    np.testing.assert_allclose(obs[9:12], mat.T @ [0, -0.5, 0], atol=1e-12)
    assert np.all((obs[12:] >= 0) & (obs[12:] <= 1))
    _, r, term, trunc, info = env.step(env.action_space.sample())
    assert set(info) - {"goal_met"} == KEYS[task] | {"cost_sum", "cost"}
    assert info["cost"] in (0.0, 1.0) and isinstance(r, float) and not term and not trunc


@pytest.mark.parametrize("task", list(TASKS))
def test_sensor_copies_are_the_exact_positions(task):
    """The rules read positions and axes from sensordata: they must equal xpos / xmat bit for bit."""
    env = NavEnv(task)
    env.reset(seed=2)
    d, h = env.data, env.h
    rng = np.random.default_rng(0)
    for _ in range(30):
        env.step(rng.uniform(-1, 1, 2))
        s = d.sensordata
        np.testing.assert_array_equal(s[12:15], d.xpos[h.agent_body])
        np.testing.assert_array_equal(s[15:18], d.xmat[h.agent_body][[0, 3, 6]])
        np.testing.assert_array_equal(s[18:21], d.xmat[h.agent_body][[1, 4, 7]])
        points = d.xpos[h.lidar_bodies].copy()
        if task == "PointCircle2":  # upstream's lidar sees the exact origin, not the circle body (within 1e-9)
            assert np.abs(points[0, :2]).max() < 1e-8
            points[0] = 0.0
        np.testing.assert_array_equal(s[24:].reshape(-1, 3), points)
        jac = np.zeros((3, env.model.nv))
        mujoco.mj_jacBody(env.model, d, jac, None, h.agent_body)
        np.testing.assert_allclose(s[21:24], jac @ d.qvel, atol=1e-12)


@pytest.mark.parametrize("task", list(TASKS))
def test_same_seed_same_layout_and_episode(task):
    a, b = NavEnv(task), NavEnv(task)
    oa, _ = a.reset(seed=7)
    b.reset(seed=99)
    ob, _ = b.reset(seed=7)
    np.testing.assert_array_equal(oa, ob)
    assert a.layout == b.layout
    np.testing.assert_array_equal(a.model.body_pos, b.model.body_pos)
    c = NavEnv(task)
    c.reset(seed=8)
    assert c.layout["agent"] != a.layout["agent"]
    acts = np.random.default_rng(1).uniform(-1, 1, (50, 2))
    for act in acts:
        ra, rb = a.step(act), b.step(act)
        np.testing.assert_array_equal(ra[0], rb[0])
        assert ra[1:4] == rb[1:4]


@pytest.mark.parametrize("task", ["PointGoal1", "PointButton1"])
def test_reseeding_after_an_episode_draws_the_fresh_goal_sequence(task):
    """The next goal after a seeded reset depends on the seed alone, not on the steps taken before it
    (upstream's per-step draws from the layout generator start again with the new generator)."""
    fresh, used = NavEnv(task), NavEnv(task)
    used.reset(seed=99)
    for _ in range(300):
        used.step(np.zeros(2))
    goals = []
    for env in (fresh, used):
        env.reset(seed=7)
        for _ in range(20):
            env.step(np.zeros(2))
        x, y = env.model.body_pos[env.rules.goal_body, :2]
        env.place_robot(x, y, 0.0)
        assert env.step(np.zeros(2))[4].get("goal_met")
        goals.append(env.model.body_pos[env.rules.goal_body, :2].copy())
    np.testing.assert_array_equal(goals[0], goals[1])


def upstream_layout(sampler, rng):
    """Upstream's placement rule written out literally with single draws (the reference)."""
    for _ in range(10000):
        layout = {}
        for name, rect, keepout in sampler.plan:
            xmin, ymin, xmax, ymax = rect if rect is not None else sampler.cfg.extents
            xmin, ymin, xmax, ymax = xmin + keepout, ymin + keepout, xmax - keepout, ymax - keepout
            for _ in range(100):
                xy = np.array([rng.uniform(xmin, xmax), rng.uniform(ymin, ymax)])
                if all(np.sqrt(np.sum(np.square(xy - np.array(o)))) >= sampler.keepout[n] + 0.0 + keepout
                       for n, o in layout.items()):
                    layout[name] = tuple(xy)
                    break
            else:
                break
        else:
            return layout
    raise AssertionError("no layout")


@pytest.mark.parametrize("task", list(TASKS))
def test_layout_equals_the_single_draw_rule_and_leaves_the_stream_in_place(task):
    sampler = LayoutSampler(NAV_CONFIGS[task])
    for seed in range(4):
        fast, slow = np.random.RandomState(seed), np.random.RandomState(seed)
        assert sampler.layout(fast) == upstream_layout(sampler, slow)
        assert fast.uniform() == slow.uniform()


def test_layout_keepouts_hold():
    for cfg in NAV_CONFIGS.values():
        sampler = LayoutSampler(cfg)
        lay = sampler.layout(np.random.RandomState(11))
        names = list(lay)
        for i, a in enumerate(names):
            for b in names[:i]:
                assert math.dist(lay[a], lay[b]) >= sampler.keepout[a] + sampler.keepout[b]


def test_frameskip_draws_are_owed_then_taken():
    """Upstream draws binomial(10, 1.0) from the layout generator every step; the goal stream must match."""
    env = NavEnv("PointGoal1")
    env.reset(seed=3)
    ref = np.random.RandomState(3)
    for _ in range(25):
        env.step(np.zeros(2))
    env._flush_draws()
    sampler = LayoutSampler(env.cfg)
    sampler.layout(ref)
    sampler.rotations(ref)
    sampler.goal(ref, dict(env.layout))
    for _ in range(25):
        assert ref.binomial(10, 1.0) == 10
    assert env._rng.uniform() == ref.uniform()


@pytest.mark.parametrize("task", list(TASKS))
def test_reset_moves_bodies_without_rebuilding(task, monkeypatch):
    env = NavEnv(task)
    model = env.model
    env.reset(seed=0)
    first = model.body_pos.copy()

    def no_compile(*a, **k):
        raise AssertionError("reset compiled a model")

    monkeypatch.setattr(mujoco.MjModel, "from_xml_string", no_compile)
    monkeypatch.setattr(mujoco.MjModel, "from_xml_path", no_compile)
    env.reset(seed=1)
    assert env.model is model
    assert not np.array_equal(first, model.body_pos)
    assert env.data.time == 0.0 and not env.data.qvel.any()


@pytest.mark.parametrize("task", ["PointGoal1", "PointCircle2", "PointButton1"])
def test_step_physics_equals_plain_substeps(task):
    """The env's stepping (mj_step2 first, sensors off inside) is bit-identical to 10 x mj_step + mj_forward."""
    env = NavEnv(task)
    env.reset(seed=6)
    m = env.model
    ref = mujoco.MjData(m)
    ref.qpos[:] = env.data.qpos
    mujoco.mj_forward(m, ref)
    rng = np.random.default_rng(2)
    for _ in range(60):
        a = rng.uniform(-1.5, 1.5, 2)
        env.step(a)
        ref.ctrl[:] = np.clip(a, -1, 1)
        for _ in range(10):
            if env._gremlins:
                ref.mocap_pos[:] = [0.35 * math.sin(ref.time), 0.35 * math.cos(ref.time), 0.1]
            mujoco.mj_step(m, ref)
        mujoco.mj_forward(m, ref)
        np.testing.assert_array_equal(env.data.qpos, ref.qpos)
        np.testing.assert_array_equal(env.data.sensordata, ref.sensordata)


def test_step_checks():
    env = NavEnv("PointCircle2")
    with pytest.raises(Exception, match="reset"):
        env.step(np.zeros(2))
    env.reset(seed=0)
    with pytest.raises(Exception, match="shape"):
        env.step(np.zeros(3))
