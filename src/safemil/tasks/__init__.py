"""Task registry: the velocity-constrained locomotion tasks (Safety-Gymnasium v1 rules) and the
Safety-Gymnasium navigation tasks PointGoal1, PointButton1, PointCircle2 (rebuilt in `safemil.tasks.nav`).

A task bundles the env factory, the cost rule, an observation schema and the
DSRL normalisation constants; velocity tasks also carry their cost threshold.
"""

from safemil.tasks.reference import DEFAULT_COST_LIMIT
from safemil.tasks.registry import (
    TASKS,
    NavTaskSpec,
    NotAVelocityTask,
    ObsField,
    TaskSpec,
    VelocityTaskSpec,
    get_task,
    list_tasks,
)

__all__ = [
    "DEFAULT_COST_LIMIT",
    "TASKS",
    "NavTaskSpec",
    "NotAVelocityTask",
    "ObsField",
    "TaskSpec",
    "VelocityTaskSpec",
    "get_task",
    "list_tasks",
]
