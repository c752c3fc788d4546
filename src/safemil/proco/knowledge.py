"""Which knowledge cost a PROCO run uses: a rule, a saved cost file, or the task's shipped rule."""

from __future__ import annotations

from dataclasses import dataclass

from safemil.costs.knowledge import BACKENDS, KnowledgeCost, default_rule, ground
from safemil.errors import ConfigError
from safemil.tasks import get_task


@dataclass
class KnowledgeSettings:
    """``cost_file`` wins; else ``rule`` grounded with ``backend``; else the task's shipped expression.

    With the ``static`` backend the rule IS the expression (e.g. ``x_velocity > 3.0``);
    with ``openai`` it is plain language sent to the configured endpoint (see docs/knowledge-cost.md).
    ``margin`` makes the cost conservative (flags states within that fraction of each threshold).
    """

    rule: str = ""  # static: a cost expression; openai: plain language; "": the task's shipped expression
    cost_file: str = ""  # a saved knowledge cost (JSON) for this task; excludes rule
    backend: str = "static"  # static | openai: how rule is grounded (ignored without rule)
    margin: float = 0.0  # [0, 1): conservative shift, fraction of each threshold; 0: a cost file keeps its own

    def __post_init__(self):
        if self.rule and self.cost_file:
            raise ConfigError("give knowledge.rule or knowledge.cost_file, not both")
        if self.backend not in BACKENDS:
            raise ConfigError(f"unknown knowledge.backend {self.backend!r}; choose one of {', '.join(BACKENDS)}")


def make_knowledge_cost(task: str, settings: KnowledgeSettings) -> KnowledgeCost:
    if settings.cost_file:
        cost = KnowledgeCost.load(settings.cost_file)
        if cost.task != get_task(task).name:
            raise ConfigError(f"cost file {settings.cost_file} is for task {cost.task}, not {task}")
        if settings.margin:
            cost = KnowledgeCost(cost.task, cost.expression, settings.margin, cost.config.softness, cost.provenance)
        return cost
    rule = settings.rule or default_rule(task).expression
    backend = settings.backend if settings.rule else "static"
    return ground(task, rule, backend, margin=settings.margin).cost
