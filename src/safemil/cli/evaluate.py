"""`safemil eval`: evaluate a trained run, or a reference policy on a task, online."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from safemil import api
from safemil.console import console
from safemil.errors import SafemilError
from safemil.eval import IMMOBILE_MEANING, RandomPolicy
from safemil.eval import evaluate as run_evaluation
from safemil.files import atomic_write_text, check_output_file
from safemil.tasks import DEFAULT_COST_LIMIT, get_task


def evaluate(
    run_dir: Path | None = typer.Argument(
        None, metavar="RUN_DIR", help="A run directory written by `safemil train` (or give --task instead)."),
    task: str | None = typer.Option(None, "--task", help="Evaluate a reference policy on this task instead."),
    policy: str | None = typer.Option(None, "--policy", help="With --task, the reference policy: random (default)."),
    episodes: int | None = typer.Option(None, "--episodes", min=1,
                                        help="Default: the run's eval.episodes (10 with --task)."),
    deterministic: bool | None = typer.Option(
        None, "--deterministic/--sample",
        help="A run's noise-free or sampled actions; default: the run's eval.deterministic."),
    seed: int | None = typer.Option(None, "--seed", min=0, help="With --task: the episodes' seed (default 0)."),
    cost_limit: float | None = typer.Option(None, "--cost-limit",
                                            help=f"With --task: the episode cost limit (default {DEFAULT_COST_LIMIT:g})."),
    num_envs: int | None = typer.Option(None, "--num-envs", min=1, help="With --task: envs stepped in lock-step (default 8)."),
    out: Path | None = typer.Option(None, "--out", help="Also write the metrics (per-episode values too) as JSON here."),
    as_json: bool = typer.Option(False, "--json", help="Print the metrics as JSON instead of a table."),
) -> None:
    """Evaluate online: a trained run (RUN_DIR, with the settings saved beside it) or a reference policy (--task)."""
    if out is not None:
        check_output_file(out, "--out")
    if run_dir is not None:
        if task is not None:
            raise SafemilError("give a run directory or --task, not both (a run knows its task)")
        given = [name for name, v in (("--policy", policy), ("--seed", seed), ("--cost-limit", cost_limit),
                                      ("--num-envs", num_envs)) if v is not None]
        if given:
            raise SafemilError(f"{', '.join(given)} apply to a reference policy (--task); a run evaluates "
                               "with the settings saved beside it")
        m = api.evaluate(run_dir, episodes=episodes, deterministic=deterministic)
        title = f"{m['algo']} on {m['task']}, seed {m['seed']} ({run_dir})"
    elif task is not None:
        if deterministic is not None:
            raise SafemilError("--deterministic/--sample apply to a trained run, not to a reference policy")
        m = _reference(task, policy or "random", episodes or 10, seed or 0,
                       DEFAULT_COST_LIMIT if cost_limit is None else cost_limit, num_envs or 8)
        title = "evaluation"
    else:
        raise SafemilError("give a run directory (safemil eval RUN_DIR) or a task (safemil eval --task T)")
    if out is not None:
        atomic_write_text(out, json.dumps(m, indent=2, default=str) + "\n")
    if as_json:
        print(json.dumps({k: v for k, v in m.items() if not k.startswith("episode_")}, indent=2, default=str))
    else:
        print_metrics([m], title=title)
        if out is not None:
            console.print(f"wrote {out}")


def _reference(task: str, policy: str, episodes: int, seed: int, cost_limit: float, num_envs: int) -> dict:
    spec = get_task(task)
    if policy != "random":
        raise SafemilError(f"unknown policy {policy!r}; available: random")
    env = spec.make_env()
    pol = RandomPolicy(env.action_space.low, env.action_space.high, seed=seed)
    env.close()
    m = run_evaluation(pol, spec.name, episodes=episodes, seed=seed, cost_limit=cost_limit, num_envs=num_envs)
    m["algo"], m["seed"] = policy, seed
    return m


def immobile_warning(m: dict) -> str | None:
    """A warning when some evaluation episodes barely moved: a cost kept low by not moving is not a result."""
    n = m.get("immobile_episodes") or 0
    if not n:
        return None
    return (f"{m.get('algo', 'the policy')} barely moved in {n} of {m['episodes']} episodes on {m['task']} "
            f"({IMMOBILE_MEANING}): a low cost from not moving is not safety")


def print_metrics(rows: list[dict], title: str = "evaluation") -> None:
    t = Table(title=title)
    for col in ("task", "algo", "episodes", "norm. return", "norm. cost", "CVaR@20% cost", "mean return", "mean cost"):
        t.add_column(col)
    for m in rows:
        lo, hi = m["normalized_cost_ci95"]
        t.add_row(
            m["task"], str(m.get("algo", "")), str(m["episodes"]),
            f"{m['normalized_return']:.3f}",
            f"{m['normalized_cost']:.2f} [{lo:.2f}, {hi:.2f}]",
            f"{m['cvar20_cost']:.2f}",
            f"{m['mean_return']:.1f}", f"{m['mean_cost']:.1f}",
        )
    console.print(t)
    for m in rows:
        if warning := immobile_warning(m):
            console.print(f"[bold red]warning:[/bold red] {warning}")
