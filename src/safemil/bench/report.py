"""Turn a benchmark directory into the paper-style table: mean and 95% bootstrap CI over seeds.

Rows are (task, algorithm). Oracle algorithms (the registry says which: they
read hidden labels) are marked and never compete for "best". The best safe
method of a task is the non-oracle algorithm with the highest mean normalized
return among those whose mean normalized cost is <= 1 and that moved in most of their
evaluation episodes (a policy that stands still is not a safe result).
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from safemil.bench.worker import read_times
from safemil.collect.fingerprints import recorded_fingerprints
from safemil.errors import ConfigError, SafemilError
from safemil.eval import IMMOBILE_MEANING, bootstrap_ci

METRICS = ("normalized_return", "normalized_cost", "cvar20_cost")
CSV_COLUMNS = ("task", "algo", "seed", "oracle", "normalized_return", "normalized_cost", "cvar20_cost",
               "mean_return", "mean_cost", "episodes", "train_steps", "wall_s", "cpu_s", "dataset_sha256",
               "immobile_episodes")
OPTIONAL_CSV_COLUMNS = ("immobile_episodes",)  # absent from runs.csv files written before it was measured
SAFE_COST = 1.0
# A row whose evaluation episodes barely moved more often than this cannot be the best safe
# method or the CVaR reference: its low cost is standing still.
MAX_IMMOBILE_SHARE = 0.5


class ReportError(SafemilError):
    """A benchmark directory that cannot be reported (missing, empty or holding a malformed run)."""


@dataclass(frozen=True)
class RunRecord:
    task: str
    algo: str
    seed: int
    oracle: bool
    normalized_return: float
    normalized_cost: float
    cvar20_cost: float
    mean_return: float
    mean_cost: float
    episodes: int
    train_steps: int | None
    wall_s: float | None
    run_dir: str
    cpu_s: float | None = None
    dataset_sha256: str = ""  # "" for runs made before dataset hashes were recorded
    # evaluation episodes that barely moved (`safemil.eval.immobile_episodes`); None: a navigation task, or a
    # run evaluated before it was counted
    immobile_episodes: int | None = None


@dataclass(frozen=True)
class Estimate:
    mean: float
    lo: float
    hi: float


@dataclass(frozen=True)
class Row:
    task: str
    algo: str
    oracle: bool
    n_seeds: int
    normalized_return: Estimate
    normalized_cost: Estimate
    cvar20_cost: Estimate
    wall_s: float | None  # mean over seeds
    best: bool = False
    immobile_share: float | None = None  # of the evaluation episodes, over the seeds that counted them

    @property
    def safe(self) -> bool:
        return self.normalized_cost.mean <= SAFE_COST

    @property
    def moves(self) -> bool:
        """Not standing still in most evaluation episodes (unknown counts as moving)."""
        return self.immobile_share is None or self.immobile_share <= MAX_IMMOBILE_SHARE


def is_oracle(algo: str, data_mode: str = "split") -> bool:
    """An oracle reads labels the other methods of its run do not see: D_U's costs on the SafeMIL split.
    On offline safe RL data (``safe-only``, ``minimally-risky``) every method has the costs, so there
    BC-Safe is an ordinary base, ranked like the others."""
    from safemil.algos import get_algo

    return get_algo(algo).oracle and data_mode == "split"


def _data_mode(run_dir: Path) -> str:
    """The run's ``data.mode`` from its config.yaml (a run without one used the split)."""
    from safemil.config import load_yaml
    from safemil.runs import RunDir

    path = run_dir / RunDir.CONFIG
    if not path.exists():
        return "split"
    try:
        return str((load_yaml(path).get("data") or {}).get("mode", "split"))
    except (ConfigError, AttributeError) as e:
        raise ReportError(f"{path}: not a readable run config ({e})") from None


