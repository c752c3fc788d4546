"""The benchmark grid (local pool and Ray), its resumption, failure records, and the report maths."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from safemil.bench import (
    GridSpec,
    LocalExecutor,
    RunSpec,
    collect,
    collect_sources,
    cvar_ratios,
    markdown,
    parse_seeds,
    run_grid,
    summarize,
    write_csv,
)
from safemil.bench.plots import plot_all
from safemil.bench.report import ReportError, estimate, read_runs_csv
from safemil.bench.worker import RunLock, run_one
from safemil.errors import ConfigError, SafemilError
from safemil.runner import make_run_config, train
from tests.conftest import synthetic_dataset
from tests.tiny_swimmer import TASK, TINY_SPLIT, make_tiny_dataset

SRC = str(Path(__file__).parents[1] / "src")
TINY = [*TINY_SPLIT, "train.log_every=10", "train.checkpoint_every=20",
        "bc-u:steps=40", "safemil:policy_steps=40", "safemil:mil.steps=20", "safemil:mil.bag_size=8",
        "safemil:mil.pool_size=32", "safemil:mil.n_bag_pairs=16", "safemil:bc.batch_size=64"]


class InProcess:
    """Test executor: runs cells one by one in this process (so a monkeypatched worker is used)."""

    name, workers = "inprocess", 1

    def run(self, fn, items):
        for item in items:
            try:
                yield item, fn(item)
            except Exception as e:  # noqa: BLE001
                yield item, e


def _grid(data: Path, **kw) -> GridSpec:
    return GridSpec([TASK], ["bc-u", "safemil"], [0, 1], list(kw.pop("overrides", TINY)), {TASK: str(data)}, **kw)


def _rows(path: Path) -> list[dict]:
    with open(path) as f:
        return [{k: v for k, v in r.items() if k not in ("wall_s", "cpu_s")} for r in csv.DictReader(f)]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return make_tiny_dataset(tmp_path_factory.mktemp("data") / "tiny.hdf5")


@pytest.fixture(scope="module")
def local_grid(tiny, tmp_path_factory):
    """A grid interrupted midway: one cell finished, one killed after a checkpoint, two not started."""
    root = tmp_path_factory.mktemp("bench_local")
    runs = {r.label: r for r in _grid(tiny).runs(root)}
    finished = runs[f"{TASK}/bc-u/seed0"]
    assert run_one(finished).status == "done"
    killed = runs[f"{TASK}/safemil/seed1"]
    cfg = make_run_config(killed.algo, killed.task, killed.dataset, killed.seed,
                          [*killed.overrides, "train.progress=false"], preset=killed.preset)
    assert train(cfg, killed.out_dir, stop_at=30) is None  # as if killed at step 30 (checkpoint at 20)
    mtime = (Path(finished.out_dir) / "eval.json").stat().st_mtime_ns
    res = run_grid(_grid(tiny), root, LocalExecutor(workers=2), progress=False)
    return root, res, finished, killed, mtime


def test_grid_resumes_without_recomputing_finished_runs(local_grid):
    root, res, finished, killed, mtime = local_grid
    status = {o.run.label: o.status for o in res.outcomes}
    assert status == {finished.label: "skipped", killed.label: "resumed",
                      f"{TASK}/bc-u/seed1": "done", f"{TASK}/safemil/seed0": "done"}
    assert (Path(finished.out_dir) / "eval.json").stat().st_mtime_ns == mtime  # not recomputed
    steps = [json.loads(line)["step"] for line in (Path(killed.out_dir) / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps)) and steps[-1] == 60  # resumed from step 20, nothing logged twice
    logged = [json.loads(line) for line in (root / "outcomes.jsonl").read_text().splitlines()]
    assert {r["run"] for r in logged} == set(status) - {finished.label}  # skipped cells never reach a worker
    assert len({r["pid"] for r in logged}) <= 2
    assert not (root / "failures.jsonl").exists()
    # a second invocation skips everything
    again = run_grid(_grid(Path(finished.dataset)), root, InProcess(), progress=False)
    assert {o.status for o in again.outcomes} == {"skipped"}


def test_resumed_run_equals_a_fresh_one(local_grid, tmp_path):
    _, _, _, killed, _ = local_grid
    fresh = run_one(RunSpec(killed.task, killed.algo, killed.seed, str(tmp_path / "fresh"), killed.overrides,
                            killed.dataset))
    resumed = json.loads((Path(killed.out_dir) / "eval.json").read_text())
    for k in ("normalized_return", "normalized_cost", "cvar20_cost", "episode_returns"):
        assert resumed[k] == pytest.approx(json.loads((tmp_path / "fresh" / "eval.json").read_text())[k])
    assert fresh.status == "done"


def test_ray_grid_gives_the_same_csv_rows_as_local(local_grid, tiny, tmp_path):
    pytest.importorskip("ray")
    from safemil.bench import RayExecutor

    root, *_ = local_grid
    res = run_grid(_grid(tiny), tmp_path / "ray", RayExecutor(workers=2), progress=False)
    assert {o.status for o in res.outcomes} == {"done"}, [o.error for o in res.outcomes]
    local_csv = write_csv(collect(root), tmp_path / "local.csv")
    ray_csv = write_csv(collect(tmp_path / "ray"), tmp_path / "ray.csv")
    assert _rows(local_csv) == _rows(ray_csv)
    assert len(_rows(ray_csv)) == 4


def test_failures_are_recorded_and_not_fatal(tiny, tmp_path):
    # a cell that fails while running (segments longer than any trajectory: the MIL cost refuses)
    g = _grid(tiny, overrides=[*TINY, "safemil:mil.segment_len=500"])
    g.seeds = [0]
    res = run_grid(g, tmp_path / "b", InProcess(), progress=False)
    assert {o.run.algo: o.status for o in res.outcomes} == {"bc-u": "done", "safemil": "failed"}
    lines = [json.loads(x) for x in (tmp_path / "b" / "failures.jsonl").read_text().splitlines()]
    assert len(lines) == 1 and lines[0]["run"] == f"{TASK}/safemil/seed0"
    assert "ConfigError" in lines[0]["error"] and "segment_len" in lines[0]["error"]

    # config problems stop the grid before anything runs, naming the cell
    with pytest.raises(SafemilError, match=f"{TASK}/bc-u: .*missing.hdf5"):
        run_grid(_grid(tmp_path / "missing.hdf5"), tmp_path / "m", InProcess(), progress=False)
    with pytest.raises(ConfigError, match="bc-u: unknown config key 'stepz'"):
        run_grid(_grid(tiny, overrides=[*TINY, "bc-u:stepz=3"]), tmp_path / "m", InProcess(), progress=False)
    assert not (tmp_path / "m").exists()

    def explode(run):  # a worker process that dies instead of returning an outcome
        raise MemoryError("killed")

    res = run_grid(_grid(tiny), tmp_path / "c", InProcess(), progress=False, worker=explode)
    assert len(res.outcomes) == 4  # the grid still visited every cell
    assert all(o.status == "failed" and "worker died: MemoryError: killed" in o.error for o in res.outcomes)


def test_changed_config_for_an_existing_run_is_refused(local_grid):
    root, *_ = local_grid
    changed = _grid(Path(local_grid[3].dataset), overrides=[*TINY, "bc-u:steps=41"])
    res = run_grid(changed, root, InProcess(), progress=False)
    errors = {o.run.label: o.error for o in res.failures}
    assert set(errors) == {f"{TASK}/bc-u/seed0", f"{TASK}/bc-u/seed1"}
    assert all("config.steps is 40 but this grid asks for 41" in e for e in errors.values())


def test_a_run_made_before_an_option_existed_is_still_the_same_run(local_grid):
    """A stored config without a key added since (its default keeps the old behaviour) is skipped, not refused;
    a key this version does not know is refused."""
    import yaml

    root, _, finished, *_ = local_grid
    path = Path(finished.out_dir) / "config.yaml"
    original = path.read_text()
    try:
        stored = yaml.safe_load(original)
        del stored["config"]["bc"]["lr"]  # as if `bc.lr` had been added after this run was made
        del stored["eval"]["seed_offset"]
        path.write_text(yaml.safe_dump(stored))
        res = run_grid(_grid(Path(finished.dataset)), root, InProcess(), progress=False)
        assert {o.run.label: o.status for o in res.outcomes}[finished.label] == "skipped"
        stored["config"]["bc"]["retired_option"] = 1
        path.write_text(yaml.safe_dump(stored))
        res = run_grid(_grid(Path(finished.dataset)), root, InProcess(), progress=False)
        errors = {o.run.label: o.error for o in res.failures}
        assert "retired_option" in errors[finished.label]
    finally:
        path.write_text(original)


def test_run_lock_refuses_a_live_owner(tmp_path):
    lock = tmp_path / RunLock.NAME
    lock.write_text(str(os.getppid()))  # a live process that is not us
    with pytest.raises(SafemilError, match="is being run by process"):
        RunLock(tmp_path).__enter__()
    lock.write_text("999999999")  # a dead owner: taken over
    with RunLock(tmp_path):
        assert lock.read_text() == str(os.getpid())
    assert not lock.exists()


def test_grid_spec_overrides_and_seeds(tmp_path):
    g = GridSpec(["swimmervelocity"], ["bc-u", "safemil"], parse_seeds("2"),
                 ["eval.episodes=3", "safemil:mil.steps=7", "bc-u:steps=9"])
    runs = g.runs(tmp_path)
    assert [r.label for r in runs] == [f"{TASK}/bc-u/seed0", f"{TASK}/bc-u/seed1",
                                       f"{TASK}/safemil/seed0", f"{TASK}/safemil/seed1"]
    assert runs[0].overrides == ("eval.episodes=3", "steps=9")
    assert runs[2].overrides == ("eval.episodes=3", "mil.steps=7")
    assert runs[3].out_dir == str(tmp_path / TASK / "safemil" / "seed1")
    assert parse_seeds("0,4,7") == [0, 4, 7]
    for bad in ("0", "x", "1,1"):
        with pytest.raises(ConfigError, match="--seeds"):
            parse_seeds(bad)
    with pytest.raises(ConfigError, match=r"for seed 0 alone write 0,"):
        parse_seeds("0")
    with pytest.raises(ConfigError, match="unknown algorithm 'nope'"):
        GridSpec([TASK], ["bc-u"], [0], ["nope:steps=3"])
    with pytest.raises(ConfigError, match="key=value"):
        GridSpec([TASK], ["bc-u"], [0], ["steps"])
    sub = GridSpec([TASK], ["bc-u", "safemil"], [0], ["bc-u:steps=9", "safemil:mil.steps=7", "x=1"]).narrow(
        algos=["safemil"], extra=["y=2"])
    assert sub.algos == ["safemil"] and sub.overrides == ["safemil:mil.steps=7", "x=1", "y=2"]


# -- report maths -----------------------------------------------------------------------------

def _fake_run(root: Path, task: str, algo: str, seed: int, ret: float, cost: float, cvar: float, wall=None,
              immobile: int | None = None):
    d = root / task / algo / f"seed{seed}"
    d.mkdir(parents=True)
    extra = {} if immobile is None else {"immobile_episodes": immobile}
    (d / "eval.json").write_text(json.dumps({
        "task": task, "algo": algo, "seed": seed, "normalized_return": ret, "normalized_cost": cost,
        "cvar20_cost": cvar, "mean_return": 100 * ret, "mean_cost": 25 * cost, "episodes": 10,
        "cost_limit": 25.0, "train_steps": 5, **extra}))
    if wall is not None:
        (d / "bench.json").write_text(json.dumps({"wall_s": wall, "sessions": 1}))


def test_report_math_against_hand_computed_cis(tmp_path):
    # task A: bc-safe (oracle) best return but not eligible; bc-u highest return but unsafe; safemil best safe
    for s, (r, c) in enumerate([(0.2, 0.5), (0.4, 0.7), (0.6, 0.9)]):
        _fake_run(tmp_path, "HopperVelocity", "safemil", s, r, c, 2 * c, wall=10.0 + s)
    for s, (r, c) in enumerate([(0.9, 1.5), (0.9, 2.5), (0.9, 2.0)]):
        _fake_run(tmp_path, "HopperVelocity", "bc-u", s, r, c, 3.0)
    for s in range(3):
        _fake_run(tmp_path, "HopperVelocity", "bc-safe", s, 0.95, 0.2, 0.4)
    # task B: two seeds with values 0 and 1 -> bootstrap means are 0, 0.5 or 1
    for s, c in enumerate([0.0, 1.0]):
        _fake_run(tmp_path, "SwimmerVelocity", "safemil", s, 0.1, c, 4.0)
        _fake_run(tmp_path, "SwimmerVelocity", "bc-u", s, 0.5, 3.0, 8.0)

    records = collect(tmp_path)
    assert [(r.task, r.algo, r.seed) for r in records][:9] == [  # paper order: baselines, then SafeMIL
        ("HopperVelocity", a, s) for a in ("bc-u", "bc-safe", "safemil") for s in range(3)]
    rows = {(r.task, r.algo): r for r in summarize(records)}

    sm = rows["HopperVelocity", "safemil"]
    assert sm.normalized_return.mean == pytest.approx(0.4)
    # hand-computed percentile bootstrap: 2000 resamples of 3 seeds drawn with numpy's default_rng(0)
    v = np.array([0.2, 0.4, 0.6])
    means = v[np.random.default_rng(0).integers(0, 3, size=(2000, 3))].mean(axis=1)
    assert (sm.normalized_return.lo, sm.normalized_return.hi) == pytest.approx(tuple(np.quantile(means, [0.025, 0.975])))
    # with 3 values the bootstrap mean takes 10 values; the 2.5% and 97.5% points are inside [0.2, 0.6]
    assert 0.2 <= sm.normalized_return.lo < 0.4 < sm.normalized_return.hi <= 0.6
    assert sm.wall_s == pytest.approx(11.0)
    # constant values: a zero-width interval at the value
    safe = rows["HopperVelocity", "bc-safe"]
    assert (safe.normalized_cost.mean, safe.normalized_cost.lo, safe.normalized_cost.hi) == pytest.approx((0.2, 0.2, 0.2))
    # two seeds {0, 1}: P(mean = 0) = P(mean = 1) = 1/4 > 2.5%, so the CI is exactly [0, 1]
    b = rows["SwimmerVelocity", "safemil"].normalized_cost
    assert (b.mean, b.lo, b.hi) == (0.5, 0.0, 1.0)

    assert safe.oracle and not sm.oracle
    assert sm.best and not rows["HopperVelocity", "bc-u"].best and not safe.best
    assert rows["SwimmerVelocity", "safemil"].best  # mean cost 0.5 <= 1
    # CVaR ratio: safemil vs the best non-oracle baseline (no baseline safe -> the least costly one)
    ratios = cvar_ratios(list(rows.values()))
    assert ratios == pytest.approx({"HopperVelocity": (2 * 0.7) / 3.0, "SwimmerVelocity": 4.0 / 8.0})

    md = markdown(summarize(records), records=records)
    assert "| safemil | 3 | 33 | 100% |" in md  # only safemil's runs recorded wall times: 10 + 11 + 12
    assert "| HopperVelocity | **safemil** | 3 | **0.400 [" in md
    assert "| HopperVelocity | bc-safe (oracle) | 3 |" in md
    assert "median 0.48." in md  # median of 1.4 / 3 and 0.5


def test_a_layered_method_is_compared_with_its_own_base(tmp_path):
    """bcq-lag+proco's CVaR ratio is to bcq-lag, not to whichever other method is best on the task."""
    from safemil.bench.report import cvar_label

    for s in range(2):
        _fake_run(tmp_path, "HopperVelocity", "bcq-lag", s, 0.7, 2.0, 4.0)
        _fake_run(tmp_path, "HopperVelocity", "bcq-lag+proco", s, 0.65, 0.5, 1.0)
        _fake_run(tmp_path, "HopperVelocity", "bc-u", s, 0.5, 0.1, 0.5)  # the best safe other method
    rows = summarize(collect(tmp_path))
    assert cvar_ratios(rows, "bcq-lag+proco") == pytest.approx({"HopperVelocity": 0.25})
    assert "bcq-lag+proco / bcq-lag (its base), per task: HopperVelocity 0.25" in markdown(rows, "bcq-lag+proco")
    # without its base in the table: the best other method, as for any method
    no_base = [r for r in rows if r.algo != "bcq-lag"]
    assert cvar_ratios(no_base, "bcq-lag+proco") == pytest.approx({"HopperVelocity": 2.0})
    assert cvar_label(no_base, "bcq-lag+proco") == "bcq-lag+proco / best non-oracle baseline"


