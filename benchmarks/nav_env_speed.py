"""Navigation envs: env steps/s against a bare mj_step loop on the same model, and reset time.

The bare loop is what the physics alone costs: per env step, set the action as
ctrl and call ``mj_step`` 10 times (the env's substeps) on the env's own model.
Env and bare loop run in alternating blocks so machine load hits both alike;
each task's ratio is the median over blocks, and the last line is the smallest
task ratio (target >= 0.7). Reset time is the median over seeded resets (target <= 5 ms),
as wall time and as this process's CPU time (the same when the machine is idle; on a
busy shared machine the wall time also counts waiting for a CPU).

    .venv/bin/python benchmarks/nav_env_speed.py [--blocks 15] [--block-steps 200] [--resets 100]
"""

from __future__ import annotations

import safemil  # noqa: F401  # isort: skip  (first: it pins numpy's and torch's kernels, safemil.cpu_kernels)

import argparse
import time

import mujoco
import numpy as np

from safemil.tasks.nav.config import NAV_CONFIGS
from safemil.tasks.nav.env import SUBSTEPS, NavEnv


def measure(task: str, blocks: int, block_steps: int, resets: int) -> tuple[float, float, float, float, float]:
    env = NavEnv(task)
    env.reset(seed=0)
    bare = mujoco.MjData(env.model)
    mujoco.mj_resetData(env.model, bare)
    bare.qpos[:] = env.data.qpos
    mujoco.mj_forward(env.model, bare)
    rng = np.random.default_rng(0)
    env_rates, bare_rates = [], []
    for _ in range(blocks):
        actions = rng.uniform(-1, 1, (block_steps, 2))
        t0 = time.perf_counter()
        for a in actions:
            _, _, term, trunc, _ = env.step(a)
            if term or trunc:
                env.reset()
        env_rates.append(block_steps / (time.perf_counter() - t0))
        m, d = env.model, bare
        t0 = time.perf_counter()
        for a in actions:
            d.ctrl[:] = a
            for _ in range(SUBSTEPS):
                mujoco.mj_step(m, d)
        bare_rates.append(block_steps / (time.perf_counter() - t0))
    ratio = float(np.median(np.array(env_rates) / np.array(bare_rates)))
    wall, cpu = [], []
    for seed in range(resets):
        t0, c0 = time.perf_counter(), time.process_time()
        env.reset(seed=seed)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return (float(np.median(env_rates)), float(np.median(bare_rates)), ratio, 1e3 * float(np.median(wall)),
            1e3 * float(np.median(cpu)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", nargs="*", default=list(NAV_CONFIGS))
    ap.add_argument("--blocks", type=int, default=15)
    ap.add_argument("--block-steps", type=int, default=200)
    ap.add_argument("--resets", type=int, default=100)
    args = ap.parse_args()
    ratios, resets, cpus = [], [], []
    for task in args.tasks:
        env_sps, bare_sps, ratio, reset_ms, reset_cpu = measure(task, args.blocks, args.block_steps, args.resets)
        ratios.append(ratio)
        resets.append(reset_ms)
        cpus.append(reset_cpu)
        print(f"{task}: env {env_sps:.0f} steps/s, bare mj_step x{SUBSTEPS} {bare_sps:.0f} steps/s, "
              f"ratio {ratio:.2f}, reset {reset_ms:.2f} ms wall / {reset_cpu:.2f} ms CPU (medians)")
    print(f"reset_ms={max(resets):.2f} wall, {max(cpus):.2f} CPU  (slowest task's median)")
    print(f"ratio={min(ratios):.3f}")


if __name__ == "__main__":
    main()
