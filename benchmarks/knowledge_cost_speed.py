"""Speed of a compiled knowledge cost against the same rule written by hand, numpy and torch.

The compiled cost walks a tree of closures once per batch (not per row), so on
large batches it should cost about what hand-written array code costs. For each
rule and library this measures best-of-``--repeats`` time per batch of
``--batch`` observations, for the compiled cost and for the hand-written
reference, in the same run.

Usage::

    PYTHONPATH=src python benchmarks/knowledge_cost_speed.py [--batch 1000000] [--repeats 5]

Last line: ``ratio=<worst compiled time / hand-written time>`` (1.0 = as fast as hand-written).
"""

from __future__ import annotations

import safemil  # noqa: F401  # isort: skip  (first: it pins numpy's and torch's kernels, safemil.cpu_kernels)

import argparse
import time

import numpy as np
import torch

from safemil.costs.knowledge import KnowledgeCost

THR = 2.6222
IX, IY, IZ = 13, 14, 0  # Ant: x_velocity, y_velocity, z_position

RULES = {
    "norm(x_velocity, y_velocity) > 2.6222": (
        lambda x: (np.sqrt(x[:, IX] * x[:, IX] + x[:, IY] * x[:, IY]) > THR).astype(x.dtype),
        lambda x: (torch.sqrt(x[:, IX] * x[:, IX] + x[:, IY] * x[:, IY]) > THR).to(x.dtype),
    ),
    "x_velocity > 2.6222 or (z_position < 0.3 and abs(y_velocity) > 1)": (
        lambda x: ((x[:, IX] > THR) | ((x[:, IZ] < 0.3) & (np.abs(x[:, IY]) > 1))).astype(x.dtype),
        lambda x: ((x[:, IX] > THR) | ((x[:, IZ] < 0.3) & (torch.abs(x[:, IY]) > 1))).to(x.dtype),
    ),
}


def best_time(fn, x, repeats: int) -> float:
    fn(x)  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    x_np = np.random.default_rng(0).normal(0, 2, size=(args.batch, 27)).astype(np.float32)
    x_t = torch.from_numpy(x_np)
    worst = 0.0
    print(f"batch {args.batch} x 27 float32, best of {args.repeats}, torch threads {args.threads}")
    print(f"{'rule':<66} {'lib':<6} {'compiled ms':>12} {'by hand ms':>11} {'ratio':>6}")
    for rule, (ref_np, ref_t) in RULES.items():
        cost = KnowledgeCost("AntVelocity", rule)
        assert np.array_equal(cost(x_np), ref_np(x_np)), rule
        assert torch.equal(cost(x_t), ref_t(x_t)), rule
        for lib, x, ref in (("numpy", x_np, ref_np), ("torch", x_t, ref_t)):
            tc, th = best_time(cost, x, args.repeats), best_time(ref, x, args.repeats)
            worst = max(worst, tc / th)
            print(f"{rule:<66} {lib:<6} {tc * 1e3:>12.3f} {th * 1e3:>11.3f} {tc / th:>6.2f}")
    print(f"ratio={worst:.3f}")


if __name__ == "__main__":
    main()
