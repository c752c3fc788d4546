from pathlib import Path

import h5py
import numpy as np
import pytest

from safemil.data import read_dsrl, resolve_dataset, write_dsrl
from safemil.data.hdf5 import REQUIRED_KEYS
from safemil.errors import DatasetError
from tests.conftest import synthetic_dataset


def test_round_trip_is_bit_identical(tmp_path, tiny_dataset):
    p = write_dsrl(tiny_dataset, tmp_path / "d.hdf5")
    back = read_dsrl(p)
    for k in REQUIRED_KEYS:
        a, b = getattr(tiny_dataset, k), getattr(back, k)
        assert a.dtype == b.dtype and a.shape == b.shape
        assert np.array_equal(a, b), k
    assert back.task == "SwimmerVelocity" or back.task is None


def test_layout_matches_dsrl(tmp_path, tiny_dataset):
    p = write_dsrl(tiny_dataset, tmp_path / "d.hdf5")
    with h5py.File(p) as f:
        assert set(REQUIRED_KEYS) <= set(f.keys())
        for k in ("observations", "next_observations", "actions", "rewards", "costs"):
            assert f[k].dtype == np.float32
            assert f[k].compression == "gzip"
        assert f["rewards"].ndim == 1


def test_reads_n_by_1_columns_and_float_flags(tmp_path, tiny_dataset):
    p = tmp_path / "u.hdf5"
    with h5py.File(p, "w") as f:
        for k in REQUIRED_KEYS:
            a = getattr(tiny_dataset, k)
            if k in ("rewards", "costs", "terminals", "timeouts"):
                a = a.astype(np.float32)[:, None]
            f.create_dataset(k, data=a)
        f.create_dataset("infos/extra", data=np.zeros(3))
    ds = read_dsrl(p)
    assert ds.rewards.shape == (len(ds),)
    assert ds.terminals.dtype == bool
    assert len(ds.index) == len(tiny_dataset.index)


def _write_raw(path, arrays):
    with h5py.File(path, "w") as f:
        for k, v in arrays.items():
            f.create_dataset(k, data=v)
    return path


def _arrays(ds):
    return {k: getattr(ds, k) for k in REQUIRED_KEYS}


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda a: a.pop("costs"), "missing key 'costs'"),
        (lambda a: a.__setitem__("actions", a["actions"][:-1]), "'actions' has"),
        (lambda a: a["observations"].__setitem__((7, 2), np.nan), "NaN or inf value at row 7"),
        (lambda a: a["rewards"].__setitem__(3, np.inf), "'rewards' has a NaN or inf value at row 3"),
        (lambda a: (a["terminals"].fill(False), a["timeouts"].fill(False)), "no trajectory ends"),
        (lambda a: a.__setitem__("next_observations", a["next_observations"][:, :3]), "'next_observations' has shape"),
        (lambda a: a.__setitem__("rewards", a["rewards"][:, None].repeat(2, 1)), "'rewards' must be 1-D"),
    ],
)
def test_validation_errors_name_the_problem(tmp_path, tiny_dataset, mutate, message):
    arrays = {k: v.copy() for k, v in _arrays(tiny_dataset).items()}
    mutate(arrays)
    p = _write_raw(tmp_path / "bad.hdf5", arrays)
    with pytest.raises(DatasetError, match=message.replace("(", r"\(").replace("[", r"\[")):
        read_dsrl(p)


