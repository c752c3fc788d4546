"""Does a cloned policy reproduce the data it clones? BC-Safe's return against its own training data's.

BC-Safe clones the D_U trajectories whose true cost is within the limit. Its policy is evaluated
online and compared with the mean normalized return of exactly those trajectories (same split
seed). A faithful clone earns about what its data earned (fidelity ~1) at about its data's cost;
a clone that earns much less is safe because it is crippled, and every method built on the same
learner inherits that. One row per task x actor kind (``bc.actor.kind``), averaged over seeds,
each run with the preset ``default`` plus ``steps``, ``bc.actor.kind`` and a noise-free evaluation
(``eval.deterministic=true``, also on Swimmer, whose preset entry samples).

``--sampled`` also evaluates each policy with sampled actions (the "sampled" column): what the
actor does when its noise is kept (its return and mean episode cost), against its noise-free action (the mixture's heaviest
component's mean, the Gaussian's mean; a deterministic actor is the same either way).

The last line is ``ratio=<lowest fidelity over tasks>`` for the first actor kind (the default).

    .venv/bin/python benchmarks/imitation_fidelity.py [--tasks ...] [--actors mixture,deterministic]
        [--steps 4000] [--seeds 0,1] [--out DIR] [--sampled] [--set bc.lr=1e-4 ...]
"""

from __future__ import annotations

import safemil  # isort: skip  (first: it pins numpy's and torch's kernels, safemil.cpu_kernels)

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import torch

from safemil.data import SplitConfig, make_split
from safemil.eval.metrics import normalized_return
from safemil.tasks import DEFAULT_COST_LIMIT

VELOCITY = "HalfCheetahVelocity,HopperVelocity,Walker2dVelocity,SwimmerVelocity,AntVelocity"


def cloned_data_return(task: str, seed: int) -> tuple[float, float]:
    """Mean normalized return and mean episode cost of the D_U trajectories BC-Safe clones."""
    split = make_split(safemil.load_dataset(task, task=task), SplitConfig(seed=seed))
    lab = split.labelled("unlabeled")
    costs = lab.trajectory_costs()
    safe = costs <= DEFAULT_COST_LIMIT
    return float(np.mean(normalized_return(lab.trajectory_returns()[safe], task))), float(costs[safe].mean())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", default=VELOCITY)
    ap.add_argument("--actors", default="mixture,gaussian,deterministic")
    ap.add_argument("--steps", type=int, default=4000, help="BC updates (the default grid's budget: 4000)")
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--out", default=None, help="keep the runs here (default: a temporary folder)")
    ap.add_argument("--sampled", action="store_true", help="also evaluate with sampled actions")
    ap.add_argument("--set", dest="overrides", action="append", default=[],
                    help="a further override key=value for every run, e.g. bc.lr=1e-4 (repeatable)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    actors = [a.strip() for a in args.actors.split(",") if a.strip()]
    seeds = [int(s) for s in args.seeds.split(",")]
    with tempfile.TemporaryDirectory(prefix="fidelity-") as tmp:
        measure(tasks, actors, seeds, args.steps, Path(args.out) if args.out else Path(tmp), args.sampled,
                args.overrides)


def measure(tasks: list[str], actors: list[str], seeds: list[int], steps: int, root: Path, sampled: bool,
            overrides: list[str]) -> None:
    print(f"BC-Safe, {steps} updates, seeds {seeds}, cost limit {DEFAULT_COST_LIMIT:g}, overrides {overrides}; "
          f"runs in {root}")
    print(f"{'task':22s} {'actor':14s} {'data return':>11s} {'data cost':>9s} {'policy return':>13s} "
          f"{'policy cost':>11s} {'fidelity':>8s}" + (f" {'sampled':>7s} {'s. cost':>7s}" if sampled else ""))
    fidelity: dict[str, list[float]] = {a: [] for a in actors}
    for task in tasks:
        data = [cloned_data_return(task, s) for s in seeds]
        data_ret, data_cost = float(np.mean([d[0] for d in data])), float(np.mean([d[1] for d in data]))
        for actor in actors:
            rets, costs, sampled_rets, sampled_costs = [], [], [], []
            for seed in seeds:
                out = root / task / actor / f"s{seed}"
                if (out / "eval.json").exists():  # finished earlier (--out): not trained again
                    metrics = json.loads((out / "eval.json").read_text())
                else:
                    metrics = safemil.train("bc-safe", task, seed=seed, out=out,
                                            overrides=[f"steps={steps}", f"bc.actor.kind={actor}", "eval.deterministic=true",
                                                       "train.progress=false", *overrides]).metrics
                rets.append(metrics["normalized_return"])
                costs.append(metrics["mean_cost"])
                if sampled:
                    m = safemil.evaluate(out, deterministic=False)
                    sampled_rets.append(m["normalized_return"])
                    sampled_costs.append(m["mean_cost"])
            f = float(np.mean(rets)) / data_ret
            fidelity[actor].append(f)
            print(f"{task:22s} {actor:14s} {data_ret:11.3f} {data_cost:9.1f} {np.mean(rets):13.3f} "
                  f"{np.mean(costs):11.1f} {f:8.2f}"
                  + (f" {np.mean(sampled_rets):7.3f} {np.mean(sampled_costs):7.1f}" if sampled else ""),
                  flush=True)
    for actor in actors:
        print(f"{actor}: fidelity mean {np.mean(fidelity[actor]):.2f}, lowest {min(fidelity[actor]):.2f}")
    print(f"ratio={min(fidelity[actors[0]]):.3f}")


if __name__ == "__main__":
    main()