def collect(root: str | Path) -> list[RunRecord]:
    """Every finished run (a directory with ``eval.json``) under ``root``, sorted by task, method (paper order), seed."""
    root = Path(root)
    if not root.is_dir():
        raise ReportError(f"benchmark directory not found: {root}")
    records = [_record(p) for p in sorted(root.rglob("eval.json"))]
    if not records:
        raise ReportError(f"no finished runs (eval.json) under {root}")
    _check_one_dataset_per_task(records, root)
    keys = [(r.task, r.algo, r.seed) for r in records]
    dup = {k for k in keys if keys.count(k) > 1}
    if dup:
        t, a, s = sorted(dup)[0]
        raise ReportError(f"{root} holds more than one run of {t}/{a}/seed{s}; report one grid at a time")
    return sorted(records, key=lambda r: (r.task, algo_rank(r.algo), r.seed))


def read_runs_csv(path: str | Path) -> list[RunRecord]:
    """The runs of a ``runs.csv`` that `write_csv` wrote (an earlier report): their numbers, no curves."""
    path = Path(path)
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise ReportError(f"{path}: not a readable runs.csv ({e})") from None
    if not rows or set(CSV_COLUMNS) - set(OPTIONAL_CSV_COLUMNS) - set(rows[0]):
        raise ReportError(f"{path}: not a runs.csv written by `safemil report --csv` "
                          f"(needs the columns {', '.join(CSV_COLUMNS)})")

    def opt(v: str, kind):
        return None if v == "" else kind(v)

    try:
        return [RunRecord(
            task=r["task"], algo=r["algo"], seed=int(r["seed"]), oracle=r["oracle"] == "yes",
            normalized_return=float(r["normalized_return"]), normalized_cost=float(r["normalized_cost"]),
            cvar20_cost=float(r["cvar20_cost"]), mean_return=float(r["mean_return"]),
            mean_cost=float(r["mean_cost"]), episodes=int(r["episodes"]), train_steps=opt(r["train_steps"], int),
            wall_s=opt(r["wall_s"], float), run_dir=str(path), cpu_s=opt(r["cpu_s"], float),
            dataset_sha256=r["dataset_sha256"], immobile_episodes=opt(r.get("immobile_episodes", ""), int))
            for r in rows]
    except (ValueError, TypeError) as e:
        raise ReportError(f"{path}: a malformed row ({e})") from None


def collect_sources(sources: list[str | Path]) -> tuple[list[RunRecord], dict[str, str]]:
    """Runs from benchmark directories and earlier reports' ``runs.csv``, and where each task's come
    from: the last source that has the task, so a grid re-run of one task replaces that task whole."""
    by_task: dict[str, list[RunRecord]] = {}
    origin: dict[str, str] = {}
    for src in sources:
        recs = read_runs_csv(src) if Path(src).suffix == ".csv" else collect(src)
        for task in dict.fromkeys(r.task for r in recs):
            by_task[task] = [r for r in recs if r.task == task]
            origin[task] = str(src)
    records = sorted((r for rs in by_task.values() for r in rs), key=lambda r: (r.task, algo_rank(r.algo), r.seed))
    return records, {t: origin[t] for t in dict.fromkeys(r.task for r in records)}


def source_lines(origin: dict[str, str] | None) -> list[str]:
    """Where each task's runs come from, when they come from more than one source."""
    if not origin or len(set(origin.values())) < 2:
        return []
    lines = ["", "| task | runs from |", "|---|---|"] + [f"| {t} | `{src}` |" for t, src in origin.items()]
    if any(Path(src).suffix == ".csv" for src in origin.values()):
        lines += ["", "A runs.csv holds an earlier report's per-run numbers; its runs' training curves are not plotted."]
    return lines


