"""`safemil collect`: (re)train the behaviour policies that generate the datasets."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import platformdirs
import typer

from safemil.config import apply_overrides
from safemil.errors import ConfigError
from safemil.files import check_output_dir

app = typer.Typer(help="Train the behaviour policies that generate the datasets (needs the 'collect' extra, "
                       "except algo=ars-linear).",
                  no_args_is_help=True)


@app.command("train")
def train(
    task: str = typer.Option(..., "--task", help="Task name, e.g. SwimmerVelocity."),
    steps: int | None = typer.Option(None, "--steps", help="Env steps (default: the task's shipped setting)."),
    seed: int = typer.Option(0, "--seed", min=0),
    workdir: Path | None = typer.Option(None, "--workdir", help="Checkpoints; rerun the same command to resume."),
    install: bool = typer.Option(False, "--install", help="Copy the actor + record into the shipped-policy folder."),
    dest: Path | None = typer.Option(None, "--dest", help="Install into this folder instead."),
    overrides: list[str] = typer.Option([], "--set", help="Config override key=value (repeatable)."),
    command_map: str | None = typer.Option(
        None, "--command-map", help="OFFSET,SCALE: the network sees OFFSET + SCALE x command (calibration)."),
    every: int = typer.Option(1, "--every", min=1, help="Navigation: install every N-th snapshot (from the last)."),
) -> None:
    """Train (or resume) one task's policy; export its actor to a plain weight file.

    Navigation tasks train a PPO-Lagrangian agent under DSRL's scheduled cost limit and save
    snapshots along the run; --install packs them into the task's agent file."""
    from safemil.collect.train import default_train_config, install_policy, train_behaviour
    from safemil.tasks import get_task

    spec = get_task(task)
    name = spec.name
    if spec.kind == "navigation":
        if command_map is not None:
            raise ConfigError(f"--command-map: {name}'s agents take no speed command")
        _train_navigation(name, steps, seed, workdir, install, dest, overrides, every)
        return
    if every != 1:
        raise ConfigError(f"--every: {name} trains one actor, not navigation snapshots")
    cfg = apply_overrides(default_train_config(name, steps=steps, seed=seed), overrides)
    wd = workdir or Path(platformdirs.user_cache_dir("safemil")) / "collect" / f"{name}-{cfg.algo}-s{seed}"
    check_output_dir(wd, "--workdir")
    if dest is not None:
        check_output_dir(dest, "--dest")
    state = train_behaviour(cfg, wd)
    print(f"trained {name}: {state['steps']} steps, {state['wall_s']:.0f} s; actor: {wd / 'actor.npz'}")
    if install or dest is not None:
        rec = install_policy(name, wd, dest, command=_command_line("train"), command_map=_parse_map(command_map))
        print(json.dumps(rec["tracking"], indent=1))


def _train_navigation(name: str, steps: int | None, seed: int, workdir: Path | None, install: bool,
                      dest: Path | None, overrides: list[str], every: int) -> None:
    from safemil.collect.lagrangian import (
        default_lagrangian_config,
        install_agents,
        train_lagrangian,
    )

    cfg = apply_overrides(default_lagrangian_config(name, steps=steps, seed=seed), overrides)
    cfg.validate()
    wd = workdir or Path(platformdirs.user_cache_dir("safemil")) / "collect" / f"{name}-ppo-lagrangian-s{seed}"
    check_output_dir(wd, "--workdir")
    if dest is not None:
        check_output_dir(dest, "--dest")
    state = train_lagrangian(cfg, wd)
    print(f"trained {name}: {state['steps']} steps, {state['wall_s']:.0f} s, multiplier {state['multiplier']:.3f}; "
          f"snapshots: {wd / 'snapshots'}")
    if install or dest is not None:
        rec = install_agents(name, wd, dest, every=every, command=_command_line("train"))
        n = len(rec["snapshots"])
        print(f"installed {n} snapshot{'s' if n != 1 else ''} of {name}'s run")


