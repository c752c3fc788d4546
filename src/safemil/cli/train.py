"""`safemil train`, `safemil quickstart`, `safemil algos`: thin wrappers over the Python API."""

from __future__ import annotations

import json
from pathlib import Path

import typer
import yaml
from rich.table import Table

from safemil import api
from safemil.algos import get_algo, list_algos
from safemil.config import apply_overrides, to_dict
from safemil.console import console
from safemil.errors import SafemilError
from safemil.files import check_output_dir
from safemil.presets import EVAL_EPISODES, get_preset
from safemil.quickstart import TASK as QUICKSTART_TASK
from safemil.quickstart import plot_quickstart, run_quickstart
from safemil.runner import plain_lists, split_overrides
from safemil.tasks import get_task


def train(
    algo: str | None = typer.Argument(None, help="Algorithm name (see `safemil algos`)."),
    overrides: list[str] | None = typer.Argument(None, help="Config overrides key=value (split.*, train.*, eval.* or the algorithm's keys)."),
    task: str | None = typer.Option(None, "--task", help="Task name (see `safemil tasks`)."),
    dataset: str | None = typer.Option(None, "--dataset", help="HDF5 path or DSRL file name; default: the task's generated dataset."),
    seed: int = typer.Option(0, "--seed"),
    out: Path | None = typer.Option(None, "--out", help="Run directory; default runs/<task>/<algo>/seed<S>."),
    resume: Path | None = typer.Option(None, "--resume", help="Continue the run in this directory from its last checkpoint."),
    as_json: bool = typer.Option(False, "--json", help="Print eval.json instead of a table."),
    data: str | None = typer.Option(None, "--data", help="split | safe-only | minimally-risky (default: the algorithm's)."),
    rule: str | None = typer.Option(None, "--rule", help="PROCO: the knowledge rule (an expression with the static backend)."),
    cost_file: Path | None = typer.Option(None, "--cost-file", help="PROCO: a saved knowledge cost (safemil cost ground --out)."),
    preset: str = typer.Option("default", "--preset", help="Named settings applied before the overrides: default (what the results tables report), proco, proco-nav, smoke, none (the config classes' defaults)."),
) -> None:
    """Train an algorithm, evaluate the final policy, write RUN_DIR/eval.json."""
    if resume is not None:
        if algo is not None or task is not None or overrides:
            raise SafemilError("--resume takes only the run directory (its config.yaml holds everything else)")
        run = api.resume(resume)
    else:
        if algo is None:
            raise SafemilError("missing algorithm name: safemil train ALGO --task T (or --resume RUN_DIR)")
        if "=" in algo:
            raise SafemilError(f"expected an algorithm name first, got override {algo!r}")
        if task is None:
            raise SafemilError("missing --task (see `safemil tasks`)")
        run = api.train(algo, task, dataset=dataset, seed=seed, out=out, preset=preset,
                        overrides=[*_proco_overrides(algo, data, rule, cost_file), *(overrides or [])])
    _report(run.metrics, run.run_dir, as_json)


def _proco_overrides(algo: str, data: str | None, rule: str | None, cost_file: Path | None) -> list[str]:
    """--data / --rule / --cost-file as config overrides (JSON-quoted, so any rule text survives)."""
    from safemil.algos import get_algo

    out = [f"data.mode={data}"] if data is not None else []
    if rule is not None or cost_file is not None:
        if "layer" not in get_algo(algo).config_cls.__dataclass_fields__:
            raise SafemilError(f"--rule / --cost-file are for the PROCO algorithms, not {algo}")
        if rule is not None:
            out.append(f"layer.knowledge.rule={json.dumps(rule)}")
        if cost_file is not None:
            out.append(f"layer.knowledge.cost_file={json.dumps(str(cost_file))}")
    return out


