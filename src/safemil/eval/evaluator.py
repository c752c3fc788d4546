"""Roll a policy out on a task, many environments stepped in lock-step with one batched policy call.

We step a list of plain envs ourselves rather than use gymnasium's vector envs:
gymnasium 1.x autoresets a finished sub-env on the *next* step, a step that
must never be counted, and it draws reset seeds we do not control. Here each
episode ``i`` is reset with seed ``seed + i`` and recorded the moment it ends,
so no phantom step exists to leak into a return, cost or length, and which
episodes run with which seeds does not depend on how many envs run at once.
The numbers can: a torch network's output rows may round differently in a
batch of another size, and chaotic tasks grow that into other returns, so
results are compared at equal ``num_envs`` (docs/reproducibility.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from safemil.console import progress_bar
from safemil.data.dataset import Dataset
from safemil.errors import ConfigError
from safemil.eval.lockstep import Lockstep
from safemil.eval.metrics import immobile_episodes, summarize_episodes
from safemil.eval.policies import Policy
from safemil.tasks import DEFAULT_COST_LIMIT, get_task


@dataclass(frozen=True)
class EpisodeResults:
    returns: np.ndarray
    costs: np.ndarray
    lengths: np.ndarray
    seeds: np.ndarray
    mean_speeds: np.ndarray  # per episode, the mean of the velocity the cost reads (nan on navigation tasks)
    dataset: Dataset | None = None  # the transitions, when rollout(record=True)


def rollout(
    policy: Policy,
    task: str,
    episodes: int = 10,
    seed: int = 0,
    num_envs: int = 8,
    deterministic: bool = True,
    progress: bool = True,
    max_steps: int | None = None,
    record: bool = False,
) -> EpisodeResults:
    """Run ``episodes`` full episodes; per-episode return, cost (sum of ``info['cost']``), length.

    With ``record=True`` the transitions are also returned as a DSRL-style `Dataset`
    (episodes in order; ``timeouts`` marks an episode cut by the step limit).
    """
    spec = get_task(task)
    if hasattr(policy, "reseed"):  # sampled actions then depend on the rollout's seed, not on earlier use
        policy.reseed(seed)
    ls = Lockstep(spec, episodes, seed, num_envs, max_steps)
    returns = np.zeros(episodes)
    costs = np.zeros(episodes)
    lengths = np.zeros(episodes, dtype=np.int64)
    speed_sums = np.zeros(episodes)
    buffers: list[list[tuple]] = [[] for _ in range(episodes)]
    bar = progress_bar(progress, total=episodes, desc=f"eval {spec.name}", unit="ep", leave=False)
    try:
        while not ls.done():
            active = ls.active()
            obs = ls.obs[active].copy()
            actions = np.asarray(policy.act(obs, deterministic=deterministic))
            res = ls.step(active, actions)
            returns[res.episodes] += res.rewards
            costs[res.episodes] += res.costs
            lengths[res.episodes] += 1
            speed_sums[res.episodes] += res.velocity
            if record:
                for j, ep in enumerate(res.episodes):
                    buffers[ep].append((obs[j], res.next_obs[j], actions[j], res.rewards[j], res.costs[j],
                                        res.terminated[j], res.timeout[j]))
            bar.update(int((res.terminated | res.timeout).sum()))
    finally:
        bar.close()
        ls.close()
    dataset = _to_dataset(buffers, spec.name) if record else None
    return EpisodeResults(returns, costs, lengths, seed + np.arange(episodes), speed_sums / lengths, dataset)


def _to_dataset(buffers: list[list[tuple]], task: str) -> Dataset:
    rows = [t for ep in buffers for t in ep]
    cols = list(zip(*rows, strict=True))
    f32 = lambda x: np.asarray(x, dtype=np.float32)  # noqa: E731
    return Dataset(
        observations=f32(cols[0]),
        next_observations=f32(cols[1]),
        actions=f32(cols[2]),
        rewards=f32(cols[3]),
        costs=f32(cols[4]),
        terminals=np.asarray(cols[5], dtype=bool),
        timeouts=np.asarray(cols[6], dtype=bool),
        task=task,
    )


def evaluate(
    policy: Policy,
    task: str,
    episodes: int = 10,
    seed: int = 0,
    cost_limit: float = DEFAULT_COST_LIMIT,
    num_envs: int = 8,
    deterministic: bool = True,
    progress: bool = True,
) -> dict:
    """Roll out and summarise: normalised return/cost, CVaR@{10,20,50}%, 95% bootstrap CIs; on a velocity
    task also each episode's mean speed and how many episodes barely moved (`immobile_episodes`)."""
    if not cost_limit >= 0:  # a negative (or nan) limit makes every normalised cost meaningless
        raise ConfigError(f"cost_limit must be >= 0, got {cost_limit}")
    res = rollout(policy, task, episodes, seed, num_envs, deterministic, progress)
    out = summarize_episodes(res.returns, res.costs, res.lengths, task, cost_limit, seed=seed)
    out["episode_returns"] = res.returns.tolist()
    out["episode_costs"] = res.costs.tolist()
    out["episode_lengths"] = res.lengths.tolist()
    spec = get_task(task)
    if spec.kind == "velocity":
        out["immobile_episodes"] = int(immobile_episodes(res.mean_speeds, spec.cost_threshold).sum())
        out["episode_mean_speeds"] = res.mean_speeds.tolist()
    return out
