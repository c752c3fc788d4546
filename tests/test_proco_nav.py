"""PROCO on the navigation tasks: the proco-nav preset and grid, and a tiny run on generated nav episodes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from safemil.cli import main
from safemil.presets import get_preset
from tests.conftest import synthetic_dataset
from tests.test_proco_algos import TINY

torch.set_num_threads(1)

NAV = ("PointGoal1", "PointButton1", "PointCircle2")


def test_proco_nav_grid_is_the_nav_tasks_times_the_proco_algos_on_its_preset():
    from safemil.bench.grid import PROCO_ALGOS, named_grid

    g = named_grid("proco-nav")
    assert (tuple(g.tasks), tuple(g.algos), g.seeds, g.preset) == (NAV, PROCO_ALGOS, [0, 1, 2, 3, 4], "proco-nav")
    assert len(g.runs("unused")) == 60
    get_preset("proco-nav")


@pytest.mark.parametrize("task", NAV)
def test_proco_nav_preset_resolves_for_nav_tasks_as_the_grid_runs_it(task, tmp_path):
    """Each cell of the grid is `safemil train ALGO --task T --preset proco-nav`, and also plain `safemil train
    ALGO --task T` (the default preset) but for bc-safe, whose default is the SafeMIL grid's; the settings are
    the nav ones, not the velocity tasks' (knowledge margin 0.1 would flag a third of the safe states)."""
    from safemil.bench.grid import named_grid
    from safemil.config import to_dict
    from safemil.data import write_dsrl
    from safemil.runner import algo_config, make_run_config

    data = str(write_dsrl(synthetic_dataset(n_traj=4), tmp_path / "stand-in.hdf5"))

    def resolved(cfg):
        d = to_dict(cfg)
        d["train"].pop("progress")  # the grid turns its runs' bars off
        d.pop("preset")
        return d

    for r in named_grid("proco-nav").narrow(tasks=[task], seeds=[2]).runs("unused"):
        cell = make_run_config(r.algo, r.task, data, r.seed, list(r.overrides), preset=r.preset)
        for preset in ("proco-nav", "proco") if r.algo == "bc-safe" else ("proco-nav", "proco", "default"):
            assert resolved(make_run_config(r.algo, r.task, data, r.seed, preset=preset)) == resolved(cell), preset
        assert cell.data.mode == "safe-only" and cell.eval.episodes == 40 and cell.eval.num_envs == 8
        c = algo_config(cell)
        if r.algo.endswith("+proco"):
            assert c.layer.knowledge.margin == 0.01 and not c.layer.rollout.sample
        if r.algo == "bcq-lag+proco":
            assert c.layer_costs and c.layer.shield.horizon == 0 and c.base.steps == 6000
        if r.algo == "bc-safe+proco":
            assert c.steps == 3000 and c.layer.shield.horizon == 0 and c.layer.feasibility_steps == 1600
        if r.algo.startswith("bc-safe"):  # the nav grid's BC actor: lidar encoder at lr 1e-3
            assert c.bc.actor.kind == "deterministic" and c.bc.lr == 1e-3
            assert tuple(c.bc.actor.lidar_encoder) == (32, 8)


@pytest.fixture(scope="module")
def nav_data(tmp_path_factory) -> Path:
    """16 scripted PointGoal1 episodes of 40 steps (the nav controller, careful and fast)."""
    from safemil.collect.episodes import assemble
    from safemil.collect.nav_generate import collect_nav_episodes, nav_default_config
    from safemil.data import write_dsrl
    from safemil.tasks import get_task

    cfg = nav_default_config("PointGoal1", episodes=16, oversample=1.0, num_envs=8, max_steps=40, risk_low=0.1,
                             risk_high=0.2)
    ds = assemble(collect_nav_episodes(get_task("PointGoal1"), cfg, progress=False), "PointGoal1")
    assert (ds.trajectory_costs() == 0).sum() >= 4
    return write_dsrl(ds, tmp_path_factory.mktemp("nav") / "goal-tiny.hdf5")


RUN = ["eval.episodes=1", "eval.num_envs=1", "train.progress=false", "train.log_every=10",
       "train.checkpoint_every=20", "data.min_trajectories=4"]


@pytest.mark.parametrize("algo", ["bc-safe+proco", "bcq-lag+proco"])
def test_tiny_proco_run_on_nav_data(algo, nav_data, tmp_path, capsys):
    """The proco-nav preset with a tiny budget trains and evaluates on PointGoal1 safe-only data."""
    tiny = [o for o in TINY[algo] if "knowledge.margin" not in o]  # keep the preset's nav margin
    with pytest.raises(SystemExit) as e:
        main(["train", algo, "--task", "PointGoal1", "--dataset", str(nav_data), "--data", "safe-only", "--json",
              "--preset", "proco-nav", "--out", str(tmp_path / "run"), *RUN, *tiny])
    assert e.value.code == 0
    m = json.loads(capsys.readouterr().out)
    assert m["split"]["rule"] == "safe-only" and m["split"]["max_cost"] == 0
    p = m["diagnostics"]["proco"]
    assert p["knowledge_margin"] == 0.01 and "hazards_lidar_0" in p["knowledge_expression"]
    assert np.isfinite(m["normalized_return"]) and m["mean_length"] == 1000
    assert p["synthetic_transitions"] > 0 and "shield" not in m["diagnostics"]  # no filter in the nav preset
    if algo == "bcq-lag+proco":  # the base's cost critics train on PROCO's costly rows
        assert m["diagnostics"]["critic_unsafe_rows"] >= p["synthetic_unsafe"]


def test_bc_safe_proco_refuses_when_every_row_is_flagged(nav_data, tmp_path, capsys, monkeypatch):
    """A feasibility critic that marks every state infeasible leaves BC nothing: one line, not a no-op policy."""
    from safemil.proco.layer import ProcoLayer

    def everything_infeasible(self, batch=8192):
        n = len(self.obs)
        return {"v": np.ones(n, np.float32), "q": np.ones(n, np.float32), "v_next": np.ones(n, np.float32)}

    monkeypatch.setattr(ProcoLayer, "row_feasibility", everything_infeasible)
    tiny = [o for o in TINY["bc-safe+proco"] if "knowledge.margin" not in o]
    with pytest.raises(SystemExit) as e:
        main(["train", "bc-safe+proco", "--task", "PointGoal1", "--dataset", str(nav_data), "--data", "safe-only",
              "--preset", "proco-nav", "--out", str(tmp_path / "run"), *RUN, *tiny])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "flags all" in err[-1] and "100.0% of real states infeasible" in err[-1]
