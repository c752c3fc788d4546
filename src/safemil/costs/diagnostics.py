"""Checks on a learned cost: collapse detection while training, AUROC against hidden labels after.

The AUROC helpers are evaluator-side: they take labels from a `LabelledView`,
which learning code never receives.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable

import numpy as np

from safemil.data.dataset import LabelledView

LOG2 = math.log(2.0)


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve of ``scores`` for binary ``labels`` (True = positive).

    Rank-based (Mann-Whitney U) with average ranks for ties, so a constant score
    gives exactly 0.5. Returns NaN when only one class is present (undefined).
    """
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(labels).ravel()
    if s.shape != y.shape:
        raise ValueError(f"scores and labels differ in length: {s.shape[0]} vs {y.shape[0]}")
    if not np.all(np.isfinite(s)):
        raise ValueError("scores contain NaN or inf")
    y = y.astype(bool)
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    sorted_s = s[order]
    # average rank (1-based) of each run of tied scores
    boundaries = np.flatnonzero(np.diff(sorted_s)) + 1
    starts = np.concatenate([[0], boundaries])
    ends = np.concatenate([boundaries, [s.size]])
    avg = (starts + ends + 1) / 2.0
    ranks = np.empty(s.size, dtype=np.float64)
    ranks[order] = np.repeat(avg, ends - starts)
    u = ranks[y].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def step_and_trajectory_auroc(
    learned: np.ndarray, labelled: LabelledView, cost_limit: float
) -> tuple[float, float]:
    """`learned_cost_auroc`'s two numbers for per-row costs already scored (NaN where undefined)."""
    step = auroc(learned, labelled.costs > 0)
    traj = auroc(labelled.learner.index.segment_means(learned), labelled.trajectory_costs() > cost_limit)
    return step, traj


def learned_cost_auroc(
    cost_fn: Callable[[np.ndarray, np.ndarray], np.ndarray],
    labelled: LabelledView,
    cost_limit: float,
) -> dict[str, float | None]:
    """AUROC of a learned per-step cost against the hidden cost of a labelled view.

    - ``auroc_step``: learned c(s, a) vs true per-step cost > 0.
    - ``auroc_traj``: the trajectory's *mean* learned cost vs true trajectory cost >
      ``cost_limit``: the score the trajectory weights use, and the one the runner's
      ``eval.json`` reports (`safemil.diagnostics.cost_diagnostics`). A sum would rank
      trajectories partly by length: on tasks that end with a fall (Hopper, Walker2d) a
      short risky run sums to less than a long cautious one.
    ``cost_fn(obs, act)`` returns per-row costs as numpy. Undefined values (one
    class only) are reported as None so they serialise to JSON.
    """
    view = labelled.learner
    learned = np.asarray(cost_fn(view.observations, view.actions), dtype=np.float64)
    if learned.shape != (len(view),):
        raise ValueError(f"cost_fn returned shape {learned.shape}, expected ({len(view)},)")
    step, traj = step_and_trajectory_auroc(learned, labelled, cost_limit)
    return {
        "auroc_step": None if math.isnan(step) else step,
        "auroc_traj": None if math.isnan(traj) else traj,
    }


class CollapseDetector:
    """Flags a cost that stopped learning: BT loss near log 2 with ~zero bag-score gap.

    At initialisation both bags score alike, so the loss starts near log 2; the
    flag is raised only once a full window of ``window`` steps has been seen and,
    over it, |mean loss - log 2| < ``loss_tol`` and |mean gap| < ``gap_tol``.
    """

    def __init__(self, window: int = 200, loss_tol: float = 0.01, gap_tol: float = 0.02):
        if window < 1:
            raise ValueError(f"collapse window must be >= 1, got {window}")
        self.window = int(window)
        self.loss_tol = float(loss_tol)
        self.gap_tol = float(gap_tol)
        self._loss: deque[float] = deque(maxlen=self.window)
        self._gap: deque[float] = deque(maxlen=self.window)

    def update(self, bt_loss: float, score_gap: float) -> bool:
        self._loss.append(float(bt_loss))
        self._gap.append(float(score_gap))
        return self.collapsed

    @property
    def collapsed(self) -> bool:
        if len(self._loss) < self.window:
            return False
        loss_dev = abs(sum(self._loss) / len(self._loss) - LOG2)
        gap = abs(sum(self._gap) / len(self._gap))
        return loss_dev < self.loss_tol and gap < self.gap_tol

    def state_dict(self) -> dict:
        return {"loss": list(self._loss), "gap": list(self._gap)}

    def load_state_dict(self, state: dict) -> None:
        self._loss = deque(state["loss"], maxlen=self.window)
        self._gap = deque(state["gap"], maxlen=self.window)
