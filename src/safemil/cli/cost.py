"""`safemil cost ...`: ground plain-language safety rules into checked cost functions."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from safemil.collect import find_dataset
from safemil.console import console
from safemil.costs.knowledge import (
    BACKENDS,
    DEFAULTS,
    CheckReport,
    KnowledgeCost,
    LLMConfig,
    check_cost,
    default_rule,
    ground,
)
from safemil.data import read_dsrl
from safemil.errors import ConfigError, DatasetError
from safemil.files import check_output_file
from safemil.tasks import get_task

app = typer.Typer(help="Knowledge-grounded costs: plain-language rules -> checked cost functions.", no_args_is_help=True)


def default_cost_path(task: str) -> Path:
    return Path("runs") / "costs" / f"{get_task(task).name}-knowledge.json"


@app.command("ground")
def ground_cmd(
    task: str = typer.Option(..., "--task", help="Task name (see `safemil tasks`)."),
    rule: str | None = typer.Option(
        None, "--rule", help="Plain-language rule (openai) or the expression itself (static). Default: the shipped rule."
    ),
    backend: str = typer.Option("static", "--backend", help=f"One of: {', '.join(BACKENDS)}."),
    base_url: str | None = typer.Option(None, "--base-url", help="Chat endpoint base URL (else $SAFEMIL_LLM_BASE_URL, $OPENAI_BASE_URL)."),
    model: str | None = typer.Option(None, "--model", help="Model name (else $SAFEMIL_LLM_MODEL, $OPENAI_MODEL)."),
    dataset: str | None = typer.Option(None, "--dataset", help="Dataset to check against (path, DSRL file or task name). Default: the task's dataset if present."),
    out: Path | None = typer.Option(None, "--out", help="Where to save the cost (JSON). Default: runs/costs/<task>-knowledge.json."),
    margin: float = typer.Option(0.0, "--margin", help="Conservative margin: flag states within this fraction of each threshold."),
    softness: float = typer.Option(0.0, "--softness", help="Soft cost: sigmoid width as a fraction of each threshold (0 = hard 0/1)."),
    max_repairs: int = typer.Option(2, "--max-repairs", min=0, help="Times a rejected answer is sent back to the model."),
    timeout: float = typer.Option(60.0, "--timeout", help="Seconds per HTTP request."),
    retries: int = typer.Option(3, "--retries", min=0, help="Retries on transient HTTP failures."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Ask the model even if this exact prompt is cached."),
    states: str = typer.Option("next_observations", "--states", help="Which states to check: next_observations, observations, or midpoint (mean of the two, per transition)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Turn a rule into a cost expression, check it against data, and save it."""
    spec = get_task(task)
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    out = check_output_file(out or default_cost_path(spec.name), "--out")  # before asking a model
    if rule is None:
        d = default_rule(spec.name)
        rule = d.expression if backend == "static" else d.rule
    llm = LLMConfig(base_url=base_url, model=model, timeout_s=timeout, max_retries=retries, use_cache=not no_cache)
    with console.status(f"asking the model ({backend})...", spinner="dots") if backend != "static" and not as_json \
            else contextlib.nullcontext():
        res = ground(spec.name, rule, backend, llm=llm, max_repairs=max_repairs, margin=margin, softness=softness)
    report, data_path = _check(res.cost, spec.name, dataset, states)
    path = res.cost.save(out, check=report.to_dict() if report else None)
    if as_json:
        print(json.dumps({
            **res.cost.to_dict(report.to_dict() if report else None),
            "dataset": data_path,
            "saved": str(path),
            "answers": [a.__dict__ for a in res.attempts] if backend != "static" else [],
        }, indent=2))
        return
    c = console
    c.print(f"[bold]{spec.name}[/bold]  backend={backend}" + (f"  model={res.model}" if res.model else ""))
    if backend != "static":
        c.print(f"rule: {escape(res.rule)}")
        for i, a in enumerate(res.attempts[:-1], 1):
            c.print(f"  answer {i} rejected: {escape(a.error or '')}")
        if res.attempts[-1].cached:
            c.print("  (answer from cache)")
    c.print(f"expression: [bold]{escape(res.expression)}[/bold]")
    if res.cost.canonical != res.expression:
        c.print(f"understood as: {escape(res.cost.canonical)}")
    opts = [f"margin={margin:g}"] if margin else []
    opts += [f"softness={softness:g}"] if softness else []
    if opts:
        c.print("options: " + ", ".join(opts))
    _print_report(report, data_path)
    c.print(f"saved: {path}")


@app.command("check")
def check_cmd(
    cost_file: Path = typer.Argument(..., help="A saved knowledge-cost JSON file."),
    dataset: str | None = typer.Option(None, "--dataset", help="Dataset (path, DSRL file or task name). Default: the task's dataset."),
    states: str = typer.Option("next_observations", "--states"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Load a saved cost (re-checking its expression) and check it against a dataset."""
    cost = KnowledgeCost.load(cost_file)
    report, data_path = _check(cost, cost.task, dataset or cost.task, states)
    if as_json:
        print(json.dumps({**cost.to_dict(report.to_dict() if report else None), "dataset": data_path}, indent=2))
        return
    console.print(f"[bold]{cost.task}[/bold]  expression: {escape(cost.expression)}")
    _print_report(report, data_path)


@app.command("defaults")
def defaults_cmd(as_json: bool = typer.Option(False, "--json")) -> None:
    """The shipped plain-language rule and expected expression for each task."""
    rows = [d.__dict__ for d in DEFAULTS.values()]
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    t = Table(title="shipped knowledge rules")
    for col in ("task", "rule", "expression"):
        t.add_column(col)
    for r in rows:
        t.add_row(r["task"], escape(r["rule"]), escape(r["expression"]))
    console.print(t)


def _check(cost: KnowledgeCost, task: str, dataset: str | None, states: str) -> tuple[CheckReport | None, str | None]:
    if dataset is None:  # the task's default dataset, when it has been generated
        try:
            path = find_dataset(task)
        except DatasetError:
            return None, None
    else:
        path = find_dataset(dataset)
    ds = read_dsrl(path, task=task)
    return check_cost(cost, ds, states=states), str(path)


def _print_report(report: CheckReport | None, data_path: str | None) -> None:
    if report is None:
        console.print("check: no dataset found for this task (pass --dataset to check the rule against data)")
        return
    console.print(f"check against {data_path}:")
    for line in report.lines():
        style = "yellow" if line.startswith("warning") else ""
        console.print(f"  [{style}]{escape(line)}[/{style}]" if style else f"  {escape(line)}")
