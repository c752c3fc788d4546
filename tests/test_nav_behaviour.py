"""The navigation tasks' scripted behaviour and their dataset generation (short episodes)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from safemil.collect import generate_dataset, generate_to_file
from safemil.collect.generate import default_config, stale_default_dataset
from safemil.collect.nav_controller import BIN_WIDTH, local_peaks, nav_controller, strongest
from safemil.collect.nav_generate import CONTROLLER_VERSION, NavGenerateConfig, nav_episode_plan
from safemil.data import read_dsrl
from safemil.errors import ConfigError
from safemil.tasks import get_task
from safemil.tasks.nav.lidar import pseudo_lidar


def lidar_of(points: list[tuple[float, float]], lidar_range: float = 3.0) -> np.ndarray:
    """One 16-bin lidar block of robot-frame points (the env's own lidar function)."""
    ego = np.array(points, dtype=np.float64)
    return pseudo_lidar(ego, np.zeros(len(ego), dtype=np.int64), 1, lidar_range)[None, :16]


@pytest.mark.parametrize("angle", [0.1, 1.0, 2.9, -2.0, -0.05])
def test_strongest_reads_bearing_and_distance_back_from_the_lidar(angle):
    d = 1.3
    block = lidar_of([(d * np.cos(angle), d * np.sin(angle))])
    bearing, dist, seen = strongest(block, 3.0)
    assert seen[0]
    assert abs(np.angle(np.exp(1j * (bearing[0] - angle)))) < 1e-9  # the aliasing encodes the exact bearing
    assert dist[0] == pytest.approx(d)
    _, _, seen = strongest(np.zeros((1, 16)), 3.0)
    assert not seen[0]


def test_local_peaks_count_objects_not_aliasing_echoes():
    block = lidar_of([(1.0, 0.2), (-0.5, -1.0)])
    peak, bearing, dist = local_peaks(block, 3.0)
    assert peak.sum() == 2
    got = sorted(zip(dist[peak].round(6), bearing[peak], strict=True))
    assert got[0][0] == pytest.approx(np.hypot(1.0, 0.2))
    assert abs(got[0][1] - np.arctan2(0.2, 1.0)) < BIN_WIDTH


def run(task: str, risk: float, speed: float, seeds: range, steps: int,
        law: str = "clearance") -> tuple[float, float, int]:
    """Noise-free return, cost and goals of the controller over a few short episodes."""
    env, ctl = get_task(task).make_env(), nav_controller(task, law)
    ret = cost = goals = 0
    for seed in seeds:
        obs, _ = env.reset(seed=seed)
        for _ in range(steps):
            obs, r, term, trunc, info = env.step(ctl.act(obs[None], np.array([risk]), np.array([speed]))[0])
            ret, cost, goals = ret + r, cost + info["cost"], goals + bool(info.get("goal_met"))
            if term or trunc:
                break
    return ret, cost, goals


def test_goal_controller_reaches_goals_and_clearance_buys_safety():
    reckless = run("PointGoal1", -0.4, 1.0, range(4), 400)
    careful = run("PointGoal1", 0.2, 1.0, range(4), 400)
    assert reckless[2] >= 8 and careful[2] >= 4  # it moves and reaches goals either way
    assert careful[1] < reckless[1]
    assert careful[1] <= 10


def test_circle_controller_circles_inside_or_outside_the_walls_by_radius():
    inside = run("PointCircle2", 0.8, 1.2, range(2), 300)
    outside = run("PointCircle2", 1.5, 1.2, range(2), 300)
    assert inside[0] > 5 and inside[1] == 0  # rewarded (counter-clockwise) and never past a wall
    assert outside[0] > inside[0] and outside[1] > 100


def test_button_controller_presses_goal_buttons():
    ret, _, goals = run("PointButton1", 0.0, 1.0, range(2), 500)
    assert goals >= 2 and ret > 2


def small_nav(**kw) -> NavGenerateConfig:
    return NavGenerateConfig(**{"episodes": 4, "seed": 1, "num_envs": 2, "max_steps": 40, **kw})


def test_nav_generation_is_deterministic_and_in_dsrl_layout(tmp_path):
    a = generate_to_file("PointGoal1", small_nav(), tmp_path / "a.hdf5", progress=False)
    b = generate_to_file("PointGoal1", small_nav(num_envs=3), tmp_path / "b.hdf5", progress=False)
    da, db = read_dsrl(a, task="PointGoal1"), read_dsrl(b, task="PointGoal1")
    np.testing.assert_array_equal(da.observations, db.observations)  # episode i depends on (seed, i) only
    np.testing.assert_array_equal(da.actions, db.actions)
    assert da.observations.shape == (4 * 40, 60) and da.actions.shape == (160, 2)
    assert np.abs(da.actions).max() <= 1.0 and da.timeouts.sum() == 4
    np.testing.assert_array_equal(da.observations[1:40], da.next_observations[:39])
    record = json.loads((tmp_path / "a.hdf5.generation.json").read_text())
    assert record["controller_version"] == CONTROLLER_VERSION and "policy_sha256" not in record
    other = generate_dataset("PointGoal1", small_nav(seed=2), progress=False)
    assert not np.array_equal(other.observations, da.observations)


def test_nav_episode_plan_draws_from_the_configured_ranges():
    cfg = default_config("PointCircle2")
    draws = np.array([nav_episode_plan(cfg, i, 5)[:2] for i in range(200)])
    assert cfg.risk_low <= draws[:, 0].min() and draws[:, 0].max() <= cfg.risk_high
    assert cfg.speed_low <= draws[:, 1].min() and draws[:, 1].max() <= cfg.speed_high
    assert np.ptp(draws[:, 0]) > 0.8 * (cfg.risk_high - cfg.risk_low)  # a continuum, not a few modes


def test_risk_power_moves_episodes_toward_the_risky_end_on_the_same_draws():
    """risk_power p maps the same uniform draw u to low + (high - low) u^p: each episode keeps its
    speed and noise, and its risk moves toward risk_low (a quarter of the range at the median for p=2)."""
    uniform = default_config("PointGoal1", risk_low=0.0, risk_high=8.0)
    skewed = default_config("PointGoal1", risk_low=0.0, risk_high=8.0, risk_power=2.0)
    a = [nav_episode_plan(uniform, i, 5) for i in range(400)]
    b = [nav_episode_plan(skewed, i, 5) for i in range(400)]
    np.testing.assert_allclose([r for r, _, _ in b], [8.0 * (r / 8.0) ** 2 for r, _, _ in a], rtol=1e-12)
    assert [s for _, s, _ in a] == [s for _, s, _ in b]
    assert all(np.array_equal(x[2], y[2]) for x, y in zip(a, b, strict=True))
    assert 1.5 < np.median([r for r, _, _ in b]) < 2.5
    with pytest.raises(ConfigError, match="risk_power > 0"):
        default_config("PointGoal1", risk_power=0.0).validate()


def test_nav_defaults_take_the_ranges_of_the_law_in_effect():
    """Goal1 and Button1 default to the field law and its gain ranges; asking for the clearance law
    gets the clearance law's margins (not a 0-4 m margin), and an explicit range wins over both."""
    field, clearance = default_config("PointGoal1"), default_config("PointGoal1", controller="clearance")
    assert (field.controller, field.risk_low, field.risk_high, field.risk_power) == ("field", 0.0, 8.0, 1.0)
    assert (clearance.controller, clearance.risk_low, clearance.risk_high) == ("clearance", -0.4, 0.2)
    assert default_config("PointButton1", controller="clearance", risk_high=0.05).risk_high == 0.05
    assert default_config("PointCircle2").controller == "clearance"
    default_config("PointGoal1").validate()
    default_config("PointButton1").validate()


def test_nav_config_errors_and_stale_controller(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="speed_low <= speed_high"):
        generate_dataset("PointGoal1", small_nav(speed_low=2.0, speed_high=1.0), progress=False)
    with pytest.raises(ConfigError, match="NavGenerateConfig"):
        generate_dataset("PointGoal1", default_config("HopperVelocity"), progress=False)
    monkeypatch.setenv("SAFEMIL_DATA_DIR", str(tmp_path))
    path = generate_to_file("PointGoal1", default_config("PointGoal1", episodes=2, oversample=1.0, max_steps=5),
                            progress=False)
    assert stale_default_dataset("PointGoal1", path) == "episodes: 2 -> 1000; max_steps: 5 -> None; oversample: 1.0 -> 2.0"
    path = generate_to_file("PointGoal1", default_config("PointGoal1", controller="clearance", episodes=2,
                                                         oversample=1.0, max_steps=5), progress=False)
    rec = path.with_name(path.name + ".generation.json")
    why = stale_default_dataset("PointGoal1", path)
    assert "episodes: 2 -> 1000" in why and "controller: 'clearance' -> 'field'" in why and "risk_low: -0.4 -> 0.0" in why
    old = json.loads(rec.read_text())
    del old["config"]["controller"]  # a record from before the field law: it was the clearance law
    del old["config"]["risk_power"]  # and from before risk_power: a uniform draw
    rec.write_text(json.dumps(old))
    assert stale_default_dataset("PointGoal1", path) == why
    rec.write_text(rec.read_text().replace(f'"controller_version": {CONTROLLER_VERSION}', '"controller_version": 0'))
    assert "another controller version" in stale_default_dataset("PointGoal1", path)


def test_cli_refuses_a_policy_file_for_a_navigation_task(tmp_path):
    out = subprocess.run([sys.executable, "-m", "safemil", "data", "generate", "--task", "PointGoal1",
                          "--policy", str(tmp_path / "p.npz"), "--out", str(tmp_path / "x.hdf5")],
                         capture_output=True, text=True)
    assert out.returncode != 0
    assert "scripted controller" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "x.hdf5").exists()


