"""KnowledgeCost as a cost source: files, the CostModel protocol, the data check, the CLI, shipped rules."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
import torch

from safemil.cli import main
from safemil.costs.base import CostModel
from safemil.costs.knowledge import (
    DEFAULTS,
    CostFileError,
    KnowledgeCost,
    check_cost,
    default_rule,
    ground,
)
from safemil.data import Dataset, write_dsrl
from safemil.eval import rollout
from safemil.tasks import get_task, list_tasks

TASK = "HalfCheetahVelocity"
VX = 8


def tiny_dataset(v_next: list[float], costs: list[float], task: str = TASK) -> Dataset:
    spec = get_task(task)
    n = len(v_next)
    obs = np.zeros((n, spec.obs_dim), np.float32)
    nxt = obs.copy()
    nxt[:, spec.field("x_velocity").index] = v_next
    ends = np.zeros(n, bool)
    ends[-1] = True
    return Dataset(obs, nxt, np.zeros((n, spec.act_dim), np.float32), np.zeros(n, np.float32),
                   np.asarray(costs, np.float32), np.zeros(n, bool), ends, task=spec.name)


def test_is_a_cost_model_and_round_trips_through_state_dict_and_file(tmp_path):
    cost = KnowledgeCost(TASK, "obs[8] > 3.2096", margin=0.05, provenance={"backend": "static"})
    assert isinstance(cost, CostModel)
    x = torch.randn(50, 17) * 3
    path = cost.save(tmp_path / "sub" / "cost.json", check={"flagged_fraction": 0.5})
    loaded = KnowledgeCost.load(path)
    assert torch.equal(loaded.cost(x, None), cost.cost(x, None))
    assert loaded.config == cost.config and loaded.provenance == {"backend": "static"}
    assert json.loads(path.read_text())["check"] == {"flagged_fraction": 0.5}
    assert torch.equal(cost.transition_cost(x, x), cost(x))
    np.testing.assert_array_equal(cost.transition_cost(x.numpy(), -x.numpy()), cost(np.zeros((50, 17), np.float32)))
    clone = pickle.loads(pickle.dumps(cost))  # worker processes get a working copy
    assert torch.equal(clone(x), cost(x)) and clone.provenance == cost.provenance
    other = KnowledgeCost(TASK, "x_velocity < 0")
    other.load_state_dict(cost.state_dict())
    assert torch.equal(other(x), cost(x)) and other.config.margin == 0.05


@pytest.mark.parametrize(
    "content, msg",
    [
        (None, "cost file not found"),
        ("{torn", "cannot read cost file"),
        ('{"format": "other"}', "not a safemil knowledge-cost file"),
        ('{"format": "safemil-knowledge-cost", "version": 99, "task": "x", "expression": "y"}', "unsupported version 99"),
        ('{"format": "safemil-knowledge-cost", "version": 1, "task": "HalfCheetahVelocity"}', "missing expression"),
        ('{"format": "safemil-knowledge-cost", "version": 1, "task": "HalfCheetahVelocity", "expression": "x_velocity > 1", "margin": "big"}', "'margin' must be a number"),
    ],
)
def test_bad_cost_files_are_refused_clearly(tmp_path, content, msg):
    p = tmp_path / "c.json"
    if content is not None:
        p.write_text(content)
    with pytest.raises(CostFileError, match=msg):
        KnowledgeCost.load(p)


def test_check_reports_flagged_share_precision_and_recall():
    #            v_next: 4 above 3.2096, labels: 3 of them + 1 false negative
    ds = tiny_dataset([1.0, 3.3, 3.4, 3.5, 3.6, 3.1, 0.0, 2.0], [0, 1, 1, 1, 0, 1, 0, 0])
    rep = check_cost(KnowledgeCost(TASK, "x_velocity > 3.2096"), ds)
    assert (rep.n_states, rep.flagged, rep.n_violations) == (8, 4, 4)
    assert rep.flagged_fraction == 0.5 and rep.precision == 0.75 and rep.recall == 0.75
    assert rep.agreement == 0.75 and rep.warnings == []
    # on the label-free view there is nothing to compare with
    view_rep = check_cost(KnowledgeCost(TASK, "x_velocity > 3.2096"), ds.learner_view())
    assert view_rep.n_violations is None and view_rep.precision is None and view_rep.flagged == 4
    # the start-of-step states are all zero here
    assert check_cost(KnowledgeCost(TASK, "x_velocity > 3.2096"), ds, states="observations").flagged == 0


def test_check_warns_when_the_rule_flags_nothing_or_everything():
    ds = tiny_dataset([1.0, 2.0, 3.0, 3.3], [0, 0, 0, 1])
    none = check_cost(KnowledgeCost(TASK, "x_velocity > 30"), ds)
    assert none.flagged == 0 and "flags no state" in none.warnings[0] and none.precision is None
    every = check_cost(KnowledgeCost(TASK, "x_velocity > -30"), ds)
    assert "nearly every state" in every.warnings[0] and every.recall == 1.0
    with pytest.raises(Exception, match=r"needs \(N, 11\)"):
        check_cost(KnowledgeCost("HopperVelocity", "x_velocity > 1"), ds)


def test_shipped_rules_exist_parse_and_restate_each_tasks_cost_rule():
    assert set(DEFAULTS) == {t.name for t in list_tasks("all")}  # navigation rules: test_knowledge_nav.py
    rng = np.random.default_rng(0)
    for spec in list_tasks():
        d = default_rule(spec.name)
        cost = ground(spec.name, d.expression, "static").cost
        assert set(cost.fields) == set(spec.velocity_fields) and d.rule
        obs = rng.normal(0, spec.cost_threshold, size=(500, spec.obs_dim))
        v = obs[:, [spec.field(f).index for f in spec.velocity_fields]]
        speed = np.linalg.norm(v, axis=1) if spec.planar_speed else v[:, 0]
        np.testing.assert_array_equal(cost(obs), (speed > spec.cost_threshold).astype(float))


class Gait:
    """Open-loop periodic actions: crosses the Swimmer's threshold in both directions."""

    def __init__(self, act_dim: int, period: float = 30.0):
        self.phase, self.period, self.t = np.linspace(0, np.pi, act_dim), period, 0

    def act(self, obs, deterministic=True):
        self.t += 1
        return np.sin(2 * np.pi * self.t / self.period + self.phase)[None].repeat(len(obs), 0).astype(np.float32)


