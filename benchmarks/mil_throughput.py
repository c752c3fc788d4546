"""Throughput of a MIL cost-learning step vs a plain MLP training step on the same pairs.

Both sides use the same `CostNet` size, AdamW and gradient clipping, the same
thread settings and the same number of scored (s, a) pairs per step; the
reference regresses random targets with MSE on pre-built inputs (no sampling,
no bag arithmetic). Timings alternate between the two so machine load hits
both alike; the median step time is used.

    PYTHONPATH=src python benchmarks/mil_throughput.py [--pool-size 256] [--segment-len 10] ...

Last line: ``ratio=<MIL pairs/s divided by reference pairs/s>`` (goal >= 0.8).
"""

from __future__ import annotations

import safemil  # noqa: F401  # isort: skip  (first: it pins numpy's and torch's kernels, safemil.cpu_kernels)

import argparse
import statistics
import time

import numpy as np
import torch

from safemil.costs.mil import MILConfig, MILCost
from safemil.costs.nets import CostNet
from safemil.data.dataset import LearnerView, TrajectoryIndex


def synthetic_view(
    n_traj: int, length: int, obs_dim: int, act_dim: int, rng: np.random.Generator
) -> LearnerView:
    """Random trajectories of fixed length (the content does not matter for throughput)."""
    n = n_traj * length
    obs = rng.normal(size=(n, obs_dim)).astype(np.float32)
    term = np.zeros(n, dtype=bool)
    term[length - 1 :: length] = True
    index = TrajectoryIndex(
        np.arange(n_traj, dtype=np.int64) * length, np.full(n_traj, length, dtype=np.int64)
    )
    return LearnerView(
        obs, obs, rng.uniform(-1, 1, size=(n, act_dim)).astype(np.float32), term, index
    )


class ReferenceStep:
    """One plain supervised step of the same network: MSE to fixed random targets."""

    def __init__(self, obs_dim: int, act_dim: int, n_pairs: int, cfg: MILConfig, seed: int):
        torch.manual_seed(seed)
        self.net = CostNet(obs_dim, act_dim, cfg.hidden)
        self.opt = torch.optim.AdamW(
            self.net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay
        )
        self.x = torch.randn(n_pairs, obs_dim + act_dim)
        self.y = torch.rand(n_pairs)
        self.clip = cfg.grad_clip

    def __call__(self) -> None:
        loss = torch.nn.functional.mse_loss(self.net.score_features(self.x), self.y)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.clip > 0:
            torch.nn.utils.clip_grad_norm_(self.net.parameters(), self.clip)
        self.opt.step()


def timed(fn, reps: int) -> list[float]:
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    d = MILConfig()
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pool-size", type=int, default=d.pool_size)
    p.add_argument("--segment-len", type=int, default=d.segment_len)
    p.add_argument("--bag-size", type=int, default=d.bag_size)
    p.add_argument("--n-bag-pairs", type=int, default=d.n_bag_pairs)
    p.add_argument("--obs-dim", type=int, default=8, help="SwimmerVelocity has 8")
    p.add_argument("--act-dim", type=int, default=2)
    p.add_argument("--rounds", type=int, default=10, help="alternating timing rounds")
    p.add_argument("--steps", type=int, default=5, help="steps per side per round")
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    cfg = MILConfig(
        bag_size=a.bag_size,
        segment_len=a.segment_len,
        n_bag_pairs=a.n_bag_pairs,
        pool_size=a.pool_size,
    )
    rng = np.random.default_rng(0)
    neg = synthetic_view(50, 1000, a.obs_dim, a.act_dim, rng)
    unl = synthetic_view(200, 1000, a.obs_dim, a.act_dim, rng)
    mil = MILCost(neg, unl, cfg, seed=0)
    ref = ReferenceStep(a.obs_dim, a.act_dim, mil.pairs_per_step, cfg, seed=0)

    for _ in range(3):  # warm-up
        mil.train_step()
        ref()
    t_mil: list[float] = []
    t_ref: list[float] = []
    for _ in range(a.rounds):
        t_mil += timed(mil.train_step, a.steps)
        t_ref += timed(ref, a.steps)
    n = mil.pairs_per_step
    mil_rate = n / statistics.median(t_mil)
    ref_rate = n / statistics.median(t_ref)
    print(
        f"config: K={cfg.bag_size} H={cfg.segment_len} pool={cfg.pool_size} bag_pairs={cfg.n_bag_pairs} "
        f"hidden={cfg.hidden} threads={a.threads}; pairs/step={n}"
    )
    print(
        f"MIL step:       median {statistics.median(t_mil) * 1e3:8.2f} ms  {mil_rate:12.0f} pairs/s"
    )
    print(
        f"reference step: median {statistics.median(t_ref) * 1e3:8.2f} ms  {ref_rate:12.0f} pairs/s"
    )
    naive = cfg.n_bag_pairs * cfg.bag_size * cfg.segment_len * 2
    print(
        f"(scoring every bag x K x H pair instead would score {naive} pairs/step, {naive / n:.0f}x more)"
    )
    print(f"ratio={mil_rate / ref_rate:.3f}")


if __name__ == "__main__":
    main()
