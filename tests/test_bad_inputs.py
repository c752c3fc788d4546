"""Malformed input through the CLI: one `error: ...` line on stderr, a non-zero exit, no traceback,
and nothing left behind that blocks the corrected command.

Every case runs `safemil.cli.main` in-process (the same code `python -m safemil` runs; a subprocess
costs about 2 s here, so a few cases below also check the real entry point). Cases are chosen to
fail before any environment or training work, so the table stays fast. Each test has its own
cache, data, DSRL and home folders under ``tmp_path`` and runs from ``tmp_path/w``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

import safemil.runner as runner
from safemil import files
from safemil.cli import main
from safemil.data import SplitConfig, make_split, read_dsrl
from safemil.errors import OutputError, SafemilError
from safemil.policies.bc import BCConfig, WeightedBC
from safemil.proco.knowledge import KnowledgeSettings, make_knowledge_cost
from safemil.runner import make_run_config, resume, train
from tests.test_proco_algos import RUN as PROCO_RUN
from tests.test_proco_algos import TINY as PROCO_TINY
from tests.tiny_swimmer import TASK, TINY_SPLIT, make_tiny_dataset

SRC = str(Path(__file__).resolve().parents[1] / "src")
ENV_DIRS = {"XDG_CACHE_HOME": "cache", "SAFEMIL_DATA_DIR": "data", "DSRL_DATASET_DIR": "dsrl", "HOME": "home"}
T = TASK
RUN = [*TINY_SPLIT, "steps=5"]  # a bc-u run that would finish in a second, were its input right


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return make_tiny_dataset(tmp_path_factory.mktemp("data") / "tiny.hdf5")


@pytest.fixture
def work(tmp_path, tiny, monkeypatch) -> Path:
    """``tmp_path/w``: the current folder, with a bad input of every kind; user folders point under tmp_path."""
    for var, name in ENV_DIRS.items():
        (tmp_path / "env" / name).mkdir(parents=True)
        monkeypatch.setenv(var, str(tmp_path / "env" / name))
    w = tmp_path / "w"
    w.mkdir()
    monkeypatch.chdir(w)
    _bad_files(w, tiny)
    return w


def _bad_files(w: Path, tiny: Path) -> None:
    (w / "afile").write_text("a regular file\n")
    (w / "emptydir").mkdir()
    (w / "empty.hdf5").write_bytes(b"")
    (w / "garbage.hdf5").write_bytes(b"garbage, not hdf5")
    data = tiny.read_bytes()
    (w / "truncated.hdf5").write_bytes(data[: len(data) // 2])
    with h5py.File(w / "nokeys.hdf5", "w") as f:
        f["x"] = np.zeros(3)
    with h5py.File(tiny) as src, h5py.File(w / "nan.hdf5", "w") as f:
        for k in src:
            f[k] = src[k][()]
        f["rewards"][3] = np.nan
    (w / "garbage.json").write_text("{not json")
    (w / "garbage.npz").write_bytes(b"not a weight file")
    _run_dir(w / "badyaml", "algo: [unclosed\n")
    _run_dir(w / "listyaml", "- 1\n- 2\n")
    _run_dir(w / "badkey", f"algo: bc-u\ntask: {T}\ndataset: {tiny}\nbogus: 1\n")
    _run_dir(w / "badtype", f"algo: bc-u\ntask: {T}\ndataset: {tiny}\nseed: many\n")
    _run_dir(w / "noalgo", f"task: {T}\ndataset: {tiny}\n")
    _run_dir(w / "nockpt", f"algo: bc-u\ntask: {T}\ndataset: {tiny}\n")
    _run_dir(w / "badckpt", f"algo: bc-u\ntask: {T}\ndataset: {tiny}\n")
    (w / "badckpt" / "checkpoint.pt").write_bytes(b"torn")
    seed0 = w / "bench" / T / "bc-u" / "seed0"
    seed0.mkdir(parents=True)
    (seed0 / "eval.json").write_text("{broken")
    seed0 = w / "bench2" / T / "bc-u" / "seed0"
    seed0.mkdir(parents=True)
    (seed0 / "eval.json").write_text(json.dumps({
        "task": T, "algo": "bc-u", "seed": 0, "normalized_return": 0.5, "normalized_cost": 0.5,
        "cvar20_cost": 1.0, "mean_return": 50, "mean_cost": 12, "episodes": 2, "cost_limit": 25.0,
        "train_steps": 5}))
    (seed0 / "config.yaml").write_text("data: [unclosed\n")


def _run_dir(path: Path, config: str) -> None:
    path.mkdir()
    (path / "config.yaml").write_text(config)


# (case id, argv); {D} is the tiny dataset, {H} a Hopper cost file made on the fly
CASES: list[tuple[str, list[str]]] = [
    # usage errors: click's own checks, as one line
    ("no-such-command", ["nope"]),
    ("no-such-subcommand", ["data", "nope"]),
    ("tasks-unknown-option", ["tasks", "--bogus"]),
    ("tasks-extra-argument", ["tasks", "extra"]),
    ("evaluate-episodes-zero", ["eval", "--task", T, "--episodes", "0"]),
    ("evaluate-episodes-not-int", ["eval", "--task", T, "--episodes", "many"]),
    ("evaluate-negative-seed", ["eval", "--task", T, "--seed", "-1"]),
    ("evaluate-missing-task", ["eval"]),
    ("train-seed-not-int", ["train", "bc-u", "--task", T, "--seed", "abc"]),
    ("eval-episodes-zero", ["eval", "nockpt", "--episodes", "0"]),
    ("quickstart-episodes-negative", ["quickstart", "--episodes", "-3"]),
    ("quickstart-negative-seed", ["quickstart", "--seed", "-1"]),
    ("info-cost-limit-not-number", ["data", "info", "{D}", "--cost-limit", "abc"]),
    ("info-cost-limit-nan", ["data", "info", "{D}", "--cost-limit", "nan"]),
    ("evaluate-negative-cost-limit", ["eval", "--task", T, "--cost-limit", "-1"]),
    ("cost-defaults-unknown-option", ["cost", "defaults", "--bogus"]),
    # names
    ("evaluate-unknown-policy", ["eval", "--task", T, "--policy", "expert"]),
    ("eval-run-and-task", ["eval", "nockpt", "--task", T]),
    ("eval-task-with-sample", ["eval", "--task", T, "--sample"]),
    ("eval-run-with-num-envs", ["eval", "nockpt", "--num-envs", "4"]),
    ("train-unknown-algo", ["train", "nope", "--task", T, "--dataset", "{D}"]),
    ("train-unknown-task", ["train", "bc-u", "--task", "Nope", "--dataset", "{D}"]),
    ("train-missing-task", ["train", "bc-u", "--dataset", "{D}"]),
    ("train-missing-algo", ["train", "--task", T]),
    ("train-override-as-algo", ["train", "steps=5", "--task", T]),
    ("train-unknown-data-mode", ["train", "bc-u", "--task", T, "--dataset", "{D}", "--data", "bogus"]),
    ("train-rule-for-non-proco", ["train", "bc-u", "--task", T, "--dataset", "{D}", "--rule", "x_velocity > 1"]),
    ("algos-unknown", ["algos", "nope"]),
    ("generate-unknown-task", ["data", "generate", "--task", "Nope"]),
    ("report-unknown-task", ["data", "report", "Nope", "--doc", "d.md", "--img-dir", "img"]),
    ("ground-unknown-task", ["cost", "ground", "--task", "Nope"]),
    ("ground-unknown-backend", ["cost", "ground", "--task", T, "--backend", "magic"]),
    ("ground-unknown-field", ["cost", "ground", "--task", T, "--rule", "speed > 1"]),
    ("ground-rule-syntax", ["cost", "ground", "--task", T, "--rule", "x_velocity >"]),
    ("ground-unknown-states", ["cost", "ground", "--task", T, "--dataset", "{D}", "--states", "bogus"]),
    ("collect-unknown-task", ["collect", "train", "--task", "Nope"]),
    ("bench-unknown-grid", ["bench", "--grid", "nope", "--out", "b"]),
    ("bench-unknown-task", ["bench", "--tasks", "Nope", "--algos", "bc-u", "--out", "b"]),
    ("bench-unknown-algo", ["bench", "--tasks", T, "--algos", "nope", "--out", "b"]),
    ("bench-unknown-executor", ["bench", "--tasks", T, "--algos", "bc-u", "--out", "b", "--executor", "slurm"]),
    ("bench-no-tasks", ["bench", "--algos", "bc-u", "--out", "b"]),
    ("quickstart-unknown-task", ["quickstart", "--task", "Nope"]),
    # override keys, values, types
    ("train-unknown-key", ["train", "bc-u", "--task", T, "--dataset", "{D}", "bogus=1"]),
    ("train-override-without-equals", ["train", "bc-u", "--task", T, "--dataset", "{D}", "steps"]),
    ("train-value-wrong-type", ["train", "bc-u", "--task", T, "--dataset", "{D}", "steps=abc"]),
    ("train-key-not-nested", ["train", "bc-u", "--task", T, "--dataset", "{D}", "steps.x=1"]),
    ("train-negative-steps", ["train", "bc-u", "--task", T, "--dataset", "{D}", *TINY_SPLIT, "steps=-5"]),
    ("train-negative-n-negative", ["train", "bc-u", "--task", T, "--dataset", "{D}", "split.n_negative=-1"]),
    ("train-log-every-zero", ["train", "bc-u", "--task", T, "--dataset", "{D}", "train.log_every=0"]),
    ("train-threads-zero", ["train", "bc-u", "--task", T, "--dataset", "{D}", *RUN, "train.threads=0"]),
    ("train-eval-episodes-zero", ["train", "bc-u", "--task", T, "--dataset", "{D}", *TINY_SPLIT, "eval.episodes=0"]),
    ("train-negative-seed", ["train", "bc-u", "--task", T, "--dataset", "{D}", *RUN, "--seed", "-1"]),
    ("train-negative-split-seed", ["train", "bc-u", "--task", T, "--dataset", "{D}", *RUN, "split.seed=-1"]),
    ("train-nan-learning-rate", ["train", "bc-u", "--task", T, "--dataset", "{D}", *RUN, "bc.lr=nan"]),
    ("train-negative-grad-clip", ["train", "bc-u", "--task", T, "--dataset", "{D}", *RUN, "bc.grad_clip=-1"]),
    ("train-negative-cost-limit", ["train", "bc-u", "--task", T, "--dataset", "{D}", *RUN, "split.cost_limit=-5"]),
    ("train-weights-on-plain-bc", ["train", "bc-safe", "--task", T, "--dataset", "{D}", *RUN, "bc.weights.kind=soft"]),
    ("train-unknown-knowledge-backend", ["train", "proco", "--task", T, "--dataset", "{D}",
                                         "layer.knowledge.backend=bogus"]),
    ("train-negative-bcq-perturbation", ["train", "bcq-lag", "--task", T, "--dataset", "{D}", "phi=-1"]),
    ("train-negative-seed-offset", ["train", "bc-u", "--task", T, "--dataset", "{D}", *RUN,
                                    "eval.seed_offset=-100000"]),
    ("generate-negative-episodes", ["data", "generate", "--task", T, "--episodes", "-3", "--out", "g.hdf5"]),
    ("generate-zero-envs", ["data", "generate", "--task", T, "--num-envs", "0", "--out", "g.hdf5"]),
    ("generate-unknown-set-key", ["data", "generate", "--task", T, "--set", "bogus=1", "--out", "g.hdf5"]),
    ("generate-set-wrong-type", ["data", "generate", "--task", T, "--set", "episodes=abc", "--out", "g.hdf5"]),
    ("generate-set-negative-seed", ["data", "generate", "--task", T, "--set", "seed=-1", "--out", "g.hdf5"]),
    ("generate-negative-seed", ["data", "generate", "--task", T, "--seed", "-1", "--out", "g.hdf5"]),
    ("ground-negative-margin", ["cost", "ground", "--task", T, "--margin", "-1"]),
    ("ground-nan-margin", ["cost", "ground", "--task", T, "--margin", "nan"]),
    ("collect-negative-steps", ["collect", "train", "--task", T, "--steps", "-5", "--workdir", "wd"]),
    ("collect-unknown-set-key", ["collect", "train", "--task", T, "--set", "bogus=1", "--workdir", "wd"]),
    ("install-bad-snapshot", ["collect", "install", "--task", T, "--workdir", "emptydir", "--snapshot", "abc"]),
    ("bench-seeds-not-a-count", ["bench", "--tasks", T, "--algos", "bc-u", "--seeds", "abc", "--out", "b"]),
    ("bench-seeds-zero", ["bench", "--tasks", T, "--algos", "bc-u", "--seeds", "0", "--out", "b"]),
    ("bench-negative-seed", ["bench", "--tasks", T, "--algos", "bc-u", "--seeds", "-1,2", "--out", "b"]),
    ("bench-zero-workers", ["bench", "--tasks", T, "--algos", "bc-u", "--workers", "0", "--out", "b"]),
    ("bench-dataset-not-task-path", ["bench", "--tasks", T, "--algos", "bc-u", "--dataset", "x", "--out", "b"]),
    ("bench-unknown-override", ["bench", "--tasks", T, "--algos", "bc-u", "--dataset", f"{T}={{D}}", "--out", "b",
                                "bogus=1"]),
    # dataset files
    ("info-missing-file", ["data", "info", "missing.hdf5"]),
    ("info-empty-file", ["data", "info", "empty.hdf5"]),
    ("info-not-hdf5", ["data", "info", "garbage.hdf5"]),
    ("info-truncated-hdf5", ["data", "info", "truncated.hdf5"]),
    ("info-no-dsrl-keys", ["data", "info", "nokeys.hdf5"]),
    ("info-nan-reward", ["data", "info", "nan.hdf5"]),
    ("info-directory", ["data", "info", "emptydir"]),
    ("info-wrong-task", ["data", "info", "{D}", "--task", "HopperVelocity"]),
    ("train-dataset-directory", ["train", "bc-u", "--task", T, "--dataset", "emptydir", "--out", "r"]),
    ("train-dataset-missing", ["train", "bc-u", "--task", T, "--dataset", "missing.hdf5", "--out", "r"]),
    ("train-dataset-empty", ["train", "bc-u", "--task", T, "--dataset", "empty.hdf5", "--out", "r"]),
    ("train-dataset-truncated", ["train", "bc-u", "--task", T, "--dataset", "truncated.hdf5", "--out", "r"]),
    ("train-dataset-wrong-task", ["train", "bc-u", "--task", "HopperVelocity", "--dataset", "{D}", "--out", "r"]),
    ("train-no-default-dataset", ["train", "bc-u", "--task", T, "--out", "r"]),
    ("ground-dataset-directory", ["cost", "ground", "--task", T, "--dataset", "emptydir"]),
    ("ground-dataset-wrong-task", ["cost", "ground", "--task", "HopperVelocity", "--dataset", "{D}"]),
    ("bench-dataset-directory", ["bench", "--tasks", T, "--algos", "bc-u", "--dataset", f"{T}=emptydir", "--out", "b"]),
    ("bench-no-default-dataset", ["bench", "--tasks", T, "--algos", "bc-u", "--out", "b"]),
    ("quickstart-dataset-directory", ["quickstart", "--dataset", "emptydir", "--out", "q"]),
    ("quickstart-dataset-wrong-task", ["quickstart", "--dataset", "{D}", "--task", "HopperVelocity", "--out", "q"]),
    ("generate-policy-not-npz", ["data", "generate", "--task", T, "--policy", "garbage.npz", "--out", "g.hdf5"]),
    ("generate-policy-missing", ["data", "generate", "--task", T, "--policy", "none.npz", "--out", "g.hdf5"]),
    ("install-missing-workdir", ["collect", "install", "--task", T, "--workdir", "missing", "--dest", "dest"]),
    ("throttle-not-a-pair", ["collect", "throttle", "--task", T, "--part", "0", "--throttle", "0.5", "--dest", "d"]),
    ("throttle-scale-over-one", ["collect", "throttle", "--task", T, "--part", "0", "--throttle", "0.5,1.5",
                                 "--dest", "d"]),
    ("throttle-no-such-part", ["collect", "throttle", "--task", T, "--part", "99", "--throttle", "0.5,0.5",
                               "--dest", "d"]),
    ("throttle-source-missing", ["collect", "throttle", "--task", T, "--part", "0", "--throttle", "0.5,0.5",
                                 "--source", "none.npz", "--dest", "d"]),
    ("data-report-no-dataset", ["data", "report", T, "--doc", "d.md", "--img-dir", "img"]),
    # cost files
    ("check-missing-cost-file", ["cost", "check", "missing.json"]),
    ("check-cost-file-not-json", ["cost", "check", "garbage.json"]),
    ("check-cost-file-directory", ["cost", "check", "emptydir"]),
    ("train-missing-cost-file", ["train", "proco", "--task", T, "--dataset", "{D}", "--data", "safe-only",
                                 "--cost-file", "missing.json", "--out", "r"]),
    # outputs: a directory where a file goes, a file where a directory goes, a place nothing can be made
    ("train-out-under-a-file", ["train", "bc-u", "--task", T, "--dataset", "{D}", *RUN, "--out", "afile/r"]),
    ("train-out-is-a-file", ["train", "bc-u", "--task", T, "--dataset", "{D}", *RUN, "--out", "afile"]),
    ("train-out-unwritable", ["train", "bc-u", "--task", T, "--dataset", "{D}", *RUN, "--out", "/proc/safemil/r"]),
    ("train-out-empty", ["train", "bc-u", "--task", T, "--dataset", "{D}", *RUN, "--out", ""]),
    ("bench-out-empty-with-equals", ["bench", "--tasks", T, "--algos", "bc-u", "--dataset", f"{T}={{D}}", *RUN,
                                     "--out="]),
    ("report-csv-blank", ["report", "bench2", "--csv", " "]),
    ("train-bcq-lag-no-hidden-layers", ["train", "bcq-lag", "--task", T, "--dataset", "{D}", *RUN, "hidden=[]",
                                        "--out", "r"]),
    ("info-plot-under-a-file", ["data", "info", "{D}", "--plot", "afile/p.png"]),
    ("info-plot-is-a-directory", ["data", "info", "{D}", "--plot", "emptydir"]),
    ("info-plot-not-an-image-name", ["data", "info", "{D}", "--plot", "plot.abc"]),
    ("generate-out-under-a-file", ["data", "generate", "--task", T, "--episodes", "2", "--out", "afile/g.hdf5"]),
    ("generate-out-is-a-directory", ["data", "generate", "--task", T, "--episodes", "2", "--out", "emptydir"]),
    ("ground-out-under-a-file", ["cost", "ground", "--task", T, "--out", "afile/c.json"]),
    ("ground-out-is-a-directory", ["cost", "ground", "--task", T, "--out", "emptydir"]),
    ("bench-out-under-a-file", ["bench", "--tasks", T, "--algos", "bc-u", "--dataset", f"{T}={{D}}", *RUN,
                                "--out", "afile/b"]),
    ("bench-out-unwritable", ["bench", "--tasks", T, "--algos", "bc-u", "--dataset", f"{T}={{D}}", *RUN,
                              "--out", "/proc/safemil/b"]),
    ("quickstart-out-is-a-file", ["quickstart", "--dataset", "{D}", "--out", "afile"]),
    ("report-csv-under-a-file", ["report", "bench2", "--csv", "afile/r.csv"]),
    ("report-plots-is-a-file", ["report", "bench2", "--plots", "afile"]),
    ("collect-workdir-under-a-file", ["collect", "train", "--task", T, "--steps", "10", "--workdir", "afile/wd"]),
    ("install-dest-is-a-file", ["collect", "install", "--task", T, "--workdir", "emptydir", "--dest", "afile"]),
    ("data-report-doc-is-a-directory", ["data", "report", T, "--doc", "emptydir", "--img-dir", "img"]),
    # run directories
    ("resume-missing-dir", ["train", "--resume", "missing"]),
    ("resume-a-file", ["train", "--resume", "afile"]),
    ("resume-no-config", ["train", "--resume", "emptydir"]),
    ("resume-config-not-yaml", ["train", "--resume", "badyaml"]),
    ("resume-config-a-list", ["train", "--resume", "listyaml"]),
    ("resume-config-unknown-key", ["train", "--resume", "badkey"]),
    ("resume-config-wrong-type", ["train", "--resume", "badtype"]),
    ("resume-config-missing-key", ["train", "--resume", "noalgo"]),
    ("resume-with-algo", ["train", "bc-u", "--resume", "nockpt"]),
    ("eval-missing-dir", ["eval", "missing"]),
    ("eval-no-config", ["eval", "emptydir"]),
    ("eval-config-not-yaml", ["eval", "badyaml"]),
    ("eval-no-checkpoint", ["eval", "nockpt"]),
    ("eval-torn-checkpoint", ["eval", "badckpt"]),
    ("report-missing-dir", ["report", "missing"]),
    ("report-empty-dir", ["report", "emptydir"]),
    ("report-a-file", ["report", "afile"]),
    ("report-torn-eval-json", ["report", "bench"]),
    ("report-config-not-yaml", ["report", "bench2"]),
    ("report-unknown-method", ["report", "emptydir", "--method", "nope"]),
]


def _argv(argv: list[str], tiny: Path) -> list[str]:
    return [a.replace("{D}", str(tiny)) for a in argv]


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``root`` with its size and mtime: what a failed command must leave as it was."""
    return {str(p.relative_to(root)): (p.lstat().st_size, p.lstat().st_mtime_ns) for p in sorted(root.rglob("*"))}


