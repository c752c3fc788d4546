"""The one function an executor calls per grid cell: train (or resume) a run, evaluate it, report.

`run_one` is the seam between the grid and the training runner
(`safemil.runner`): a finished run (``eval.json`` present) is left alone, an
interrupted one (``config.yaml`` present) resumes from its checkpoint, anything
else starts fresh. It never raises: a failure comes back as an outcome with a
one-line error, so one bad cell cannot take the grid down. Wall and CPU
time are accumulated per run in ``RUN_DIR/bench.json`` (sessions that were
killed are not counted: their time is lost with them).
"""

from __future__ import annotations

import json
import os
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from safemil.bench.grid import RunSpec
from safemil.data.fingerprint import check_dataset_version
from safemil.errors import SafemilError
from safemil.files import atomic_write_text
from safemil.runs import RunDir

BENCH_FILE = "bench.json"
# Keys that may differ between the stored config of a run and the grid's without changing results.
# ``preset`` names where the values came from; the values themselves are compared.
_IGNORED_CONFIG_KEYS = {("train", "progress"), ("preset",)}


@dataclass
class RunOutcome:
    run: RunSpec
    status: str  # "done" | "resumed" | "skipped" | "failed"
    wall_s: float = 0.0  # this session only
    error: str | None = None
    metrics: dict = field(default_factory=dict)  # eval.json without per-episode lists
    pid: int = 0


def is_finished(run: RunSpec) -> bool:
    return (Path(run.out_dir) / RunDir.EVAL).exists()


def run_config(run: RunSpec):
    """The resolved `RunConfig` the grid asks for (progress bars off: the grid shows its own)."""
    from safemil.runner import make_run_config

    return make_run_config(run.algo, run.task, run.dataset, run.seed,
                           [*run.overrides, "train.progress=false"], preset=run.preset)


def check_matches(run: RunSpec) -> None:
    """A run dir already holding a run with another config must not be silently reused."""
    from safemil.config import to_dict

    rd = RunDir(run.out_dir, create=False)
    stored = rd.read_config()
    wanted = to_dict(run_config(run))
    _check_dataset(rd, stored, wanted)
    try:
        resolved = _with_defaults(stored)
    except SafemilError as e:
        raise SafemilError(f"{rd.path} holds a run whose config this version does not accept ({e}); "
                           "use another --out or delete that run directory") from None
    diffs = _diff(resolved, wanted)
    if diffs:
        key, old, new = diffs[0]
        raise SafemilError(
            f"{rd.path} holds a run whose {key} is {old!r} but this grid asks for {new!r} "
            f"({len(diffs)} difference(s)); use another --out or delete that run directory")


def _with_defaults(stored: dict) -> dict:
    """A stored config with the defaults of the options added since it was written.

    A new option's default keeps the old behaviour, so a run made before it existed is the run
    the grid asks for; a changed value still differs, and an option this version does not know raises.
    """
    from safemil.config import from_dict, to_dict
    from safemil.runner import RunConfig, algo_config

    cfg = from_dict(RunConfig, stored)
    cfg.config = to_dict(algo_config(cfg))
    return to_dict(cfg)


def check_dataset(run: RunSpec) -> None:
    """The run stored in ``run.out_dir`` was made from the current version of its dataset file."""
    from safemil.config import to_dict

    rd = RunDir(run.out_dir, create=False)
    _check_dataset(rd, rd.read_config(), to_dict(run_config(run)))


def _check_dataset(rd: RunDir, stored: dict, wanted: dict) -> None:
    if stored.get("dataset_sha256", "") != wanted["dataset_sha256"]:
        check_dataset_version(wanted["dataset"], stored.get("dataset_sha256", ""), f"run {rd.path}")


def _diff(a, b, prefix: tuple = ()) -> list[tuple[str, object, object]]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b), key=str):
            if prefix + (k,) in _IGNORED_CONFIG_KEYS:
                continue
            out += _diff(a.get(k), b.get(k), prefix + (k,))
        return out
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        a, b = list(a), list(b)
    return [] if a == b else [(".".join(map(str, prefix)), a, b)]


