import json
import math

import numpy as np
import pytest

from safemil.errors import TaskError
from safemil.tasks import NotAVelocityTask, get_task, list_tasks

NAMES = ["HalfCheetahVelocity", "HopperVelocity", "Walker2dVelocity", "SwimmerVelocity", "AntVelocity"]
NAV = {"PointGoal1": (60, 1000, 30.071114857340543, 0.01196012764197707, 100.0),
       "PointButton1": (76, 1000, 41.19301568767707, 0.008822109034937853, 200.0),
       "PointCircle2": (28, 500, 54.02184295654297, 20.478347778320312, 299.0)}


def test_registry_contents():
    assert [t.name for t in list_tasks()] == NAMES
    assert get_task("halfcheetahvelocity").name == "HalfCheetahVelocity"
    assert get_task("OfflineSwimmerVelocityGymnasium-v1").name == "SwimmerVelocity"
    with pytest.raises(TaskError, match="unknown task 'Nope'"):
        get_task("Nope")
    ref = get_task("HopperVelocity").reference
    assert ref.max_episode_reward == pytest.approx(1911.396728515625)
    assert get_task("AntVelocity").field("x_velocity").index == 13
    assert [t.name for t in list_tasks("navigation")] == list(NAV)
    assert [t.name for t in list_tasks("all")] == NAMES + list(NAV)
    with pytest.raises(TaskError, match="unknown task kind"):
        list_tasks("legged")


@pytest.mark.parametrize("name", list(NAV))
def test_navigation_tasks_registered(name):
    obs, steps, rmax, rmin, cmax = NAV[name]
    spec = get_task(f"Offline{name}Gymnasium-v0")
    assert spec.name == name and spec.kind == "navigation"
    assert get_task(f"Safety{name}Gymnasium-v0") is spec and get_task(name.lower()) is spec
    assert (spec.obs_dim, spec.act_dim, spec.max_episode_steps) == (obs, 2, steps)
    assert len(spec.schema) == obs and spec.schema[2].name == "accelerometer_z"
    ref = spec.reference
    assert (ref.max_episode_reward, ref.min_episode_reward, ref.max_episode_cost) == (rmax, rmin, cmax)
    assert ref.dataset_file.startswith(f"Safety{name}Gymnasium-v0-")
    env = spec.make_env()
    o, _ = env.reset(seed=0)
    assert o.shape == (obs,)
    # velocity-only attributes give one clear error, and read as absent to hasattr/getattr
    with pytest.raises(NotAVelocityTask, match=f"{name} is a navigation task: cost_threshold"):
        _ = spec.cost_threshold
    assert not hasattr(spec, "velocity_fields") and getattr(spec, "planar_speed", None) is None
    with pytest.raises(AttributeError):
        _ = spec.no_such_thing


@pytest.mark.parametrize("name", NAMES)
def test_cost_rule_matches_measured_velocity(name):
    """cost == 1 exactly when the position-change velocity exceeds the v1 threshold."""
    spec = get_task(name)
    env = spec.make_env()
    obs, _ = env.reset(seed=0)
    assert obs.shape == (spec.obs_dim,)
    assert env.action_space.shape == (spec.act_dim,)
    rng = np.random.default_rng(0)
    raw = env.unwrapped

    def position():  # Ant measures its torso's centre of mass, the others the root joint
        return raw.get_body_com("torso")[:2].copy() if spec.planar_speed else raw.data.qpos[0:2].copy()

    seen = set()
    for _ in range(60):
        x_before = position()
        # large actions so some steps cross the (scaled-down) threshold below
        _, _, term, trunc, info = env.step(rng.uniform(-1, 1, spec.act_dim))
        x_after = position()
        v = (x_after - x_before) / env.unwrapped.dt
        speed = math.hypot(*v) if spec.planar_speed else v[0]
        assert info["velocity"] == pytest.approx(speed, rel=1e-6, abs=1e-9)
        assert info["cost"] == float(speed > spec.cost_threshold)
        seen.add(info["cost"])
        if term or trunc:
            env.reset(seed=1)
    # the field named x_velocity in the schema is the velocity the rule tests (instantaneous)
    assert spec.schema[spec.field("x_velocity").index].name == "x_velocity"


def test_threshold_values_are_the_v1_ones():
    got = {t.name: t.cost_threshold for t in list_tasks()}
    assert got == {
        "HalfCheetahVelocity": 3.2096,
        "HopperVelocity": 0.7402,
        "Walker2dVelocity": 2.3415,
        "SwimmerVelocity": 0.2282,
        "AntVelocity": 2.6222,
    }


