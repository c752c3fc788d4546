import json
import math

import numpy as np
import pytest

from safemil.errors import TaskError
from safemil.tasks import get_task, list_tasks

NAMES = ["HalfCheetahVelocity", "HopperVelocity", "Walker2dVelocity", "SwimmerVelocity", "AntVelocity"]


def test_registry_contents():
    assert [t.name for t in list_tasks()] == NAMES
    assert get_task("halfcheetahvelocity").name == "HalfCheetahVelocity"
    assert get_task("OfflineSwimmerVelocityGymnasium-v1").name == "SwimmerVelocity"
    with pytest.raises(TaskError, match="unknown task 'Nope'"):
        get_task("Nope")
    ref = get_task("HopperVelocity").reference
    assert ref.max_episode_reward == pytest.approx(1911.396728515625)
    assert get_task("AntVelocity").field("x_velocity").index == 13


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
    assert [r["name"] for r in rows] == NAMES
    assert rows[0]["obs_dim"] == 17 and rows[0]["max_episode_steps"] == 1000
