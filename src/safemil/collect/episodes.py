"""Roll out a behaviour in lock-stepped envs, thin the episodes on a (cost, return) grid, assemble.

What every dataset generator shares, whatever decides the actions (a speed-conditioned
network for the velocity tasks, a scripted controller for the navigation tasks).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from safemil.console import progress_bar
from safemil.data import Dataset
from safemil.errors import ConfigError
from safemil.eval.lockstep import Lockstep
from safemil.tasks import TaskSpec

# (observations incl. the last, actions, rewards, costs, ended by the env)
Episode = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, bool]
# begin(slot, episode): called when a slot starts an episode
Begin = Callable[[int, int], None]
# act(slots, t, obs) -> actions for those slots at their step indices t
Act = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def validate_rollout_counts(cfg) -> None:
    """The checks every generation config shares (episodes, envs, seed, oversampling, grid, length)."""
    if cfg.episodes < 1:
        raise ConfigError(f"episodes must be >= 1, got {cfg.episodes}")
    if cfg.num_envs < 1:
        raise ConfigError(f"num_envs must be >= 1, got {cfg.num_envs}")
    if cfg.seed < 0:
        raise ConfigError(f"seed must be >= 0, got {cfg.seed}")
    if not cfg.oversample >= 1.0:
        raise ConfigError(f"oversample must be >= 1 (1: keep every episode), got {cfg.oversample}")
    if cfg.cost_bins < 1 or cfg.return_bins < 1:
        raise ConfigError(f"cost_bins and return_bins must be >= 1, got {cfg.cost_bins}, {cfg.return_bins}")
    if cfg.max_steps is not None and cfg.max_steps < 1:
        raise ConfigError(f"max_steps must be >= 1, got {cfg.max_steps}")


def collect_episodes(spec: TaskSpec, episodes: int, seed: int, num_envs: int, max_steps: int | None,
                     begin: Begin, act: Act, progress: bool = True) -> list[Episode]:
    """Episodes ``0 .. episodes-1`` (episode i reset with ``seed + i``), in episode order."""
    ls = Lockstep(spec, episodes, seed, num_envs, max_steps)
    limit, n, od, ad = ls.limit, ls.n, spec.obs_dim, spec.act_dim
    # Per-slot buffers for the running episode; finished episodes are moved to `done`.
    buf_obs = np.zeros((n, limit + 1, od), np.float32)
    buf_act = np.zeros((n, limit, ad), np.float32)
    buf_rew = np.zeros((n, limit), np.float32)
    buf_cost = np.zeros((n, limit), np.float32)
    done: dict[int, Episode] = {}

    def started(pairs: list[tuple[int, int]]) -> None:
        for s, ep in pairs:
            begin(s, ep)
            buf_obs[s, 0] = ls.obs[s]

    started(ls.take_started())
    bar = progress_bar(progress, total=episodes, desc=f"generate {spec.name}", unit="ep")
    try:
        while not ls.done():
            slots = ls.active()
            t = ls.t[slots]
            acts = act(slots, t, ls.obs[slots])
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
            started(res.started)
    finally:
        bar.close()
        ls.close()
    return [done[i] for i in range(episodes)]


def keep_on_grid(episodes: list[Episode], keep: int, cost_bins: int, return_bins: int) -> list[Episode]:
    """``keep`` of ``episodes`` by `thin_on_grid` (all of them when ``keep`` is their number)."""
    if keep >= len(episodes):
        return episodes
    idx = thin_on_grid(np.array([e[3].sum() for e in episodes]), np.array([e[2].sum() for e in episodes]),
                       keep, cost_bins, return_bins)
    return [episodes[i] for i in idx]


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


def assemble(episodes: list[Episode], task: str) -> Dataset:
    """One dataset of ``episodes`` in the given order (a fall ends an episode with a terminal)."""
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
