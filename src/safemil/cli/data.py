from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from safemil.console import console
from safemil.data import read_dsrl, resolve_dataset
from safemil.data.info import dataset_info, plot_dataset

app = typer.Typer(help="Inspect and make datasets.", no_args_is_help=True)


@app.command("info")
def info(
    dataset: str = typer.Argument(..., help="HDF5 path, DSRL file name, or task name."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    plot: Path | None = typer.Option(None, "--plot", help="Write a return-vs-cost scatter + histogram PNG."),
    task: str | None = typer.Option(None, "--task", help="Check dimensions against this task."),
    cost_limit: float = typer.Option(25.0, "--cost-limit", help="Limit drawn on the plot."),
) -> None:
    """Counts, return/cost quantiles and the share of trajectories under cost limits."""
    path = resolve_dataset(dataset)
    ds = read_dsrl(path, task=task)
    info = {"file": str(path), **dataset_info(ds)}
    if plot is not None:
        info["plot"] = str(plot_dataset(ds, plot, cost_limit))
    if as_json:
        print(json.dumps(info, indent=2))
        return
    print_info(info)


def print_info(info: dict) -> None:
    c = console
    c.print(f"[bold]{info['file']}[/bold]  task={info['task']}")
    c.print(
        f"{info['n_trajectories']} trajectories, {info['n_transitions']} transitions, "
        f"obs {info['obs_dim']}, act {info['act_dim']}, length {info['length']['min']}-{info['length']['max']}"
    )
    t = Table()
    t.add_column("")
    qs = [k for k in info["return"] if k != "mean"]
    for k in ["mean", *qs]:
        t.add_column(k)
    for name in ("return", "cost"):
        t.add_row(name, *(f"{info[name][k]:.1f}" for k in ["mean", *qs]))
    c.print(t)
    t2 = Table(title="share of trajectories by cost")
    t2.add_column("limit")
    t2.add_column("cost <= limit")
    t2.add_column("cost >= limit")
    for k in info["frac_cost_le"]:
        t2.add_row(k, f"{info['frac_cost_le'][k]:.1%}", f"{info['frac_cost_ge'][k]:.1%}")
    c.print(t2)
    if "plot" in info:
        c.print(f"plot: {info['plot']}")
