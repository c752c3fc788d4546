"""Agreement of each task's shipped knowledge rule with the dataset's true per-step cost.

For every velocity task: the shipped static expression (margin 0) is applied to
``next_observations`` and compared with ``costs > 0`` step by step. The data is
what ``resolve_dataset(task)`` finds; when a task has no dataset yet, a small
stand-in is collected here (``--standin`` forces it): episodes whose start
state gets a forward kick around the threshold speed, then an open-loop periodic
gait, so the velocity crosses the threshold in both directions. The stand-in
also keeps the env's finite-difference velocity, to show where the residual
comes from: the true cost uses the position change over the control step, the
observation holds the instantaneous velocity at the end of it. Two diagnostic
columns support that reading on any data: the same rule on the start-of-step
observation (``agree(obs_t)``), and on the mean of the start- and end-of-step
velocities (``agree(mid)``, a better estimate of the average over the step; not
something a state-only cost can use).

Navigation tasks (PointGoal1, PointButton1, PointCircle2) are measured on their
dataset the same way; the stand-in and the velocity diagnostics are
velocity-specific, so a navigation task without a dataset is skipped with one
line, and its ``agree(mid)`` column reads n/a.

Usage::

    PYTHONPATH=src python benchmarks/knowledge_agreement.py [--tasks A B] [--standin] [--episodes 200] [--steps 50]

Last line: ``ratio=<lowest agreement over the tasks>``.
"""

from __future__ import annotations

import safemil  # noqa: F401  # isort: skip  (first: it pins numpy's and torch's kernels, safemil.cpu_kernels)

import argparse
import math

import numpy as np

from safemil.costs.knowledge import KnowledgeCost, check_cost, default_rule
from safemil.data import Dataset, read_dsrl, resolve_dataset
from safemil.errors import DatasetError
from safemil.tasks import TaskSpec, get_task, list_tasks


def standin(spec: TaskSpec, episodes: int, steps: int, seed: int) -> tuple[Dataset, np.ndarray]:
    """Kicked starts + periodic gait; returns the dataset and the true (finite-difference) speeds."""
    rng = np.random.default_rng(seed)
    env = spec.make_env()
    lo, hi = env.action_space.low, env.action_space.high
    cols: dict[str, list] = {k: [] for k in ("o", "o2", "a", "r", "c", "term", "tout", "v")}
    thr = spec.cost_threshold
    for ep in range(episodes):
        env.reset(seed=seed + ep)
        u = env.unwrapped
        qpos, qvel = u.data.qpos.copy(), u.data.qvel.copy()
        speed = rng.uniform(0.3, 1.8) * thr
        if spec.planar_speed:
            ang = rng.uniform(-math.pi, math.pi)
            qvel[0], qvel[1] = speed * math.cos(ang), speed * math.sin(ang)
        else:
            qvel[0] = speed
        u.set_state(qpos, qvel)
        obs = u._get_obs()
        amp, period = rng.uniform(0.3, 1.0), rng.uniform(8, 40)
        phase = rng.uniform(0, 2 * math.pi, spec.act_dim)
        for t in range(steps):
            a = np.clip(amp * hi * np.sin(2 * math.pi * t / period + phase), lo, hi).astype(np.float32)
            o2, r, term, trunc, info = env.step(a)
            last = term or trunc or t == steps - 1
            for k, v in zip(cols, (obs, o2, a, r, info["cost"], term, last and not term, info["velocity"]), strict=True):
                cols[k].append(v)
            obs = o2
            if term or trunc:
                break
    env.close()
    f32 = lambda k: np.asarray(cols[k], dtype=np.float32)  # noqa: E731
    ds = Dataset(
        observations=f32("o"), next_observations=f32("o2"), actions=f32("a"), rewards=f32("r"),
        costs=f32("c"), terminals=np.asarray(cols["term"], bool), timeouts=np.asarray(cols["tout"], bool),
        task=spec.name,
    )
    return ds, np.asarray(cols["v"])