def quickstart(
    out: Path = typer.Option(Path("runs/quickstart"), "--out", help="Where the three run directories go."),
    seed: int = typer.Option(0, "--seed", min=0),
    episodes: int = typer.Option(EVAL_EPISODES, "--episodes", min=1, help="Evaluation episodes per policy."),
    dataset: str | None = typer.Option(None, "--dataset", help="Default: the task's generated dataset."),
    task: str = typer.Option(QUICKSTART_TASK, "--task", help="The quickstart's task."),
) -> None:
    """The main job: BC on D_U, BC-Safe (oracle) and SafeMIL, each a default-grid cell; a table and a plot."""
    from safemil.cli.evaluate import print_metrics

    check_output_dir(out, "--out")
    rows = run_quickstart(out, seed=seed, episodes=episodes, dataset=dataset, task=task)
    print_metrics(rows, title="quickstart: BC on D_U, BC-Safe (oracle: reads the hidden labels), SafeMIL")
    for m in rows:
        d = m.get("diagnostics", {})
        if "cost_auroc_step" in d:
            console.print(f"{m['algo']}: learned-cost AUROC per step {d['cost_auroc_step']:.3f}, "
                          f"per trajectory {d['cost_auroc_traj']:.3f}; BC weight ESS {d.get('bc_ess_mean', float('nan')):.2f}")
        if d.get("collapse_warning"):
            console.print(f"[bold red]warning:[/bold red] {d['collapse_warning']}")
    console.print(f"plot: {plot_quickstart(rows, Path(out) / 'quickstart.png')}")


def algos(
    name: str | None = typer.Argument(None, metavar="ALGO", help="Print this algorithm's config (YAML)."),
    preset: str = typer.Option("default", "--preset", help="With ALGO: the preset applied (none: the class defaults)."),
    task: str = typer.Option("HopperVelocity", "--task",
                             help="With ALGO: the task the config is for (presets differ on navigation tasks and on some tasks)."),
) -> None:
    """List the registered algorithms, or print the config `safemil train ALGO --task T --preset P` runs."""
    if name is not None:
        spec, chosen, task_spec = get_algo(name), get_preset(preset), get_task(task)
        kind = task_spec.kind
        run_ov, algo_ov = split_overrides(chosen.overrides(spec.name, kind, task_spec.name))
        cfg = apply_overrides(spec.config_cls(), algo_ov)
        settings = dict(o.split("=", 1) for o in run_ov)  # a later value of a key wins, as in a run
        shown = " ".join(f"{k}={v}" for k, v in settings.items())
        print(f"# {spec.name}, preset {chosen.name}, on {task_spec.name} ({kind})" + (f"; run settings: {shown}" if shown else ""))
        print(yaml.safe_dump(plain_lists(to_dict(cfg)), sort_keys=False), end="")
        return

    t = Table()
    for c in ("name", "oracle", "description"):
        t.add_column(c)
    for s in list_algos():
        t.add_row(s.name, "yes" if s.oracle else "", s.description)
    console.print(t)


def _report(m: dict | None, out_dir: Path, as_json: bool, write: bool = True) -> None:
    from safemil.cli.evaluate import print_metrics

    if m is None:
        return
    if as_json:
        print(json.dumps({k: v for k, v in m.items() if not k.startswith("episode_")}, indent=2))
        return
    print_metrics([m], title=f"{m['algo']} on {m['task']}, seed {m['seed']}")
    d = m.get("diagnostics", {})
    keys = [k for k in ("cost_auroc_step", "cost_auroc_traj", "bt_loss_final", "score_gap_final",
                        "bc_ess_mean", "alpha", "clf_acc_heldout", "disc_acc_heldout") if k in d]
    if keys:
        console.print("  ".join(f"{k}={d[k]:.3f}" for k in keys if d[k] is not None))
    if d.get("collapse_warning"):
        console.print(f"[bold red]warning:[/bold red] {d['collapse_warning']}")
    if write:
        console.print(f"run directory: {out_dir}")
