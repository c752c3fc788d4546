from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from safemil.collect import find_dataset
from safemil.console import console
from safemil.data import default_dataset_path, read_dsrl
from safemil.data.info import dataset_info, plot_dataset
from safemil.errors import ConfigError, OutputError
from safemil.files import check_output_dir, check_output_file
from safemil.tasks import DEFAULT_COST_LIMIT

# what the figure writer (matplotlib) understands; any other name would be written as NAME.png
IMAGE_SUFFIXES = (".png", ".pdf", ".svg", ".jpg", ".jpeg", ".webp", ".eps", ".ps", ".tif", ".tiff")

app = typer.Typer(help="Inspect and make datasets.", no_args_is_help=True)


@app.command("info")
def info(
    dataset: str = typer.Argument(..., help="HDF5 path, DSRL file name, or task name."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    plot: Path | None = typer.Option(None, "--plot", help="Write a return-vs-cost scatter + histogram PNG."),
    task: str | None = typer.Option(None, "--task", help="Check dimensions against this task."),
    cost_limit: float = typer.Option(DEFAULT_COST_LIMIT, "--cost-limit",
                                     help="The episode cost limit: drawn on the plot, and the frontier's."),
) -> None:
    """Counts, return/cost quantiles and the share of trajectories under cost limits."""
    if not cost_limit >= 0:
        raise ConfigError(f"--cost-limit must be >= 0, got {cost_limit}")
    if plot is not None:
        check_image_file(plot, "--plot")
    path = find_dataset(dataset)
    ds = read_dsrl(path, task=task)
    info = {"file": str(path), **dataset_info(ds, cost_limit=cost_limit)}
    if plot is not None:
        info["plot"] = str(plot_dataset(ds, plot, cost_limit))
    if as_json:
        print(json.dumps(info, indent=2))
        return
    print_info(info)


def check_image_file(path: Path, what: str) -> None:
    """An image name the figure writer keeps as given, in a place it can write."""
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise OutputError(f"{what} {path}: give an image file name ending in {', '.join(IMAGE_SUFFIXES[:3])}")
    check_output_file(path, what)


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
    f = info["frontier"]
    line = (f"near the limit {f['cost_limit']:g}: {f['frac_safe']:.1%} safe, {f['frac_just_under_limit']:.1%} with "
            f"0 < cost <= limit, {f['frac_cost_ge_3x_limit']:.1%} with cost >= 3x limit")
    if "safe_norm_return_mean" in f:
        line += (f"; safe trajectories' normalized return mean {f['safe_norm_return_mean']:.3f}, "
                 f"p90 {f['safe_norm_return_p90']:.3f}")
    c.print(line)
    if "plot" in info:
        c.print(f"plot: {info['plot']}")


@app.command("generate")
def generate(
    task: str = typer.Option(..., "--task", help="Task name, e.g. SwimmerVelocity."),
    episodes: int | None = typer.Option(None, "--episodes", help="Trajectories to keep (default: 500; navigation 1000, PointCircle2 500): twice as many are rolled out, then thinned on a (cost, return) grid (--set oversample=1: keep all)."),
    seed: int = typer.Option(0, "--seed", min=0, help="Same seed, same file."),
    out: Path | None = typer.Option(None, "--out", help="Output HDF5 (default: the task's default dataset path)."),
    num_envs: int | None = typer.Option(None, "--num-envs", help="Envs stepped in lock-step (default: the task's; another count changes the file's last digits)."),
    policy: Path | None = typer.Option(None, "--policy", help="Behaviour-policy .npz (default: the shipped one)."),
    overrides: list[str] = typer.Option([], "--set", help="Generation config override key=value (repeatable)."),
) -> None:
    """Roll out the task's behaviour (velocity: its policy; navigation: learned agents or a scripted controller) and write a DSRL-layout dataset.

    The task's default dataset (no --episodes/--seed/--set/--policy) is checked against its
    recorded sha256: the published tables were made from that exact file."""
    import time

    from safemil.collect import default_config, generate_to_file, load_behaviour_policy
    from safemil.collect.actor import shipped_policy_path
    from safemil.collect.fingerprints import check_fingerprint, is_default_generation
    from safemil.config import apply_overrides
    from safemil.tasks import get_task

    spec = get_task(task)
    name = spec.name
    if policy is not None and spec.kind != "velocity":
        raise ConfigError(f"--policy: {name}'s behaviour is set by --set keys (controller, agents_file; "
                          "the scripted controllers' risk, speed and noise ranges)")
    base = default_config(name, episodes=episodes, seed=seed, num_envs=num_envs)
    cfg = apply_overrides(base, overrides)
    if spec.kind == "navigation" and cfg.controller != base.controller:  # the ranges are the asked law's
        cfg = apply_overrides(default_config(name, episodes=episodes, seed=seed, num_envs=num_envs,
                                             controller=cfg.controller), overrides)
    check_output_file(out if out is not None else default_dataset_path(name), "--out")  # before the rollouts
    actor = load_behaviour_policy(name, policy) if spec.kind == "velocity" else None
    t0 = time.perf_counter()
    path = generate_to_file(name, cfg, out, actor,
                            policy_file=policy if policy is not None else (
                                shipped_policy_path(name) if actor is not None else None))
    console.print(f"wrote {path} ({cfg.episodes} trajectories of {cfg.rollouts} rolled out, "
                  f"{time.perf_counter() - t0:.1f} s)")
    if is_default_generation(name, cfg, policy_is_shipped=policy is None):
        check_fingerprint(name, path).report()


@app.command("report")
def report(
    tasks: list[str] = typer.Argument(None, help="Tasks (default: the five velocity tasks; navigation tasks by name, best with their own --doc)."),
    doc: Path = typer.Option(Path("docs/datasets.md"), "--doc", help="Markdown page to write."),
    img_dir: Path = typer.Option(Path("docs/img"), "--img-dir", help="Folder for the plots."),
) -> None:
    """Write the datasets page: `data info` tables, target-shape checks and return-vs-cost plots."""
    import shlex
    import sys

    from safemil.collect.report import write_datasets_doc
    from safemil.tasks import list_tasks

    names = tasks or [t.name for t in list_tasks()]
    check_output_file(doc, "--doc")
    check_output_dir(img_dir, "--img-dir")
    argv = sys.argv[sys.argv.index("report") + 1:] if "report" in sys.argv else []
    command = "safemil data report " + " ".join(shlex.quote(a) for a in argv)
    out = write_datasets_doc(names, doc, img_dir, command.strip())
    for name, r in out.items():
        bad = [k for k, v in r["target"].items() if not v["pass"]]
        console.print(f"{name}: " + ("target shape met" if not bad else "MISSED: " + "; ".join(bad)))
    console.print(f"wrote {doc}")
