"""The model-predictive safety filter: which action it keeps, when it looks ahead, and that a run rebuilds it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from safemil.costs.knowledge import KnowledgeCost
from safemil.errors import ConfigError
from safemil.proco.shield import ShieldConfig, ShieldedPolicy
from safemil.runner import evaluate_run, make_run_config, policy_from_state, train
from tests.test_proco_algos import RUN, TINY
from tests.tiny_swimmer import TASK, make_tiny_dataset

VEL = 3  # SwimmerVelocity's x_velocity


class Accelerate:
    """Always full push on the first action dimension."""

    def act(self, obs, deterministic=True):
        return np.tile(np.array([1.0, 0.0], np.float32), (len(obs), 1))


class Kinematic:
    """A known model standing in for the ensemble: each elite predicts velocity + 0.5 * a[0]."""

    def __init__(self, elites: int = 2):
        self.elites = np.arange(elites)

    def step(self, obs: torch.Tensor, act: torch.Tensor) -> torch.Tensor:
        nxt = obs.clone()
        nxt[..., VEL] += 0.5 * act[..., 0]
        return nxt


def _shield(horizon: int, **shield) -> ShieldedPolicy:
    rule = KnowledgeCost(TASK, "x_velocity > 3.0")
    return ShieldedPolicy(Accelerate(), Kinematic(), rule, ShieldConfig(horizon=horizon, **shield),
                          np.array([-1.0, -1.0]), np.array([1.0, 1.0]))


def _at(velocity: float) -> np.ndarray:
    obs = np.zeros((1, 8), np.float32)
    obs[0, VEL] = velocity
    return obs


def test_the_policy_action_is_kept_where_no_violation_is_predicted():
    sh = _shield(horizon=1)
    np.testing.assert_allclose(sh.act(_at(1.0)), [[1.0, 0.0]])
    assert sh.report()["replaced"] == 0


def test_the_least_shrunk_safe_action_replaces_a_violating_one():
    # at 2.9 a push of s leads to 2.9 + 0.5 s, scored at the step's mean 2.9 + 0.25 s: unsafe for s > 0.4
    sh = _shield(horizon=1)
    a = sh.act(_at(2.9))
    assert a[0, 0] == pytest.approx(0.4) or a[0, 0] == pytest.approx(0.2)
    assert sh.report()["replaced"] == 1 and sh.report()["none_safe"] == 0


def test_the_lookahead_acts_before_a_one_step_check_would():
    # at 2.2 one step is safe (mean 2.45); continuing the policy's push, the third step reaches 3.45
    assert _shield(horizon=1).act(_at(2.2))[0, 0] == pytest.approx(1.0)
    a = _shield(horizon=3).act(_at(2.2))
    assert a[0, 0] == pytest.approx(0.0)  # only no push now keeps the next three steps under 3.0


def test_when_every_candidate_violates_the_least_bad_is_taken():
    sh = _shield(horizon=1)
    a = sh.act(_at(3.5))
    assert a[0, 0] == pytest.approx(0.0) and sh.report()["none_safe"] == 1


def test_with_the_policy_fallback_a_hopeless_state_keeps_the_policys_action():
    sh = _shield(horizon=1, fallback="policy")
    np.testing.assert_allclose(sh.act(_at(3.5)), [[1.0, 0.0]])
    assert sh.report()["none_safe"] == 1 and sh.report()["replaced"] == 0


def test_the_grid_finds_the_steering_action_no_shrunk_one_is():
    # at 3.2 no push (the last shrunk action) keeps the mean at 3.2; only a pull (-1: mean 2.95) is safe,
    # and of the grid's pulls the one nearest the policy's (1, 0) is taken
    assert _shield(horizon=1).act(_at(3.2))[0, 0] == pytest.approx(0.0)
    sh = _shield(horizon=1, grid=3)
    np.testing.assert_allclose(sh.act(_at(3.2)), [[-1.0, 0.0]])
    assert sh.report()["none_safe"] == 0 and sh.report()["replaced"] == 1
    # where the action itself is safe, the grid changes nothing
    np.testing.assert_allclose(sh.act(_at(1.0)), [[1.0, 0.0]])


def test_bad_settings_are_refused():
    with pytest.raises(ConfigError, match="fallback"):
        ShieldConfig(horizon=1, fallback="nearest")
    with pytest.raises(ConfigError, match="grid"):
        ShieldConfig(horizon=1, grid=1)
    with pytest.raises(ConfigError, match="candidates"):
        _shield(horizon=1, grid=40)  # 40 x 40 actions
    with pytest.raises(ConfigError, match="horizon"):
        ShieldConfig(horizon=-1)
    with pytest.raises(ConfigError, match="scales"):
        ShieldConfig(horizon=1, scales=(1.5,))
    with pytest.raises(ConfigError, match="scales"):
        ShieldConfig(horizon=1, scales=(-1.5,))
    assert ShieldConfig(horizon=1, scales=(0.0, -1.0)).scales == (0.0, -1.0)  # -1: reverse thrust
    with pytest.raises(ConfigError, match="horizon >= 1"):
        _shield(horizon=0)


def test_a_shielded_run_is_rebuilt_by_eval_and_the_base_can_keep_the_data_costs(tmp_path):
    tiny = make_tiny_dataset(tmp_path / "tiny.hdf5")
    ov = RUN + TINY["bcq-lag+proco"] + ["layer.shield.horizon=2", "layer_costs=false", "eval.episodes=2"]
    cfg = make_run_config("bcq-lag+proco", TASK, str(tiny), overrides=ov)
    m = train(cfg, tmp_path / "run")
    sh = m["diagnostics"]["shield"]
    assert sh["steps"] == sum(m["episode_lengths"]) and 0 <= sh["replaced_frac"] <= 1
    assert m["diagnostics"]["real_costs_raised"] == 0 and m["diagnostics"]["critic_unsafe_rows"] == 0
    again = evaluate_run(tmp_path / "run")  # `safemil eval RUN_DIR`: the filter comes back with the policy
    assert again["normalized_return"] == m["normalized_return"] and again["normalized_cost"] == m["normalized_cost"]
    assert again["shield"]["steps"] == sh["steps"] and again["shield"]["replaced"] == sh["replaced"]
    ckpt = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=False)
    assert ckpt["policy"]["kind"] == "shielded"
    assert isinstance(policy_from_state(ckpt["policy"], seed=0), ShieldedPolicy)
    with pytest.raises(ConfigError, match="layer_costs=true"):
        make_run_config("bcq-lag+proco", TASK, str(tiny), overrides=ov + ["policy_rollouts.every=5"])


def test_without_layer_costs_the_base_is_bcq_lag_itself(tmp_path):
    """Same seed, same networks, same updates: +proco then differs from the base only by the filter."""
    from safemil.algos import get_algo
    from safemil.runner import _load_split, algo_config, build_data

    tiny = make_tiny_dataset(tmp_path / "tiny.hdf5")
    acts = []
    for name, extra in (("bcq-lag", TINY["bcq-lag"]), ("bcq-lag+proco", TINY["bcq-lag+proco"] + ["layer_costs=false"])):
        cfg = make_run_config(name, TASK, str(tiny), overrides=RUN + extra)
        spec = get_algo(name)
        data = build_data(spec, _load_split(cfg), TASK)
        torch.manual_seed(cfg.seed)  # as the runner does
        algo = spec.factory(algo_config(cfg), data, cfg.seed)
        for i in range(algo.total_steps):
            algo.train_step(i)
        acts.append(algo.policy().act(data.unlabeled.observations[:16]))
    np.testing.assert_array_equal(acts[0], acts[1])
    # nothing of the layer but its model is used, so nothing else runs: no rollouts, no feasibility steps
    assert algo.n_layer == algo.layer.config.model_steps and algo.layer.synthetic is None
    assert algo.summary()["proco"]["model_only"] is True


def test_a_checkpoint_whose_layer_ran_other_steps_is_refused(tmp_path):
    """A checkpoint's step count means layer steps then base steps: with another layer length it would
    resume the base at the wrong place, so loading it fails with a clear error."""
    from safemil.algos import get_algo
    from safemil.errors import SafemilError
    from safemil.runner import _load_split, algo_config, build_data

    tiny = make_tiny_dataset(tmp_path / "tiny.hdf5")
    algos = []
    for extra in ([], ["layer_costs=false"]):
        cfg = make_run_config("bcq-lag+proco", TASK, str(tiny), overrides=RUN + TINY["bcq-lag+proco"] + extra)
        spec = get_algo("bcq-lag+proco")
        algos.append(spec.factory(algo_config(cfg), build_data(spec, _load_split(cfg), TASK), cfg.seed))
    full, model_only = algos
    assert full.n_layer > model_only.n_layer
    with pytest.raises(SafemilError, match="start a fresh run"):
        model_only.load_state_dict(full.state_dict())
    model_only.load_state_dict(model_only.state_dict())  # its own loads


def test_the_filter_wraps_a_bc_policy_too_and_its_state_rebuilds_the_same_actions(tmp_path):
    from safemil.algos import get_algo
    from safemil.runner import _load_split, algo_config, build_data

    tiny = make_tiny_dataset(tmp_path / "tiny.hdf5")
    cfg = make_run_config("bc-safe+proco", TASK, str(tiny),
                          overrides=RUN + TINY["bc-safe+proco"] + ["layer.shield.horizon=2", "layer.shield.margin=0.1"])
    spec = get_algo("bc-safe+proco")
    algo = spec.factory(algo_config(cfg), build_data(spec, _load_split(cfg), TASK), 0)
    for i in range(algo.total_steps):
        algo.train_step(i)
    obs = np.random.default_rng(0).normal(size=(32, 8)).astype(np.float32)
    obs[:, VEL] = np.linspace(-1.0, 1.0, 32)
    p = algo.policy()
    assert isinstance(p, ShieldedPolicy)
    again = policy_from_state(algo.policy_state(), seed=0)
    np.testing.assert_array_equal(p.act(obs), again.act(obs))


def test_re_evaluation_uses_the_runs_thread_count(tmp_path, monkeypatch):
    """Float sums depend on the thread count, and a filter's hard choices on the sums: `safemil eval` must
    evaluate with the run's `train.threads` to give the run's numbers (and leave the caller's setting alone)."""
    import safemil.runner as tr

    tiny = make_tiny_dataset(tmp_path / "tiny.hdf5")
    cfg = make_run_config("bcq-lag", TASK, str(tiny), overrides=RUN + TINY["bcq-lag"] + ["train.threads=1"])
    train(cfg, tmp_path / "run")
    seen = []
    real = tr.run_eval
    monkeypatch.setattr(tr, "run_eval", lambda *a, **k: seen.append(torch.get_num_threads()) or real(*a, **k))
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        evaluate_run(tmp_path / "run")
        assert seen == [1] and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