def _fails_in_one_line(argv: list[str], capsys) -> str:
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        main(argv)
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert e.value.code not in (0, None), err
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def _succeeds(argv: list[str], capsys) -> None:
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 0, capsys.readouterr().err


@pytest.mark.parametrize("argv", [c[1] for c in CASES], ids=[c[0] for c in CASES])
def test_malformed_input_is_one_line_and_leaves_nothing(work, tiny, argv, capsys):
    before = _tree(work)
    line = _fails_in_one_line(_argv(argv, tiny), capsys)
    assert line.startswith("error: ")
    assert _tree(work) == before  # nothing written, nothing left half-made


def test_the_table_has_at_least_fifty_distinct_cases():
    assert len({c[0] for c in CASES}) == len(CASES) >= 50
    assert len({tuple(c[1]) for c in CASES}) == len(CASES)


@pytest.mark.parametrize("argv,needle", [
    (["train", "bc-u", "--task", T, "--dataset", "emptydir"], "emptydir is a directory, not a dataset file"),
    (["train", "bc-u", "--task", T, "--dataset", "{D}", *RUN, "--out", "afile/r"], "afile is a file, not a directory"),
    (["train", "bc-u", "--task", T, "--dataset", "{D}", *RUN, "--out", "/proc/safemil/r"],
     "cannot create run directory"),
], ids=["dataset-directory", "out-under-a-file", "out-unwritable"])
def test_the_three_former_tracebacks_through_the_real_entry_point(work, tiny, argv, needle):
    env = {**os.environ, "PYTHONPATH": SRC}
    r = subprocess.run([sys.executable, "-m", "safemil", *_argv(argv, tiny)], capture_output=True, text=True,
                       env=env, cwd=work)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("error: ") and needle in r.stderr


