"""Does a generated dataset have the target shape? And the docs page that shows it.

Target (cost limit 25): >= 500 trajectories; >= 25% with cost <= 25 whose mean
return is clearly above a random policy's; >= 30% with cost >= 75; costs reaching
>= 250; unsafe trajectories earn more return on average than safe ones. And the
part of DSRL's frontier a method's comparison depends on: >= 10% of trajectories
with 0 < cost <= 25 (fast runs just under the limit), safe trajectories' mean
normalized return >= 0.5 and their 90th percentile >= 0.8x what the behaviour
policy earns when commanded to run at the cost threshold.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from safemil.collect.generate import GenerateConfig, find_dataset, generate_dataset
from safemil.data import Dataset, read_dsrl
from safemil.data.info import dataset_info, frontier, plot_dataset
from safemil.eval import RandomPolicy
from safemil.eval.evaluator import rollout
from safemil.eval.metrics import normalized_return
from safemil.tasks import DEFAULT_COST_LIMIT, get_task


def random_policy_return(task: str, episodes: int = 10, seed: int = 0) -> float:
    """Mean return of uniform random actions: the floor 'clearly above' is measured against."""
    spec = get_task(task)
    env = spec.make_env()
    pol = RandomPolicy(env.action_space.low, env.action_space.high, seed=seed)
    env.close()
    return float(rollout(pol, spec.name, episodes=episodes, seed=seed, progress=False).returns.mean())


def threshold_policy(task: str, episodes: int = 10) -> dict[str, float]:
    """The behaviour policy commanded at exactly the cost threshold's speed, noise-free, for
    ``episodes`` episodes: its mean normalized return and episode cost. What a fast run just
    under the limit earns, the reference for the safe part of a dataset."""
    cfg = GenerateConfig(episodes=episodes, num_envs=min(episodes, 10), center_low=1.0, center_high=1.0,
                         oversample=1.0, spread=0.0, noise_low=0.0, noise_high=0.0)
    ds = generate_dataset(task, cfg, progress=False)
    return {"normalized_return": float(np.mean(normalized_return(ds.trajectory_returns(), ds.task))),
            "cost": float(ds.trajectory_costs().mean())}


def target_shape(ds: Dataset, random_return: float, cost_limit: float = DEFAULT_COST_LIMIT,
                 threshold: dict[str, float] | None = None) -> dict:
    """Each target criterion: the measured value and whether it passes. ``threshold``
    (`threshold_policy`) adds the criteria on how close the safe part comes to the limit."""
    ret, cost = ds.trajectory_returns(), ds.trajectory_costs()
    safe, unsafe = cost <= cost_limit, cost > cost_limit
    safe_ret = float(ret[safe].mean()) if safe.any() else float("nan")
    unsafe_ret = float(ret[unsafe].mean()) if unsafe.any() else float("nan")
    # "clearly above random": at least 0.05 higher in DSRL-normalised return (5% of the
    # task's reference return range), e.g. 12 on Swimmer, 140 on HalfCheetah.
    ref = get_task(ds.task).reference if ds.task else None
    margin = 0.05 * (ref.max_episode_reward - ref.min_episode_reward) if ref else 0.05 * float(np.ptp(ret))
    checks = {
        "n_trajectories >= 500": (int(len(ret)), len(ret) >= 500),
        "share cost <= 25 >= 25%": (float(safe.mean()), safe.mean() >= 0.25),
        "safe mean return clearly above random": (
            {"safe": safe_ret, "random": random_return}, bool(safe.any() and safe_ret > random_return + margin)),
        "share cost >= 75 >= 30%": (float((cost >= 3 * cost_limit).mean()), (cost >= 3 * cost_limit).mean() >= 0.30),
        "max cost >= 250": (float(cost.max()), cost.max() >= 250),
        "unsafe mean return > safe": ({"unsafe": unsafe_ret, "safe": safe_ret},
                                      bool(safe.any() and unsafe.any() and unsafe_ret > safe_ret)),
    }
    near = frontier(ds, cost_limit)
    checks["share 0 < cost <= 25 >= 10%"] = (near["frac_just_under_limit"], near["frac_just_under_limit"] >= 0.10)
    if "safe_norm_return_mean" in near:
        checks["safe mean normalized return >= 0.5"] = (
            {"safe": near["safe_norm_return_mean"]}, near["safe_norm_return_mean"] >= 0.5)
        if threshold is not None:
            p90 = near["safe_norm_return_p90"]
            checks["safe p90 normalized return >= 0.8x threshold policy"] = (
                {"safe p90": p90, "threshold policy": threshold["normalized_return"]},
                p90 >= 0.8 * threshold["normalized_return"])
    return {k: {"value": v, "pass": bool(p)} for k, (v, p) in checks.items()}


def _fmt(v) -> str:
    if isinstance(v, dict):
        return ", ".join(f"{k} {x:.3f}" if abs(x) < 10 else f"{k} {x:.1f}" for k, x in v.items())
    if isinstance(v, float):
        return f"{v:.1%}" if v <= 1.0 else f"{v:.1f}"
    return str(v)


def write_datasets_doc(tasks: list[str], doc: str | Path, img_dir: str | Path, command: str) -> dict:
    """Write the datasets page: per task the `data info` table, the target check and a plot."""
    doc, img_dir = Path(doc), Path(img_dir)
    lines = [
        "# Generated datasets",
        "",
        "Each velocity task has a default dataset generated by its shipped speed-conditioned",
        "behaviour policy (`safemil data generate --task T`, written to the cache folder",
        "`$SAFEMIL_DATA_DIR` or the user cache dir; other commands find it by task name).",
        "Beside it, `<file>.generation.json` records the config and the behaviour policy's sha256;",
        "a cached default dataset made under another config or policy is still used, with a warning",
        "that names the difference. Each default dataset's sha256 is recorded in the package, and",
        "`safemil data generate` checks a new file against it (`docs/reproducibility.md`).",
        "The default datasets are made with `safemil data generate --task T` (seed 0;",
        "deterministic). Each task's behaviour policy and how it was trained:",
        "`src/safemil/collect/policies/<task>.md`. Most are one network that reads the command;",
        "Swimmer's and Ant's switch between networks by command (Ant's are snapshots of one SAC",
        "run on the task reward: earlier snapshots run slower). Each episode's commands scatter",
        "around a centre drawn from one continuous range (`TASK_DEFAULTS` in",
        "`safemil/collect/generate.py`). Like DSRL's data, twice the episodes are rolled out and",
        "thinned on a 20 x 20 grid over (log(1 + episode cost), episode return) to 500: every cell",
        "keeps at most the same number, so the rare fast runs just under a cost limit are kept",
        "and the crowded slow or flat-out regions thinned. Everything below is produced by:",
        "",
        "```",
        command,
        "```",
        "",
    ]
    out = {}
    for task in tasks:
        name = get_task(task).name
        path = find_dataset(name)
        ds = read_dsrl(path, task=name)
        info = dataset_info(ds)
        rnd = random_policy_return(name)
        thr = threshold_policy(name)
        shape = target_shape(ds, rnd, threshold=thr)
        png = plot_dataset(ds, img_dir / f"dataset_{name}.png")
        out[name] = {"info": info, "random_return": rnd, "threshold_policy": thr, "target": shape}
        lines += [f"## {name}", "", f"Behaviour policy: `src/safemil/collect/policies/{name}.md`. "
                  f"`safemil data info {name}`:", ""]
        lines += [f"{info['n_trajectories']} trajectories, {info['n_transitions']} transitions, length "
                  f"{info['length']['min']}-{info['length']['max']} (mean {info['length']['mean']:.0f}), "
                  f"{info['n_terminals']} ended by a fall.", ""]
        qs = [k for k in info["return"] if k != "mean"]
        lines.append("| | mean | " + " | ".join(qs) + " |")
        lines.append("|---" * (len(qs) + 2) + "|")
        for key in ("return", "cost"):
            lines.append(f"| {key} | " + " | ".join(f"{info[key][k]:.1f}" for k in ["mean", *qs]) + " |")
        lines += ["", "| limit | cost <= limit | cost >= limit |", "|---|---|---|"]
        for k in info["frac_cost_le"]:
            lines.append(f"| {k} | {info['frac_cost_le'][k]:.1%} | {info['frac_cost_ge'][k]:.1%} |")
        lines += ["", f"Target shape (the threshold policy: the behaviour policy commanded at the threshold "
                  f"speed, noise-free, normalized return {thr['normalized_return']:.3f} at episode cost "
                  f"{thr['cost']:.0f}):", "", "| criterion | measured | pass |", "|---|---|---|"]
        for k, v in shape.items():
            lines.append(f"| {k} | {_fmt(v['value'])} | {'yes' if v['pass'] else '**no**'} |")
        rel = Path(png).resolve().relative_to(doc.resolve().parent) if _is_under(png, doc.parent) else png
        lines += ["", f"![{name} return vs cost]({rel})", ""]
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text("\n".join(lines))
    (img_dir / "datasets.json").write_text(json.dumps(out, indent=2, default=float))
    return out


def _is_under(p: str | Path, root: str | Path) -> bool:
    try:
        Path(p).resolve().relative_to(Path(root).resolve())
        return True
    except ValueError:
        return False
