"""Benchmarks: run a task x algorithm x seed grid (local processes or Ray) and report it.

`run_grid` runs a `GridSpec` on an executor (`LocalExecutor`, `RayExecutor`),
one run directory per cell, resumably; `collect` (or `collect_sources`, which also
reads earlier reports' runs.csv)/`summarize`/`markdown` and `safemil.bench.plots`
turn the directories into tables and figures.
"""

from safemil.bench.executors import LocalExecutor, RayExecutor, make_executor
from safemil.bench.grid import DEFAULT_SEEDS, GridSpec, RunSpec, named_grid, parse_seeds
from safemil.bench.report import (
    Estimate,
    Row,
    RunRecord,
    collect,
    collect_sources,
    cvar_ratios,
    markdown,
    summarize,
    write_csv,
)
from safemil.bench.runner import GridResult, run_grid
from safemil.bench.worker import RunOutcome, run_one

__all__ = [
    "DEFAULT_SEEDS",
    "Estimate",
    "GridResult",
    "GridSpec",
    "LocalExecutor",
    "RayExecutor",
    "Row",
    "RunOutcome",
    "RunRecord",
    "RunSpec",
    "collect",
    "collect_sources",
    "cvar_ratios",
    "make_executor",
    "markdown",
    "named_grid",
    "parse_seeds",
    "run_grid",
    "run_one",
    "summarize",
    "write_csv",
]
