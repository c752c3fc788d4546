"""How well a speed-conditioned actor follows its command: the table in each policy record."""

from __future__ import annotations

import numpy as np

from safemil.collect.actor import SpeedActor
from safemil.tasks import get_task

DEFAULT_RATIOS = (0.3, 0.5, 0.7, 0.9, 1.1, 1.3, 1.6)


def tracking_table(actor: SpeedActor, task: str, ratios=DEFAULT_RATIOS, episodes: int = 2,
                   steps: int = 1000, warmup: int = 100, seed: int = 0) -> list[dict]:
    """Per commanded ratio: mean measured speed after ``warmup`` steps, cost, return, length."""
    spec = get_task(task)
    _ = spec.cost_threshold  # velocity tasks only: any other kind raises a one-line TaskError here
    rows = []
    for k, ratio in enumerate(ratios):
        envs = [spec.make_env() for _ in range(episodes)]
        obs = np.stack([e.reset(seed=seed + 100 * k + i)[0] for e, i in zip(envs, range(episodes), strict=True)])
        alive = np.ones(episodes, bool)
        speeds: list[float] = []
        cost = np.zeros(episodes)
        ret = np.zeros(episodes)
        length = np.zeros(episodes, int)
        for t in range(steps):
            idx = np.flatnonzero(alive)
            if len(idx) == 0:
                break
            acts = actor.act(obs[idx], ratio)
            for j, i in enumerate(idx):
                o, r, term, trunc, info = envs[i].step(acts[j])
                obs[i] = o
                cost[i] += info["cost"]
                ret[i] += r
                length[i] += 1
                if t >= warmup:
                    speeds.append(info["velocity"])
                if term or trunc:
                    alive[i] = False
        for e in envs:
            e.close()
        rows.append({
            "command_ratio": float(ratio),
            "commanded_speed": float(ratio * spec.cost_threshold),
            "achieved_speed": float(np.mean(speeds)) if speeds else float("nan"),
            "achieved_ratio": float(np.mean(speeds) / spec.cost_threshold) if speeds else float("nan"),
            "cost": float(cost.mean()),
            "return": float(ret.mean()),
            "length": float(length.mean()),
        })
    return rows


def format_table(rows: list[dict]) -> str:
    """Markdown table of `tracking_table` rows."""
    out = ["| command (x thr) | commanded speed | achieved speed | achieved (x thr) | cost | return | length |",
           "|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['command_ratio']:.2f} | {r['commanded_speed']:.3f} | {r['achieved_speed']:.3f} | "
                   f"{r['achieved_ratio']:.2f} | {r['cost']:.0f} | {r['return']:.0f} | {r['length']:.0f} |")
    return "\n".join(out)
