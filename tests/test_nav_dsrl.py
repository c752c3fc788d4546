"""A DSRL-layout file for a navigation task is found, read against the task, and evaluated online."""

import numpy as np
import pytest

from safemil.errors import DatasetError
from safemil.eval.evaluator import evaluate, rollout


class RandomPolicy:
    def __init__(self):
        self.rng = np.random.default_rng(0)

    def act(self, obs, deterministic=True):
        return self.rng.uniform(-1, 1, (len(obs), 2))


def test_dsrl_named_file_round_trip_and_online_evaluation(tmp_path, monkeypatch):
    from safemil.data.hdf5 import read_dsrl, write_dsrl
    from safemil.data.locate import resolve_dataset

    res = rollout(RandomPolicy(), "PointGoal1", episodes=2, seed=0, num_envs=2, progress=False, max_steps=40,
                  record=True)
    assert res.dataset.observations.shape == (80, 60) and res.dataset.timeouts.sum() == 2
    monkeypatch.setenv("DSRL_DATASET_DIR", str(tmp_path))
    name = "SafetyPointGoal1Gymnasium-v0-100-2022.hdf5"
    write_dsrl(res.dataset, tmp_path / name)
    path = resolve_dataset(name)
    ds = read_dsrl(path, task="OfflinePointGoal1Gymnasium-v0")
    assert ds.task == "PointGoal1" and ds.observations.shape[1] == 60
    np.testing.assert_allclose(ds.costs, res.dataset.costs)
    with pytest.raises(DatasetError, match="expects 76"):
        read_dsrl(path, task="PointButton1")
    out = evaluate(RandomPolicy(), "PointCircle2", episodes=2, seed=0, num_envs=2, progress=False)
    assert out["mean_length"] == 500 and set(out["episode_costs"]) <= set(range(501))
    # normalised with DSRL's PointCircle2 constants (max / min episode return 54.02 / 20.48)
    expect = (np.mean(out["episode_returns"]) - 20.478347778320312) / (54.02184295654297 - 20.478347778320312)
    assert out["normalized_return"] == pytest.approx(expect)


def test_lidar_encoder_actor_trains_saves_and_reevaluates(tmp_path):
    """A BC actor with the lidar encoder trains on navigation data, and its saved policy (layout
    included) re-evaluates to the same numbers the run reported."""
    import safemil
    from safemil.data.hdf5 import write_dsrl

    res = rollout(RandomPolicy(), "PointGoal1", episodes=12, seed=0, num_envs=4, progress=False, max_steps=40,
                  record=True)
    write_dsrl(res.dataset, tmp_path / "tiny.hdf5")
    run = safemil.train("bc-u", "PointGoal1", dataset=tmp_path / "tiny.hdf5", out=tmp_path / "run", preset="none",
                        overrides=["steps=30", "bc.actor.hidden=[16]", "bc.actor.lidar_encoder=[4,2]",
                                   "split.rule=top_quantile", "split.n_negative=1", "eval.episodes=1",
                                   "eval.num_envs=1", "train.log_every=10", "train.checkpoint_every=10"])
    again = safemil.evaluate(run.run_dir)
    assert again["normalized_return"] == run.metrics["normalized_return"]
    assert again["episode_costs"] == run.metrics["episode_costs"]


@pytest.mark.parametrize("algo", ["bc-u", "bc-safe", "trex-wbc", "dwbc-nu", "safedice", "safemil"])
def test_nav_grid_cells_learn_with_the_lidar_encoder_and_velocity_cells_do_not(algo, tmp_path):
    """The nav grid's cells (and plain `safemil train ALGO --task PointGoal1`) clone through the lidar
    encoder at lr 1e-3; the velocity grid's keep the plain actor at the BC default lr."""
    from safemil.bench.grid import named_grid
    from safemil.data import write_dsrl
    from safemil.runner import algo_config, make_run_config
    from tests.conftest import synthetic_dataset

    data = str(write_dsrl(synthetic_dataset(n_traj=4), tmp_path / "stand-in.hdf5"))
    for grid, encoder, lr in (("nav", (32, 8), 1e-3), ("default", (), 1e-4)):
        run = named_grid(grid).narrow(algos=[algo], seeds=[0]).runs("unused")[0]
        cell = algo_config(make_run_config(run.algo, run.task, data, run.seed, list(run.overrides), preset=run.preset))
        plain = algo_config(make_run_config(run.algo, run.task, data, run.seed, preset="default"))
        assert plain == cell
        assert (tuple(cell.bc.actor.lidar_encoder), cell.bc.lr) == (encoder, lr), grid