def obs_speed(spec: TaskSpec, obs: np.ndarray) -> np.ndarray:
    idx = [spec.field(n).index for n in spec.velocity_fields]
    v = obs[:, idx].astype(np.float64)
    return np.sqrt((v**2).sum(1)) if spec.planar_speed else v[:, 0]


def velocity_residual(spec: TaskSpec, ds: Dataset, true_v: np.ndarray | None) -> tuple[float, str]:
    """The rule's agreement on the mid-step velocity, and where its wrong steps sit."""
    v_obs = obs_speed(spec, ds.next_observations)
    # diagnostic only: the mean of the start- and end-of-step velocities approximates the
    # position change over the step better than the end-of-step velocity alone
    v_mid = obs_speed(spec, 0.5 * (ds.observations + ds.next_observations))
    agree_mid = float(((v_mid > spec.cost_threshold) == (ds.costs > 0)).mean())
    wrong = (v_obs > spec.cost_threshold) != (ds.costs > 0)
    near = np.abs(v_obs[wrong] - spec.cost_threshold) / spec.cost_threshold
    resid = f"{wrong.sum()} wrong, median |v_obs-thr|/thr {np.median(near):.3f}" if wrong.any() else "none"
    if true_v is not None:
        resid += f"; mean |v_obs - v_step| {np.abs(v_obs - true_v).mean():.3f} m/s"
    return agree_mid, resid


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tasks", nargs="*", default=[t.name for t in list_tasks("all")])
    ap.add_argument("--standin", action="store_true", help="use the stand-in even when a dataset exists")
    ap.add_argument("--episodes", type=int, default=200)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    worst = math.nan  # stays nan when every task is skipped: nothing was measured
    print(f"{'task':<20} {'source':<44} {'steps':>7} {'viol.':>6} {'flag':>6} {'agree':>7} "
          f"{'prec':>6} {'recall':>6} {'agree(obs_t)':>12} {'agree(mid)':>10}  residual")
    for name in args.tasks:
        spec = get_task(name)
        cost = KnowledgeCost(spec.name, default_rule(spec.name).expression)
        true_v = None
        source = None
        velocity = spec.kind == "velocity"
        if not args.standin or not velocity:
            try:
                path = resolve_dataset(spec.name)
                ds, source = read_dsrl(path, task=spec.name), str(path)
            except DatasetError:
                pass
        if source is None and not velocity:
            why = "--standin is for velocity tasks" if args.standin else "no dataset found"
            print(f"{spec.name:<20} skipped: {why} (generate it with `safemil data generate --task {spec.name}`)")
            continue
        if source is None:
            ds, true_v = standin(spec, args.episodes, args.steps, args.seed)
            source = f"stand-in ({args.episodes} kicked episodes + gait)"
        rep = check_cost(cost, ds)
        rep_t = check_cost(cost, ds, states="observations")
        agree = rep.agreement if rep.agreement is not None else float(rep.flagged == 0)
        worst = agree if math.isnan(worst) else min(worst, agree)
        fmt = lambda x: "n/a" if x is None else f"{x:.4f}"  # noqa: E731
        if velocity:
            mid, resid = velocity_residual(spec, ds, true_v)
        else:  # the velocity diagnostics have no navigation counterpart
            mid, resid = None, f"{round((1 - agree) * rep.n_states)} wrong"
        print(f"{spec.name:<20} {source[-44:]:<44} {rep.n_states:>7} {ds.costs.mean():>6.3f} "
              f"{rep.flagged_fraction:>6.3f} {agree:>7.4f} {fmt(rep.precision):>6} {fmt(rep.recall):>6} "
              f"{fmt(rep_t.agreement):>12} {fmt(mid):>10}  {resid}", flush=True)
    print(f"ratio={worst:.4f}")


if __name__ == "__main__":
    main()
