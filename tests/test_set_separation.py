"""scripts/set_separation.py: the evaluator-side table behind docs/safemil.md's "What set membership rewards"."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from safemil.data import SplitConfig, make_split, read_dsrl, write_dsrl
from tests.conftest import synthetic_dataset

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "set_separation.py"


def _script():
    spec = importlib.util.spec_from_file_location("set_separation", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_row_reads_the_velocity_field_and_the_true_cost_separation(tmp_path):
    # long trajectories, so that 50 of them reach the split's D_N threshold (cost >= 75)
    d = synthetic_dataset(n_traj=160, min_len=150, max_len=200, seed=3)
    vel = 3  # SwimmerVelocity's x_velocity
    d.observations[:, vel] = d.costs + 0.01 * np.random.default_rng(0).normal(size=len(d.costs))
    path = write_dsrl(d, tmp_path / "swim.hdf5")
    row = _script().task_row("SwimmerVelocity", seed=0, dataset=str(path))
    cells = [c.strip() for c in row.strip("|").split("|")]
    # the velocity field is the cost plus noise: it ranks the hidden step cost perfectly at s
    assert cells[2].startswith("`x_velocity`") and "cost 1.000 /" in cells[2]
    # the true cost's own set separation is 0.5 + (costly share in D_N - in D_U) / 2
    split = make_split(read_dsrl(path), SplitConfig(seed=0))
    p_n = (split.labelled("negative").costs > 0).mean()
    p_u = (split.labelled("unlabeled").costs > 0).mean()
    assert float(cells[1]) == pytest.approx(0.5 + (p_n - p_u) / 2, abs=5e-4)
    # here the cost is the best separator too: the last column names the same field
    assert cells[3].startswith("`x_velocity`")
