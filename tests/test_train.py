"""The runner and the train/eval CLI on a tiny generated dataset: resume, label gate, configs, errors."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from safemil.algos import LearnerData, OracleData, get_algo, list_algos
from safemil.cli import main
from safemil.config import from_dict, load_yaml, save_yaml, to_dict
from safemil.data import make_split, read_dsrl
from safemil.errors import ConfigError
from safemil.runner import (
    RunConfig,
    build_data,
    evaluate_run,
    load_run_config,
    make_run_config,
    resume,
    train,
)
from tests.tiny_swimmer import TASK, TINY_SPLIT, make_tiny_dataset

TINY_SAFEMIL = TINY_SPLIT + ["policy_steps=60", "mil.steps=40", "mil.bag_size=8", "mil.pool_size=32",
                             "mil.n_bag_pairs=16", "bc.batch_size=64", "train.log_every=10",
                             "train.checkpoint_every=20"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return make_tiny_dataset(tmp_path_factory.mktemp("data") / "tiny.hdf5")


def _strip(m: dict) -> dict:
    return {k: v for k, v in m.items() if "wall" not in k}


@pytest.mark.parametrize("schedule,level,stops", [("sequential", "trajectory", (30, 55)),
                                                  ("sequential", "segment", (55,)),
                                                  ("alternate", "segment", (25,))])
def test_resume_after_simulated_kill_matches_uninterrupted_run(tiny, tmp_path, schedule, level, stops):
    cfg = make_run_config("safemil", TASK, str(tiny), seed=3,
                          overrides=[*TINY_SAFEMIL, f"schedule={schedule}", f"bc.weights.level={level}",
                                     f"bc.weights.sampling={'resample' if level == 'trajectory' else 'reweight'}"])
    full = train(cfg, tmp_path / "full")
    for stop in stops:  # inside the cost phase (between checkpoints) and inside the policy phase
        out = tmp_path / f"killed{stop}"
        assert train(cfg, out, stop_at=stop) is None
        assert not (out / "eval.json").exists()
        resumed = resume(out)
        assert _strip(resumed) == _strip(full)
        assert (out / "metrics.jsonl").read_text() == (tmp_path / "full" / "metrics.jsonl").read_text()
        sessions = [json.loads(line) for line in (out / "environment.jsonl").read_text().splitlines()]
        assert len(sessions) == 2 and sessions[1]["packages"]["torch"] == str(torch.__version__)
        assert sessions[0]["kernels"] == sessions[1]["kernels"] and "cores" in sessions[0]["cpu"]
    d = full["diagnostics"]
    for key in ("bt_loss_final", "score_gap_final", "bc_ess_mean", "cost_auroc_step", "cost_auroc_traj"):
        assert key in d
    assert d["cost_auroc_traj"] > 0.9  # the risky behaviour is easy to find in the tiny data
    if level == "trajectory":  # the policy draws D_U by trajectory weight: what it clones is scored
        assert 0 < d["clone_ess_share"] <= 1 and d["clone_true_cost"] < full["split"]["unlabeled_mean_cost"]
        assert d["clone_share_safe"] > full["split"]["unlabeled_frac_safe"]
    else:
        assert "clone_share_safe" not in d


def test_kill_minus_nine_then_resume_via_cli(tiny, tmp_path):
    out = tmp_path / "run"
    args = ["train", "safemil", "--task", TASK, "--dataset", str(tiny), "--seed", "1", "--out", str(out),
            *TINY_SAFEMIL, "policy_steps=600", "train.checkpoint_every=20"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    proc = subprocess.Popen([sys.executable, "-m", "safemil", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while not (out / "checkpoint.pt").exists() and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "eval.json").exists()
    with pytest.raises(SystemExit) as e:
        main(["train", "--resume", str(out), "--json"])
    assert e.value.code == 0
    ref = train(make_run_config("safemil", TASK, str(tiny), seed=1,  # the preset `safemil train` applies
                                overrides=[*TINY_SAFEMIL, "policy_steps=600"], preset="default"), tmp_path / "ref")
    got = json.loads((out / "eval.json").read_text())
    assert got["normalized_cost"] == ref["normalized_cost"]
    assert got["normalized_return"] == ref["normalized_return"]


def test_eval_reloads_the_saved_config_and_checkpoint(tiny, tmp_path, capsys):
    # a stochastic actor, so its sampled actions differ from its noise-free ones
    cfg = make_run_config("bc-u", TASK, str(tiny), seed=0, overrides=[*TINY_SPLIT, "steps=30", "bc.actor.kind=mixture"])
    m = train(cfg, tmp_path / "r")
    again = evaluate_run(tmp_path / "r")
    assert again["normalized_return"] == m["normalized_return"]
    assert again["episodes"] == cfg.eval.episodes
    with pytest.raises(SystemExit) as e:
        main(["eval", str(tmp_path / "r"), "--episodes", "1", "--json"])
    assert e.value.code == 0
    assert json.loads(capsys.readouterr().out)["episodes"] == 1
    sampled = evaluate_run(tmp_path / "r", deterministic=False)  # same episodes, actions drawn from the policy
    assert sampled["deterministic"] is False and again["deterministic"] is True
    assert sampled["episode_returns"] != again["episode_returns"]
    assert evaluate_run(tmp_path / "r", deterministic=True)["episode_returns"] == again["episode_returns"]
    with pytest.raises(SystemExit):
        main(["eval", str(tmp_path / "r"), "--sample", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert out["deterministic"] is False and out["normalized_return"] == sampled["normalized_return"]
    with pytest.raises(SystemExit) as e:  # --out keeps what eval printed, per-episode values included
        main(["eval", str(tmp_path / "r"), "--out", str(tmp_path / "again" / "eval.json")])
    assert e.value.code == 0
    saved = json.loads((tmp_path / "again" / "eval.json").read_text())
    assert saved["episode_returns"] == again["episode_returns"] and saved["run_dir"] == str(tmp_path / "r")


def test_version_and_short_help(capsys):
    import safemil

    for argv, expect in ((["--version"], f"safemil {safemil.__version__}"), (["-h"], "Usage: safemil"),
                         (["train", "-h"], "Usage: safemil train"), (["data", "info", "-h"], "safemil data info")):
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 0 and expect in capsys.readouterr().out, argv


def test_cost_diagnostics_score_d_u_only(tiny):
    import numpy as np
    import torch

    from safemil.costs.diagnostics import auroc, learned_cost_auroc
    from safemil.diagnostics import cost_diagnostics

    class FirstAction:  # a known cost: the first action coordinate (the risky swimmer pushes it to 0.9)
        def cost(self, obs, act):
            return torch.as_tensor(act)[:, 0].float()

    split = make_split(read_dsrl(tiny), from_dict(type(make_run_config("bc-u", TASK, str(tiny)).split),
                                                  {"n_negative": 6, "cost_limit": 5.0}))
    d = cost_diagnostics(FirstAction(), split)
    unl = split.labelled("unlabeled")
    assert d["cost_auroc_step"] == auroc(unl.learner.actions[:, 0], unl.costs > 0)
    # eval.json and the benchmark's learned_cost_auroc: one definition, the same rows
    same = learned_cost_auroc(lambda o, a: np.asarray(a)[:, 0], unl, split.config.cost_limit)
    assert (d["cost_auroc_step"], d["cost_auroc_traj"]) == (same["auroc_step"], same["auroc_traj"])
    neg = split.labelled("negative")
    pooled = auroc(np.r_[unl.learner.actions[:, 0], neg.learner.actions[:, 0]], np.r_[unl.costs, neg.costs] > 0)
    assert d["cost_auroc_step_with_dn"] == pytest.approx(pooled)
    assert d["cost_auroc_step_ceiling_traj"] == 1.0  # tiny data: every step of a risky trajectory is costly
    assert 0.5 < d["cost_auroc_step"] < 1.0  # random safe swimmers sometimes push the same way


def test_only_oracles_receive_labels(tiny):
    split = make_split(read_dsrl(tiny), from_dict(type(make_run_config("bc-u", TASK, str(tiny)).split),
                                                  {"n_negative": 6, "cost_limit": 5.0}))
    for spec in list_algos():
        data = build_data(spec, split, TASK)
        assert isinstance(data, OracleData) == spec.oracle
        if not spec.oracle:
            names = {f.name for f in dataclasses.fields(data)}
            names |= {f.name for f in dataclasses.fields(data.unlabeled)}
            assert not names & {"rewards", "costs", "labelled_unlabeled"}
    assert [s.name for s in list_algos() if s.oracle] == ["bc-safe"]
    learner_only = build_data(get_algo("bc-u"), split, TASK)
    with pytest.raises(ConfigError, match="oracle"):
        get_algo("bc-safe").factory(get_algo("bc-safe").config_cls(), learner_only, 0)
    assert isinstance(learner_only, LearnerData)


@pytest.mark.parametrize("name", [s.name for s in list_algos()])
def test_algo_and_run_configs_round_trip_yaml(name, tmp_path, tiny):
    spec = get_algo(name)
    cfg = spec.config_cls()
    save_yaml(to_dict(cfg), tmp_path / "c.yaml")
    assert from_dict(spec.config_cls, load_yaml(tmp_path / "c.yaml")) == cfg
    run = make_run_config(name, TASK, str(tiny), seed=2, overrides=["split.n_negative=6", "eval.episodes=3"])
    save_yaml(to_dict(run), tmp_path / "r.yaml")
    assert from_dict(RunConfig, load_yaml(tmp_path / "r.yaml")) == run


def test_bc_safe_trains_only_on_truly_safe_trajectories(tiny, tmp_path):
    m = train(make_run_config("bc-safe", TASK, str(tiny), overrides=[*TINY_SPLIT, "steps=10"]), tmp_path / "s")
    # tiny data: 24 safe (cost 0) + 10 risky (cost 30) trajectories in D_U; limit 5 keeps the 24
    assert m["diagnostics"]["bc_trajectories"] == 24


def _one_line_error(capsys, argv) -> str:
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err
    return err


def test_bad_inputs_give_one_line_errors(tiny, tmp_path, capsys):
    base = ["--task", TASK, "--dataset", str(tiny), "--out", str(tmp_path / "x")]
    assert "unknown algorithm 'nope'" in _one_line_error(capsys, ["train", "nope", *base])
    assert "bag_sizes" in _one_line_error(capsys, ["train", "safemil", *base, "mil.bag_sizes=3"])
    assert "integer" in _one_line_error(capsys, ["train", "safemil", *base, "mil.bag_size=many"])
    assert "not of the form" in _one_line_error(capsys, ["train", "safemil", *base, "beta"])
    assert "not found" in _one_line_error(
        capsys, ["train", "bc-u", "--task", TASK, "--dataset", str(tmp_path / "missing.hdf5")])
    assert "unknown task" in _one_line_error(capsys, ["train", "bc-u", "--task", "Moon", "--dataset", str(tiny)])
    assert "run directory not found" in _one_line_error(capsys, ["train", "--resume", str(tmp_path / "none")])
    assert "run directory not found" in _one_line_error(capsys, ["eval", str(tmp_path / "none")])
    assert "D_N needs" in _one_line_error(capsys, ["train", "bc-u", *base])  # default split: no cost >= 75
    assert not (tmp_path / "x").exists()


def test_quickstart_pipeline_on_tiny_data_reuses_finished_runs(tiny, tmp_path):
    from safemil.quickstart import plot_quickstart, run_quickstart

    extra = {"bc-u": [*TINY_SPLIT, "steps=20"], "bc-safe": [*TINY_SPLIT, "steps=20"],
             "safemil": [*TINY_SAFEMIL, "mil.steps=20", "policy_steps=20"]}
    rows = run_quickstart(tmp_path, episodes=2, dataset=str(tiny), progress=False, extra=extra, task=TASK)
    assert [r["algo"] for r in rows] == ["bc-u", "bc-safe", "safemil"]
    assert all(r["episodes"] == 2 for r in rows)
    # each run is a cell of the default grid: the preset `default`, then the quickstart's overrides
    for algo in ("bc-u", "bc-safe", "safemil"):
        assert load_run_config(tmp_path / f"{TASK}-{algo}-seed0")[1].preset == "default"
    stamp = (tmp_path / f"{TASK}-safemil-seed0" / "eval.json").stat().st_mtime_ns
    assert run_quickstart(tmp_path, episodes=2, dataset=str(tiny), progress=False, extra=extra, task=TASK) == rows
    assert (tmp_path / f"{TASK}-safemil-seed0" / "eval.json").stat().st_mtime_ns == stamp
    # other settings (e.g. new defaults after an upgrade): the old run is moved aside, never deleted
    changed = {**extra, "bc-u": [*TINY_SPLIT, "steps=21"]}
    again = run_quickstart(tmp_path, episodes=2, dataset=str(tiny), progress=False, extra=changed, task=TASK)
    assert again[0]["train_steps"] == 21 and (tmp_path / f"{TASK}-bc-u-seed0.old1" / "eval.json").exists()
    assert (tmp_path / f"{TASK}-safemil-seed0" / "eval.json").stat().st_mtime_ns == stamp
    png = plot_quickstart(rows, tmp_path / "q.png")
    assert png.stat().st_size > 1000


def test_sampled_eval_is_reproduced_by_safemil_eval(tiny, tmp_path):
    """eval.json's sampled numbers come back from `safemil eval` (the learner's own RNG seed differs)."""
    cfg = make_run_config("safemil", TASK, str(tiny), seed=2,
                          overrides=[*TINY_SAFEMIL, "policy_steps=40", "eval.deterministic=false",
                                     "bc.actor.kind=mixture"])
    m = train(cfg, tmp_path / "r")
    again = evaluate_run(tmp_path / "r")
    assert again["deterministic"] is False
    assert again["episode_returns"] == m["episode_returns"] and again["episode_costs"] == m["episode_costs"]


def test_the_runner_applies_the_presets_per_task_entry(tiny):
    """`safemil train` resolves a run through `make_run_config`, which must pass the task to the preset:
    on SwimmerVelocity the default preset clones a mixture and samples its actions; with no preset it does not."""
    cfg = make_run_config("bc-safe", TASK, str(tiny), preset="default")
    assert (cfg.config["bc"]["actor"]["kind"], cfg.eval.deterministic) == ("mixture", False)
    plain = make_run_config("bc-safe", TASK, str(tiny), preset="none")
    assert (plain.config["bc"]["actor"]["kind"], plain.eval.deterministic) == ("deterministic", True)
