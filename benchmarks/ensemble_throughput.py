"""Dynamics-ensemble training speed: E members in one batched network vs one member trained alone.

Both sides run the same `DynamicsEnsemble.train_step` (bootstrap gather,
forward, Gaussian NLL, backward, AdamW) on the same data; the reference is a
1-member ensemble, i.e. a single member trained alone on a batch of the same
size. Training E members one after another would cost E x that time, so

    ratio = E x (single-member step time) / (E-member ensemble step time)

is how many times faster the batched ensemble is than E separate members
(> 1 means batching pays; E would mean the ensemble costs no more than one member).
Both timings are medians of repeated blocks measured in this run.

    PYTHONPATH=src python benchmarks/ensemble_throughput.py [--members 7 --hidden 200 --layers 4 --batch 256]
"""

from __future__ import annotations

import safemil  # noqa: F401  # isort: skip  (first: it pins numpy's and torch's kernels, safemil.cpu_kernels)

import argparse
import statistics
import time

import numpy as np
import torch

from safemil.models import DynamicsEnsemble, EnsembleConfig, Transitions


def _steps_per_s(model: DynamicsEnsemble, steps: int, blocks: int) -> float:
    for _ in range(3):
        model.train_step()
    times = []
    for _ in range(blocks):
        t = time.perf_counter()
        for _ in range(steps):
            model.train_step()
        times.append((time.perf_counter() - t) / steps)
    return 1.0 / statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--members", type=int, default=7)
    p.add_argument("--hidden", type=int, default=200)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--obs-dim", type=int, default=17)
    p.add_argument("--act-dim", type=int, default=6)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--blocks", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    rng = np.random.default_rng(0)
    n = 20_000
    data = Transitions(rng.normal(size=(n, a.obs_dim)).astype(np.float32),
                       rng.uniform(-1, 1, size=(n, a.act_dim)).astype(np.float32),
                       rng.normal(size=(n, a.obs_dim)).astype(np.float32),
                       rng.normal(size=n).astype(np.float32))
    hidden = (a.hidden,) * a.layers
    ens = DynamicsEnsemble(data, EnsembleConfig(members=a.members, elites=min(5, a.members), hidden=hidden,
                                                batch_size=a.batch), seed=0)
    one = DynamicsEnsemble(data, EnsembleConfig(members=1, elites=1, hidden=hidden, batch_size=a.batch), seed=0)
    ens_rate = _steps_per_s(ens, a.steps, a.blocks)
    one_rate = _steps_per_s(one, a.steps, a.blocks)
    ratio = a.members * (1.0 / one_rate) / (1.0 / ens_rate)
    print(f"members={a.members} hidden={a.hidden}x{a.layers} batch={a.batch} threads={a.threads}")
    print(f"ensemble ({a.members} members, batched): {ens_rate:.1f} steps/s")
    print(f"single member alone:                    {one_rate:.1f} steps/s")
    print(f"{a.members} members one after another would run at {one_rate / a.members:.1f} steps/s")
    print(f"ratio={ratio:.2f}")


if __name__ == "__main__":
    main()
