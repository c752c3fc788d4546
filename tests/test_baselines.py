"""Baselines: the method math on toy views, each algorithm learning on a tiny dataset, the label gate,
configs through YAML, resume, CLI errors."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from safemil.algos import LearnerData, OracleData, get_algo
from safemil.config import apply_overrides, from_dict, load_yaml, save_yaml, to_dict
from safemil.costs.dwbc import DWBCConfig, DWBCDiscriminator, pu_loss
from safemil.costs.safedice import (
    DICEValue,
    SafeDICEClassifier,
    SafeDICEConfig,
    density_ratio_reward,
    estimate_alpha,
)
from safemil.data import SplitConfig, make_split, read_dsrl
from safemil.data.dataset import Dataset, LearnerView, TrajectoryIndex
from safemil.errors import ConfigError
from safemil.policies import soft_weights
from tests.tiny_lidar import LAYOUT, lidar_toy
from tests.tiny_swimmer import TASK, TINY_SPLIT, make_tiny_dataset

BASELINES = ("bc-u", "bc-safe", "trex-wbc", "dwbc-nu", "safedice")
SMALL = {  # tiny networks and batches so each algorithm takes well under a second per 100 steps
    "bc-u": ["bc.actor.hidden=[32, 32]", "bc.batch_size=64", "bc.segment_len=8"],
    "bc-safe": ["bc.actor.hidden=[32, 32]", "bc.batch_size=64", "bc.segment_len=8"],
    "trex-wbc": ["bc.actor.hidden=[32, 32]", "bc.batch_size=64", "bc.segment_len=8", "cost.hidden=[32, 32]",
                 "cost.segment_len=5", "cost.pool_size=32", "cost.n_bag_pairs=32"],
    "dwbc-nu": ["bc.actor.hidden=[32, 32]", "bc.batch_size=64", "bc.segment_len=8", "disc.hidden=[32, 32]",
                "disc.batch_size=64", "disc.lr=0.001"],
    "safedice": ["bc.actor.hidden=[32, 32]", "bc.batch_size=64", "bc.segment_len=8", "dice.hidden=[32, 32]",
                 "dice.batch_size=64", "dice.classifier_lr=0.001", "dice.critic_lr=0.001"],
}
STEPS = {"bc-u": ["steps=200"], "bc-safe": ["steps=200"], "dwbc-nu": ["steps=200"],
         "trex-wbc": ["cost.steps=150", "policy_steps=200"],
         "safedice": ["classifier_steps=150", "policy_steps=200"]}


# --------------------------------------------------------------------------- toy views
def toy_views(seed: int = 0, n_neg: int = 10, n_safe: int = 21, n_risky: int = 9, length: int = 20):
    """Risky behaviour pushes action[0] to +0.7, safe behaviour to -0.7; states are noise.

    Returns D_N (risky only), D_U (safe + risky, risky share 9/30) and a boolean per D_U row: risky?
    """
    rng = np.random.default_rng(seed)

    def view(kinds: np.ndarray) -> LearnerView:
        risky = np.repeat(kinds, length)
        n = len(risky)
        obs = rng.normal(size=(n, 3)).astype(np.float32)
        act = np.stack([np.where(risky, 0.7, -0.7) + 0.1 * rng.normal(size=n), rng.uniform(-1, 1, n)], 1)
        nxt = np.roll(obs, -1, 0)
        lengths = np.full(len(kinds), length, dtype=np.int64)
        index = TrajectoryIndex(np.arange(len(kinds), dtype=np.int64) * length, lengths)
        return LearnerView(obs, nxt, act.astype(np.float32), np.zeros(n, dtype=bool), index)

    kinds_u = rng.permutation(np.r_[np.zeros(n_safe, bool), np.ones(n_risky, bool)])
    return view(np.ones(n_neg, bool)), view(kinds_u), np.repeat(kinds_u, length)


def test_pu_loss_is_the_reference_equation():
    d_n, d_u = torch.tensor([0.8, 0.6]), torch.tensor([0.3, 0.5])
    expected = (-math.log(0.8) - math.log(0.6)) / 2 + (-math.log(0.7) - math.log(0.5)) / 2 / 0.5 \
        + (math.log(0.2) + math.log(0.4)) / 2
    assert pu_loss(d_n, d_u, 0.5).item() == pytest.approx(expected, rel=1e-6)


def test_density_ratio_reward_recovers_preferred_over_unlabeled():
    # densities at four points; D_U = alpha N + (1 - alpha) P
    alpha = 0.3
    d_n = torch.tensor([0.1, 0.5, 1.0, 2.0], dtype=torch.float64)
    d_p = torch.tensor([2.0, 1.0, 0.5, 0.0], dtype=torch.float64)
    d_u = alpha * d_n + (1 - alpha) * d_p
    prob = d_n / (d_n + d_u)  # what a balanced N-vs-U classifier converges to
    r = density_ratio_reward(prob, alpha)
    np.testing.assert_allclose(r[:3].exp().numpy(), (d_p / d_u)[:3].numpy(), rtol=1e-9)
    assert r[3] < -20  # zero preferred density: clipped numerator, finite and very negative
    assert estimate_alpha(prob, 1e-5) == pytest.approx(alpha - 1e-5, rel=1e-9)  # min over U of d^U / d^N


def test_dwbc_discriminator_separates_held_out_n_from_u():
    neg, unl, _ = toy_views()
    cfg = DWBCConfig(hidden=(32, 32), batch_size=128, lr=1e-3, use_log_pi=True)
    disc = DWBCDiscriminator(neg, unl, cfg, seed=0, log_pi=lambda o, a: -(a ** 2).sum(-1))
    before = disc.heldout_metrics()
    losses = [disc.train_step()["disc_loss"] for _ in range(300)]
    after = disc.heldout_metrics()
    assert np.mean(losses[-30:]) < np.mean(losses[:30]) - 0.1
    assert after["disc_acc_n_heldout"] > 0.9 and after["disc_acc_heldout"] > before["disc_acc_heldout"]
    assert after["disc_mean_n_heldout"] > after["disc_mean_u_heldout"] + 0.2
    d = disc.cost(torch.as_tensor(unl.observations), torch.as_tensor(unl.actions))
    assert d.min() >= cfg.d_min and d.max() <= cfg.d_max
    no_fn = DWBCDiscriminator(neg, unl, cfg, seed=0)
    with pytest.raises(ConfigError, match="log-likelihood"):
        no_fn.train_step()


def test_safedice_alpha_reward_and_advantage_favour_the_preferred_part():
    neg, unl, risky = toy_views()
    cfg = SafeDICEConfig(hidden=(32, 32), batch_size=128, classifier_lr=1e-3, critic_lr=1e-3)
    clf = SafeDICEClassifier(neg, unl, cfg, seed=0)
    losses = [clf.train_step()["clf_loss"] for _ in range(300)]
    assert np.mean(losses[-30:]) < np.mean(losses[:30]) - 0.05
    reward = clf.freeze()
    assert 0.0 < clf.alpha < 0.6  # true non-preferred share of D_U is 0.3
    assert reward.mean().abs() < 1e-4 and reward.std().item() == pytest.approx(1.0, rel=1e-3)
    assert reward[torch.from_numpy(~risky)].mean() > reward[torch.from_numpy(risky)].mean() + 1.0
    with pytest.raises(RuntimeError, match="frozen"):
        clf.train_step()
    value = DICEValue(unl, reward, cfg, seed=0)
    dual = [value.train_step()["dice_loss"] for _ in range(200)]
    assert np.mean(dual[-20:]) < np.mean(dual[:20])
    w = soft_weights(-value.advantage(np.arange(len(unl))), 1.0)  # exp(adv - 1) / mean
    assert w[torch.from_numpy(~risky)].mean() > 2 * w[torch.from_numpy(risky)].mean()



def test_dwbc_and_safedice_cost_nets_take_the_lidar_encoder_and_train():
    neg, _ = lidar_toy(10, 40, risky_frac=1.0, seed=1)
    unl, _ = lidar_toy(40, 40, risky_frac=0.5, seed=2)
    disc = DWBCDiscriminator(neg, unl, DWBCConfig(hidden=(16,), lidar_encoder=(8, 2), use_log_pi=False),
                             seed=0, lidar=LAYOUT)
    clf = SafeDICEClassifier(neg, unl, SafeDICEConfig(hidden=(16,), lidar_encoder=(8, 2)), seed=0, lidar=LAYOUT)
    for net, step in ((disc.net, disc.train_step), (clf.net, clf.train_step)):
        assert net.encoder is not None and net.encoder.out_dim == 8 * 2
        before = [p.detach().clone() for p in net.encoder.parameters()]
        for _ in range(3):
            assert math.isfinite(next(iter(step().values())))
        assert any(not torch.equal(a, b) for a, b in zip(before, net.encoder.parameters(), strict=True))
    for cls in (DWBCConfig, SafeDICEConfig):
        with pytest.raises(ConfigError, match="lidar_encoder"):
            cls(lidar_encoder=(8, -1))

# --------------------------------------------------------------------------- algorithms on a tiny dataset
@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    path = make_tiny_dataset(tmp_path_factory.mktemp("tiny") / "tiny.hdf5")
    split = make_split(read_dsrl(path, task=TASK), SplitConfig(n_negative=6, cost_limit=5))
    return path, split


def _data(spec, split) -> LearnerData:
    from safemil.runner import build_data

    return build_data(spec, split, TASK)


def _build(name: str, split, extra: list[str] | None = None):
    spec = get_algo(name)
    cfg = apply_overrides(spec.config_cls(), SMALL[name] + STEPS[name] + (extra or []))
    return spec.factory(cfg, _data(spec, split), 0)


@pytest.mark.parametrize("name", BASELINES)
def test_each_baseline_improves_its_own_losses(tiny, name):
    torch.manual_seed(0)
    algo = _build(name, tiny[1])
    logs: dict[str, list[float]] = {}
    for step in range(algo.total_steps):
        for k, v in algo.train_step(step).items():
            logs.setdefault(k, []).append(v)
    own = {"bc-u": ["bc_loss"], "bc-safe": ["bc_loss"], "trex-wbc": ["bt_loss", "bc_loss"],
           "dwbc-nu": ["disc_loss", "bc_loss"], "safedice": ["clf_loss", "dice_loss", "bc_loss"]}[name]
    for key in own:
        v = logs[key]
        assert np.mean(v[-20:]) < np.mean(v[:20]), f"{name}: {key} did not go down"
    actions = algo.policy().act(tiny[1].unlabeled.observations[:5])
    assert actions.shape == (5, 2) and np.isfinite(actions).all()
    summary = algo.summary()
    if name == "dwbc-nu":
        assert summary["disc_acc_heldout"] > 0.5 and "disc_acc_heldout" in logs
    if name == "safedice":
        assert 0.0 <= summary["alpha"] < 1.0 and logs["alpha"][-1] == summary["alpha"]


def test_dwbc_and_safedice_weights_are_their_equations(tiny):
    dw = _build("dwbc-nu", tiny[1])
    rows = np.arange(16).reshape(2, 8)
    mask = torch.ones(2, 8, dtype=torch.bool)
    d = dw.disc.cost(dw._u_obs[torch.from_numpy(rows.ravel())], dw._u_act[torch.from_numpy(rows.ravel())])
    w = dw.bc.weights_for(dw._row_cost(rows), mask).ravel()
    np.testing.assert_allclose(w.numpy(), ((1 - d) / (1 - d).mean()).numpy(), rtol=1e-5)
    sd = _build("safedice", tiny[1], ["classifier_steps=1"])
    sd.train_step(0)
    sd.train_step(1)  # freezes the classifier and starts the value
    adv = sd.value.advantage(rows).ravel()
    w = sd.bc.weights_for(sd._row_cost(rows), mask).ravel()
    ref = torch.exp(adv - 1)
    np.testing.assert_allclose(w.numpy(), (ref / ref.mean()).numpy(), rtol=1e-4)


def test_only_bc_safe_can_reach_labels(tiny, monkeypatch):
    from safemil.data.splits import Split

    assert [n for n in BASELINES if get_algo(n).oracle] == ["bc-safe"]
    oracle_data = _data(get_algo("bc-safe"), tiny[1])
    assert isinstance(oracle_data, OracleData) and oracle_data.labelled_unlabeled is not None
    for name in BASELINES[2:] + ("bc-u",):
        data = _data(get_algo(name), tiny[1])
        assert type(data) is LearnerData
        assert not any(hasattr(v, "costs") or hasattr(v, "rewards") for v in (data.negative, data.unlabeled))
    with pytest.raises(ConfigError, match="oracle"):
        get_algo("bc-safe").factory(get_algo("bc-safe").config_cls(), _data(get_algo("bc-u"), tiny[1]), 0)

    def forbidden(*a, **k):
        raise AssertionError("a non-oracle algorithm asked for labels")

    monkeypatch.setattr(Split, "labelled", forbidden)
    monkeypatch.setattr(Dataset, "labelled_view", forbidden)
    for name in ("bc-u", "trex-wbc", "dwbc-nu", "safedice"):
        spec = get_algo(name)
        data = _data(spec, tiny[1])
        algo = spec.factory(apply_overrides(spec.config_cls(), SMALL[name] + STEPS[name]), data, 0)
        for step in range(0, algo.total_steps, 37):
            algo.train_step(step)
        algo.summary()


@pytest.mark.parametrize("name", BASELINES)
def test_configs_round_trip_through_yaml(tmp_path, name):
    spec = get_algo(name)
    cfg = apply_overrides(spec.config_cls(), SMALL[name] + STEPS[name])
    save_yaml(to_dict(cfg), tmp_path / "c.yaml")
    assert from_dict(spec.config_cls, load_yaml(tmp_path / "c.yaml")) == cfg
    assert from_dict(spec.config_cls, to_dict(spec.config_cls())) == spec.config_cls()


@pytest.mark.parametrize("name, override, match", [
    ("trex-wbc", "cost.bag_size=8", "bag_size"),
    ("dwbc-nu", "disc.nu=0", "nu"),
    ("dwbc-nu", "disc.d_min=0.6", "d_min"),
    ("dwbc-nu", "bc.weights.kind=hard", "1 - d"),
    ("safedice", "bc.weights.beta=0.5", "exp\\(adv - 1\\)"),
    ("safedice", "dice.gamma=1.0", "gamma"),
    ("safedice", "classifier_steps=0", "classifier_steps"),
])
def test_bad_configs_name_the_culprit(name, override, match):
    with pytest.raises(ConfigError, match=match):
        apply_overrides(get_algo(name).config_cls(), [override])


@pytest.mark.parametrize("name, phase_steps", [("dwbc-nu", ["steps=60"]),
                                               ("safedice", ["classifier_steps=30", "policy_steps=40"])])
def test_killed_run_resumes_to_the_same_numbers(tiny, tmp_path, name, phase_steps):
    from safemil import runner

    ov = TINY_SPLIT + SMALL[name] + phase_steps + ["train.log_every=10", "train.checkpoint_every=20",
                                                   "eval.episodes=1", "eval.num_envs=1"]
    cfg = runner.make_run_config(name, TASK, str(tiny[0]), 0, ov)
    full = runner.train(cfg, tmp_path / "full")
    assert runner.train(cfg, tmp_path / "cut", stop_at=50) is None  # dies between checkpoints, after phase 1
    resumed = runner.resume(tmp_path / "cut")
    for k in ("mean_return", "mean_cost", "normalized_return", "normalized_cost"):
        assert resumed[k] == full[k]
    assert resumed["diagnostics"] == full["diagnostics"]


def test_cli_lists_baselines_and_rejects_bad_override_in_one_line(tiny):
    # this checkout's code, not whatever `safemil` the interpreter has installed
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    run = [sys.executable, "-m", "safemil"]
    r = subprocess.run(run + ["algos"], capture_output=True, text=True, env=env)
    assert r.returncode == 0 and all(n in r.stdout for n in BASELINES)
    r = subprocess.run(run + ["train", "trex-wbc", "--task", TASK, "--dataset", str(tiny[0]), "cost.bag_size=4"],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert len([ln for ln in r.stderr.splitlines() if ln.strip()]) == 1 and "bag_size" in r.stderr