def test_missing_empty_and_non_hdf5_files(tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        read_dsrl(tmp_path / "nope.hdf5")
    with pytest.raises(DatasetError, match="not found") as err:
        resolve_dataset(tmp_path / "nope.hdf5")
    assert str(err.value).count(str(tmp_path / "nope.hdf5")) == 2  # the name, then looked in it once
    (tmp_path / "empty.hdf5").write_bytes(b"")
    with pytest.raises(DatasetError, match="empty"):
        read_dsrl(tmp_path / "empty.hdf5")
    (tmp_path / "text.hdf5").write_text("hello, not hdf5")
    with pytest.raises(DatasetError, match="not an HDF5 file"):
        read_dsrl(tmp_path / "text.hdf5")
    with h5py.File(tmp_path / "nokeys.hdf5", "w"):
        pass
    with pytest.raises(DatasetError, match="none of the DSRL keys"):
        read_dsrl(tmp_path / "nokeys.hdf5")


def test_zero_rows_and_wrong_task_dims(tmp_path, tiny_dataset):
    arrays = {k: v[:0] for k, v in _arrays(tiny_dataset).items()}
    with pytest.raises(DatasetError, match="0 rows"):
        read_dsrl(_write_raw(tmp_path / "zero.hdf5", arrays))
    p = write_dsrl(tiny_dataset, tmp_path / "ok.hdf5")
    with pytest.raises(DatasetError, match="task HalfCheetahVelocity expects 17"):
        read_dsrl(p, task="HalfCheetahVelocity")
    assert read_dsrl(p, task="SwimmerVelocity").task == "SwimmerVelocity"


def test_trajectory_index_matches_ends():
    ds = synthetic_dataset(n_traj=7, seed=3)
    idx = ds.index
    assert len(idx) == 7
    assert idx.n_steps == len(ds)
    ends = idx.starts + idx.lengths - 1
    assert (ds.timeouts[ends]).all()
    assert np.array_equal(idx.rows(np.array([2, 0])), np.r_[idx.starts[2] : ends[2] + 1, 0 : ends[0] + 1])
    costs = ds.trajectory_costs()
    assert np.allclose(costs, [ds.costs[s : s + n].sum() for s, n in zip(idx.starts, idx.lengths, strict=True)])


def test_task_attribute_is_read_back(tmp_path, tiny_dataset):
    p = write_dsrl(tiny_dataset, tmp_path / "d.hdf5")
    assert read_dsrl(p).task == "SwimmerVelocity"
    with h5py.File(p, "a") as f:
        f.attrs["task"] = "HalfCheetahVelocity"
    with pytest.raises(DatasetError, match="expects 17"):
        read_dsrl(p)


def test_a_task_name_finds_the_tasks_dsrl_file_when_nothing_was_generated(tmp_path, monkeypatch):
    from safemil.errors import DatasetError
    from safemil.tasks import get_task

    monkeypatch.setenv("DSRL_DATASET_DIR", str(tmp_path))
    spec = get_task("PointGoal1")
    with pytest.raises(DatasetError, match=f"looked in .*{spec.reference.dataset_file}.*safemil data generate --task PointGoal1"):
        resolve_dataset("PointGoal1")
    path = write_dsrl(synthetic_dataset(n_traj=3, obs_dim=spec.obs_dim, task=None), tmp_path / spec.reference.dataset_file)
    assert resolve_dataset("PointGoal1") == path


def test_frontier_counts_the_trajectories_near_the_limit():
    from safemil.data.info import dataset_info, frontier
    from safemil.eval.metrics import normalized_return

    ds = synthetic_dataset(n_traj=60, min_len=30, max_len=30, seed=4)  # a SwimmerVelocity-shaped file
    cost, ret = ds.trajectory_costs(), ds.trajectory_returns()
    limit = float(np.quantile(cost, 0.4))
    f = frontier(ds, limit)
    safe = cost <= limit
    assert f["frac_safe"] == pytest.approx(safe.mean())
    assert f["frac_just_under_limit"] == pytest.approx(((cost > 0) & safe).mean())
    assert f["frac_cost_ge_3x_limit"] == pytest.approx((cost >= 3 * limit).mean())
    norm = normalized_return(ret[safe], "SwimmerVelocity")
    assert f["safe_norm_return_mean"] == pytest.approx(norm.mean())
    assert f["safe_norm_return_p90"] == pytest.approx(np.quantile(norm, 0.9))
    assert dataset_info(ds, cost_limit=limit)["frontier"] == f
    foreign = synthetic_dataset(n_traj=10, task=None)  # no task: no DSRL constants to normalise with
    assert "safe_norm_return_mean" not in frontier(foreign, 1e9)


def test_a_folder_named_like_a_task_does_not_hide_the_tasks_dataset(tmp_path, monkeypatch):
    from safemil.tasks import get_task

    spec = get_task("PointGoal1")
    monkeypatch.setenv("DSRL_DATASET_DIR", str(tmp_path / "dsrl"))
    path = write_dsrl(synthetic_dataset(n_traj=3, obs_dim=spec.obs_dim, task=None),
                      tmp_path / "dsrl" / spec.reference.dataset_file)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "PointGoal1").mkdir()  # e.g. a folder of runs kept beside the command
    assert resolve_dataset("PointGoal1") == path
    (tmp_path / "notatask").mkdir()
    assert resolve_dataset("notatask") == Path("notatask")  # any other folder: the reader says it is not a file