@app.command("install")
def install(
    task: str = typer.Option(..., "--task", help="Task name."),
    workdirs: list[Path] = typer.Option(..., "--workdir", help="Training workdir (repeat for a switched actor)."),
    bounds: list[float] = typer.Option([], "--bound", help="Command bound between consecutive workdirs."),
    anchors: list[float] = typer.Option(
        [], "--anchor", help="Command at which each workdir's actor acts; blends between them (instead of --bound)."),
    command_maps: list[str] = typer.Option([], "--command-map", help="OFFSET,SCALE per workdir ('-' = none)."),
    snapshots: list[str] = typer.Option(
        [], "--snapshot", help="Training step of the actor snapshot per workdir ('-' = the final actor)."),
    dest: Path | None = typer.Option(None, "--dest", help="Install here instead of the shipped-policy folder."),
) -> None:
    """Install trained actor(s) with a record; several workdirs make a command-switched or blended actor.

    A workdir may be repeated with different ``--snapshot`` steps: snapshots taken along
    one training run are policies of increasing skill, and so of increasing speed.
    """
    from safemil.collect.train import install_policy
    from safemil.tasks import get_task

    maps = [_parse_map(m) for m in command_maps] if command_maps else None
    cmd = _command_line("install")
    snaps = [_parse_snapshot(x) for x in snapshots] or None
    if dest is not None:
        check_output_dir(dest, "--dest")
    rec = install_policy(get_task(task).name, list(workdirs), dest, command=cmd, command_map=maps, bounds=bounds,
                         snapshots=snaps, anchors=anchors)
    print(json.dumps(rec["tracking"], indent=1))


@app.command("throttle")
def throttle(
    task: str = typer.Option(..., "--task", help="Task name."),
    part: int = typer.Option(..., "--part", help="Which part of the source policy is the gait (0 if it has one)."),
    points: list[str] = typer.Option(
        ..., "--throttle", help="COMMAND,SCALE: the action scale at a command (repeat; commands increasing)."),
    source: Path | None = typer.Option(None, "--source", help="Installed policy .npz (default: the shipped one)."),
    command_map: str | None = typer.Option(None, "--command-map", help="OFFSET,SCALE the gait's network sees."),
    dest: Path | None = typer.Option(None, "--dest", help="Install here instead of the shipped-policy folder."),
) -> None:
    """Install one gait of an installed policy with a command-set throttle (actions scaled toward the box centre)."""
    from safemil.collect.train import throttle_policy
    from safemil.tasks import get_task

    pairs = [_parse_pair(p, "--throttle", "COMMAND,SCALE") for p in points]
    if dest is not None:
        check_output_dir(dest, "--dest")
    rec = throttle_policy(get_task(task).name, part, [c for c, _ in pairs], [s for _, s in pairs], source, dest,
                          command=_command_line("throttle"), command_map=_parse_map(command_map))
    print(json.dumps(rec["tracking"], indent=1))


def _command_line(sub: str) -> str:
    """The command as typed, for the installed policy's record (called from Python, only its name)."""
    rest = sys.argv[sys.argv.index(sub) + 1:] if sub in sys.argv else []
    return " ".join(["safemil", "collect", sub, *(shlex.quote(a) for a in rest)])


def _parse_snapshot(text: str) -> int | None:
    if text == "-":
        return None
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"--snapshot must be a step count or '-', got {text!r}") from None


def _parse_map(text: str | None) -> tuple[float, float] | None:
    if text is None or text == "-":
        return None
    return _parse_pair(text, "--command-map", "OFFSET,SCALE")


def _parse_pair(text: str, option: str, form: str) -> tuple[float, float]:
    try:
        a, b = (float(x) for x in text.split(","))
    except ValueError:
        raise ConfigError(f"{option} must be {form}, got {text!r}") from None
    return a, b
