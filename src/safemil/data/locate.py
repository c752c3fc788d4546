"""Find a dataset from what the user typed: a path, a DSRL file name, or a task name."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

from safemil.errors import DatasetError, TaskError


def default_data_dir() -> Path:
    """Where generated datasets live: ``$SAFEMIL_DATA_DIR``, else the user cache dir."""
    env = os.environ.get("SAFEMIL_DATA_DIR")
    return Path(env) if env else Path(platformdirs.user_cache_dir("safemil")) / "datasets"


def dsrl_data_dir() -> Path:
    """Where the `dsrl` package caches its downloads: ``$DSRL_DATASET_DIR`` or ``~/.dsrl/datasets``."""
    env = os.environ.get("DSRL_DATASET_DIR")
    return Path(env) if env else Path.home() / ".dsrl" / "datasets"


def default_dataset_path(task: str) -> Path:
    from safemil.tasks import get_task

    return default_data_dir() / f"{get_task(task).name}-default.hdf5"


def resolve_dataset(spec: str | os.PathLike) -> Path:
    """Turn a path, a DSRL file name or a task name into an existing file path."""
    p = Path(spec).expanduser()
    if p.exists():
        return p
    name = str(spec)
    candidates = [dsrl_data_dir() / name, default_data_dir() / name]
    default = None
    try:
        default = default_dataset_path(name)
        candidates.insert(0, default)
    except TaskError:
        pass
    for c in candidates:
        if c.exists():
            if c == default:
                _warn_if_stale(name, c)
            return c
    looked = ", ".join(str(c) for c in candidates)
    hint = ""
    try:
        from safemil.tasks import get_task

        hint = f"; generate it with: safemil data generate --task {get_task(name).name}"
    except TaskError:
        pass
    raise DatasetError(f"dataset {name!r} not found (looked in {looked}){hint}")


def _warn_if_stale(task: str, path: Path) -> None:
    """A cached default dataset generated under another config is still used, but never silently."""
    try:
        from safemil.collect.generate import stale_default_dataset
    except ImportError:  # an install without the dataset-generation module
        return
    try:
        why = stale_default_dataset(task, path)
    except OSError:  # an unreadable file or no shipped policy: the reader (or generator) says so clearly
        return
    if why:
        import sys

        print(f"warning: the cached default dataset {path} was generated differently from this version's "
              f"default ({why}); regenerate it with: safemil data generate --task {task}", file=sys.stderr)

