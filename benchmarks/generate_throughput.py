"""Dataset generation speed vs the bare simulator, measured in the same run.

Per task: steps/s of `safemil.collect.generate_dataset` (shipped behaviour
policy, lock-stepped envs, batched numpy actor, noise, recording) against
steps/s of the plain gymnasium env stepped with uniform random actions. The
last line is ``ratio=<worst task>``; the goal is >= 0.5 on every task.

    PYTHONPATH=src python benchmarks/generate_throughput.py [--episodes 48] [--tasks ...]
"""

from __future__ import annotations

import safemil  # noqa: F401  # isort: skip  (first: it pins numpy's and torch's kernels, safemil.cpu_kernels)

import argparse
import time
import warnings

import gymnasium as gym
import numpy as np

from safemil.collect import default_config, generate_dataset, load_behaviour_policy
from safemil.tasks import get_task, list_tasks


def raw_steps_per_s(task: str, steps: int, seed: int = 0) -> float:
    spec = get_task(task)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        env = gym.make(spec.gym_id, disable_env_checker=True, **spec.gym_kwargs)
    rng = np.random.default_rng(seed)
    low, high = env.action_space.low, env.action_space.high
    actions = rng.uniform(low, high, size=(steps, len(low))).astype(np.float32)
    t0 = time.perf_counter()
    env.reset(seed=seed)
    for i in range(steps):
        _, _, term, trunc, _ = env.step(actions[i])
        if term or trunc:
            env.reset()
    dt = time.perf_counter() - t0
    env.close()
    return steps / dt


def generate_steps_per_s(task: str, episodes: int) -> float:
    actor = load_behaviour_policy(task)
    cfg = default_config(task, episodes=episodes, seed=123)
    t0 = time.perf_counter()
    ds = generate_dataset(task, cfg, actor, progress=False)
    return len(ds) / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=48)
    ap.add_argument("--tasks", nargs="*", default=[t.name for t in list_tasks()])
    args = ap.parse_args()
    ratios = []
    print(f"{'task':22s} {'generate steps/s':>17s} {'raw env steps/s':>16s} {'ratio':>6s}")
    for task in args.tasks:
        gen = generate_steps_per_s(task, args.episodes)
        raw = raw_steps_per_s(task, steps=20_000)
        ratios.append(gen / raw)
        print(f"{task:22s} {gen:17.0f} {raw:16.0f} {gen / raw:6.2f}", flush=True)
    print(f"ratio={min(ratios):.3f}")


if __name__ == "__main__":
    main()
