"""Check a knowledge cost against data before trusting it.

Reports the share of dataset states the cost flags and, when the data carries
labelled violations (per-step cost > 0), precision / recall / agreement against
them. Warns when the rule flags almost nothing or nearly everything, the usual
signs of a wrong field, unit or direction.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from safemil.costs.knowledge.cost import KnowledgeCost
from safemil.data.dataset import Dataset, LabelledView, LearnerView
from safemil.errors import ConfigError, DatasetError

STATE_KEYS = ("next_observations", "observations", "midpoint")
_CHUNK = 1 << 18


@dataclass
class CheckReport:
    n_states: int
    states: str  # which array was scored
    flagged: int  # states with cost >= 0.5
    flagged_fraction: float
    mean_cost: float
    n_violations: int | None = None  # labelled violating steps (None: data has no labels)
    precision: float | None = None
    recall: float | None = None
    agreement: float | None = None  # share of steps where flagged == labelled violation
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def lines(self) -> list[str]:
        """Human-readable summary, one fact per line."""
        out = [
            f"states checked: {self.n_states} ({self.states})",
            f"flagged unsafe: {self.flagged} ({self.flagged_fraction:.2%}); mean cost {self.mean_cost:.4f}",
        ]
        if self.n_violations is None:
            out.append("labelled violations: none in this data (no precision/recall)")
        elif self.n_violations == 0:
            out.append("labelled violations: 0 (precision/recall undefined)")
        else:
            p = "n/a" if self.precision is None else f"{self.precision:.4f}"
            out.append(
                f"labelled violations: {self.n_violations}; precision {p}, recall {self.recall:.4f}, "
                f"agreement {self.agreement:.4f}"
            )
        out += [f"warning: {w}" for w in self.warnings]
        return out


def check_cost(
    cost: KnowledgeCost,
    data: Dataset | LabelledView | LearnerView,
    states: str = "next_observations",
    nothing: float = 1e-3,
    everything: float = 0.95,
) -> CheckReport:
    """Score ``states`` of ``data`` with ``cost`` and compare with labels when there are any.

    ``next_observations`` by default: a step's cost is about where the step ends up.
    ``midpoint`` scores each transition with `KnowledgeCost.transition_cost`.
    """
    if states not in STATE_KEYS:
        raise ConfigError(f"states must be one of {', '.join(STATE_KEYS)}, got {states!r}")
    view = data.learner if isinstance(data, LabelledView) else data
    if states == "midpoint":
        obs = 0.5 * (np.asarray(view.observations) + np.asarray(view.next_observations))
    else:
        obs = np.asarray(getattr(view, states))
    if obs.ndim != 2 or obs.shape[1] != cost.spec.obs_dim:
        raise DatasetError(
            f"{states} have shape {obs.shape}, but task {cost.task} needs (N, {cost.spec.obs_dim})"
        )
    n = len(obs)
    if n == 0:
        raise DatasetError("the dataset has no states to check")
    c = np.concatenate([cost(obs[i : i + _CHUNK]) for i in range(0, n, _CHUNK)]).astype(np.float64)
    flags = c >= 0.5
    rep = CheckReport(n, states, int(flags.sum()), float(flags.mean()), float(c.mean()))
    labels = getattr(data, "costs", None)
    if labels is not None:
        viol = np.asarray(labels).reshape(-1) > 0
        if len(viol) != n:
            raise DatasetError(f"costs have {len(viol)} rows but {states} have {n}")
        rep.n_violations = int(viol.sum())
        if rep.n_violations:
            tp = int((flags & viol).sum())
            rep.precision = tp / rep.flagged if rep.flagged else None
            rep.recall = tp / rep.n_violations
            rep.agreement = float((flags == viol).mean())
    if rep.flagged_fraction < nothing:
        rep.warnings.append(
            f"the rule flags {'no' if rep.flagged == 0 else 'almost no'} state ({rep.flagged_fraction:.3%}); "
            "check the field, the unit and the direction of the comparison"
        )
    elif rep.flagged_fraction > everything:
        rep.warnings.append(
            f"the rule flags nearly every state ({rep.flagged_fraction:.1%}); "
            "check the field, the unit and the direction of the comparison"
        )
    return rep
