"""PROCO pipeline on a tiny swimmer dataset: safe-only views, rollout cut, every algorithm trains, resume, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from safemil.algos import get_algo
from safemil.algos.offline import OfflineData
from safemil.cli import main
from safemil.costs.knowledge import KnowledgeCost
from safemil.data import read_dsrl
from safemil.data.safe_only import DataConfig, select_offline
from safemil.errors import ConfigError, DatasetError
from safemil.models import DynamicsEnsemble, EnsembleConfig, Transitions
from safemil.policies import TorchPolicy, actor_from_state
from safemil.proco.knowledge import KnowledgeSettings, make_knowledge_cost
from safemil.proco.rollouts import RolloutConfig, counterfactual_rollouts, real_disagreement
from safemil.runner import build_data, make_run_config, resume, train
from tests.tiny_swimmer import TASK, make_tiny_dataset

torch.set_num_threads(1)

LAYER = ["layer.model_steps=20", "layer.validate_every=10", "layer.ensemble.members=3", "layer.ensemble.elites=2",
         "layer.ensemble.hidden=[32,32]", "layer.rollout.n_starts=64", "layer.rollout.horizon=3",
         "layer.feasibility_steps=20", "layer.feasibility.hidden=[32,32]", "layer.feasibility.batch_size=64",
         "layer.knowledge.margin=0.5"]
BC = ["bc.batch_size=64", "bc.actor.hidden=[32,32]"]
BCQ = ["steps=20", "batch_size=64", "hidden=[32,32]"]
TINY = {
    "proco": LAYER + BC + ["policy_steps=20", "reward.hidden=[32,32]", "reward.batch_size=64"],
    # a critic that learns something in 20 steps: bc-safe+proco refuses one that flags every BC row
    "bc-safe+proco": LAYER + BC + ["steps=20", "layer.knowledge.margin=0.0", "layer.h_unsafe=1",
                                   "layer.feasibility.lr=1e-2", "layer.feasibility.gamma=0.5"],
    "bcq-lag": BCQ,
    "bcq-lag+proco": LAYER + ["base." + o for o in BCQ],
}
RUN = ["split.cost_limit=5", "eval.episodes=1", "eval.num_envs=1", "train.progress=false", "train.log_every=10",
       "train.checkpoint_every=20"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return make_tiny_dataset(tmp_path_factory.mktemp("data") / "tiny.hdf5")


def test_safe_only_views(tiny, capsys):
    ds = read_dsrl(tiny, task=TASK)  # 24 zero-cost trajectories, 16 with cost 30
    sel = select_offline(ds, DataConfig(mode="safe-only"), cost_limit=5)
    assert sel.summary()["n_trajectories"] == 24 and sel.summary()["max_cost"] == 0 and sel.fallback is None
    fb = select_offline(ds, DataConfig(mode="safe-only", min_trajectories=30), cost_limit=5)
    assert fb.summary()["n_trajectories"] == 30 and "only 24 of 40" in fb.fallback
    assert "lowest-cost" in capsys.readouterr().err
    risky = select_offline(ds, DataConfig(mode="minimally-risky", n_risky=3, risky_max_cost=30), cost_limit=5)
    s = risky.summary()
    assert (s["n_trajectories"], s["n_zero_cost"], s["max_cost"]) == (27, 24, 30)
    with pytest.raises(DatasetError, match="minimally-risky needs 3 trajectories with 0 < cost <= 5"):
        select_offline(ds, DataConfig(mode="minimally-risky", n_risky=3), cost_limit=5)
    with pytest.raises(ConfigError, match="unknown data mode"):
        DataConfig(mode="safe")


def _trained_model(ds, members: int, elites: int, steps: int, validate: bool = True) -> DynamicsEnsemble:
    """A small ensemble fitted ``steps`` updates on ``ds`` (then ranked on its held-out part)."""
    model = DynamicsEnsemble(Transitions(ds.observations, ds.actions, ds.next_observations, ds.rewards),
                             EnsembleConfig(members=members, elites=elites, hidden=(32,)), seed=0)
    for _ in range(steps):
        model.train_step()
    if validate:
        model.validate()
    return model


def test_rollouts_respect_the_disagreement_cut(tiny):
    ds = read_dsrl(tiny, task=TASK)
    model = _trained_model(ds, members=3, elites=3, steps=30)
    cost = make_knowledge_cost(TASK, KnowledgeSettings(rule="x_velocity > 0.05"))
    cut = float(np.median(real_disagreement(model, ds.observations, ds.actions)))
    cfg = RolloutConfig(n_starts=200, horizon=5, noise=0.5)
    lo = ds.actions.min(0) * 0 - 1
    syn, rep = counterfactual_rollouts(model, cost.transition_cost, ds.observations, ds.actions, lo, -lo, cfg, cut)
    assert len(syn) > 0 and rep["rollouts_cut"] > 0
    assert syn.disagreement.max() <= cut  # nothing above the cut is kept
    assert rep["disagreement_cut_q"]["p10"] > cut  # and what was cut was above it
    assert rep["synthetic_transitions"] + rep["rollouts_cut"] <= 200 * 5
    # a rollout stops at a cut or a violation: each step has at most as many rows as the one before
    counts = np.bincount(syn.step, minlength=5)
    assert np.all(np.diff(counts) <= 0)
    assert rep["synthetic_unsafe"] == int((syn.costs > 0).sum())
    _, rep_all = counterfactual_rollouts(model, cost.transition_cost, ds.observations, ds.actions, lo, -lo, cfg,
                                         cut=float("inf"))
    assert rep_all["rollouts_cut"] == 0
    soft = KnowledgeCost(TASK, "x_velocity > 0.05", softness=0.5)  # steering: every rollout, same cut
    syn_s, rep_s = counterfactual_rollouts(model, cost.transition_cost, ds.observations, ds.actions, lo, -lo,
                                           RolloutConfig(n_starts=200, horizon=5, noise=0.5, steer_frac=1.0), cut,
                                           score=soft.transition_cost)
    assert rep_s["rollouts_steered"] == 200 and syn_s.disagreement.max() <= cut


def test_policy_rollouts_take_the_policy_action(tiny):
    ds = read_dsrl(tiny, task=TASK)
    model = _trained_model(ds, members=3, elites=3, steps=1, validate=False)
    cost = make_knowledge_cost(TASK, KnowledgeSettings(rule="x_velocity > 0.05"))
    lo, hi = -np.ones(2), np.ones(2)
    target = torch.tensor([0.7, -1.5])  # the second entry is outside the action box
    seen: list[int] = []

    def policy(s: torch.Tensor) -> torch.Tensor:
        seen.append(len(s))
        return target.expand(len(s), 2)

    cfg = RolloutConfig(n_starts=50, horizon=4, noise=0.0, uniform_prob=1.0)  # no uniform actions under a policy
    syn, rep = counterfactual_rollouts(model, cost.transition_cost, ds.observations, ds.actions, lo, hi, cfg,
                                       cut=float("inf"), policy=policy)
    assert len(syn) > 0 and seen and seen[0] == 50
    np.testing.assert_allclose(syn.actions, np.tile([0.7, -1.0], (len(syn), 1)))  # the policy's, clipped
    noisy, _ = counterfactual_rollouts(model, cost.transition_cost, ds.observations, ds.actions, lo, hi,
                                       RolloutConfig(n_starts=50, horizon=4, noise=0.1), cut=float("inf"),
                                       policy=policy)
    first = noisy.actions[noisy.step == 0]
    assert 0.02 < np.abs(first[:, 0] - 0.7).mean() < 0.2  # N(0, 0.1 x half-range) around it


@pytest.mark.parametrize("name", list(TINY))
def test_every_algorithm_trains_a_few_steps(tiny, name):
    spec = get_algo(name)
    cfg = make_run_config(name, TASK, str(tiny), overrides=RUN + TINY[name])
    assert cfg.data.mode == "safe-only"
    from safemil.runner import _load_split, algo_config

    data = build_data(spec, _load_split(cfg), TASK)
    assert isinstance(data, OfflineData) and data.offline is not None
    algo = spec.factory(algo_config(cfg), data, 0)
    logs = [algo.train_step(i) for i in range(algo.total_steps)]
    assert all(np.isfinite(v) for m in logs for v in m.values())
    obs = data.unlabeled.observations[:5]
    a = algo.policy().act(obs)
    assert a.shape == (5, 2) and np.all(np.abs(a) <= 1)
    again = TorchPolicy(actor_from_state(algo.policy_state())).act(obs)  # what `safemil eval RUN_DIR` rebuilds
    np.testing.assert_allclose(a, again, atol=1e-6)
    summary = algo.summary()
    if "proco" in name:
        p = summary["proco"]
        assert 0 <= p["real_infeasible_frac"] <= 1 and p["synthetic_transitions"] > 0
        assert p["rollout_starts"] == 64
    if name.startswith("bcq-lag"):  # the constraint's story is in eval.json
        assert {"lambda_final", "lambda_peak", "qc_pi_final", "q_limit", "critic_scale_reached"} <= set(summary)
    if name == "bcq-lag+proco":  # every costly row, real (knowledge / infeasible next state) or synthetic, is in the pool
        real_costly = int((algo.learner.real["costs"] > 0).sum())
        assert summary["critic_unsafe_rows"] == real_costly + summary["proco"]["synthetic_unsafe"]
        algo.load_base_state(algo.learner.state_dict())  # a checkpoint written before policy_rollouts existed
        assert algo.policy_rows == [] and algo.policy_report["refreshes"] == 0


def test_offline_algorithms_refuse_the_safemil_split(tiny):
    cfg = make_run_config("proco", TASK, str(tiny), overrides=RUN + ["data.mode=split", "split.n_negative=6"])
    from safemil.runner import _load_split

    for name in TINY:
        data = build_data(get_algo(name), _load_split(cfg), TASK)
        assert not isinstance(data, OfflineData)  # the split's label gate holds
        with pytest.raises(ConfigError, match="--data safe-only"):
            get_algo(name).factory(get_algo(name).config_cls(), data, 0)


def test_bcq_lag_proco_resumes_to_the_same_numbers(tiny, tmp_path):
    ov = RUN + TINY["bcq-lag+proco"]
    cfg = make_run_config("bcq-lag+proco", TASK, str(tiny), overrides=ov)
    full = train(cfg, tmp_path / "a")
    assert train(cfg, tmp_path / "b", stop_at=30) is None  # killed inside the feasibility phase
    again = resume(tmp_path / "b")
    keep = ("return_mean", "cost_mean", "normalized_cost_mean")
    assert {k: full[k] for k in keep if k in full} == {k: again[k] for k in keep if k in again}
    assert full["diagnostics"]["proco"]["synthetic_transitions"] > 0
    assert full["split"]["rule"] == "safe-only"


def test_policy_rollout_rows_survive_a_kill_in_the_base_phase(tiny, tmp_path):
    ov = RUN + TINY["bcq-lag+proco"] + ["policy_rollouts.every=4", "policy_rollouts.starts=64",
                                        "policy_rollouts.horizon=3", "policy_rollouts.noise=0.5",
                                        "train.log_every=7", "train.checkpoint_every=7"]
    cfg = make_run_config("bcq-lag+proco", TASK, str(tiny), overrides=ov)
    full = train(cfg, tmp_path / "a")
    rep = full["diagnostics"]["policy_rollouts"]
    assert rep["refreshes"] == 4 and rep["transitions"] > 0  # base steps 4, 8, 12, 16 of 20
    assert train(cfg, tmp_path / "b", stop_at=55) is None  # last checkpoint at step 49: base step 9, two refreshes
    again = resume(tmp_path / "b")
    keep = ("return_mean", "cost_mean", "normalized_cost_mean")
    assert {k: full[k] for k in keep if k in full} == {k: again[k] for k in keep if k in again}
    assert again["diagnostics"]["policy_rollouts"] == rep
    assert again["diagnostics"]["critic_unsafe_rows"] == full["diagnostics"]["critic_unsafe_rows"]


def _cli(args: list[str]) -> int:
    try:
        main(args)
    except SystemExit as e:
        return int(e.code or 0)
    return 0


def test_cli_rule_and_cost_file(tiny, tmp_path, capsys):
    base = ["train", "proco", "--task", TASK, "--dataset", str(tiny), "--json", *RUN, *TINY["proco"]]
    assert _cli([*base, "--rule", "x_velocity > 0.1", "--out", str(tmp_path / "r")]) == 0
    m = json.loads(capsys.readouterr().out)
    assert m["diagnostics"]["proco"]["knowledge_expression"] == "x_velocity > 0.1"
    make_knowledge_cost(TASK, KnowledgeSettings(rule="x_velocity > 0.2")).save(tmp_path / "c.json")
    cfg_ov = [o for o in base if not o.startswith("layer.knowledge.margin")]
    assert _cli([*cfg_ov, "--cost-file", str(tmp_path / "c.json"), "--out", str(tmp_path / "f")]) == 0
    assert json.loads(capsys.readouterr().out)["diagnostics"]["proco"]["knowledge_expression"] == "x_velocity > 0.2"
    assert _cli(["train", "bc-u", "--task", TASK, "--dataset", str(tiny), "--rule", "x_velocity > 1"]) == 2
    assert "PROCO algorithms" in capsys.readouterr().err


def test_base_sees_only_the_costly_synthetic_rows_by_default(tiny):
    from safemil.config import apply_overrides
    from safemil.proco.layer import ProcoLayer, ProcoLayerConfig

    sel = select_offline(read_dsrl(tiny, task=TASK), DataConfig(mode="safe-only"), cost_limit=5)
    cfg = apply_overrides(ProcoLayerConfig(), [o.removeprefix("layer.") for o in LAYER])
    layer = ProcoLayer(sel.view, TASK, -np.ones(2), np.ones(2), cfg, seed=0)
    for step in range(layer.total_steps):
        layer.step(step)
    syn, n_real = layer.synthetic, len(sel.view.learner)
    assert 0 < int((syn.costs > 0).sum()) < len(syn)  # both kinds exist, so the filter is tested
    aug = layer.augmented()
    assert aug["synthetic"].sum() == int((syn.costs > 0).sum())
    assert np.all(aug["costs"][n_real:] > 0)
    assert not aug["terminals"][n_real:].any()  # a critic bootstraps past a counterfactual violation...
    layer.config.violation_terminal = True
    assert np.all(layer.augmented()["terminals"][n_real:] == 1)  # ...unless it is told not to
    layer.config.base_synthetic = "all"
    aug = layer.augmented()
    assert aug["synthetic"].sum() == len(syn)
    np.testing.assert_array_equal(aug["terminals"][n_real:], syn.costs > 0)  # only the violations end
    with pytest.raises(ConfigError, match="base_synthetic"):
        ProcoLayerConfig(base_synthetic="safe")


def test_rollouts_without_sampling_follow_the_elite_mean(tiny):
    """``rollout.sample=false``: each model step is the (one) elite's predicted mean, no Gaussian draw."""
    ds = read_dsrl(tiny, task=TASK)
    model = _trained_model(ds, members=2, elites=1, steps=10)
    cost = make_knowledge_cost(TASK, KnowledgeSettings(rule="x_velocity > 100"))
    lo, hi = -np.ones(2), np.ones(2)
    for sample in (False, True):
        cfg = RolloutConfig(n_starts=40, horizon=3, noise=0.2, steer_frac=0.0, sample=sample)
        syn, _ = counterfactual_rollouts(model, cost.transition_cost, ds.observations, ds.actions, lo, hi, cfg,
                                         cut=float("inf"))
        mean = model.predict(torch.as_tensor(syn.observations), torch.as_tensor(syn.actions), sample=False)
        close = np.allclose(syn.next_observations, mean["next_obs"].numpy(), atol=1e-5)
        assert close is not sample, sample
