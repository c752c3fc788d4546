"""Weights, ESS, actors and the weighted BC learner (tiny synthetic data, few steps)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from safemil.data.dataset import LearnerView, TrajectoryIndex
from safemil.errors import ConfigError
from safemil.policies import (
    ActorConfig,
    BCConfig,
    TorchPolicy,
    WeightConfig,
    WeightedBC,
    actor_from_state,
    actor_state,
    discounted_segment_sums,
    effective_sample_size,
    hard_weights,
    make_actor,
    soft_weights,
)


def test_soft_weights_have_batch_mean_one_and_prefer_low_cost():
    c = torch.tensor([0.0, 1.0, 5.0, 20.0])
    w = soft_weights(c, beta=0.6)
    assert w.mean().item() == pytest.approx(1.0, abs=1e-6)
    assert torch.all(w[:-1] > w[1:])
    assert w[0] / w[1] == pytest.approx(np.exp(1 / 0.6), rel=1e-5)
    # masked entries get zero weight, the rest average to one
    mask = torch.tensor([True, True, False, True])
    wm = soft_weights(c, 0.6, mask)
    assert wm[2] == 0 and wm[mask].mean().item() == pytest.approx(1.0, abs=1e-6)
    # huge costs do not underflow to NaN
    assert torch.isfinite(soft_weights(torch.tensor([1e4, 1e4 + 1]), 0.6)).all()


def test_hard_weights_keep_only_under_threshold():
    c = torch.tensor([0.5, 2.0, 0.9, 3.0])
    w = hard_weights(c, threshold=1.0)
    assert w.tolist() == [2.0, 0.0, 2.0, 0.0]
    assert hard_weights(c, threshold=0.1).sum() == 0


def test_effective_sample_size():
    assert effective_sample_size(torch.ones(10)) == pytest.approx(1.0)
    one_hot = torch.zeros(10)
    one_hot[3] = 10.0
    assert effective_sample_size(one_hot) == pytest.approx(0.1)
    assert 0.1 < effective_sample_size(soft_weights(torch.arange(10.0), 0.6)) < 1.0


def test_discounted_segment_sums_respect_mask():
    c = torch.ones(2, 3)
    mask = torch.tensor([[True, True, True], [True, False, False]])
    s = discounted_segment_sums(c, mask, 0.5)
    assert s.tolist() == [1.75, 1.0]


def test_weight_config_rejects_bad_values():
    with pytest.raises(ConfigError, match="weighting"):
        WeightConfig(kind="exp")
    with pytest.raises(ConfigError, match="beta"):
        WeightConfig(beta=0)


@pytest.mark.parametrize("kind", ["gaussian", "mixture", "deterministic"])
def test_actor_round_trip_and_action_box(kind):
    low, high = np.array([-2.0, 0.0]), np.array([2.0, 1.0])
    a = make_actor(ActorConfig(kind=kind, hidden=(16,)), 3, 2, low, high)
    a.set_normalizer(np.random.default_rng(0).normal(5, 3, (100, 3)))
    obs = np.random.default_rng(1).normal(5, 3, (7, 3)).astype(np.float32)
    act = TorchPolicy(a).act(obs)
    assert act.shape == (7, 2) and np.all(act >= low) and np.all(act <= high)
    b = actor_from_state(actor_state(a, ActorConfig(kind=kind, hidden=(16,))))
    np.testing.assert_array_equal(TorchPolicy(b).act(obs), act)


LAYOUT = (2, 3, 16)  # 2 other values, then 3 kinds x 16 bins (a navigation observation in miniature)


def test_lidar_encoder_reads_each_bin_with_the_same_weights():
    """Rotating every kind's lidar by k bins rotates the encoder's per-bin features by k bins: the
    weights are shared across directions and a bin's features mix that bin's kinds, not its neighbours."""
    torch.manual_seed(0)
    a = make_actor(ActorConfig(hidden=(16,), lidar_encoder=(8, 4)), 2 + 48, 2, lidar=LAYOUT)
    obs = torch.rand(5, 50)
    lidar = obs[:, 2:].reshape(5, 3, 16)
    rolled = torch.cat([obs[:, :2], lidar.roll(3, -1).reshape(5, 48)], 1)
    feats, feats_rolled = a.encoder(obs).reshape(5, 16, 4), a.encoder(rolled).reshape(5, 16, 4)
    torch.testing.assert_close(feats_rolled, feats.roll(3, 1))
    # swapping two kinds within one bin changes that bin's features (the kinds are channels, not bins)
    swapped = obs.clone()
    swapped[:, 2 + 0 * 16 + 5], swapped[:, 2 + 1 * 16 + 5] = obs[:, 2 + 1 * 16 + 5], obs[:, 2 + 0 * 16 + 5]
    changed = (a.encoder(swapped).reshape(5, 16, 4) != feats).any(-1).any(0)
    assert changed[5] and not changed[torch.arange(16) != 5].any()


def test_lidar_actor_round_trip_and_bad_layouts():
    cfg = ActorConfig(kind="gaussian", hidden=(16,), lidar_encoder=(8, 4))
    a = make_actor(cfg, 50, 2, lidar=LAYOUT)
    a.set_normalizer(np.random.default_rng(0).random((100, 50)))
    obs = np.random.default_rng(1).random((7, 50)).astype(np.float32)
    b = actor_from_state(actor_state(a, cfg))
    assert b.lidar == LAYOUT
    np.testing.assert_array_equal(TorchPolicy(b).act(obs), TorchPolicy(a).act(obs))
    with pytest.raises(ConfigError, match="lidar_encoder needs a task with lidar"):
        make_actor(cfg, 50, 2)  # a velocity task: no lidar
    with pytest.raises(ConfigError, match="does not fit"):
        make_actor(cfg, 40, 2, lidar=LAYOUT)
    with pytest.raises(ConfigError, match="lidar_encoder sizes"):
        ActorConfig(lidar_encoder=(8, 0))
    # without an encoder the layout changes nothing: the plain MLP, its state without a lidar
    plain = make_actor(ActorConfig(hidden=(16,)), 50, 2, lidar=LAYOUT)
    assert plain.encoder is None and actor_state(plain, ActorConfig(hidden=(16,)))["lidar"] is None


def _two_behaviour_view(n_traj=40, length=20, seed=0):
    """Same state distribution, two behaviours: a = +0.6 (odd trajectories) or -0.6 (even)."""
    rng = np.random.default_rng(seed)
    obs = rng.normal(size=(n_traj * length, 4)).astype(np.float32)
    sign = np.repeat(np.where(np.arange(n_traj) % 2 == 1, 1.0, -1.0), length)
    act = (0.6 * sign[:, None] * np.ones((1, 2)) + 0.05 * rng.normal(size=(len(obs), 2))).astype(np.float32)
    idx = TrajectoryIndex(np.arange(n_traj) * length, np.full(n_traj, length))
    view = LearnerView(obs, obs, act, np.zeros(len(obs), bool), idx)
    return view, sign


@pytest.mark.parametrize("level", ["segment", "pair"])
def test_weighted_bc_imitates_the_low_cost_behaviour(level):
    torch.manual_seed(0)
    view, sign = _two_behaviour_view()
    per_row_cost = torch.from_numpy((sign < 0).astype(np.float32))  # the -0.6 behaviour is costly
    cfg = BCConfig(actor=ActorConfig(kind="gaussian", hidden=(32, 32)), batch_size=64, segment_len=4, lr=3e-3,
                   weights=WeightConfig(kind="soft", level=level, beta=0.1))
    bc = WeightedBC(view, cfg, seed=0)
    for _ in range(150):
        m = bc.step(lambda rows: per_row_cost[torch.from_numpy(rows)])
    assert 0 < m["bc_ess"] < 0.8
    mean_action = bc.policy().act(view.observations[:200]).mean()
    assert mean_action > 0.3  # imitates +0.6, not the average 0


def test_resampled_trajectory_weights_imitate_the_low_cost_behaviour():
    torch.manual_seed(0)
    view, sign = _two_behaviour_view()
    traj_cost = torch.from_numpy((sign[::20] < 0).astype(np.float32) * 5.0)  # even trajectories are costly
    cfg = BCConfig(actor=ActorConfig(kind="deterministic", hidden=(32, 32)), batch_size=64, segment_len=4,
                   lr=3e-3, weights=WeightConfig(kind="soft", level="trajectory", beta=0.5, sampling="resample"))
    bc = WeightedBC(view, cfg, seed=0)
    for _ in range(150):
        m = bc.step(None, lambda traj: traj_cost[torch.from_numpy(traj)])
    assert 0.45 < m["bc_ess"] < 0.55  # the draw spends itself on the 20 cheap trajectories of 40
    assert bc.policy().act(view.observations[:200]).mean() > 0.5  # imitates +0.6, not the average 0
    hard = BCConfig(actor=ActorConfig(kind="deterministic", hidden=(8,)), batch_size=64, segment_len=4,
                    weights=WeightConfig(kind="hard", level="trajectory", threshold=1.0, sampling="resample"))
    with pytest.raises(ConfigError, match="nothing to clone"):
        WeightedBC(view, hard, seed=0).step(None, lambda traj: torch.full((len(traj),), 9.0))
    with pytest.raises(ConfigError, match="level=trajectory"):
        WeightConfig(kind="soft", level="segment", sampling="resample")
    with pytest.raises(ConfigError, match="sampling"):
        WeightConfig(sampling="uniform")


def test_unweighted_bc_loss_decreases():
    torch.manual_seed(0)
    view, _ = _two_behaviour_view()
    bc = WeightedBC(view, BCConfig(actor=ActorConfig(kind="mixture", hidden=(32,)), batch_size=64, segment_len=4,
                                   weights=WeightConfig(kind="none"), lr=3e-3), seed=0)
    first = np.mean([bc.step()["bc_loss"] for _ in range(10)])
    for _ in range(200):
        bc.step()
    last = np.mean([bc.step()["bc_loss"] for _ in range(10)])
    assert last < first - 0.3
