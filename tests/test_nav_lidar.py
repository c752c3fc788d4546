"""Pseudo-lidar on hand-placed objects: bins, aliasing, range, closest-wins, kinds, robot frame."""

import math

import numpy as np
import pytest

from safemil.tasks.nav.env import NavEnv
from safemil.tasks.nav.lidar import NUM_BINS, pseudo_lidar, pseudo_lidar_few

BIN = 2 * math.pi / NUM_BINS


def polar(d, angle):
    return [d * math.cos(angle), d * math.sin(angle)]


def both(ego, kind, num_kinds=1, max_dist=3.0):
    """The numpy and the plain-float implementation must agree to rounding; return one.

    Not bit for bit: on some CPUs numpy's SIMD arctan2 and hypot round differently from libm's
    (seen: 45 of the 300 random cases below differ, by at most 1.6e-15).
    """
    a = pseudo_lidar(np.array(ego, dtype=float).reshape(-1, 2), np.array(kind, dtype=np.int64), num_kinds, max_dist)
    b = np.array(pseudo_lidar_few([tuple(p) for p in ego], list(kind), num_kinds, max_dist))
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    return a


def test_bin_centre_reading_and_aliasing():
    # 1.5 m away at 2.5 bin widths: bin 2, alias 0.5 -> bins 1 and 3 read half
    out = both([polar(1.5, 2.5 * BIN)], [0])
    expect = np.zeros(16)
    expect[2] = 0.5
    expect[3] = 0.25
    expect[1] = 0.25
    np.testing.assert_allclose(out, expect, atol=1e-12)


def test_alias_weights_follow_the_fraction_of_the_bin():
    out = both([polar(0.0, 0.0)], [0])  # on the robot: reading 1 in bin 0, alias 0 -> bin 15 reads 1, bin 1 reads 0
    assert out[0] == 1.0 and out[15] == 1.0 and out[1] == 0.0
    out = both([polar(1.0, 5.8 * BIN)], [0])  # bin 5, alias 0.8
    s = 2.0 / 3.0
    assert out[5] == pytest.approx(s)
    assert out[6] == pytest.approx(0.8 * s)
    assert out[4] == pytest.approx(0.2 * s)
    assert np.count_nonzero(out) == 3


def test_wraps_around_and_negative_angles():
    out = both([polar(1.0, -0.25 * BIN)], [0])  # angle 2pi - 0.25 bin: bin 15, alias 0.75 -> bin 0 gets 0.75 s
    s = 2.0 / 3.0
    assert out[15] == pytest.approx(s) and out[0] == pytest.approx(0.75 * s) and out[14] == pytest.approx(0.25 * s)


def test_range_and_beyond():
    assert both([polar(3.0, 1.0)], [0]).sum() == 0.0  # at the range: reads 0
    assert both([polar(4.0, 1.0)], [0]).sum() == 0.0
    assert both([polar(5.0, 1.0)], [0], max_dist=6.0).max() == pytest.approx(1.0 / 6.0)  # Circle's range 6


def test_closest_object_of_a_kind_wins_and_kinds_have_own_blocks():
    near, far = polar(0.5, 4.5 * BIN), polar(2.0, 4.5 * BIN)
    out = both([far, near, polar(1.0, 10.5 * BIN)], [0, 0, 1], num_kinds=2)
    assert out[4] == pytest.approx(2.5 / 3.0)  # the near one; no occlusion arithmetic, just the max
    assert out[16 + 10] == pytest.approx(2.0 / 3.0)
    assert out[16 + 4] == 0.0 and out[10] == 0.0


def test_random_objects_both_implementations_agree():
    rng = np.random.default_rng(0)
    for _ in range(300):
        n = int(rng.integers(1, 14))
        both(rng.uniform(-4, 4, (n, 2)).tolist(), np.sort(rng.integers(0, 4, n)).tolist(), num_kinds=4)


@pytest.mark.parametrize("heading", [0.0, 0.7, -2.0])
def test_env_lidar_is_in_the_robot_frame(heading):
    """A hazard placed 1 m ahead-left of the robot (robot frame angle 45 deg) lights bin 2, whatever the heading."""
    env = NavEnv("PointGoal1")
    env.reset(seed=0)
    h = env.h
    hz = h.kind_bodies["hazards"]
    # move every other object far away (beyond the lidar range), then one hazard to a known spot
    for b in np.concatenate([h.kind_bodies["goal"], hz[1:]]):
        env.model.body_pos[b, :2] = (9.0, 9.0)
    env.data.qpos[3:6] = (9.0, -9.0, 0.1)  # the vase (free joint)
    ang = heading + math.radians(45)
    env.model.body_pos[hz[0], :2] = (math.cos(ang), math.sin(ang))
    obs = env.place_robot(0.0, 0.0, heading)
    assert obs.shape == (60,)
    goal, hazards, vases = obs[12:28], obs[28:44], obs[44:60]
    assert goal.sum() == 0 and vases.sum() == 0
    assert hazards[2] == pytest.approx(2.0 / 3.0, abs=1e-9)
    assert hazards[3] == pytest.approx(0.0, abs=1e-9) and hazards[1] == pytest.approx(2.0 / 3.0, abs=1e-9)
