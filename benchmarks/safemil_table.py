"""SafeMIL vs BC-U vs the BC-Safe oracle: per task, several seeds, one markdown table.

Every cell is a normal run directory (reused when finished, resumed when
interrupted), so the grid can be stopped and restarted. Variants of an
algorithm are written ``name:key=value,key=value`` (e.g.
``safemil:schedule=alternate`` or ``safemil:mil.bag_size=1``).

    PYTHONPATH=src python benchmarks/safemil_table.py --tasks SwimmerVelocity --seeds 0 1 2

Last line: ``ratio=<SafeMIL normalized return / BC-Safe normalized return>``
(mean over tasks, both measured in this run; the done-criterion asks >= 0.9).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from safemil.runs import RunDir  # noqa: E402
from safemil.train import load_run_config, make_run_config, resume, train  # noqa: E402

# the same number of policy updates for every method
BUDGET = {
    "bc-u": ["steps={policy_steps}"],
    "bc-safe": ["steps={policy_steps}"],
    "safemil": ["mil.steps={cost_steps}", "policy_steps={policy_steps}"],
}


def parse_variant(text: str) -> tuple[str, str, list[str]]:
    name, _, rest = text.partition(":")
    return text, name, [kv for kv in rest.split(",") if kv]


def run_cell(task, label, algo, extra, seed, args) -> dict:
    budget = [b.format(policy_steps=args.policy_steps, cost_steps=args.cost_steps) for b in BUDGET.get(algo, [])]
    overrides = [*budget, *args.set, *extra, f"eval.episodes={args.episodes}", "train.progress=false"]
    cfg = make_run_config(algo, task, args.dataset, seed, overrides)
    run_dir = Path(args.out) / task / label.replace(":", "_").replace(",", "_").replace("=", "") / f"seed{seed}"
    t0 = time.perf_counter()
    if (run_dir / RunDir.CONFIG).exists():
        rd, saved = load_run_config(run_dir)
        if saved != cfg:
            raise SystemExit(f"{run_dir} holds a different config; remove it or use another --out")
        if rd.read_eval() is None:
            resume(run_dir)
    else:
        train(cfg, run_dir)
    m = RunDir(run_dir).read_eval()
    print(f"  {task} {label} seed {seed}: norm. return {m['normalized_return']:.3f}, "
          f"norm. cost {m['normalized_cost']:.2f}, train {m['train_wall_s']:.0f}s "
          f"(this call {time.perf_counter() - t0:.0f}s)", flush=True)
    return m


def fmt(values) -> str:
    v = np.asarray([x for x in values if x is not None and not np.isnan(x)], dtype=float)
    if len(v) == 0:
        return "n/a"
    return f"{v.mean():.3f} ± {v.std():.3f}" if len(v) > 1 else f"{v.mean():.3f}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tasks", nargs="+", default=["SwimmerVelocity"])
    p.add_argument("--algos", nargs="+", default=["bc-u", "bc-safe", "safemil"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--policy-steps", type=int, default=10_000)
    p.add_argument("--cost-steps", type=int, default=2_000)
    p.add_argument("--episodes", type=int, default=20)
    p.add_argument("--dataset", default=None, help="Default: each task's generated dataset.")
    p.add_argument("--out", default="runs/bench")
    p.add_argument("--json", default=None, help="Also write all cells here.")
    p.add_argument("--set", nargs="*", default=[], help="Overrides for every cell (e.g. split.n_negative=20).")
    args = p.parse_args()

    cells: dict[tuple[str, str], list[dict]] = {}
    for task in args.tasks:
        for variant in args.algos:
            label, algo, extra = parse_variant(variant)
            for seed in args.seeds:
                cells.setdefault((task, label), []).append(run_cell(task, label, algo, extra, seed, args))

    print()
    print(f"policy steps {args.policy_steps}, cost steps {args.cost_steps}, seeds {args.seeds}, "
          f"{args.episodes} eval episodes, cost limit {next(iter(cells.values()))[0]['cost_limit']:g}")
    print()
    print("| task | algo | norm. return | norm. cost | CVaR@20% (norm.) | AUROC step | AUROC traj | train wall s |")
    print("|---|---|---|---|---|---|---|---|")
    for (task, label), ms in cells.items():
        d = [m.get("diagnostics", {}) for m in ms]
        print(f"| {task} | {label} | {fmt(m['normalized_return'] for m in ms)} | "
              f"{fmt(m['normalized_cost'] for m in ms)} | {fmt(m['cvar20_cost'] for m in ms)} | "
              f"{fmt(x.get('cost_auroc_step') for x in d)} | {fmt(x.get('cost_auroc_traj') for x in d)} | "
              f"{fmt(m['train_wall_s'] for m in ms)} |")
    if args.json:
        Path(args.json).write_text(json.dumps({f"{t}|{a}": ms for (t, a), ms in cells.items()}, indent=1))

    ratios = []
    for task in args.tasks:
        mil = next((ms for (t, a), ms in cells.items() if t == task and a.split(":")[0] == "safemil"), None)
        safe = cells.get((task, "bc-safe"))
        if mil and safe:
            r = np.mean([m["normalized_return"] for m in mil]) / np.mean([m["normalized_return"] for m in safe])
            c = np.mean([m["normalized_cost"] for m in mil])
            a = np.mean([m["diagnostics"]["cost_auroc_step"] for m in mil])
            ok = r >= 0.9 and c <= 1.0 and a >= 0.95
            print(f"{task}: SafeMIL/BC-Safe return {r:.3f}, SafeMIL norm. cost {c:.2f}, AUROC {a:.3f} -> "
                  f"{'meets' if ok else 'MISSES'} the done-criteria")
            ratios.append(r)
    print(f"ratio={np.mean(ratios):.4f}" if ratios else "ratio=nan")


if __name__ == "__main__":
    main()