def test_shipped_rule_agrees_with_the_true_cost_on_a_real_rollout():
    ds = rollout(Gait(2), "SwimmerVelocity", episodes=1, num_envs=1, max_steps=400, progress=False, record=True).dataset
    rep = check_cost(KnowledgeCost("SwimmerVelocity", default_rule("SwimmerVelocity").expression), ds)
    assert 0.05 < ds.costs.mean() < 0.95  # both classes present: the figure means something
    assert rep.agreement >= 0.9, rep.lines()


def run_cli(args, capsys):
    with pytest.raises(SystemExit) as e:
        main(args)
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


def test_cli_static_ground_checks_and_saves(tmp_path, capsys):
    data = tmp_path / "d.hdf5"
    write_dsrl(tiny_dataset([1.0, 3.3, 3.4, 3.0], [0, 1, 1, 1]), data)
    out = tmp_path / "c.json"
    code, text, _ = run_cli(["cost", "ground", "--task", TASK, "--rule", "obs[8] > 3.2096", "--margin", "0.1",
                             "--dataset", str(data), "--out", str(out)], capsys)
    assert code == 0
    assert "expression: obs[8] > 3.2096" in text and "understood as: x_velocity > 3.2096" in text
    assert "flagged unsafe: 3 (75.00%)" in text and "precision 1.0000, recall 1.0000" in text
    saved = json.loads(out.read_text())
    assert saved["margin"] == 0.1 and saved["check"]["flagged"] == 3
    code, text, _ = run_cli(["cost", "check", str(out), "--dataset", str(data), "--json"], capsys)
    assert code == 0 and json.loads(text)["check"]["recall"] == 1.0


def test_cli_default_rule_and_rejection(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SAFEMIL_DATA_DIR", str(tmp_path / "none"))
    monkeypatch.setenv("DSRL_DATASET_DIR", str(tmp_path / "none"))
    code, text, _ = run_cli(["cost", "ground", "--task", "AntVelocity", "--out", str(tmp_path / "a.json")], capsys)
    assert code == 0 and "norm(x_velocity, y_velocity) > 2.6222" in text and "no dataset found" in text
    code, text, err = run_cli(["cost", "ground", "--task", TASK, "--rule", "__import__('os').system('id')",
                               "--out", str(tmp_path / "b.json")], capsys)
    assert code == 2 and err.startswith("error: attribute access is not allowed") and err.count("\n") == 1
    assert not (tmp_path / "b.json").exists()
    code, _, err = run_cli(["cost", "ground", "--task", TASK, "--backend", "magic"], capsys)
    assert code == 2 and "unknown backend 'magic'" in err


def _agreement_bench():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "knowledge_agreement.py"
    spec = importlib.util.spec_from_file_location("knowledge_agreement", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("task", [t.name for t in list_tasks()])
def test_residual_disagreement_is_the_step_average_gap(task):
    """On crossing data, the shipped rule mostly agrees; the mid-step velocity agrees almost always."""
    bench = _agreement_bench()
    spec = get_task(task)
    ds, v_step = bench.standin(spec, episodes=30, steps=50, seed=1)
    viol = ds.costs > 0
    assert 0.02 < viol.mean() < 0.98
    np.testing.assert_array_equal(viol, v_step > spec.cost_threshold)  # the label is the step-average speed
    rep = check_cost(KnowledgeCost(task, default_rule(task).expression), ds)
    assert rep.agreement >= 0.9, rep.lines()
    v_mid = bench.obs_speed(spec, 0.5 * (ds.observations + ds.next_observations))
    assert ((v_mid > spec.cost_threshold) == viol).mean() >= max(0.98, rep.agreement)
    mid = check_cost(KnowledgeCost(task, default_rule(task).expression), ds, states="midpoint")
    assert mid.agreement == pytest.approx(((v_mid > spec.cost_threshold) == viol).mean(), abs=1e-3)
