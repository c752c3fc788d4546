"""MIL cost source: shapes, learning on a toy with a known risky state, resume, errors, diagnostics."""

from __future__ import annotations

import io
import math
import warnings

import numpy as np
import pytest
import torch

from safemil.config import apply_overrides, from_dict
from safemil.costs.base import CostModel
from safemil.costs.diagnostics import CollapseDetector, auroc, learned_cost_auroc
from safemil.costs.mil import MILConfig, MILCost
from safemil.costs.nets import CostNet
from safemil.data.dataset import LabelledView, LearnerView, TrajectoryIndex
from safemil.data.sampling import SegmentSampler
from safemil.errors import ConfigError
from tests.tiny_lidar import lidar_toy

RISKY, SAFE = 2.0, -1.0  # the toy's 1-D state centres


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny networks: one thread is faster than two on a shared 2-core box."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def toy_view(n_traj: int, length: int, risky_frac: float, seed: int, risky_time: float = 0.3):
    """1-D states near SAFE; a risky trajectory spends ``risky_time`` of its steps near RISKY.

    Returns the label-free view and the hidden per-step "in the risky region" label.
    """
    rng = np.random.default_rng(seed)
    obs = rng.normal(SAFE, 0.3, size=(n_traj, length, 1))
    risky_steps = np.zeros((n_traj, length), dtype=bool)
    n_risky = int(risky_time * length)
    for i in np.flatnonzero(rng.random(n_traj) < risky_frac):
        t0 = rng.integers(0, length - n_risky + 1)
        risky_steps[i, t0 : t0 + n_risky] = True
    obs[risky_steps] = rng.normal(RISKY, 0.3, size=(risky_steps.sum(), 1))
    obs = obs.reshape(-1, 1).astype(np.float32)
    act = rng.normal(0.0, 1.0, size=(len(obs), 1)).astype(np.float32)
    index = TrajectoryIndex(
        np.arange(n_traj, dtype=np.int64) * length, np.full(n_traj, length, dtype=np.int64)
    )
    term = np.zeros(len(obs), dtype=bool)
    term[length - 1 :: length] = True
    return LearnerView(obs, obs, act, term, index), risky_steps.ravel()


@pytest.fixture(scope="module")
def toy():
    neg, _ = toy_view(10, 40, risky_frac=1.0, seed=1)
    unl, label = toy_view(40, 40, risky_frac=0.5, seed=2)
    return neg, unl, label


def small_cfg(**kw) -> MILConfig:
    base = dict(bag_size=16, segment_len=5, n_bag_pairs=32, pool_size=64, hidden=(32, 32), lr=3e-3)
    base.update(kw)
    return MILConfig(**base)


def test_is_a_cost_model_and_shapes(toy):
    neg, unl, _ = toy
    m = MILCost(neg, unl, small_cfg(), seed=0)
    assert isinstance(m, CostModel)
    out = m.train_step()
    assert {"bt_loss", "score_gap", "collapse_warning"} <= set(out)
    assert all(isinstance(v, float) and math.isfinite(v) for v in out.values())
    assert m.pairs_per_step == 2 * 64 * 5

    c = m.cost(torch.as_tensor(unl.observations[:7]), torch.as_tensor(unl.actions[:7]))
    assert c.shape == (7,) and not c.requires_grad
    assert torch.all((c > 0) & (c < 1))
    assert m.view_cost(unl).shape == (len(unl),)

    seg = SegmentSampler(unl.index, 6).sample_bags(3, 4, np.random.default_rng(0))
    sc = m.segment_cost(unl, seg)
    assert sc.shape == (3, 4)
    per_row = m.view_cost(unl).numpy()
    manual = (per_row[seg.rows] * 0.99 ** np.arange(6) * seg.mask).sum(-1)
    np.testing.assert_allclose(sc.numpy(), manual, rtol=1e-5)