# -- a run that fails before its first step leaves nothing that blocks the corrected retry ------------------

SAFEMIL = [*TINY_SPLIT, "policy_steps=5", "mil.steps=5", "mil.pool_size=32", "mil.n_bag_pairs=4", "bc.batch_size=64",
           "train.log_every=5", "train.checkpoint_every=5"]
PROCO = ["train", "proco", "--task", T, "--json", *PROCO_RUN, *PROCO_TINY["proco"], "layer.model_steps=10",
         "layer.feasibility_steps=10", "policy_steps=10"]


def _safemil(tiny: Path, out: Path, *more: str) -> list[str]:
    return ["train", "safemil", "--task", T, "--json", "--dataset", str(tiny), "--out", str(out), *SAFEMIL, *more]


def _retry_cases(tiny: Path, w: Path) -> dict[str, tuple[list[str], list[str], str]]:
    """Per known case: the failing command, the corrected one (both with ``--out w/run``), and its error."""
    proco = [*PROCO, "--dataset", str(tiny), "--out", str(w / "run")]
    return {
        "bag-size-too-large": (_safemil(tiny, w / "run", "mil.bag_size=500"), _safemil(tiny, w / "run", "mil.bag_size=4"),
                               "bag_size K=500 exceeds"),
        "rule-syntax": ([*proco, "--rule", "x_velocity >"], [*proco, "--rule", "x_velocity > 0.1"],
                        "not a valid expression"),
        "proco-on-the-split": ([*proco, "--data", "split", "split.n_negative=6"],
                               [*proco, "--data", "safe-only", "split.n_negative=6"],
                               "needs reward/cost-labelled offline data"),
        "cost-file-wrong-task": ([*proco, "--cost-file", str(w / "hopper.json")],
                                 [*proco, "--cost-file", str(w / "swimmer.json")], "is for task HopperVelocity"),
        "cost-file-unreadable": ([*proco, "--cost-file", str(w / "garbage.json")],
                                 [*proco, "--cost-file", str(w / "swimmer.json")], "cannot read cost file"),
    }


