"""Learned navigation behaviour: the PPO-Lagrangian trainer, its snapshots, and datasets rolled out from them."""

from __future__ import annotations

import json

import numpy as np
import pytest

from safemil.collect import generate_dataset
from safemil.collect.nav_agents import AgentFileError, NavAgents, load_nav_agents
from safemil.collect.nav_generate import nav_default_config
from safemil.errors import ConfigError

TINY = {"steps": 400, "n_envs": 2, "max_steps": 50, "batch_size": 50, "epochs": 2, "snapshot_every": 2,
        "net": (16,), "limit_start": 20.0, "limit_end": 0.0, "lambda_lr": 5.0}


def _random_agents(task: str = "PointGoal1", k: int = 3, obs: int = 60, seed: int = 0) -> NavAgents:
    rng = np.random.default_rng(seed)
    weights = [(rng.normal(size=(k, obs, 8)), rng.normal(size=(k, 8))), (rng.normal(size=(k, 8, 2)), rng.normal(size=(k, 2)))]
    meta = {m: np.arange(k, dtype=float) for m in ("steps", "cost_limit", "multiplier", "episode_return", "episode_cost")}
    return NavAgents(task, weights, rng.normal(size=(k, 2)) - 1, rng.normal(size=(k, obs)), 1 + rng.random((k, obs)),
                     5.0, meta)


def test_agent_rows_are_independent_of_the_batch_and_the_file_round_trips(tmp_path):
    agents = _random_agents()
    obs = np.random.default_rng(1).normal(size=(7, 60))
    which = np.array([0, 2, 1, 1, 0, 2, 2])
    batch = agents.mean_action(obs, which)
    alone = np.concatenate([agents.mean_action(obs[i:i + 1], which[i:i + 1]) for i in range(7)])
    assert np.array_equal(batch, alone)
    # by hand for one row: normalise, clip, tanh layer, linear output
    x = np.clip((obs[3].astype(np.float32) - agents.obs_mean[1]) / agents.obs_std[1], -5, 5)
    h = np.tanh(x @ agents.weights[0][0][1] + agents.weights[0][1][1])
    assert np.allclose(batch[3], h @ agents.weights[1][0][1] + agents.weights[1][1][1], atol=1e-5)
    path = agents.save(tmp_path / "a.npz")
    back = NavAgents.load(path)
    assert np.array_equal(back.mean_action(obs, which), batch) and back.task == "PointGoal1"
    assert np.array_equal(back.meta["steps"], [0, 1, 2])
    picked = agents.select([2, 0])
    assert np.array_equal(picked.mean_action(obs[:2], [0, 1]), agents.mean_action(obs[:2], [2, 0]))
    joined = NavAgents.concat([agents.select([0]), agents.select([1, 2])])
    assert np.array_equal(joined.mean_action(obs, which), batch)