def test_segment_cost_masks_padding():
    # one trajectory of 3 steps sampled with H = 5: steps 3 and 4 are padding
    view, _ = toy_view(2, 3, risky_frac=0.0, seed=0)
    m = MILCost(view, view, small_cfg(segment_len=3, bag_size=1), seed=0)
    seg = SegmentSampler(view.index, 5).sample(4, np.random.default_rng(0))
    assert not seg.mask[:, 3:].any()
    per_row = m.view_cost(view).numpy()
    manual = (per_row[seg.rows[:, :3]] * 0.99 ** np.arange(3)).sum(-1)
    np.testing.assert_allclose(m.segment_cost(view, seg).numpy(), manual, rtol=1e-5)


def test_learns_the_risky_state(toy):
    neg, unl, label = toy
    m = MILCost(neg, unl, small_cfg(), seed=0)
    losses = [m.train_step()["bt_loss"] for _ in range(150)]
    assert np.mean(losses[-30:]) < np.mean(losses[:10]) - 0.1
    c = m.cost(torch.tensor([[RISKY], [0.5], [SAFE]]), torch.zeros(3, 1))
    assert c[0] > c[1] > c[2] and c[0] - c[2] > 0.5
    assert auroc(m.view_cost(unl).numpy(), label) > 0.95


def test_large_bags_separate_better_than_k1(toy):
    """The paper's bag-size trend on the toy: K = 1 leaves safe states costly, large K does not."""
    neg, unl, label = toy
    safe_cost = {}
    for k in (1, 64):
        m = MILCost(neg, unl, small_cfg(bag_size=k), seed=0)
        m.fit(150, progress=False)
        safe_cost[k] = float(m.view_cost(unl).numpy()[~label].mean())
    assert safe_cost[64] < 0.5 * safe_cost[1]


def test_same_seed_same_numbers(toy):
    neg, unl, _ = toy
    a, b = (MILCost(neg, unl, small_cfg(), seed=3) for _ in range(2))
    assert [a.train_step() for _ in range(3)] == [b.train_step() for _ in range(3)]


@pytest.mark.filterwarnings("ignore:MIL cost looks collapsed")
def test_state_dict_resume_is_bit_identical(toy):
    neg, unl, _ = toy
    cfg = small_cfg(collapse_window=4)
    m = MILCost(neg, unl, cfg, seed=0)
    for _ in range(5):
        m.train_step()
    buf = io.BytesIO()
    torch.save(m.state_dict(), buf)  # through serialisation, as a checkpoint would be
    straight = [m.train_step() for _ in range(5)]

    resumed = MILCost(
        neg, unl, cfg, seed=123
    )  # different seed: everything must come from the state
    buf.seek(0)
    resumed.load_state_dict(torch.load(buf, weights_only=False))
    assert [resumed.train_step() for _ in range(5)] == straight
    assert resumed.step == m.step == 10
    for p, q in zip(m.net.state_dict().values(), resumed.net.state_dict().values(), strict=True):
        assert torch.equal(p, q)


def test_load_state_dict_rejects_other_shapes(toy):
    neg, unl, _ = toy
    m = MILCost(neg, unl, small_cfg(), seed=0)
    other = MILCost(neg, unl, small_cfg(hidden=(16,)), seed=0)
    with pytest.raises(ConfigError, match="checkpoint"):
        m.load_state_dict(other.state_dict())


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(bag_size=0), "bag_size"),
        (dict(segment_len=-1), "segment_len"),
        (dict(pool_size=0), "pool_size"),
        (dict(gamma=0.0), "gamma"),
        (dict(lr=-1.0), "lr"),
        (dict(hidden=()), "hidden"),
        (dict(grad_clip=-1.0), "grad_clip"),
    ],
)
def test_bad_config_values(kw, match):
    with pytest.raises(ConfigError, match=match):
        small_cfg(**kw)


def test_config_round_trip_and_overrides():
    cfg = apply_overrides(MILConfig(), ["bag_size=8", "hidden=[64, 64]"])
    assert cfg.bag_size == 8 and cfg.hidden == (64, 64)
    with pytest.raises(ConfigError, match="bag_size"):
        apply_overrides(MILConfig(), ["bag_size=many"])
    with pytest.raises(ConfigError, match="bag_size"):
        from_dict(MILConfig, {"bag_size": 0})


