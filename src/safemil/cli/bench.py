"""`safemil bench` and `safemil report`: thin wrappers over `safemil.bench`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from safemil.console import console
from safemil.errors import ConfigError
from safemil.files import check_output_dir, check_output_file


def _names(values: list[str] | None) -> list[str]:
    """``--tasks A,B --tasks C`` -> ``[A, B, C]``."""
    return [v.strip() for item in values or [] for v in item.split(",") if v.strip()]


def _datasets(values: list[str] | None) -> dict[str, str]:
    out = {}
    for item in values or []:
        if "=" not in item:
            raise ConfigError(f"--dataset expects TASK=PATH, got {item!r}")
        task, path = item.split("=", 1)
        out[task.strip()] = path.strip()
    return out


def bench(
    overrides: list[str] | None = typer.Argument(
        None, help="Overrides for every run (key=value) or one algorithm (ALGO:key=value)."),
    tasks: list[str] | None = typer.Option(None, "--tasks", help="Tasks, comma-separated or repeated."),
    algos: list[str] | None = typer.Option(None, "--algos", help="Algorithms, comma-separated or repeated."),
    seeds: str | None = typer.Option(None, "--seeds", help="Number of seeds N (0..N-1) or a list 0,3,7 (one given seed: 5,). Default 5."),
    grid: str | None = typer.Option(None, "--grid", help="A named grid (default, nav, smoke, proco, proco-nav); --tasks/--algos/--seeds narrow it."),
    preset: str | None = typer.Option(None, "--preset", help="Without --grid: the preset every run applies (default: default); a named grid runs its own."),
    out: Path = typer.Option(..., "--out", help="Benchmark directory: DIR/<task>/<algo>/seed<k>."),
    executor: str = typer.Option("local", "--executor", help="local (process pool) or ray."),
    ray_address: str | None = typer.Option(None, "--ray-address", help="Ray cluster address; default: a local Ray instance."),
    workers: int | None = typer.Option(None, "--workers", help="Parallel runs; default: the number of cores (with --ray-address the cluster decides)."),
    dataset: list[str] | None = typer.Option(None, "--dataset", help="TASK=PATH: use this dataset for TASK (repeatable)."),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
) -> None:
    """Run a task x algorithm x seed grid; finished runs are skipped, interrupted ones resume.

    Failed runs are listed in DIR/failures.jsonl and the command exits 1 after the whole grid.
    """
    from safemil.bench import (
        DEFAULT_SEEDS,
        GridSpec,
        make_executor,
        named_grid,
        parse_seeds,
        run_grid,
    )
    from safemil.bench.runner import FAILURES

    seed_list = parse_seeds(seeds) if seeds else None
    if grid:
        if preset is not None:
            raise ConfigError(f"--grid {grid} runs its own preset; --preset is for a grid given by --tasks/--algos")
        spec = named_grid(grid).narrow(_names(tasks), _names(algos), seed_list, list(overrides or []))
    elif not tasks or not algos:
        raise ConfigError("give --tasks and --algos, or a named --grid (default, nav, smoke, proco, proco-nav)")
    else:
        spec = GridSpec(_names(tasks), _names(algos), seed_list or list(DEFAULT_SEEDS), list(overrides or []),
                        preset=preset or "default")
    spec.datasets.update(_datasets(dataset))
    ex = make_executor(executor, workers, ray_address)
    check_output_dir(out, "--out")
    res = run_grid(spec, out, ex, progress=progress)
    c = res.count()
    console.print(f"{len(res.outcomes)} runs in {res.wall_s:.0f} s: {c['done']} trained, {c['resumed']} resumed, "
                  f"{c['skipped']} already finished, {c['failed']} failed")
    if res.failures:
        console.print(f"[bold red]failures[/bold red] recorded in {Path(out) / FAILURES}:")
        for o in res.failures:
            console.print(f"  {o.run.label}: {o.error}", markup=False)
        raise typer.Exit(1)
    console.print(f"report: safemil report {out}")


def report(
    roots: list[Path] = typer.Argument(
        ..., help="Benchmark directories written by `safemil bench`, or runs.csv files of earlier reports; "
                  "a task's runs come from the last one that has the task."),
    csv: Path | None = typer.Option(None, "--csv", help="Write one row per run to this CSV file."),
    markdown: Path | None = typer.Option(None, "--markdown", help="Write the table to this Markdown file."),
    plots: Path | None = typer.Option(None, "--plots", help="Write bars.png, scatter.png, curves.png here."),
    method: str = typer.Option("safemil", "--method", help="The method whose CVaR ratio is quoted (to its base for BASE+proco, else to the best baseline)."),
) -> None:
    """Per task and algorithm: mean and 95% bootstrap CI over seeds; best safe method in bold."""
    from safemil.algos import get_algo
    from safemil.bench import collect_sources, cvar_ratios, summarize, write_csv
    from safemil.bench import markdown as to_markdown
    from safemil.bench.report import cvar_label

    get_algo(method)  # a misspelt --method would silently quote no ratio
    for path, what in ((csv, "--csv"), (markdown, "--markdown")):
        if path is not None:
            check_output_file(path, what)
    if plots is not None:
        check_output_dir(plots, "--plots")
    records, origin = collect_sources(roots)
    rows = summarize(records)
    t = Table(title=f"{', '.join(map(str, roots))}: {len(records)} runs")
    for col in ("task", "algorithm", "seeds", "norm. return", "norm. cost", "CVaR@20% cost", "wall s/run"):
        t.add_column(col)
    for r in rows:
        style = "bold green" if r.best else ("dim" if r.oracle else None)
        name = f"{r.algo} (oracle)" if r.oracle else r.algo
        t.add_row(r.task, name, str(r.n_seeds),
                  *(f"{e.mean:.3f} [{e.lo:.3f}, {e.hi:.3f}]"
                    for e in (r.normalized_return, r.normalized_cost, r.cvar20_cost)),
                  f"{r.wall_s:.0f}" if r.wall_s is not None else "", style=style)
    console.print(t)
    console.print("bold green: best safe method (highest return among non-oracle methods with cost <= 1)")
    ratios = cvar_ratios(rows, method)
    if ratios:
        import numpy as np

        console.print(f"CVaR@20% of {cvar_label(rows, method)}: median "
                      f"{float(np.median(list(ratios.values()))):.2f} over {len(ratios)} task(s)")
    if csv:
        console.print(f"wrote {write_csv(records, csv)}")
    if markdown:
        markdown.parent.mkdir(parents=True, exist_ok=True)
        markdown.write_text(to_markdown(rows, method, records, origin))
        console.print(f"wrote {markdown}")
    if plots:
        from safemil.bench.plots import plot_all

        for p in plot_all(rows, records, plots):
            console.print(f"wrote {p}")
