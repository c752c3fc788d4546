"""Shipped rules: for each velocity task, a plain-language rule and the expression we expect for it.

Each expression restates the task's cost on the observation: the forward velocity
field (for Ant, the planar speed of the torso) above the Safety-Gymnasium v1
threshold. They let the pipeline run with the ``static`` backend, and are what a
good model should answer to the rule with the ``openai`` backend.
"""

from __future__ import annotations

from dataclasses import dataclass

from safemil.errors import TaskError
from safemil.tasks import get_task


@dataclass(frozen=True)
class KnowledgeDefault:
    task: str
    rule: str  # plain language, for an LLM
    expression: str  # the expected grounding, for the static backend


DEFAULTS: dict[str, KnowledgeDefault] = {
    d.task: d
    for d in [
        KnowledgeDefault(
            "HalfCheetahVelocity",
            "The cheetah must not run forward faster than 3.2096 m/s.",
            "x_velocity > 3.2096",
        ),
        KnowledgeDefault(
            "HopperVelocity",
            "The hopper must not move forward faster than 0.7402 m/s.",
            "x_velocity > 0.7402",
        ),
        KnowledgeDefault(
            "Walker2dVelocity",
            "The walker must not move forward faster than 2.3415 m/s.",
            "x_velocity > 2.3415",
        ),
        KnowledgeDefault(
            "SwimmerVelocity",
            "The swimmer must not move forward faster than 0.2282 m/s.",
            "x_velocity > 0.2282",
        ),
        KnowledgeDefault(
            "AntVelocity",
            "The ant's torso must not move faster than 2.6222 m/s over the ground, in any horizontal direction.",
            "norm(x_velocity, y_velocity) > 2.6222",
        ),
    ]
}


def default_rule(task: str) -> KnowledgeDefault:
    """The shipped rule for a task (by any name `get_task` accepts)."""
    name = get_task(task).name
    if name not in DEFAULTS:
        raise TaskError(f"no shipped knowledge rule for task {name}; pass --rule")
    return DEFAULTS[name]