def test_bc_safe_is_an_oracle_on_the_split_only(tmp_path):
    """On offline safe RL data every method has the costs, so BC-Safe is ranked like any base there."""
    from safemil.bench.report import ReportError

    for mode, task in (("split", "HopperVelocity"), ("safe-only", "SwimmerVelocity")):
        _fake_run(tmp_path, task, "bc-safe", 0, 0.9, 0.1, 0.2)
        (tmp_path / task / "bc-safe" / "seed0" / "config.yaml").write_text(f"data:\n  mode: {mode}\n")
    rows = {r.task: r for r in summarize(collect(tmp_path))}
    assert rows["HopperVelocity"].oracle and not rows["HopperVelocity"].best
    assert not rows["SwimmerVelocity"].oracle and rows["SwimmerVelocity"].best
    (tmp_path / "SwimmerVelocity" / "bc-safe" / "seed0" / "config.yaml").write_text("data: [unclosed\n")
    with pytest.raises(ReportError, match="not a readable run config"):
        collect(tmp_path)


def test_report_cli_writes_csv_markdown_plots(local_grid, tmp_path):
    root, *_ = local_grid
    env = {**os.environ, "PYTHONPATH": SRC}
    r = subprocess.run([sys.executable, "-m", "safemil", "report", str(root), "--csv", str(tmp_path / "r.csv"),
                        "--markdown", str(tmp_path / "r.md"), "--plots", str(tmp_path / "plots")],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    with open(tmp_path / "r.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4
    assert {"task", "algo", "seed", "normalized_return", "normalized_cost", "cvar20_cost", "wall_s"} <= set(rows[0])
    assert all(float(x["wall_s"]) > 0 for x in rows)
    assert "| SwimmerVelocity |" in (tmp_path / "r.md").read_text()
    for name in ("bars.png", "scatter.png", "curves.png"):
        assert (tmp_path / "plots" / name).stat().st_size > 5000
    bad = subprocess.run([sys.executable, "-m", "safemil", "report", str(tmp_path / "nowhere")],
                         capture_output=True, text=True, env=env)
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0 and "not found" in bad.stderr
    bad = subprocess.run([sys.executable, "-m", "safemil", "bench", "--tasks", TASK, "--algos", "bc-u",
                          "--out", str(tmp_path / "x"), "--executor", "slurm"], capture_output=True, text=True, env=env)
    assert bad.returncode == 2 and "unknown executor 'slurm'" in bad.stderr and "Traceback" not in bad.stderr


def test_report_combines_a_rerun_task_with_an_earlier_runs_csv(tmp_path):
    """A task re-run in its own grid replaces that task's rows of an earlier report; the others stay."""
    old, new = tmp_path / "old", tmp_path / "new"
    for s in range(2):
        _fake_run(old, "HopperVelocity", "bc-u", s, 0.5 + 0.1 * s, 0.2, 0.4, wall=5.0)
        _fake_run(old, "SwimmerVelocity", "bc-u", s, 0.1, 0.0, 0.0, wall=5.0)
        _fake_run(new, "SwimmerVelocity", "bc-u", s, 0.3, 2.0, 3.0, wall=7.0)
    write_csv(collect(old), tmp_path / "runs.csv")
    assert read_runs_csv(tmp_path / "runs.csv") == [
        replace(r, run_dir=str(tmp_path / "runs.csv")) for r in collect(old)]  # every number survives the CSV
    records, origin = collect_sources([tmp_path / "runs.csv", new])
    assert [(r.task, r.normalized_return) for r in records] == [
        ("HopperVelocity", 0.5), ("HopperVelocity", 0.6), ("SwimmerVelocity", 0.3), ("SwimmerVelocity", 0.3)]
    assert origin == {"HopperVelocity": str(tmp_path / "runs.csv"), "SwimmerVelocity": str(new)}
    md = markdown(summarize(records), records=records, origin=origin)
    assert f"| SwimmerVelocity | `{new}` |" in md
    assert "| SwimmerVelocity | **" not in md  # the re-run's bc-u is unsafe: not best
    assert "runs from" not in markdown(summarize(collect(old)), records=collect(old))  # one source: no origin table
    assert "A runs.csv holds" in md
    dirs_only = {"HopperVelocity": str(old), "SwimmerVelocity": str(new)}  # two run directories: no csv caveat
    assert "A runs.csv holds" not in markdown(summarize(records), records=records, origin=dirs_only)
    png = plot_all(summarize(records), records, tmp_path / "plots")  # csv rows have no curves: still plotted
    assert all(p.stat().st_size > 5000 for p in png)
    (tmp_path / "bad.csv").write_text("task,algo\nHopperVelocity,bc-u\n")
    with pytest.raises(ReportError, match="not a runs.csv"):
        collect_sources([tmp_path / "bad.csv"])


def test_report_refuses_empty_or_malformed(tmp_path):
    with pytest.raises(ReportError, match="no finished runs"):
        collect(tmp_path)
    d = tmp_path / "T" / "bc-u" / "seed0"
    d.mkdir(parents=True)
    (d / "eval.json").write_text(json.dumps({"task": "SwimmerVelocity", "algo": "bc-u"}))
    with pytest.raises(ReportError, match="not a valid eval.json"):
        collect(tmp_path)
    assert estimate([0.3]).lo == 0.3


def _crash_on_two(x: int) -> int:
    if x == 2:
        os._exit(3)  # a worker that dies outright (segfault, OOM kill)
    return x * 10


def test_local_pool_survives_a_dying_worker():
    from concurrent.futures.process import BrokenProcessPool

    out = dict(LocalExecutor(workers=2).run(_crash_on_two, [1, 2, 3]))
    assert out[1] == 10 and out[3] == 30  # the innocent cells are rerun alone if the pool broke under them
    assert isinstance(out[2], BrokenProcessPool)


NAPPER = """
import os, sys, time
from safemil.bench.executors import make_executor

def nap(folder):  # the folder travels with the cell: a Ray worker has its own sys.argv
    open(os.path.join(folder, str(os.getpid())), "w").close()
    time.sleep(120)
    return folder

if __name__ == "__main__":
    for _ in make_executor(sys.argv[2], workers=2).run(nap, [sys.argv[1]] * 4):
        pass
"""


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as f:
            return "\tZ" not in next(line for line in f if line.startswith("State:"))
    except (FileNotFoundError, StopIteration):
        return False


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads worker states from /proc")
@pytest.mark.parametrize("executor", ["local", "ray"])
def test_sigterm_to_the_bench_stops_its_workers(tmp_path, executor):
    """`kill` on a bench must not leave its workers running its queued cells."""
    import signal
    import time

    if executor == "ray":
        pytest.importorskip("ray")
    script, pids = tmp_path / "napper.py", tmp_path / "pids"
    script.write_text(NAPPER)
    pids.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    proc = subprocess.Popen([sys.executable, str(script), str(pids), executor], env=env)
    deadline = time.time() + 120
    while len(list(pids.iterdir())) < 2 and time.time() < deadline:
        time.sleep(0.2)
    workers = [int(p.name) for p in pids.iterdir()]
    assert len(workers) == 2 and all(_running(w) for w in workers)
    proc.send_signal(signal.SIGTERM)
    rc = proc.wait(timeout=60)
    if executor == "local":  # Ray's own handler exits the driver with 1
        assert rc == 128 + signal.SIGTERM
    deadline = time.time() + 30
    while any(_running(w) for w in workers) and time.time() < deadline:
        time.sleep(0.2)
    assert not any(_running(w) for w in workers)
    time.sleep(2)
    assert len(list(pids.iterdir())) == 2  # no queued cell started after the signal


def test_every_cell_of_the_named_grids_resolves_to_a_valid_run_config(tmp_path):
    """A typo in a named grid's overrides would otherwise surface only when its worker starts.

    A config only hashes its dataset, so one small file stands in for every task's default
    dataset (the suite never reads the user's cache, where the real ones live)."""
    from safemil.bench.grid import NAMED_GRIDS, named_grid
    from safemil.data import write_dsrl
    from safemil.runner import algo_config, make_run_config

    data = str(write_dsrl(synthetic_dataset(n_traj=4), tmp_path / "stand-in.hdf5"))
    for name in NAMED_GRIDS:
        g = named_grid(name)
        cells = {(r.task, r.algo): r for r in g.runs("unused")}
        assert len(cells) == len(g.tasks) * len(g.algos)
        for (task, algo), r in cells.items():
            assert make_run_config(algo, task, dataset=data, overrides=list(r.overrides), preset=r.preset).preset == g.preset
    cell = named_grid("proco").narrow(algos=["bcq-lag+proco"]).runs("unused")[0]
    cfg = make_run_config(cell.algo, cell.task, dataset=data, overrides=list(cell.overrides), preset=cell.preset)
    c = algo_config(cfg)
    assert cfg.data.mode == "safe-only" and not c.layer_costs and c.layer.shield.horizon == 3
    # BC-Safe, alone and under PROCO, clones with the default grid's BC learner, not a proco-only one
    default_bc = algo_config(make_run_config("bc-safe", "HopperVelocity", dataset=data, preset="default"))
    for cell in named_grid("proco").narrow(algos=["bc-safe", "bc-safe+proco"], tasks=["HopperVelocity"]).runs("unused"):
        c = algo_config(make_run_config(cell.algo, cell.task, dataset=data, overrides=list(cell.overrides),
                                        preset=cell.preset))
        learner = (c.steps, c.bc.actor, c.bc.lr, c.bc.batch_size)  # PROCO adds its feasibility weights
        assert learner == (default_bc.steps, default_bc.bc.actor, default_bc.bc.lr, default_bc.bc.batch_size), cell.algo


def test_safemil_train_without_overrides_runs_what_the_grids_report(tmp_path):
    """`safemil train ALGO --task T --seed S` (the default preset) resolves to the grid cell's config;
    bc-safe in the proco grid is the one cell that needs its grid's preset named (`--preset proco`)."""
    from safemil.bench.grid import named_grid
    from safemil.config import to_dict
    from safemil.data import write_dsrl
    from safemil.runner import make_run_config

    data = str(write_dsrl(synthetic_dataset(n_traj=4), tmp_path / "stand-in.hdf5"))

    def resolved(cfg):
        d = to_dict(cfg)
        d.pop("preset")
        d["train"].pop("progress")  # the grid turns its runs' bars off; a terminal user sees them
        return d

    for grid in ("default", "proco"):
        for r in named_grid(grid).narrow(tasks=["HopperVelocity"], seeds=[1]).runs("unused"):
            cell = resolved(make_run_config(r.algo, r.task, data, r.seed, list(r.overrides), preset=r.preset))
            preset = "proco" if (grid, r.algo) == ("proco", "bc-safe") else "default"
            assert resolved(make_run_config(r.algo, r.task, data, r.seed, preset=preset)) == cell, (grid, r.algo)


def test_report_names_the_runs_that_barely_moved(tmp_path):
    """A low cost from standing still is flagged under the table; runs evaluated before it was counted say nothing."""
    _fake_run(tmp_path / "a", "Walker2dVelocity", "safemil", 0, 0.64, 0.0, 0.0, immobile=0)
    _fake_run(tmp_path / "a", "Walker2dVelocity", "safemil", 3, 0.36, 0.0, 0.0, immobile=7)
    _fake_run(tmp_path / "a", "Walker2dVelocity", "bc-u", 0, 0.8, 9.0, 12.0, immobile=0)
    records = collect(tmp_path / "a")
    md = markdown(summarize(records), records=records)
    assert "Walker2dVelocity safemil 7/20 (seed 3)" in md and "bc-u" not in md.split("barely moved")[1]
    write_csv(records, tmp_path / "runs.csv")
    assert [r.immobile_episodes for r in read_runs_csv(tmp_path / "runs.csv")] == [0, 0, 7]
    _fake_run(tmp_path / "b", "HopperVelocity", "bc-u", 0, 0.5, 0.0, 0.0, immobile=0)
    clean = collect(tmp_path / "b")
    assert "No evaluation episode barely moved" in markdown(summarize(clean), records=clean)
    _fake_run(tmp_path / "c", "HopperVelocity", "bc-u", 0, 0.5, 0.0, 0.0)  # evaluated before the count existed
    old = collect(tmp_path / "c")
    assert old[0].immobile_episodes is None and "moved" not in markdown(summarize(old), records=old)
    write_csv(old, tmp_path / "old.csv")  # a runs.csv written before the column existed still reads
    lines = (tmp_path / "old.csv").read_text().splitlines()
    (tmp_path / "old.csv").write_text("\n".join(row.rsplit(",", 1)[0] for row in lines) + "\n")
    assert read_runs_csv(tmp_path / "old.csv")[0].immobile_episodes is None


def test_a_method_that_mostly_stood_still_is_not_the_best_safe_one_nor_the_cvar_reference(tmp_path):
    """Hopper's pattern: a baseline safe only by standing still in most episodes loses "best" and the
    CVaR reference to one that moves; with no counts (navigation, old runs) nothing changes."""
    for s in range(2):
        _fake_run(tmp_path / "a", "HopperVelocity", "trex-wbc", s, 0.54, 0.0, 0.0, immobile=10)  # 20/20 still
        _fake_run(tmp_path / "a", "HopperVelocity", "dwbc-nu", s, 0.50, 0.6, 2.0, immobile=3 * s)  # 3/20
        _fake_run(tmp_path / "a", "HopperVelocity", "safemil", s, 0.45, 0.4, 1.0, immobile=0)
    rows = {r.algo: r for r in summarize(collect(tmp_path / "a"))}
    assert rows["trex-wbc"].safe and not rows["trex-wbc"].moves and rows["trex-wbc"].immobile_share == 1.0
    assert rows["dwbc-nu"].best and not rows["trex-wbc"].best and rows["dwbc-nu"].immobile_share == 0.15
    assert cvar_ratios(list(rows.values())) == {"HopperVelocity": 0.5}  # against dwbc-nu's 2.0, not trex's 0.0
    md = markdown(list(rows.values()))
    assert "barely moved in at most 50% of their evaluation episodes" in md
    for s in range(2):  # the same numbers without counts: trex-wbc is best, the reference CVaR is 0
        _fake_run(tmp_path / "b", "HopperVelocity", "trex-wbc", s, 0.54, 0.0, 0.0)
        _fake_run(tmp_path / "b", "HopperVelocity", "safemil", s, 0.45, 0.4, 1.0)
    rows = {r.algo: r for r in summarize(collect(tmp_path / "b"))}
    assert rows["trex-wbc"].best and rows["trex-wbc"].moves
    assert "barely moved in at most" not in markdown(list(rows.values()))