def test_config_errors_against_the_data(toy):
    neg, unl, _ = toy  # trajectories of 40 steps
    with pytest.raises(ConfigError, match="H=41 exceeds the longest trajectory in D_N"):
        MILCost(neg, unl, small_cfg(segment_len=41), seed=0)
    with pytest.raises(ConfigError, match="K=400 exceeds the 360 distinct"):
        MILCost(neg, unl, small_cfg(bag_size=400), seed=0)  # D_N: 10 x (40 - 5 + 1) windows
    empty = LearnerView(
        neg.observations[:0], neg.observations[:0], neg.actions[:0], neg.terminals[:0],
        TrajectoryIndex(np.zeros(0, np.int64), np.zeros(0, np.int64)),
    )  # fmt: skip
    with pytest.raises(ConfigError, match="D_N .* is empty"):
        MILCost(empty, unl, small_cfg(), seed=0)
    wide = LearnerView(
        np.repeat(unl.observations, 2, axis=1),
        unl.next_observations,
        unl.actions,
        unl.terminals,
        unl.index,
    )
    with pytest.raises(ConfigError, match="obs/act sizes"):
        MILCost(neg, wide, small_cfg(), seed=0)
    m = MILCost(neg, unl, small_cfg(), seed=0)
    with pytest.raises(ConfigError, match="expects obs/act sizes 1/1"):
        m.cost(torch.zeros(3, 2), torch.zeros(3, 1))


def test_auroc_matches_pairwise_definition():
    rng = np.random.default_rng(0)
    s = rng.integers(0, 5, size=300).astype(float)  # many ties
    y = rng.random(300) < 0.3
    pos, neg = s[y], s[~y]
    brute = ((pos[:, None] > neg[None]).sum() + 0.5 * (pos[:, None] == neg[None]).sum()) / (
        len(pos) * len(neg)
    )
    assert auroc(s, y) == pytest.approx(brute, abs=1e-12)
    assert auroc(np.ones(10), np.arange(10) < 5) == 0.5
    assert auroc(np.arange(10), np.arange(10) >= 5) == 1.0
    assert auroc(np.arange(10), np.arange(10) < 5) == 0.0
    assert math.isnan(auroc(np.arange(4), np.zeros(4)))


def test_learned_cost_auroc_per_step_and_per_trajectory(toy):
    _, unl, label = toy
    costs = label.astype(np.float64)
    lab = LabelledView(learner=unl, rewards=np.zeros(len(unl)), costs=costs)
    oracle = learned_cost_auroc(lambda o, a: (o[:, 0] > 0.5).astype(float), lab, cost_limit=5.0)
    assert oracle == {"auroc_step": 1.0, "auroc_traj": 1.0}
    flat = learned_cost_auroc(lambda o, a: np.zeros(len(o)), lab, cost_limit=5.0)
    assert flat == {"auroc_step": 0.5, "auroc_traj": 0.5}


def test_trajectory_auroc_scores_by_mean_cost_not_length():
    """A short risky run must outrank a long cautious one whose learned costs sum higher."""
    lengths = np.array([100, 10])
    obs = np.r_[np.full(100, 0.1), np.full(10, 0.9)].astype(np.float32)[:, None]
    index = TrajectoryIndex(np.r_[0, 100].astype(np.int64), lengths.astype(np.int64))
    term = np.zeros(110, dtype=bool)
    term[[99, 109]] = True
    view = LearnerView(obs, obs, np.zeros_like(obs), term, index)
    lab = LabelledView(learner=view, rewards=np.zeros(110), costs=np.r_[np.zeros(100), np.ones(10)])
    out = learned_cost_auroc(lambda o, a: o[:, 0], lab, cost_limit=5.0)  # sums: 10 vs 9, means: 0.1 vs 0.9
    assert out["auroc_traj"] == 1.0


def test_collapse_detector():
    d = CollapseDetector(window=10)
    assert not any(d.update(math.log(2), 0.0) for _ in range(9))
    assert d.update(math.log(2), 0.0)
    d = CollapseDetector(window=10)
    assert not any(d.update(0.3, 1.5) for _ in range(30))


