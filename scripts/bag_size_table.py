"""Bag-size sweep table: SafeMIL runs of one `safemil bench` directory per K, side by side.

    python scripts/bag_size_table.py 1=runs/bag1 8=runs/bag8 64=runs/bench-default 128=runs/bag128

Rows are `safemil report`'s (mean and 95% bootstrap CI over seeds) plus the learned cost's
per-step AUROC range; the K of every run is checked against its config.yaml, and tasks swept
at one K only are left out.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

from safemil.bench.report import collect, format_estimate, summarize
from safemil.errors import SafemilError


def main(argv: list[str]) -> None:
    runs = {}  # K -> (SafeMIL rows by task, SafeMIL records)
    for k, d in (a.split("=", 1) for a in argv):
        recs = [r for r in collect(d) if r.algo == "safemil"]
        for r in recs:
            bag = yaml.safe_load((Path(r.run_dir) / "config.yaml").read_text())["config"]["mil"]["bag_size"]
            if bag != int(k):
                raise SystemExit(f"{r.run_dir} was run with bag_size={bag}, not {k}")
        runs[int(k)] = ({row.task: row for row in summarize(recs)}, recs)
    tasks = sorted({t for rows, _ in runs.values() for t in rows})
    print("| task | K | seeds | normalized return | normalized cost | CVaR@20% cost | per-step AUROC (D_U) |")
    print("|---|---:|---:|---|---|---|---|")
    for task in (t for t in tasks if sum(t in rows for rows, _ in runs.values()) > 1):
        for k, (rows, recs) in sorted(runs.items()):
            if task not in rows:
                continue
            row = rows[task]
            auroc = [json.loads((Path(r.run_dir) / "eval.json").read_text())["diagnostics"]["cost_auroc_step"]
                     for r in recs if r.task == task]
            print(f"| {task} | {k} | {row.n_seeds} | {format_estimate(row.normalized_return, 2)} | "
                  f"{format_estimate(row.normalized_cost, 2)} | {format_estimate(row.cvar20_cost, 2)} | "
                  f"{min(auroc):.3f}-{max(auroc):.3f} |")


if __name__ == "__main__":
    if not sys.argv[1:] or any("=" not in a for a in sys.argv[1:]):
        raise SystemExit("usage: bag_size_table.py K=RUN_DIR [K=RUN_DIR ...]")
    try:
        main(sys.argv[1:])
    except SafemilError as e:
        raise SystemExit(f"error: {e}") from None