def test_cli_tasks_json(capsys):
    from safemil.cli import main

    with pytest.raises(SystemExit) as e:
        main(["tasks", "--json"])
    assert e.value.code == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == NAMES + list(NAV)
    assert rows[0]["obs_dim"] == 17 and rows[0]["max_episode_steps"] == 1000
    assert rows[0]["cost_threshold"] == 3.2096 and rows[0]["kind"] == "velocity"
    for r in rows[len(NAMES):]:
        obs, steps, rmax, rmin, cmax = NAV[r["name"]]
        assert (r["obs_dim"], r["act_dim"], r["max_episode_steps"], r["kind"]) == (obs, 2, steps, "navigation")
        assert (r["dsrl_max_episode_reward"], r["dsrl_min_episode_reward"], r["dsrl_max_episode_cost"]) == (
            rmax, rmin, cmax)
        assert r["cost_threshold"] is None and r["dsrl_env_id"] == f"Offline{r['name']}Gymnasium-v0"


def test_cli_tasks_table_lists_navigation(capsys):
    from safemil.cli import main

    with pytest.raises(SystemExit) as e:
        main(["tasks"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "PointButton1" in out and "3.2096" in out


def _plain_env(spec):
    """The env as gym.make builds it, compiling the XML itself (what make_env gave before the model cache)."""
    import warnings

    import gymnasium as gym

    from safemil.tasks.velocity import VelocityCost

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        env = gym.make(spec.gym_id, max_episode_steps=spec.max_episode_steps, render_mode=None,
                       disable_env_checker=True, **spec.gym_kwargs)
    return VelocityCost(env, spec.cost_threshold, planar=spec.planar_speed)


@pytest.mark.parametrize("name", NAMES)
def test_env_from_cached_model_is_the_plain_env(name):
    """make_env builds from a model compiled once per process; it must step exactly like a freshly compiled env."""
    spec = get_task(name)
    cached, plain = spec.make_env(), _plain_env(spec)
    assert type(cached.unwrapped) is type(plain.unwrapped) and str(cached) == str(plain)
    assert cached.unwrapped.spec.entry_point == plain.unwrapped.spec.entry_point  # a str, as gym.make's
    assert cached.action_space == plain.action_space and cached.observation_space == plain.observation_space
    rng = np.random.default_rng(0)
    for seed in (0, 7):  # reused across episodes, as the evaluator's slots are
        o1, _ = cached.reset(seed=seed)
        o2, _ = plain.reset(seed=seed)
        assert np.array_equal(o1, o2)
        for _ in range(40):
            a = rng.uniform(-1.5, 1.5, spec.act_dim).astype(np.float32)  # out of range too: ctrl clamping
            s1, s2 = cached.step(a), plain.step(a)
            assert np.array_equal(s1[0], s2[0]) and s1[1:4] == s2[1:4]
            assert s1[4].keys() == s2[4].keys() and all(np.array_equal(s1[4][k], s2[4][k]) for k in s1[4])
            if s1[2]:
                break


def test_envs_from_cached_model_own_their_model():
    """Each env gets a copy of the cached model: changing one env's physics leaves the others (and later envs) alone."""
    spec = get_task("HopperVelocity")
    a, b = spec.make_env(), spec.make_env()
    assert a.unwrapped.model is not b.unwrapped.model and a.unwrapped.data is not b.unwrapped.data
    timestep = b.unwrapped.model.opt.timestep
    a.unwrapped.model.opt.timestep *= 2
    a.unwrapped.model.body_mass[1] += 1.0
    c = spec.make_env()
    assert b.unwrapped.model.opt.timestep == c.unwrapped.model.opt.timestep == timestep
    assert b.unwrapped.model.body_mass[1] == c.unwrapped.model.body_mass[1] != a.unwrapped.model.body_mass[1]
    assert c.unwrapped.model.vis.global_.offwidth >= 480  # the renderer's framebuffer, as MujocoEnv sets it


def test_cached_creator_leaves_other_entry_points_alone():
    from safemil.tasks.compiled import cached_creator
    from safemil.tasks.nav.env import NavEnv

    assert cached_creator(NavEnv) is NavEnv
    assert cached_creator("gymnasium.envs.classic_control.cartpole:CartPoleEnv").__name__ == "CartPoleEnv"


@pytest.mark.parametrize("name", ["PointGoal1", "PointButton1", "PointCircle2"])
def test_lidar_layout_names_the_lidar_fields(name):
    """The layout an actor's lidar encoder reads covers exactly the schema's lidar fields, kind by kind."""
    spec = get_task(name)
    start, kinds, bins = spec.lidar_layout
    assert start + kinds * bins == spec.obs_dim
    names = [f.name for f in spec.schema]
    assert not any("_lidar_" in n for n in names[:start])
    blocks = [names[start + k * bins: start + (k + 1) * bins] for k in range(kinds)]
    for block in blocks:
        prefix = block[0].rsplit("_", 1)[0]
        assert block == [f"{prefix}_{i}" for i in range(bins)]
    assert get_task("HopperVelocity").lidar_layout is None