@pytest.mark.parametrize("case", ["bag-size-too-large", "rule-syntax", "proco-on-the-split", "cost-file-wrong-task",
                                  "cost-file-unreadable"])
def test_a_run_that_fails_before_its_first_step_can_be_retried_in_the_same_out(work, tiny, case, capsys):
    make_knowledge_cost("HopperVelocity", KnowledgeSettings(rule="x_velocity > 1")).save(work / "hopper.json")
    make_knowledge_cost(T, KnowledgeSettings(rule="x_velocity > 0.1")).save(work / "swimmer.json")
    bad, good, error = _retry_cases(tiny, work)[case]
    assert error in _fails_in_one_line(bad, capsys)
    assert not (work / "run").exists()  # the call made the folder, so it takes it back
    _succeeds(good, capsys)
    assert json.loads(capsys.readouterr().out)["train_steps"] > 0
    assert (work / "run" / "eval.json").exists()


def test_a_failed_start_keeps_what_was_in_out_before(work, tiny, capsys):
    run = work / "run"
    run.mkdir()
    (run / "notes.txt").write_text("mine")
    _fails_in_one_line(_safemil(tiny, run, "mil.bag_size=500"), capsys)
    assert sorted(p.name for p in run.iterdir()) == ["notes.txt"]
    _fails_in_one_line(_safemil(tiny, work / "a" / "b" / "c", "mil.bag_size=500"), capsys)
    assert not (work / "a").exists()  # every folder the call made, and only those, is gone


