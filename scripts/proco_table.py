"""Base vs base + PROCO from a `safemil bench` directory: the issue-8 done criteria, per task and base.

For each task and base (bc-safe, bcq-lag) with its +proco variant: mean over
seeds of normalized return, normalized cost and CVaR@20% cost, and whether
+proco (a) has lower normalized cost (and, a separate column, lower CVaR@20%) than the base, (b) normalized cost <= 1,
(c) normalized return >= 0.9 x the base's, and its return as a multiple of
bc-safe's on the same data (the return that imitating the safe data alone
earns: the yardstick when the base is far over the limit, since on velocity
tasks return grows with speed). A second table shows whether the
BCQ-Lag constraint acted: lambda (final and peak), the policy's cost value
against the Q-space limit, the share of its converged scale the critic could
reach, and the costly rows (real and synthetic) its critic trained on. Every
number is read from the runs' eval.json files.

A third table lists every seed (normalized return / cost), and how often a
deployed safety filter (`layer.shield`) replaced the policy's action.
``--seeds 5,6,7`` restricts all three to those seeds (e.g. seeds held out
from the ones a setting was chosen on).

    PYTHONPATH=src python scripts/proco_table.py runs/proco-grid [--seeds 5,6,7] [--markdown docs/proco-table.md]
"""

from __future__ import annotations

import safemil  # noqa: F401  # isort: skip  (first: it pins numpy's and torch's kernels, safemil.cpu_kernels)

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from safemil.bench.report import collect

PAIRS = (("bc-safe", "bc-safe+proco"), ("bcq-lag", "bcq-lag+proco"))


def _records(root: str, seeds: set[int] | None) -> list:
    return [r for r in collect(root) if seeds is None or r.seed in seeds]


def table(root: str, seeds: set[int] | None = None) -> str:
    recs = _records(root, seeds)
    by: dict[tuple[str, str], list] = defaultdict(list)
    for r in recs:
        by[(r.task, r.algo)].append(r)

    def m(task, algo, key):
        xs = [getattr(r, key) for r in by.get((task, algo), [])]
        return float(np.mean(xs)) if xs else float("nan"), len(xs)

    lines = ["| task | algorithm | seeds | norm. return | norm. cost | CVaR@20% cost | lower cost than base | "
             "lower CVaR than base | cost <= 1 | return >= 0.9 x base | return / bc-safe's |",
             "|---|---|---:|---:|---:|---:|---|---|---|---|---:|"]
    for task in sorted({r.task for r in recs}):
        safe_ret, n_safe = m(task, "bc-safe", "normalized_return")
        for base, plus in PAIRS:
            br, n_b = m(task, base, "normalized_return")
            if not n_b:
                continue
            bc, _ = m(task, base, "normalized_cost")
            bv, _ = m(task, base, "cvar20_cost")
            lines.append(f"| {task} | {base} | {n_b} | {br:.3f} | {bc:.2f} | {bv:.2f} | | | {'yes' if bc <= 1 else 'no'} | | |")
            pr, n_p = m(task, plus, "normalized_return")
            if not n_p:
                continue
            pc, _ = m(task, plus, "normalized_cost")
            pv, _ = m(task, plus, "cvar20_cost")
            yn = lambda b: "yes" if b else "no"  # noqa: E731
            lines.append(f"| {task} | {plus} | {n_p} | {pr:.3f} | {pc:.2f} | {pv:.2f} | {yn(pc < bc)} | {yn(pv < bv)} | "
                         f"{yn(pc <= 1)} | {yn(pr >= 0.9 * br)} | {f'{pr / safe_ret:.2f}' if n_safe else ''} |")
        for algo in ("proco",):
            r_, n_ = m(task, algo, "normalized_return")
            if n_:
                c_, _ = m(task, algo, "normalized_cost")
                v_, _ = m(task, algo, "cvar20_cost")
                lines.append(f"| {task} | {algo} | {n_} | {r_:.3f} | {c_:.2f} | {v_:.2f} | | | {'yes' if c_ <= 1 else 'no'} | | |")
    return "\n".join(lines) + "\n"


CONSTRAINT = (("shield_replaced_frac", "{:.3f}"), ("lambda_final", "{:.3f}"), ("lambda_peak", "{:.3f}"), ("qc_pi_final", "{:.2f}"), ("qc_data_final", "{:.2f}"),
              ("q_limit", "{:.2f}"), ("critic_scale_reached", "{:.2f}"), ("critic_unsafe_rows", "{:.0f}"))
SYNTHETIC = (("synthetic_transitions", "{:.0f}"), ("synthetic_unsafe", "{:.0f}"))


def _diagnostics(run_dir: str) -> dict:
    d = json.loads((Path(run_dir) / "eval.json").read_text())["diagnostics"]
    return {**d, **d.get("proco", {}), "shield_replaced_frac": d.get("shield", {}).get("replaced_frac")}


def constraint_table(root: str, seeds: set[int] | None = None) -> str:
    """Means over seeds of the BCQ-Lag diagnostics in ``eval.json`` (blank where a run does not report one)."""
    runs: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in _records(root, seeds):
        if r.algo.startswith("bcq-lag"):
            runs[(r.task, r.algo)].append(_diagnostics(r.run_dir))
    head = [k for k, _ in CONSTRAINT + SYNTHETIC]
    lines = ["| task | algorithm | seeds | " + " | ".join(head) + " |", "|---|---|" + "---:|" * (len(head) + 1)]
    for (task, algo), ds in sorted(runs.items()):
        cells = []
        for key, fmt in CONSTRAINT + SYNTHETIC:
            xs = [float(d[key]) for d in ds if d.get(key) is not None]
            cells.append(fmt.format(np.mean(xs)) if xs else "")
        lines.append(f"| {task} | {algo} | {len(ds)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def seed_table(root: str, seeds: set[int] | None = None) -> str:
    """Every seed's normalized return / cost per task and algorithm; the filter's replaced share where one ran."""
    cells: dict[tuple[str, str], list[str]] = defaultdict(list)
    for r in _records(root, seeds):
        f = _diagnostics(r.run_dir)["shield_replaced_frac"]
        tail = "" if f is None else f" ({100 * f:.1f}%)"
        cells[(r.task, r.algo)].append(f"s{r.seed} {r.normalized_return:.3f}/{r.normalized_cost:.2f}{tail}")
    lines = ["| task | algorithm | per seed: normalized return / cost (filter's replaced actions) |", "|---|---|---|"]
    lines += [f"| {t} | {a} | {', '.join(c)} |" for (t, a), c in sorted(cells.items())]
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("root")
    p.add_argument("--seeds", help="comma-separated seeds to include (default: all)")
    p.add_argument("--markdown", type=Path)
    a = p.parse_args()
    seeds = {int(x) for x in a.seeds.split(",") if x.strip()} if a.seeds else None
    t = table(a.root, seeds) + "\n" + constraint_table(a.root, seeds) + "\n" + seed_table(a.root, seeds)
    print(t, end="")
    if a.markdown:
        a.markdown.write_text(t)


if __name__ == "__main__":
    main()
