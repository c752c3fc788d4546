"""The Python API: what the `safemil` command does, as plain functions (`import safemil`).

Every function here is the CLI's own path: ``safemil.runner`` is ``safemil train``, so a run
made from a notebook is a normal run directory (config, metrics, checkpoints, eval.json)
that ``safemil train --resume``, ``safemil eval`` and ``safemil report`` read.

    import safemil

    data = safemil.load_dataset("SwimmerVelocity")   # a task's default dataset, a path, or a DSRL file name
    print(len(data.index), "trajectories")
    run = safemil.train("safemil", "SwimmerVelocity", out="runs/demo", seed=0,
                        overrides=["policy_steps=2000", "mil.steps=500", "eval.episodes=10"])
    print(run.metrics["normalized_return"], run.metrics["normalized_cost"])
    again = safemil.evaluate(run.run_dir, episodes=20)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safemil.algos import AlgoSpec, list_algos
from safemil.collect import find_dataset
from safemil.data import Dataset, read_dsrl
from safemil.errors import SafemilError
from safemil.runner import evaluate_run, make_run_config
from safemil.runner import resume as resume_run
from safemil.runner import train as train_run
from safemil.tasks import TaskSpec, get_task, list_tasks

__all__ = ["Run", "algorithms", "evaluate", "load_dataset", "resume", "tasks", "train"]


@dataclass(frozen=True)
class Run:
    """A finished run: its directory and its final evaluation (the contents of ``eval.json``)."""

    run_dir: Path
    metrics: dict[str, Any]


def load_dataset(spec: str | Path, task: str | None = None) -> Dataset:
    """Read a DSRL-layout dataset: a path, a DSRL file name, or a task name (its default dataset).

    ``task`` checks the file's dimensions against that task. Rewards and costs are in the
    returned `Dataset`; methods only ever see label-free views of it (see `safemil.data.splits`).
    """
    return read_dsrl(find_dataset(spec), task=get_task(task).name if task else None)


def train(algo: str, task: str, *, dataset: str | Path | None = None, seed: int = 0,
          out: str | Path | None = None, overrides: Sequence[str] = (), preset: str = "default") -> Run:
    """Train ``algo`` on ``task`` and evaluate it online, in a new run directory.

    ``dataset`` defaults to the task's generated dataset; ``overrides`` are ``key=value`` strings
    as on the command line (``split.*``, ``data.*``, ``train.*``, ``eval.*`` or the algorithm's
    keys, `docs/config-reference.md`), applied after the named ``preset`` (`safemil.presets`:
    ``default`` is the configuration the results tables report; ``none``, the config classes'
    own defaults); ``out`` defaults to ``runs/<task>/<algo>/seed<seed>``.
    """
    cfg = make_run_config(algo, task, None if dataset is None else str(dataset), seed, list(overrides), preset)
    run_dir = Path(out) if out is not None else Path("runs") / cfg.task / cfg.algo / f"seed{seed}"
    return _finished(run_dir, train_run(cfg, run_dir))


def resume(run_dir: str | Path) -> Run:
    """Continue a killed run from its last checkpoint; it ends with an uninterrupted run's numbers."""
    return _finished(Path(run_dir), resume_run(run_dir))


def _finished(run_dir: Path, metrics: dict[str, Any] | None) -> Run:
    if metrics is None:  # only a run stopped on purpose (the runner's ``stop_at``) ends without them
        raise SafemilError(f"the run in {run_dir} stopped before its evaluation")
    return Run(run_dir, metrics)


def evaluate(run_dir: str | Path, *, episodes: int | None = None,
             deterministic: bool | None = None) -> dict[str, Any]:
    """Re-evaluate a run's latest checkpoint with the settings saved beside it.

    ``episodes`` and ``deterministic`` (noise-free or sampled actions) default to the run's own.
    """
    return evaluate_run(run_dir, episodes, deterministic)


def tasks(kind: str = "all") -> list[TaskSpec]:
    """The registered tasks (`safemil tasks`): ``"all"``, or one kind (e.g. ``"velocity"``)."""
    return list_tasks(kind)


def algorithms() -> list[AlgoSpec]:
    """The registered algorithms (`safemil algos`); ``oracle`` ones read hidden labels."""
    return list_algos()