def test_a_failure_after_the_first_step_keeps_the_run_for_resume(tiny, tmp_path, monkeypatch):
    spec = runner.get_algo("bc-u")

    def failing_factory(cfg, data, seed):
        algo = spec.factory(cfg, data, seed)
        step = algo.train_step

        def train_step(i):
            if i == 3:
                raise SafemilError("a failure in the middle of training")
            return step(i)

        algo.train_step = train_step
        return algo

    monkeypatch.setattr(runner, "get_algo", lambda name: dataclasses.replace(spec, factory=failing_factory))
    cfg = make_run_config("bc-u", T, str(tiny), overrides=[*TINY_SPLIT, "steps=6", "train.log_every=2",
                                                          "train.checkpoint_every=2"])
    with pytest.raises(SafemilError, match="middle of training"):
        train(cfg, tmp_path / "run")
    assert (tmp_path / "run" / "config.yaml").exists() and (tmp_path / "run" / "checkpoint.pt").exists()
    monkeypatch.undo()
    assert resume(tmp_path / "run")["train_steps"] == 6



@pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="needs Linux sysfs (mkdir there is refused)")
def test_out_where_mkdir_is_refused(work, tiny, capsys):
    line = _fails_in_one_line(["train", "bc-u", "--task", T, "--dataset", str(tiny), *RUN, "--out", "/sys/safemil"],
                              capsys)
    assert "cannot create run directory /sys/safemil" in line


