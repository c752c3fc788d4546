"""Per-step cost of each baseline relative to one plain BC step, measured in the same run.

Builds every baseline with its default networks and batches on a synthetic
D_N / D_U shaped like HalfCheetahVelocity (obs 17, act 6, 1000-step
trajectories), times each kind of step (one thread, CPU time of this process,
so other jobs on the machine slow it little), and prints milliseconds per step
and the ratio to a BC-U step. SafeDICE is timed with and without its critic
gradient penalty (weight 1e-6, a double backward pass), SafeMIL's MIL cost step
beside T-REX's. The last line is
``ratio=<slowest baseline step / BC-U step>``: what the most expensive method
pays per update on top of plain behaviour cloning.

    PYTHONPATH=src python benchmarks/baselines_step_time.py [--steps 10 --rounds 3]
"""

from __future__ import annotations

import safemil  # noqa: F401  # isort: skip  (first: it pins numpy's and torch's kernels, safemil.cpu_kernels)

import argparse

import torch
from step_timing import Timer, build, halfcheetah_shaped_data, median_ms


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=10, help="steps per timing round")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    data = halfcheetah_shaped_data()
    trex_a, trex_b = build("trex-wbc", data), build("trex-wbc", data)
    sd_a, sd_b = build("safedice", data), build("safedice", data)
    sd_nogp = build("safedice", data, ["dice.critic_gp=0"])
    timers = {"bc-u": Timer(build("bc-u", data), 0),
              "trex-wbc cost step": Timer(trex_a, 0),
              "trex-wbc policy step": Timer(trex_b, trex_b.cost_steps),
              "dwbc-nu step (disc + policy)": Timer(build("dwbc-nu", data), 0),
              "safedice classifier step": Timer(sd_a, 0),
              "safedice step (value + policy)": Timer(sd_b, sd_b.config.classifier_steps),
              "safedice step, critic_gp=0": Timer(sd_nogp, sd_nogp.config.classifier_steps),
              "safemil MIL cost step": Timer(build("safemil", data), 0)}
    results = median_ms(timers, args.rounds, args.steps)
    ref = results["bc-u"]
    for k, v in results.items():
        print(f"{k:32s} {v:8.2f} CPU ms/step  x{v / ref:5.2f}")
    print(f"ratio={max(v / ref for k, v in results.items() if k != 'bc-u'):.3f}")


if __name__ == "__main__":
    main()
