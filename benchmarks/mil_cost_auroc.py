"""How well does the MIL cost find the hidden cost? Train it on a task's default split, report AUROC.

Evaluator-side: the learner gets only the label-free D_N / D_U views; the AUROC
is computed afterwards against D_U's hidden per-step cost (cost > 0) and
per-trajectory cost (> the split's cost limit).

    PYTHONPATH=src python benchmarks/mil_cost_auroc.py --task SwimmerVelocity --steps 3000 \
        [--dataset FILE] [--seed 0] [--every 500] [--classifier-steps 4000] [key=value MILConfig overrides ...]

Two references are printed beside the learned cost's AUROC, both evaluator-side:
- the trajectory-level score (each step scored by its trajectory's true cost fraction);
- with ``--classifier-steps N``, SafeDICE's classifier of D_N vs D_U rows
  (`safemil.costs.safedice`, its default config): it estimates p_N(s, a) / p_U(s, a), the
  per-step evidence that set membership carries. Its per-step AUROC is reported every 1000
  steps and at its best checkpoint (chosen with the labels: generous on purpose).
"""

from __future__ import annotations

import safemil  # noqa: F401  # isort: skip  (first: it pins numpy's and torch's kernels, safemil.cpu_kernels)

import argparse
import json
import sys
import time

import numpy as np
import torch
from tqdm.auto import tqdm

from safemil.config import apply_overrides, to_dict
from safemil.costs.diagnostics import auroc, learned_cost_auroc
from safemil.costs.mil import MILConfig, MILCost
from safemil.costs.safedice import SafeDICEClassifier, SafeDICEConfig
from safemil.data import (
    LabelledView,
    SplitConfig,
    default_dataset_path,
    make_split,
    read_dsrl,
    resolve_dataset,
)
from safemil.errors import SafemilError
from safemil.tasks import get_task


def trajectory_oracle_auroc(unl: LabelledView) -> float:
    """Per-step AUROC of an oracle that scores each step by its trajectory's true cost fraction.

    A reference, not a ceiling: a learned per-(s, a) cost can beat it by localising
    cost within a trajectory, but cost that flickers within a gait cycle (the
    velocity tasks' instantaneous-speed rule) is hard to localise from bag-level
    signals alone.
    """
    idx = unl.learner.index
    label = unl.costs > 0
    return auroc(np.repeat(idx.segment_means(label), idx.lengths), label)


def density_ratio_reference_auroc(
    split, unl: LabelledView, steps: int, seed: int, every: int = 1000
) -> list[tuple[int, float]]:
    """Per-step AUROC on D_U of the SafeDICE D_N-vs-D_U classifier, every ``every`` steps.

    The set labels are all that SafeMIL (or any learner on this split) is told, so a
    score that ranks steps by p_N(s, a) / p_U(s, a) is what that evidence supports;
    a learned cost above it owes the excess to its inductive bias, not to the data.
    """
    clf = SafeDICEClassifier(split.negative, split.unlabeled, SafeDICEConfig(), seed=seed)
    obs, act = torch.as_tensor(unl.learner.observations), torch.as_tensor(unl.learner.actions)
    out = []
    for i in range(1, steps + 1):
        clf.train_step()
        if i % every == 0 or i == steps:
            out.append((i, auroc(clf.cost(obs, act).numpy(), unl.costs > 0)))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", default="SwimmerVelocity")
    p.add_argument(
        "--dataset", default=None, help="HDF5 file (default: the task's generated default dataset)"
    )
    p.add_argument("--steps", type=int, default=None, help="cost steps (default: MILConfig.steps)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--split-rule", default="threshold", help="D_N / D_U rule (see safemil.data.splits)"
    )
    p.add_argument("--n-negative", type=int, default=50, help="trajectories in D_N")
    p.add_argument(
        "--every", type=int, default=0, help="also report AUROC every N steps (0: only at the end)"
    )
    p.add_argument("--threads", type=int, default=1)
    p.add_argument(
        "--classifier-steps",
        type=int,
        default=0,
        help="also train the SafeDICE D_N-vs-D_U classifier this many steps (density-ratio reference)",
    )
    p.add_argument("overrides", nargs="*", help="MILConfig key=value overrides")
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    cfg = apply_overrides(MILConfig(), a.overrides)
    steps = cfg.steps if a.steps is None else a.steps
    path = resolve_dataset(a.dataset) if a.dataset else default_dataset_path(a.task)
    data = read_dsrl(path)
    split = make_split(data, SplitConfig(rule=a.split_rule, n_negative=a.n_negative, seed=a.seed))
    unl = split.labelled("unlabeled")
    print(f"dataset {path}: {json.dumps(split.summary())}")
    print(f"config: {json.dumps(to_dict(cfg))} steps={steps} seed={a.seed}")

    t0 = time.perf_counter()
    model = MILCost(split.negative, split.unlabeled, cfg, seed=a.seed, lidar=get_task(a.task).lidar_layout)
    eval_s = 0.0

    def report(step: int, metrics: dict[str, float]) -> None:
        nonlocal eval_s
        if a.every and step % a.every == 0 and step < steps:
            te = time.perf_counter()
            au = learned_cost_auroc(model.cost_numpy, unl, split.config.cost_limit)
            eval_s += time.perf_counter() - te
            tqdm.write(
                f"step {step}: bt_loss={metrics['bt_loss']:.4f} gap={metrics['score_gap']:.3f} {au}"
            )

    last = model.fit(steps, callback=report)
    train_s = time.perf_counter() - t0 - eval_s
    au = learned_cost_auroc(model.cost_numpy, unl, split.config.cost_limit)
    print(
        f"final: bt_loss={last.get('bt_loss', float('nan')):.4f} gap={last.get('score_gap', float('nan')):.3f}"
    )
    print(
        f"train wall time {train_s:.1f} s ({train_s / max(steps, 1) * 1e3:.1f} ms/step, {a.threads} thread(s))"
    )
    reference = trajectory_oracle_auroc(unl)
    print(f"reference: per-step AUROC of the trajectory-level oracle {reference:.4f}")
    if a.classifier_steps > 0:
        curve = density_ratio_reference_auroc(split, unl, a.classifier_steps, a.seed)
        best = max(v for _, v in curve)
        reference = max(reference, best)
        print(
            "reference: per-step AUROC of the SafeDICE D_N-vs-D_U classifier "
            + " ".join(f"{i}:{v:.4f}" for i, v in curve)
            + f" (best {best:.4f})"
        )
    print(f"D_U auroc_step={au['auroc_step']} auroc_traj={au['auroc_traj']}")
    # learned per-step AUROC over the strongest reference measured in this run
    print(f"ratio={(au['auroc_step'] or float('nan')) / reference:.4f}")


if __name__ == "__main__":
    try:
        main()
    except SafemilError as e:
        sys.exit(f"error: {e}")
