"""What the PROCO safety filter (`layer.shield`) adds to an evaluation: filtered vs plain episodes.

Both sides roll out the same BCQ policy (untrained networks: the time does not
depend on the weights) in the same task with the same evaluator and seeds; the
filtered side wraps it in `ShieldedPolicy` with a dynamics ensemble of the
documented size (5 members, 3 x 128) and the task's shipped knowledge rule.

    ratio = (filtered evaluation time) / (plain evaluation time)

is the factor `layer.shield` multiplies an evaluation's wall time by (1 = free).
Both timings are medians of ``--repeats`` evaluations in this run.

    PYTHONPATH=src python benchmarks/shield_overhead.py [--task HalfCheetahVelocity --horizon 3 --episodes 2]
"""

from __future__ import annotations

import safemil  # noqa: F401  # isort: skip  (first: it pins numpy's and torch's kernels, safemil.cpu_kernels)

import argparse
import statistics
import time

import numpy as np
import torch

from safemil.costs.knowledge import KnowledgeCost, default_rule
from safemil.eval import rollout
from safemil.models import DynamicsEnsemble, EnsembleConfig, Transitions
from safemil.policies import TorchPolicy
from safemil.policies.bcq import BCQPolicyNet
from safemil.proco.shield import EliteDynamics, ShieldConfig, ShieldedPolicy
from safemil.tasks import get_task


def _median_time(policy, task: str, episodes: int, num_envs: int, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        rollout(policy, task, episodes, seed=0, num_envs=num_envs, progress=False)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", default="HalfCheetahVelocity")
    p.add_argument("--horizon", type=int, default=3)
    p.add_argument("--episodes", type=int, default=2)
    p.add_argument("--num-envs", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args()
    torch.set_num_threads(1)
    spec = get_task(a.task)
    env = spec.make_env()
    low, high = env.action_space.low.copy(), env.action_space.high.copy()
    env.close()
    od, ad = spec.obs_dim, len(low)
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(512, od)).astype(np.float32)
    act = rng.uniform(-1, 1, size=(512, ad)).astype(np.float32)
    data = Transitions(obs, act, obs + 0.01 * rng.normal(size=obs.shape).astype(np.float32), np.zeros(512, np.float32))
    model = DynamicsEnsemble(data, EnsembleConfig(members=5, elites=5, hidden=(128, 128, 128)), seed=0)
    torch.manual_seed(0)
    net = BCQPolicyNet(od, ad, (128, 128), 0.05, torch.zeros(od), torch.ones(od), low, high)
    plain = TorchPolicy(net)
    filtered = ShieldedPolicy(TorchPolicy(net), EliteDynamics.from_ensemble(model),
                              KnowledgeCost(a.task, default_rule(a.task).expression),
                              ShieldConfig(horizon=a.horizon), low, high)
    t_plain = _median_time(plain, a.task, a.episodes, a.num_envs, a.repeats)
    t_filtered = _median_time(filtered, a.task, a.episodes, a.num_envs, a.repeats)
    steps = filtered.report()["steps"] / a.repeats
    print(f"task {a.task}, horizon {a.horizon}, {a.episodes} episodes on {a.num_envs} envs ({steps:.0f} steps)")
    print(f"plain evaluation:    {t_plain:.2f} s")
    print(f"filtered evaluation: {t_filtered:.2f} s (the filter replaced {100 * filtered.report()['replaced_frac']:.1f}% "
          "of the actions; the more it acts, the more it costs)")
    print(f"ratio={t_filtered / t_plain:.3f}")


if __name__ == "__main__":
    main()