def _check_one_dataset_per_task(records: list[RunRecord], root: Path) -> None:
    """Runs of one task made from different dataset versions are not comparable: refuse to table them."""
    for task in dict.fromkeys(r.task for r in records):
        versions: dict[str, list[RunRecord]] = {}
        for r in records:
            if r.task == task:
                versions.setdefault(r.dataset_sha256, []).append(r)
        if len(versions) > 1:
            parts = ", ".join(f"{h[:12] or 'unrecorded'} ({len(rs)} runs, e.g. {rs[0].run_dir})"
                              for h, rs in versions.items())
            raise ReportError(f"{root}: the {task} runs come from {len(versions)} versions of its dataset "
                              f"(sha256 {parts}); re-run the stale ones or report one version at a time")


def algo_rank(algo: str) -> tuple[int, str]:
    """Table order: the paper's method order (baselines, then SafeMIL), other algorithms after, by name."""
    from safemil.bench.grid import PAPER_ALGOS

    return (PAPER_ALGOS.index(algo), "") if algo in PAPER_ALGOS else (len(PAPER_ALGOS), algo)


def _record(path: Path) -> RunRecord:
    try:
        m = json.loads(path.read_text())
        wall, cpu = read_times(path.parent)
        return RunRecord(
            task=str(m["task"]), algo=str(m["algo"]), seed=int(m["seed"]),
            oracle=is_oracle(str(m["algo"]), _data_mode(path.parent)),
            normalized_return=float(m["normalized_return"]), normalized_cost=float(m["normalized_cost"]),
            cvar20_cost=float(m["cvar20_cost"]), mean_return=float(m["mean_return"]),
            mean_cost=float(m["mean_cost"]), episodes=int(m["episodes"]),
            train_steps=int(m["train_steps"]) if "train_steps" in m else None,
            wall_s=wall, run_dir=str(path.parent), cpu_s=cpu,
            dataset_sha256=str(m.get("dataset_sha256", "")),
            immobile_episodes=int(m["immobile_episodes"]) if m.get("immobile_episodes") is not None else None)
    except (ValueError, KeyError, TypeError) as e:
        raise ReportError(f"{path}: not a valid eval.json ({type(e).__name__}: {e})") from None


def estimate(values: list[float], seed: int = 0, n_boot: int = 2000) -> Estimate:
    """Mean and 95% percentile-bootstrap CI over seeds (a single seed gives a zero-width interval)."""
    lo, hi = bootstrap_ci(np.asarray(values, dtype=np.float64), n_boot=n_boot, seed=seed)
    return Estimate(float(np.mean(values)), lo, hi)


def summarize(records: list[RunRecord], seed: int = 0) -> list[Row]:
    """One row per (task, algo) in record order, the best safe non-oracle method of each task flagged."""
    groups: dict[tuple[str, str], list[RunRecord]] = {}
    for r in records:
        groups.setdefault((r.task, r.algo), []).append(r)
    rows = []
    for (task, algo), rs in groups.items():
        walls = [r.wall_s for r in rs if r.wall_s is not None]
        still, total = immobile_counts(rs)
        rows.append(Row(task, algo, rs[0].oracle, len(rs),
                        *(estimate([getattr(r, m) for r in rs], seed=seed) for m in METRICS),
                        wall_s=float(np.mean(walls)) if walls else None,
                        immobile_share=still / total if total else None))
    best = {}
    for row in rows:
        if row.oracle or not (row.safe and row.moves):
            continue
        cur = best.get(row.task)
        if cur is None or row.normalized_return.mean > cur.normalized_return.mean:
            best[row.task] = row
    return [replace(row, best=best.get(row.task) is row) for row in rows]


def cvar_reference(rows: list[Row], method: str) -> str | None:
    """What ``method`` is compared with: its own base where it is one (``bcq-lag`` for ``bcq-lag+proco``,
    when the rows hold it), else None (the best non-oracle baseline of each task)."""
    if "+" not in method:
        return None
    base = method.split("+", 1)[0]
    return base if any(r.algo == base for r in rows) else None


