"""Run the baselines on the velocity tasks (default split) and print one table.

Every (task, algorithm, seed) is an ordinary run directory written by
`safemil.train` under ``--out``; finished runs (eval.json present) are read
back, killed ones are resumed, so re-running the same command only does the
missing work. The table is built from the eval.json files alone.

    PYTHONPATH=src python scripts/baselines_table.py --out runs/baselines \
        --policy-steps 3000 --cost-steps 1000 --episodes 10 --jobs 1

Budgets are the same for every method: ``--policy-steps`` BC updates, and
``--cost-steps`` cost/classifier updates for the methods with a separate
cost phase (trex-wbc, safedice); dwbc-nu updates its discriminator alongside
every policy step, as the method does.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

ALGOS = ("bc-u", "bc-safe", "trex-wbc", "dwbc-nu", "safedice")
TASKS = ("SwimmerVelocity", "HopperVelocity", "HalfCheetahVelocity", "Walker2dVelocity", "AntVelocity")


def budget(algo: str, policy_steps: int, cost_steps: int) -> list[str]:
    if algo in ("bc-u", "bc-safe", "dwbc-nu"):
        return [f"steps={policy_steps}"]
    if algo == "trex-wbc":
        return [f"cost.steps={cost_steps}", f"policy_steps={policy_steps}"]
    if algo == "safedice":
        return [f"classifier_steps={cost_steps}", f"policy_steps={policy_steps}"]
    if algo == "safemil":
        return [f"mil.steps={cost_steps}", f"policy_steps={policy_steps}"]
    raise SystemExit(f"no budget rule for algorithm {algo!r}")


def run_one(algo: str, task: str, seed: int, out: str, overrides: list[str], dataset: str | None = None) -> dict:
    import torch

    from safemil import train as runner
    from safemil.runs import RunDir

    torch.set_num_threads(1)
    path = Path(out)
    if (path / RunDir.EVAL).exists():
        return json.loads((path / RunDir.EVAL).read_text())
    if (path / RunDir.CONFIG).exists():
        return runner.resume(path)
    cfg = runner.make_run_config(algo, task, dataset, seed, overrides)
    return runner.train(cfg, path)


def _fmt(xs: list[float]) -> str:
    xs = [x for x in xs if x is not None and not (isinstance(x, float) and math.isnan(x))]
    if not xs:
        return "-"
    return f"{np.mean(xs):.2f} ± {np.std(xs):.2f}" if len(xs) > 1 else f"{xs[0]:.2f}"


def table(results: list[dict]) -> str:
    rows = ["| task | algorithm | seeds | norm. return | norm. cost | CVaR20 cost | wall s/run (train) | method diagnostics |",
            "|---|---|---|---|---|---|---|---|"]
    keyed: dict[tuple[str, str], list[dict]] = {}
    for m in results:
        keyed.setdefault((m["task"], m["algo"]), []).append(m)
    for (task, algo), ms in sorted(keyed.items(), key=lambda kv: (TASKS.index(kv[0][0]) if kv[0][0] in TASKS else 99,
                                                                    ALGOS.index(kv[0][1]) if kv[0][1] in ALGOS else 99)):
        d = [m.get("diagnostics", {}) for m in ms]
        diag = ""
        if algo == "safedice":
            diag = f"alpha {_fmt([x.get('alpha') for x in d])}; clf acc {_fmt([x.get('clf_acc_heldout') for x in d])}"
        elif algo == "dwbc-nu":
            diag = f"disc acc (held-out N vs U) {_fmt([x.get('disc_acc_heldout') for x in d])}"
        elif algo in ("trex-wbc", "safemil"):
            diag = f"cost AUROC traj {_fmt([x.get('cost_auroc_traj') for x in d])}"
        walls = [m.get("train_wall_s", float("nan")) for m in ms]
        name = f"{algo} (oracle)" if algo == "bc-safe" else algo
        rows.append(f"| {task} | {name} | {len(ms)} | {_fmt([m['normalized_return'] for m in ms])} | "
                    f"{_fmt([m['normalized_cost'] for m in ms])} | {_fmt([m.get('cvar20_cost') for m in ms])} | "
                    f"{_fmt([m.get('wall_s_run') for m in ms])} ({_fmt(walls)}) | {diag} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs/baselines")
    ap.add_argument("--tasks", nargs="+", default=list(TASKS))
    ap.add_argument("--algos", nargs="+", default=list(ALGOS))
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--policy-steps", type=int, default=3000)
    ap.add_argument("--cost-steps", type=int, default=1000)
    ap.add_argument("--episodes", type=int, default=10)
    ap.add_argument("--num-envs", type=int, default=5)
    ap.add_argument("--jobs", type=int, default=1, help="runs in parallel (each uses one thread)")
    ap.add_argument("--dataset", help="one dataset for every task (default: each task's generated dataset)")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="extra run/algorithm overrides")
    ap.add_argument("--json", dest="json_out", help="also write all eval.json contents to this file")
    args = ap.parse_args(argv)

    from tqdm.auto import tqdm

    jobs = []
    for task in args.tasks:
        for algo in args.algos:
            for seed in args.seeds:
                ov = budget(algo, args.policy_steps, args.cost_steps) + [
                    "split.cost_limit=25", f"eval.episodes={args.episodes}", f"eval.num_envs={args.num_envs}",
                    "train.progress=false", "train.log_every=100", "train.checkpoint_every=1000", *args.set]
                jobs.append((algo, task, seed, str(Path(args.out) / task / algo / f"seed{seed}"), ov, args.dataset))
    results, failures = [], []
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futs = {pool.submit(run_one, *j): j for j in jobs}
        for fut in tqdm(as_completed(futs), total=len(futs), desc="runs"):
            algo, task, seed, out = futs[fut][:4]
            try:
                m = fut.result()
            except Exception as e:  # report and keep going: one broken run must not hide the others
                failures.append(f"{task} {algo} seed {seed}: {type(e).__name__}: {e}")
                continue
            m = {k: v for k, v in m.items() if not k.startswith("episode_")}
            m["wall_s_run"] = m.get("total_wall_s_this_session")
            m["task"], m["run_dir"] = task, out
            results.append(m)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(results, indent=1, default=str))
    print(table(results))
    for f in failures:
        print(f"FAILED {f}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
