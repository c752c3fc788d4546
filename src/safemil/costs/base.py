"""The one small interface every cost source implements.

A cost source is trained from label-free views (`LearnerView`s of D_N / D_U,
or safe-only data plus knowledge) and then scores state-action pairs. Policy
learners only ever call `cost`; they do not care how it was learned.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch


@runtime_checkable
class CostModel(Protocol):
    def train_step(self) -> dict[str, float]:
        """One optimisation step; returns scalar diagnostics to log (e.g. loss)."""
        ...

    def cost(self, obs: torch.Tensor, act: torch.Tensor) -> torch.Tensor:
        """Per-pair cost, shape (N,), higher = less safe. Batched; no gradient needed by callers."""
        ...

    def state_dict(self) -> dict:
        """Everything needed to resume training bit-for-bit (weights, optimiser, RNG state)."""
        ...

    def load_state_dict(self, state: dict) -> None: ...
