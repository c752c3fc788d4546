"""Shared by the step-time benchmarks: synthetic label-free data and interleaved CPU timing of steps."""

from __future__ import annotations

import time

import numpy as np

from safemil.data.dataset import LearnerView, TrajectoryIndex


def view(n_traj: int, length: int, obs_dim: int, act_dim: int, rng: np.random.Generator) -> LearnerView:
    """``n_traj`` trajectories of ``length`` steps with random observations and actions in (-1, 1)."""
    n = n_traj * length
    obs = rng.normal(size=(n, obs_dim)).astype(np.float32)
    act = np.tanh(rng.normal(size=(n, act_dim))).astype(np.float32)
    index = TrajectoryIndex(np.arange(n_traj, dtype=np.int64) * length, np.full(n_traj, length, dtype=np.int64))
    return LearnerView(obs, np.roll(obs, -1, 0), act, np.zeros(n, dtype=bool), index)


class Timer:
    """Times ``n`` consecutive ``train_step`` calls of one algorithm from step ``first`` on, continuing
    where it left off; every returned metric is converted to a float, as the runner does."""

    def __init__(self, algo, first: int):
        self.algo, self.next = algo, first
        self.samples: list[float] = []

    def run(self, n: int) -> None:
        t0 = time.process_time()
        for s in range(self.next, self.next + n):
            for v in self.algo.train_step(s).values():
                float(v)
        self.next += n
        self.samples.append((time.process_time() - t0) / n * 1e3)


def median_ms(timers: dict[str, Timer], rounds: int, steps: int) -> dict[str, float]:
    """CPU ms per step of each timer: 3 warm-up steps, then the median of ``rounds`` interleaved rounds
    (one thread, CPU time of this process: load from other jobs hits every timer alike)."""
    for t in timers.values():
        t.run(3)
        t.samples.clear()
    for _ in range(rounds):
        for t in timers.values():
            t.run(steps)
    return {k: float(np.median(t.samples)) for k, t in timers.items()}
