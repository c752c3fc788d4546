"""Behaviour policies and dataset generation (tiny: a few short episodes)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import h5py
import numpy as np
import pytest

from safemil.collect import (
    GenerateConfig,
    SpeedActor,
    generate_dataset,
    generate_to_file,
    load_behaviour_policy,
)
from safemil.collect.actor import PolicyFileError
from safemil.collect.generate import episode_plan
from safemil.collect.tracking import tracking_table
from safemil.data import read_dsrl
from safemil.errors import ConfigError
from safemil.tasks import get_task, list_tasks
from tests.conftest import synthetic_dataset


def random_actor(task: str, seed: int = 0) -> SpeedActor:
    spec = get_task(task)
    rng = np.random.default_rng(seed)
    dims = [spec.obs_dim + 1, 16, spec.act_dim]
    layers = [(rng.normal(0, 0.5, (a, b)), rng.normal(0, 0.1, b)) for a, b in zip(dims[:-1], dims[1:], strict=True)]
    one = np.ones(spec.act_dim, np.float32)
    return SpeedActor(layers, "tanh", "tanh", np.zeros(dims[0]), np.ones(dims[0]), 10.0, -one, one, spec.name)


def small_cfg(**kw) -> GenerateConfig:
    base = dict(episodes=4, seed=3, num_envs=2, max_steps=60)
    base.update(kw)
    return GenerateConfig(**base)


def sha(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def test_same_seed_same_file_and_other_seed_differs(tmp_path):
    actor = random_actor("HopperVelocity")
    a = generate_to_file("HopperVelocity", small_cfg(), tmp_path / "a.hdf5", actor, progress=False)
    b = generate_to_file("HopperVelocity", small_cfg(), tmp_path / "b.hdf5", actor, progress=False)
    c = generate_to_file("HopperVelocity", small_cfg(seed=4), tmp_path / "c.hdf5", actor, progress=False)
    assert sha(a) == sha(b)
    assert sha(a) != sha(c)


def test_dsrl_layout_and_episode_structure(tmp_path):
    actor = random_actor("HopperVelocity")
    path = generate_to_file("HopperVelocity", small_cfg(), tmp_path / "d.hdf5", actor, progress=False)
    with h5py.File(path, "r") as f:
        keys = set(f.keys())
        assert {"observations", "next_observations", "actions", "rewards", "costs", "terminals", "timeouts"} <= keys
        for k in ("observations", "next_observations", "actions", "rewards", "costs"):
            assert f[k].dtype == np.float32 and f[k].compression == "gzip"
        for k in ("terminals", "timeouts"):
            assert f[k].dtype == bool and f[k].compression == "gzip"
        assert f["observations"].shape[1] == 11 and f["actions"].shape[1] == 3
    ds = read_dsrl(path, task="HopperVelocity")
    idx = ds.index
    assert len(idx) == 4
    assert (idx.lengths <= 60).all()
    # next_observations of a step is the observation of the following step inside a trajectory
    for s, n in zip(idx.starts, idx.lengths, strict=True):
        np.testing.assert_array_equal(ds.next_observations[s:s + n - 1], ds.observations[s + 1:s + n])
    assert set(np.unique(ds.costs)) <= {0.0, 1.0}
    assert (np.abs(ds.actions) <= 1).all()


def test_episodes_do_not_depend_on_env_count():
    actor = random_actor("SwimmerVelocity")
    a = generate_dataset("SwimmerVelocity", small_cfg(num_envs=1), actor, progress=False)
    b = generate_dataset("SwimmerVelocity", small_cfg(num_envs=3), actor, progress=False)
    np.testing.assert_allclose(a.observations, b.observations, atol=1e-4)
    np.testing.assert_array_equal(a.timeouts, b.timeouts)


def test_episode_plan_mixes_commands_and_noise():
    cfg = GenerateConfig(seed=0, mean_hold=100)
    ratios, noise, info = episode_plan(cfg, 0, 1000, 2)
    assert len(np.unique(ratios)) > 1  # the command changes within the episode
    assert noise.shape == (1000, 2)
    centers = [episode_plan(cfg, i, 1000, 2)[2]["center"] for i in range(50)]
    assert min(centers) < 0.6 and max(centers) > 1.3


def test_episode_plan_centres_cover_a_continuum():
    cfg = GenerateConfig(seed=0, center_low=0.3, center_high=1.7)
    centers = np.array([episode_plan(cfg, i, 10, 2)[2]["center"] for i in range(400)])
    assert centers.min() >= 0.3 and centers.max() <= 1.7
    # no hole anywhere: every tenth of the range holds some episodes' centres
    counts = np.histogram(centers, bins=10, range=(0.3, 1.7))[0]
    assert counts.min() > 20
    assert episode_plan(cfg, 3, 10, 2)[2]["center"] == np.random.default_rng([0, 3]).uniform(0.3, 1.7)


def test_episode_plan_gap_splits_centres_into_two_modes():
    cfg = GenerateConfig(seed=0, center_low=0.3, center_high=1.7, gap_low=0.65, gap_high=1.05)
    centers = np.array([episode_plan(cfg, i, 10, 2)[2]["center"] for i in range(400)])
    assert not ((centers > 0.65) & (centers < 1.05)).any()
    assert centers.min() >= 0.3 and centers.max() <= 1.7
    # uniform over the two intervals: shares follow their lengths (0.35 vs 0.65)
    assert abs((centers <= 0.65).mean() - 0.35) < 0.08
    for bad in ({"gap_low": 0.5}, {"gap_low": 1.2, "gap_high": 1.0}, {"gap_low": 0.1, "gap_high": 0.5}):
        with pytest.raises(ConfigError, match="gap"):
            GenerateConfig(**bad).validate()


def test_bad_config_and_policy_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="episodes"):
        generate_dataset("SwimmerVelocity", small_cfg(episodes=0), random_actor("SwimmerVelocity"))
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(PolicyFileError, match="bad.npz"):
        load_behaviour_policy("SwimmerVelocity", bad)
    actor = random_actor("HopperVelocity")
    actor.save(tmp_path / "hop.npz")
    with pytest.raises(PolicyFileError, match="HopperVelocity"):
        load_behaviour_policy("SwimmerVelocity", tmp_path / "hop.npz")


def test_actor_save_load_roundtrip(tmp_path):
    actor = random_actor("AntVelocity")
    actor.save(tmp_path / "ant.npz")
    back = SpeedActor.load(tmp_path / "ant.npz")
    obs = np.random.default_rng(0).normal(size=(5, 27)).astype(np.float32)
    np.testing.assert_array_equal(actor.act(obs, 1.0), back.act(obs, 1.0))


def test_cli_generate_missing_policy_is_one_line_error(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "safemil", "data", "generate", "--task", "SwimmerVelocity",
         "--episodes", "2", "--out", str(tmp_path / "x.hdf5"), "--policy", str(tmp_path / "none.npz")],
        capture_output=True, text=True, env={**__import__("os").environ, "PYTHONPATH": "src"},
    )
    assert r.returncode == 2
    assert "none.npz" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("task", [t.name for t in list_tasks()])
def test_shipped_policy_higher_command_is_faster(task):
    actor = load_behaviour_policy(task)
    rows = tracking_table(actor, task, ratios=(0.4, 1.4), episodes=2, steps=300, warmup=100)
    slow, fast = rows[0]["achieved_speed"], rows[1]["achieved_speed"]
    assert fast > slow + 0.2 * get_task(task).cost_threshold, rows


@pytest.mark.parametrize("task", [t.name for t in list_tasks()])
def test_shipped_policy_has_record(task):
    actor = load_behaviour_policy(task)
    path = __import__("safemil.collect.actor", fromlist=["x"]).shipped_policy_path(task)
    rec = json.loads(path.with_suffix(".json").read_text())
    assert rec["task"] == task and rec["steps"] > 0 and rec["wall_time_s"] > 0
    assert len(rec["tracking"]) >= 5
    assert actor.in_dim == get_task(task).obs_dim + 1


def test_train_checkpoints_and_resumes(tmp_path):
    pytest.importorskip("stable_baselines3")
    from safemil.collect.train import CollectTrainConfig, train_behaviour

    cfg = CollectTrainConfig(task="SwimmerVelocity", steps=256, n_envs=2, ppo_n_steps=64, batch_size=64, chunk=128)
    st = train_behaviour(cfg, tmp_path, progress=False)
    assert st["steps"] == 256 and (tmp_path / "model.zip").exists()
    cfg.steps = 512
    st2 = train_behaviour(cfg, tmp_path, progress=False)
    assert st2["steps"] == 512 and st2["wall_s"] > st["wall_s"]
    assert SpeedActor.load(tmp_path / "actor.npz").task == "SwimmerVelocity"
    with pytest.raises(ConfigError, match="different config"):
        train_behaviour(CollectTrainConfig(task="SwimmerVelocity", steps=512, gamma=0.5), tmp_path, progress=False)


def test_ars_keeps_the_best_directions_it_is_told_to(tmp_path):
    pytest.importorskip("sb3_contrib")
    from safemil.collect.train import CollectTrainConfig, _make_vec, _new_model

    cfg = CollectTrainConfig(task="SwimmerVelocity", algo="ars", net=(), n_envs=1, ars_n_delta=4, ars_n_top=2,
                             reward="penalized", cost_weight=1.0)
    model, venv = _new_model(cfg, _make_vec(cfg))
    assert (model.n_delta, model.n_top) == (4, 2)
    venv.close()
    cfg.ars_n_top = 0
    model, venv = _new_model(cfg, _make_vec(cfg))
    assert model.n_top == 4  # 0: every direction
    venv.close()


def test_switched_actor_routes_by_command_and_roundtrips(tmp_path):
    from safemil.collect.actor import SwitchedActor

    a, b = random_actor("SwimmerVelocity", 1), random_actor("SwimmerVelocity", 2)
    b.command_offset, b.command_scale = -0.4, 0.875
    sw = SwitchedActor([0.8], [a, b])
    obs = np.random.default_rng(0).normal(size=(4, 8)).astype(np.float32)
    ratio = np.array([0.3, 0.79, 0.8, 1.5], np.float32)
    out = sw.act(obs, ratio)
    np.testing.assert_array_equal(out[:2], a.act(obs[:2], ratio[:2]))
    np.testing.assert_array_equal(out[2:], b.act(obs[2:], ratio[2:]))
    sw.save(tmp_path / "sw.npz")
    back = SpeedActor.load(tmp_path / "sw.npz")
    assert isinstance(back, SwitchedActor)
    np.testing.assert_array_equal(back.act(obs, ratio), out)


def _linear_actor(task: str, seed: int, offset: float) -> SpeedActor:
    """A linear, clipped actor like ``ars-linear`` exports, seeing a constant command ``offset``."""
    spec = get_task(task)
    w = np.random.default_rng(seed).normal(0, 1.0, (spec.obs_dim + 1, spec.act_dim))
    one = np.ones(spec.act_dim, np.float32)
    return SpeedActor([(w, np.zeros(spec.act_dim))], "relu", "clip", np.zeros(spec.obs_dim + 1),
                      np.ones(spec.obs_dim + 1), 1e9, -one, one, spec.name, offset, 0.0)


def test_blended_actor_interpolates_linear_gaits_weights(tmp_path):
    from safemil.collect.actor import BlendedActor, PolicyFileError

    parts = [_linear_actor("SwimmerVelocity", k, off) for k, off in enumerate([0.4, 0.8, 1.2])]
    bl = BlendedActor([0.4, 0.8, 1.5], parts)
    obs = np.random.default_rng(0).normal(size=(6, 8)).astype(np.float32)
    ratio = np.array([0.0, 0.4, 0.6, 0.8, 1.15, 2.0], np.float32)
    out = bl.act(obs, ratio)
    # the ends and the anchors are the parts themselves
    for i, part in [(0, 0), (1, 0), (3, 1), (5, 2)]:
        np.testing.assert_allclose(out[i], parts[part].act(obs[i:i + 1], ratio[i])[0], rtol=1e-5, atol=1e-6)

    def weights(a):  # the effective (obs, act) weights and bias of a linear part
        w = a.weights[0][0]
        return w[:-1], w[-1] * a.command_offset

    for i, (k, t) in [(2, (0, 0.5)), (4, (1, 0.5))]:
        (w0, b0), (w1, b1) = weights(parts[k]), weights(parts[k + 1])
        want = np.clip(obs[i] @ ((1 - t) * w0 + t * w1) + (1 - t) * b0 + t * b1, -1, 1)
        np.testing.assert_allclose(out[i], want, rtol=1e-5, atol=1e-5)
    assert not np.allclose(out[2], out[1]) and not np.allclose(out[2], out[3])
    bl.save(tmp_path / "bl.npz")
    back = SpeedActor.load(tmp_path / "bl.npz")
    assert isinstance(back, BlendedActor)
    np.testing.assert_array_equal(back.act(obs, ratio), out)
    with pytest.raises(PolicyFileError, match="strictly increase"):
        BlendedActor([0.8, 0.8, 1.5], parts)
    with pytest.raises(PolicyFileError, match="one anchor per part"):
        BlendedActor([0.8, 1.5], parts)
    with pytest.raises(PolicyFileError, match="squash"):
        BlendedActor([0.4, 0.8], [parts[0], random_actor("SwimmerVelocity")])


def test_task_reward_mode_pays_the_task_reward():
    from safemil.collect.speed_env import SpeedCommandEnv

    tracking = SpeedCommandEnv("HopperVelocity")
    task = SpeedCommandEnv("HopperVelocity", reward="task")
    raw = get_task("HopperVelocity").make_env()
    a = np.full(3, 0.3, np.float32)
    for env in (tracking, task):
        env.reset(seed=5)
    raw.reset(seed=5)
    r_track, r_task, r_raw = tracking.step(a)[1], task.step(a)[1], raw.step(a)[1]
    assert r_task == pytest.approx(r_raw) and r_track != pytest.approx(r_raw)
    with pytest.raises(ValueError, match="reward"):
        SpeedCommandEnv("HopperVelocity", reward="speed")


def _random_strokes(env, steps: int = 200):
    """(task reward, ``env``'s reward, info) for the same random actions in ``env`` and a task-reward twin."""
    from safemil.collect.speed_env import SpeedCommandEnv

    twin = SpeedCommandEnv("SwimmerVelocity", reward="task", schedule=env.schedule)
    for e in (twin, env):
        e.reset(seed=3)
    rng = np.random.default_rng(0)
    for _ in range(steps):
        a = rng.uniform(-1, 1, 2).astype(np.float32)
        _, r_task, _, _, info = twin.step(a)
        _, r_env, _, _, info_env = env.step(a)
        assert info["velocity"] == info_env["velocity"] and info["cost"] == info_env["cost"]
        yield r_task, r_env, info


def test_penalized_reward_charges_every_step_over_the_threshold():
    from safemil.collect.speed_env import SpeedCommandEnv
    from safemil.collect.train import CollectTrainConfig

    costs = 0
    for r_task, r_pen, info in _random_strokes(SpeedCommandEnv("SwimmerVelocity", reward="penalized",
                                                               cost_weight=2.5)):
        assert r_pen == pytest.approx(r_task - 2.5 * info["cost"])
        costs += info["cost"]
    assert costs > 0  # random strokes do swing the tip over the threshold, so the penalty was exercised
    with pytest.raises(ConfigError, match="cost_weight only applies"):
        CollectTrainConfig(task="SwimmerVelocity", cost_weight=1.0).validate()
    with pytest.raises(ConfigError, match="cost_weight must be"):
        CollectTrainConfig(task="SwimmerVelocity", reward="penalized", cost_weight=-1.0).validate()
    with pytest.raises(ConfigError, match="ars_n_top"):
        CollectTrainConfig(task="SwimmerVelocity", ars_n_delta=4, ars_n_top=5).validate()


def _fake_workdir(path, task: str, snaps: dict[int, int]) -> None:
    """A training workdir with actor snapshots (steps -> actor seed), as `train_behaviour` leaves it."""
    (path / "snapshots").mkdir(parents=True)
    log = []
    for steps, seed in snaps.items():
        random_actor(task, seed).save(path / "snapshots" / f"actor-{steps:08d}.npz")
        log.append({"steps": steps, "wall_s": steps / 100.0})
    (path / "log.txt").write_text("\n".join(json.dumps(e) for e in log) + "\n")
    (path / "state.json").write_text(json.dumps(log[-1]))
    random_actor(task, snaps[max(snaps)]).save(path / "actor.npz")
    from safemil.collect.train import CollectTrainConfig
    from safemil.config import to_dict

    (path / "config.json").write_text(json.dumps(to_dict(CollectTrainConfig(task=task, algo="sac"))))


def test_install_switches_between_snapshots_of_one_run(tmp_path):
    from safemil.collect.actor import SwitchedActor
    from safemil.collect.train import install_policy

    wd = tmp_path / "run"
    _fake_workdir(wd, "SwimmerVelocity", {100: 1, 200: 2, 300: 3})
    rec = install_policy("SwimmerVelocity", [wd, wd], tmp_path / "dest", bounds=[0.9], snapshots=[100, None],
                         episodes=1)
    assert rec["steps"] == 300 and rec["wall_time_s"] == 3.0  # one run counted once
    assert [p["steps"] for p in rec["parts"]] == [100, 300]
    sw = SpeedActor.load(tmp_path / "dest" / "SwimmerVelocity.npz")
    assert isinstance(sw, SwitchedActor)
    obs = np.random.default_rng(0).normal(size=(2, 8)).astype(np.float32)
    np.testing.assert_allclose(sw.act(obs, 0.5), random_actor("SwimmerVelocity", 1).act(obs, 0.5), rtol=1e-6)
    np.testing.assert_allclose(sw.act(obs, 1.2), random_actor("SwimmerVelocity", 3).act(obs, 1.2), rtol=1e-6)
    with pytest.raises(ConfigError, match="no snapshot at 150"):
        install_policy("SwimmerVelocity", [wd], tmp_path / "d2", snapshots=[150])


def test_install_blends_snapshots_at_anchors(tmp_path):
    from safemil.collect.actor import BlendedActor
    from safemil.collect.train import install_policy

    wd = tmp_path / "run"
    _fake_workdir(wd, "SwimmerVelocity", {100: 1, 200: 2})
    rec = install_policy("SwimmerVelocity", [wd, wd], tmp_path / "dest", anchors=[0.5, 1.0], snapshots=[100, None],
                         episodes=1)
    assert rec["blend_anchors"] == [0.5, 1.0] and rec["switch_bounds"] == []
    bl = SpeedActor.load(tmp_path / "dest" / "SwimmerVelocity.npz")
    assert isinstance(bl, BlendedActor)
    obs = np.random.default_rng(0).normal(size=(2, 8)).astype(np.float32)
    np.testing.assert_allclose(bl.act(obs, 0.3), random_actor("SwimmerVelocity", 1).act(obs, 0.3), rtol=1e-5)
    assert "A blended actor" in (tmp_path / "dest" / "SwimmerVelocity.md").read_text()
    with pytest.raises(ConfigError, match="not both"):
        install_policy("SwimmerVelocity", [wd, wd], tmp_path / "d2", anchors=[0.5, 1.0], bounds=[0.7])
    with pytest.raises(ConfigError, match="one anchor each"):
        install_policy("SwimmerVelocity", [wd, wd], tmp_path / "d2", anchors=[0.5])
    with pytest.raises(ConfigError, match="strictly increase"):
        install_policy("SwimmerVelocity", [wd, wd], tmp_path / "d2", anchors=[1.0, 0.5])
    assert not (tmp_path / "d2").exists()


def test_throttled_actor_scales_one_gait_toward_the_box_centre(tmp_path):
    from safemil.collect.actor import ThrottledActor

    gait = random_actor("SwimmerVelocity", 4)
    th = ThrottledActor([0.2, 1.0], [0.25, 1.0], gait)
    obs = np.random.default_rng(0).normal(size=(4, 8)).astype(np.float32)
    ratio = np.array([0.0, 0.6, 1.0, 1.5], np.float32)
    np.testing.assert_allclose(th.scale(ratio), [0.25, 0.625, 1.0, 1.0])  # ends held outside the anchors
    np.testing.assert_allclose(th.act(obs, ratio), th.scale(ratio)[:, None] * gait.act(obs, ratio), rtol=1e-6)
    th.save(tmp_path / "th.npz")
    back = SpeedActor.load(tmp_path / "th.npz")
    assert isinstance(back, ThrottledActor)
    np.testing.assert_array_equal(back.act(obs, ratio), th.act(obs, ratio))
    # an asymmetric box scales toward its centre, not toward zero
    gait.low, gait.high = np.full(2, 0.0, np.float32), np.full(2, 2.0, np.float32)
    half = ThrottledActor([1.0], [0.5], gait).act(obs, 1.0)
    np.testing.assert_allclose(half, 1.0 + 0.5 * (gait.act(obs, 1.0) - 1.0), rtol=1e-6)
    with pytest.raises(PolicyFileError, match="scales must lie in"):
        ThrottledActor([0.2, 1.0], [0.0, 1.0], gait)
    with pytest.raises(PolicyFileError, match="strictly increase"):
        ThrottledActor([1.0, 0.2], [0.5, 1.0], gait)
    with pytest.raises(PolicyFileError, match="one scale per"):
        ThrottledActor([0.2, 1.0], [0.5], gait)


def test_throttle_installs_one_part_of_an_installed_policy_with_its_provenance(tmp_path):
    from safemil.collect.actor import ThrottledActor
    from safemil.collect.train import install_policy, throttle_policy

    wd = tmp_path / "run"
    _fake_workdir(wd, "SwimmerVelocity", {100: 1, 200: 2})
    install_policy("SwimmerVelocity", [wd, wd], tmp_path / "ladder", bounds=[0.9], snapshots=[100, None],
                   episodes=1, command="safemil collect install ladder")
    src = tmp_path / "ladder" / "SwimmerVelocity.npz"
    rec = throttle_policy("SwimmerVelocity", 1, [0.3, 1.0], [0.4, 1.0], src, tmp_path / "thr", episodes=1,
                          command_map=(1.6, 0.0))
    assert rec["throttle_anchors"] == [0.3, 1.0] and rec["throttle_scales"] == [0.4, 1.0]
    assert [p["steps"] for p in rec["parts"]] == [200] and rec["parts"][0]["command_map"]["offset"] == 1.6
    assert "safemil collect install ladder" in (tmp_path / "thr" / "SwimmerVelocity.md").read_text()
    th = SpeedActor.load(tmp_path / "thr" / "SwimmerVelocity.npz")
    assert isinstance(th, ThrottledActor)
    obs = np.random.default_rng(0).normal(size=(2, 8)).astype(np.float32)
    gait = random_actor("SwimmerVelocity", 2)  # the workdir's final actor, fed a constant command 1.6
    np.testing.assert_allclose(th.act(obs, 0.3), 0.4 * gait.act(obs, 1.6), rtol=1e-5)
    with pytest.raises(ConfigError, match="has parts 0-1"):
        throttle_policy("SwimmerVelocity", 2, [1.0], [1.0], src, tmp_path / "d2")
    rec_path = tmp_path / "ladder" / "SwimmerVelocity.json"
    record = json.loads(rec_path.read_text())
    # records written before parts named their workdir (HalfCheetah's, Hopper's, ...): the train command tells the run
    old_parts = [{k: v for k, v in part.items() if k != "workdir"} for part in record["parts"]]
    rec_path.write_text(json.dumps({**record, "parts": old_parts}))
    rec = throttle_policy("SwimmerVelocity", 0, [0.3, 1.0], [0.4, 1.0], src, tmp_path / "thr-old", episodes=1)
    assert rec["steps"] == 100 and "workdir" not in rec["parts"][0]
    rec_path.write_text(json.dumps({**record, "parts": record["parts"][:1]}))
    with pytest.raises(ConfigError, match="do not match the 2 part"):
        throttle_policy("SwimmerVelocity", 0, [1.0], [1.0], src, tmp_path / "d2")
    rec_path.unlink()
    with pytest.raises(ConfigError, match="no record"):
        throttle_policy("SwimmerVelocity", 0, [1.0], [1.0], src, tmp_path / "d2")
    assert not (tmp_path / "d2").exists()


def test_a_cached_default_dataset_from_another_config_is_named(tmp_path, monkeypatch, capsys):
    from safemil.collect.actor import shipped_policy_path
    from safemil.collect.generate import default_config, find_dataset, stale_default_dataset
    from safemil.data import default_dataset_path

    monkeypatch.setenv("SAFEMIL_DATA_DIR", str(tmp_path))
    task = "SwimmerVelocity"
    path = default_dataset_path(task)
    current = default_config(task)
    cfg = small_cfg(**{k: getattr(current, k) for k in ("seed", "center_low", "center_high")})
    generate_to_file(task, cfg, path, random_actor(task), progress=False, policy_file=shipped_policy_path(task))
    record = json.loads(open(str(path) + ".generation.json").read())
    assert record["config"]["episodes"] == 4 and record["policy_sha256"]
    why = stale_default_dataset(task, path)
    assert "episodes: 4 -> 500" in why and "max_steps" in why and "num_envs: 2 -> 16" in why
    assert find_dataset(task) == path  # still used...
    assert "generated differently" in capsys.readouterr().err  # ...but never silently
    record["config"] = json.loads(json.dumps(vars(current)))
    open(str(path) + ".generation.json", "w").write(json.dumps(record))
    assert stale_default_dataset(task, path) is None  # the same config and policy: nothing to say
    record["policy_sha256"] = "0" * 64
    open(str(path) + ".generation.json", "w").write(json.dumps(record))
    assert stale_default_dataset(task, path) == "a different behaviour policy"
    (tmp_path / f"{task}-default.hdf5.generation.json").unlink()  # older files: the HDF5 attributes still tell
    assert stale_default_dataset(task, path) == "episodes: 4 -> 500"


def test_a_corrupt_cached_default_dataset_is_left_to_the_reader(tmp_path, monkeypatch):
    from safemil.data import default_dataset_path, read_dsrl, resolve_dataset
    from safemil.errors import DatasetError

    monkeypatch.setenv("SAFEMIL_DATA_DIR", str(tmp_path))
    path = default_dataset_path("SwimmerVelocity")
    path.write_bytes(b"not an hdf5 file")
    assert resolve_dataset("SwimmerVelocity") == path  # the staleness check does not crash on it...
    with pytest.raises(DatasetError):
        read_dsrl(path)  # ...the reader gives its clear error


def test_target_shape_checks_the_frontier_just_under_the_limit():
    from safemil.collect.report import target_shape
    from safemil.eval.metrics import normalized_return

    ds = synthetic_dataset(n_traj=60, min_len=30, max_len=30, seed=2)
    cost = ds.trajectory_costs()
    limit = float(np.quantile(cost, 0.5))
    safe = cost <= limit
    safe_norm = normalized_return(ds.trajectory_returns()[safe], "SwimmerVelocity")
    shape = target_shape(ds, random_return=-1e9, cost_limit=limit,
                         threshold={"normalized_return": float(safe_norm.max()), "cost": limit})
    near = shape["share 0 < cost <= 25 >= 10%"]
    assert near["value"] == pytest.approx(((cost > 0) & safe).mean())
    mean = shape["safe mean normalized return >= 0.5"]
    assert mean["value"]["safe"] == pytest.approx(safe_norm.mean()) and mean["pass"] == (safe_norm.mean() >= 0.5)
    p90 = shape["safe p90 normalized return >= 0.8x threshold policy"]
    assert p90["value"]["safe p90"] == pytest.approx(np.quantile(safe_norm, 0.9))
    assert p90["pass"] == (np.quantile(safe_norm, 0.9) >= 0.8 * safe_norm.max())
    assert "safe p90 normalized return >= 0.8x threshold policy" not in target_shape(ds, 0.0, limit)  # no reference


def test_thin_on_grid_caps_crowded_cells_and_keeps_rare_ones():
    from safemil.collect.episodes import thin_on_grid

    rng = np.random.default_rng(0)
    # 300 slow quiet episodes in one corner, 300 fast costly ones, and 8 rare ones just under a limit
    costs = np.concatenate([np.zeros(300), rng.uniform(600, 900, 300), [5, 8, 12, 15, 18, 20, 22, 24]])
    returns = np.concatenate([rng.uniform(100, 110, 300), rng.uniform(2000, 2500, 300), np.linspace(1500, 1700, 8)])
    keep = thin_on_grid(costs, returns, 100, cost_bins=20, return_bins=20)
    assert len(keep) == 100 and len(np.unique(keep)) == 100 and np.all(np.diff(keep) > 0)
    assert set(range(600, 608)) <= set(keep.tolist())  # every rare episode survives
    assert (keep < 300).sum() < 30  # the crowded corner no longer dominates
    np.testing.assert_array_equal(keep, thin_on_grid(costs, returns, 100, 20, 20))  # deterministic
    np.testing.assert_array_equal(thin_on_grid(costs, returns, len(costs), 20, 20), np.arange(len(costs)))
    with pytest.raises(ConfigError, match="cannot keep"):
        thin_on_grid(costs, returns, len(costs) + 1, 20, 20)


def test_thinned_generation_keeps_whole_candidate_episodes():
    actor = random_actor("HopperVelocity")
    full = generate_dataset("HopperVelocity", small_cfg(episodes=6, oversample=1.0), actor, progress=False)
    thinned = generate_dataset("HopperVelocity", small_cfg(episodes=4, oversample=1.5, cost_bins=2, return_bins=2),
                               actor, progress=False)
    assert len(thinned.index) == 4
    # episode i depends only on (seed, i): the kept episodes are exactly four of the six, in order
    full_returns = list(full.trajectory_returns())
    positions = [full_returns.index(r) for r in thinned.trajectory_returns()]
    assert positions == sorted(positions) and len(set(positions)) == 4
    with pytest.raises(ConfigError, match="oversample"):
        small_cfg(oversample=0.5).validate()


def _linear_ars_config(**kw):
    from safemil.collect.train import default_train_config

    return default_train_config("SwimmerVelocity", **{
        "algo": "ars-linear", "net": (), "reward": "penalized", "cost_weight": 1.0, "ars_n_delta": 2,
        "ars_n_top": 1, "ars_delta_std": 0.03, "learning_rate": 0.02, "command_schedule": (1.0,), "chunk": 4000,
        **kw})


def test_linear_ars_resumes_bit_identically_and_exports_its_policy(tmp_path):
    from safemil.collect.train import train_behaviour

    train_behaviour(_linear_ars_config(steps=8000), tmp_path / "a", progress=False)
    train_behaviour(_linear_ars_config(steps=4000), tmp_path / "b", progress=False)  # stopped half-way ...
    st = train_behaviour(_linear_ars_config(steps=8000), tmp_path / "b", progress=False)  # ... and resumed
    assert st["steps"] == 8000
    theta = np.load(tmp_path / "a" / "ars.npz")["theta"]
    np.testing.assert_array_equal(theta, np.load(tmp_path / "b" / "ars.npz")["theta"])
    assert np.abs(theta).max() > 0  # two updates moved the weights
    # a stop between the checkpoint and state.json: the checkpoint is the truth, no update is redone
    (tmp_path / "b" / "state.json").write_text(json.dumps({"steps": 4000, "wall_s": 1.0}))
    assert train_behaviour(_linear_ars_config(steps=8000), tmp_path / "b", progress=False)["steps"] == 8000
    np.testing.assert_array_equal(theta, np.load(tmp_path / "b" / "ars.npz")["theta"])
    assert sorted(p.name for p in (tmp_path / "b" / "snapshots").iterdir()) == [
        "actor-00004000.npz", "actor-00008000.npz"]
    actor = SpeedActor.load(tmp_path / "a" / "actor.npz")
    obs = np.random.default_rng(1).normal(size=(5, 8))
    want = np.clip(np.concatenate([obs, np.full((5, 1), 0.7)], 1) @ theta.T, -1, 1)
    np.testing.assert_allclose(actor.act(obs, 0.7), want, rtol=1e-5, atol=1e-6)


def test_linear_ars_climbs_and_refuses_a_hidden_layer(tmp_path):
    from safemil.collect.ars import LinearARS
    from safemil.collect.speed_env import SpeedCommandEnv

    with pytest.raises(ConfigError, match="linear policy"):
        _linear_ars_config(net=(8,)).validate()
    # reward = the task's (forward progress): eight updates must lift the return above the zero policy's
    envs = [SpeedCommandEnv("SwimmerVelocity", reward="task", schedule=(1.0,)) for _ in range(8)]
    search = LinearARS(envs, n_delta=4, n_top=2, delta_std=0.1, step_size=0.1, seed=0)
    start = search.returns(search.theta[None], seed=0)[0]
    for _ in range(4):
        search.update()
    assert search.env_steps == 1000 + 4 * 8 * 1000  # every simulated step is counted
    assert search.returns(search.theta[None], seed=0)[0] > start + 20.0


def test_hinge_reward_charges_the_overshoot_of_the_commanded_speed():
    from safemil.collect.speed_env import SpeedCommandEnv

    thr = get_task("SwimmerVelocity").cost_threshold
    charged = 0
    for r_task, r_hinge, info in _random_strokes(SpeedCommandEnv("SwimmerVelocity", reward="hinge", cost_weight=2.0,
                                                                 schedule=(0.5,))):
        over = max(0.0, info["velocity"] - 0.5 * thr)
        assert r_hinge == pytest.approx(r_task - 2.0 * over / thr)
        charged += over > 0
    assert 0 < charged < 200  # some steps overshoot, some do not


def test_linear_ars_starts_from_a_given_linear_actor_and_refuses_others(tmp_path):
    from safemil.collect.train import train_behaviour

    train_behaviour(_linear_ars_config(steps=4000), tmp_path / "fast", progress=False)
    start = tmp_path / "fast" / "actor.npz"
    cfg = _linear_ars_config(steps=4000, reward="hinge", init_actor=str(start), ars_delta_std=1e-9,
                             learning_rate=1e-9)
    train_behaviour(cfg, tmp_path / "warm", progress=False)  # a vanishing step: the weights stay the start's
    np.testing.assert_allclose(np.load(tmp_path / "warm" / "ars.npz")["theta"],
                               np.load(tmp_path / "fast" / "ars.npz")["theta"], atol=1e-6)
    random_actor("SwimmerVelocity", 0).save(tmp_path / "mlp.npz")
    with pytest.raises(ConfigError, match="not a linear SwimmerVelocity actor"):
        train_behaviour(_linear_ars_config(steps=4000, init_actor=str(tmp_path / "mlp.npz")), tmp_path / "retry",
                        progress=False)
    assert not (tmp_path / "retry").exists()  # nothing left to block the corrected retry
    train_behaviour(_linear_ars_config(steps=4000, init_actor=str(start)), tmp_path / "retry", progress=False)
    with pytest.raises(ConfigError, match="init_actor only applies"):
        _linear_ars_config(algo="ppo", net=(8,), init_actor=str(start)).validate()
