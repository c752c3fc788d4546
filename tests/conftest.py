"""Shared fixtures: tiny datasets generated on the fly (no downloads, seconds to build).

The suite is hermetic: before any test runs, every folder safemil (or a library it
uses) would read from the user's machine (cache, data, DSRL downloads, home, config)
is pointed at a new empty temporary folder, for this process and the CLI
subprocesses the tests start. A test that needs a dataset makes a small one; a test
that silently used a cached default dataset would pass here and fail on a fresh clone.
"""

from __future__ import annotations

import safemil  # noqa: F401  # isort: skip  (first: it pins numpy's and torch's kernels before they load, safemil.cpu_kernels)

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

from safemil.data import Dataset

HERMETIC_VARS = ("XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "SAFEMIL_DATA_DIR", "DSRL_DATASET_DIR",
                 "MPLCONFIGDIR", "HOME")
_HERMETIC_ROOT: Path | None = None


def pytest_configure(config):
    global _HERMETIC_ROOT
    _HERMETIC_ROOT = Path(tempfile.mkdtemp(prefix="safemil-tests-"))
    for var in HERMETIC_VARS:
        folder = _HERMETIC_ROOT / var.lower()
        folder.mkdir()
        os.environ[var] = str(folder)


def pytest_unconfigure(config):
    if _HERMETIC_ROOT is not None:
        shutil.rmtree(_HERMETIC_ROOT, ignore_errors=True)


def synthetic_dataset(
    n_traj: int = 40, obs_dim: int = 8, act_dim: int = 2, seed: int = 0, task: str | None = "SwimmerVelocity",
    min_len: int = 5, max_len: int = 30,
) -> Dataset:
    """Random trajectories whose per-step cost rate varies by trajectory (so costs spread out)."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(min_len, max_len + 1, size=n_traj)
    n = int(lengths.sum())
    rate = np.repeat(rng.uniform(0, 1, size=n_traj), lengths)
    ends = np.cumsum(lengths) - 1
    terminals = np.zeros(n, dtype=bool)
    timeouts = np.zeros(n, dtype=bool)
    timeouts[ends] = True
    obs = rng.normal(size=(n, obs_dim)).astype(np.float32)
    return Dataset(
        observations=obs,
        next_observations=(obs + 0.1).astype(np.float32),
        actions=rng.uniform(-1, 1, size=(n, act_dim)).astype(np.float32),
        rewards=rng.normal(size=n).astype(np.float32),
        costs=(rng.uniform(size=n) < rate).astype(np.float32),
        terminals=terminals,
        timeouts=timeouts,
        task=task,
    )


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Tiny networks run far faster on one thread, and much more so on a loaded 2-core machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def tiny_dataset() -> Dataset:
    return synthetic_dataset()
