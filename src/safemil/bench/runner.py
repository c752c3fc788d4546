"""Run a grid: skip what is finished, run the rest on an executor, record every outcome.

Artefacts in the benchmark directory ``DIR``:

- ``DIR/<task>/<algo>/seed<k>/``: one training run directory per cell;
- ``DIR/grid.yaml``: the grid definition (the last one run into ``DIR``) and the sha256 of each
  task's dataset file;
- ``DIR/outcomes.jsonl``: one line per cell per invocation (status, wall time, worker pid);
- ``DIR/failures.jsonl``: one line per failed cell per invocation, with its one-line error.

A grid killed midway is continued by running the same command again:
finished cells (``eval.json`` present) are skipped without starting a
worker, interrupted ones resume from their last checkpoint. If any of them was
made from another version of its dataset file (its recorded sha256 differs),
the grid refuses to start rather than mix two datasets in one table.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from safemil.bench.executors import Executor
from safemil.bench.grid import GridSpec, RunSpec
from safemil.bench.worker import (
    RunOutcome,
    check_dataset,
    check_matches,
    is_finished,
    one_line,
    run_one,
)
from safemil.config import save_yaml
from safemil.console import progress_bar
from safemil.data.fingerprint import dataset_sha256
from safemil.errors import DatasetError, SafemilError
from safemil.runs import RunDir

OUTCOMES = "outcomes.jsonl"
FAILURES = "failures.jsonl"
GRID = "grid.yaml"


@dataclass
class GridResult:
    outcomes: list[RunOutcome] = field(default_factory=list)
    wall_s: float = 0.0

    def count(self) -> Counter:
        return Counter(o.status for o in self.outcomes)

    @property
    def failures(self) -> list[RunOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]


def run_grid(
    grid: GridSpec,
    out: str | Path,
    executor: Executor,
    *,
    progress: bool = True,
    worker: Callable[[RunSpec], RunOutcome] = run_one,
) -> GridResult:
    """Run every cell of ``grid`` under ``out``; never stops at a failed cell.

    Configs are checked first (`validate`): a bad override or a missing dataset stops the grid
    before anything runs. A cell that fails while running is recorded and the grid goes on.
    """
    t0 = time.perf_counter()
    root = Path(out)
    runs = validate(grid.runs(root))
    check_dataset_versions(runs, root)
    root.mkdir(parents=True, exist_ok=True)
    hashes = {r.task: dataset_sha256(r.dataset) for r in runs if r.dataset}
    save_yaml({**dataclasses.asdict(grid), "dataset_sha256": hashes, "executor": executor.name,
               "workers": executor.workers}, root / GRID)
    result = GridResult()
    todo: list[RunSpec] = []
    for run in runs:
        if is_finished(run):
            try:
                check_matches(run)
            except SafemilError as e:
                _record(root, result, RunOutcome(run, "failed", error=one_line(e)))
                continue
            result.outcomes.append(RunOutcome(run, "skipped", metrics=_eval(run)))
        else:
            todo.append(run)
    skipped = len(runs) - len(todo) - len(result.failures)
    bar = progress_bar(progress, total=len(runs), initial=len(runs) - len(todo),
                       desc=f"bench ({executor.name} x{executor.workers})", unit="run", dynamic_ncols=True)
    say = bar.write if progress else (lambda _msg: None)
    if skipped:
        say(f"{skipped} finished run(s) skipped")
    try:
        for run, res in executor.run(worker, todo):
            outcome = res if isinstance(res, RunOutcome) else RunOutcome(
                run, "failed", error=f"worker died: {one_line(res)}")
            _record(root, result, outcome)
            c = result.count()
            bar.set_postfix(ok=c["done"] + c["resumed"], skipped=c["skipped"], failed=c["failed"], refresh=False)
            bar.update(1)
            say(_status_line(outcome))
    finally:
        bar.close()
    result.wall_s = time.perf_counter() - t0
    return result


def validate(runs: list[RunSpec]) -> list[RunSpec]:
    """Resolve every cell's config up front: a typo in an override or a missing dataset is
    reported before any training starts, not once per cell an hour later. Returns the runs with
    their dataset resolved to an absolute path here, so every worker (a Ray node included)
    trains on the file that was checked, whatever its own environment says."""
    from safemil.bench.worker import run_config

    resolved: dict[tuple, str] = {}
    out = []
    for run in runs:
        key = (run.task, run.algo, run.overrides, run.dataset)
        if key not in resolved:
            try:
                resolved[key] = run_config(run).dataset
            except SafemilError as e:
                raise type(e)(f"{run.task}/{run.algo}: {e}") from None
        out.append(dataclasses.replace(run, dataset=resolved[key]))
    return out


def check_dataset_versions(runs: list[RunSpec], root: Path) -> None:
    """Refuse the whole grid, before anything runs, if any cell already under ``root`` (finished
    or interrupted) was made from another version of its dataset file than the one there now:
    skipping or resuming it would mix results from two datasets in one table."""
    stale = []
    for run in runs:
        if (Path(run.out_dir) / RunDir.CONFIG).exists():
            try:
                check_dataset(run)
            except DatasetError as e:
                stale.append(e)
    if stale:
        raise DatasetError(f"{len(stale)} run(s) under {root} do not match the current dataset files; "
                           f"first: {stale[0]}")


def _record(root: Path, result: GridResult, o: RunOutcome) -> None:
    result.outcomes.append(o)
    row = {"run": o.run.label, "status": o.status, "wall_s": round(o.wall_s, 3), "pid": o.pid,
           "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
    if o.error:
        row["error"] = o.error
    _append(root / OUTCOMES, row)
    if o.status == "failed":
        _append(root / FAILURES, {"run": o.run.label, "run_dir": o.run.out_dir, "error": o.error,
                                  "time": row["time"]})


def _append(path: Path, row: dict) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(row) + "\n")


def _eval(run: RunSpec) -> dict:
    m = RunDir(run.out_dir, create=False).read_eval() or {}
    return {k: v for k, v in m.items() if not k.startswith("episode_")}


def _status_line(o: RunOutcome) -> str:
    if o.status == "failed":
        return f"[failed ] {o.run.label}: {o.error}"
    m = o.metrics
    nums = ""
    if "normalized_return" in m:
        nums = (f"  return {m['normalized_return']:.3f}  cost {m['normalized_cost']:.2f}"
                f"  cvar20 {m.get('cvar20_cost', float('nan')):.2f}")
        if m.get("immobile_episodes"):
            nums += f"  barely moved in {m['immobile_episodes']}/{m['episodes']} episodes"
    return f"[{o.status:7s}] {o.run.label}  {o.wall_s:.0f}s{nums}"
