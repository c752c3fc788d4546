"""How safe is the behaviour behind a navigation dataset's safe trajectories, on fresh layouts?

BC-Safe clones the trajectories that ended within the cost limit. On a navigation task an
episode's cost depends on its layout as much as on its controller: a hazard-blind setting can
end safe on a lucky layout. So the safe trajectories are selected on their outcome, and even a
perfect clone of the controllers that made them is expected to cost more than they did. This
script measures that ceiling: it rolls out the task's default generation plans (scripted: law,
gain, speed, noise per episode; learned agents: the snapshot and its action noise), keeps those
that ended safe, and reruns exactly their settings on other layouts, with their noise and
noise-free (how clones are evaluated).

    PYTHONPATH=src python benchmarks/nav_selection_bias.py --task PointGoal1 [--episodes 300]
        [--seed 0] [--layout-offset 100000] [--controller agents --agents-file F.npz]

Rollouts are not thinned on the (cost, return) grid the datasets are, so the safe share differs
from the dataset's; the settings drawn are the same. The last line is ``ratio=<rerun mean cost of
the safe settings (noise-free) / their mean cost in the first rollout>``.
"""

from __future__ import annotations

import safemil  # noqa: F401  # isort: skip  (first: it pins numpy's and torch's kernels, safemil.cpu_kernels)

import argparse
import sys
import time

import numpy as np
import torch

from safemil.collect.nav_agents import NavAgents, load_nav_agents
from safemil.collect.nav_generate import (
    NavGenerateConfig,
    agent_episode_plan,
    nav_default_config,
    nav_episode_plan,
    roll_agents,
    roll_plans,
)
from safemil.errors import SafemilError
from safemil.tasks import DEFAULT_COST_LIMIT, get_task


def rollout_costs(task: str, plans: list, cfg: NavGenerateConfig, agents: NavAgents | None, seed: int,
                  num_envs: int) -> tuple[np.ndarray, np.ndarray]:
    """Episode cost and return of each plan (scripted: risk, speed, noise; agents: snapshot, noise),
    episode i on layout ``seed + i``."""
    spec = get_task(task)
    if agents is not None:
        episodes = roll_agents(spec, agents, lambda episode, limit: plans[episode], len(plans), seed, num_envs,
                               progress=False)
    else:
        episodes = roll_plans(spec, cfg.controller, lambda episode, limit: plans[episode], len(plans), seed, num_envs,
                              progress=False)
    return (np.array([float(e[3].sum()) for e in episodes]), np.array([float(e[2].sum()) for e in episodes]))


def quiet(plan: tuple) -> tuple:
    """The same plan without its action noise (the last element)."""
    return (*plan[:-1], np.zeros_like(plan[-1]))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", default="PointGoal1")
    p.add_argument("--episodes", type=int, default=300, help="first rollouts (default settings, seed --seed)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--layout-offset", type=int, default=100_000, help="reruns use layouts seed + offset + i")
    p.add_argument("--num-envs", type=int, default=16)
    p.add_argument("--controller", default=None, help="behaviour (default: the task's default dataset's)")
    p.add_argument("--agents-file", default=None, help="controller agents: a NavAgents file (default: the shipped one)")
    a = p.parse_args()
    torch.set_num_threads(1)
    cfg = nav_default_config(a.task, seed=a.seed, controller=a.controller, agents_file=a.agents_file)
    cfg.validate()
    spec = get_task(a.task)
    t0 = time.perf_counter()
    limit = spec.max_episode_steps
    agents = load_nav_agents(spec.name, cfg.agents_file or None) if cfg.controller == "agents" else None
    plans = [agent_episode_plan(cfg, agents, i, limit) if agents is not None else nav_episode_plan(cfg, i, limit)
             for i in range(a.episodes)]
    cost, ret = rollout_costs(a.task, plans, cfg, agents, a.seed, a.num_envs)
    safe = np.flatnonzero(cost <= DEFAULT_COST_LIMIT)
    if len(safe) == 0:
        raise SafemilError("no episode ended within the cost limit: nothing to rerun")
    chosen = [plans[i] for i in safe]
    rerun, rerun_ret = rollout_costs(a.task, chosen, cfg, agents, a.seed + a.layout_offset, a.num_envs)
    rerun0, rerun0_ret = rollout_costs(a.task, [quiet(c) for c in chosen], cfg, agents, a.seed + a.layout_offset,
                                       a.num_envs)
    lim = DEFAULT_COST_LIMIT
    print(f"{a.task}, law {cfg.controller}, {a.episodes} rollouts, {time.perf_counter() - t0:.0f} s")
    print(f"safe (cost <= {lim:g}): {len(safe)} ({len(safe) / a.episodes:.1%}); "
          f"their mean cost {cost[safe].mean():.2f} (normalized {cost[safe].mean() / lim:.2f}), return {ret[safe].mean():.2f}")
    for name, c, r in (("with their noise", rerun, rerun_ret), ("noise-free", rerun0, rerun0_ret)):
        print(f"rerun on other layouts, {name}: mean cost {c.mean():.2f} (normalized {c.mean() / lim:.2f}), "
              f"safe {np.mean(c <= lim):.1%}, >= 75 {np.mean(c >= 75):.1%}, return {r.mean():.2f}")
    print(f"ratio={rerun0.mean() / max(cost[safe].mean(), 1e-9):.4f}")


if __name__ == "__main__":
    try:
        main()
    except SafemilError as e:
        sys.exit(f"error: {e}")
