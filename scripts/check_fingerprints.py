"""Regenerate the default datasets and compare each with its recorded sha256.

Run after `make lock` (docs/reproducibility.md): if every file matches, the new lock
keeps the published numbers; if one differs, the lock changed that task's data, and
`--update` records the new fingerprints (then re-run the published grids in the same
commit); with --tasks it records those and keeps the others, which needs the recorded
package versions. Exit status 1 when a file differs and --update was not given.

    .venv/bin/python scripts/check_fingerprints.py [--tasks A,B] [--keep DIR] [--update]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from importlib import resources
from pathlib import Path

from safemil.bench.grid import NAV_TASKS, VELOCITY_TASKS
from safemil.collect import generate_to_file
from safemil.collect.fingerprints import (
    check_fingerprint,
    current_environment,
    fingerprint_of,
    recorded_environment,
    recorded_fingerprints,
    write_fingerprints,
)

ALL_TASKS = VELOCITY_TASKS + NAV_TASKS


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", default=",".join(ALL_TASKS))
    ap.add_argument("--keep", type=Path, help="Write the datasets here (default: a temporary folder).")
    ap.add_argument("--update", action="store_true", help="Record these files' fingerprints in the package.")
    args = ap.parse_args()
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    # every recorded file must have been made with the versions recorded beside them
    same_versions = {k: v for k, v in recorded_environment().items() if k != "cpu"} == current_environment()
    if args.update and set(tasks) != set(ALL_TASKS) and not same_versions:
        ap.error("the data packages differ from the recorded ones: --update must regenerate every task (drop --tasks)")
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        checks = [check_fingerprint(t, generate_to_file(t, out=folder / f"{t}-default.hdf5", progress=False))
                  for t in tasks]
        print("| task | sha256 | recorded | matches |\n|---|---|---|---|")
        for c in checks:
            rec = c.recorded.sha256[:12] if c.recorded else "-"
            print(f"| {c.task} | {c.sha256[:12]} | {rec} | {'yes' if c.matches else 'NO'} |")
        if args.update:
            out = resources.files("safemil.collect").joinpath("fingerprints.json")
            kept = {t: f for t, f in recorded_fingerprints().items() if t not in tasks}
            write_fingerprints({**kept, **{c.task: fingerprint_of(c.task, c.path) for c in checks}}, Path(str(out)))
            print(f"recorded in {out}")
            return 0
    return 0 if all(c.matches for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
