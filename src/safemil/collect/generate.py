"""Generate a DSRL-layout dataset by rolling out a task's behaviour.

Velocity tasks roll out a speed-conditioned behaviour policy (below); navigation
tasks learned Lagrangian agents or a scripted controller (`nav_generate`).

Each episode draws, from its own seeded generator, a centre command (a ratio of
the cost threshold), a schedule of commands scattered around that centre that
changes at random times, and an action-noise level. Slow, quiet episodes stay
under the cost limit; fast or noisy ones cross it, and in between the
per-trajectory cost spreads continuously. Episode ``i`` only depends on
``(seed, i)``, and the envs step in lock-step with one batched actor call.

Like DSRL's data, the rollouts are then thinned on a grid over (episode cost,
episode return): ``oversample`` times the wanted episodes are rolled out and
at most the same number are kept from every occupied cell (`episodes.thin_on_grid`), so crowded regions
(slow and quiet, or flat out) do not drown the rare ones (fast runs just under
a cost limit).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from safemil.collect.actor import SpeedActor, load_behaviour_policy, shipped_policy_path
from safemil.collect.episodes import (
    assemble,
    collect_episodes,
    keep_on_grid,
    validate_rollout_counts,
)
from safemil.collect.nav_agents import shipped_agents_path
from safemil.collect.nav_generate import (
    CONTROLLER_VERSION,
    NavGenerateConfig,
    collect_nav_episodes,
    nav_default_config,
)
from safemil.data import Dataset, default_dataset_path, resolve_dataset, write_dsrl
from safemil.errors import ConfigError, TaskError
from safemil.files import atomic_write_text
from safemil.tasks import TaskSpec, get_task


@dataclass
class GenerateConfig:
    """How episodes are drawn. Ratios are commanded speed / cost threshold."""

    episodes: int = 500  # trajectories kept
    oversample: float = 2.0  # roll out round(oversample x episodes), keep `episodes` by the grid filter (1: all)
    cost_bins: int = 20  # the thinning grid: equal-width bins of log(1 + episode cost) over [0, max] ...
    return_bins: int = 20  # ... and over [min, max] episode return of the candidates
    seed: int = 0
    num_envs: int = 16
    center_low: float = 0.3  # per-episode centre command, uniform in [center_low, center_high]
    center_high: float = 1.6
    spread: float = 0.15  # std of each segment's command around the centre
    mean_hold: float = 250.0  # mean steps between command changes
    # Optional gap (gap_low, gap_high) the centre never falls in: two operating modes, cautious and
    # aggressive. No default uses it; the datasets before thinning (which the proco grid's table was
    # measured on) used it for Hopper and HalfCheetah, and regenerate with it.
    gap_low: float | None = None
    gap_high: float | None = None
    noise_low: float = 0.0  # per-episode action-noise std, uniform in [noise_low, noise_high]
    noise_high: float = 0.3
    max_steps: int | None = None  # episode length cap (default: the task's 1000)

    @property
    def rollouts(self) -> int:
        """Episodes rolled out before the grid filter keeps ``episodes`` of them."""
        return max(self.episodes, round(self.oversample * self.episodes))

    def validate(self) -> None:
        validate_rollout_counts(self)
        if not 0 <= self.center_low <= self.center_high:
            raise ConfigError(f"need 0 <= center_low <= center_high, got {self.center_low}, {self.center_high}")
        if not 0 <= self.noise_low <= self.noise_high:
            raise ConfigError(f"need 0 <= noise_low <= noise_high, got {self.noise_low}, {self.noise_high}")
        if (self.gap_low is None) != (self.gap_high is None):
            raise ConfigError("set both gap_low and gap_high, or neither")
        if self.gap_low is not None and not self.center_low < self.gap_low < self.gap_high < self.center_high:
            raise ConfigError(f"need center_low < gap_low < gap_high < center_high, got "
                              f"{self.center_low}, {self.gap_low}, {self.gap_high}, {self.center_high}")
        if self.spread < 0 or self.mean_hold < 1:
            raise ConfigError("spread must be >= 0 and mean_hold >= 1")


# Per-task defaults: the range of commands and noise each behaviour policy runs well in. Every
# range is one continuum (no gap between cautious and aggressive), like DSRL's data.
TASK_DEFAULTS: dict[str, dict] = {
    "HopperVelocity": {"center_low": 0.2, "center_high": 1.5},
    # HalfCheetah's action noise slows its gait, so it is kept low: speed comes from the command.
    "HalfCheetahVelocity": {"noise_high": 0.1, "center_low": 0.5, "center_high": 1.7},
    # Swimmer's smooth gaits (commands < 0.95) stay under the threshold only with little noise.
    "SwimmerVelocity": {"center_low": 0.0, "center_high": 1.6, "spread": 0.1, "noise_high": 0.08},
    # Ant's throttled gait: commands from standing (< 0.3) to its full speed (>= 0.95); little noise.
    "AntVelocity": {"center_low": 0.2, "center_high": 1.6, "noise_high": 0.1},
}


def default_config(task: str, **overrides) -> GenerateConfig | NavGenerateConfig:
    """The default generation config of ``task`` with ``overrides`` applied."""
    spec = get_task(task)
    if spec.kind == "navigation":
        return nav_default_config(spec.name, **overrides)
    kw = dict(TASK_DEFAULTS.get(spec.name, {}))
    kw.update({k: v for k, v in overrides.items() if v is not None})
    return GenerateConfig(**kw)


def episode_plan(cfg: GenerateConfig, episode: int, limit: int, act_dim: int) -> tuple[np.ndarray, np.ndarray, dict]:
    """Per-step command ratios (limit,), action noise (limit, act_dim) and a summary for episode ``episode``."""
    rng = np.random.default_rng([cfg.seed, episode])
    if cfg.gap_low is None:
        center = rng.uniform(cfg.center_low, cfg.center_high)
    else:  # uniform over [center_low, gap_low] u [gap_high, center_high]
        center = rng.uniform(cfg.center_low, cfg.center_high - (cfg.gap_high - cfg.gap_low))
        center = center if center <= cfg.gap_low else center + (cfg.gap_high - cfg.gap_low)
    sigma = rng.uniform(cfg.noise_low, cfg.noise_high)
    ratios = np.empty(limit, dtype=np.float32)
    t = 0
    while t < limit:
        hold = 1 + int(rng.geometric(1.0 / cfg.mean_hold))
        ratios[t:t + hold] = max(0.05, center + cfg.spread * rng.standard_normal())
        t += hold
    noise = (sigma * rng.standard_normal((limit, act_dim))).astype(np.float32)
    return ratios, noise, {"center": float(center), "noise": float(sigma)}


def generate_dataset(task: str, cfg: GenerateConfig | NavGenerateConfig | None = None, actor: SpeedActor | None = None,
                     progress: bool = True) -> Dataset:
    """Roll out the task's behaviour for ``cfg.rollouts`` episodes and keep ``cfg.episodes`` of them
    (thinned on the (cost, return) grid); transitions in episode order."""
    spec = get_task(task)
    cfg = cfg or default_config(spec.name)
    cfg.validate()
    if spec.kind == "navigation":
        if actor is not None:
            raise ConfigError(f"{spec.name}: a navigation task's behaviour is chosen by its config "
                              "(controller, agents_file), not a speed policy")
        if not isinstance(cfg, NavGenerateConfig):
            raise ConfigError(f"{spec.name} is a navigation task: its generation config is NavGenerateConfig")
        episodes = collect_nav_episodes(spec, cfg, progress)
    else:
        if not isinstance(cfg, GenerateConfig):
            raise ConfigError(f"{spec.name} is a velocity task: its generation config is GenerateConfig")
        episodes = _collect_velocity_episodes(spec, cfg, actor or load_behaviour_policy(spec.name), progress)
    return assemble(keep_on_grid(episodes, cfg.episodes, cfg.cost_bins, cfg.return_bins), spec.name)


def _collect_velocity_episodes(spec: TaskSpec, cfg: GenerateConfig, actor: SpeedActor, progress: bool) -> list:
    limit = cfg.max_steps or spec.max_episode_steps
    n = max(1, min(cfg.num_envs, cfg.rollouts))
    plan_ratio = np.zeros((n, limit), np.float32)
    plan_noise = np.zeros((n, limit, spec.act_dim), np.float32)

    def begin(slot: int, episode: int) -> None:
        plan_ratio[slot], plan_noise[slot], _ = episode_plan(cfg, episode, limit, spec.act_dim)

    def act(slots: np.ndarray, t: np.ndarray, obs: np.ndarray) -> np.ndarray:
        acts = actor.act(obs, plan_ratio[slots, t])
        return np.clip(acts + plan_noise[slots, t], actor.low, actor.high).astype(np.float32)

    return collect_episodes(spec, cfg.rollouts, cfg.seed, cfg.num_envs, cfg.max_steps, begin, act, progress)


def generate_to_file(task: str, cfg: GenerateConfig | NavGenerateConfig | None = None, out: str | os.PathLike | None = None,
                     actor: SpeedActor | None = None, progress: bool = True,
                     policy_file: str | os.PathLike | None = None) -> Path:
    """Generate and write atomically (default: the task's default dataset path).

    Beside the file, ``<file>.generation.json`` records the config and the behaviour policy's
    sha256 (``policy_file``, or the shipped one when no ``actor`` is given; for a navigation task
    the scripted controller's version), so a cached default
    dataset made by another version can be recognised (`stale_default_dataset`). It is a separate
    file so the dataset's own bytes, and the sha256 the docs quote, do not change.
    """
    spec = get_task(task)
    cfg = cfg or default_config(spec.name)
    ds = generate_dataset(spec.name, cfg, actor, progress)
    path = Path(out) if out is not None else default_dataset_path(spec.name)
    attrs = {"generator": "safemil.collect", "seed": cfg.seed, "episodes": cfg.episodes}
    written = write_dsrl(ds, path, attrs=attrs)
    policy = policy_file if policy_file is not None else (
        shipped_policy_path(spec.name) if actor is None and spec.kind == "velocity" else None)
    atomic_write_text(_record_path(written), json.dumps(_record(spec.name, cfg, policy), indent=1))
    return written


def _record_path(path: str | os.PathLike) -> Path:
    return Path(str(path) + ".generation.json")


def _sha256(path: str | os.PathLike) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _record(task: str, cfg: GenerateConfig | NavGenerateConfig, policy_file: str | os.PathLike | None) -> dict:
    if isinstance(cfg, NavGenerateConfig):
        behaviour = {"controller_version": CONTROLLER_VERSION}
        if cfg.controller == "agents":
            behaviour["policy_sha256"] = _sha256(cfg.agents_file or shipped_agents_path(task))
    else:
        behaviour = {"policy_sha256": _sha256(policy_file) if policy_file is not None else None}
    return json.loads(json.dumps({"task": task, "config": asdict(cfg), **behaviour}))


def stale_default_dataset(task: str, path: str | os.PathLike) -> str | None:
    """What differs between how the dataset at ``path`` was generated and how ``task``'s default dataset
    is generated now (None: nothing, or nothing is known). ``num_envs`` counts: the actor acts on the
    envs' observations in one batched product, whose rounding depends on the batch size."""
    spec = get_task(task)
    now = _record(spec.name, default_config(spec.name), None)["config"]
    rec_path = _record_path(path)
    other_policy = False
    if rec_path.exists():
        try:
            then = json.loads(rec_path.read_text())
        except (OSError, ValueError):
            return f"its generation record {rec_path} is unreadable"
        if spec.kind == "navigation":
            other_policy = then.get("controller_version") != CONTROLLER_VERSION or (
                then.get("config", {}).get("controller") == "agents"
                and then.get("policy_sha256") != _sha256(shipped_agents_path(spec.name)))
            then.get("config", {}).setdefault("controller", "clearance")  # recorded before the field law existed
            then.get("config", {}).setdefault("risk_power", 1.0)  # recorded before risk_power existed: uniform
            then.get("config", {}).setdefault("agents_file", "")  # recorded before learned agents existed
        elif "policy_sha256" in then:
            other_policy = then["policy_sha256"] != _sha256(shipped_policy_path(spec.name))
        then = then.get("config", {})
    else:  # generated before records existed: the HDF5 attributes hold the seed and the episode count
        import h5py

        with h5py.File(path, "r") as f:
            if f.attrs.get("generator") != "safemil.collect":
                return None
            then = {k: int(f.attrs[k]) for k in ("seed", "episodes") if k in f.attrs}
        now = {k: now[k] for k in then}
    keys = sorted(set(now) | set(then))
    diffs = [f"{k}: {then.get(k)!r} -> {now.get(k)!r}" for k in keys if then.get(k) != now.get(k)]
    if other_policy:
        diffs.append("a different behaviour policy" if spec.kind == "velocity" else "another controller version or agents")
    return "; ".join(diffs) or None


def find_dataset(spec: str | os.PathLike) -> Path:
    """`resolve_dataset`, and a warning on stderr when the file is a cached default dataset that
    was generated differently from this version's default: it is still used, never silently."""
    path = resolve_dataset(spec)
    try:
        task = get_task(str(spec)).name
    except TaskError:
        return path
    if path != default_dataset_path(task):
        return path
    try:
        why = stale_default_dataset(task, path)
    except OSError:  # an unreadable file or no shipped policy: the reader (or generator) says so clearly
        return path
    if why:
        print(f"warning: the cached default dataset {path} was generated differently from this version's "
              f"default ({why}); regenerate it with: safemil data generate --task {task}", file=sys.stderr)
    return path
