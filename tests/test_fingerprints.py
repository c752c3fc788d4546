"""Recorded default-dataset fingerprints and the check `safemil data generate` runs against them."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from safemil.bench.grid import VELOCITY_TASKS
from safemil.collect import default_config
from safemil.collect.fingerprints import (
    DATA_PACKAGES,
    check_fingerprint,
    current_environment,
    is_default_generation,
    recorded_environment,
    recorded_fingerprints,
)
from safemil.cpu_kernels import AVX2_PINS
from safemil.data import write_dsrl
from tests.conftest import synthetic_dataset


def test_every_velocity_task_has_a_recorded_fingerprint_and_its_environment():
    fps = recorded_fingerprints()
    assert set(VELOCITY_TASKS) <= set(fps)
    for task in VELOCITY_TASKS:
        assert re.fullmatch(r"[0-9a-f]{64}", fps[task].sha256)
        assert fps[task].trajectories == default_config(task).episodes and fps[task].transitions > 0
    env = recorded_environment()
    assert {"python", "platform", *DATA_PACKAGES} <= set(env) and "cpu" in env


def test_the_recorded_environment_is_the_locked_one():
    """requirements.lock and fingerprints.json change together (docs/reproducibility.md)."""
    from pathlib import Path

    lock = Path(__file__).parents[1] / "requirements.lock"
    pins = dict(line.strip().split("==", 1) for line in lock.read_text().splitlines()
                if line.strip() and not line.startswith("#"))
    pins = {k.lower(): v for k, v in pins.items()}
    for name in DATA_PACKAGES:
        assert pins[name] == recorded_environment()[name], name


def test_only_the_default_config_and_shipped_policy_make_the_default_dataset():
    task = "SwimmerVelocity"
    cfg = default_config(task)
    assert is_default_generation(task, cfg, policy_is_shipped=True)
    assert not is_default_generation(task, default_config(task, num_envs=3), policy_is_shipped=True)
    assert not is_default_generation(task, cfg, policy_is_shipped=False)
    assert not is_default_generation(task, default_config(task, episodes=10), policy_is_shipped=True)
    assert not is_default_generation(task, default_config(task, seed=1), policy_is_shipped=True)


def test_another_file_is_named_with_what_differs(tmp_path, monkeypatch):
    path = write_dsrl(synthetic_dataset(n_traj=3), tmp_path / "d.hdf5")
    check = check_fingerprint("SwimmerVelocity", path)
    assert not check.matches
    msg = check.message()
    assert msg.startswith("warning:") and check.sha256[:12] in msg and "published tables" in msg
    assert recorded_fingerprints()["SwimmerVelocity"].sha256[:12] in msg
    # with the recorded versions the remaining suspect is the CPU; with others, the versions are named
    monkeypatch.setattr("safemil.collect.fingerprints.current_environment", recorded_environment)
    assert "CPU" in check_fingerprint("SwimmerVelocity", path).message()
    # ...and whether this process runs the AVX2 kernels the files were made with
    for k, v in AVX2_PINS.items():
        monkeypatch.setenv(k, v)
    assert "pinned here too" in check_fingerprint("SwimmerVelocity", path).message()
    monkeypatch.setenv("OPENBLAS_CORETYPE", "SkylakeX")
    assert "SAFEMIL_NATIVE_KERNELS" in check_fingerprint("SwimmerVelocity", path).message()
    other = {**recorded_environment(), "mujoco": "0.0.1"}
    monkeypatch.setattr("safemil.collect.fingerprints.current_environment", lambda: other)
    assert "mujoco" in check_fingerprint("SwimmerVelocity", path).message()


def test_the_recorded_file_is_confirmed(tmp_path, monkeypatch):
    path = write_dsrl(synthetic_dataset(n_traj=3), tmp_path / "d.hdf5")
    check = check_fingerprint("SwimmerVelocity", path)
    fps = recorded_fingerprints()
    fake = {**fps, "SwimmerVelocity": type(fps["SwimmerVelocity"])("SwimmerVelocity", check.sha256, 3, 1)}
    monkeypatch.setattr("safemil.collect.fingerprints.recorded_fingerprints", lambda: fake)
    check = check_fingerprint("SwimmerVelocity", path)
    assert check.matches and check.message().startswith("fingerprint: sha256")


def test_current_environment_reads_the_installed_versions():
    env = current_environment()
    import numpy

    assert env["numpy"] == numpy.__version__ and env["python"].startswith("3.")


@pytest.mark.parametrize("extra", [["--episodes", "2"], ["--set", "noise_high=0.2", "--episodes", "2"]])
def test_a_non_default_generation_is_not_checked(tmp_path, extra):
    r = subprocess.run([sys.executable, "-m", "safemil", "data", "generate", "--task", "SwimmerVelocity",
                        "--out", str(tmp_path / "d.hdf5"), "--set", "max_steps=5", *extra],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "fingerprint" not in r.stdout + r.stderr and "warning" not in r.stderr


def test_written_fingerprints_read_back_with_this_interpreters_versions(tmp_path):
    import json

    from safemil.collect.fingerprints import fingerprint_of, write_fingerprints

    path = write_dsrl(synthetic_dataset(n_traj=3), tmp_path / "d.hdf5")
    fp = fingerprint_of("SwimmerVelocity", path)
    assert fp.trajectories == 3 and fp.sha256 == check_fingerprint("SwimmerVelocity", path).sha256
    out = json.loads(write_fingerprints({"SwimmerVelocity": fp}, tmp_path / "f.json").read_text())
    assert out["datasets"]["SwimmerVelocity"] == {"sha256": fp.sha256, "trajectories": 3,
                                                  "transitions": fp.transitions}
    assert {k: out["made_with"][k] for k in current_environment()} == current_environment()
    assert out["made_with"]["cpu"]


def test_the_reproducibility_page_quotes_the_recorded_fingerprints():
    """docs/reproducibility.md's table of default datasets names each recorded file by its sha256's first
    12 digits; a regenerated dataset whose record changed without the page is caught here."""
    from pathlib import Path

    page = (Path(__file__).parents[1] / "docs" / "reproducibility.md").read_text()
    quoted = dict(re.findall(r"^\| (\w+) \| `([0-9a-f]{12})…` \|", page, flags=re.M))
    recorded = {task: fp.sha256[:12] for task, fp in recorded_fingerprints().items()}
    assert quoted == recorded
