"""Find a dataset from what the user typed: a path, a DSRL file name, or a task name."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

from safemil.errors import DatasetError, TaskError
from safemil.tasks import get_task


def default_data_dir() -> Path:
    """Where generated datasets live: ``$SAFEMIL_DATA_DIR``, else the user cache dir."""
    env = os.environ.get("SAFEMIL_DATA_DIR")
    return Path(env) if env else Path(platformdirs.user_cache_dir("safemil")) / "datasets"


def dsrl_data_dir() -> Path:
    """Where the `dsrl` package caches its downloads: ``$DSRL_DATASET_DIR`` or ``~/.dsrl/datasets``."""
    env = os.environ.get("DSRL_DATASET_DIR")
    return Path(env) if env else Path.home() / ".dsrl" / "datasets"


def default_dataset_path(task: str) -> Path:
    return default_data_dir() / f"{get_task(task).name}-default.hdf5"


def resolve_dataset(spec: str | os.PathLike) -> Path:
    """Turn a path, a DSRL file name or a task name into an existing file path.

    A task name finds the task's generated default dataset, else its DSRL file (e.g.
    ``SafetyPointGoal1Gymnasium-v0-100-2022.hdf5``) in the DSRL folder.

    A cached default dataset is returned as it is; `safemil.collect.find_dataset` also warns
    when it was generated differently from this version's default."""
    p = Path(spec).expanduser()
    name = str(spec)
    try:
        task = get_task(name)
    except TaskError:
        task = None
    if p.exists() and not (task is not None and p.is_dir()):  # a folder named like a task is not its data
        return p
    candidates = [dsrl_data_dir() / name, default_data_dir() / name]
    if task is not None:  # a task name: its generated default dataset, then the task's DSRL file
        candidates[:0] = [default_dataset_path(name), dsrl_data_dir() / task.reference.dataset_file]
    candidates = list(dict.fromkeys(candidates))  # an absolute path joins to itself under both folders
    for c in candidates:
        if c.exists():
            return c
    looked = ", ".join(str(c) for c in candidates)
    hint = "" if task is None else f"; generate it with: safemil data generate --task {task.name}"
    raise DatasetError(f"dataset {name!r} not found (looked in {looked}){hint}")
