"""Evaluator throughput vs the raw simulator, per task, measured in the same run.

Reference: the plain gymnasium env stepped with random actions (no policy).
Ours: `safemil.eval.rollout` with a 256x256 torch MLP policy over 8 envs.
Prints steps/s for both and their ratio; the last line is the worst ratio.

    .venv/bin/python benchmarks/eval_throughput.py [--steps 4000]
"""

from __future__ import annotations

import argparse
import time
import warnings

import gymnasium as gym
import numpy as np
import torch

from safemil.eval import rollout
from safemil.tasks import list_tasks


class MLPPolicy:
    def __init__(self, obs_dim: int, act_dim: int):
        self.net = torch.nn.Sequential(
            torch.nn.Linear(obs_dim, 256), torch.nn.ReLU(),
            torch.nn.Linear(256, 256), torch.nn.ReLU(),
            torch.nn.Linear(256, act_dim), torch.nn.Tanh(),
        )

    @torch.inference_mode()
    def act(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        return self.net(torch.as_tensor(obs, dtype=torch.float32)).numpy()


def raw_steps_per_s(spec, steps: int) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        env = gym.make(spec.gym_id, **spec.gym_kwargs)
    env.reset(seed=0)
    env.action_space.seed(0)
    t = time.perf_counter()
    for _ in range(steps):
        _, _, term, trunc, _ = env.step(env.action_space.sample())
        if term or trunc:
            env.reset()
    return steps / (time.perf_counter() - t)


def ours_steps_per_s(spec, steps: int, num_envs: int) -> float:
    """Full evaluations (env construction, resets and falls included) until ``steps`` are done."""
    pol = MLPPolicy(spec.obs_dim, spec.act_dim)
    done, seed = 0, 0
    t = time.perf_counter()
    while done < steps:
        res = rollout(pol, spec.name, episodes=4 * num_envs, seed=seed, num_envs=num_envs,
                      progress=False, max_steps=max(1, steps // (4 * num_envs)))
        done += int(res.lengths.sum())
        seed += 4 * num_envs
    return done / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=8000)
    ap.add_argument("--num-envs", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    ratios = []
    print(f"{'task':22s} {'raw steps/s':>12s} {'eval steps/s':>13s} {'ratio':>6s}")
    for spec in list_tasks():
        # interleave and keep the best of each: robust to a noisy shared machine
        raw = max(raw_steps_per_s(spec, args.steps) for _ in range(args.repeats))
        ours = max(ours_steps_per_s(spec, args.steps, args.num_envs) for _ in range(args.repeats))
        ratios.append(ours / raw)
        print(f"{spec.name:22s} {raw:12.0f} {ours:13.0f} {ours / raw:6.2f}")
    print(f"ratio={min(ratios):.3f}")


if __name__ == "__main__":
    main()
