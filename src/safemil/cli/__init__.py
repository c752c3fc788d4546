"""The `safemil` command: a thin layer over the library API.

Each sub-command group lives in its own module and is mounted here. A
`SafemilError` anywhere becomes one line on stderr and exit code 2.
"""

from __future__ import annotations

import os
import sys

import typer

from safemil.cli import bench as bench_cli
from safemil.cli import cost as cost_cli
from safemil.cli import data as data_cli
from safemil.cli import evaluate as evaluate_cli
from safemil.cli import tasks as tasks_cli
from safemil.cli import train as train_cli
from safemil.errors import SafemilError

app = typer.Typer(
    help="Learn safe control policies offline from weak safety signals.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("tasks")(tasks_cli.tasks)
app.add_typer(data_cli.app, name="data")
app.add_typer(cost_cli.app, name="cost")
app.command("evaluate")(evaluate_cli.evaluate)
app.command("quickstart")(train_cli.quickstart)
app.command("train")(train_cli.train)
app.command("eval")(train_cli.eval_run)
app.command("algos")(train_cli.algos)
app.command("bench")(bench_cli.bench)
app.command("report")(bench_cli.report)


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("MUJOCO_GL", "egl")
    try:
        app(args=argv, standalone_mode=True)
    except SafemilError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
