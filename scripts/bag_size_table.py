"""Bag-size sweep table: SafeMIL runs of one `safemil bench` directory per K, side by side.

    python scripts/bag_size_table.py 1=runs/bag1 8=runs/bag8 64=runs/bench-default 128=runs/bag128

Mean and 95% percentile-bootstrap CI over seeds (same bootstrap as `safemil report`),
read from each run's eval.json; the K of every run is checked against its config.yaml; tasks swept at one K only are left out.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import yaml

from safemil.eval import bootstrap_ci


def _fmt(values: list[float]) -> str:
    lo, hi = bootstrap_ci(np.asarray(values, dtype=float))
    return f"{np.mean(values):.2f} [{lo:.2f}, {hi:.2f}]"


def main(argv: list[str]) -> None:
    dirs = {int(k): Path(d) for k, d in (a.split("=", 1) for a in argv)}
    found = [p.parent.parent.parent.name for d in dirs.values() for p in d.glob("*/safemil/seed*/eval.json")]
    tasks = sorted(t for t in set(found) if sum((d / t / "safemil").is_dir() for d in dirs.values()) > 1)
    print("| task | K | seeds | normalized return | normalized cost | CVaR@20% cost | per-step AUROC (D_U) |")
    print("|---|---:|---:|---|---|---|---|")
    for task in tasks:
        for k, d in sorted(dirs.items()):
            runs = sorted((d / task / "safemil").glob("seed*"))
            if not runs:
                continue
            ev = [json.loads((r / "eval.json").read_text()) for r in runs]
            for r in runs:
                bag = yaml.safe_load((r / "config.yaml").read_text())["config"]["mil"]["bag_size"]
                if bag != k:
                    raise SystemExit(f"{r} was run with bag_size={bag}, not {k}")
            auroc = [e["diagnostics"]["cost_auroc_step"] for e in ev]
            print(f"| {task} | {k} | {len(ev)} | {_fmt([e['normalized_return'] for e in ev])} | "
                  f"{_fmt([e['normalized_cost'] for e in ev])} | {_fmt([e['cvar20_cost'] for e in ev])} | "
                  f"{min(auroc):.3f}-{max(auroc):.3f} |")


if __name__ == "__main__":
    main(sys.argv[1:])
