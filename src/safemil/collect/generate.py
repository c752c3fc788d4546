"""Generate a DSRL-layout dataset by rolling out a task's speed-conditioned behaviour policy.

Each episode draws, from its own seeded generator, a centre command (a ratio of
the cost threshold), a schedule of commands scattered around that centre that
changes at random times, and an action-noise level. Slow, quiet episodes stay
under the cost limit; fast or noisy ones cross it, and in between the
per-trajectory cost spreads continuously. Episode ``i`` only depends on
``(seed, i)``, and the envs step in lock-step with one batched actor call.

Like DSRL's data, the rollouts are then thinned on a grid over (episode cost,
episode return): ``oversample`` times the wanted episodes are rolled out and
at most the same number are kept from every occupied cell (`thin_on_grid`), so crowded regions
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
from safemil.console import progress_bar
from safemil.data import Dataset, default_dataset_path, resolve_dataset, write_dsrl
from safemil.errors import ConfigError, TaskError
from safemil.eval.lockstep import Lockstep
from safemil.files import atomic_write_text
from safemil.tasks import get_task


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
        if self.episodes < 1:
            raise ConfigError(f"episodes must be >= 1, got {self.episodes}")
        if self.num_envs < 1:
            raise ConfigError(f"num_envs must be >= 1, got {self.num_envs}")
        if self.seed < 0:
            raise ConfigError(f"seed must be >= 0, got {self.seed}")
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
        if not self.oversample >= 1.0:
            raise ConfigError(f"oversample must be >= 1 (1: keep every episode), got {self.oversample}")
        if self.cost_bins < 1 or self.return_bins < 1:
            raise ConfigError(f"cost_bins and return_bins must be >= 1, got {self.cost_bins}, {self.return_bins}")
        if self.max_steps is not None and self.max_steps < 1:
            raise ConfigError(f"max_steps must be >= 1, got {self.max_steps}")


# Per-task defaults: the range of commands and noise each behaviour policy runs well in. Every
# range is one continuum (no gap between cautious and aggressive), like DSRL's data.
TASK_DEFAULTS: dict[str, dict] = {
    "HopperVelocity": {"center_low": 0.2, "center_high": 1.5},
    # HalfCheetah's action noise slows its gait, so it is kept low: speed comes from the command.
    "HalfCheetahVelocity": {"noise_high": 0.1, "center_low": 0.5, "center_high": 1.7},
    # Swimmer's gentle gait (commands < 0.8) only stays under the threshold with little noise.
    "SwimmerVelocity": {"center_low": 0.0, "center_high": 1.6, "spread": 0.1, "noise_high": 0.08},
    # Ant's snapshot-switched SAC falls more often under strong noise; slow commands stand nearly still.
    "AntVelocity": {"center_low": 0.2, "center_high": 1.6, "noise_high": 0.1},
}


def default_config(task: str, **overrides) -> GenerateConfig:
    """The default generation config of ``task`` with ``overrides`` applied."""
    kw = dict(TASK_DEFAULTS.get(get_task(task).name, {}))
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


def generate_dataset(task: str, cfg: GenerateConfig | None = None, actor: SpeedActor | None = None,
                     progress: bool = True) -> Dataset:
    """Roll out the behaviour policy for ``cfg.episodes`` episodes; transitions in episode order."""
    spec = get_task(task)
    cfg = cfg or default_config(spec.name)
    cfg.validate()
    actor = actor or load_behaviour_policy(spec.name)
    rollouts = cfg.rollouts
    ls = Lockstep(spec, rollouts, cfg.seed, cfg.num_envs, cfg.max_steps)
    limit, n, od, ad = ls.limit, ls.n, spec.obs_dim, spec.act_dim
    # Per-slot buffers for the running episode; finished episodes are moved to `done`.
    buf_obs = np.zeros((n, limit + 1, od), np.float32)
    buf_act = np.zeros((n, limit, ad), np.float32)
    buf_rew = np.zeros((n, limit), np.float32)
    buf_cost = np.zeros((n, limit), np.float32)
    plan_ratio = np.zeros((n, limit), np.float32)
    plan_noise = np.zeros((n, limit, ad), np.float32)
    done: dict[int, tuple] = {}
    low, high = actor.low, actor.high

    def begin(started: list[tuple[int, int]]) -> None:
        for s, ep in started:
            plan_ratio[s], plan_noise[s], _ = episode_plan(cfg, ep, limit, ad)
            buf_obs[s, 0] = ls.obs[s]

    begin(ls.take_started())
    bar = progress_bar(progress, total=rollouts, desc=f"generate {spec.name}", unit="ep")
    try:
        while not ls.done():
            slots = ls.active()
            t = ls.t[slots]
            acts = actor.act(ls.obs[slots], plan_ratio[slots, t])
            acts = np.clip(acts + plan_noise[slots, t], low, high).astype(np.float32)
            res = ls.step(slots, acts)
            buf_act[slots, t] = acts
            buf_rew[slots, t] = res.rewards
            buf_cost[slots, t] = res.costs
            buf_obs[slots, t + 1] = res.next_obs
            for j in np.flatnonzero(res.terminated | res.timeout):
                s, length = slots[j], t[j] + 1
                done[int(res.episodes[j])] = (
                    buf_obs[s, :length + 1].copy(), buf_act[s, :length].copy(), buf_rew[s, :length].copy(),
                    buf_cost[s, :length].copy(), bool(res.terminated[j]),
                )
                bar.update(1)
            begin(res.started)
    finally:
        bar.close()
        ls.close()
    episodes = [done[i] for i in range(rollouts)]
    if rollouts > cfg.episodes:
        keep = thin_on_grid(np.array([e[3].sum() for e in episodes]), np.array([e[2].sum() for e in episodes]),
                            cfg.episodes, cfg.cost_bins, cfg.return_bins)
        episodes = [episodes[i] for i in keep]
    return _assemble(episodes, spec.name)


def thin_on_grid(costs: np.ndarray, returns: np.ndarray, keep: int, cost_bins: int, return_bins: int) -> np.ndarray:
    """Indices (ascending) of ``keep`` episodes, as even across the occupied (cost, return) grid
    cells as the counts allow: every cell keeps min(its count, c) episodes, its first ones,
    where c is the largest cap that keeps at most ``keep``; the remainder comes one each from
    the cells that still have episodes, in cell order. DSRL thins its logs the same way (a cap
    per cell), so every part of the cost-return frontier is represented. Cost bins are equal in
    log(1 + cost): the cost limits users evaluate at (10 to 80 of up to 1000) all sit in the
    bottom tenth of the range, where equal-width bins would give the whole safe part one cell."""
    n = len(costs)
    if not 0 < keep <= n:
        raise ConfigError(f"cannot keep {keep} of {n} episodes")
    log_costs = np.log1p(np.maximum(costs, 0.0))
    cells = _grid_cell(log_costs, 0.0, cost_bins) * return_bins + _grid_cell(returns, float(returns.min()), return_bins)
    order = np.argsort(cells, kind="stable")  # episodes grouped by cell, in index order within a cell
    _, starts, counts = np.unique(cells[order], return_index=True, return_counts=True)
    cap = 0
    while cap < counts.max() and np.minimum(counts, cap + 1).sum() <= keep:
        cap += 1
    chosen = [order[s:s + min(c, cap)] for s, c in zip(starts, counts, strict=True)]
    extra = keep - sum(len(c) for c in chosen)
    for cell in np.flatnonzero(counts > cap)[:extra]:
        chosen.append(order[starts[cell] + cap:starts[cell] + cap + 1])
    return np.sort(np.concatenate(chosen))


def _grid_cell(values: np.ndarray, lo: float, bins: int) -> np.ndarray:
    hi = float(values.max())
    if hi <= lo:
        return np.zeros(len(values), dtype=np.int64)
    return np.minimum(((values - lo) / (hi - lo) * bins).astype(np.int64), bins - 1)


def _assemble(episodes: list[tuple], task: str) -> Dataset:
    lengths = [len(e[1]) for e in episodes]
    terminals = np.zeros(sum(lengths), bool)
    timeouts = np.zeros(sum(lengths), bool)
    ends = np.cumsum(lengths) - 1
    for e, end in zip(episodes, ends, strict=True):
        (terminals if e[4] else timeouts)[end] = True
    return Dataset(
        observations=np.concatenate([e[0][:-1] for e in episodes]),
        next_observations=np.concatenate([e[0][1:] for e in episodes]),
        actions=np.concatenate([e[1] for e in episodes]),
        rewards=np.concatenate([e[2] for e in episodes]),
        costs=np.concatenate([e[3] for e in episodes]),
        terminals=terminals,
        timeouts=timeouts,
        task=task,
    )


def generate_to_file(task: str, cfg: GenerateConfig | None = None, out: str | os.PathLike | None = None,
                     actor: SpeedActor | None = None, progress: bool = True,
                     policy_file: str | os.PathLike | None = None) -> Path:
    """Generate and write atomically (default: the task's default dataset path).

    Beside the file, ``<file>.generation.json`` records the config and the behaviour policy's
    sha256 (``policy_file``, or the shipped one when no ``actor`` is given), so a cached default
    dataset made by another version can be recognised (`stale_default_dataset`). It is a separate
    file so the dataset's own bytes, and the sha256 the docs quote, do not change.
    """
    spec = get_task(task)
    cfg = cfg or default_config(spec.name)
    ds = generate_dataset(spec.name, cfg, actor, progress)
    path = Path(out) if out is not None else default_dataset_path(spec.name)
    attrs = {"generator": "safemil.collect", "seed": cfg.seed, "episodes": cfg.episodes}
    written = write_dsrl(ds, path, attrs=attrs)
    policy = policy_file if policy_file is not None else (shipped_policy_path(spec.name) if actor is None else None)
    atomic_write_text(_record_path(written), json.dumps(_record(spec.name, cfg, policy), indent=1))
    return written


def _record_path(path: str | os.PathLike) -> Path:
    return Path(str(path) + ".generation.json")


def _sha256(path: str | os.PathLike) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _record(task: str, cfg: GenerateConfig, policy_file: str | os.PathLike | None) -> dict:
    sha = _sha256(policy_file) if policy_file is not None else None
    return json.loads(json.dumps({"task": task, "config": asdict(cfg), "policy_sha256": sha}))


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
        if "policy_sha256" in then:
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
        diffs.append("a different behaviour policy")
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
