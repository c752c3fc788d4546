"""Build the SafeMIL data setting: a small non-preferred set D_N and an unlabeled mixture D_U.

Rules (see reference/SAFEMIL.md):
- ``threshold`` (default): D_N = ``n_negative`` trajectories drawn at random from
  those with cost >= ``multiple`` x ``cost_limit``; D_U = all others.
- ``top_quantile``: D_N drawn from the top ``quantile`` fraction by cost; D_U = all others.
- ``mixture``: D_N as in ``threshold``; D_U = ``n_unlabeled_unsafe`` other trajectories
  with cost >= multiple x limit plus ``n_unlabeled_safe`` with cost < limit (fixed alpha).

Methods receive `Split.negative` and `Split.unlabeled` (label-free `LearnerView`s).
Labels are reachable only through `Split.labelled(...)`, for the oracle and the evaluator.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from safemil.data.dataset import Dataset, LabelledView, LearnerView
from safemil.errors import ConfigError, DatasetError
from safemil.tasks import DEFAULT_COST_LIMIT

RULES = ("threshold", "top_quantile", "mixture")


@dataclass
class SplitConfig:
    rule: str = "threshold"  # threshold | top_quantile | mixture (docs/safemil.md, "How the data is split")
    n_negative: int = 50  # trajectories in D_N
    cost_limit: float = DEFAULT_COST_LIMIT  # episode cost limit: safe means cost <= limit
    multiple: float = 3.0  # threshold, mixture: D_N is drawn from trajectories with cost >= multiple x limit
    quantile: float = 0.05  # top_quantile: D_N is drawn from the costliest quantile of trajectories
    n_unlabeled_unsafe: int = 100  # mixture: D_U's trajectories with cost >= multiple x limit
    n_unlabeled_safe: int = 100  # mixture: D_U's trajectories with cost < limit
    seed: int = 0  # which trajectories are drawn (the runner sets it to the run's seed)

    def __post_init__(self):
        if self.rule not in RULES:
            raise ConfigError(f"unknown split rule {self.rule!r}; choose one of {', '.join(RULES)}")
        if self.n_negative < 1:
            raise ConfigError(f"n_negative must be >= 1, got {self.n_negative}")
        if self.cost_limit < 0:  # episode costs are >= 0: a negative limit makes every trajectory unsafe
            raise ConfigError(f"cost_limit must be >= 0, got {self.cost_limit}")
        if not 0 < self.quantile < 1:
            raise ConfigError(f"quantile must be in (0, 1), got {self.quantile}")


class Split:
    """D_N and D_U over one dataset. Learners get the label-free views only."""

    def __init__(self, dataset: Dataset, negative_ids: np.ndarray, unlabeled_ids: np.ndarray, config: SplitConfig):
        if len(negative_ids) == 0:
            raise DatasetError("D_N is empty: the split selected no non-preferred trajectories")
        if len(unlabeled_ids) == 0:
            raise DatasetError("D_U is empty: every trajectory went to D_N")
        if np.intersect1d(negative_ids, unlabeled_ids).size:
            raise AssertionError("D_N and D_U overlap")
        # the labels only: the dataset's observations and actions live on in the two views alone
        self._rewards, self._costs, self._index = dataset.rewards, dataset.costs, dataset.index
        self.task: str | None = dataset.task
        self.negative_ids = np.asarray(negative_ids, dtype=np.int64)
        self.unlabeled_ids = np.asarray(unlabeled_ids, dtype=np.int64)
        self.config = config
        self.negative: LearnerView = dataset.learner_view(self.negative_ids)
        self.unlabeled: LearnerView = dataset.learner_view(self.unlabeled_ids)

    def labelled(self, part: str) -> LabelledView:
        """Labelled access for the oracle baseline and evaluator-side diagnostics only."""
        parts = {"negative": (self.negative_ids, self.negative), "unlabeled": (self.unlabeled_ids, self.unlabeled)}
        if part not in parts:
            raise ValueError(f"part must be 'negative' or 'unlabeled', got {part!r}")
        ids, view = parts[part]
        rows = self._index.rows(ids)  # the view's rows, in its order
        return LabelledView(learner=view, rewards=self._rewards[rows], costs=self._costs[rows])

    def summary(self) -> dict:
        costs = self._index.segment_sums(self._costs)
        lim = self.config.cost_limit
        return {
            "rule": self.config.rule,
            "n_negative": len(self.negative_ids),
            "n_unlabeled": len(self.unlabeled_ids),
            "negative_mean_cost": float(costs[self.negative_ids].mean()),
            "unlabeled_mean_cost": float(costs[self.unlabeled_ids].mean()),
            "unlabeled_frac_safe": float((costs[self.unlabeled_ids] <= lim).mean()),
        }


def make_split(dataset: Dataset, config: SplitConfig | None = None) -> Split:
    config = config or SplitConfig()
    rng = np.random.default_rng(config.seed)
    costs = dataset.trajectory_costs()
    all_ids = np.arange(len(costs))
    hi = config.multiple * config.cost_limit
    if config.rule == "top_quantile":
        cut = np.quantile(costs, 1.0 - config.quantile)
        pool = all_ids[costs >= cut]
        pool_desc = f"the top {config.quantile:.0%} by cost (cost >= {cut:.1f})"
    else:
        pool = all_ids[costs >= hi]
        pool_desc = f"cost >= {hi:g} ({config.multiple:g} x limit {config.cost_limit:g})"
    if len(pool) < config.n_negative:
        raise DatasetError(
            f"only {len(pool)} of {len(costs)} trajectories have {pool_desc}; "
            f"D_N needs {config.n_negative} (lower n_negative or use another split rule)"
        )
    negative = np.sort(rng.choice(pool, size=config.n_negative, replace=False))
    rest = np.setdiff1d(all_ids, negative)
    if config.rule == "mixture":
        unsafe = rest[costs[rest] >= hi]
        safe = rest[costs[rest] < config.cost_limit]
        for name, have, need in (
            (f"unsafe (cost >= {hi:g})", len(unsafe), config.n_unlabeled_unsafe),
            (f"safe (cost < {config.cost_limit:g})", len(safe), config.n_unlabeled_safe),
        ):
            if have < need:
                raise DatasetError(f"mixture split needs {need} {name} trajectories for D_U, found {have}")
        rest = np.sort(
            np.concatenate(
                [
                    rng.choice(unsafe, size=config.n_unlabeled_unsafe, replace=False),
                    rng.choice(safe, size=config.n_unlabeled_safe, replace=False),
                ]
            )
        )
    return Split(dataset, negative, rest, config)
