"""Which observation features tell D_N from D_U, against which rank the hidden step cost (evaluator-side).

    PYTHONPATH=src python scripts/set_separation.py [--tasks T1,T2,...] [--seed 0]
    PYTHONPATH=src python scripts/set_separation.py --tasks SwimmerVelocity --dataset FILE.hdf5

A learner that sees only set membership (SafeMIL's bags, SafeDICE's classifier) is rewarded
for whatever separates D_N rows from D_U rows. Per task, on the default split, this prints:
- the set-separation AUROC (D_N rows vs D_U rows) of the *true* step cost itself,
  0.5 + (share of costly steps in D_N - in D_U) / 2;
- the same for the task's velocity field(s) (what the cost is a threshold of), with their
  rank among all observation fields and their per-step cost AUROC on D_U, read at s, at s'
  and as the mean of the two (the step cost is the speed *over* the step);
- the best-separating field, and how well *it* ranks the hidden step cost.
Where the velocity field is not the best separator, a set-membership cost leans on
another feature, and its per-step ranking of the hidden cost follows that feature's.
AUROCs are orientation-free here (max(a, 1 - a)): a feature may separate either way.
"""

from __future__ import annotations

import safemil  # noqa: F401  # isort: skip  (first: it pins numpy's and torch's kernels, safemil.cpu_kernels)

import argparse
import sys

import numpy as np

from safemil.costs.diagnostics import auroc
from safemil.data import SplitConfig, default_dataset_path, make_split, read_dsrl, resolve_dataset
from safemil.errors import SafemilError
from safemil.tasks import get_task, list_tasks


def _two_sided(a: float) -> float:
    return max(a, 1.0 - a)


def task_row(task: str, seed: int, dataset: str | None = None) -> str:
    spec = get_task(task)
    path = resolve_dataset(dataset) if dataset else default_dataset_path(task)
    split = make_split(read_dsrl(path), SplitConfig(seed=seed))
    unl, neg = split.labelled("unlabeled"), split.labelled("negative")
    x_u, x_n, x2_u = unl.learner.observations, neg.learner.observations, unl.learner.next_observations
    in_n = np.r_[np.ones(len(x_n), bool), np.zeros(len(x_u), bool)]
    costly_u = unl.costs > 0
    true_sep = auroc(np.r_[neg.costs > 0, costly_u], in_n)
    sep = np.array([_two_sided(auroc(np.r_[x_n[:, j], x_u[:, j]], in_n)) for j in range(x_u.shape[1])])
    rank = {j: int((sep > sep[j]).sum()) + 1 for j in range(len(sep))}
    names = [f.name for f in spec.schema]
    def cost_aurocs(j: int) -> str:
        at = (x_u[:, j], x2_u[:, j], x_u[:, j] + x2_u[:, j])
        return " / ".join(f"{_two_sided(auroc(v, costly_u)):.3f}" for v in at)

    vel = "; ".join(
        f"`{name}` {sep[j]:.3f} (rank {rank[j]} of {len(sep)}), cost {cost_aurocs(j)}"
        for name in spec.velocity_fields
        for j in [spec.field(name).index]
    )
    best = int(np.argmax(sep))
    return (f"| {task} | {true_sep:.3f} | {vel} | `{names[best]}` {sep[best]:.3f}, "
            f"cost {_two_sided(auroc(x_u[:, best], costly_u)):.3f} |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", default=",".join(t.name for t in list_tasks()))
    p.add_argument("--seed", type=int, default=0, help="split seed")
    p.add_argument("--dataset", default=None, help="HDF5 file instead of the default dataset (one task only)")
    a = p.parse_args()
    tasks = [get_task(t).name for t in a.tasks.split(",")]  # an unknown name fails before any output
    if a.dataset and len(tasks) != 1:
        p.error("--dataset needs exactly one --tasks name")
    print("| task | set separation of the true step cost | velocity field: set separation (rank), "
          "per-step cost AUROC at s / s' / mean | best-separating field: set separation, per-step cost AUROC |")
    print("|---|---|---|---|")
    for task in tasks:
        print(task_row(task, a.seed, a.dataset), flush=True)


if __name__ == "__main__":
    try:
        main()
    except SafemilError as e:
        sys.exit(f"error: {e} (the default datasets come from `safemil data generate --task T`)")
