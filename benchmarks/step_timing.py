"""Shared by the step-time benchmarks: synthetic label-free data and interleaved CPU timing of steps."""

from __future__ import annotations

import safemil  # noqa: F401  # isort: skip  (first: it pins numpy's and torch's kernels, safemil.cpu_kernels)

import time
from collections.abc import Callable

import numpy as np

from safemil.algos import LearnerData, get_algo
from safemil.config import apply_overrides
from safemil.data.dataset import LearnerView, TrajectoryIndex


def view(n_traj: int, length: int, obs_dim: int, act_dim: int, rng: np.random.Generator) -> LearnerView:
    """``n_traj`` trajectories of ``length`` steps with random observations and actions in (-1, 1)."""
    n = n_traj * length
    obs = rng.normal(size=(n, obs_dim)).astype(np.float32)
    act = np.tanh(rng.normal(size=(n, act_dim))).astype(np.float32)
    index = TrajectoryIndex(np.arange(n_traj, dtype=np.int64) * length, np.full(n_traj, length, dtype=np.int64))
    return LearnerView(obs, np.roll(obs, -1, 0), act, np.zeros(n, dtype=bool), index)


def halfcheetah_shaped_data(seed: int = 0) -> LearnerData:
    """D_N of 50 and D_U of 200 synthetic 1,000-step trajectories with HalfCheetahVelocity's sizes."""
    rng = np.random.default_rng(seed)
    return LearnerData(task="HalfCheetahVelocity", negative=view(50, 1000, 17, 6, rng),
                       unlabeled=view(200, 1000, 17, 6, rng), act_low=-np.ones(6), act_high=np.ones(6),
                       cost_limit=25.0)


def build(name: str, data: LearnerData, overrides: list[str] | None = None):
    """Algorithm ``name`` with its config class's defaults plus ``overrides``, seed 0."""
    spec = get_algo(name)
    return spec.factory(apply_overrides(spec.config_cls(), overrides or []), data, 0)


class Stepper:
    """Times ``n`` consecutive calls of a zero-argument ``step``, one CPU-ms-per-call sample per ``run``."""

    def __init__(self, step: Callable[[], object]):
        self.step = step
        self.samples: list[float] = []

    def run(self, n: int) -> None:
        t0 = time.process_time()
        for _ in range(n):
            self.step()
        self.samples.append((time.process_time() - t0) / n * 1e3)


def floats(metrics: dict) -> None:
    """Convert every returned metric to a float, as the runner does (it waits for the value)."""
    for v in metrics.values():
        float(v)


class Timer(Stepper):
    """Times an algorithm's consecutive ``train_step`` calls from step ``first`` on, continuing where it
    left off; every returned metric is converted to a float, as the runner does."""

    def __init__(self, algo, first: int):
        super().__init__(self._train_step)
        self.algo, self.next = algo, first

    def _train_step(self) -> None:
        floats(self.algo.train_step(self.next))
        self.next += 1


def median_ms(timers: dict[str, Stepper], rounds: int, steps: int, warmup: int = 3) -> dict[str, float]:
    """CPU ms per step of each timer: ``warmup`` steps, then the median of ``rounds`` interleaved rounds
    (one thread, CPU time of this process: load from other jobs hits every timer alike)."""
    for t in timers.values():
        t.run(warmup)
        t.samples.clear()
    for _ in range(rounds):
        for t in timers.values():
            t.run(steps)
    return {k: float(np.median(t.samples)) for k, t in timers.items()}
