"""The cost expression language: what it accepts, what it computes (numpy and torch), margin and soft cost."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from safemil.costs.knowledge import CostInputError, ExpressionError, KnowledgeCost, parse_expression
from safemil.tasks import get_task

CHEETAH = "HalfCheetahVelocity"
SPEC = get_task(CHEETAH)
VX, Z, ANG = SPEC.field("x_velocity").index, SPEC.field("z_position").index, SPEC.field("torso_angle").index


def batch(n: int = 64, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).normal(0.0, 2.0, size=(n, SPEC.obs_dim)).astype(np.float32)
    x[:4, VX] = [3.2096, 3.25, -1.0, 0.0]  # an exact boundary value among them
    return x


# expression -> the same rule written by hand in numpy
CASES = {
    "x_velocity > 3.2096": lambda x: x[:, VX] > 3.2096,
    "obs[8] > 3.2096": lambda x: x[:, 8] > 3.2096,
    "x_velocity >= 3.2096": lambda x: x[:, VX] >= 3.2096,
    "3.2096 < x_velocity": lambda x: x[:, VX] > 3.2096,
    "-1 < x_velocity <= 2": lambda x: (x[:, VX] > -1) & (x[:, VX] <= 2),
    "abs(x_velocity) > 2 and not z_position < -1": lambda x: (np.abs(x[:, VX]) > 2) & ~(x[:, Z] < -1),
    "x_velocity > 3 or torso_angle < -2": lambda x: (x[:, VX] > 3) | (x[:, ANG] < -2),
    "norm(x_velocity, z_position) > 2.5": lambda x: np.hypot(x[:, VX], x[:, Z]) > 2.5,
    "sqrt(x_velocity * x_velocity + z_position ** 2) > 2.5": lambda x: np.hypot(x[:, VX], x[:, Z]) > 2.5,
    "max(x_velocity, z_position) - min(x_velocity, 0) > 1": lambda x: np.maximum(x[:, VX], x[:, Z]) - np.minimum(x[:, VX], 0) > 1,
    "clip(x_velocity, -1, 1) >= 1": lambda x: np.clip(x[:, VX], -1, 1) >= 1,
    "x_velocity > 1 if z_position > 0 else x_velocity < -1": lambda x: np.where(x[:, Z] > 0, x[:, VX] > 1, x[:, VX] < -1),
    "where(z_position > 0, x_velocity, -x_velocity) > 1": lambda x: np.where(x[:, Z] > 0, x[:, VX], -x[:, VX]) > 1,
    "x_velocity / 2 - 1 > 0.5 * z_position": lambda x: x[:, VX] / 2 - 1 > 0.5 * x[:, Z],
    "x_velocity > 2 * 1.6048": lambda x: x[:, VX] > 3.2096,
    # number-valued: the cost itself, clipped to [0, 1]
    "clip((x_velocity - 3) / 0.5, 0, 1)": lambda x: np.clip((x[:, VX] - 3) / 0.5, 0, 1),
    "0.25 if x_velocity > 1 else 0.75": lambda x: np.where(x[:, VX] > 1, 0.25, 0.75),
    "x_velocity": lambda x: np.clip(x[:, VX], 0, 1),
}


@pytest.mark.parametrize("expr", list(CASES))
def test_expression_matches_hand_written_numpy_and_torch(expr):
    x = batch()
    want = CASES[expr](x).astype(np.float64)  # same float32 data and precision as the cost
    cost = KnowledgeCost(CHEETAH, expr)
    got = cost(x)
    assert got.shape == (len(x),) and got.dtype == np.float32
    np.testing.assert_allclose(got, want, atol=1e-5)
    got_t = cost(torch.from_numpy(x))
    assert isinstance(got_t, torch.Tensor) and got_t.dtype == torch.float32
    np.testing.assert_allclose(got_t.numpy(), want, atol=1e-5)
    assert set(np.unique(got)) <= {0.0, 1.0} or expr in ("clip((x_velocity - 3) / 0.5, 0, 1)", "0.25 if x_velocity > 1 else 0.75", "x_velocity")


def test_canonical_text_parses_back_to_the_same_tree():
    for expr in CASES:
        p = parse_expression(expr, SPEC.schema)
        assert parse_expression(p.canonical, SPEC.schema).root == p.root, expr


def test_obs_index_names_the_schema_field():
    p = parse_expression("obs[8] > 1", SPEC.schema)
    assert p.fields == ("x_velocity",) and p.canonical == "x_velocity > 1.0"


def test_batch_shapes_dtypes_and_devices():
    cost = KnowledgeCost(CHEETAH, "x_velocity > 1")
    x = batch(12).astype(np.float64)
    assert cost(x).dtype == np.float64
    assert cost(x.reshape(3, 4, -1)).shape == (3, 4)  # e.g. (ensemble, batch, obs_dim)
    assert cost(x[0]).shape == ()
    assert cost(x.astype(np.int64)).dtype == np.float64
    t = torch.from_numpy(x)
    assert cost(t).dtype == torch.float64
    np.testing.assert_array_equal(cost(t).numpy(), cost(x))
    with pytest.raises(CostInputError, match=r"\(\.\.\., 17\)"):
        cost(np.zeros((4, 11)))
    with pytest.raises(CostInputError):
        cost(np.array(["a"] * 17))


def test_cost_ignores_action_and_has_nothing_to_train():
    cost = KnowledgeCost(CHEETAH, "x_velocity > 1")
    x = torch.from_numpy(batch(8))
    assert torch.equal(cost.cost(x, torch.zeros(8, 6)), cost(x))
    assert cost.train_step() == {}


def test_non_finite_numeric_cost_counts_as_unsafe():
    cost = KnowledgeCost(CHEETAH, "x_velocity / z_position")
    x = np.zeros((3, SPEC.obs_dim))
    x[:, VX] = [1.0, -1.0, 0.0]  # z = 0: +inf, -inf, nan
    np.testing.assert_array_equal(cost(x), [1.0, 0.0, 1.0])
    np.testing.assert_array_equal(cost(torch.from_numpy(x)).numpy(), [1.0, 0.0, 1.0])


def test_margin_flags_states_within_the_margin_of_the_boundary():
    x = np.zeros((5, SPEC.obs_dim))
    x[:, VX] = [2.80, 0.9 * 3.2096 + 1e-6, 3.0, 3.2096, 3.3]
    exact = KnowledgeCost(CHEETAH, "x_velocity > 3.2096")
    cons = KnowledgeCost(CHEETAH, "x_velocity > 3.2096", margin=0.1)
    np.testing.assert_array_equal(exact(x), [0, 0, 0, 0, 1])
    np.testing.assert_array_equal(cons(x), [0, 1, 1, 1, 1])
    np.testing.assert_array_equal(cons(x), KnowledgeCost(CHEETAH, "x_velocity > 0.9 * 3.2096")(x))
    # the same rule written negated: the margin still moves towards flagging more
    neg = KnowledgeCost(CHEETAH, "not x_velocity <= 3.2096", margin=0.1)
    np.testing.assert_array_equal(neg(x), cons(x))
    # a rule with the threshold on the left, and an upper-bound rule
    np.testing.assert_array_equal(KnowledgeCost(CHEETAH, "3.2096 < x_velocity", margin=0.1)(x), cons(x))
    low = KnowledgeCost(CHEETAH, "x_velocity < -2", margin=0.25)  # flags below -1.5
    y = np.zeros((3, SPEC.obs_dim))
    y[:, VX] = [-1.4, -1.6, -2.1]
    np.testing.assert_array_equal(low(y), [0, 1, 1])
    np.testing.assert_array_equal(low(torch.from_numpy(y)).numpy(), [0, 1, 1])


def test_margin_is_conservative_on_random_states():
    x = batch(2000, seed=3)
    for expr in ["x_velocity > 1 and z_position > -1", "not (x_velocity < 2 or torso_angle > 1)", "abs(x_velocity) > 2"]:
        exact, cons = KnowledgeCost(CHEETAH, expr)(x), KnowledgeCost(CHEETAH, expr, margin=0.2)(x)
        assert (cons >= exact).all() and cons.sum() > exact.sum(), expr


def test_margin_needs_a_decisive_comparison():
    with pytest.raises(ExpressionError, match="nothing to act on"):
        KnowledgeCost(CHEETAH, "clip(x_velocity, 0, 1)", margin=0.1)
    with pytest.raises(ExpressionError, match="margin must be in"):
        KnowledgeCost(CHEETAH, "x_velocity > 1", margin=1.5)


def test_soft_cost_is_smooth_monotone_and_differentiable():
    v = np.linspace(2.0, 4.5, 101)
    x = np.zeros((101, SPEC.obs_dim))
    x[:, VX] = v
    soft = KnowledgeCost(CHEETAH, "x_velocity > 3.2096", softness=0.05)
    c = soft(x)
    assert ((0 < c) & (c < 1)).all() and (np.diff(c) > 0).all()
    at = np.zeros((1, SPEC.obs_dim))
    at[0, VX] = 3.2096
    assert soft(at)[0] == pytest.approx(0.5)
    hard = KnowledgeCost(CHEETAH, "x_velocity > 3.2096")(x)
    sharp = KnowledgeCost(CHEETAH, "x_velocity > 3.2096", softness=1e-4)(x)
    np.testing.assert_allclose(sharp, hard, atol=1e-6)  # a tiny width is the hard rule again
    t = torch.tensor(x, requires_grad=True)
    soft(t).sum().backward()
    assert t.grad[:, VX].abs().sum() > 0
    # soft and/or/not: min/max/1-x, still in [0, 1]
    both = KnowledgeCost(CHEETAH, "x_velocity > 3 and not z_position > 1", softness=0.1)(batch(100))
    assert ((0 <= both) & (both <= 1)).all()


def test_constant_parts_are_folded_and_checked():
    with pytest.raises(ExpressionError, match="cannot be evaluated"):
        parse_expression("x_velocity > 1 / 0", SPEC.schema)
    with pytest.raises(ExpressionError, match="does not depend on any observation"):
        parse_expression("3 > 2", SPEC.schema)
    with pytest.raises(ExpressionError, match="always True"):
        parse_expression("x_velocity > 3 or 2 > 1", SPEC.schema)
    assert parse_expression("x_velocity > 3 and 2 > 1", SPEC.schema).canonical == "x_velocity > 3.0"


@pytest.mark.parametrize(
    "expr, msg",
    [
        ("x_velocity and z_position > 1", "operand of 'and' must be a condition"),
        ("(x_velocity > 1) * 2", "must be a number, got a condition"),
        ("not x_velocity", "operand of 'not' must be a condition"),
        ("1 if x_velocity else 0", "condition of 'if' must be a condition"),
        ("x_velocity > 1 if z_position > 0 else 0.5", "must be of one kind"),
        ("min(x_velocity)", r"min\(\) takes 2 to 16 arguments"),
        ("clip(x_velocity, 0)", r"clip\(\) takes 3 arguments"),
        ("abs", "is a function; call it"),
        ("x_velocty > 1", "did you mean x_velocity"),
        ("obs[17] > 1", "index 17 is out of range"),
        ("obs > 1", "must be indexed"),
        ("x_velocity == 3", "comparison Eq is not allowed"),
        ("x_velocity > 1 & z_position > 0", "use 'and'"),
        ("", "empty expression"),
    ],
)
def test_ill_formed_expressions_get_a_message_naming_the_problem(expr, msg):
    with pytest.raises(ExpressionError, match=msg):
        parse_expression(expr, SPEC.schema)


def test_ant_planar_speed_rule():
    ant = get_task("AntVelocity")
    cost = KnowledgeCost("AntVelocity", "norm(x_velocity, y_velocity) > 2.6222")
    x = np.zeros((3, ant.obs_dim))
    ix, iy = ant.field("x_velocity").index, ant.field("y_velocity").index
    x[:, ix], x[:, iy] = [2.0, 2.0, -2.7], [1.5, 2.0, 0.0]  # speeds 2.5, 2.83, 2.7
    np.testing.assert_array_equal(cost(x), [0, 1, 1])
