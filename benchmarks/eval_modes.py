"""One trained policy, three ways of acting: noise-free, sampled, and sampled only for the first N steps.

Why: a BC policy fitted to a multimodal D_U can look safe when evaluated with
its noise-free action only because that action picks the same branch of the
data every time. Sampling only the first N steps of every episode and acting
noise-free afterwards separates "the branch chosen at the start" from "noise
all along": if most of the cost appears already with a short sampled prefix,
the noise-free policy holds both behaviours and the start decides between them.

    PYTHONPATH=src python benchmarks/eval_modes.py RUN_DIR [RUN_DIR ...] --episodes 20 --prefix 5 20 50

Every row uses the run's evaluation episodes (same env seeds as ``safemil eval``).
"""

from __future__ import annotations

import safemil  # noqa: F401  # isort: skip  (first: it pins numpy's and torch's kernels, safemil.cpu_kernels)

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from safemil.eval import evaluate  # noqa: E402
from safemil.policies import TorchPolicy, actor_from_state  # noqa: E402
from safemil.runner import load_run_config  # noqa: E402


class SampledPrefix:
    """Sampled actions for the first ``prefix`` calls (steps), the noise-free action afterwards."""

    def __init__(self, policy: TorchPolicy, prefix: int):
        self.policy, self.prefix, self.calls = policy, prefix, 0

    def act(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        self.calls += 1  # the evaluator steps all episodes of a batch in lock-step
        return self.policy.act(obs, deterministic=self.calls > self.prefix)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+")
    p.add_argument("--episodes", type=int, default=20)
    p.add_argument("--prefix", type=int, nargs="*", default=[5, 20, 50])
    args = p.parse_args()
    torch.set_num_threads(1)
    print("| run | actions | norm. return | norm. cost | episodes with cost > limit |")
    print("|---|---|---|---|---|")
    costs: dict[str, list[float]] = {"noise-free": [], "sampled": []}
    for run in args.runs:
        rd, cfg = load_run_config(run)
        state = rd.load_checkpoint()["policy"]
        modes = [("noise-free", None), *((f"sampled for the first {n} steps", n) for n in args.prefix),
                 ("sampled", -1)]
        for label, prefix in modes:
            policy = TorchPolicy(actor_from_state(state), seed=cfg.seed)
            # one batch of envs, so that "step t" is the same step for every episode
            kw = dict(episodes=args.episodes, seed=cfg.eval.seed_offset + 1000 * cfg.seed,
                      cost_limit=cfg.split.cost_limit, num_envs=args.episodes, progress=False)
            if prefix is None:
                m = evaluate(policy, cfg.task, deterministic=True, **kw)
            elif prefix < 0:
                m = evaluate(policy, cfg.task, deterministic=False, **kw)
            else:
                m = evaluate(SampledPrefix(policy, prefix), cfg.task, deterministic=True, **kw)
            if label in costs:
                costs[label].append(m["normalized_cost"])
            over = int((np.asarray(m["episode_costs"]) > cfg.split.cost_limit).sum())
            print(f"| {Path(run).name} | {label} | {m['normalized_return']:.3f} | {m['normalized_cost']:.2f} | "
                  f"{over}/{args.episodes} |", flush=True)
    # how much costlier sampling is than the noise-free action, over all runs (inf: noise-free is at 0)
    free, sampled = float(np.mean(costs["noise-free"])), float(np.mean(costs["sampled"]))
    print(f"ratio={sampled / free if free > 0 else float('inf'):.4f}")


if __name__ == "__main__":
    main()