def cvar_label(rows: list[Row], method: str) -> str:
    base = cvar_reference(rows, method)
    return f"{method} / {base} (its base)" if base else f"{method} / best non-oracle baseline"


def cvar_ratios(rows: list[Row], method: str = "safemil") -> dict[str, float]:
    """Per task: ``method``'s CVaR@20% cost over that of its reference.

    The reference is ``method``'s own base for a layered method (`cvar_reference`); otherwise the
    best non-oracle baseline, chosen like "best": highest return among safe non-oracle baselines that
    move (`Row.moves`); if none is, the moving non-oracle baseline with the lowest mean normalized
    cost (any baseline if none moves). Tasks without ``method`` or without a reference are left out.
    """
    against = cvar_reference(rows, method)
    out = {}
    for task in dict.fromkeys(r.task for r in rows):
        mine = [r for r in rows if r.task == task and r.algo == method]
        if against:
            base = [r for r in rows if r.task == task and r.algo == against]
        else:
            base = [r for r in rows if r.task == task and r.algo != method and not r.oracle]
        if not mine or not base:
            continue
        moving = [r for r in base if r.moves] or base
        safe = [r for r in moving if r.safe]
        ref = (max(safe, key=lambda r: r.normalized_return.mean) if safe
               else min(moving, key=lambda r: r.normalized_cost.mean))
        num, denom = mine[0].cvar20_cost.mean, ref.cvar20_cost.mean
        out[task] = num / denom if denom > 0 else (1.0 if num == 0 else math.inf)
    return out


