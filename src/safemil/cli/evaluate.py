from __future__ import annotations

import json

import typer
from rich.table import Table

from safemil.console import console
from safemil.errors import SafemilError
from safemil.eval import RandomPolicy
from safemil.eval import evaluate as run_evaluation
from safemil.tasks import get_task


def evaluate(
    task: str = typer.Option(..., "--task", help="Task name (see `safemil tasks`)."),
    policy: str = typer.Option("random", "--policy", help="Reference policy to evaluate: random."),
    episodes: int = typer.Option(10, "--episodes", min=1),
    seed: int = typer.Option(0, "--seed", min=0),
    cost_limit: float = typer.Option(25.0, "--cost-limit"),
    num_envs: int = typer.Option(8, "--num-envs", min=1),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Evaluate a reference policy online and print the metrics table."""
    spec = get_task(task)
    if policy != "random":
        raise SafemilError(f"unknown policy {policy!r}; available: random")
    env = spec.make_env()
    pol = RandomPolicy(env.action_space.low, env.action_space.high, seed=seed)
    env.close()
    m = run_evaluation(pol, spec.name, episodes=episodes, seed=seed, cost_limit=cost_limit, num_envs=num_envs)
    m["algo"], m["seed"] = policy, seed
    if as_json:
        print(json.dumps({k: v for k, v in m.items() if not k.startswith("episode_")}, indent=2))
    else:
        print_metrics([m])


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
