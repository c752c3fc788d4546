"""A SafeDICE policy step (one DICE value update + one advantage-weighted BC update) against a plain BC step.

Both are built with their default configs on synthetic data shaped like HalfCheetahVelocity
(D_N 50 and D_U 200 trajectories of 1,000 steps, obs 17, act 6) and timed in this process on one
torch thread: CPU time, median of ``--rounds`` interleaved rounds. Also printed:

- the same step with the value's gradient penalty off (``dice.critic_gp=0``);
- the floating-point work of each step relative to BC's (multiply-adds of the linear layers,
  forward = 1, backward = 2, the penalty's double backward = 3): what the ratio cannot go below
  at the method's batch sizes, however little overhead there is;
- how large the penalty's gradient is next to the DICE objective's (``critic_gp`` is 1e-6).

The last line is ``ratio=<SafeDICE policy step / BC step>`` with the default config.

    .venv/bin/python benchmarks/safedice_step.py [--steps 10 --rounds 5]
"""

from __future__ import annotations

import safemil  # noqa: F401  # isort: skip  (first: it pins numpy's and torch's kernels, safemil.cpu_kernels)

import argparse
import math

import numpy as np
import torch
from step_timing import Timer, build, halfcheetah_shaped_data, median_ms

from safemil.costs.nu_data import gradient_penalty


def mlp_macs(sizes: list[int]) -> int:
    return sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))


def work_ratio(obs_dim: int, act_dim: int, bc_cfg, dice_cfg, with_gp: bool) -> float:
    """Linear-layer multiply-adds of a SafeDICE policy step over those of a BC step (see the docstring)."""
    actor_out = bc_cfg.actor.n_components * (2 * act_dim + 1)
    actor = mlp_macs([obs_dim, *bc_cfg.actor.hidden, actor_out])
    nu = mlp_macs([obs_dim, *dice_cfg.hidden, 1])
    bc = 3 * bc_cfg.batch_size * actor
    value = 3 * 3 * dice_cfg.batch_size * nu  # nu(s), nu(s'), nu(s0): forward and backward
    if with_gp:
        value += (1 + 3) * dice_cfg.batch_size * nu  # input gradient at interpolated points, then its backward
    advantage = 2 * bc_cfg.batch_size * nu  # nu(s), nu(s') of BC's rows, forward only
    return (value + advantage + bc) / bc


def penalty_share(algo, steps: int) -> float:
    """Median over ``steps`` value updates of ||grad(critic_gp * gp)|| / ||grad(dual)||."""
    value, c = algo.value, algo.config.dice
    shares = []
    for _ in range(steps):
        rows = torch.from_numpy(value.rng.integers(0, len(value._s), c.batch_size))
        s0 = value._s0[torch.from_numpy(value.rng.integers(0, len(value._s0), c.batch_size))]
        adv = value._adv(rows)
        dual = torch.logsumexp(adv, 0) - math.log(len(adv)) + (1 - c.gamma) * value.nu(s0).mean()
        params = list(value.net.parameters())
        g_dual = torch.autograd.grad(dual, params)
        gp = c.critic_gp * gradient_penalty(value.nu, value._s[rows], s0, value.gen)
        g_gp = torch.autograd.grad(gp, params, allow_unused=True)  # (the last bias does not move a gradient)
        norm = lambda gs: float(torch.linalg.vector_norm(torch.stack([g.norm() for g in gs if g is not None])))  # noqa: E731
        shares.append(norm(g_gp) / norm(g_dual))
        algo.train_step(algo.config.classifier_steps)  # move on, as training would
    return float(np.median(shares))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=10, help="steps per timing round")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    data = halfcheetah_shaped_data()
    fast_clf = ["classifier_steps=1"]  # the classifier phase is not what is timed
    sd, sd_nogp = build("safedice", data, fast_clf), build("safedice", data, [*fast_clf, "dice.critic_gp=0"])
    timers = {"bc-u step": Timer(build("bc-u", data), 0),
              "safedice policy step": Timer(sd, 1),
              "safedice policy step, critic_gp=0": Timer(sd_nogp, 1)}
    med = median_ms(timers, args.rounds, args.steps)
    ref = med["bc-u step"]
    for k, v in med.items():
        print(f"{k:36s} {v:8.2f} CPU ms/step  x{v / ref:5.2f}")
    bc_cfg, dice_cfg = sd.config.bc, sd.config.dice
    print(f"work floor (linear-layer multiply-adds vs BC): x{work_ratio(17, 6, bc_cfg, dice_cfg, True):.2f} "
          f"with the penalty, x{work_ratio(17, 6, bc_cfg, dice_cfg, False):.2f} without")
    print(f"penalty gradient / DICE objective gradient (critic_gp={dice_cfg.critic_gp:g}): "
          f"{penalty_share(sd, 5):.2e}")
    print(f"ratio={med['safedice policy step'] / ref:.3f}")


if __name__ == "__main__":
    main()