def test_cli_generate_takes_the_ranges_of_the_controller_asked_for(tmp_path):
    out = subprocess.run([sys.executable, "-m", "safemil", "data", "generate", "--task", "PointGoal1", "--episodes",
                          "1", "--set", "oversample=1", "--set", "max_steps=3", "--set", "controller=clearance",
                          "--out", str(tmp_path / "c.hdf5")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    config = json.loads((tmp_path / "c.hdf5.generation.json").read_text())["config"]
    assert (config["controller"], config["risk_low"], config["risk_high"]) == ("clearance", -0.4, 0.2)


def test_field_controller_steers_around_a_hazard_smoothly():
    """The field law heads for the goal when nothing is near, turns away from a hazard ahead (toward
    the goal's side), ignores it at gain 0, and its turn command moves little as the hazard slides
    across the goal's bearing, where the clearance law flips from full left to full right."""
    field, clearance = nav_controller("PointGoal1", "field"), nav_controller("PointGoal1")

    def obs_with(hazard_angle: float, hazard_dist: float = 0.7) -> np.ndarray:
        obs = np.zeros((1, 60))
        obs[:, 3] = 0.5  # moving forward at 0.5 m/s
        obs[:, field.blocks["goal"]] = lidar_of([(2.0 * np.cos(0.05), 2.0 * np.sin(0.05))])  # goal ahead, a bit left
        obs[:, field.blocks["hazards"]] = lidar_of([(hazard_dist * np.cos(hazard_angle),
                                                     hazard_dist * np.sin(hazard_angle))])
        return obs

    def turn(ctl, obs, risk):
        return ctl.act(obs, np.array([risk]), np.array([1.0]))[0, 1]

    ahead = obs_with(0.0)
    assert turn(field, ahead, 0.0) == pytest.approx(turn(field, obs_with(0.0, hazard_dist=2.9), 4.0))
    assert turn(field, ahead, 4.0) > turn(field, ahead, 0.0) + 0.2  # goal a bit left: pass the hazard on the left
    angles = np.linspace(-0.1, 0.1, 9)
    field_jump = np.abs(np.diff([turn(field, obs_with(a), 4.0) for a in angles])).max()
    clearance_jump = np.abs(np.diff([turn(clearance, obs_with(a), 0.1) for a in angles])).max()
    assert field_jump < 0.5 and clearance_jump > 1.5
    with pytest.raises(ConfigError, match="repulsion gain"):
        generate_dataset("PointGoal1", small_nav(controller="field", risk_low=-0.1), progress=False)
    with pytest.raises(ConfigError, match="field controller is for Goal1 and Button1"):
        generate_dataset("PointCircle2", small_nav(controller="field", risk_low=0.8, risk_high=1.0), progress=False)


def test_field_controller_gain_buys_safety():
    reckless = run("PointGoal1", 0.0, 1.0, range(4), 400, law="field")
    careful = run("PointGoal1", 4.0, 1.0, range(4), 400, law="field")
    assert careful[2] >= 4  # it still reaches goals
    assert careful[1] < reckless[1]