def test_bad_agent_files_are_one_line_errors(tmp_path):
    with pytest.raises(AgentFileError, match="not found"):
        NavAgents.load(tmp_path / "missing.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(AgentFileError, match="not a navigation agent file"):
        NavAgents.load(tmp_path / "junk.npz")
    path = _random_agents("PointButton1", obs=76).save(tmp_path / "b.npz")
    with pytest.raises(AgentFileError, match="agents for PointButton1, not PointGoal1"):
        load_nav_agents("PointGoal1", path)
    with pytest.raises(ConfigError, match="do not fit"):  # a Goal1-sized file relabelled as Button1's
        wrong = _random_agents("PointButton1", obs=60).save(tmp_path / "w.npz")
        generate_dataset("PointButton1", nav_default_config("PointButton1", controller="agents", agents_file=str(wrong),
                                                            episodes=2, oversample=1, max_steps=5), progress=False)


def test_agents_without_a_file_name_the_command_that_makes_one():
    with pytest.raises(AgentFileError, match="collect train --task PointCircle2 --install"):
        generate_dataset("PointCircle2", nav_default_config("PointCircle2", controller="agents", episodes=1,
                                                            oversample=1, max_steps=3), progress=False)


def test_agents_config_rejects_scripted_keys():
    with pytest.raises(ConfigError, match="risk_high only apply to the scripted"):
        nav_default_config("PointGoal1", controller="agents", risk_high=3.0).validate()
    with pytest.raises(ConfigError, match="agents_file only applies to controller=agents"):
        nav_default_config("PointGoal1", controller="field", agents_file="x.npz").validate()


def test_agent_datasets_are_deterministic_and_follow_the_snapshot(tmp_path):
    agents = _random_agents()
    path = agents.save(tmp_path / "a.npz")
    cfg = nav_default_config("PointGoal1", controller="agents", agents_file=str(path), episodes=4, oversample=1,
                             max_steps=30, num_envs=3)
    one = generate_dataset("PointGoal1", cfg, progress=False)
    two = generate_dataset("PointGoal1", nav_default_config(
        "PointGoal1", controller="agents", agents_file=str(path), episodes=4, oversample=1, max_steps=30, num_envs=1),
        progress=False)
    assert np.array_equal(one.actions, two.actions) and np.array_equal(one.observations, two.observations)
    # with no noise the actions are the chosen snapshot's clipped means
    quiet = NavAgents(agents.task, agents.weights, np.full((3, 2), -50.0), agents.obs_mean, agents.obs_std,
                      agents.obs_clip, agents.meta).save(tmp_path / "q.npz")
    ds = generate_dataset("PointGoal1", nav_default_config(
        "PointGoal1", controller="agents", agents_file=str(quiet), episodes=2, oversample=1, max_steps=10),
        progress=False)
    first = ds.observations[:10]
    means = [np.clip(agents.mean_action(first, np.full(10, k)), -1, 1) for k in range(3)]
    assert any(np.allclose(ds.actions[:10], m, atol=1e-6) for m in means)


@pytest.fixture
def sb3():
    return pytest.importorskip("stable_baselines3")


def test_lagrangian_training_resumes_bit_identically_and_installs(sb3, tmp_path, monkeypatch):
    from safemil.collect import lagrangian
    from safemil.collect.lagrangian import (
        default_lagrangian_config,
        install_agents,
        train_lagrangian,
    )

    cfg = default_lagrangian_config("PointGoal1", **TINY)
    straight = train_lagrangian(cfg, tmp_path / "a", progress=False)
    assert straight["steps"] == 400
    real = lagrangian._checkpoint
    calls = []

    def stop_on_second(*a, **kw):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*a, **kw)

    real_write = lagrangian.atomic_write_text

    def stop_before_second_commit(path, text):  # the log of the second chunk is written, its state is not
        if path.name == "state.json" and json.loads(text)["steps"] == 400:
            raise KeyboardInterrupt
        return real_write(path, text)

    monkeypatch.setattr(lagrangian, "_checkpoint", stop_on_second)
    with pytest.raises(KeyboardInterrupt):
        train_lagrangian(cfg, tmp_path / "b", progress=False)
    monkeypatch.setattr(lagrangian, "_checkpoint", real)
    resumed = train_lagrangian(cfg, tmp_path / "b", progress=False)
    assert resumed["multiplier"] == straight["multiplier"] and resumed["steps"] == 400
    snaps_a = sorted((tmp_path / "a" / "snapshots").glob("*.npz"))
    assert [p.name for p in snaps_a] == [p.name for p in sorted((tmp_path / "b" / "snapshots").glob("*.npz"))]
    for p in snaps_a:
        a, b = NavAgents.load(p), NavAgents.load(tmp_path / "b" / "snapshots" / p.name)
        assert all(np.array_equal(x, y) for (x, _), (y, _) in zip(a.weights, b.weights, strict=True))
        assert all(np.array_equal(a.meta[k], b.meta[k]) for k in a.meta)
    log_a = (tmp_path / "a" / "log.txt").read_text().splitlines()
    assert log_a == (tmp_path / "b" / "log.txt").read_text().splitlines() and len(log_a) == 4
    monkeypatch.setattr(lagrangian, "atomic_write_text", stop_before_second_commit)
    with pytest.raises(KeyboardInterrupt):
        train_lagrangian(cfg, tmp_path / "c", progress=False)
    assert len((tmp_path / "c" / "log.txt").read_text().splitlines()) == 4  # two chunks' lines, one committed
    monkeypatch.setattr(lagrangian, "atomic_write_text", real_write)
    train_lagrangian(cfg, tmp_path / "c", progress=False)
    assert (tmp_path / "c" / "log.txt").read_text().splitlines() == log_a  # no line twice
    # the limit is scheduled from 20 to 0 and the multiplier rises once costs exceed it
    limits = [json.loads(line)["cost_limit"] for line in log_a]
    assert limits == sorted(limits, reverse=True) and limits[-1] == 0.0
    # a longer run in the same workdir would change the schedule: refused
    with pytest.raises(ConfigError, match="cannot be lengthened"):
        train_lagrangian(default_lagrangian_config("PointGoal1", **{**TINY, "steps": 800}), tmp_path / "a",
                         progress=False)
    rec = install_agents("PointGoal1", tmp_path / "a", tmp_path / "dest", every=1, command="test")
    assert len(rec["snapshots"]) == 2 and rec["snapshots"][-1]["steps"] == 400
    agents = NavAgents.load(tmp_path / "dest" / "PointGoal1.npz")
    assert len(agents) == 2 and agents.obs_dim == 60


