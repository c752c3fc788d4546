import dataclasses

import numpy as np
import pytest

from safemil.data import LearnerView, SplitConfig, make_split
from safemil.data.sampling import SegmentSampler
from safemil.errors import ConfigError, DatasetError
from tests.conftest import synthetic_dataset


def _costly_dataset():
    # 60 trajectories of length 30: costs spread 0..30 so the threshold rule has a pool.
    return synthetic_dataset(n_traj=60, min_len=30, max_len=30, seed=1)


def test_threshold_split_invariants():
    ds = _costly_dataset()
    cfg = SplitConfig(n_negative=5, cost_limit=4.0, multiple=3.0, seed=7)
    s = make_split(ds, cfg)
    costs = ds.trajectory_costs()
    assert len(s.negative_ids) == 5
    assert np.intersect1d(s.negative_ids, s.unlabeled_ids).size == 0
    assert len(s.negative_ids) + len(s.unlabeled_ids) == len(costs)
    assert (costs[s.negative_ids] >= 12.0).all()
    assert s.negative.n_trajectories == 5 and s.unlabeled.n_trajectories == len(costs) - 5
    again = make_split(ds, cfg)
    assert np.array_equal(again.negative_ids, s.negative_ids)
    other = make_split(ds, dataclasses.replace(cfg, seed=8))
    assert not np.array_equal(other.negative_ids, s.negative_ids)


def test_learner_view_has_no_labels():
    s = make_split(_costly_dataset(), SplitConfig(n_negative=5, cost_limit=4.0))
    for view in (s.negative, s.unlabeled):
        assert isinstance(view, LearnerView)
        fields = {f.name for f in dataclasses.fields(view)}
        assert not fields & {"rewards", "costs"}
        assert not hasattr(view, "rewards") and not hasattr(view, "costs")
    lab = s.labelled("unlabeled")
    assert len(lab.costs) == len(s.unlabeled)
    assert np.array_equal(lab.learner.observations, s.unlabeled.observations)


def test_other_rules_and_errors():
    ds = _costly_dataset()
    q = make_split(ds, SplitConfig(rule="top_quantile", quantile=0.1, n_negative=5))
    costs = ds.trajectory_costs()
    assert costs[q.negative_ids].min() >= np.quantile(costs, 0.9)
    m = make_split(ds, SplitConfig(rule="mixture", n_negative=3, cost_limit=4.0, n_unlabeled_unsafe=4, n_unlabeled_safe=2))
    assert len(m.unlabeled_ids) == 6
    with pytest.raises(DatasetError, match="D_N needs 500"):
        make_split(ds, SplitConfig(n_negative=500, cost_limit=4.0))
    with pytest.raises(ConfigError, match="unknown split rule"):
        SplitConfig(rule="bogus")
    with pytest.raises(ConfigError, match="n_negative"):
        SplitConfig(n_negative=0)


def test_segment_sampler_bounds_and_shapes():
    ds = synthetic_dataset(n_traj=20, min_len=3, max_len=40, seed=2)
    view = ds.learner_view()
    H = 10
    sampler = SegmentSampler(view.index, H)
    segs = sampler.sample_bags(6, 4, np.random.default_rng(0))
    assert segs.rows.shape == (6, 4, H) and segs.mask.shape == (6, 4, H) and segs.traj.shape == (6, 4)
    idx = view.index
    st, ln = idx.starts[segs.traj][..., None], idx.lengths[segs.traj][..., None]
    assert ((segs.rows >= st) & (segs.rows < st + ln)).all()
    # full windows wherever the trajectory is long enough; masks only on short ones
    full = (ln[..., 0] >= H)
    assert segs.mask[full].all()
    assert (segs.mask.sum(-1)[~full] == ln[..., 0][~full]).all()
    # consecutive rows inside the valid part
    d = np.diff(segs.rows, axis=-1)
    assert (d[segs.mask[..., 1:]] == 1).all()


def test_every_window_is_reachable_uniformly():
    ds = synthetic_dataset(n_traj=3, min_len=12, max_len=12, seed=0)
    sampler = SegmentSampler(ds.learner_view().index, 10)
    assert sampler.n_windows == 9
    segs = sampler.sample(90000, np.random.default_rng(1))
    counts = np.bincount(segs.rows[:, 0], minlength=36)
    starts = np.flatnonzero(counts)
    assert len(starts) == 9
    assert counts[starts].min() > 0.9 * 10000 and counts[starts].max() < 1.1 * 10000


def test_sampling_by_trajectory_follows_weight_times_windows():
    ds = synthetic_dataset(n_traj=4, min_len=5, max_len=40, seed=3)
    index = ds.learner_view().index
    sampler = SegmentSampler(index, 4)
    w = np.array([1.0, 0.0, 3.0, 0.5])
    segs = sampler.sample_by_trajectory(200_000, w, np.random.default_rng(0))
    windows = np.maximum(index.lengths - 4 + 1, 1)
    expected = w * windows / (w * windows).sum()
    share = np.bincount(segs.traj, minlength=4) / 200_000
    np.testing.assert_allclose(share, expected, atol=0.01)
    assert share[1] == 0  # a zero-weight trajectory is never drawn
    st, ln = index.starts[segs.traj][:, None], index.lengths[segs.traj][:, None]
    assert ((segs.rows >= st) & (segs.rows < st + ln)).all()
    # within a trajectory every window start is reachable
    heavy = segs.rows[segs.traj == 2, 0] - index.starts[2]
    assert set(np.unique(heavy)) == set(range(windows[2]))
    with pytest.raises(ConfigError, match="not all zero"):
        sampler.sample_by_trajectory(3, np.zeros(4), np.random.default_rng(0))


def test_sampler_rejects_bad_config():
    ds = synthetic_dataset(n_traj=3)
    with pytest.raises(ConfigError):
        SegmentSampler(ds.learner_view().index, 0)
    with pytest.raises(ConfigError):
        SegmentSampler(ds.learner_view().index, 5).sample_bags(0, 3, np.random.default_rng(0))


def test_split_labels_match_the_dataset_without_holding_its_arrays():
    ds = _costly_dataset()
    s = make_split(ds, SplitConfig(n_negative=5, cost_limit=4.0, seed=3))
    for part, ids in (("negative", s.negative_ids), ("unlabeled", s.unlabeled_ids)):
        ours, ref = s.labelled(part), ds.labelled_view(ids)
        assert np.array_equal(ours.rewards, ref.rewards) and np.array_equal(ours.costs, ref.costs)
        assert np.array_equal(ours.learner.observations, ref.learner.observations)
        assert np.array_equal(ours.trajectory_costs(), ds.trajectory_costs()[ids])
    assert not any(v is ds.observations for v in vars(s).values())  # the split keeps labels, not the dataset
    assert s.summary()["negative_mean_cost"] == float(ds.trajectory_costs()[s.negative_ids].mean())
