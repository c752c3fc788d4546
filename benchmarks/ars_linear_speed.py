"""Env steps per second of the linear ARS trainer against a bare loop over the same simulator.

`LinearARS.update` rolls its 2N perturbed policies out in lock-step: one batched matrix
product per step, then one `step` per env. Its only overhead over the simulator should be
that product and the reward wrapper (`SpeedCommandEnv`). This measures, in the same run,
env steps/s of ``--updates`` ARS updates and of a loop stepping the bare task envs (the same
count, the same episode length) with fixed actions.

Usage::

    PYTHONPATH=src python benchmarks/ars_linear_speed.py [--task SwimmerVelocity] [--updates 3] [--n-delta 8]

Last line: ``ratio=<ARS env steps/s / bare-loop env steps/s>`` (1.0 = no overhead).
"""

from __future__ import annotations

import safemil  # noqa: F401  # isort: skip  (first: it pins numpy's and torch's kernels, safemil.cpu_kernels)

import argparse
import time

import numpy as np

from safemil.collect.ars import LinearARS
from safemil.collect.speed_env import SpeedCommandEnv
from safemil.tasks import get_task


def bare_steps_per_s(task: str, n_envs: int, episodes: int) -> float:
    """Step ``n_envs`` raw task envs through ``episodes`` rounds of whole episodes, actions fixed."""
    envs = [get_task(task).make_env() for _ in range(n_envs)]
    act = np.zeros(envs[0].action_space.shape, dtype=np.float32)
    steps = 0
    t0 = time.perf_counter()
    for ep in range(episodes):
        for e in envs:
            e.reset(seed=ep)
        alive = [True] * n_envs
        while any(alive):
            for i, e in enumerate(envs):
                if alive[i]:
                    _, _, term, trunc, _ = e.step(act)
                    steps += 1
                    alive[i] = not (term or trunc)
    return steps / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="SwimmerVelocity")
    ap.add_argument("--updates", type=int, default=3)
    ap.add_argument("--n-delta", type=int, default=8)
    args = ap.parse_args()
    envs = [SpeedCommandEnv(args.task, reward="task", schedule=(1.0,)) for _ in range(2 * args.n_delta)]
    search = LinearARS(envs, args.n_delta, args.n_delta // 2, delta_std=0.1, step_size=0.1, seed=0)
    t0 = time.perf_counter()
    for _ in range(args.updates):
        search.update()
    ours = search.env_steps / (time.perf_counter() - t0)
    bare = bare_steps_per_s(args.task, 2 * args.n_delta, args.updates)
    print(f"{args.task}: {2 * args.n_delta} envs, {args.updates} updates")
    print(f"linear ARS  {ours:10.0f} env steps/s")
    print(f"bare loop   {bare:10.0f} env steps/s")
    print(f"ratio={ours / bare:.3f}")


if __name__ == "__main__":
    main()