def write_csv(records: list[RunRecord], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(CSV_COLUMNS)
        for r in records:
            w.writerow([_cell(getattr(r, c)) for c in CSV_COLUMNS])
    return path


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def format_estimate(e: Estimate, digits: int) -> str:
    """``mean [lo, hi]``: the cell format of every CI in the report."""
    return f"{e.mean:.{digits}f} [{e.lo:.{digits}f}, {e.hi:.{digits}f}]"


def time_by_algo(records: list[RunRecord]) -> list[tuple[str, int, float, float, float | None]]:
    """(algo, runs with a recorded wall time, total run-seconds, share of all run-seconds, total CPU
    seconds or None if any run lacks it): where the time goes."""
    totals: dict[str, list[RunRecord]] = {}
    for r in records:
        if r.wall_s is not None:
            totals.setdefault(r.algo, []).append(r)
    grand = sum(r.wall_s for v in totals.values() for r in v) or 1.0
    out = []
    for a, rs in totals.items():
        wall = sum(r.wall_s for r in rs)
        cpu = None if any(r.cpu_s is None for r in rs) else sum(r.cpu_s for r in rs)
        out.append((a, len(rs), wall, wall / grand, cpu))
    return out


def immobile_counts(runs: list[RunRecord]) -> tuple[int, int]:
    """Episodes that barely moved and episodes evaluated, over the runs that counted them."""
    counted = [r for r in runs if r.immobile_episodes is not None]
    return sum(r.immobile_episodes for r in counted), sum(r.episodes for r in counted)


def immobile_lines(records: list[RunRecord]) -> list[str]:
    """Which methods barely moved in some evaluation episodes: their low cost is not evidence of safety."""
    counted = [r for r in records if r.immobile_episodes is not None]
    if not counted:
        return []
    groups: dict[tuple[str, str], list[RunRecord]] = {}
    for r in sorted(counted, key=lambda r: (r.task, algo_rank(r.algo), r.seed)):
        groups.setdefault((r.task, r.algo), []).append(r)
    flagged = []
    for (task, algo), runs in groups.items():
        seeds = [r.seed for r in runs if r.immobile_episodes]
        if seeds:
            still, total = immobile_counts(runs)
            flagged.append(f"{task} {algo} {still}/{total} (seed{'s' if len(seeds) > 1 else ''} "
                           f"{', '.join(map(str, seeds))})")
    if not flagged:
        return ["", f"No evaluation episode barely moved ({IMMOBILE_MEANING}) in the {len(counted)} runs that count them."]
    return ["", f"Evaluation episodes that barely moved ({IMMOBILE_MEANING}; a low cost from not moving is not safety), of "
                "each method's episodes over its seeds: " + "; ".join(flagged) + "."]


def dataset_lines(records: list[RunRecord]) -> list[str]:
    """Which file each task's runs trained on, and whether it is the recorded default dataset
    (the one `safemil data generate` reproduces under requirements.lock)."""
    recorded = recorded_fingerprints()
    hashes = {r.task: r.dataset_sha256 for r in records}
    if not hashes:
        return []
    lines = ["", "| task | dataset sha256 | the recorded default dataset |", "|---|---|---|"]
    for task, sha in hashes.items():
        fp = recorded.get(task)
        same = "unrecorded" if not sha else ("yes" if fp is not None and fp.sha256 == sha else "no")
        lines.append(f"| {task} | {sha[:12] or '-'} | {same} |")
    return lines


def markdown(rows: list[Row], method: str = "safemil", records: list[RunRecord] | None = None,
             origin: dict[str, str] | None = None) -> str:
    """The table (bold: best safe method of its task; *oracle*: reads hidden labels) plus the CVaR ratio."""
    lines = [
        "| task | algorithm | seeds | normalized return | normalized cost | CVaR@20% cost | wall s/run |",
        "|---|---|---:|---|---|---|---:|",
    ]
    for r in rows:
        name = f"{r.algo} (oracle)" if r.oracle else r.algo
        cells = [format_estimate(r.normalized_return, 3), format_estimate(r.normalized_cost, 2),
                 format_estimate(r.cvar20_cost, 2)]
        if r.best:
            name, cells = f"**{name}**", [f"**{c}**" for c in cells]
        wall = f"{r.wall_s:.0f}" if r.wall_s is not None else ""
        lines.append(f"| {r.task} | {name} | {r.n_seeds} | {' | '.join(cells)} | {wall} |")
    counted = any(r.immobile_share is not None for r in rows)
    moving = (f" that barely moved in at most {MAX_IMMOBILE_SHARE:.0%} of their evaluation episodes" if counted else "")
    lines += ["", "Mean over seeds with a 95% percentile-bootstrap CI. Bold: best safe method of the task "
              f"(highest normalized return among non-oracle methods with normalized cost <= 1{moving}). "
              "Oracle rows read the hidden cost labels and are not ranked."]
    no_best = [t for t in dict.fromkeys(r.task for r in rows) if not any(x.best for x in rows if x.task == t)]
    if no_best:
        lines.append(f"No non-oracle method is safe{' and moving' if counted else ''} on: {', '.join(no_best)}.")
    ratios = cvar_ratios(rows, method)
    if ratios:
        lines += ["", f"CVaR@20% cost of {cvar_label(rows, method)}, per task: "
                  + ", ".join(f"{t} {v:.2f}" for t, v in ratios.items())
                  + f"; median {float(np.median(list(ratios.values()))):.2f}."]
    lines += immobile_lines(records or [])
    lines += dataset_lines(records or [])
    lines += source_lines(origin)
    times = time_by_algo(records or [])
    if times:
        lines += ["", "| algorithm | runs | run-seconds | share | CPU seconds |", "|---|---:|---:|---:|---:|"]
        lines += [f"| {a} | {n} | {t:.0f} | {100 * f:.0f}% | {'' if c is None else f'{c:.0f}'} |"
                  for a, n, t, f, c in times]
        lines += ["", "Run-seconds: wall time of each run's training and evaluation (runs execute in parallel, "
                  "so their sum exceeds the grid's wall time). CPU seconds: what the runs' worker processes "
                  "used; wall above CPU means the runs waited for a core."]
    return "\n".join(lines) + "\n"
