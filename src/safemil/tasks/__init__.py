"""Task registry: the velocity-constrained locomotion tasks (Safety-Gymnasium v1 rules).

A task bundles the env factory, the cost rule, the cost threshold, an
observation schema and the DSRL normalisation constants.
"""

from safemil.tasks.registry import TASKS, ObsField, TaskSpec, get_task, list_tasks

__all__ = ["TASKS", "ObsField", "TaskSpec", "get_task", "list_tasks"]