def test_an_existing_folder_without_write_permission_is_named(tmp_path, monkeypatch):
    monkeypatch.setattr(files.os, "access", lambda path, mode: False)  # as for a non-root user in a read-only folder
    with pytest.raises(OutputError, match=r"cannot create run directory .*/a/b: .*/a/b: Permission denied"):
        files.make_dirs(tmp_path / "a" / "b", "run directory")
    assert not (tmp_path / "a").exists()
    with pytest.raises(OutputError, match="cannot write --out .*c.json: .*Permission denied"):
        files.check_output_file(tmp_path / "c.json", "--out")


def test_atomic_write_names_what_is_in_the_way(tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(OutputError, match="afile is a file, not a directory"):
        files.atomic_write_text(tmp_path / "afile" / "config.yaml", "a: 1\n")
    (tmp_path / "d").mkdir()
    with pytest.raises(OutputError, match="is a directory"):
        files.atomic_write_text(tmp_path / "d", "a: 1\n")
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["afile", "d"]  # no temp file left


def test_bc_grad_clip_zero_disables_clipping_as_documented(tiny):
    """It clipped every gradient to norm 0 (no learning, silently); a negative one flipped them."""
    split = make_split(read_dsrl(tiny), SplitConfig(n_negative=6, cost_limit=5))
    bc = WeightedBC(split.unlabeled, BCConfig(grad_clip=0, weight_decay=0, batch_size=32), seed=0)
    before = [p.detach().clone() for p in bc.actor.parameters()]
    assert bc.step()["bc_grad_norm"] > 0
    assert any(not torch.equal(a, b) for a, b in zip(before, bc.actor.parameters(), strict=True))


@pytest.mark.parametrize("algo,overrides", [
    ("safedice", ["classifier_steps=3", "policy_steps=2", "dice.holdout_frac=0"]),
    ("dwbc-nu", ["steps=3", "heldout_every=1", "disc.holdout_frac=0"]),
])
def test_no_held_out_rows_is_a_valid_setting(tiny, tmp_path, algo, overrides):
    """holdout_frac=0 is in the documented range [0, 1); SafeDICE crashed on its empty held-out set."""
    cfg = make_run_config(algo, T, str(tiny), overrides=[*TINY_SPLIT, "eval.episodes=1", "eval.num_envs=1",
                                                         "bc.batch_size=16", *overrides])
    assert train(cfg, tmp_path / "run")["train_steps"] > 0
