"""CostWeightedBC schedules: which updates happen at which step, with a counting test double."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from safemil.algos.cost_bc import CostWeightedBC
from safemil.data.dataset import LearnerView, TrajectoryIndex
from safemil.errors import ConfigError
from safemil.policies import ActorConfig, BCConfig, WeightConfig, WeightedBC


class CountingCost:
    """Test double of a CostModel: cost = first observation feature squashed; counts calls."""

    def __init__(self):
        self.train_calls = 0
        self.cost_rows = 0

    def train_step(self):
        self.train_calls += 1
        return {"bt_loss": 0.5, "score_gap": 1.0}

    def cost(self, obs, act):
        self.cost_rows += len(obs)
        return torch.sigmoid(torch.as_tensor(obs)[:, 0])

    def state_dict(self):
        return {"n": self.train_calls}

    def load_state_dict(self, s):
        self.train_calls = s["n"]


def _view():
    obs = np.random.default_rng(0).normal(size=(200, 3)).astype(np.float32)
    act = np.zeros((200, 2), np.float32)
    return LearnerView(obs, obs, act, np.zeros(200, bool), TrajectoryIndex(np.arange(10) * 20, np.full(10, 20)))


def _algo(schedule, cost_steps=5, policy_steps=8):
    cfg = BCConfig(actor=ActorConfig(hidden=(8,)), batch_size=16, segment_len=4, weights=WeightConfig())
    cost = CountingCost()
    return cost, CostWeightedBC(cost, WeightedBC(_view(), cfg, 0), cfg, cost_steps, policy_steps, schedule)


def test_sequential_trains_cost_first_then_policy_on_a_cached_cost():
    cost, algo = _algo("sequential")
    assert algo.total_steps == 13
    for step in range(5):
        assert "bc_loss" not in algo.train_step(step)
    assert cost.train_calls == 5 and cost.cost_rows == 0
    for step in range(5, 13):
        assert "bc_loss" in algo.train_step(step)
    assert cost.train_calls == 5
    assert cost.cost_rows == 200  # D_U scored once, then cached
    s = algo.summary()
    assert s["bt_loss_final"] == 0.5 and 0 < s["bc_ess_mean"] <= 1


def test_alternate_updates_both_each_step():
    cost, algo = _algo("alternate")
    assert algo.total_steps == 8
    m = algo.train_step(0)
    assert "bt_loss" in m and "bc_loss" in m
    for step in range(1, 8):
        algo.train_step(step)
    assert cost.train_calls == 5


def test_unknown_schedule_is_a_config_error():
    with pytest.raises(ConfigError, match="schedule"):
        _algo("interleaved")


def test_trajectory_level_weights_use_whole_trajectory_costs():
    from safemil.data.dataset import TrajectoryIndex
    from safemil.policies.weights import trajectory_segment_costs

    # a trajectory that is cheap at its start and costly later is judged by all of its steps
    per_row = np.array([0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0])
    c = trajectory_segment_costs(per_row, TrajectoryIndex(np.array([0, 2]), np.array([2, 5])), 0.5, 2)
    np.testing.assert_allclose(c, [0.5 * 1.5, 0.6 * 1.5])
    cfg = BCConfig(actor=ActorConfig(hidden=(8,)), batch_size=16, segment_len=4,
                   weights=WeightConfig(level="trajectory"))
    cost = CountingCost()
    algo = CostWeightedBC(cost, WeightedBC(_view(), cfg, 0), cfg, 2, 3, "sequential")
    for step in range(5):
        m = algo.train_step(step)
    assert 0 < m["bc_ess"] <= 1 and cost.cost_rows == 200
    with pytest.raises(ConfigError, match="sequential"):
        CostWeightedBC(CountingCost(), WeightedBC(_view(), cfg, 0), cfg, 2, 3, "alternate")
    from safemil.algos.safemil import SafeMILConfig
    from safemil.algos.trex_wbc import TREXWBCConfig

    for algo_config in (SafeMILConfig, TREXWBCConfig):  # the shared default is per trajectory...
        assert algo_config().bc.weights.level == "trajectory"
        with pytest.raises(ConfigError, match="level=segment"):  # ...so alternating says what to change
            algo_config(schedule="alternate")