def test_collapse_warning_when_sets_are_indistinguishable():
    view, _ = toy_view(20, 40, risky_frac=0.5, seed=0)
    m = MILCost(view, view, small_cfg(bag_size=64, lr=1e-5, collapse_window=20), seed=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        flags = [m.train_step()["collapse_warning"] for _ in range(25)]
    assert flags[:19] == [0.0] * 19 and flags[-1] == 1.0
    assert any("collapsed" in str(w.message) for w in caught)


def test_cost_net_normaliser():
    net = CostNet(2, 1, hidden=(8,))
    x = np.array([[1.0, 5.0, 0.0], [3.0, 5.0, 2.0]])
    net.fit_normalizer(x)
    assert torch.allclose(net.in_mean, torch.tensor([2.0, 5.0, 1.0]))
    assert torch.allclose(
        net.in_std, torch.tensor([1.0, 1.0, 1.0])
    )  # constant column passes through
    out = net(torch.zeros(4, 2), torch.zeros(4, 1))
    assert out.shape == (4,) and torch.all((out > 0) & (out < 1))


def test_bag_matrix_averages_k_draws_from_the_pool(toy):
    neg, unl, _ = toy
    m = MILCost(neg, unl, small_cfg(bag_size=7, n_bag_pairs=5, pool_size=11), seed=0)
    state = m.rng.bit_generator.state
    mat = m._bag_matrix().numpy()
    m.rng.bit_generator.state = state
    draws = m.rng.integers(0, 11, size=(5, 7))
    assert mat.shape == (5, 11)
    np.testing.assert_allclose(mat.sum(1), 1.0, rtol=1e-6)
    seg_scores = np.random.default_rng(1).random(11)
    np.testing.assert_allclose(mat @ seg_scores, seg_scores[draws].mean(1), rtol=1e-5)


def test_cost_net_lidar_encoder_reads_the_layout():
    net = CostNet(18, 2, (16,), lidar=(2, 2, 8), lidar_encoder=(8, 3))
    assert net.encoder is not None and net.encoder.out_dim == 8 * 3
    assert net.mlp[0].in_features == 18 + 2 + 24
    out = net(torch.rand(5, 18), torch.rand(5, 2))
    assert out.shape == (5,) and bool(((out > 0) & (out < 1)).all())
    assert CostNet(18, 2, (16,), lidar=None, lidar_encoder=(8, 3)).encoder is None  # no lidar: plain MLP
    assert CostNet(18, 2, (16,), lidar=(2, 2, 8)).encoder is None  # no sizes: plain MLP
    with pytest.raises(ConfigError, match="does not fit"):
        CostNet(18, 2, (16,), lidar=(4, 2, 8), lidar_encoder=(8,))
    with pytest.raises(ConfigError, match="lidar_encoder"):
        MILConfig(lidar_encoder=(8, 0))


@pytest.mark.filterwarnings("ignore:MIL cost looks collapsed")
def test_mil_cost_with_lidar_encoder_learns_and_resumes():
    neg, _ = lidar_toy(10, 40, risky_frac=1.0, seed=1)
    unl, label = lidar_toy(40, 40, risky_frac=0.5, seed=2)
    cfg = small_cfg(lidar_encoder=(8, 2), collapse_window=4)
    m = MILCost(neg, unl, cfg, seed=0, lidar=(2, 2, 8))
    assert m.net.encoder is not None
    init = [p.detach().clone() for p in m.net.encoder.parameters()]
    m.fit(150, progress=False)
    assert auroc(m.view_cost(unl).numpy(), label) > 0.75  # 0.85 here; a cost blind to the lidar: 0.5
    assert not all(torch.equal(p, q) for p, q in zip(init, m.net.encoder.parameters(), strict=True))
    state = m.state_dict()
    straight = [m.train_step() for _ in range(3)]
    resumed = MILCost(neg, unl, cfg, seed=5, lidar=(2, 2, 8))
    resumed.load_state_dict(state)
    assert [resumed.train_step() for _ in range(3)] == straight
