"""The reachability value marks states that must violate within k steps, and only those."""

import numpy as np
import torch

from safemil.proco.critics import CriticConfig, FeasibilityCritic

# A 7-state chain, one-hot states, actions {-1: left, +1: right}. State 6 is unsafe (entering it costs 1).
# States 4 and 5 are "slippery": both actions move right, so from 4 a violation is certain within 2 steps.
# From 0..3 moving left is always possible, so they are feasible (3 is one step from the trap, yet safe).
N = 7


def _step(s: int, a: int) -> int:
    if s >= 4:
        return min(s + 1, N - 1)
    return max(0, s + a)


def _chain():
    obs, act, nxt, cost, done = [], [], [], [], []
    for s in range(N):
        for a in (-1, 1):
            s2 = _step(s, a)
            obs.append(np.eye(N)[s])
            act.append([a])
            nxt.append(np.eye(N)[s2])
            cost.append(1.0 if s2 == N - 1 else 0.0)
            done.append(0.0)
    f = lambda x: torch.tensor(np.asarray(x), dtype=torch.float32)  # noqa: E731
    return f(obs), f(act), f(nxt), f(cost), f(done)


def test_feasibility_marks_states_that_must_violate():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    s, a, s2, c, d = _chain()
    critic = FeasibilityCritic(s.numpy(), a.numpy(), CriticConfig(hidden=(32, 32), lr=3e-3, gamma=0.9, expectile=0.99))
    for _ in range(400):
        critic.step(s, a, s2, c, d)
    v = critic.v(torch.eye(N)).numpy()
    assert np.all(v[4:] > 0), v  # must violate within 2 steps whatever the agent does
    assert np.all(v[:4] < 0), v  # can always stay away
    q = critic.q(torch.eye(N)[[3, 3]], torch.tensor([[-1.0], [1.0]])).numpy()
    assert q[0] < 0 < q[1]  # at 3, stepping right enters the infeasible region


def test_fisor_weights_follow_the_three_cases():
    from safemil.algos.proco import ProcoConfig, fisor_weights

    c = ProcoConfig()
    v_h = np.array([0.5, 0.5, -1.0, -1.0, -1.0])
    q_h = np.array([0.3, 2.0, -0.5, 0.2, -0.9])
    adv = np.array([0.0, 0.0, 1.0, 1.0, -1.0])
    w = fisor_weights(v_h, q_h, adv, c)
    s = adv.std()
    np.testing.assert_allclose(w[:2], np.exp(5 * (v_h[:2] - q_h[:2])))  # infeasible: reduce the violation
    assert w[0] > 1 > w[1]
    np.testing.assert_allclose(w[2], np.exp(3 * 1.0 / s))  # feasible, stays feasible: reward advantage
    assert w[3] == c.min_weight  # feasible, but the action leaves the feasible region
    np.testing.assert_allclose(w[4], np.exp(-3 / s))
