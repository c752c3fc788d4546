"""Evaluator throughput against the raw simulator, measured in the same run.

Reference: ``num_envs`` plain gymnasium envs of the task (the same env factory, cost wrapper
included), stepped one after another with actions drawn before the clock starts: the least
any evaluator has to do. Ours: `safemil.eval.rollout` over the same number of lock-step envs
with a 256x256 torch MLP policy (one batched call per step), full episodes, resets and falls
included. Each side keeps its best of ``--repeats`` interleaved rounds, which is robust to a
busy machine. Prints steps/s and their ratio per task; the last line is the lowest ratio.

    .venv/bin/python benchmarks/eval_throughput.py [--tasks HalfCheetahVelocity,AntVelocity] [--steps 5000]
"""

from __future__ import annotations

import safemil  # noqa: F401  # isort: skip  (first: it pins numpy's and torch's kernels, safemil.cpu_kernels)

import argparse
import time

import numpy as np
import torch

from safemil.eval import rollout
from safemil.tasks import get_task


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


def raw_steps_per_s(spec, steps: int, num_envs: int) -> float:
    """``steps`` env steps spread over ``num_envs`` envs, actions pre-drawn, resets included."""
    envs = [spec.make_env() for _ in range(num_envs)]
    for i, env in enumerate(envs):
        env.reset(seed=i)
    rng = np.random.default_rng(0)
    low, high = envs[0].action_space.low, envs[0].action_space.high
    actions = rng.uniform(low, high, size=(steps // num_envs + 1, num_envs, len(low))).astype(np.float32)
    t = time.perf_counter()
    done = 0
    for row in actions:
        for env, a in zip(envs, row, strict=True):
            _, _, term, trunc, _ = env.step(a)
            if term or trunc:
                env.reset()
        done += num_envs
        if done >= steps:
            break
    elapsed = time.perf_counter() - t
    for env in envs:
        env.close()
    return done / elapsed


def ours_steps_per_s(spec, steps: int, num_envs: int) -> float:
    """Full evaluations (env construction, resets and falls included) until ``steps`` are done."""
    pol = MLPPolicy(spec.obs_dim, spec.act_dim)
    done, seed = 0, 0
    t = time.perf_counter()
    while done < steps:
        res = rollout(pol, spec.name, episodes=num_envs, seed=seed, num_envs=num_envs, progress=False,
                      max_steps=max(1, steps // num_envs))
        done += int(res.lengths.sum())
        seed += num_envs
    return done / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", default="HalfCheetahVelocity,AntVelocity")
    ap.add_argument("--steps", type=int, default=5000)
    ap.add_argument("--num-envs", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    ratios = []
    print(f"{'task':22s} {'raw steps/s':>12s} {'eval steps/s':>13s} {'ratio':>6s}")
    for name in (t.strip() for t in args.tasks.split(",") if t.strip()):
        spec = get_task(name)
        raw, ours = 0.0, 0.0
        for _ in range(args.repeats):  # interleaved: a load spike hits both sides alike
            raw = max(raw, raw_steps_per_s(spec, args.steps, args.num_envs))
            ours = max(ours, ours_steps_per_s(spec, args.steps, args.num_envs))
        ratios.append(ours / raw)
        print(f"{spec.name:22s} {raw:12.0f} {ours:13.0f} {ours / raw:6.2f}")
    print(f"ratio={min(ratios):.3f}")


if __name__ == "__main__":
    main()