def test_snapshot_acts_as_the_trained_policy(sb3, tmp_path):
    """The numpy snapshot gives the SB3 policy's deterministic action on the same raw observation
    (trained with a fixed penalty: lambda_lr 0 keeps the multiplier at lambda_init)."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import VecNormalize

    from safemil.collect.lagrangian import default_lagrangian_config, train_lagrangian

    cfg = default_lagrangian_config("PointGoal1", **{**TINY, "steps": 200, "lambda_lr": 0.0, "lambda_init": 2.0})
    state = train_lagrangian(cfg, tmp_path / "run", progress=False)
    log = [json.loads(line) for line in (tmp_path / "run" / "log.txt").read_text().splitlines()]
    assert state["multiplier"] == 2.0 and {e["multiplier"] for e in log} == {2.0}  # a fixed penalty
    ckpt = tmp_path / "run" / state["checkpoint"]
    model = PPO.load(str(ckpt / "model.zip"), device="cpu")
    from safemil.collect.lagrangian import _envs

    raw, _ = _envs(cfg, [0.0])
    venv = VecNormalize.load(str(ckpt / "vecnormalize.pkl"), raw)
    venv.training = False
    obs = np.random.default_rng(0).normal(size=(5, 60)) * 0.5
    expect, _ = model.predict(venv.normalize_obs(obs), deterministic=True)
    agents = NavAgents.load(sorted((tmp_path / "run" / "snapshots").glob("*.npz"))[-1])
    got = np.clip(agents.mean_action(obs, np.zeros(5, dtype=int)), -1, 1)
    assert np.allclose(got, expect, atol=1e-5)


def test_trainer_rejects_bad_configs(sb3):
    from safemil.collect.lagrangian import default_lagrangian_config

    with pytest.raises(ConfigError, match="for navigation tasks"):
        default_lagrangian_config("HopperVelocity").validate()
    with pytest.raises(ConfigError, match="multiple of the episode length"):
        default_lagrangian_config("PointGoal1", rollout=300).validate()
    with pytest.raises(ConfigError, match="batch_size"):
        default_lagrangian_config("PointGoal1", batch_size=3000).validate()


def test_limit_schedule_and_fixed_penalty_settings():
    from safemil.collect.lagrangian import default_lagrangian_config

    cfg = default_lagrangian_config("PointButton1", steps=1000)
    assert (cfg.limit_start, cfg.limit_end) == (150.0, 5.0)  # DSRL's Button1 schedule
    assert [cfg.limit_at(s) for s in (0, 500, 1000, 5000)] == [150.0, 77.5, 5.0, 5.0]
    early = default_lagrangian_config("PointGoal1", steps=1000, schedule_steps=200)
    assert [early.limit_at(s) for s in (0, 100, 200, 900)] == [80.0, 42.5, 5.0, 5.0]
    assert default_lagrangian_config("PointCircle2").limit_at(10**9) == 200.0
    with pytest.raises(ConfigError, match="lambda_init"):
        default_lagrangian_config("PointGoal1", lambda_init=-1.0).validate()
    with pytest.raises(ConfigError, match="schedule_steps"):
        default_lagrangian_config("PointGoal1", schedule_steps=-5).validate()
