"""The shape shared by SafeMIL and its cost-learning relatives: learn a cost, weight BC by it.

`CostWeightedBC` drives any `CostModel` and a `WeightedBC` learner on D_U
under one of two schedules:

- ``sequential``: ``cost_steps`` cost updates, then ``policy_steps`` policy
  updates against the frozen cost (scored once for all of D_U and cached);
- ``alternate``: one cost update and one policy update per step (the research
  code's loop), the policy weights always coming from the current cost.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from safemil.algos.base import BCAlgorithm, LearnerData
from safemil.costs.base import CostModel
from safemil.costs.mil import MILConfig, MILCost
from safemil.data.dataset import LearnerView
from safemil.diagnostics import score_rows
from safemil.errors import ConfigError
from safemil.policies import BCConfig, WeightConfig, WeightedBC
from safemil.policies.weights import trajectory_segment_costs

SCHEDULES = ("sequential", "alternate")


def soft_trajectory_bc() -> BCConfig:
    """The weighted BC that SafeMIL and T-REX-WBC share: soft weights per whole trajectory,
    applied by drawing segments in proportion to them.

    A learned per-step cost is myopic: the first steps of a run that later speeds past the
    threshold look as cheap as a cautious run's. Segment-level weights keep those steps and
    the policy learns to accelerate like the risky runs. Drawing segments by weight (rather than
    weighting a uniform batch, where most of a 16-segment batch carries near-zero weight and
    a few segments carry the gradient) gives every update a full batch of the trajectories the
    weights favour: the same objective with far less gradient noise, which is what keeps a
    deterministic Walker2d clone on its feet.
    """
    return BCConfig(weights=WeightConfig(kind="soft", level="trajectory", beta=0.6, gamma=0.99,
                                         sampling="resample"))


def check_schedule(schedule: str, cost_steps: int, policy_steps: int, bc: BCConfig | None = None) -> None:
    if schedule not in SCHEDULES:
        raise ConfigError(f"unknown schedule {schedule!r}; choose one of {', '.join(SCHEDULES)}")
    if cost_steps < 0 or policy_steps < 1:
        raise ConfigError(f"need cost_steps >= 0 and policy_steps >= 1, got {cost_steps}, {policy_steps}")
    if bc is not None and schedule == "alternate" and bc.weights.kind != "none" and bc.weights.level == "trajectory":
        raise ConfigError("bc.weights.level=trajectory needs the cost frozen first: use schedule=sequential, "
                          "or schedule=alternate with bc.weights.level=segment bc.weights.sampling=reweight")


class CostWeightedBC(BCAlgorithm):
    def __init__(self, cost: CostModel, bc: WeightedBC, bc_config: BCConfig,
                 cost_steps: int, policy_steps: int, schedule: str = "sequential"):
        check_schedule(schedule, cost_steps, policy_steps, bc_config)
        self.cost, self.bc, self.bc_config = cost, bc, bc_config
        self.cost_steps, self.policy_steps, self.schedule = cost_steps, policy_steps, schedule
        if schedule == "sequential":
            self.total_steps = cost_steps + policy_steps
        else:
            self.total_steps = max(cost_steps, policy_steps)
        self.view: LearnerView = bc.view
        self._cache: np.ndarray | None = None
        self._traj_cache: np.ndarray | None = None
        self._cost_log: list[tuple[float, float, float]] = []  # (bt_loss, score_gap, collapsed) per cost step
        self._ess_log: list[float] = []

    # -- the two kinds of work -------------------------------------------------------
    def _cost_step(self) -> dict[str, float]:
        m = self.cost.train_step()
        self._cost_log.append((float(m.get("bt_loss", float("nan"))), float(m.get("score_gap", float("nan"))),
                               float(m.get("collapse_warning", 0.0))))
        return m

    def _policy_step(self, fn: Callable[[np.ndarray], torch.Tensor]) -> dict[str, float]:
        if self.bc_config.weights.level == "trajectory":  # frozen cost only: check_schedule refuses alternate
            m = self.bc.step(None, self._trajectory_cost)
        else:
            m = self.bc.step(fn)
        if "bc_ess" in m:
            self._ess_log.append(m["bc_ess"])
        return m

    def _cached_cost(self, rows: np.ndarray) -> torch.Tensor:
        if self._cache is None:  # after the cost phase (or after a resume into the policy phase)
            self._cache = score_rows(self.cost, self.view.observations, self.view.actions)
        return torch.from_numpy(self._cache[rows])

    def _trajectory_cost(self, traj: np.ndarray) -> torch.Tensor:
        if self._traj_cache is None:
            self._cached_cost(np.zeros(1, dtype=np.int64))  # make sure rows are scored
            self._traj_cache = trajectory_segment_costs(self._cache, self.view.index,
                                                        self.bc_config.weights.gamma, self.bc_config.segment_len)
        return torch.from_numpy(self._traj_cache[traj])

    @torch.no_grad()
    def _live_cost(self, rows: np.ndarray) -> torch.Tensor:
        flat = rows.reshape(-1)
        o = torch.as_tensor(self.view.observations[flat], dtype=torch.float32)
        a = torch.as_tensor(self.view.actions[flat], dtype=torch.float32)
        return self.cost.cost(o, a).reshape(rows.shape)

    def train_step(self, step: int) -> dict[str, float]:
        if self.schedule == "sequential":
            if step < self.cost_steps:
                return self._cost_step()
            return self._policy_step(self._cached_cost)
        m: dict[str, float] = {}
        if step < self.cost_steps:
            m.update(self._cost_step())
        if step < self.policy_steps:
            fn = self._live_cost if step < self.cost_steps else self._cached_cost
            m.update(self._policy_step(fn))
        return m

    # -- what the runner asks for ---------------------------------------------------
    def cost_model(self) -> CostModel:
        return self.cost

    def clone_draw_shares(self) -> np.ndarray | None:
        if self.cost_steps and self.schedule == "sequential":
            return self.bc.trajectory_draw_shares(self._trajectory_cost)
        return None

    def summary(self) -> dict:
        out: dict = {"schedule": self.schedule, "cost_steps": self.cost_steps, "policy_steps": self.policy_steps}
        if self._cost_log:
            arr = np.asarray(self._cost_log)
            tail = arr[-max(1, len(arr) // 10):]
            out["bt_loss_first"] = float(arr[: max(1, len(arr) // 10), 0].mean())
            out["bt_loss_final"] = float(tail[:, 0].mean())
            out["score_gap_final"] = float(tail[:, 1].mean())
            chunks = np.array_split(arr[:, :2], min(20, len(arr)))
            out["bt_loss_curve"] = [round(float(c[:, 0].mean()), 5) for c in chunks]  # 20 equal chunks of cost steps
            out["score_gap_curve"] = [round(float(c[:, 1].mean()), 5) for c in chunks]
            out["collapse_flagged_steps"] = int(arr[:, 2].sum())
            out["collapse_warning"] = (
                f"cost collapse: BT loss stayed ~ log 2 with ~zero bag-score gap at the end of cost training "
                f"(final loss {out['bt_loss_final']:.3f}); the learned cost does not separate D_N from D_U"
                if arr[-1, 2] > 0 else None
            )
        if self._ess_log:
            out["bc_ess_mean"] = float(np.mean(self._ess_log))
            out["bc_ess_final"] = float(np.mean(self._ess_log[-max(1, len(self._ess_log) // 10):]))
        return out

    def state_dict(self) -> dict:
        return {"cost": self.cost.state_dict(), "bc": self.bc.state_dict(),
                "cost_log": list(self._cost_log), "ess_log": list(self._ess_log)}

    def load_state_dict(self, state: dict) -> None:
        self.cost.load_state_dict(state["cost"])
        self.bc.load_state_dict(state["bc"])
        self._cost_log = [tuple(x) for x in state["cost_log"]]
        self._ess_log = list(state["ess_log"])
        self._cache = None
        self._traj_cache = None


def mil_weighted_bc(cost: MILConfig, bc: BCConfig, policy_steps: int, schedule: str, data: LearnerData,
                    seed: int) -> CostWeightedBC:
    """A MIL cost from D_N vs D_U bags, then weighted BC on D_U: SafeMIL (bags of K segments) and
    T-REX-WBC (K = 1) differ only in ``cost``."""
    return CostWeightedBC(MILCost(data.negative, data.unlabeled, cost, seed, data.lidar),
                          WeightedBC(data.unlabeled, bc, seed + 1, **data.actor_io),
                          bc, cost.steps, policy_steps, schedule)
