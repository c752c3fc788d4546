"""Read and write the DSRL HDF5 layout, with validation that names what is wrong.

Layout: flat gzip-compressed arrays ``observations``, ``next_observations``,
``actions``, ``rewards``, ``costs`` (float32) and ``terminals``, ``timeouts``
(boolean). (N, 1) arrays are squeezed to (N,). Other keys in a user's file are
ignored.
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np

from safemil.data.dataset import Dataset
from safemil.errors import DatasetError

FLOAT_KEYS = ("observations", "next_observations", "actions", "rewards", "costs")
FLAG_KEYS = ("terminals", "timeouts")
REQUIRED_KEYS = FLOAT_KEYS + FLAG_KEYS


def read_dsrl(path: str | os.PathLike, task: str | None = None) -> Dataset:
    """Load and validate a DSRL-layout file. ``task`` (a task name) also checks dimensions."""
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"dataset file not found: {path}")
    if path.is_dir():
        raise DatasetError(f"{path} is a directory, not a dataset file")
    if path.stat().st_size == 0:
        raise DatasetError(f"{path} is empty (0 bytes)")
    if not h5py.is_hdf5(path):
        raise DatasetError(f"{path} is not an HDF5 file")
    try:
        with h5py.File(path, "r") as f:
            missing = [k for k in REQUIRED_KEYS if k not in f]
            if len(missing) == len(REQUIRED_KEYS):
                raise DatasetError(
                    f"{path} holds none of the DSRL keys ({', '.join(REQUIRED_KEYS)})"
                )
            if missing:
                raise DatasetError(f"{path}: missing key {missing[0]!r}")
            arrays = {}
            for k in REQUIRED_KEYS:
                if not isinstance(f[k], h5py.Dataset):
                    raise DatasetError(f"{path}: {k!r} is a group, expected an array")
                arrays[k] = f[k][()]
            stored_task = f.attrs.get("task")
    except DatasetError:
        raise
    except (OSError, KeyError, ValueError) as e:
        raise DatasetError(f"{path}: cannot read HDF5 contents ({e})") from None
    if task is None and isinstance(stored_task, (str, bytes)):
        # files we wrote carry their task: use it (and check dimensions against it)
        name = stored_task.decode() if isinstance(stored_task, bytes) else stored_task
        from safemil.errors import TaskError
        from safemil.tasks import get_task

        try:
            task = get_task(name).name
        except TaskError:
            task = None  # a foreign attribute, not one of our task names
    return validate_arrays(arrays, task=task, source=str(path))


def validate_arrays(arrays: dict[str, np.ndarray], task: str | None = None, source: str = "dataset") -> Dataset:
    """Check shapes, finiteness and episode structure; return a `Dataset` in canonical dtypes."""
    out = {}
    for k in REQUIRED_KEYS:
        a = np.asarray(arrays[k])
        if a.ndim == 2 and a.shape[1] == 1 and k not in ("observations", "next_observations", "actions"):
            a = a[:, 0]
        if not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
            raise DatasetError(f"{source}: {k!r} has non-numeric dtype {a.dtype}")
        out[k] = a
    n = len(out["observations"])
    if n == 0:
        raise DatasetError(f"{source}: 'observations' has 0 rows (empty dataset)")
    for k in ("observations", "next_observations", "actions"):
        if out[k].ndim != 2:
            raise DatasetError(f"{source}: {k!r} must be 2-D (rows, dims), got shape {out[k].shape}")
    for k in ("rewards", "costs", "terminals", "timeouts"):
        if out[k].ndim != 1:
            raise DatasetError(f"{source}: {k!r} must be 1-D (rows,), got shape {out[k].shape}")
    for k in REQUIRED_KEYS[1:]:
        if len(out[k]) != n:
            raise DatasetError(f"{source}: {k!r} has {len(out[k])} rows but 'observations' has {n}")
    if out["next_observations"].shape != out["observations"].shape:
        raise DatasetError(
            f"{source}: 'next_observations' has shape {out['next_observations'].shape} "
            f"but 'observations' has {out['observations'].shape}"
        )
    for k in FLOAT_KEYS:
        a = out[k].astype(np.float32, copy=False)
        bad = ~np.isfinite(a)
        if bad.any():
            row = int(np.flatnonzero(bad.reshape(n, -1).any(axis=1))[0])
            raise DatasetError(f"{source}: {k!r} has a NaN or inf value at row {row}")
        out[k] = a
    for k in FLAG_KEYS:
        a = out[k]
        if np.issubdtype(a.dtype, np.floating) and not np.isfinite(a).all():
            row = int(np.flatnonzero(~np.isfinite(a))[0])
            raise DatasetError(f"{source}: {k!r} has a NaN or inf value at row {row}")
        out[k] = a.astype(bool)
    if not (out["terminals"] | out["timeouts"]).any():
        raise DatasetError(f"{source}: no trajectory ends ('terminals' and 'timeouts' are all 0)")
    if task is not None:
        from safemil.tasks import get_task

        spec = get_task(task)
        if out["observations"].shape[1] != spec.obs_dim:
            raise DatasetError(
                f"{source}: observations have {out['observations'].shape[1]} columns but task "
                f"{spec.name} expects {spec.obs_dim}"
            )
        if out["actions"].shape[1] != spec.act_dim:
            raise DatasetError(
                f"{source}: actions have {out['actions'].shape[1]} columns but task "
                f"{spec.name} expects {spec.act_dim}"
            )
        task = spec.name
    return Dataset(**out, task=task)


def write_dsrl(dataset: Dataset, path: str | os.PathLike, attrs: dict | None = None) -> Path:
    """Write atomically (temp file + rename) so a crash never leaves a half-written dataset."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with h5py.File(tmp, "w") as f:
            for k in FLOAT_KEYS:
                f.create_dataset(k, data=getattr(dataset, k).astype(np.float32), compression="gzip")
            for k in FLAG_KEYS:
                f.create_dataset(k, data=getattr(dataset, k).astype(bool), compression="gzip")
            if dataset.task:
                f.attrs["task"] = dataset.task
            for k, v in (attrs or {}).items():
                f.attrs[k] = v
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path
