"""Results from two versions of a dataset never mix; plus the small integrity fixes around the runner.

Dataset identity: the sha256 recorded in each run (config, eval.json, CSV), the
grid refusing to skip or resume a run made from a replaced file, the runner
refusing to resume one, and the report refusing to table two versions of a task.
Also: `Dataset.index` computed once, `WeightedBC`'s public tensors, and
TensorBoard curves without duplicate steps after a resume.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from safemil.bench import GridSpec, collect, run_grid, write_csv
from safemil.bench.report import ReportError
from safemil.data import fingerprint, read_dsrl, write_dsrl
from safemil.data.fingerprint import dataset_sha256
from safemil.errors import DatasetError
from safemil.runner import make_run_config, resume, train
from safemil.runs import RunDir
from tests.conftest import synthetic_dataset
from tests.test_bench import InProcess
from tests.tiny_swimmer import TASK, TINY_SPLIT, make_tiny_dataset

TINY = [*TINY_SPLIT, "train.log_every=10", "train.checkpoint_every=20", "bc-u:steps=40"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return make_tiny_dataset(tmp_path_factory.mktemp("data") / "tiny.hdf5")


def _new_version(path: Path) -> None:
    """Replace the file in place with different content (same name, same shapes: a new behaviour policy)."""
    ds = read_dsrl(path)
    write_dsrl(dataclasses.replace(ds, rewards=ds.rewards + 1.0), path)


def test_hash_is_the_files_sha256_and_is_computed_once_per_version(tmp_path, monkeypatch):
    p = tmp_path / "d.bin"
    p.write_bytes(b"version one")
    calls = []
    real = hashlib.sha256
    monkeypatch.setattr(fingerprint.hashlib, "sha256", lambda: calls.append(1) or real())
    h1 = dataset_sha256(p)
    assert h1 == real(b"version one").hexdigest()
    assert dataset_sha256(p) == h1 and dataset_sha256(str(p)) == h1 and len(calls) == 1  # memoised
    p.write_bytes(b"version two!")  # another size (and mtime): hashed again
    assert dataset_sha256(p) == real(b"version two!").hexdigest() and len(calls) == 2
    with pytest.raises(DatasetError, match="cannot read dataset .*missing"):
        dataset_sha256(tmp_path / "missing")


def test_grid_refuses_runs_made_from_a_replaced_dataset(tiny, tmp_path):
    data = tmp_path / "tiny.hdf5"
    shutil.copy(tiny, data)
    first = dataset_sha256(data)
    grid = GridSpec([TASK], ["bc-u"], [0, 1], TINY, {TASK: str(data)})
    root = tmp_path / "bench"
    runs = grid.runs(root)
    assert {o.status for o in run_grid(dataclasses.replace(grid, seeds=[0]), root, InProcess(),
                                       progress=False).outcomes} == {"done"}
    cfg = make_run_config("bc-u", TASK, str(data), 1, [*runs[1].overrides, "train.progress=false"],
                          preset=runs[1].preset)
    assert train(cfg, runs[1].out_dir, stop_at=30) is None  # seed 1 interrupted after its checkpoint

    # the hash is recorded with the run, in eval.json and in the CSV
    assert RunDir(runs[0].out_dir).read_config()["dataset_sha256"] == first
    ev = json.loads((Path(runs[0].out_dir) / "eval.json").read_text())
    assert ev["dataset_sha256"] == first and 0 < ev["eval_wall_s"] < ev["total_wall_s_this_session"]
    assert json.loads((Path(runs[0].out_dir) / "bench.json").read_text())["cpu_s"] > 0
    with open(write_csv(collect(root), tmp_path / "runs.csv")) as f:
        assert [r["dataset_sha256"] for r in csv.DictReader(f)] == [first]

    _new_version(data)
    assert dataset_sha256(data) != first
    before = (root / "outcomes.jsonl").read_text()
    with pytest.raises(DatasetError, match=r"2 run\(s\) under .* do not match the current dataset files; first: "
                                           rf"run .*seed0 was trained on another version of .*tiny.hdf5 "
                                           rf"\(sha256 {first[:12]}"):
        run_grid(grid, root, InProcess(), progress=False)
    assert (root / "outcomes.jsonl").read_text() == before  # nothing ran, nothing was recorded

    # the standalone runner refuses to resume the interrupted run on the new file too
    with pytest.raises(DatasetError, match="seed1 was trained on another version"):
        resume(runs[1].out_dir)
    # a fresh directory is fine, and records the new hash
    res = run_grid(dataclasses.replace(grid, seeds=[0]), tmp_path / "fresh", InProcess(), progress=False)
    assert [o.status for o in res.outcomes] == ["done"]
    assert res.outcomes[0].metrics["dataset_sha256"] == dataset_sha256(data)


def test_report_refuses_two_dataset_versions_of_one_task(tmp_path):
    for seed, sha in enumerate(["a" * 64, "a" * 64, "b" * 64]):
        d = tmp_path / TASK / "bc-u" / f"seed{seed}"
        d.mkdir(parents=True)
        (d / "eval.json").write_text(json.dumps({
            "task": TASK, "algo": "bc-u", "seed": seed, "normalized_return": 0.5, "normalized_cost": 1.0,
            "cvar20_cost": 2.0, "mean_return": 1.0, "mean_cost": 1.0, "episodes": 2, "dataset_sha256": sha}))
        (d / "bench.json").write_text(json.dumps({"wall_s": 3.0, "cpu_s": 2.0, "sessions": 1}))
    with pytest.raises(ReportError, match=f"the {TASK} runs come from 2 versions of its dataset .*aaaaaaaaaaaa "
                                          r"\(2 runs.*bbbbbbbbbbbb \(1 runs"):
        collect(tmp_path)
    shutil.rmtree(tmp_path / TASK / "bc-u" / "seed2")
    records = collect(tmp_path)
    assert [(r.dataset_sha256, r.wall_s, r.cpu_s) for r in records] == [("a" * 64, 3.0, 2.0)] * 2


def test_dataset_index_is_computed_once_and_its_inputs_are_read_only():
    ds = synthetic_dataset()
    idx = ds.index
    assert ds.index is idx and len(idx) == 40
    with pytest.raises(ValueError, match="read-only"):
        ds.timeouts[0] = True  # would silently invalidate the cached index
    caller = np.zeros(4, bool)
    caller[1] = True
    small = dataclasses.replace(synthetic_dataset(n_traj=1, min_len=4, max_len=4), terminals=caller)
    assert len(small.index) == 2
    caller[2] = True  # only writes through the dataset are refused: the caller's array stays writable


def test_weighted_bc_exposes_its_training_tensors():
    import torch

    from safemil.policies import BCConfig, WeightedBC

    view = synthetic_dataset().learner_view()
    bc = WeightedBC(view, BCConfig(batch_size=32, segment_len=4), seed=0)
    assert bc.observations.dtype == bc.actions.dtype == torch.float32
    assert np.allclose(bc.observations.numpy(), view.observations)
    assert np.allclose(bc.actions.numpy(), view.actions)


def test_tensorboard_has_no_duplicate_steps_after_a_resume(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from torch.utils.tensorboard import SummaryWriter

    # Event files are read in name order, <second>.<host>.<pid>.<counter>: put the first writer at
    # counter 9, 99 or 999 (the process's writers count up), so a resumed writer opened in the same
    # second would be named ...10 (or 100) and sort before it unless the run dir waits a second.
    throwaway = 0
    while True:
        w = SummaryWriter(log_dir=str(tmp_path / f"throwaway{throwaway}"))
        w.close()
        counter = int(next((tmp_path / f"throwaway{throwaway}").iterdir()).name.rsplit(".", 1)[1])
        throwaway += 1
        if counter + 1 in (9, 99, 999) or counter > 999:
            break
    rd = RunDir(tmp_path / "run")
    for step in (10, 20, 30, 40):  # checkpoint at 20, killed after logging 40
        rd.log(step, {"loss": float(step)})
    rd.close()
    again = RunDir(tmp_path / "run")  # the resumed process
    again.truncate_metrics(20)
    for step in (30, 40, 50):
        again.log(step, {"loss": float(step) + 0.5})
    again.close()
    acc = EventAccumulator(str(tmp_path / "run" / "tb"))
    acc.Reload()
    events = acc.Scalars("loss")
    assert [e.step for e in events] == [10, 20, 30, 40, 50]
    assert [e.value for e in events] == [10.0, 20.0, 30.5, 40.5, 50.5]
    assert [r["step"] for r in again.read_metrics()] == [10, 20, 30, 40, 50]


def test_default_grid_gives_every_method_the_same_budget(tmp_path):
    from safemil.algos import get_algo
    from safemil.bench.grid import PAPER_ALGOS, named_grid
    from safemil.config import apply_overrides
    from safemil.presets import COST_STEPS, EVAL_EPISODES, POLICY_STEPS, get_preset
    from safemil.runner import EvalSettings, TrainSettings, split_overrides

    grid = named_grid("default")
    assert len(grid.runs(tmp_path)) == 150 and set(grid.algos) == set(PAPER_ALGOS)
    policy, cost = {}, {}
    n = len(grid.seeds)
    for run in grid.runs(tmp_path)[:len(PAPER_ALGOS) * n:n]:  # one cell per method
        overrides = [*get_preset(run.preset).overrides(run.algo), *run.overrides]
        run_ov, algo_ov = split_overrides(overrides)
        cfg = apply_overrides(get_algo(run.algo).config_cls(), algo_ov)
        ev = apply_overrides(EvalSettings(), [o.removeprefix("eval.") for o in run_ov if o.startswith("eval.")])
        apply_overrides(TrainSettings(), [o.removeprefix("train.") for o in run_ov if o.startswith("train.")])
        assert ev.episodes == ev.num_envs == EVAL_EPISODES  # one lock-step wave of episodes
        policy[run.algo] = getattr(cfg, "steps", None) or cfg.policy_steps
        cost[run.algo] = {"trex-wbc": lambda c: c.cost.steps, "safedice": lambda c: c.classifier_steps,
                          "safemil": lambda c: c.mil.steps}.get(run.algo, lambda c: None)(cfg)
    assert set(policy.values()) == {POLICY_STEPS}  # the same weighted-BC budget for every method
    assert {a: c for a, c in cost.items() if c is not None} == dict.fromkeys(("trex-wbc", "safedice", "safemil"),
                                                                                COST_STEPS)


def test_nav_grid_gives_every_learned_cost_and_actor_the_same_lidar_encoder():
    from safemil.algos import get_algo
    from safemil.bench.grid import PAPER_ALGOS
    from safemil.config import apply_overrides
    from safemil.presets import get_preset
    from safemil.runner import split_overrides

    costs, actors = {}, {}
    for algo in PAPER_ALGOS:
        _, algo_ov = split_overrides(get_preset("default").overrides(algo, "navigation"))
        cfg = apply_overrides(get_algo(algo).config_cls(), algo_ov)
        actors[algo] = cfg.bc.actor.lidar_encoder
        net = {"trex-wbc": "cost", "safemil": "mil", "dwbc-nu": "disc", "safedice": "dice"}.get(algo)
        if net is not None:
            costs[algo] = getattr(cfg, net).lidar_encoder
    assert set(actors.values()) == {(32, 8)} and set(actors) == set(PAPER_ALGOS)
    assert set(costs.values()) == {(32, 8)} and len(costs) == 4


def test_swimmer_and_halfcheetah_cells_clone_a_mixture_other_tasks_do_not(tmp_path):
    """The default preset's per-task entries: on SwimmerVelocity every default-grid method's actor is a
    mixture evaluated with sampled actions (a noise-free clone falls into its slowest gait); on
    HalfCheetahVelocity a mixture evaluated noise-free; elsewhere the deterministic actor's noise-free
    action. Resolved as a run resolves it (`make_run_config`); a config only hashes its dataset, so one
    small file stands in for every task's."""
    from safemil.bench.grid import PAPER_ALGOS
    from safemil.presets import get_preset
    from safemil.runner import algo_config

    data = str(write_dsrl(synthetic_dataset(n_traj=4), tmp_path / "stand-in.hdf5"))

    def resolved(algo, task):
        cfg = make_run_config(algo, task, data, preset="default")
        return algo_config(cfg).bc.actor.kind, cfg.eval.deterministic

    for algo in PAPER_ALGOS:
        assert resolved(algo, "SwimmerVelocity") == ("mixture", False), algo
        assert resolved(algo, "HalfCheetahVelocity") == ("mixture", True), algo
        assert resolved(algo, "HopperVelocity")[1] is True, algo
    assert resolved("bc-safe", "HopperVelocity") == ("deterministic", True)
    swimmer, hopper = (make_run_config("bcq-lag", t, data, preset="default") for t in ("SwimmerVelocity", "HopperVelocity"))
    assert (swimmer.config, swimmer.eval) == (hopper.config, hopper.eval)
    default = get_preset("default")
    assert default.overrides("bcq-lag", "velocity", "SwimmerVelocity") == default.overrides("bcq-lag", "velocity",
                                                                                            "HopperVelocity")
    # the proco grid's BC learners follow the default grid's on HalfCheetah (its bcq-lag has no BC actor)
    for preset in ("default", "proco"):
        for algo in ("bc-safe", "bc-safe+proco"):
            cfg = make_run_config(algo, "HalfCheetahVelocity", data, preset=preset)
            assert algo_config(cfg).bc.actor.kind == "mixture", (preset, algo)
    assert algo_config(make_run_config("bc-safe", "HopperVelocity", data, preset="proco")).bc.actor.kind == "deterministic"
