"""BCQ-Lag's constraint: the PID Lagrangian, the critic's time scale against the Q-space limit, unsafe oversampling."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from safemil.algos.bcq_lag import (
    BCQLagConfig,
    BCQLagLearner,
    PIDLagrangian,
    critic_scale_reached,
    critic_tau,
)
from safemil.errors import ConfigError

GAMMA, L, STEPS = 0.9, 100, 300
Q_LIMIT_10 = 10 * (1 - GAMMA ** L) / ((1 - GAMMA) * L)  # cost_limit 10 per 100 steps: a per-step rate of 0.1


def test_pid_sign_integral_and_clamp():
    pid = PIDLagrangian((0.1, 0.01, 0.001), limit=1.0, lambda_max=5.0)
    under = [pid.update(0.5) for _ in range(50)]
    assert max(under) == 0.0 and pid.integral == 0.0  # under the limit: no multiplier, no wind-up
    over = [pid.update(2.0) for _ in range(50)]
    assert over[0] > 0 and np.all(np.diff(over) > 0)  # over the limit: lambda rises, through the integral
    assert over[-1] == pytest.approx(0.1 * 1.0 + 0.01 * 50)
    assert max(pid.update(100.0) for _ in range(100)) == 5.0  # clamped at lambda_max
    peak = pid.peak
    back = [pid.update(0.0) for _ in range(2000)]
    assert back[-1] == 0.0 and pid.peak == peak == 5.0  # back under: the integral drains, lambda returns to 0
    clone = PIDLagrangian((0.1, 0.01, 0.001), 1.0, 5.0)
    clone.load(pid.state())
    assert clone.update(3.0) == pid.update(3.0)


def test_critic_time_scale():
    # the bug this guards against: OSRL's tau at a 1,500-step budget reaches 7% of Q's scale
    assert critic_scale_reached(0.005, 0.99, 1500) == pytest.approx(0.072, abs=0.001)
    for steps in (300, 1500, 20_000):
        assert critic_scale_reached(critic_tau(None, 0.99, steps), 0.99, steps) >= 0.95
    assert critic_tau(None, 0.99, 1_000_000) == 0.005  # long budgets keep OSRL's rate
    assert critic_tau(0.02, 0.99, 10) == 0.02
    with pytest.raises(ConfigError, match="sum below 1"):
        BCQLagConfig(synthetic_ratio=0.5, unsafe_ratio=0.5)


def _learner(cost_rate: float, seed: int = 0, costly_reward: float = 0.0, **cfg) -> BCQLagLearner:
    """States and actions are noise; each row is costly with probability ``cost_rate`` (and then pays
    ``costly_reward``; the others pay 0)."""
    import torch

    torch.manual_seed(seed)  # the networks' initialisation: results do not depend on which tests ran first
    rng = np.random.default_rng(seed)
    n = 512
    real = {"observations": rng.normal(size=(n, 3)).astype(np.float32),
            "actions": rng.uniform(-1, 1, (n, 2)).astype(np.float32),
            "next_observations": rng.normal(size=(n, 3)).astype(np.float32),
            "costs": (rng.random(n) < cost_rate).astype(np.float32),
            "terminals": np.zeros(n, np.float32)}
    real["rewards"] = real["costs"] * costly_reward
    c = BCQLagConfig(**{"steps": STEPS, "batch_size": 64, "hidden": (32, 32), "gamma": GAMMA, **cfg})
    return BCQLagLearner(c, real, -np.ones(2), np.ones(2), cost_limit=10.0, episode_len=L, seed=seed)


def _train(learner: BCQLagLearner) -> dict:
    for _ in range(learner.config.steps):
        learner.step()
    return learner.summary()


def test_lambda_rises_when_the_cost_exceeds_the_limit_and_stays_zero_under_it():
    # cost rate 0.3 per step: converged Q_c = 3, three times the limit (about 1)
    over = _train(_learner(0.3, unsafe_ratio=0.0))
    assert over["q_limit"] == pytest.approx(Q_LIMIT_10)
    assert over["qc_pi_final"] > 1.5 * over["q_limit"] and over["lambda_final"] > 0.1
    assert "critic_warning" not in over
    # the same problem with OSRL's tau and this budget: Q_c stays under the limit and lambda never acts
    stale = _train(_learner(0.3, unsafe_ratio=0.0, tau=0.005))
    assert stale["qc_pi_final"] < over["q_limit"] and stale["lambda_peak"] == 0.0
    assert "14%" in stale["critic_warning"]
    # cost rate 0.02: converged Q_c = 0.2, under the limit
    under = _train(_learner(0.02, unsafe_ratio=0.0))
    assert under["qc_pi_final"] < 0.5 * under["q_limit"] and under["lambda_peak"] < 0.05
    assert under["lambda_final"] == 0.0


def test_costly_rows_are_oversampled():
    learner = _learner(0.02, unsafe_ratio=0.25)
    n_costly = int((learner.real["costs"] > 0).sum())
    assert learner.summary()["critic_unsafe_rows"] == n_costly > 0
    fracs = [learner.step()["batch_cost_frac"] for _ in range(30)]
    assert np.mean(fracs) == pytest.approx(0.25 + 0.75 * n_costly / 512, abs=0.03)
    none = _learner(0.0, unsafe_ratio=0.25)  # no costly rows: nothing to oversample, plain real batches
    assert none.unsafe is None and none.step()["batch_cost_frac"] == 0.0


def test_negative_cost_values_give_the_actor_nothing():
    """Costs are >= 0: a cost critic that extrapolates below 0 must not pull the actor (or the PID) there."""
    import torch

    learner = _learner(0.0, unsafe_ratio=0.0)
    for twin in (learner.qc, learner.qc_t):
        for head in (twin.q1, twin.q2):
            torch.nn.init.constant_(head[-1].bias, -50.0)  # Q_c = -50 everywhere
    m = learner.step()
    assert m["qc_pi"] == 0.0  # clamped: without the clamp this was about -50
    assert learner.pid.update(0.0) == 0.0


def test_a_few_counterfactual_rows_are_drawn_at_their_share_not_half_the_batch():
    learner = _learner(0.0, unsafe_ratio=0.1)
    syn = {k: v[:8].numpy().copy() for k, v in learner.real.items()}
    syn["costs"][:] = 1.0
    learner.set_synthetic(syn)  # the layer's "all" mode: a fixed synthetic_ratio of each batch
    assert learner.synthetic_share == learner.config.synthetic_ratio
    learner.set_synthetic(syn, proportional=True)  # "costly" mode: 8 rows among 512 real
    assert learner.synthetic_share == pytest.approx(8 / 520)
    assert learner.summary()["critic_unsafe_rows"] == 8  # ...and oversampled through the costly pool
    assert learner.step()["batch_cost_frac"] == pytest.approx(0.1, abs=0.03)


def test_oversampled_costly_rows_do_not_shift_the_reward_critic():
    """The costly pool is oversampled for Q_c; Q_r must still see the data at its own proportions."""
    import torch

    def mean_qr(unsafe_ratio: float) -> float:
        learner = _learner(0.05, costly_reward=10.0, synthetic_ratio=0.0, unsafe_ratio=unsafe_ratio)
        _train(learner)
        r = learner.real
        with torch.no_grad():
            s_n = learner.policy_net.norm(r["observations"].float())
            return float(learner.qr(s_n, learner._squash(r["actions"].float()))[0].mean())

    plain, oversampled = mean_qr(0.0), mean_qr(0.5)
    assert plain > 0.1  # the reward is learned at all
    # fed to Q_r, half of each batch from the paying rows would raise its scale about tenfold
    assert oversampled == pytest.approx(plain, rel=0.5)


def test_the_summary_reports_what_the_critic_charges_the_data_itself():
    """``qc_data_final``: Q_c of the data's own actions (the critic batches' real rows), beside the policy's."""
    costly = _learner(0.3, unsafe_ratio=0.0)
    s = _train(costly)
    assert s["qc_data_final"] > 1.5 * s["q_limit"]  # the data costs 0.3 per step: Q_c about 3 against ~1
    assert s["qc_data_final"] == pytest.approx(s["qc_pi_final"], rel=0.2)  # actions within phi of the data's
    cheap = _train(_learner(0.02, unsafe_ratio=0.0))
    assert cheap["qc_data_final"] < 0.5 * cheap["q_limit"]
    clone = _learner(0.3, unsafe_ratio=0.0)
    clone.load_state_dict(copy.deepcopy(costly.state_dict()))  # as from disk: no shared optimizer buffers
    assert clone.qc_data == costly.qc_data
    assert clone.step()["qc_data"] == costly.step()["qc_data"]


def test_a_data_budget_keeps_lambda_off_when_the_policy_costs_what_the_data_does():
    """Data costing 0.3 per step is priced about 3x q_limit; with data_budget the PID's limit rises to that
    price, so a policy no costlier than the data is not pushed (the plain limit drives lambda up)."""
    plain = _train(_learner(0.3, unsafe_ratio=0.0))
    budget = _train(_learner(0.3, unsafe_ratio=0.0, data_budget=True))
    assert plain["pid_limit_final"] == pytest.approx(plain["q_limit"]) and plain["lambda_final"] > 0.1
    assert budget["pid_limit_final"] == pytest.approx(budget["qc_data_final"])
    assert budget["pid_limit_final"] > 1.5 * budget["q_limit"] and budget["lambda_final"] < plain["lambda_final"]