def run_one(run: RunSpec) -> RunOutcome:
    """Train+evaluate one cell, or resume it, or skip it if finished. Never raises."""
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        _limit_threads()
        if is_finished(run):
            return RunOutcome(run, "skipped", metrics=_public(RunDir(run.out_dir).read_eval()), pid=os.getpid())
        from safemil import runner

        out = Path(run.out_dir)
        with RunLock(out):
            if (out / RunDir.CONFIG).exists():
                check_matches(run)
                status, metrics = "resumed", runner.resume(out)
            else:
                status, metrics = "done", runner.train(run_config(run), out)
        if metrics is None:
            raise SafemilError("the training runner returned no metrics")
        wall = time.perf_counter() - t0
        _add_times(out, wall, time.process_time() - c0)
        return RunOutcome(run, status, wall, metrics=_public(metrics), pid=os.getpid())
    except BaseException as e:  # noqa: BLE001 - reported as the run's failure, the grid goes on
        if isinstance(e, KeyboardInterrupt):
            raise
        return RunOutcome(run, "failed", time.perf_counter() - t0, error=one_line(e), pid=os.getpid())


class RunLock:
    """``RUN_DIR/.bench.lock`` holding the owner's pid: two grids never write one run at once.

    A lock whose process is gone (a killed grid) is taken over.
    """

    NAME = ".bench.lock"

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / self.NAME

    def __enter__(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                owner = _lock_owner(self.path)
                if owner is not None and owner != os.getpid() and _alive(owner):
                    raise SafemilError(f"{self.path.parent} is being run by process {owner}; "
                                       "wait for it or stop it first") from None
                self.path.unlink(missing_ok=True)
                continue
            with os.fdopen(fd, "w") as f:
                f.write(str(os.getpid()))
            return self
        raise SafemilError(f"cannot lock {self.path}")

    def __exit__(self, *exc) -> None:
        self.path.unlink(missing_ok=True)


def _lock_owner(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def one_line(e: BaseException) -> str:
    """``Type: message`` on one line; for bugs (not `SafemilError`) the innermost frame too."""
    msg = " ".join(str(e).split()) or "(no message)"
    text = f"{type(e).__name__}: {msg}"
    if not isinstance(e, SafemilError):
        tb = traceback.extract_tb(e.__traceback__)
        if tb:
            f = tb[-1]
            text += f" (at {Path(f.filename).name}:{f.lineno})"
    return text


def read_times(run_dir: str | Path) -> tuple[float | None, float | None]:
    """(wall seconds, CPU seconds) of the sessions that finished the run; None where not recorded.

    CPU time is what the run's worker process used (training, scoring, evaluation): unlike wall
    time it does not grow when other jobs share the cores, so it is what sizes a grid."""
    p = Path(run_dir) / BENCH_FILE
    try:
        data = json.loads(p.read_text())
    except (OSError, ValueError):
        return None, None
    return _float_or_none(data.get("wall_s")), _float_or_none(data.get("cpu_s"))


def _float_or_none(x) -> float | None:
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def _add_times(run_dir: Path, wall: float, cpu: float) -> None:
    p = run_dir / BENCH_FILE
    prev = {"wall_s": 0.0, "cpu_s": 0.0, "sessions": 0}
    if p.exists():
        try:
            prev = json.loads(p.read_text())
        except ValueError:
            pass
    atomic_write_text(p, json.dumps({"wall_s": float(prev.get("wall_s", 0.0)) + wall,
                                     "cpu_s": float(prev.get("cpu_s", 0.0)) + cpu,
                                     "sessions": int(prev.get("sessions", 0)) + 1}))


def _public(metrics: dict | None) -> dict:
    return {k: v for k, v in (metrics or {}).items() if not k.startswith("episode_")}


def _limit_threads() -> None:
    import torch

    if torch.get_num_threads() != 1:
        torch.set_num_threads(1)
