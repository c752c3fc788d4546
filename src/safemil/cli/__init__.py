"""The `safemil` command: a thin layer over the library API.

Each sub-command group lives in its own module and is mounted here. A
`SafemilError` anywhere, and a usage error (unknown option, a value of the
wrong type or out of range), becomes one line on stderr and exit code 2.
"""

from __future__ import annotations

import os
import sys

import typer

from safemil import __version__
from safemil.cli import bench as bench_cli
from safemil.cli import collect as collect_cli
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
    context_settings={"help_option_names": ["-h", "--help"]},  # inherited by every sub-command
)


def _print_version(value: bool) -> None:
    if value:
        print(f"safemil {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", is_eager=True, callback=_print_version,
                                 help="Print the version and exit."),
) -> None:
    """Learn safe control policies offline from weak safety signals."""
app.command("tasks")(tasks_cli.tasks)
app.add_typer(data_cli.app, name="data")
app.add_typer(cost_cli.app, name="cost")
app.add_typer(collect_cli.app, name="collect")
app.command("quickstart")(train_cli.quickstart)
app.command("train")(train_cli.train)
app.command("eval")(evaluate_cli.evaluate)
app.command("algos")(train_cli.algos)
app.command("bench")(bench_cli.bench)
app.command("report")(bench_cli.report)


# Options whose value is a path. Typer turns an empty value into Path("."), so `--out "$UNSET"`
# would silently write into the current folder: an empty one is refused here instead.
PATH_OPTIONS = frozenset({"--out", "--dataset", "--plot", "--plots", "--csv", "--markdown", "--doc", "--img-dir",
                          "--workdir", "--dest", "--cost-file", "--policy", "--resume"})


def empty_path_option(args: list[str]) -> str | None:
    """The first path option given an empty value (``--out ""`` or ``--out=``), if any."""
    for i, arg in enumerate(args):
        name, eq, value = arg.partition("=")
        if name in PATH_OPTIONS:
            given = value if eq else (args[i + 1] if i + 1 < len(args) else None)
            if given is not None and not given.strip():
                return name
    return None


def main(argv: list[str] | None = None) -> None:
    """Run the CLI and exit: 0 on success, 2 with one ``error: ...`` line on stderr for bad input."""
    os.environ.setdefault("MUJOCO_GL", "egl")
    empty = empty_path_option(list(sys.argv[1:] if argv is None else argv))
    if empty is not None:
        _fail(f"{empty} is empty: give a path (an unset shell variable?)", 2)
    try:
        code = app(args=argv, prog_name="safemil", standalone_mode=False)
    except typer.TyperException as e:  # click's usage errors (typer vendors click)
        if type(e).__name__ == "NoArgsIsHelpError":  # the help has been printed: the user asked what to type
            sys.exit(2)
        _fail(usage_message(e), e.exit_code)
    except typer.Abort:
        _fail("aborted", 1)
    except SafemilError as e:
        _fail(str(e), 2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)  # an int is a `typer.Exit` code; a command returns None


def usage_message(e: typer.TyperException) -> str:
    """Click's usage error as one line, naming the sub-command and where its help is."""
    ctx = getattr(e, "ctx", None)
    msg = e.format_message()
    return f"{ctx.command_path}: {msg} (see `{ctx.command_path} --help`)" if ctx is not None else msg


def _fail(message: str, code: int) -> None:
    """One line on stderr (a message that spans lines is joined), then exit."""
    print("error: " + " ".join(message.split()), file=sys.stderr)
    sys.exit(code)
