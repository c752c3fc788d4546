"""A run directory: everything needed to inspect, reproduce and resume one training run.

Layout::

    RUN_DIR/config.yaml      resolved config (algorithm, task, seed, every hyperparameter)
    RUN_DIR/metrics.jsonl    one JSON object per logged step
    RUN_DIR/tb/              TensorBoard events
    RUN_DIR/checkpoint.pt    latest checkpoint, replaced atomically (temp file + rename)
    RUN_DIR/eval.json        final evaluation metrics
    RUN_DIR/environment.jsonl  per session that ran it: versions, CPU, math-kernel settings

Writes go through a temp file and ``os.replace`` so a kill -9 at any moment
leaves either the old file or the new one, never a torn one.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

from safemil.config import load_yaml, save_yaml
from safemil.environment import environment_record
from safemil.errors import SafemilError
from safemil.files import atomic_write_bytes, atomic_write_text, make_dirs, remove_dirs


class RunDir:
    CONFIG = "config.yaml"
    METRICS = "metrics.jsonl"
    CHECKPOINT = "checkpoint.pt"
    EVAL = "eval.json"
    ENVIRONMENT = "environment.jsonl"

    def __init__(self, path: str | os.PathLike, create: bool = True):
        self.path = Path(path)
        if create:
            make_dirs(self.path, "run directory")
        elif self.path.exists() and not self.path.is_dir():
            raise SafemilError(f"{self.path} is a file, not a run directory")
        elif not self.path.is_dir():
            raise SafemilError(f"run directory not found: {self.path}")
        self._tb = None
        self._purge_step: int | None = None

    # -- config -----------------------------------------------------------------
    def write_config(self, config: dict) -> None:
        save_yaml(config, self.path / self.CONFIG)

    def read_config(self) -> dict:
        p = self.path / self.CONFIG
        if not p.exists():
            raise SafemilError(f"{self.path} has no {self.CONFIG}: not a safemil run directory")
        return load_yaml(p)

    def record_environment(self) -> None:
        """Append what this session runs with (a resumed run may continue on another machine)."""
        with open(self.path / self.ENVIRONMENT, "a") as f:
            f.write(json.dumps(environment_record()) + "\n")

    # -- metrics ----------------------------------------------------------------
    def log(self, step: int, metrics: dict[str, Any]) -> None:
        """Append one JSON line and mirror scalars to TensorBoard."""
        row = {"step": int(step), **{k: _jsonable(v) for k, v in metrics.items()}}
        with open(self.path / self.METRICS, "a") as f:
            f.write(json.dumps(row) + "\n")
        tb = self.tensorboard()
        for k, v in metrics.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                tb.add_scalar(k, v, step)

    def read_metrics(self) -> list[dict]:
        p = self.path / self.METRICS
        if not p.exists():
            return []
        rows = []
        for line in p.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                break  # a line torn by a kill: everything after it is not trusted
        return rows

    def truncate_metrics(self, after_step: int) -> None:
        """Drop rows logged after ``after_step`` (they will be re-logged on resume), in the JSON lines
        and, through TensorBoard's ``purge_step``, in the event files, so no curve shows a step twice."""
        rows = [r for r in self.read_metrics() if r["step"] <= after_step]
        atomic_write_text(self.path / self.METRICS, "".join(json.dumps(r) + "\n" for r in rows))
        if (self.path / "tb").is_dir():
            self.close()  # the next writer opens with the purge marker
            self._purge_step = after_step + 1

    def tensorboard(self):
        if self._tb is None:
            from torch.utils.tensorboard import SummaryWriter

            if self._purge_step is not None:
                _wait_past_event_files(self.path / "tb")
            self._tb = SummaryWriter(log_dir=str(self.path / "tb"), purge_step=self._purge_step)
        return self._tb

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
            self._tb = None

    # -- checkpoints --------------------------------------------------------------
    def save_checkpoint(self, state: dict, name: str = CHECKPOINT) -> None:
        import torch

        buf = io.BytesIO()
        torch.save(state, buf)
        atomic_write_bytes(self.path / name, buf.getvalue())

    def load_checkpoint(self, name: str = CHECKPOINT) -> dict | None:
        import torch

        p = self.path / name
        if not p.exists():
            return None
        try:
            return torch.load(p, map_location="cpu", weights_only=False)
        except Exception as e:  # a checkpoint we cannot read must not be silently ignored
            raise SafemilError(f"cannot read checkpoint {p}: {e}") from None

    # -- evaluation ---------------------------------------------------------------
    def write_eval(self, metrics: dict) -> None:
        atomic_write_text(self.path / self.EVAL, json.dumps(_jsonable(metrics), indent=2))

    def read_eval(self) -> dict | None:
        p = self.path / self.EVAL
        return json.loads(p.read_text()) if p.exists() else None


class NewRun:
    """A fresh run directory that is taken back if the run fails before its first training step.

    A failed start must leave nothing that blocks the corrected command: a ``config.yaml`` left
    behind would make it refuse the directory ("already holds a run") and ``--resume`` repeat the
    error. Only what this call made goes: entries that were not in the directory before it, then
    the folders it created, if empty. Call `started` once a step has run: from then on the
    directory holds a (resumable) run and is kept.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._before = set(os.listdir(self.path)) if self.path.is_dir() else set()
        self._made = make_dirs(self.path, "run directory")
        self.run_dir = RunDir(self.path)
        self._started = False

    def started(self) -> None:
        self._started = True

    def __enter__(self) -> NewRun:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None and not self._started:
            self.run_dir.close()
            self._rollback()

    def _rollback(self) -> None:
        for name in set(os.listdir(self.path)) - self._before:
            p = self.path / name
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
        remove_dirs(self._made)


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if hasattr(x, "item") and callable(x.item) and getattr(x, "ndim", 0) == 0:
        return x.item()
    if hasattr(x, "tolist"):
        return x.tolist()
    return x


def _wait_past_event_files(tb_dir: Path) -> None:
    """Sleep (a second at most) until the clock's second is past every event file's in ``tb_dir``.

    TensorBoard reads a directory's event files in name order, and a name is
    ``events.out.tfevents.<second>.<host>.<pid>.<counter>``: a file opened in the same second as
    the last one can sort before it (counter 10 before 9, or a lower pid), and then its purge
    marker is read first and purges nothing. A later second always sorts last. Files stamped
    further ahead (a clock that was ahead) are not waited for."""
    stamps = [p.name.split(".")[3] for p in tb_dir.glob("events.out.tfevents.*")]
    latest = max((int(s) for s in stamps if s.isdigit()), default=None)
    if latest is not None and int(time.time()) <= latest <= time.time() + 1:
        time.sleep(max(0.0, latest + 1 - time.time()))
