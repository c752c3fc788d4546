"""Our BC update against a minimal torch loop training the same model, measured in the same run.

Reference: the loop a single-file implementation would write: the same actor network (the
default ``bc.actor``, a 256x256 MLP), the same batch (256 (s, a) pairs drawn uniformly from
tensors already in memory), the same optimiser (AdamW, same lr and weight decay) and the same
loss (the actor's own NLL, or squared error for a deterministic actor), with no gradient
clipping, no weights and nothing logged. Ours: `WeightedBC.step` as BC-U calls it
(segments of H steps, masks, weights, clipping, the metrics it returns, converted to floats
the way the runner does). Both sides run in this process on one torch thread and keep the
median of ``--rounds`` interleaved rounds of CPU time, so load from other jobs hits both alike.

A second line compares against a minimal loop with a plain MSE loss on a deterministic head
(what the loss itself costs). The last line is ``ratio=<ours / same-model minimal loop>``.

    .venv/bin/python benchmarks/bc_step_overhead.py [--actor mixture] [--steps 200 --rounds 7]
"""

from __future__ import annotations

import safemil  # noqa: F401  # isort: skip  (first: it pins numpy's and torch's kernels, safemil.cpu_kernels)

import argparse

import numpy as np
import torch
from step_timing import Stepper, floats, median_ms, view

from safemil.data.dataset import LearnerView
from safemil.policies import BCConfig, WeightConfig, WeightedBC
from safemil.policies.actors import ActorConfig, make_actor

OBS_DIM, ACT_DIM, N_TRAJ, LENGTH = 17, 6, 200, 1000  # shaped like HalfCheetahVelocity's D_U


class MinimalLoop:
    """Uniform minibatches from in-memory tensors, loss, backward, AdamW step: nothing else."""

    def __init__(self, view: LearnerView, config: BCConfig, mse_head: bool = False):
        actor_cfg = ActorConfig(kind="deterministic", hidden=config.actor.hidden) if mse_head else config.actor
        self.actor = make_actor(actor_cfg, OBS_DIM, ACT_DIM)
        self.mse = actor_cfg.kind == "deterministic"
        self.obs = torch.from_numpy(view.observations)
        self.act = torch.from_numpy(view.actions)
        self.opt = torch.optim.AdamW(self.actor.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        self.batch = config.batch_size

    def step(self) -> None:
        i = torch.randint(0, len(self.obs), (self.batch,))
        obs, act = self.obs[i], self.act[i]
        per = self.actor.sq_error(obs, act) if self.mse else self.actor.nll(obs, act)
        loss = per.mean()
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--actor", default="mixture", choices=["mixture", "gaussian", "deterministic"])
    ap.add_argument("--steps", type=int, default=200, help="updates per timing round")
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    view_u = view(N_TRAJ, LENGTH, OBS_DIM, ACT_DIM, np.random.default_rng(0))
    config = BCConfig(actor=ActorConfig(kind=args.actor), weights=WeightConfig(kind="none"))
    ours = WeightedBC(view_u, config, seed=0)
    med = median_ms({"minimal loop, same model": Stepper(MinimalLoop(view_u, config).step),
                     "minimal loop, MSE head": Stepper(MinimalLoop(view_u, config, mse_head=True).step),
                     "ours (WeightedBC.step)": Stepper(lambda: floats(ours.step(None)))},
                    args.rounds, args.steps, warmup=20)
    ref = med["minimal loop, same model"]
    print(f"actor={args.actor} batch={config.batch_size} hidden={config.actor.hidden} threads=1")
    for k, v in med.items():
        print(f"{k:28s} {v:7.3f} CPU ms/step  x{v / ref:5.2f}")
    print(f"ours / minimal MSE loop: {med['ours (WeightedBC.step)'] / med['minimal loop, MSE head']:.3f}")
    print(f"ratio={med['ours (WeightedBC.step)'] / ref:.3f}")


if __name__ == "__main__":
    main()
