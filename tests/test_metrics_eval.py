import numpy as np
import pytest

from safemil.eval import (
    IMMOBILE_SPEED_SHARE,
    RandomPolicy,
    bootstrap_ci,
    cvar,
    evaluate,
    immobile_episodes,
    normalized_cost,
    normalized_return,
    rollout,
)
from safemil.tasks import get_task


def test_normalized_scores_by_hand():
    ref = get_task("HopperVelocity").reference
    r = np.array([ref.min_episode_reward, ref.max_episode_reward])
    assert np.allclose(normalized_return(r, "HopperVelocity"), [0.0, 1.0])
    assert normalized_cost(50.0, 25.0) == pytest.approx(2.0)
    assert normalized_cost(0.0, 0.0) == pytest.approx(1.0)  # eps = 1 when the limit is 0
    assert normalized_cost(3.0, 0.0) == pytest.approx(4.0)


def test_cvar_by_hand():
    v = np.array([0, 10, 20, 30, 40, 50, 60, 70, 80, 90], dtype=float)
    assert cvar(v, 0.1) == 90
    assert cvar(v, 0.2) == 85
    assert cvar(v, 0.5) == 70
    assert cvar(v, 1.0) == 45
    assert cvar(np.array([5.0, 1.0, 3.0]), 0.2) == 5.0  # at least one value
    with pytest.raises(ValueError):
        cvar(v, 0.0)


def test_bootstrap_ci_contains_mean_and_shrinks():
    rng = np.random.default_rng(0)
    small = rng.normal(size=10)
    big = rng.normal(size=1000)
    lo, hi = bootstrap_ci(small)
    assert lo < small.mean() < hi
    lo2, hi2 = bootstrap_ci(big)
    assert hi2 - lo2 < hi - lo
    assert bootstrap_ci(np.array([2.0])) == (2.0, 2.0)
    assert bootstrap_ci(small, seed=3) == bootstrap_ci(small, seed=3)


class _Deterministic:
    """A deterministic open-loop-ish policy: action depends on the observation only."""

    def __init__(self, act_dim):
        self.w = np.random.default_rng(0).normal(size=(act_dim,)) * 3

    def act(self, obs, deterministic=True):
        return np.clip(np.tanh(obs[:, :1] * self.w), -1, 1)


def _single_env_episode(task, policy, seed):
    env = get_task(task).make_env()
    o, _ = env.reset(seed=seed)
    R = C = n = 0
    while True:
        o, r, term, trunc, info = env.step(policy.act(o[None])[0])
        R += r
        C += info["cost"]
        n += 1
        if term or trunc:
            return R, C, n


def test_no_phantom_steps_and_env_count_invariance():
    """Episodes that end early (Hopper falls) must match a plain single-env rollout exactly."""
    task = "HopperVelocity"
    pol = _Deterministic(3)
    res3 = rollout(pol, task, episodes=5, seed=10, num_envs=3, progress=False)
    res1 = rollout(pol, task, episodes=5, seed=10, num_envs=1, progress=False)
    assert np.array_equal(res3.lengths, res1.lengths)
    assert np.allclose(res3.returns, res1.returns)
    for i in range(5):
        R, C, n = _single_env_episode(task, pol, 10 + i)
        assert res3.lengths[i] == n
        assert res3.returns[i] == pytest.approx(R)
        assert res3.costs[i] == C
    assert res3.lengths.max() < 1000  # episodes really ended early, so autoreset mattered


def test_recorded_rollout_is_consistent():
    spec = get_task("SwimmerVelocity")
    env = spec.make_env()
    res = rollout(RandomPolicy(env.action_space.low, env.action_space.high), spec.name, episodes=3,
                  num_envs=2, progress=False, max_steps=40, record=True)
    ds = res.dataset
    assert len(ds.index) == 3 and (ds.index.lengths == 40).all()
    assert np.allclose(ds.trajectory_returns(), res.returns, atol=1e-4)
    assert np.array_equal(ds.trajectory_costs(), res.costs)
    assert np.array_equal(ds.observations[1:40], ds.next_observations[0:39])


def test_evaluate_keys():
    spec = get_task("SwimmerVelocity")
    env = spec.make_env()
    m = evaluate(RandomPolicy(env.action_space.low, env.action_space.high), spec.name, episodes=2, progress=False)
    for k in ("normalized_return", "normalized_cost", "cvar20_cost", "cvar10_cost", "cvar50_cost",
              "mean_return", "mean_cost", "cost_limit", "episodes", "task"):
        assert k in m
    assert m["normalized_cost"] == pytest.approx(m["mean_cost"] / 25.0)
    assert m["cvar20_cost"] == pytest.approx(max(m["episode_costs"]) / 25.0)


def test_immobile_episodes_by_hand():
    thr = get_task("SwimmerVelocity").cost_threshold
    speeds = np.array([0.0, -0.5, 0.99 * IMMOBILE_SPEED_SHARE * thr, IMMOBILE_SPEED_SHARE * thr, 0.5])
    assert immobile_episodes(speeds, thr).tolist() == [True, True, True, False, False]


class _Still:
    """Zero torques: the swimmer lies still."""

    def act(self, obs, deterministic=True):
        return np.zeros((len(obs), 2), dtype=np.float32)


class _Recorded:
    """Replays the first actions of a logged episode in every env (a swimmer that swims)."""

    def __init__(self, actions: np.ndarray):
        self.actions, self.t = actions, 0

    def act(self, obs, deterministic=True):
        a = np.repeat(self.actions[self.t % len(self.actions)][None], len(obs), axis=0)
        self.t += 1
        return a


def test_evaluate_counts_episodes_that_barely_moved():
    thr = get_task("SwimmerVelocity").cost_threshold
    m = evaluate(_Still(), "SwimmerVelocity", episodes=4, num_envs=2, progress=False)
    assert m["immobile_episodes"] == 4  # it only drifts on its reset velocity (under 0.13x the threshold)
    assert max(abs(v) for v in m["episode_mean_speeds"]) < 0.13 * thr
    # a stroke: both joints driven in quadrature at a swimmer's pace moves it forward, past the mark
    t = np.arange(1000)
    stroke = np.stack([np.sin(2 * np.pi * t / 40), np.sin(2 * np.pi * t / 40 - np.pi / 2)], 1).astype(np.float32)
    m = evaluate(_Recorded(stroke), "SwimmerVelocity", episodes=1, num_envs=1, progress=False)
    assert m["immobile_episodes"] == 0, m["episode_mean_speeds"]
    assert m["episode_mean_speeds"][0] > IMMOBILE_SPEED_SHARE * thr


def test_navigation_tasks_do_not_count_immobile_episodes():
    spec = get_task("PointCircle2")
    env = spec.make_env()
    m = evaluate(RandomPolicy(env.action_space.low, env.action_space.high), spec.name, episodes=1, num_envs=1,
                 progress=False)
    assert "immobile_episodes" not in m and "episode_mean_speeds" not in m


def test_the_cli_warns_when_episodes_barely_moved():
    from safemil.cli.evaluate import immobile_warning

    m = {"algo": "safemil", "task": "Walker2dVelocity", "episodes": 20}
    assert immobile_warning({**m, "immobile_episodes": 0}) is None and immobile_warning(m) is None
    assert "barely moved in 15 of 20 episodes on Walker2dVelocity" in immobile_warning({**m, "immobile_episodes": 15})
