"""`KnowledgeCost`: a checked expression bound to a task, usable wherever a cost source is.

It maps observation batches (numpy or torch) to costs in [0, 1], satisfies
`safemil.costs.base.CostModel` (the action is ignored; there is nothing to
train), and round-trips through a small JSON file so a grounded rule can be
reused later (``--cost-file``). Loading re-parses the stored expression: a file
is as untrusted as an LLM answer.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from safemil.costs.knowledge.compiler import CompiledCost
from safemil.costs.knowledge.errors import CostFileError
from safemil.costs.knowledge.language import Parsed, parse_expression
from safemil.files import atomic_write_text
from safemil.tasks import get_task

FILE_FORMAT = "safemil-knowledge-cost"
FILE_VERSION = 1


@dataclass
class KnowledgeCostConfig:
    """Everything that defines a knowledge cost (what `state_dict` and the file hold)."""

    task: str
    expression: str
    margin: float = 0.0  # conservative shift, fraction of each threshold (0 = exact rule)
    softness: float = 0.0  # 0 = hard 0/1 cost; > 0 = sigmoid width, fraction of each threshold


class KnowledgeCost:
    """A cost function from a rule: ``cost(obs) -> (...)`` in [0, 1]; 1 = unsafe."""

    def __init__(
        self,
        task: str,
        expression: str,
        margin: float = 0.0,
        softness: float = 0.0,
        provenance: dict[str, Any] | None = None,
    ):
        self.spec = get_task(task)
        self.parsed: Parsed = parse_expression(expression, self.spec.schema)
        self._compiled = CompiledCost(self.parsed, self.spec.obs_dim, margin, softness)  # checks the options
        self.config = KnowledgeCostConfig(self.spec.name, self.parsed.source, float(margin), float(softness))
        self.provenance: dict[str, Any] = dict(provenance or {})

    # -- evaluation ------------------------------------------------------------------------------
    def __call__(self, obs):
        """Costs of a batch ``(..., obs_dim)``; numpy in -> numpy out, torch in -> torch out."""
        return self._compiled(obs)

    def transition_cost(self, obs, next_obs):
        """Cost of a transition: velocity tasks score the mean of its start and end observations,
        navigation tasks its end observation.

        Velocity tasks: a per-step cost defined by the position change over the step is the
        step-average velocity, which the mean of the start and end velocities estimates better
        than either alone. Navigation tasks: the cost is where the step ends (inside a hazard,
        touching a gremlin or a wrong button, outside the circle's box); the mean of two lidar
        readings is no position at all (on the PointGoal1 dataset the shipped rule's recall is
        0.795 at the midpoint, 1.000 at the end state). Same in/out types as ``__call__``.
        """
        if self.spec.kind == "navigation":
            return self._compiled(next_obs)
        return self._compiled(0.5 * (obs + next_obs))

    @property
    def expression(self) -> str:
        return self.parsed.source

    @property
    def canonical(self) -> str:
        """The expression as we understood it (fields by name, conditionals as where())."""
        return self.parsed.canonical

    @property
    def fields(self) -> tuple[str, ...]:
        return self.parsed.fields

    @property
    def task(self) -> str:
        return self.spec.name

    # -- CostModel protocol --------------------------------------------------------------------
    def cost(self, obs, act=None):
        """Per-pair cost; the rule depends on the state only, so ``act`` is ignored."""
        return self._compiled(obs)

    def train_step(self) -> dict[str, float]:
        """Nothing to learn: the cost is given by the rule."""
        return {}

    def state_dict(self) -> dict:
        return asdict(self.config)

    def load_state_dict(self, state: dict) -> None:
        other = KnowledgeCost(**_config_kwargs(state, "state_dict"))
        self.__dict__.update({k: v for k, v in other.__dict__.items() if k != "provenance"})

    def __getstate__(self) -> dict:
        """Pickle the definition, not the compiled closures (for worker processes)."""
        return {"config": asdict(self.config), "provenance": self.provenance}

    def __setstate__(self, state: dict) -> None:
        self.__init__(**state["config"], provenance=state["provenance"])

    # -- files -----------------------------------------------------------------------------------
    def to_dict(self, check: dict | None = None) -> dict:
        out = {"format": FILE_FORMAT, "version": FILE_VERSION, **asdict(self.config), "canonical": self.canonical}
        out["provenance"] = self.provenance
        if check is not None:
            out["check"] = check
        return out

    def save(self, path: str | os.PathLike, check: dict | None = None) -> Path:
        """Write the cost (and optionally its data-check report) atomically as JSON."""
        p = Path(path)
        atomic_write_text(p, json.dumps(self.to_dict(check), indent=2) + "\n")
        return p

    @classmethod
    def load(cls, path: str | os.PathLike) -> KnowledgeCost:
        p = Path(path)
        try:
            data = json.loads(p.read_text())
        except FileNotFoundError:
            raise CostFileError(f"cost file not found: {p}") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise CostFileError(f"cannot read cost file {p}: {e}") from None
        if not isinstance(data, dict) or data.get("format") != FILE_FORMAT:
            raise CostFileError(f"{p} is not a safemil knowledge-cost file (no format: {FILE_FORMAT!r})")
        if data.get("version") != FILE_VERSION:
            raise CostFileError(f"{p}: unsupported version {data.get('version')!r} (this safemil reads {FILE_VERSION})")
        prov = data.get("provenance") or {}
        return cls(**_config_kwargs(data, str(p)), provenance=prov if isinstance(prov, dict) else {})

    def __repr__(self) -> str:
        opts = f", margin={self.config.margin:g}" if self.config.margin else ""
        opts += f", softness={self.config.softness:g}" if self.config.softness else ""
        return f"KnowledgeCost({self.task}: {self.expression!r}{opts})"


def _config_kwargs(data: dict, where: str) -> dict:
    names = [f.name for f in KnowledgeCostConfig.__dataclass_fields__.values()]
    missing = [k for k in ("task", "expression") if k not in data]
    if missing:
        raise CostFileError(f"{where}: missing {', '.join(missing)}")
    out = {k: data[k] for k in names if k in data}
    if not isinstance(out["task"], str) or not isinstance(out["expression"], str):
        raise CostFileError(f"{where}: 'task' and 'expression' must be text")
    for k in ("margin", "softness"):
        if k in out and (isinstance(out[k], bool) or not isinstance(out[k], (int, float))):
            raise CostFileError(f"{where}: {k!r} must be a number, got {out[k]!r}")
    return out


__all__ = ["KnowledgeCost", "KnowledgeCostConfig"]
