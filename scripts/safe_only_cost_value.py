"""How much cost the knowledge labels put on a task's safe-only data, in the units of BCQ-Lag's Q-space limit.

For each task and knowledge margin: the share of real transitions the (conservative)
knowledge cost flags, and the discounted cost-to-go of those labels along the data's own
trajectories (a Monte-Carlo ``Q_c`` of the behaviour policy), compared with
``q_limit = cost_limit (1 - g^L) / ((1 - g) L)``. A BCQ-Lag policy stays close to the
behaviour policy, so when the mean of this value is far below ``q_limit`` the Lagrangian
has nothing to act on unless the synthetic samples show that the policy's deviations cost more.

    PYTHONPATH=src python scripts/safe_only_cost_value.py --tasks HopperVelocity,Walker2dVelocity
"""

from __future__ import annotations

import safemil  # noqa: F401  # isort: skip  (first: it pins numpy's and torch's kernels, safemil.cpu_kernels)

import argparse

import numpy as np

from safemil.data import read_dsrl
from safemil.data.dataset import TrajectoryIndex
from safemil.data.locate import default_dataset_path
from safemil.data.safe_only import DataConfig, select_offline
from safemil.proco.knowledge import KnowledgeSettings, make_knowledge_cost


def discounted_to_go(cost: np.ndarray, index: TrajectoryIndex, gamma: float) -> np.ndarray:
    """``sum_k gamma^k cost[t + k]`` within each trajectory, for every row ``t``."""
    out = np.zeros(len(cost))
    for end, length in zip(np.cumsum(index.lengths), index.lengths, strict=True):
        acc = 0.0
        for i in range(end - 1, end - length - 1, -1):
            acc = cost[i] + gamma * acc
            out[i] = acc
    return out


def rows(task: str, margins: list[float], cost_limit: float, gamma: float) -> list[str]:
    ds = read_dsrl(default_dataset_path(task), task=task)
    view = select_offline(ds, DataConfig(mode="safe-only"), cost_limit).view.learner
    L = int(view.index.lengths.max())
    q_limit = cost_limit * (1 - gamma ** L) / ((1 - gamma) * L)
    out = []
    for margin in margins:
        k = make_knowledge_cost(task, KnowledgeSettings(margin=margin))
        c = np.asarray(k.transition_cost(view.observations, view.next_observations), float)
        q = discounted_to_go(c, view.index, gamma)
        out.append(f"| {task} | {view.n_trajectories} | {margin:g} | {100 * c.mean():.2f}% | {q.mean():.2f} | "
                   f"{np.quantile(q, 0.9):.2f} | {100 * (q > q_limit).mean():.1f}% | {q_limit:.2f} |")
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", default="HopperVelocity,Walker2dVelocity,HalfCheetahVelocity")
    p.add_argument("--margins", default="0,0.1,0.2")
    p.add_argument("--cost-limit", type=float, default=25.0)
    p.add_argument("--gamma", type=float, default=0.99)
    a = p.parse_args()
    print("| task | safe-only trajectories | margin | real rows flagged | mean Q_c (behaviour) | p90 | rows over q_limit | q_limit |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for task in a.tasks.split(","):
        print("\n".join(rows(task.strip(), [float(m) for m in a.margins.split(",")], a.cost_limit, a.gamma)))


if __name__ == "__main__":
    main()
