"""Grid runner speed-up over training the same cells one after another, measured in the same run.

Reference: the cells of a small grid trained and evaluated serially in this
process by calling the training runner directly (`safemil.runner.train`), i.e.
what a shell loop over `safemil train` would do minus its start-up.
Ours: `safemil.bench.run_grid` with the local process pool (one worker per
core, spawn start-up and result collection included). Also reports the cost
of re-running the finished grid (every cell skipped). The last line is the
speed-up ``ratio = serial / grid`` (> 1 is faster; at most about the core count).
Each spawned worker pays the torch/MuJoCo import once (about 3 s on an idle
core, 10 s on a loaded one), so cells must be long enough to amortise it, as
they are in a real grid. On a machine shared through the kernel's autogroup
scheduler (``/proc/sys/kernel/sched_autogroup_enabled`` = 1) the CPU is split
per session, not per process: when other sessions keep the cores busy, more
workers do not buy more CPU and the ratio drops below 1 (the start-up cost).

    .venv/bin/python benchmarks/bench_grid.py [--cells 4] [--steps 5000] [--workers N]
"""

from __future__ import annotations

import safemil  # noqa: F401  # isort: skip  (first: it pins numpy's and torch's kernels, safemil.cpu_kernels)

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
from tiny_swimmer import TASK, TINY_SPLIT, make_tiny_dataset  # noqa: E402

from safemil.bench import GridSpec, LocalExecutor, run_grid  # noqa: E402
from safemil.bench.executors import available_cores  # noqa: E402
from safemil.runner import make_run_config, train  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cells", type=int, default=4, help="seeds of bc-u in the grid")
    ap.add_argument("--steps", type=int, default=5000, help="BC steps per cell")
    ap.add_argument("--workers", type=int, default=None)
    args = ap.parse_args()
    workers = args.workers or available_cores()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = make_tiny_dataset(tmp / "tiny.hdf5")
        ov = [*TINY_SPLIT, f"steps={args.steps}", "eval.episodes=4", "train.log_every=50",
              "train.checkpoint_every=200"]
        seeds = list(range(args.cells))

        t = time.perf_counter()
        for s in seeds:
            train(make_run_config("bc-u", TASK, str(data), s, ov), tmp / "serial" / f"seed{s}")
        serial = time.perf_counter() - t

        grid = GridSpec([TASK], ["bc-u"], seeds, ov, {TASK: str(data)})
        t = time.perf_counter()
        res = run_grid(grid, tmp / "grid", LocalExecutor(workers), progress=False)
        parallel = time.perf_counter() - t
        assert {o.status for o in res.outcomes} == {"done"}, [o.error for o in res.outcomes]

        t = time.perf_counter()
        again = run_grid(grid, tmp / "grid", LocalExecutor(workers), progress=False)
        skip = time.perf_counter() - t
        assert {o.status for o in again.outcomes} == {"skipped"}

    print(f"cells={args.cells} steps={args.steps} workers={workers} cores={available_cores()} "
          f"load1={os.getloadavg()[0]:.1f} autogroup={_autogroup()}")
    print(f"serial (train() in a loop): {serial:.1f} s")
    print(f"run_grid local pool:        {parallel:.1f} s")
    print(f"re-run, all cells skipped:  {skip:.2f} s")
    print(f"ratio={serial / parallel:.2f}")


def _autogroup() -> str:
    try:
        return Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip()
    except OSError:
        return "n/a"


if __name__ == "__main__":
    main()
