"""Peak resident memory of a default SafeMIL run against the least any run on that dataset holds.

Ours: ``safemil train safemil --task TASK`` (preset ``default``: cost learning, weighted BC, cost
diagnostics, evaluation) in a child process. Reference, measured in the same run: a child that
imports safemil, reads the same dataset and splits it (the data every method starts from). Both
peaks are the children's ``ru_maxrss``. The task's default dataset is generated first if it is not
in the data folder (``SAFEMIL_DATA_DIR``). Prints both peaks in MB and what the run holds beyond
the reference; the last line is ``ratio=<run peak / reference peak>``.

    .venv/bin/python benchmarks/safemil_peak_rss.py [--task HalfCheetahVelocity]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

from safemil.collect import find_dataset, generate_to_file
from safemil.errors import SafemilError

REFERENCE = """
import sys, torch
torch.set_num_threads(1)
import safemil
from safemil.data import SplitConfig, make_split, read_dsrl
split = make_split(read_dsrl(sys.argv[1], task=sys.argv[2]), SplitConfig())
"""


def child_peak_mb(cmd: list[str]) -> float:
    """Peak RSS of one child process (run alone: RUSAGE_CHILDREN keeps the largest finished child's)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if after <= before:
        raise RuntimeError("children's peak did not rise: run the larger child last")
    return after / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--task", default="HalfCheetahVelocity")
    args = ap.parse_args()
    try:
        path = find_dataset(args.task)
    except SafemilError:  # not generated yet: make it (cached for later runs)
        print(f"generating the {args.task} default dataset ...", flush=True)
        path = generate_to_file(args.task)
    ref = child_peak_mb([sys.executable, "-c", REFERENCE, str(path), args.task])
    with tempfile.TemporaryDirectory() as tmp:
        ours = child_peak_mb([sys.executable, "-m", "safemil", "train", "safemil", "--task", args.task,
                              "--dataset", str(path), "--out", str(Path(tmp) / "run")])
    print(f"reference (import, read and split {path.name}): {ref:7.0f} MB")
    print(f"safemil train safemil --task {args.task} (preset default): {ours:7.0f} MB  (+{ours - ref:.0f} MB)")
    print(f"ratio={ours / ref:.3f}")


if __name__ == "__main__":
    main()
