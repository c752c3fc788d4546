from __future__ import annotations

import json

import typer
from rich.table import Table

from safemil.console import console
from safemil.tasks import list_tasks


def tasks(as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
    """List the tasks (name, obs/act dims, cost threshold, max steps)."""
    rows = [t.summary() for t in list_tasks("all")]
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    table = Table(title="safemil tasks")
    for col in ("name", "gym env", "obs", "act", "cost threshold", "max steps"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["name"], r["gym_id"], str(r["obs_dim"]), str(r["act_dim"]),
            "-" if r["cost_threshold"] is None else f"{r['cost_threshold']:g}", str(r["max_episode_steps"]),
        )
    console.print(table)
